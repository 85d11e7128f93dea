// The table of locations: one row per frame (function at file:line) with the bytes it allocated itself,
// the bytes below it (each stack counted once, even through recursion) and its allocation count.
// Sortable by any column, filtered by the search box, and virtual: only the visible rows exist in the DOM.

import type { ReportData } from '../../src/report/html/payload.js';
import { el, replaceChildren } from './dom.js';
import { formatBytes, formatCount, formatPercent, shortPath } from './format.js';
import type { FlameTree } from './tree.js';

export interface LocationRow {
  readonly frame: number;
  readonly own: number;
  readonly total: number;
  readonly ownCount: number;
  readonly totalCount: number;
}

/** Rows from a caller-rooted (not inverted) tree. Pure; unit-tested. */
export function locationRows(tree: FlameTree, frames: number): LocationRow[] {
  const own = new Float64Array(frames);
  const ownCount = new Float64Array(frames);
  const total = new Float64Array(frames);
  const totalCount = new Float64Array(frames);
  const seen = new Uint8Array(frames);
  const onPath = new Int32Array(frames);
  // Iterative DFS with enter/exit events; a frame adds its total only where it is not already on the path.
  const stack: number[] = [];
  for (let k = tree.childStart[0]!; k < tree.childStart[1]!; k++) stack.push(tree.childList[k]!);
  // Self counts are not stored per node; derive them: count of node minus its children's counts.
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (e < 0) {
      onPath[tree.frame[~e]!]!--;
      continue;
    }
    const f = tree.frame[e]!;
    seen[f] = 1;
    let childCount = 0;
    for (let k = tree.childStart[e]!; k < tree.childStart[e + 1]!; k++) childCount += tree.count[tree.childList[k]!]!;
    own[f]! += tree.self[e]!;
    ownCount[f]! += tree.count[e]! - childCount;
    if (onPath[f] === 0) {
      total[f]! += tree.total[e]!;
      totalCount[f]! += tree.count[e]!;
    }
    onPath[f]!++;
    stack.push(~e);
    for (let k = tree.childStart[e]!; k < tree.childStart[e + 1]!; k++) stack.push(tree.childList[k]!);
  }
  const rows: LocationRow[] = [];
  for (let f = 0; f < frames; f++) {
    if (seen[f] === 1) rows.push({ frame: f, own: own[f]!, total: total[f]!, ownCount: ownCount[f]!, totalCount: totalCount[f]! });
  }
  return rows;
}

type SortKey = 'function' | 'location' | 'own' | 'total' | 'ownCount';

const ROW_HEIGHT = 24;

interface Column {
  readonly key: SortKey;
  readonly label: string;
  readonly title: string;
  readonly numeric: boolean;
}

const COLUMNS: readonly Column[] = [
  { key: 'function', label: 'Function', title: 'Sort by function name', numeric: false },
  { key: 'location', label: 'Location', title: 'Sort by file and line', numeric: false },
  { key: 'own', label: 'Own', title: 'Bytes allocated by this function itself', numeric: true },
  { key: 'total', label: 'Total', title: 'Bytes allocated by this function and everything it called', numeric: true },
  { key: 'ownCount', label: 'Allocations', title: 'Allocations made by this function itself', numeric: true },
];

export class TableView {
  readonly element: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly rowsBox: HTMLDivElement;
  private readonly header: HTMLDivElement;
  private readonly caption: HTMLDivElement;
  private rows: LocationRow[] = [];
  private shown: LocationRow[] = [];
  private sortKey: SortKey = 'own';
  private descending = true;
  private matches: Uint8Array | null = null;
  private viewTotal = 0;

  constructor(
    private readonly data: ReportData,
    private readonly onPick: (frame: number) => void,
  ) {
    this.header = el('div', { class: 'tbl-row tbl-head', role: 'row' });
    this.spacer = el('div', { class: 'tbl-spacer' });
    this.rowsBox = el('div', { class: 'tbl-rows' });
    this.body = el('div', { class: 'tbl-body' }, this.spacer, this.rowsBox);
    this.caption = el('div', { class: 'tbl-caption' });
    this.element = el('div', { class: 'tbl', role: 'table' }, this.caption, this.header, this.body);
    this.body.addEventListener('scroll', () => this.renderRows());
    this.renderHeader();
  }

  setTree(tree: FlameTree): void {
    this.rows = locationRows(tree, this.data.frames.name.length);
    this.viewTotal = tree.total[0]!;
    this.refresh();
  }

  setMatches(matches: Uint8Array | null): void {
    this.matches = matches;
    this.refresh();
  }

  private nameOf(f: number): string {
    return this.data.strings[this.data.frames.name[f]!] ?? '';
  }

  private locationOf(f: number, short = false): string {
    const full = this.data.strings[this.data.frames.file[f]!] ?? '';
    const file = short ? shortPath(full) : full;
    const line = this.data.frames.line[f]!;
    return line > 0 ? `${file}:${line}` : file;
  }

  private refresh(): void {
    const m = this.matches;
    const list = m === null ? [...this.rows] : this.rows.filter((r) => m[r.frame] === 1);
    const k = this.sortKey;
    const dir = this.descending ? -1 : 1;
    if (k === 'function' || k === 'location') {
      const text = k === 'function' ? (f: number) => this.nameOf(f) : (f: number) => this.locationOf(f);
      list.sort((a, b) => dir * text(a.frame).localeCompare(text(b.frame)) || b.own - a.own);
    } else {
      list.sort((a, b) => dir * (a[k] - b[k]) || a.frame - b.frame);
    }
    this.shown = list;
    this.caption.textContent = `${formatCount(list.length)} of ${formatCount(this.rows.length)} locations${m === null ? '' : ' match the search'}`;
    this.spacer.style.height = `${list.length * ROW_HEIGHT}px`;
    this.renderHeader();
    this.renderRows();
  }

  private renderHeader(): void {
    replaceChildren(
      this.header,
      ...COLUMNS.map((c) => {
        const arrow = c.key === this.sortKey ? (this.descending ? ' ▼' : ' ▲') : '';
        const cell = el('button', { class: `tbl-cell tbl-sort${c.numeric ? ' num' : ''}`, type: 'button', title: c.title, data: { key: c.key } }, c.label + arrow);
        cell.addEventListener('click', () => {
          if (this.sortKey === c.key) this.descending = !this.descending;
          else {
            this.sortKey = c.key;
            this.descending = c.numeric;
          }
          this.refresh();
        });
        return cell;
      }),
    );
  }

  renderRows(): void {
    const top = this.body.scrollTop;
    const height = this.body.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - 10);
    const last = Math.min(this.shown.length, Math.ceil((top + height) / ROW_HEIGHT) + 10);
    this.rowsBox.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    const out: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const r = this.shown[i]!;
      const row = el(
        'div',
        { class: 'tbl-row', role: 'row', title: 'Show in the flame graph' },
        el('span', { class: 'tbl-cell fn' }, this.nameOf(r.frame)),
        el('span', { class: 'tbl-cell loc', title: this.locationOf(r.frame) }, this.locationOf(r.frame, true)),
        el('span', { class: 'tbl-cell num' }, `${formatBytes(r.own)} `, el('small', {}, formatPercent(r.own, this.viewTotal))),
        el('span', { class: 'tbl-cell num' }, `${formatBytes(r.total)} `, el('small', {}, formatPercent(r.total, this.viewTotal))),
        el('span', { class: 'tbl-cell num' }, formatCount(r.ownCount)),
      );
      row.addEventListener('click', () => this.onPick(r.frame));
      out.push(row);
    }
    replaceChildren(this.rowsBox, ...out);
  }
}
