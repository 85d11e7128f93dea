// Number and text formatting shared by the terminal reports. Sizes are binary (KiB = 1024 B): that is
// what RSS and allocators count in, and what `--fail-on-growth 10MB` means (as pytest-memray reads it).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `0 B`, `512 B`, `1.50 KiB`, `12.3 MiB`, `123 MiB`: three significant digits past bytes. */
export function formatBytes(n: number): string {
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

// ── text layout ──────────────────────────────────────────────────────────────────────────────────

/** Display width of a string (every code point counts 1; reports avoid wide characters). */
export function textWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Cuts `s` to `width` columns, keeping the end (file names matter most at their end). */
export function truncateLeft(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(chars.length - width).join('');
  return `…${chars.slice(chars.length - width + 1).join('')}`;
}

export function truncateRight(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(0, width).join('');
  return `${chars.slice(0, width - 1).join('')}…`;
}

export function padRight(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

export function padLeft(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : ' '.repeat(width - w) + s;
}

/** Shows a file relative to the directory the program ran in, when it is inside it. */
export function displayPath(file: string, cwd: string): string {
  if (cwd !== '' && cwd !== '/') {
    const base = cwd.endsWith('/') ? cwd : `${cwd}/`;
    if (file.startsWith(base)) return file.slice(base.length);
  }
  return file;
}

// ── colour ───────────────────────────────────────────────────────────────────────────────────────

export type Colour = 'red' | 'yellow' | 'green' | 'brightGreen' | 'bold' | 'dim' | 'cyan';

const SGR: Record<Colour, string> = { red: '31', yellow: '33', green: '32', brightGreen: '92', bold: '1', dim: '2', cyan: '36' };

export interface Paint {
  (colour: Colour, text: string): string;
}

export const noPaint: Paint = (_c, text) => text;
export const ansiPaint: Paint = (c, text) => `\u001b[${SGR[c]}m${text}\u001b[0m`;

/** memray's scale: above 60% of the total red, above 20% yellow, above 5% green, else bright green. */
export function shareColour(share: number): Colour {
  if (share > 0.6) return 'red';
  if (share > 0.2) return 'yellow';
  if (share > 0.05) return 'green';
  return 'brightGreen';
}

/**
 * Cuts `function at path:line` to `width` keeping the function and the end of the path (the file name and
 * line): `Thread.run at …/threading.py:982`. Falls back to keeping the end when even that is too long.
 */
export function truncateLocation(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  const at = text.indexOf(' at ');
  if (at > 0) {
    const head = text.slice(0, at + 4);
    const room = width - textWidth(head);
    if (room >= 12) return head + truncateLeft(text.slice(at + 4), room);
  }
  return truncateLeft(text, width);
}

/**
 * Wraps `text` at spaces to lines of at most `width` columns, each prefixed with `indent` (the first with
 * `first`, when given). A word longer than a line stays whole on its own line.
 */
export function wrapText(text: string, width: number, indent: string, first: string = indent): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/ +/)) {
    if (word === '') continue;
    if (!empty && textWidth(line) + 1 + textWidth(word) > width) {
      out.push(line);
      line = indent + word;
    } else {
      line = empty ? line + word : `${line} ${word}`;
    }
    empty = false;
  }
  out.push(line);
  return out;
}
