// Entry point of the report page's script (bundled by scripts/build-viewer.mjs).

import { App } from './app.js';
import { loadPayload } from './boot.js';
import { el, replaceChildren } from './dom.js';

async function start(): Promise<void> {
  const root = document.getElementById('app');
  if (root === null) return;
  try {
    const t0 = performance.now();
    const data = await loadPayload(document);
    const t1 = performance.now();
    replaceChildren(root);
    const app = new App(data, root);
    // A small read-only handle for scripts and tests: what is shown, and where a frame is drawn.
    Object.defineProperty(window, 'memlens', {
      value: Object.freeze({
        view: () => app.describe(),
        framePoint: (name: string) => app.framePoint(name),
        frameLabel: (name: string) => app.frameLabel(name),
        timelinePoint: (timeNs: number) => app.timelinePoint(timeNs),
      }),
    });
    // Read by the browser tests and the benchmark: decode time and time to first drawn frame.
    document.documentElement.dataset['decodeMs'] = (t1 - t0).toFixed(1);
    document.documentElement.dataset['readyMs'] = (performance.now() - t0).toFixed(1);
    // Since the page started loading (navigation start), including parsing the HTML.
    document.documentElement.dataset['readyAt'] = performance.now().toFixed(1);
    document.documentElement.dataset['ready'] = '1';
  } catch (e) {
    replaceChildren(root, el('div', { class: 'empty error', id: 'load-error' }, el('h2', {}, 'This report could not be opened'), el('p', {}, e instanceof Error ? e.message : String(e))));
    document.documentElement.dataset['ready'] = 'error';
    throw e;
  }
}

void start();
