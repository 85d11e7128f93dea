// The memory timeline: RSS (anonymous part darker), tracked heap, the cgroup's usage (the whole group: the
// scale only under a limit) and limit, markers. Drawn
// with min/max decimation per pixel column (decimate.ts), on two stacked canvases: the series (redrawn on
// resize and theme change) and an overlay (selection, hover line) that redraws on every mouse move.

import type { ReportData } from '../../src/report/html/payload.js';
import { PALETTES, type Theme } from './colors.js';
import { decimate, type Decimated } from './decimate.js';
import { sizeCanvas } from './dom.js';
import { formatBytes, formatSeconds, niceByteStep, niceStep } from './format.js';

const HEIGHT = 168;
const LEFT = 66;
const RIGHT = 12;
const TOP = 10;
const BOTTOM = 22;

export interface TimeWindow {
  readonly t0: number;
  readonly t1: number;
}

interface Series {
  readonly rss: Decimated;
  readonly anon: Decimated;
  readonly heap: Decimated;
  readonly cgroup: Decimated | null;
}

export class TimelineView {
  readonly element: HTMLDivElement;
  private readonly base: HTMLCanvasElement;
  private readonly overlay: HTMLCanvasElement;
  private width = 800;
  private theme: Theme;
  private series: Series | null = null;
  private yMax = 1;
  readonly tEnd: number;
  private selection: TimeWindow | null = null;
  /** A moment to mark (the peak the flame graph shows), ns; null for none. */
  private mark: number | null = null;
  private hoverX: number | null = null;
  private dragFrom: number | null = null;

  constructor(
    private readonly data: ReportData,
    theme: Theme,
    private readonly onHover: (timeNs: number | null) => void,
    private readonly onSelect: ((w: TimeWindow | null) => void) | null,
  ) {
    this.theme = theme;
    const tl = data.timeline;
    this.tEnd = Math.max(data.meta.durationNs, tl.time.length > 0 ? tl.time[tl.time.length - 1]! : 0, 1);
    this.element = document.createElement('div');
    this.element.className = 'timeline-plot';
    this.base = document.createElement('canvas');
    this.overlay = document.createElement('canvas');
    this.base.setAttribute('aria-label', 'Memory over time');
    this.overlay.className = 'timeline-overlay';
    this.element.append(this.base, this.overlay);
    this.overlay.addEventListener('mousemove', (e) => this.mouseMove(e));
    this.overlay.addEventListener('mouseleave', () => {
      this.hoverX = null;
      this.drawOverlay();
      this.onHover(null);
    });
    this.overlay.addEventListener('mousedown', (e) => {
      if (this.onSelect === null || e.button !== 0) return;
      this.dragFrom = this.clampX(e.offsetX);
      e.preventDefault();
    });
    window.addEventListener('mouseup', (e) => this.mouseUp(e));
    this.overlay.addEventListener('dblclick', () => this.onSelect?.(null));
  }

  get plotWidth(): number {
    return Math.max(this.width - LEFT - RIGHT, 10);
  }

  timeToX(t: number): number {
    return LEFT + (t / this.tEnd) * this.plotWidth;
  }

  xToTime(x: number): number {
    return ((x - LEFT) / this.plotWidth) * this.tEnd;
  }

  private clampX(x: number): number {
    return Math.min(Math.max(x, LEFT), LEFT + this.plotWidth);
  }

  setWidth(width: number): void {
    if (Math.abs(width - this.width) < 0.5 && this.series !== null) return;
    this.width = width;
    this.compute();
    this.draw();
  }

  setTheme(theme: Theme): void {
    this.theme = theme;
    this.draw();
  }

  setSelection(w: TimeWindow | null, mark: number | null): void {
    this.selection = w;
    this.mark = mark;
    this.drawOverlay();
  }

  private compute(): void {
    const tl = this.data.timeline;
    const cols = Math.round(this.plotWidth);
    const anonPlusFile = tl.rss;
    this.series = {
      rss: decimate(tl.time, anonPlusFile, 0, this.tEnd, cols),
      anon: decimate(tl.time, tl.rssAnon, 0, this.tEnd, cols),
      heap: decimate(tl.time, tl.heap, 0, this.tEnd, cols),
      cgroup: tl.cgroupUsage.length > 0 ? decimate(tl.time, tl.cgroupUsage, 0, this.tEnd, cols) : null,
    };
    // The cgroup's usage is the whole group's (other processes, page cache included). Under a limit it is
    // what the limit counts, so it sets the scale with the limit; without one it is context only, drawn
    // clipped at the top, so a 400 MiB container does not squash a 60 MiB process.
    const limited = this.data.meta.cgroupLimitBytes !== null;
    let m = this.data.meta.cgroupLimitBytes ?? 0;
    const s = this.series;
    for (const d of limited ? [s.rss, s.heap, s.cgroup] : [s.rss, s.heap]) {
      if (d === null) continue;
      for (let i = 0; i < d.max.length; i++) if (d.max[i]! > m) m = d.max[i]!;
    }
    this.yMax = Math.max(m * 1.05, 1024);
  }

  private yOf(v: number): number {
    return TOP + (1 - v / this.yMax) * (HEIGHT - TOP - BOTTOM);
  }

  draw(): void {
    const ctx = sizeCanvas(this.base, this.width, HEIGHT);
    const pal = PALETTES[this.theme];
    ctx.clearRect(0, 0, this.width, HEIGHT);
    const s = this.series;
    if (s === null) return;
    ctx.font = '11px system-ui, sans-serif';
    // Grid and axes.
    const yStep = niceByteStep(this.yMax, 4);
    ctx.strokeStyle = pal.grid;
    ctx.fillStyle = pal.muted;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let v = 0; v <= this.yMax; v += yStep) {
      const y = Math.round(this.yOf(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(LEFT, y);
      ctx.lineTo(LEFT + this.plotWidth, y);
      ctx.stroke();
      ctx.fillText(formatBytes(v), LEFT - 6, y);
    }
    const tStep = niceStep(this.tEnd, Math.max(2, Math.floor(this.plotWidth / 110)));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let t = 0; t <= this.tEnd; t += tStep) {
      const x = Math.round(this.timeToX(t)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, TOP);
      ctx.lineTo(x, HEIGHT - BOTTOM);
      ctx.stroke();
      ctx.fillText(formatSeconds(t, tStep), x, HEIGHT - BOTTOM + 5);
    }
    this.area(ctx, s.rss, pal.rss);
    this.area(ctx, s.anon, pal.rssAnon);
    if (s.cgroup !== null) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(LEFT, TOP, this.plotWidth, HEIGHT - TOP - BOTTOM);
      ctx.clip();
      this.line(ctx, s.cgroup, pal.cgroup, 1.2);
      ctx.restore();
      const over = this.cgroupAboveScale();
      if (over !== null) {
        ctx.fillStyle = pal.cgroup;
        ctx.textAlign = 'right';
        ctx.textBaseline = 'top';
        ctx.fillText(`whole cgroup, up to ${formatBytes(over)} (off the scale)`, LEFT + this.plotWidth - 4, TOP + 2);
      }
    }
    this.line(ctx, s.heap, pal.heap, 1.6);
    const limit = this.data.meta.cgroupLimitBytes;
    if (limit !== null) {
      const y = Math.round(this.yOf(limit)) + 0.5;
      ctx.strokeStyle = pal.limit;
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(LEFT, y);
      ctx.lineTo(LEFT + this.plotWidth, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = pal.limit;
      ctx.textAlign = 'right';
      ctx.textBaseline = 'bottom';
      ctx.fillText(`cgroup limit ${formatBytes(limit)}`, LEFT + this.plotWidth - 4, y - 2);
    }
    // Markers: a thin line each, labelled when there are few. Garbage collections (often many) are short
    // ticks along the time axis instead; the hover line names them with their pause.
    const mk = this.data.markers;
    const isGc = (i: number): boolean => this.data.strings[mk.kind[i]!] === 'GC';
    let others = 0;
    for (let i = 0; i < mk.time.length; i++) if (!isGc(i)) others++;
    ctx.lineWidth = 1;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    for (let i = 0; i < mk.time.length; i++) {
      const x = Math.round(this.timeToX(mk.time[i]!)) + 0.5;
      if (isGc(i)) {
        ctx.strokeStyle = pal.gc;
        ctx.beginPath();
        ctx.moveTo(x, HEIGHT - BOTTOM - 7);
        ctx.lineTo(x, HEIGHT - BOTTOM);
        ctx.stroke();
        continue;
      }
      ctx.strokeStyle = pal.marker;
      ctx.fillStyle = pal.marker;
      ctx.beginPath();
      ctx.moveTo(x, TOP);
      ctx.lineTo(x, HEIGHT - BOTTOM);
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(x - 4, TOP);
      ctx.lineTo(x + 4, TOP);
      ctx.lineTo(x, TOP + 6);
      ctx.fill();
      if (others <= 12) ctx.fillText(this.data.strings[mk.kind[i]!] ?? '', x + 4, TOP + 1);
    }
    this.drawOverlay();
  }

  /** The cgroup's highest usage when it is above the chart's scale (no limit: it does not set it), else null. */
  cgroupAboveScale(): number | null {
    const d = this.series?.cgroup;
    if (d === null || d === undefined) return null;
    let hi = -Infinity;
    for (let i = 0; i < d.max.length; i++) if (d.max[i]! > hi) hi = d.max[i]!;
    return hi > this.yMax ? hi : null;
  }

  private area(ctx: CanvasRenderingContext2D, d: Decimated, color: string): void {
    const base = this.yOf(0);
    ctx.fillStyle = color;
    ctx.beginPath();
    let open = false;
    for (let c = 0; c < d.max.length; c++) {
      const v = d.max[c]!;
      if (Number.isNaN(v)) continue;
      const x = LEFT + c;
      if (!open) {
        ctx.moveTo(x, base);
        open = true;
      }
      ctx.lineTo(x, this.yOf(v));
      ctx.lineTo(x + 1, this.yOf(v));
    }
    if (open) {
      ctx.lineTo(LEFT + d.max.length, base);
      ctx.closePath();
      ctx.fill();
    }
  }

  private line(ctx: CanvasRenderingContext2D, d: Decimated, color: string, width: number): void {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    let open = false;
    for (let c = 0; c < d.max.length; c++) {
      const lo = d.min[c]!;
      if (Number.isNaN(lo)) continue;
      const x = LEFT + c + 0.5;
      const hi = d.max[c]!;
      // The vertical span of the column, ending at its last sample so the line continues from there.
      if (!open) ctx.moveTo(x, this.yOf(lo));
      else ctx.lineTo(x, this.yOf(lo));
      ctx.lineTo(x, this.yOf(hi));
      ctx.lineTo(x, this.yOf(d.last[c]!));
      open = true;
    }
    ctx.stroke();
  }

  private drawOverlay(): void {
    const ctx = sizeCanvas(this.overlay, this.width, HEIGHT);
    const pal = PALETTES[this.theme];
    ctx.clearRect(0, 0, this.width, HEIGHT);
    const sel = this.dragFrom !== null && this.hoverX !== null ? { t0: this.xToTime(Math.min(this.dragFrom, this.hoverX)), t1: this.xToTime(Math.max(this.dragFrom, this.hoverX)) } : this.selection;
    if (sel !== null) {
      const x0 = this.timeToX(sel.t0);
      const x1 = Math.max(this.timeToX(sel.t1), x0 + 1);
      ctx.fillStyle = pal.selection;
      ctx.fillRect(x0, TOP, x1 - x0, HEIGHT - TOP - BOTTOM);
      ctx.strokeStyle = pal.heap;
      ctx.lineWidth = 1;
      ctx.strokeRect(Math.round(x0) + 0.5, TOP + 0.5, Math.round(x1 - x0), HEIGHT - TOP - BOTTOM - 1);
    }
    if (this.mark !== null) {
      const x = Math.round(this.timeToX(this.mark)) + 0.5;
      ctx.strokeStyle = pal.heap;
      ctx.lineWidth = 2;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.moveTo(x, TOP);
      ctx.lineTo(x, HEIGHT - BOTTOM);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (this.hoverX !== null) {
      const x = Math.round(this.hoverX) + 0.5;
      ctx.strokeStyle = pal.muted;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(x, TOP);
      ctx.lineTo(x, HEIGHT - BOTTOM);
      ctx.stroke();
    }
  }

  private mouseMove(e: MouseEvent): void {
    this.hoverX = this.clampX(e.offsetX);
    this.drawOverlay();
    this.onHover(this.xToTime(this.hoverX));
  }

  private mouseUp(e: MouseEvent): void {
    if (this.dragFrom === null) return;
    const from = this.dragFrom;
    this.dragFrom = null;
    const rect = this.overlay.getBoundingClientRect();
    const to = this.clampX(e.clientX - rect.left);
    if (Math.abs(to - from) < 3) {
      this.drawOverlay();
      return; // a click, not a drag
    }
    this.onSelect?.({ t0: Math.max(0, this.xToTime(Math.min(from, to))), t1: Math.min(this.tEnd, this.xToTime(Math.max(from, to))) });
  }

  /** Index of the snapshot nearest to time t (ns), -1 when there are none. */
  sampleAt(t: number): number {
    const time = this.data.timeline.time;
    if (time.length === 0) return -1;
    let lo = 0;
    let hi = time.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (time[mid]! < t) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(time[lo - 1]! - t) < Math.abs(time[lo]! - t)) lo--;
    return lo;
  }
}
