// Numbers as people read them. Pure; unit-tested.

// Sizes and counts as memlens writes them everywhere (src/util/units.ts, pure, bundled with the page). The
// durations and shares below are the viewer's own: positions on a timeline want microseconds, and a
// share of nothing reads as a dash.
export { formatBytes, formatCount } from '../../src/util/units.js';

export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return '–';
  const p = (part / whole) * 100;
  return `${p >= 10 || p === 0 ? p.toFixed(1) : p.toFixed(2)}%`;
}

/** ns → "850 µs", "12.3 ms", "4.56 s", "2 min 05 s", "1 h 02 min". */
export function formatDuration(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  const s = ns / 1e9;
  if (s < 1e-3) return `${(ns / 1e3).toFixed(0)} µs`;
  if (s < 1) return `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Seconds on a time axis, with as many decimals as the tick step needs. */
export function formatSeconds(ns: number, stepNs: number): string {
  const decimals = Math.max(0, Math.min(6, Math.ceil(-Math.log10(stepNs / 1e9) - 1e-9)));
  return `${(ns / 1e9).toFixed(decimals)} s`;
}

/** A "nice" step (1, 2 or 5 × 10^k) so that span / step is about `target`. */
export function niceStep(span: number, target: number): number {
  if (span <= 0 || target <= 0) return 1;
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/** A nice step in bytes: powers of two times 1, 2 or 5 of a binary unit. */
export function niceByteStep(span: number, target: number): number {
  if (span <= 0) return 1;
  const raw = span / target;
  let unit = 1;
  while (unit * 1024 <= raw) unit *= 1024;
  const m = raw / unit;
  const k = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : m <= 10 ? 10 : m <= 20 ? 20 : m <= 50 ? 50 : m <= 100 ? 100 : m <= 200 ? 200 : m <= 500 ? 500 : 1024;
  return k * unit;
}

/**
 * A file path as short as it can be and still say where the code is: the part after site-packages or
 * after the standard library's pythonX.Y directory; other paths unchanged.
 */
export function shortPath(file: string): string {
  const site = /\/(?:site|dist)-packages\/(.+)$/.exec(file);
  if (site !== null) return site[1] ?? file;
  const std = /\/lib\/python\d+\.\d+\/(.+)$/.exec(file);
  if (std !== null) return std[1] ?? file;
  return file;
}
