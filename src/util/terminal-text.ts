// Text for a terminal. Names from the profiled program (functions, files, threads, the command line, the
// working directory, marker labels, census types) are data, and a terminal obeys what data can hold:
// ESC sequences (colours, cursor moves, the window title, hyperlinks, clearing the screen), C1 controls
// (U+009B is a CSI on some terminals), carriage returns and backspaces that overwrite what came before, and
// bidirectional controls that show `txt.exe` as `exe.txt`.
//
// One function makes any text safe: escapeTerminalText() writes each such character as a JSON escape
// (`\u001b`, `\u202e`), which reads as what it is and keeps JSON output exactly the same data. main()
// (src/cli/main.ts) puts it on stdout and stderr for every command (terminalSafe()), so no report, message
// or view can forget it; the lint keeps the real streams out of reach elsewhere (eslint.config.js).
//
// memlens's own controls (colours, the full-screen views, the progress bar) must still work, and must not
// be something a name can imitate: they are written as markers (`control()`) that carry a random nonce of
// this process, turned into the real sequences only after the escaping. A name cannot know the nonce.

import { closeSync, openSync, readSync } from 'node:fs';

/**
 * What never reaches a terminal raw: C0 controls but the line feed, DEL, C1 controls, format characters
 * (bidirectional controls, zero-width characters, the BOM, tag characters), the line and paragraph
 * separators, and lone surrogates (a census's JSON can hold them).
 */
// eslint-disable-next-line no-control-regex -- matching the control characters is what this expression is for
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\p{Cf}\p{Cs}]/gu;

function escapeChar(c: string): string {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
}

/** Anything but printable ASCII and the line feed: where a look with UNSAFE must start. */

const NOT_PLAIN = /[^\n\x20-\x7e]/;

/** `s` with every character a terminal would obey written as a JSON escape (`\u001b`); line feeds stay. */
export function escapeTerminalText(s: string): string {
  // Output is mostly printable ASCII (`memlens parse` writes gigabytes of it): the simple class finds the
  // first other character fast, and only the rest goes through the Unicode-aware expression.
  const i = s.search(NOT_PLAIN);
  if (i < 0) return s;
  return s.slice(0, i) + s.slice(i).replace(UNSAFE, escapeChar);
}

/** The same, line feeds included: a name or a message that must stay on one line. */
export function escapeLine(s: string): string {
  return escapeTerminalText(s).replaceAll('\n', '\\u000a');
}

/** The sequences memlens itself writes. */
const CONTROLS = {
  reset: '\u001b[0m',
  bold: '\u001b[1m',
  dim: '\u001b[2m',
  reverse: '\u001b[7m',
  reverseOff: '\u001b[27m',
  red: '\u001b[31m',
  green: '\u001b[32m',
  yellow: '\u001b[33m',
  cyan: '\u001b[36m',
  brightGreen: '\u001b[92m',
  /** To the start of the line, and to its end cleared (a progress bar, a live view's lines). */
  carriageReturn: '\r',
  clearToEnd: '\u001b[K',
  home: '\u001b[H',
  clearScreen: '\u001b[2J',
  alternateScreen: '\u001b[?1049h',
  mainScreen: '\u001b[?1049l',
  hideCursor: '\u001b[?25l',
  showCursor: '\u001b[?25h',
} as const;

export type Control = keyof typeof CONTROLS;

const NAMES = Object.keys(CONTROLS) as Control[];
// 64 random bits, fresh in every memlens process: no name in a capture can carry them. Read from the
// kernel's generator directly (memlens runs on Linux only): node:crypto, which this module was the only one
// to load on `memlens run`'s way, cost about 5 ms of every start (docs/benchmarks.md, "Fixed cost").
function randomHex(bytes: number): string {
  const b = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    if (readSync(fd, b, 0, bytes, null) !== bytes) throw new Error('/dev/urandom: short read');
  } finally {
    closeSync(fd);
  }
  return b.toString('hex');
}
const NONCE = randomHex(8);
const MARKER = new RegExp(`\uE000${NONCE}(\\d+)\uE001`, 'g');

/** A marker of one of memlens's own terminal sequences, for text that goes through terminalSafe(). */
export function control(name: Control): string {
  return `\uE000${NONCE}${NAMES.indexOf(name)}\uE001`;
}

/** What goes to the terminal: the text escaped, then memlens's own markers turned into their sequences. */
export function toTerminal(text: string): string {
  // One scan in the common case: printable ASCII and line feeds hold nothing to escape and no marker.
  if (!NOT_PLAIN.test(text)) return text;
  const escaped = escapeTerminalText(text);
  return escaped.includes('\uE000') ? escaped.replace(MARKER, (_m, i: string) => CONTROLS[NAMES[Number(i)]!]) : escaped;
}

/** Drops memlens's own markers (for text a test reads as plain lines). */
export function withoutControls(text: string): string {
  return text.replace(MARKER, '');
}

interface Writable {
  write(chunk: string | Uint8Array): boolean;
}

/**
 * `stream` with every string written to it going through toTerminal(). Bytes (a binary export to a pipe)
 * pass as they are. Everything else of the stream (isTTY, columns, events) is the stream's own.
 */
export function terminalSafe<S extends Writable>(stream: S): S {
  const write = (chunk: string | Uint8Array): boolean => stream.write(typeof chunk === 'string' ? toTerminal(chunk) : chunk);
  return new Proxy(stream, {
    get(target, prop) {
      if (prop === 'write') return write;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
