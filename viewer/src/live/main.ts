// The live view's page (memlens live --web): polls the view's state as JSON once a second from the same
// server (src/live/web.ts) and draws the figures, the heap sparkline, the thread switch and the sortable
// table. Every name from the program goes on the page as a Text node (dom.ts), never as markup.

import type { LiveLocation, LiveView, SortKey } from '../../../src/live/view-data.js';
import { append, el, replaceChildren } from '../dom.js';
import { formatBytes, formatCount, formatDuration, formatPercent } from '../format.js';

const POLL_MS = 1000;
const ROWS = 100;
const SVG = 'http://www.w3.org/2000/svg';

interface UiState {
  sort: SortKey;
  thread: number | undefined;
  paused: boolean;
}

const COLUMNS: readonly { readonly title: string; readonly sort?: SortKey; readonly value: (l: LiveLocation, whole: number) => string }[] = [
  { title: 'Location', value: (l) => locationText(l) },
  { title: 'Total Memory', sort: 'total', value: (l) => formatBytes(l.totalBytes) },
  { title: 'Total %', value: (l, w) => formatPercent(l.totalBytes, w) },
  { title: 'Own Memory', sort: 'own', value: (l) => formatBytes(l.ownBytes) },
  { title: 'Own %', value: (l, w) => formatPercent(l.ownBytes, w) },
  { title: 'Allocations', sort: 'count', value: (l) => formatCount(l.count) },
];

function locationText(l: LiveLocation): string {
  if (l.file === '') return l.function;
  return l.line > 0 ? `${l.function} at ${l.file}:${l.line}` : `${l.function} at ${l.file}`;
}

class LivePage {
  private readonly ui: UiState = { sort: 'total', thread: undefined, paused: false };
  private last: LiveView | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private updates = 0;
  private inFlight = false;
  private endedPolls = 0;
  private readonly title = el('h1', { id: 'command' });
  private readonly status = el('span', { id: 'status', class: 'status' });
  private readonly pause = el('button', { class: 'btn', type: 'button', id: 'pause', title: 'Freeze the view (the data keeps being read)' }, 'Pause');
  private readonly figures = el('div', { class: 'figures', id: 'figures' });
  private readonly spark = document.createElementNS(SVG, 'svg');
  private readonly sparkNote = el('div', { class: 'spark-note', id: 'spark-note' });
  private readonly threads = el('select', { id: 'thread', ariaLabel: 'Thread' });
  private readonly table = el('table', { id: 'locations', class: 'live-table' });
  private readonly more = el('div', { class: 'more', id: 'more' });
  private readonly end = el('div', { class: 'banner end', id: 'end', role: 'status' });

  constructor(root: HTMLElement) {
    this.spark.setAttribute('id', 'spark');
    this.spark.setAttribute('class', 'spark');
    this.spark.setAttribute('preserveAspectRatio', 'none');
    this.spark.setAttribute('role', 'img');
    this.spark.setAttribute('aria-label', 'Heap over time');
    this.pause.addEventListener('click', () => this.togglePause());
    this.threads.addEventListener('change', () => {
      const v = this.threads.value;
      this.ui.thread = v === '' ? undefined : Number(v);
      void this.poll();
    });
    document.addEventListener('keydown', (e) => this.key(e));
    this.end.hidden = true;
    replaceChildren(
      root,
      el('div', { class: 'top' }, el('div', { class: 'brand' }, el('span', { class: 'logo' }, 'memlens live'), this.title), this.status, this.pause),
      this.end,
      this.figures,
      el('div', { class: 'spark-box' }, this.spark, this.sparkNote),
      el(
        'div',
        { class: 'controls' },
        el('label', { class: 'thread-label' }, 'Thread ', this.threads),
        el('span', { class: 'hint' }, 'Click a column to sort; keys t, o, a sort, < > switch threads, space pauses.'),
      ),
      this.table,
      this.more,
    );
    void this.poll();
  }

  private key(e: KeyboardEvent): void {
    if (e.target instanceof HTMLSelectElement || e.ctrlKey || e.metaKey || e.altKey) return;
    const sorts: Record<string, SortKey> = { t: 'total', o: 'own', a: 'count', c: 'count' };
    const sort = sorts[e.key.toLowerCase()];
    if (sort !== undefined) this.setSort(sort);
    else if (e.key === '>' || e.key === '<') this.stepThread(e.key === '>' ? 1 : -1);
    else if (e.key === ' ') {
      e.preventDefault();
      this.togglePause();
    } else return;
  }

  private stepThread(step: number): void {
    const list = this.last?.threads.map((t) => t.index) ?? [];
    const n = list.length;
    const at = this.ui.thread === undefined ? n : list.indexOf(this.ui.thread);
    const to = ((at < 0 ? n : at) + (step > 0 ? 1 : n)) % (n + 1);
    this.ui.thread = to === n ? undefined : list[to];
    void this.poll();
  }

  private setSort(sort: SortKey): void {
    this.ui.sort = sort;
    void this.poll();
  }

  private togglePause(): void {
    this.ui.paused = !this.ui.paused;
    this.pause.textContent = this.ui.paused ? 'Resume' : 'Pause';
    this.pause.setAttribute('aria-pressed', String(this.ui.paused));
    if (this.last !== undefined) this.drawStatus(this.last);
    if (!this.ui.paused) void this.poll();
  }

  private async poll(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ui.paused) return;
    if (this.inFlight) {
      this.timer = setTimeout(() => void this.poll(), 50);
      return;
    }
    this.inFlight = true;
    const points = Math.max(20, Math.min(600, Math.floor((this.spark.getBoundingClientRect().width || 600) / 2)));
    const query = new URLSearchParams({ sort: this.ui.sort, rows: String(ROWS), points: String(points) });
    if (this.ui.thread !== undefined) query.set('thread', String(this.ui.thread));
    try {
      const res = await fetch(`state?${query.toString()}`, { cache: 'no-store' });
      if (!res.ok) throw new Error(`the server answered ${res.status}`);
      const view = (await res.json()) as LiveView;
      this.inFlight = false;
      if (this.ui.paused) return;
      this.draw(view);
      // After the stream ended the figures no longer move: a couple more states (the last bytes may come
      // after the exit status) and no more polling.
      if (view.end !== undefined) this.endedPolls++;
      if (this.endedPolls < 3) this.timer = setTimeout(() => void this.poll(), POLL_MS);
    } catch (e) {
      this.inFlight = false;
      this.showEnd(`memlens stopped serving this view (${e instanceof Error ? e.message : String(e)})`);
    }
  }

  private showEnd(text: string): void {
    this.end.hidden = false;
    replaceChildren(this.end, `■ ${text}`);
    document.documentElement.dataset['ended'] = '1';
  }

  private draw(v: LiveView): void {
    this.last = v;
    this.updates++;
    this.ui.thread = v.thread;
    this.ui.sort = v.sort;
    replaceChildren(this.title, v.started ? `PID ${v.pid} · ${v.command}` : 'waiting for the capture to begin');
    document.title = v.started ? `memlens live · ${v.command}` : 'memlens live';
    this.drawStatus(v);
    this.drawFigures(v);
    this.drawSpark(v);
    this.drawThreads(v);
    this.drawTable(v);
    if (v.end !== undefined) this.showEnd(v.end.text);
    const root = document.documentElement;
    root.dataset['updates'] = String(this.updates);
    root.dataset['ready'] = '1';
  }

  private drawStatus(v: LiveView): void {
    const state = this.ui.paused ? 'paused' : v.end !== undefined ? 'ended' : v.started ? 'running' : 'waiting';
    replaceChildren(this.status, `${state} · ${formatDuration(v.elapsedNs)}`);
    this.status.dataset['state'] = state;
  }

  private drawFigures(v: LiveView): void {
    const fig = (id: string, label: string, value: string, note?: string): HTMLElement =>
      el('div', { class: 'figure', id }, el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), note !== undefined ? el('div', { class: 'note' }, note) : null);
    const items: HTMLElement[] = [fig('heap', 'Heap', formatBytes(v.heap), `${formatCount(v.liveCount)} live allocations`), fig('peak', 'Peak heap', formatBytes(v.peakHeap))];
    if (v.rss !== undefined) items.push(fig('rss', 'RSS', formatBytes(v.rss), v.peakRss !== undefined ? `peak ${formatBytes(v.peakRss)}` : undefined));
    if (v.cgroupLimit !== undefined) {
      items.push(
        fig('limit', 'Memory limit', formatBytes(v.cgroupLimit), v.cgroupUsage !== undefined ? `cgroup uses ${formatBytes(v.cgroupUsage)} (${formatPercent(v.cgroupUsage, v.cgroupLimit)})` : undefined),
      );
    }
    items.push(fig('allocations', 'Allocations', formatCount(v.allocations), `CPython ${v.pythonVersion}${v.mode === 'attach' ? ', attached' : ''}${v.aggregated ? ', aggregated' : ''}`));
    if (v.damaged > 0) items.push(fig('damaged', 'Damaged', formatCount(v.damaged), 'regions skipped'));
    replaceChildren(this.figures, ...items);
  }

  private drawSpark(v: LiveView): void {
    const heap = v.spark.heap;
    let max = 0;
    for (const p of [...heap, ...v.spark.rss]) if (p !== null && p > max) max = p;
    const n = heap.length;
    const w = 1000;
    const h = 100;
    this.spark.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const line = (values: readonly (number | null)[], cls: string): SVGPolylineElement => {
      const pts: string[] = [];
      values.forEach((p, i) => {
        if (p === null) return;
        const x = n <= 1 ? w : (i / (n - 1)) * w;
        const y = max === 0 ? h : h - (p / max) * (h - 4);
        pts.push(`${x.toFixed(1)},${y.toFixed(1)}`);
      });
      const pl = document.createElementNS(SVG, 'polyline');
      pl.setAttribute('points', pts.join(' '));
      pl.setAttribute('class', cls);
      return pl;
    };
    while (this.spark.firstChild !== null) this.spark.removeChild(this.spark.firstChild);
    this.spark.appendChild(line(v.spark.rss, 'rss-line'));
    this.spark.appendChild(line(heap, 'heap-line'));
    let top = 0;
    for (const p of heap) if (p !== null && p > top) top = p;
    replaceChildren(
      this.sparkNote,
      el('span', { class: 'key-heap' }, 'heap'),
      ' and ',
      el('span', { class: 'key-rss' }, 'RSS'),
      ` over the last ${formatDuration(v.spark.windowNs)}; heap top ${formatBytes(top)}`,
    );
  }

  private drawThreads(v: LiveView): void {
    const options = [el('option', {}, `All ${v.threads.length} threads, merged`)];
    (options[0] as HTMLOptionElement).value = '';
    v.threads.forEach((t, i) => {
      const o = el('option', {}, `${i + 1}. ${t.name !== '' ? t.name : 'thread'}${t.osTid !== 0 ? ` (TID ${t.osTid})` : ''} · ${formatBytes(t.liveBytes)}${t.exited ? ' · exited' : ''}`);
      o.value = String(t.index);
      options.push(o);
    });
    replaceChildren(this.threads, ...options);
    this.threads.value = v.thread === undefined ? '' : String(v.thread);
  }

  private drawTable(v: LiveView): void {
    const head = el(
      'tr',
      {},
      ...COLUMNS.map((c) => {
        const th = el('th', { class: c.sort !== undefined ? 'sortable' : '', data: c.sort !== undefined ? { sort: c.sort } : {} }, c.title);
        if (c.sort !== undefined) {
          th.setAttribute('aria-sort', c.sort === v.sort ? 'descending' : 'none');
          th.tabIndex = 0;
          const sort = c.sort;
          th.addEventListener('click', () => this.setSort(sort));
        }
        return th;
      }),
    );
    const rows = v.locations.map((l) => el('tr', {}, ...COLUMNS.map((c, i) => el('td', { class: i === 0 ? 'loc' : 'num' }, c.value(l, v.shownBytes)))));
    const body = el('tbody', {}, ...rows);
    if (rows.length === 0) append(body, el('tr', {}, el('td', { class: 'empty' }, v.heap === 0 ? 'No memory is live yet.' : 'No live memory in this thread.')));
    replaceChildren(this.table, el('thead', {}, head), body);
    replaceChildren(this.more, v.moreLocations > 0 ? `… ${formatCount(v.moreLocations)} more locations` : '');
  }
}

const root = document.getElementById('app');
if (root !== null) new LivePage(root);
