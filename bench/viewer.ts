// Benchmark of the HTML report at the size issue 5 names: 200,000 distinct frames and a timeline of
// 1,000,000 snapshots (plus 2,048 time-window ticks). Measures the file size, the time to build it, and
// in Debian's chromium: time from navigation to the first drawn flame graph, and the time of a zoom, a
// search, the inverted toggle and a time window (each from the event to the next painted frame).
//
// Usage: node dist/bench/viewer.js [--frames N] [--snapshots N] [--html PATH ...]
//   --html PATH: also time opening another report (memray's flame graph, for the comparison in
//   docs/benchmarks.md): navigation to the load event (to the ready flag for a memlens page) plus two
//   animation frames.

import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { loadViewerAssets } from '../src/report/html/assets.js';
import { renderPage } from '../src/report/html/page.js';
import { launchBrowser, waitReady } from '../test/support/browser.js';
import { largeProfile } from '../test/support/synthetic-profile.js';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '200000' },
    snapshots: { type: 'string', default: '1000000' },
    ticks: { type: 'string', default: '2048' },
    runs: { type: 'string', default: '3' },
    html: { type: 'string', multiple: true, default: [] },
  },
});
const frames = Number(values.frames);
const snapshots = Number(values.snapshots);
const runs = Number(values.runs);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Runs `action` (a script run in the page) and returns ms until two animation frames later (painted). */
async function timed(page: Page, action: string): Promise<number> {
  return page.evaluate(`(async () => {
    const t0 = performance.now();
    ${action};
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0;
  })()`);
}

const dir = mkdtempSync(join(tmpdir(), 'memlens-bench-viewer-'));
const t0 = performance.now();
const data = largeProfile({ frames, snapshots, ticks: Number(values.ticks) });
const t1 = performance.now();
const page = renderPage(data, loadViewerAssets());
const t2 = performance.now();
const file = join(dir, 'large.html');
writeFileSync(file, page.html);
const result: Record<string, number | string> = {
  frames: data.frames.name.length,
  stackNodes: data.nodes.parent.length,
  locations: data.locations.node.length,
  snapshots: data.timeline.time.length,
  intervals: data.temporal?.location.length ?? 0,
  generateMs: Math.round(t1 - t0),
  renderPageMs: Math.round(t2 - t1),
  payloadMiB: +(page.payloadBytes / 2 ** 20).toFixed(1),
  compressedMiB: +(page.compressedBytes / 2 ** 20).toFixed(1),
  fileMiB: +(statSync(file).size / 2 ** 20).toFixed(1),
};

const browser = await launchBrowser();
try {
  const open: number[] = [];
  const decode: number[] = [];
  const zoom: number[] = [];
  const search: number[] = [];
  const invert: number[] = [];
  const window: number[] = [];
  const hover: number[] = [];
  for (let r = 0; r < runs; r++) {
    const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`file://${file}`);
    await waitReady(p);
    if (errors.length > 0) throw new Error(errors.join('\n'));
    open.push(Number(await p.evaluate('document.documentElement.dataset.readyAt')));
    decode.push(Number(await p.evaluate('document.documentElement.dataset.decodeMs')));
    // Zoom: a click on the largest child of the root.
    zoom.push(
      await timed(
        p,
        `const v = window.memlens.view(); const pt = window.memlens.framePoint(v.children[0].name);
         document.querySelector('canvas.flame-canvas').dispatchEvent(new MouseEvent('click', { clientX: pt.x, clientY: pt.y, bubbles: true }))`,
      ),
    );
    hover.push(
      await timed(
        p,
        `const pt = window.memlens.framePoint(window.memlens.view().children[0].name);
         document.querySelector('canvas.flame-canvas').dispatchEvent(new MouseEvent('mousemove', { clientX: pt.x, clientY: pt.y, bubbles: true }))`,
      ),
    );
    search.push(await timed(p, `const s = document.getElementById('search'); s.value = 'function_with_a_longer_name_1'; s.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }))`));
    invert.push(await timed(p, `document.getElementById('opt-inverted').click()`));
    await timed(p, `document.getElementById('opt-inverted').click()`);
    // A time window: a drag over the middle third of the timeline.
    window.push(
      await timed(
        p,
        `const ov = document.querySelector('.timeline-overlay'); const end = window.memlens.view().totalBytes >= 0 ? 1 : 0;
         const a = window.memlens.timelinePoint(${(snapshots * 1e7) / 3}); const b = window.memlens.timelinePoint(${(2 * snapshots * 1e7) / 3});
         ov.dispatchEvent(new MouseEvent('mousedown', { clientX: a.x, clientY: a.y, button: 0, bubbles: true }));
         window.dispatchEvent(new MouseEvent('mouseup', { clientX: b.x, clientY: b.y, button: 0, bubbles: true })); void end`,
      ),
    );
    await p.close();
  }
  Object.assign(result, {
    openMs: median(open),
    decodeMs: median(decode),
    zoomMs: +median(zoom).toFixed(1),
    hoverMs: +median(hover).toFixed(1),
    searchMs: +median(search).toFixed(1),
    invertMs: +median(invert).toFixed(1),
    windowMs: +median(window).toFixed(1),
  });
  for (const other of values.html) {
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const start = performance.now();
      await p.goto(`file://${other}`, { waitUntil: 'load', timeout: 120_000 });
      // A memlens page draws after the load event (it inflates its payload first): wait for it.
      if (await p.evaluate<boolean>('document.getElementById("memlens-payload") !== null')) await waitReady(p);
      await p.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
      times.push(performance.now() - start);
      await p.close();
    }
    result[`open ${other} (ms, load + 2 frames)`] = Math.round(median(times));
    result[`size ${other} (MiB)`] = +(statSync(other).size / 2 ** 20).toFixed(1);
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(result, null, 2));
