// Numbers with units, as every output of memlens writes them: the terminal reports, the CLI's own lines,
// the live views and the HTML viewer (which bundles this module: keep it pure). Sizes are binary
// (KiB = 1024 B): that is what RSS and allocators count in, and what `--fail-on-growth 10MB` means (as
// pytest-memray reads it).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `0 B`, `512 B`, `1.50 KiB`, `12.3 MiB`, `123 MiB`: three significant digits past bytes; `–` for no number. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  const sign = n < 0 ? '-' : '';
  let v = Math.abs(n);
  if (v < 1024) return `${sign}${Math.round(v)} B`;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.9 KiB would print as "1024 KiB": move to the next unit instead.
  if (v >= 999.5 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${sign}${v.toFixed(digits)} ${UNITS[u]}`;
}

/** `+1.50 MiB` / `-3 B` / `0 B`. */
export function formatSignedBytes(n: number): string {
  return n > 0 ? `+${formatBytes(n)}` : formatBytes(n);
}

/**
 * A growth rate in the unit of time that reads best: `12.3 MiB/s`, `40.0 KiB/min`, `3.00 MiB/h` (per
 * second from 10 KiB/s, per minute from 10 KiB/min, else per hour).
 */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 10 * 1024) return `${formatBytes(bytesPerSecond)}/s`;
  if (bytesPerSecond * 60 >= 10 * 1024) return `${formatBytes(bytesPerSecond * 60)}/min`;
  return `${formatBytes(bytesPerSecond * 3600)}/h`;
}

/** `1,234,567`. */
export function formatCount(n: number): string {
  const s = Math.round(Math.abs(n)).toString();
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 ? `-${grouped}` : grouped;
}

export function formatPercent(part: number, whole: number): string {
  if (whole === 0) return '0.00%';
  return `${((100 * part) / whole).toFixed(2)}%`;
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ns: number): string {
  const ms = ns / 1e6;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const totalSec = Math.round(s);
  const min = Math.floor(totalSec / 60);
  if (min < 60) return `${min} min ${String(totalSec % 60).padStart(2, '0')} s`;
  return `${Math.floor(min / 60)} h ${String(min % 60).padStart(2, '0')} min`;
}

/** Seconds since tracking started, for points on the timeline: `12.345 s`. */
export function formatTime(ns: number): string {
  return `${(ns / 1e9).toFixed(3)} s`;
}

const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)?\s*$/i;

/** Parses `10MB`, `1.5 GiB`, `512k`, `4096` (bytes). Units are binary. Undefined if it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text);
  if (m === null) return undefined;
  const value = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '').replace(/i$/, '');
  const power = ['', 'k', 'm', 'g', 't', 'p'].indexOf(unit);
  if (power < 0) return undefined;
  return Math.round(value * 1024 ** power);
}
