// The toolbar above the flame graph: view tabs, icicle or flame shape, the inverted toggle, which frames to
// hide, the thread filter, the search box (with its keys: / focuses it, Esc clears it or resets the zoom),
// reset zoom and the colour legend. It holds no state: each control calls the App through ToolbarActions.

import { FrameFlag, type ReportData } from '../../src/report/html/payload.js';
import { KIND_LABELS } from './colors.js';
import { button, checkbox, el } from './dom.js';

export type Tab = 'flame' | 'table';

/** What the toolbar's controls ask of the page. */
export interface ToolbarActions {
  setTab(tab: Tab): void;
  setIcicle(icicle: boolean): void;
  setInverted(inverted: boolean): void;
  setHide(flag: number, hidden: boolean): void;
  /** A thread's index in the payload's thread table, or -1 for all threads. */
  setThread(thread: number): void;
  setQuery(query: string): void;
  /** Zoom back out to the whole tree. */
  resetZoom(): void;
}

/** The toolbar; `searchInfo` is where the page reports what the search matched, beside the search box. */
export function buildToolbar(data: ReportData, inverted: boolean, searchInfo: HTMLElement, actions: ToolbarActions): HTMLElement {
  const tabs = el(
    'div',
    { class: 'seg', role: 'tablist' },
    segButton('Flame graph', 'tab-flame', () => actions.setTab('flame'), true),
    segButton('Table', 'tab-table', () => actions.setTab('table'), false),
  );
  const shape = el(
    'div',
    { class: 'seg' },
    segButton('Icicle', 'shape-icicle', () => actions.setIcicle(true), true, 'Root at the top'),
    segButton('Flame', 'shape-flame', () => actions.setIcicle(false), false, 'Root at the bottom'),
  );
  const invertedBox = checkbox('Inverted', 'Allocating functions at the root, their callers below', inverted, (on) => actions.setInverted(on), 'opt-inverted');
  const hide = el(
    'div',
    { class: 'hide-group' },
    el('span', { class: 'label' }, 'Hide:'),
    checkbox('interpreter', "CPython's evaluation machinery (eval loop, vectorcall, runpy)", true, (on) => actions.setHide(FrameFlag.Interpreter, on), 'hide-interpreter'),
    checkbox('imports', 'The import system (importlib bootstrap)', true, (on) => actions.setHide(FrameFlag.Import, on), 'hide-import'),
    checkbox('memlens', "memlens's own frames in the profiled process", true, (on) => actions.setHide(FrameFlag.Memlens, on), 'hide-memlens'),
  );
  let threads: HTMLElement | null = null;
  if (data.threads.name.length > 1) {
    const select = el('select', { id: 'thread-filter', title: 'Show the allocations of one thread' });
    select.append(el('option', {}, 'All threads'));
    for (let i = 0; i < data.threads.name.length; i++) {
      const opt = el('option', {}, `${data.strings[data.threads.name[i]!] ?? ''} (${data.threads.tid[i]})`);
      opt.value = String(i);
      select.append(opt);
    }
    select.options[0]!.value = '-1';
    select.addEventListener('change', () => actions.setThread(Number(select.value)));
    threads = el('label', { class: 'check' }, 'Thread ', select);
  }
  const input = el('input', { type: 'search', id: 'search', ariaLabel: 'Search functions and files' });
  input.placeholder = 'Search function or file (/regex/)';
  let timer = 0;
  input.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => actions.setQuery(input.value), 60);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      window.clearTimeout(timer);
      actions.setQuery(input.value);
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && document.activeElement !== input) {
      e.preventDefault();
      input.focus();
    } else if (e.key === 'Escape') {
      if (document.activeElement === input && input.value !== '') {
        input.value = '';
        actions.setQuery('');
      } else actions.resetZoom();
    }
  });
  const reset = button('Reset zoom', 'Show the whole tree again (Esc)', () => actions.resetZoom(), 'btn');
  reset.id = 'reset-zoom';
  const legend = el('div', { class: 'kinds' }, ...KIND_LABELS.map(([kind, label]) => el('span', { class: `kind kind-${kind}` }, label)));
  return el('div', { class: 'toolbar' }, tabs, shape, invertedBox, hide, threads, el('span', { class: 'grow' }), el('div', { class: 'search-box' }, input, searchInfo), reset, legend);
}

/** Show which tab is selected (the App switches the boxes). */
export function showTab(tab: Tab): void {
  setPressed('tab-flame', tab === 'flame');
  setPressed('tab-table', tab === 'table');
}

/** Show which shape is selected. */
export function showShape(icicle: boolean): void {
  setPressed('shape-icicle', icicle);
  setPressed('shape-flame', !icicle);
}

/** Put the search box's text (when a table row leads back to the flame graph). */
export function setSearchText(text: string): void {
  const input = document.getElementById('search');
  if (input instanceof HTMLInputElement) input.value = text;
}

function segButton(label: string, id: string, onclick: () => void, pressed: boolean, title = ''): HTMLButtonElement {
  const b = button(label, title, onclick, 'seg-btn');
  b.id = id;
  b.setAttribute('aria-pressed', String(pressed));
  return b;
}

function setPressed(id: string, on: boolean): void {
  document.getElementById(id)?.setAttribute('aria-pressed', String(on));
}
