// The flame graph on a canvas. Only frames at least MIN_WIDTH pixels wide are laid out and drawn, so the
// cost of a redraw is bounded by the screen, not by the 200,000 frames a profile may have.

import type { ReportData } from '../../src/report/html/payload.js';
import { frameColor, PALETTES, type Theme } from './colors.js';
import { sizeCanvas } from './dom.js';
import type { FlameTree } from './tree.js';

const ROW = 18;
const MIN_WIDTH = 0.4;
/** Rows drawn at most: 1,600 rows of 18 px stay under the canvas size limit at a device pixel ratio of 1. */
const MAX_ROWS = 1600;
/**
 * Ancestors drawn above the zoomed frame at most. A program's stack can be 10,000 frames deep: drawing every
 * ancestor would spend the rows the canvas allows on them and leave the frames below out of reach. Beyond
 * this the nearest ones are drawn, the top row says how many more there are, and the crumbs hold the path.
 */
const MAX_ANCESTOR_ROWS = 24;
const FONT = '12px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace';

export interface FlameOptions {
  readonly icicle: boolean;
  readonly theme: Theme;
  /** Per frame, 1 when it matches the search (null: no search). */
  readonly matches: Uint8Array | null;
}

/** One laid-out rectangle. */
interface Layout {
  node: Int32Array;
  x: Float64Array;
  w: Float64Array;
  row: Int32Array;
  n: number;
  rows: number;
  /** Depth of the node on row 0 (rows are depths minus this), and the zoomed node's row. */
  base: number;
  zoomRow: number;
  /** Rectangle indices per row, in x order, for hit testing. */
  byRow: Int32Array[];
  /** Node → its rectangle index. */
  rectOf: Map<number, number>;
}

export class FlameView {
  readonly canvas: HTMLCanvasElement;
  /** The hover outline, on its own canvas so that moving the mouse does not redraw the graph. */
  readonly overlay: HTMLCanvasElement;
  private tree: FlameTree | null = null;
  private zoom = 0;
  private layout: Layout | null = null;
  private width = 800;
  private colorCache = new Map<number, string>();
  private readonly labelCache = new Map<number, readonly string[]>();
  /** The text drawn in each node's rectangle at the last draw (for window.memlens.frameLabel). */
  private drawnText = new Map<number, string>();
  private charWidth = 7.2;
  private hover = -1;

  constructor(
    private readonly data: ReportData,
    private options: FlameOptions,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'flame-canvas';
    this.canvas.setAttribute('role', 'img');
    this.canvas.setAttribute('aria-label', 'Flame graph');
    this.overlay = document.createElement('canvas');
    this.overlay.className = 'flame-overlay';
  }

  get currentTree(): FlameTree | null {
    return this.tree;
  }

  get zoomNode(): number {
    return this.zoom;
  }

  setTree(tree: FlameTree, zoom: number): void {
    this.tree = tree;
    this.zoom = zoom;
    this.hover = -1;
    this.relayout();
  }

  setZoom(node: number): void {
    this.zoom = node;
    this.hover = -1;
    this.relayout();
  }

  setOptions(options: FlameOptions): void {
    if (options.theme !== this.options.theme) this.colorCache.clear();
    this.options = options;
    this.draw();
  }

  setWidth(width: number): void {
    if (Math.abs(width - this.width) < 0.5) return;
    this.width = width;
    this.relayout();
  }

  setHover(node: number): void {
    if (node === this.hover) return;
    this.hover = node;
    this.drawHover();
  }

  private drawHover(): void {
    const L = this.layout;
    const height = L === null ? ROW : L.rows * ROW;
    const ctx = sizeCanvas(this.overlay, this.width, height);
    ctx.clearRect(0, 0, this.width, height);
    if (L === null || this.hover < 0) return;
    const r = L.rectOf.get(this.hover);
    if (r === undefined) return;
    const row = L.row[r]!;
    const y = this.options.icicle ? row * ROW : (L.rows - 1 - row) * ROW;
    ctx.strokeStyle = PALETTES[this.options.theme].text;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(L.x[r]! + 0.75, y + 0.75, Math.max(L.w[r]! - 2, 0.5), ROW - 2.5);
  }

  private relayout(): void {
    const dpr = window.devicePixelRatio || 1;
    this.layout = this.tree === null ? null : layoutTree(this.tree, this.zoom, this.width, Math.floor(MAX_ROWS / Math.max(dpr, 1)));
    this.draw();
  }

  /**
   * The labels a frame can have, longest first: its function with where it is and the text of its source
   * line (`load (job.py:12)  data = np.ones(n)`), with where it is (`load (job.py:12)`), its function alone.
   * The widest that fits is drawn, as memray's flame graph shows the line where there is room.
   */
  private labelsOf(frame: number): readonly string[] {
    let l = this.labelCache.get(frame);
    if (l === undefined) {
      const d = this.data;
      const name = d.strings[d.frames.name[frame]!] ?? '';
      const file = d.strings[d.frames.file[frame]!] ?? '';
      const line = d.frames.line[frame]!;
      const base = file.slice(file.lastIndexOf('/') + 1);
      const where = base === '' ? '' : line > 0 ? `${base}:${line}` : base;
      const src = d.frames.source[frame]!;
      const text = src >= 0 ? (d.strings[src] ?? '').trim() : '';
      const all: string[] = [];
      if (where !== '' && text !== '') all.push(`${name} (${where})  ${text}`);
      if (where !== '') all.push(`${name} (${where})`);
      all.push(name);
      l = all;
      this.labelCache.set(frame, l);
    }
    return l;
  }

  private colorOf(frame: number): string {
    let c = this.colorCache.get(frame);
    if (c === undefined) {
      c = frameColor(this.data.frames.flags[frame] ?? 0, this.data.strings[this.data.frames.name[frame]!] ?? '', this.options.theme);
      this.colorCache.set(frame, c);
    }
    return c;
  }

  /** The drawn rectangle of the first laid-out node whose frame passes `test` (CSS pixels), or null. */
  findRect(test: (node: number) => boolean): { node: number; x: number; y: number; w: number; h: number } | null {
    const L = this.layout;
    if (L === null) return null;
    for (let r = 0; r < L.n; r++) {
      const node = L.node[r]!;
      if (!test(node)) continue;
      const row = L.row[r]!;
      return { node, x: L.x[r]!, y: this.options.icicle ? row * ROW : (L.rows - 1 - row) * ROW, w: L.w[r]!, h: ROW - 1 };
    }
    return null;
  }

  /** The text drawn in a node's rectangle (undefined: none, too narrow or not drawn). */
  drawnLabel(node: number): string | undefined {
    return this.drawnText.get(node);
  }

  /** Node under a point in CSS pixels of the canvas, -1 if none. */
  hitTest(px: number, py: number): number {
    const L = this.layout;
    if (L === null) return -1;
    const rowFromTop = Math.floor(py / ROW);
    const row = this.options.icicle ? rowFromTop : L.rows - 1 - rowFromTop;
    const list = L.byRow[row];
    if (list === undefined) return -1;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = list[mid]!;
      if (px < L.x[r]!) hi = mid - 1;
      else if (px >= L.x[r]! + Math.max(L.w[r]!, 1)) lo = mid + 1;
      else return L.node[r]!;
    }
    return -1;
  }

  draw(): void {
    const L = this.layout;
    const tree = this.tree;
    const height = L === null ? ROW : L.rows * ROW;
    const ctx = sizeCanvas(this.canvas, this.width, height);
    const pal = PALETTES[this.options.theme];
    ctx.clearRect(0, 0, this.width, height);
    if (L === null || tree === null) return;
    ctx.font = FONT;
    this.charWidth = ctx.measureText('MMMMMMMMMM').width / 10;
    const matches = this.options.matches;
    const searching = matches !== null;
    this.drawnText = new Map();
    for (let r = 0; r < L.n; r++) {
      const node = L.node[r]!;
      const x = L.x[r]!;
      const w = L.w[r]!;
      const row = L.row[r]!;
      const y = this.options.icicle ? row * ROW : (L.rows - 1 - row) * ROW;
      const frame = tree.frame[node]!;
      const isMatch = searching && frame >= 0 && matches[frame] === 1;
      ctx.globalAlpha = (searching && !isMatch) || row < L.zoomRow ? 0.45 : 1;
      ctx.fillStyle = node === 0 ? (this.options.theme === 'light' ? '#d1d5db' : '#4b5563') : isMatch ? pal.match : this.colorOf(frame);
      ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
      if (w > 3 * this.charWidth) {
        const fit = Math.floor((w - 6) / this.charWidth);
        const labels = node === 0 ? [rootLabel(tree)] : this.labelsOf(frame);
        // The top row of a deep zoom says how many frames above it are not drawn.
        const above = row === 0 && L.base > 0 ? `… ${L.base.toLocaleString('en-US')} frames above · ` : '';
        const text = fitLabel(above === '' ? labels : labels.map((l) => above + l), fit);
        this.drawnText.set(node, text);
        ctx.globalAlpha = ctx.globalAlpha === 1 ? 1 : 0.7;
        ctx.fillStyle = node === 0 && this.options.theme === 'dark' ? pal.text : pal.textOnFrame;
        ctx.fillText(text, x + 3, y + ROW - 5);
      }
    }
    ctx.globalAlpha = 1;
    this.drawHover();
  }
}

/** The first label that fits in `fit` characters, else the last one cut with an ellipsis. */
export function fitLabel(labels: readonly string[], fit: number): string {
  for (const l of labels) if (l.length <= fit) return l;
  const last = labels[labels.length - 1] ?? '';
  return `${last.slice(0, Math.max(fit - 1, 1))}…`;
}

function rootLabel(tree: FlameTree): string {
  return tree.size > 1 ? 'all' : 'all (nothing in this view)';
}

/**
 * Positions of the zoomed node's ancestors (full width, above it) and of its descendants (proportional to
 * their totals). Children narrower than MIN_WIDTH are skipped with everything below them.
 */
export function layoutTree(tree: FlameTree, zoom: number, width: number, maxRows = MAX_ROWS): Layout {
  let cap = 1024;
  let node = new Int32Array(cap);
  let x = new Float64Array(cap);
  let w = new Float64Array(cap);
  let row = new Int32Array(cap);
  let n = 0;
  const push = (nd: number, xx: number, ww: number, rr: number): void => {
    if (n === cap) {
      cap *= 2;
      const a = new Int32Array(cap);
      a.set(node);
      node = a;
      const b = new Float64Array(cap);
      b.set(x);
      x = b;
      const c = new Float64Array(cap);
      c.set(w);
      w = c;
      const d = new Int32Array(cap);
      d.set(row);
      row = d;
    }
    node[n] = nd;
    x[n] = xx;
    w[n] = ww;
    row[n] = rr;
    n++;
  };
  const zoomDepth = tree.depth[zoom]!;
  const ancestors: number[] = [];
  for (let a = tree.parent[zoom]!; a >= 0 && ancestors.length < MAX_ANCESTOR_ROWS; a = tree.parent[a]!) ancestors.push(a);
  ancestors.reverse();
  // Rows count from the outermost ancestor drawn: the zoomed node is at most MAX_ANCESTOR_ROWS down.
  const base = zoomDepth - ancestors.length;
  ancestors.forEach((a, i) => push(a, 0, width, i));
  let maxRow = zoomDepth - base;
  const total = tree.total[zoom]!;
  const scale = total > 0 ? width / total : 0;
  // Explicit stack: deep recursion in the profiled program must not overflow ours.
  const stackNode = [zoom];
  const stackX = [0];
  while (stackNode.length > 0) {
    const nd = stackNode.pop()!;
    const xx = stackX.pop()!;
    const ww = nd === zoom ? width : tree.total[nd]! * scale;
    const rr = tree.depth[nd]! - base;
    push(nd, xx, ww, rr);
    if (rr > maxRow) maxRow = rr;
    let cx = xx;
    const a = tree.childStart[nd]!;
    // Browsers refuse canvases past ~32,000 pixels: frames deeper than that are not drawn.
    const b = rr + 1 < maxRows ? tree.childStart[nd + 1]! : a;
    for (let k = a; k < b; k++) {
      const c = tree.childList[k]!;
      const cw = tree.total[c]! * scale;
      // Children are sorted largest first: once one is too narrow, the rest are too.
      if (cw < MIN_WIDTH) break;
      stackNode.push(c);
      stackX.push(cx);
      cx += cw;
    }
  }
  const rows = maxRow + 1;
  const counts = new Int32Array(rows);
  for (let i = 0; i < n; i++) counts[row[i]!]!++;
  const byRow = Array.from(counts, (c) => new Int32Array(c));
  const fill = new Int32Array(rows);
  for (let i = 0; i < n; i++) {
    const r = row[i]!;
    byRow[r]![fill[r]!++] = i;
  }
  for (const list of byRow) list.sort((p, q) => x[p]! - x[q]!);
  const rectOf = new Map<number, number>();
  for (let i = 0; i < n; i++) rectOf.set(node[i]!, i);
  return { node, x, w, row, n, rows, base, zoomRow: zoomDepth - base, byRow, rectOf };
}

export const FLAME_ROW_HEIGHT = ROW;
