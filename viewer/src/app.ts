// The page: header, verdict, timeline, toolbar, flame graph or table, statistics panel, tooltip. Holds the
// view state and recomputes only what a change needs (a search does not rebuild the tree; a toggle does).
// The toolbar (toolbar.ts), the panels (panels.ts) and the tooltip (tooltip.ts) are built elsewhere and
// hold no state of their own.

import { FrameFlag, type ReportData } from '../../src/report/html/payload.js';
import type { Theme } from './colors.js';
import { timelineCsv } from './csv.js';
import { append, button, el, replaceChildren } from './dom.js';
import { FlameView } from './flame.js';
import { formatBytes, formatCount, formatDuration, formatPercent } from './format.js';
import { frameName, frameWhere } from './labels.js';
import { fitVerdict, statsPanel, verdictSection } from './panels.js';
import { searchFrames, type SearchResult } from './search.js';
import { TableView } from './table.js';
import { TimelineView, type TimeWindow } from './timeline.js';
import { buildToolbar, setSearchText, showShape, showTab, type Tab } from './toolbar.js';
import { FrameTooltip, timelineReadout } from './tooltip.js';
import { buildTree, findPath, framePath, matchedBytes, type FlameTree, type LocationValues } from './tree.js';
import { baseValues, tickAt, tickStart, windowValues } from './window.js';

interface State {
  icicle: boolean;
  inverted: boolean;
  hideMask: number;
  thread: number;
  query: string;
  window: TimeWindow | null;
  tab: Tab;
  theme: Theme;
  zoomPath: number[];
}

const DEFAULT_HIDE = FrameFlag.Interpreter | FrameFlag.Import | FrameFlag.Memlens;
/** Of the flame graph's box, this much (its first rows) is in view when the page opens. */
const FLAME_FIRST_VIEW_PX = 120;
/** Crumbs shown at most: the two outermost frames, a gap, the nearest ones. */
const MAX_CRUMBS = 15;

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
  readonly tab: Tab;
}

export class App {
  private readonly state: State;
  private tree: FlameTree | null = null;
  private tableTree: FlameTree | null = null;
  private search: SearchResult | null = null;
  private readonly flame: FlameView;
  private readonly table: TableView;
  private readonly timeline: TimelineView | null;
  private readonly tooltip: FrameTooltip;
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
    this.timeline = data.timeline.time.length > 0 ? new TimelineView(data, this.state.theme, (t) => this.showHover(t), data.temporal !== null ? (w) => this.setWindow(w) : null) : null;
    this.tooltip = new FrameTooltip(data);
    this.panel = statsPanel(data);
    this.render();
  }

  /**
   * What the page shows right now, as data: for scripts that read a report (window.memlens.view()) and
   * for the browser tests, which cannot read a canvas.
   */
  describe(): ViewDescription {
    const tree = this.tree;
    const name = (n: number) => (n === 0 || tree === null ? 'all' : frameName(this.data, tree.frame[n]!));
    const zoom = this.flame.zoomNode;
    const roots: { name: string; bytes: number }[] = [];
    let largest = { name: '', bytes: 0 };
    const zoomPath: string[] = [];
    if (tree !== null) {
      for (let k = tree.childStart[zoom]!; k < tree.childStart[zoom + 1]!; k++) roots.push({ name: name(tree.childList[k]!), bytes: tree.total[tree.childList[k]!]! });
      for (let n = 1; n < tree.size; n++) if (tree.self[n]! > largest.bytes) largest = { name: name(n), bytes: tree.self[n]! };
      for (let n = zoom; n > 0; n = tree.parent[n]!) zoomPath.push(name(n));
      zoomPath.reverse();
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
    const r = this.flame.findRect((n) => n !== 0 && frameName(this.data, tree.frame[n]!) === functionName);
    if (r === null) return null;
    const box = this.flame.canvas.getBoundingClientRect();
    return { x: box.left + r.x + Math.min(r.w / 2, 40), y: box.top + r.y + r.h / 2 };
  }

  /** The text drawn in the first drawn frame with this function name (null if none has text). */
  frameLabel(functionName: string): string | null {
    const tree = this.tree;
    if (tree === null) return null;
    const r = this.flame.findRect((n) => n !== 0 && frameName(this.data, tree.frame[n]!) === functionName);
    return r === null ? null : (this.flame.drawnLabel(r.node) ?? null);
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
        this.data.timeline.cgroupUsage.length > 0
          ? swatch('cgroup', m.cgroupLimitBytes !== null ? 'cgroup usage (the whole cgroup)' : 'cgroup usage (the whole cgroup, other processes included; no limit)')
          : null,
        m.cgroupLimitBytes !== null ? swatch('limit', 'cgroup limit') : null,
        this.hasMarkers(false) ? swatch('marker', 'markers') : null,
        this.hasMarkers(true) ? swatch('gc', 'garbage collections') : null,
        el('span', { class: 'grow' }),
        button('Download CSV', 'The timeline as CSV, one row per snapshot', () => this.downloadCsv(), 'btn small'),
      );
      const hint =
        this.data.temporal !== null ? 'Drag across the timeline to show a time window; double-click to clear it.' : 'This capture has no per-snapshot lifetimes, so time windows are not available.';
      append(
        this.root,
        el('section', { class: 'timeline', id: 'timeline' }, legend, this.timeline.element, el('div', { class: 'timeline-foot' }, this.hoverInfo, this.windowInfo), el('div', { class: 'hint' }, hint)),
      );
    }
    if (m.emptyReason === null) {
      append(this.root, this.toolbar(), this.crumbs, this.summary, this.flameBox, this.tableBox);
      this.flameBox.append(this.flame.canvas, this.flame.overlay);
      this.tableBox.append(this.table.element);
      this.tableBox.hidden = true;
      this.wireFlame();
    }
    append(this.root, this.panel, this.tooltip.element);
    const ro = new ResizeObserver(() => this.resize());
    ro.observe(this.root);
    this.resize();
    if (m.emptyReason === null) this.rebuild();
    this.updateWindowInfo();
    this.fitFirstView();
  }

  /**
   * The flame graph is in view when the page opens (a 1400×900 window included): when the verdict above
   * pushes its toolbar and first rows below the fold, the verdict gets shorter (panels.ts fitVerdict).
   */
  private fitFirstView(): void {
    const verdict = document.getElementById('verdict');
    if (verdict === null || this.data.meta.emptyReason !== null) return;
    const excess = this.flameBox.getBoundingClientRect().top + FLAME_FIRST_VIEW_PX - window.innerHeight;
    if (excess > 0) fitVerdict(verdict, excess);
  }

  /** Whether the timeline has markers of garbage collections (gc) or of anything else. */
  private hasMarkers(gc: boolean): boolean {
    const mk = this.data.markers;
    for (let i = 0; i < mk.time.length; i++) if ((this.data.strings[mk.kind[i]!] === 'GC') === gc) return true;
    return false;
  }

  private toolbar(): HTMLElement {
    return buildToolbar(this.data, this.state.inverted, this.searchInfo, {
      setTab: (tab) => this.setTab(tab),
      setIcicle: (icicle) => this.setIcicle(icicle),
      setInverted: (inverted) => this.update({ inverted }),
      setHide: (flag, hidden) => this.setHide(flag, hidden),
      setThread: (thread) => this.update({ thread }),
      setQuery: (query) => this.setQuery(query),
      resetZoom: () => this.zoomTo(0),
    });
  }

  private wireFlame(): void {
    const c = this.flame.canvas;
    c.addEventListener('mousemove', (e) => {
      const node = this.flame.hitTest(e.offsetX, e.offsetY);
      this.flame.setHover(node);
      const tree = this.tree;
      if (node < 0 || tree === null) this.tooltip.hide();
      else this.tooltip.show({ tree, node, zoomNode: this.flame.zoomNode, theme: this.state.theme, inverted: this.state.inverted }, e.clientX, e.clientY);
      c.style.cursor = node >= 0 ? 'pointer' : 'default';
    });
    c.addEventListener('mouseleave', () => {
      this.flame.setHover(-1);
      this.tooltip.hide();
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
    showShape(icicle);
    this.flame.setOptions({ icicle, theme: this.state.theme, matches: this.search?.matches ?? null });
  }

  private setTab(tab: Tab): void {
    this.state.tab = tab;
    showTab(tab);
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
    const crumb = (n: number): HTMLElement => button(frameName(this.data, tree.frame[n]!), frameWhere(this.data, tree.frame[n]!), () => this.zoomTo(n), 'crumb');
    // A deep zoom (a recursion thousands of frames deep) keeps the outermost and the nearest frames.
    if (path.length <= MAX_CRUMBS) for (const n of path) items.push(crumb(n));
    else {
      const tail = MAX_CRUMBS - 3;
      for (const n of path.slice(0, 2)) items.push(crumb(n));
      items.push(el('span', { class: 'crumb-gap' }, `… ${(path.length - 2 - tail).toLocaleString('en-US')} frames …`));
      for (const n of path.slice(path.length - tail)) items.push(crumb(n));
    }
    replaceChildren(this.crumbs, ...items.flatMap((b, i) => (i === 0 ? [b] : [el('span', { class: 'sep' }, '›'), b])));
  }

  private showHover(t: number | null): void {
    if (t === null || this.timeline === null) {
      this.hoverInfo.textContent = '';
      return;
    }
    const text = timelineReadout(this.data, this.timeline, t);
    if (text !== null) this.hoverInfo.textContent = text;
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
    replaceChildren(
      this.windowInfo,
      `Window ${from} – ${to}: ${what} `,
      button('Clear', 'Show the whole run again', () => this.setWindow(null), 'btn small'),
    );
  }

  private pickFrame(frame: number): void {
    setSearchText(frameName(this.data, frame));
    this.setQuery(frameName(this.data, frame));
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
