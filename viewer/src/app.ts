// The page: header, timeline, toolbar, flame graph or table, statistics panel, tooltip. Holds the view
// state and recomputes only what a change needs (a search does not rebuild the tree; a toggle does).

import { FrameFlag, type ReportData, type VerdictPanel } from '../../src/report/html/payload.js';
import { codeKind, frameColor, KIND_LABELS, type Theme } from './colors.js';
import { timelineCsv } from './csv.js';
import { append, button, checkbox, el, replaceChildren } from './dom.js';
import { FlameView } from './flame.js';
import { formatBytes, formatCount, formatDuration, formatPercent } from './format.js';
import { searchFrames, type SearchResult } from './search.js';
import { TableView } from './table.js';
import { TimelineView, type TimeWindow } from './timeline.js';
import { buildTree, findPath, framePath, matchedBytes, type FlameTree, type LocationValues } from './tree.js';
import { baseValues, tickAt, tickStart, windowValues } from './window.js';

interface State {
  icicle: boolean;
  inverted: boolean;
  hideMask: number;
  thread: number;
  query: string;
  window: TimeWindow | null;
  tab: 'flame' | 'table';
  theme: Theme;
  zoomPath: number[];
}

const DEFAULT_HIDE = FrameFlag.Interpreter | FrameFlag.Import | FrameFlag.Memlens;

export interface ViewDescription {
  readonly totalBytes: number;
  readonly zoomBytes: number;
  /** Function names from the root to the zoomed frame (empty: not zoomed). */
  readonly zoomPath: readonly string[];
  /** The zoomed frame's children, largest first. */
  readonly children: readonly { name: string; bytes: number }[];
  /** The frame that allocated the most bytes itself (in the inverted tree: the outermost caller). */
  readonly largestSelf: { name: string; bytes: number };
  readonly inverted: boolean;
  readonly icicle: boolean;
  readonly thread: number;
  readonly window: TimeWindow | null;
  readonly windowTick: number;
  readonly theme: Theme;
  readonly tab: 'flame' | 'table';
}

export class App {
  private readonly state: State;
  private tree: FlameTree | null = null;
  private tableTree: FlameTree | null = null;
  private search: SearchResult | null = null;
  private readonly flame: FlameView;
  private readonly table: TableView;
  private readonly timeline: TimelineView | null;
  private readonly tooltip = el('div', { class: 'tooltip', role: 'tooltip' });
  private readonly crumbs = el('nav', { class: 'crumbs', ariaLabel: 'Zoom path' });
  private readonly summary = el('div', { class: 'summary', id: 'summary' });
  private readonly searchInfo = el('span', { class: 'search-info', id: 'search-info' });
  private readonly windowInfo = el('div', { class: 'window-info', id: 'window-info' });
  private readonly hoverInfo = el('div', { class: 'hover-info', id: 'hover-info' });
  private readonly flameBox = el('div', { class: 'flame-box', id: 'flame' });
  private readonly tableBox = el('div', { class: 'table-box', id: 'table' });
  private readonly panel: HTMLElement;
  private windowTick = -1;

  constructor(
    private readonly data: ReportData,
    private readonly root: HTMLElement,
  ) {
    const prefersDark = window.matchMedia?.('(prefers-color-scheme: dark)').matches === true;
    this.state = {
      icicle: true,
      inverted: data.meta.inverted,
      hideMask: DEFAULT_HIDE,
      thread: -1,
      query: '',
      window: null,
      tab: 'flame',
      theme: storedTheme() ?? (prefersDark ? 'dark' : 'light'),
      zoomPath: [],
    };
    document.documentElement.dataset['theme'] = this.state.theme;
    this.flame = new FlameView(data, { icicle: true, theme: this.state.theme, matches: null });
    this.table = new TableView(data, (frame) => this.pickFrame(frame));
    this.timeline =
      data.timeline.time.length > 0
        ? new TimelineView(
            data,
            this.state.theme,
            (t) => this.showHover(t),
            data.temporal !== null ? (w) => this.setWindow(w) : null,
          )
        : null;
    this.panel = this.buildPanel();
    this.render();
  }

  /**
   * What the page shows right now, as data: for scripts that read a report (window.memlens.view()) and
   * for the browser tests, which cannot read a canvas.
   */
  describe(): ViewDescription {
    const tree = this.tree;
    const name = (n: number) => (n === 0 || tree === null ? 'all' : this.frameName(tree.frame[n]!));
    const zoom = this.flame.zoomNode;
    const roots: { name: string; bytes: number }[] = [];
    let largest = { name: '', bytes: 0 };
    const zoomPath: string[] = [];
    if (tree !== null) {
      for (let k = tree.childStart[zoom]!; k < tree.childStart[zoom + 1]!; k++) roots.push({ name: name(tree.childList[k]!), bytes: tree.total[tree.childList[k]!]! });
      for (let n = 1; n < tree.size; n++) if (tree.self[n]! > largest.bytes) largest = { name: name(n), bytes: tree.self[n]! };
      for (let n = zoom; n > 0; n = tree.parent[n]!) zoomPath.unshift(name(n));
    }
    return {
      totalBytes: tree?.total[0] ?? 0,
      zoomBytes: tree?.total[zoom] ?? 0,
      zoomPath,
      children: roots,
      largestSelf: largest,
      inverted: this.state.inverted,
      icicle: this.state.icicle,
      thread: this.state.thread,
      window: this.state.window,
      windowTick: this.windowTick,
      theme: this.state.theme,
      tab: this.state.tab,
    };
  }

  /** Page coordinates of the centre of the first drawn frame with this function name (null if none). */
  framePoint(functionName: string): { x: number; y: number } | null {
    const tree = this.tree;
    if (tree === null) return null;
    const r = this.flame.findRect((n) => n !== 0 && this.frameName(tree.frame[n]!) === functionName);
    if (r === null) return null;
    const box = this.flame.canvas.getBoundingClientRect();
    return { x: box.left + r.x + Math.min(r.w / 2, 40), y: box.top + r.y + r.h / 2 };
  }

  /** Page coordinates of a time on the timeline (for tests that drag a window). */
  timelinePoint(timeNs: number): { x: number; y: number } | null {
    if (this.timeline === null) return null;
    const box = this.timeline.element.getBoundingClientRect();
    return { x: box.left + this.timeline.timeToX(timeNs), y: box.top + 80 };
  }

  private render(): void {
    const m = this.data.meta;
    document.title = m.title;
    const header = el(
      'header',
      { class: 'top' },
      el('div', { class: 'brand' }, el('span', { class: 'logo' }, 'memlens'), el('h1', { id: 'title' }, m.title)),
      el(
        'div',
        { class: 'top-actions' },
        button('Statistics', 'Show or hide the statistics panel', () => this.panel.classList.toggle('open'), 'btn'),
        button('Theme', 'Switch between light and dark', () => this.toggleTheme(), 'btn'),
      ),
    );
    const description = el('p', { class: 'view-description', id: 'view-description' }, m.viewDescription);
    const banners = el('div', { class: 'banners' });
    for (const r of m.reductions) append(banners, el('div', { class: 'banner warn reduction' }, `Reduced to fit: ${r}`));
    append(this.root, header, description, banners);
    if (m.verdict !== null) append(this.root, verdictSection(m.verdict));
    if (m.emptyReason !== null) {
      append(this.root, el('div', { class: 'empty', id: 'empty' }, el('h2', {}, 'Nothing to show'), el('p', {}, m.emptyReason)));
    }
    if (this.timeline !== null) {
      const legend = el(
        'div',
        { class: 'legend' },
        swatch('rss', 'RSS'),
        swatch('anon', 'RSS anonymous'),
        swatch('heap', 'tracked heap'),
        this.data.timeline.cgroupUsage.length > 0 ? swatch('cgroup', 'cgroup usage') : null,
        m.cgroupLimitBytes !== null ? swatch('limit', 'cgroup limit') : null,
        this.hasMarkers(false) ? swatch('marker', 'markers') : null,
        this.hasMarkers(true) ? swatch('gc', 'garbage collections') : null,
        el('span', { class: 'grow' }),
        button('Download CSV', 'The timeline as CSV, one row per snapshot', () => this.downloadCsv(), 'btn small'),
      );
      const hint =
        this.data.temporal !== null
          ? 'Drag across the timeline to show a time window; double-click to clear it.'
          : 'This capture has no per-snapshot lifetimes, so time windows are not available.';
      append(
        this.root,
        el('section', { class: 'timeline', id: 'timeline' }, legend, this.timeline.element, el('div', { class: 'timeline-foot' }, this.hoverInfo, this.windowInfo), el('div', { class: 'hint' }, hint)),
      );
    }
    if (m.emptyReason === null) {
      append(this.root, this.buildToolbar(), this.crumbs, this.summary, this.flameBox, this.tableBox);
      this.flameBox.append(this.flame.canvas, this.flame.overlay);
      this.tableBox.append(this.table.element);
      this.tableBox.hidden = true;
      this.wireFlame();
    }
    append(this.root, this.panel, this.tooltip);
    const ro = new ResizeObserver(() => this.resize());
    ro.observe(this.root);
    this.resize();
    if (m.emptyReason === null) this.rebuild();
    this.updateWindowInfo();
  }

  /** Whether the timeline has markers of garbage collections (gc) or of anything else. */
  private hasMarkers(gc: boolean): boolean {
    const mk = this.data.markers;
    for (let i = 0; i < mk.time.length; i++) if ((this.data.strings[mk.kind[i]!] === 'GC') === gc) return true;
    return false;
  }

  private buildToolbar(): HTMLElement {
    const s = this.state;
    const tabs = el(
      'div',
      { class: 'seg', role: 'tablist' },
      segButton('Flame graph', 'tab-flame', () => this.setTab('flame'), true),
      segButton('Table', 'tab-table', () => this.setTab('table'), false),
    );
    const shape = el(
      'div',
      { class: 'seg' },
      segButton('Icicle', 'shape-icicle', () => this.setIcicle(true), true, 'Root at the top'),
      segButton('Flame', 'shape-flame', () => this.setIcicle(false), false, 'Root at the bottom'),
    );
    const inverted = checkbox('Inverted', 'Allocating functions at the root, their callers below', s.inverted, (on) => this.update({ inverted: on }), 'opt-inverted');
    const hide = el(
      'div',
      { class: 'hide-group' },
      el('span', { class: 'label' }, 'Hide:'),
      checkbox('interpreter', "CPython's evaluation machinery (eval loop, vectorcall, runpy)", true, (on) => this.setHide(FrameFlag.Interpreter, on), 'hide-interpreter'),
      checkbox('imports', 'The import system (importlib bootstrap)', true, (on) => this.setHide(FrameFlag.Import, on), 'hide-import'),
      checkbox('memlens', "memlens's own frames in the profiled process", true, (on) => this.setHide(FrameFlag.Memlens, on), 'hide-memlens'),
    );
    let threads: HTMLElement | null = null;
    if (this.data.threads.name.length > 1) {
      const select = el('select', { id: 'thread-filter', title: 'Show the allocations of one thread' });
      select.append(el('option', {}, 'All threads'));
      for (let i = 0; i < this.data.threads.name.length; i++) {
        const opt = el('option', {}, `${this.data.strings[this.data.threads.name[i]!] ?? ''} (${this.data.threads.tid[i]})`);
        opt.value = String(i);
        select.append(opt);
      }
      select.options[0]!.value = '-1';
      select.addEventListener('change', () => this.update({ thread: Number(select.value) }));
      threads = el('label', { class: 'check' }, 'Thread ', select);
    }
    const input = el('input', { type: 'search', id: 'search', ariaLabel: 'Search functions and files' });
    input.placeholder = 'Search function or file (/regex/)';
    let timer = 0;
    input.addEventListener('input', () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => this.setQuery(input.value), 60);
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        window.clearTimeout(timer);
        this.setQuery(input.value);
      }
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === '/' && document.activeElement !== input) {
        e.preventDefault();
        input.focus();
      } else if (e.key === 'Escape') {
        if (document.activeElement === input && input.value !== '') {
          input.value = '';
          this.setQuery('');
        } else this.zoomTo(0);
      }
    });
    const reset = button('Reset zoom', 'Show the whole tree again (Esc)', () => this.zoomTo(0), 'btn');
    reset.id = 'reset-zoom';
    const legend = el('div', { class: 'kinds' }, ...KIND_LABELS.map(([kind, label]) => el('span', { class: `kind kind-${kind}` }, label)));
    return el('div', { class: 'toolbar' }, tabs, shape, inverted, hide, threads, el('span', { class: 'grow' }), el('div', { class: 'search-box' }, input, this.searchInfo), reset, legend);
  }

  private buildPanel(): HTMLElement {
    const m = this.data.meta;
    const rows: [string, string][] = [
      ['Command', m.commandLine.join(' ')],
      ['Capture', m.captureFile],
      ['Python', m.pythonVersion],
      ['Python allocator', m.pythonAllocator],
      ['Process', `pid ${m.pid}${m.hostname !== '' ? ` on ${m.hostname}` : ''}`],
      ['Capture mode', m.captureMode],
      ['Started', m.startWallMs !== null ? new Date(m.startWallMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : 'unknown'],
      ['Duration', formatDuration(m.durationNs)],
      ['Peak tracked heap', `${formatBytes(m.peakHeapBytes)}${m.peakTimeNs !== null ? ` at ${formatDuration(m.peakTimeNs)}` : ''}`],
      ['Peak RSS', m.peakRssBytes !== null ? formatBytes(m.peakRssBytes) : 'unknown'],
      ['cgroup limit', m.cgroupLimitBytes !== null ? formatBytes(m.cgroupLimitBytes) : 'none'],
      ['Allocations', formatCount(m.totalAllocations)],
      ['Bytes allocated', formatBytes(m.totalBytesAllocated)],
      ['Threads', formatCount(this.data.threads.name.length)],
      ['Distinct frames', formatCount(this.data.frames.name.length)],
      ['Snapshots', formatCount(this.data.timeline.time.length)],
      ['Options', m.options.length > 0 ? m.options.join(', ') : 'defaults'],
      ['Ended', m.ending ?? 'unknown'],
      ['Report by', `memlens ${m.memlensVersion}`],
    ];
    const dl = el('dl', {});
    for (const [k, v] of rows) append(dl, el('dt', {}, k), el('dd', {}, v));
    const panel = el('aside', { class: 'panel', id: 'stats', ariaLabel: 'Statistics' }, el('div', { class: 'panel-head' }, el('h2', {}, 'Statistics'), button('×', 'Close', () => panel.classList.remove('open'), 'btn icon')), dl);
    if (m.notes.length > 0) append(panel, el('h3', {}, 'Notes'), el('ul', {}, ...m.notes.map((n) => el('li', {}, n))));
    if (m.reductions.length > 0) append(panel, el('h3', {}, 'Reduced to fit'), el('ul', {}, ...m.reductions.map((n) => el('li', {}, n))));
    return panel;
  }

  private wireFlame(): void {
    const c = this.flame.canvas;
    c.addEventListener('mousemove', (e) => {
      const node = this.flame.hitTest(e.offsetX, e.offsetY);
      this.flame.setHover(node);
      this.showTooltip(node, e.clientX, e.clientY);
      c.style.cursor = node >= 0 ? 'pointer' : 'default';
    });
    c.addEventListener('mouseleave', () => {
      this.flame.setHover(-1);
      this.tooltip.classList.remove('show');
    });
    c.addEventListener('click', (e) => {
      const node = this.flame.hitTest(e.offsetX, e.offsetY);
      if (node >= 0) this.zoomTo(node);
    });
  }

  private resize(): void {
    const w = this.root.clientWidth - 32;
    this.flame.setWidth(Math.max(w, 200));
    this.timeline?.setWidth(Math.max(w, 200));
    if (this.state.tab === 'table') this.table.renderRows();
  }

  private update(change: Partial<State>): void {
    Object.assign(this.state, change);
    this.rebuild();
  }

  private setHide(flag: number, on: boolean): void {
    this.update({ hideMask: on ? this.state.hideMask | flag : this.state.hideMask & ~flag });
  }

  private setIcicle(icicle: boolean): void {
    this.state.icicle = icicle;
    setPressed('shape-icicle', icicle);
    setPressed('shape-flame', !icicle);
    this.flame.setOptions({ icicle, theme: this.state.theme, matches: this.search?.matches ?? null });
  }

  private setTab(tab: 'flame' | 'table'): void {
    this.state.tab = tab;
    setPressed('tab-flame', tab === 'flame');
    setPressed('tab-table', tab === 'table');
    this.flameBox.hidden = tab !== 'flame';
    this.crumbs.hidden = tab !== 'flame';
    this.tableBox.hidden = tab !== 'table';
    if (tab === 'table') this.refreshTable();
  }

  private setWindow(w: TimeWindow | null): void {
    this.state.window = w;
    this.rebuild();
    this.updateWindowInfo();
  }

  private values(): LocationValues {
    const s = this.state;
    const t = this.data.temporal;
    this.windowTick = -1;
    if (s.window !== null && t !== null) {
      const first = tickAt(t, s.window.t0);
      const last = tickAt(t, s.window.t1);
      const r = windowValues(this.data, t, first, last, s.thread);
      this.windowTick = r.tick;
      return r;
    }
    return baseValues(this.data, s.thread);
  }

  /** Rebuild the tree (toggles, thread, window) and everything drawn from it. */
  private rebuild(): void {
    if (this.data.meta.emptyReason !== null) return;
    const values = this.values();
    const tree = buildTree(this.data, values, { inverted: this.state.inverted, hideMask: this.state.hideMask });
    this.tree = tree;
    this.tableTree = null;
    const zoom = findPath(tree, this.state.zoomPath);
    this.flame.setTree(tree, zoom);
    this.refreshSearch();
    this.updateCrumbs();
    if (this.state.tab === 'table') this.refreshTable();
  }

  private refreshTable(): void {
    if (this.tree === null) return;
    if (this.tableTree === null) {
      // The table needs callers at the root (own = leaf bytes); reuse the drawn tree when it is that one.
      this.tableTree = this.state.inverted ? buildTree(this.data, this.values(), { inverted: false, hideMask: this.state.hideMask }) : this.tree;
      this.table.setTree(this.tableTree);
    }
    this.table.setMatches(this.search !== null && this.state.query !== '' ? this.search.matches : null);
  }

  private setQuery(q: string): void {
    this.state.query = q.trim();
    this.search = this.state.query === '' ? null : searchFrames(this.data, this.state.query);
    this.refreshSearch();
    if (this.state.tab === 'table') this.refreshTable();
  }

  private refreshSearch(): void {
    const tree = this.tree;
    if (tree === null) return;
    const s = this.search;
    this.flame.setOptions({ icicle: this.state.icicle, theme: this.state.theme, matches: s?.matches ?? null });
    const total = tree.total[0]!;
    replaceChildren(
      this.summary,
      el('strong', {}, formatBytes(total)),
      ` in ${formatCount(tree.count[0]!)} allocations`,
      this.state.thread >= 0 ? ` · thread ${this.data.strings[this.data.threads.name[this.state.thread]!] ?? ''}` : '',
      this.state.window !== null ? ' · time window' : '',
    );
    if (s === null) {
      this.searchInfo.textContent = '';
      this.searchInfo.title = '';
      return;
    }
    if (s.error !== null) {
      this.searchInfo.textContent = 'invalid expression';
      this.searchInfo.title = s.error;
      return;
    }
    const m = matchedBytes(tree, s.matches);
    this.searchInfo.textContent = m.nodes === 0 ? 'no match' : `${formatBytes(m.bytes)} · ${formatPercent(m.bytes, total)}`;
    this.searchInfo.title = `${formatCount(m.nodes)} frames in this view match; they hold ${formatBytes(m.bytes)} of ${formatBytes(total)}`;
  }

  private zoomTo(node: number): void {
    const tree = this.tree;
    if (tree === null) return;
    this.state.zoomPath = framePath(tree, node);
    this.flame.setZoom(node);
    this.updateCrumbs();
  }

  private updateCrumbs(): void {
    const tree = this.tree;
    if (tree === null) return;
    const items: HTMLElement[] = [button('all', 'Reset zoom', () => this.zoomTo(0), 'crumb')];
    const path: number[] = [];
    for (let n = this.flame.zoomNode; n > 0; n = tree.parent[n]!) path.push(n);
    path.reverse();
    for (const n of path) items.push(button(this.frameName(tree.frame[n]!), this.frameWhere(tree.frame[n]!), () => this.zoomTo(n), 'crumb'));
    replaceChildren(this.crumbs, ...items.flatMap((b, i) => (i === 0 ? [b] : [el('span', { class: 'sep' }, '›'), b])));
  }

  private frameName(f: number): string {
    return this.data.strings[this.data.frames.name[f]!] ?? '';
  }

  private frameWhere(f: number): string {
    const file = this.data.strings[this.data.frames.file[f]!] ?? '';
    const line = this.data.frames.line[f]!;
    return line > 0 ? `${file}:${line}` : file;
  }

  private showTooltip(node: number, x: number, y: number): void {
    const tree = this.tree;
    if (node < 0 || tree === null) {
      this.tooltip.classList.remove('show');
      return;
    }
    const total = tree.total[0]!;
    const zoomTotal = tree.total[this.flame.zoomNode]!;
    const bytes = tree.total[node]!;
    const parts: (HTMLElement | null)[] = [];
    if (node === 0) {
      parts.push(el('div', { class: 'tt-name' }, 'all'));
    } else {
      const f = tree.frame[node]!;
      const flags = this.data.frames.flags[f]!;
      const sw = el('span', { class: 'tt-swatch' });
      sw.style.background = frameColor(flags, this.frameName(f), this.state.theme);
      parts.push(el('div', { class: 'tt-name' }, sw, this.frameName(f)));
      parts.push(el('div', { class: 'tt-where' }, this.frameWhere(f)));
      const src = this.data.frames.source[f]!;
      if (src >= 0) parts.push(el('pre', { class: 'tt-source' }, (this.data.strings[src] ?? '').trim()));
      parts.push(el('div', { class: 'tt-kind' }, KIND_LABELS.find(([k]) => k === codeKind(flags))?.[1] ?? ''));
    }
    parts.push(
      el(
        'div',
        { class: 'tt-bytes' },
        el('strong', {}, formatBytes(bytes)),
        ` · ${formatPercent(bytes, total)} of the view`,
        this.flame.zoomNode !== 0 ? ` · ${formatPercent(bytes, zoomTotal)} of the zoom` : '',
      ),
    );
    parts.push(el('div', {}, `${formatCount(tree.count[node]!)} allocation${tree.count[node] === 1 ? '' : 's'}`));
    if (tree.self[node]! > 0 && node !== 0) parts.push(el('div', { class: 'tt-self' }, `${this.state.inverted ? 'as outermost caller' : 'allocated here'}: ${formatBytes(tree.self[node]!)}`));
    parts.push(el('div', { class: 'tt-hint' }, 'Click to zoom'));
    replaceChildren(this.tooltip, ...parts);
    this.tooltip.classList.add('show');
    const r = this.tooltip.getBoundingClientRect();
    const left = x + 14 + r.width > window.innerWidth ? x - 14 - r.width : x + 14;
    const top = y + 14 + r.height > window.innerHeight ? y - 14 - r.height : y + 14;
    this.tooltip.style.left = `${Math.max(4, left)}px`;
    this.tooltip.style.top = `${Math.max(4, top)}px`;
  }

  private showHover(t: number | null): void {
    if (t === null || this.timeline === null) {
      this.hoverInfo.textContent = '';
      return;
    }
    const i = this.timeline.sampleAt(t);
    if (i < 0) return;
    const tl = this.data.timeline;
    const parts = [`${formatDuration(tl.time[i]!)}`, `RSS ${formatBytes(tl.rss[i]!)}`, `anon ${formatBytes(tl.rssAnon[i]!)}`, `file ${formatBytes(tl.rssFile[i]!)}`, `heap ${formatBytes(tl.heap[i]!)}`];
    if (tl.cgroupUsage.length > 0) parts.push(`cgroup ${formatBytes(tl.cgroupUsage[i]!)}`);
    const mk = this.data.markers;
    const px = (this.timeline.tEnd / this.timeline.plotWidth) * 4;
    for (let k = 0; k < mk.time.length; k++) {
      if (Math.abs(mk.time[k]! - t) > px) continue;
      const label = this.data.strings[mk.label[k]!] ?? '';
      parts.push(`▼ ${this.data.strings[mk.kind[k]!] ?? ''}${label !== '' ? `: ${label}` : ''}`);
    }
    this.hoverInfo.textContent = parts.join(' · ');
  }

  private updateWindowInfo(): void {
    const w = this.state.window;
    const t = this.data.temporal;
    const m = this.data.meta;
    if (w === null || t === null) {
      this.timeline?.setSelection(null, m.view === 'peak' ? m.peakTimeNs : null);
      replaceChildren(this.windowInfo, m.view === 'peak' && m.peakTimeNs !== null ? `Showing the high-water mark at ${formatDuration(m.peakTimeNs)}` : '');
      return;
    }
    const first = tickAt(t, w.t0);
    const last = tickAt(t, w.t1);
    const from = formatDuration(tickStart(t, first));
    const to = formatDuration(t.tickEnd[last]!);
    const k = this.windowTick;
    const mark = t.kind === 'peak' && k >= 0 ? t.tickPeakTime[k]! : null;
    this.timeline?.setSelection({ t0: tickStart(t, first), t1: t.tickEnd[last]! }, mark);
    const what = t.kind === 'peak' && mark !== null ? `peak ${formatBytes(t.tickPeakHeap[k]!)} at ${formatDuration(mark)}` : 'allocated in the window and not freed by its end';
    replaceChildren(this.windowInfo, `Window ${from} – ${to}: ${what} `, button('Clear', 'Show the whole run again', () => this.setWindow(null), 'btn small'));
  }

  private pickFrame(frame: number): void {
    const input = document.getElementById('search');
    if (input instanceof HTMLInputElement) input.value = this.frameName(frame);
    this.setQuery(this.frameName(frame));
    this.setTab('flame');
  }

  private toggleTheme(): void {
    const theme: Theme = this.state.theme === 'light' ? 'dark' : 'light';
    this.state.theme = theme;
    document.documentElement.dataset['theme'] = theme;
    try {
      localStorage.setItem('memlens-theme', theme);
    } catch {
      // Storage may be off for file:// pages; the theme then lasts for this visit only.
    }
    this.flame.setOptions({ icicle: this.state.icicle, theme, matches: this.search?.matches ?? null });
    this.timeline?.setTheme(theme);
  }

  private downloadCsv(): void {
    const blob = new Blob([timelineCsv(this.data)], { type: 'text/csv' });
    const a = el('a', {});
    a.href = URL.createObjectURL(blob);
    a.download = 'memlens-timeline.csv';
    document.body.append(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
}

/** The OOM verdict at the top of the page: how the process ended, the key figures, what grew, findings. */
function verdictSection(v: VerdictPanel): HTMLElement {
  const facts = el('dl', { class: 'verdict-facts' });
  for (const [k, val] of v.facts) append(facts, el('dt', {}, k), el('dd', {}, val));
  const growth = el('table', { class: 'verdict-growth' });
  for (const g of v.growth) append(growth, el('tr', {}, el('td', { class: 'num' }, g.bytes), el('td', { class: 'num' }, g.count), el('td', { class: 'where' }, g.where)));
  const body = el(
    'div',
    { class: 'verdict-body' },
    facts,
    el('div', { class: 'verdict-grew' }, el('h3', {}, v.growthTitle), v.growth.length > 0 ? growth : el('p', { class: 'muted' }, 'Nothing tracked grew.')),
  );
  const findings = el('div', { class: 'verdict-findings', id: 'verdict-findings' }, el('h3', {}, v.findings.length > 0 ? `Findings (${v.findings.length})` : 'Findings'));
  if (v.findings.length === 0) append(findings, el('p', { class: 'muted' }, 'None: nothing in this capture matched what memlens looks for (large objects kept long, thread or process churn, collections grown step by step, cycles holding memory).'));
  v.findings.forEach((f, i) => {
    const d = el('details', { class: 'finding' }, el('summary', {}, f.title), el('ul', {}, ...f.evidence.map((e) => el('li', {}, e))), el('p', { class: 'advice' }, f.advice));
    d.open = i === 0;
    append(findings, d);
  });
  const head = el('summary', { class: 'verdict-head' }, el('strong', {}, 'Verdict: '), v.headline);
  const box = el('details', { class: `verdict verdict-${v.severity}`, id: 'verdict' }, head, v.detail !== '' ? el('div', { class: 'verdict-detail' }, v.detail) : null, body, findings);
  box.open = true;
  return box;
}

function storedTheme(): Theme | null {
  try {
    const t = localStorage.getItem('memlens-theme');
    return t === 'light' || t === 'dark' ? t : null;
  } catch {
    return null;
  }
}

function swatch(kind: string, label: string): HTMLElement {
  return el('span', { class: 'key' }, el('span', { class: `sw sw-${kind}` }), label);
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
