// The text exports: folded stacks (flamegraph.pl), speedscope JSON, CSV and gprof2dot JSON as memray's
// `transform` writes them. Each takes stacks (frame ids, root first) of one set of allocations.
// They come out as chunks of at most EXPORT_CHUNK UTF-16 code units, written in order: an export can pass
// V8's longest string (2^29 - 24 code units; a recursion of a million distinct stacks writes GBs), so it is
// never one string (docs/reports.md).

import { StackPaths } from '../../analysis/stack-paths.js';
import type { StackAmount } from '../../analysis/stacks.js';
import { ALLOCATORS } from '../../capture/format.js';
import type { Frame } from '../../model/frames.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { TupleInterner } from '../../model/tuple-interner.js';
import type { SiteAmount, SiteAmountColumns } from '../../analysis/allocation-set.js';
import type { FrameFilter } from '../../model/frames.js';

const NO_STACK_FRAME = { function: '<no Python stack>', file: '', line: 0 };

/**
 * An amount as digits: totals over a long run can pass 2^53 (src/model/value-bounds.ts) and from 10^21 on
 * String() writes an exponent (`1e+21`), which flamegraph.pl and CSV readers take for text.
 */
function integerText(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : Number.isInteger(n) ? BigInt(n).toString() : String(Math.round(n));
}

function frameOf(model: CaptureModel, id: FrameId): Pick<Frame, 'function' | 'file' | 'line'> {
  return model.frames.frame(id);
}

/** `func (file:line)` with the characters that would break the format replaced. */
function foldedFrame(f: Pick<Frame, 'function' | 'file' | 'line'>): string {
  const label = f.file === '' ? f.function : f.line > 0 ? `${f.function} (${f.file}:${f.line})` : `${f.function} (${f.file})`;
  return label.replace(/[;\r\n]/g, ':');
}

/** The most UTF-16 code units of export text held at once (a chunk's UTF-8 is at most 3 bytes a unit). */
export const EXPORT_CHUNK = 1 << 20;

/**
 * Pieces of text gathered into chunks of at most `bound` code units, in order; a piece longer than `bound`
 * is cut, never between the two halves of a surrogate pair (each chunk is encoded to UTF-8 on its own).
 */
export function* chunked(pieces: Iterable<string>, bound: number = EXPORT_CHUNK): Generator<string, void, undefined> {
  if (!(bound >= 2)) throw new RangeError(`chunk bound ${bound} < 2`);
  let cur = '';
  for (const s of pieces) {
    if (cur.length + s.length <= bound) {
      cur += s;
      continue;
    }
    if (cur.length > 0) yield cur;
    let i = 0;
    while (s.length - i > bound) {
      let end = i + bound;
      const c = s.charCodeAt(end - 1);
      if (c >= 0xd800 && c <= 0xdbff) end--;
      yield s.slice(i, end);
      i = end;
    }
    cur = i === 0 ? s : s.slice(i);
  }
  if (cur.length > 0) yield cur;
}

function* foldedLines(model: CaptureModel, stacks: readonly StackAmount[]): Generator<string, void, undefined> {
  for (const st of stacks) {
    if (st.bytes <= 0) continue;
    const ids = st.frames;
    const frames = ids.length === 0 ? [foldedFrame(NO_STACK_FRAME)] : ids.map((id) => foldedFrame(frameOf(model, id)));
    yield `${frames.join(';')} ${integerText(st.bytes)}\n`;
  }
}

/** flamegraph.pl input: `outer;…;inner BYTES`, one line per stack, largest first. */
export function foldedChunks(model: CaptureModel, stacks: readonly StackAmount[], bound: number = EXPORT_CHUNK): Generator<string, void, undefined> {
  return chunked(foldedLines(model, stacks), bound);
}

/**
 * JSON.stringify(value) + suffix, as pieces: a plain object or array of plain values (what the exports build:
 * no toJSON, no cycles) is opened member by member unless all its members are primitives (and an array of
 * them not too long), which are written by JSON.stringify itself.
 */
function* jsonPieces(v: unknown): Generator<string, void, undefined> {
  if (typeof v !== 'object' || v === null) {
    yield JSON.stringify(v) ?? 'null';
    return;
  }
  if (Array.isArray(v)) {
    const arr = v as readonly unknown[];
    if (arr.length <= 65536 && arr.every(isPrimitive)) {
      yield JSON.stringify(arr);
      return;
    }
    yield '[';
    for (let i = 0; i < arr.length; i++) {
      if (i > 0) yield ',';
      const e = arr[i];
      if (e === undefined || typeof e === 'function' || typeof e === 'symbol') yield 'null';
      else yield* jsonPieces(e);
    }
    yield ']';
    return;
  }
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.every((k) => isPrimitive(obj[k]))) {
    yield JSON.stringify(obj);
    return;
  }
  yield '{';
  let first = true;
  for (const k of keys) {
    const e = obj[k];
    if (e === undefined || typeof e === 'function' || typeof e === 'symbol') continue;
    yield `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    yield* jsonPieces(e);
  }
  yield '}';
}

function isPrimitive(v: unknown): boolean {
  return typeof v !== 'object' || v === null;
}

function* withSuffix(pieces: Iterable<string>, suffix: string): Generator<string, void, undefined> {
  yield* pieces;
  yield suffix;
}

/** JSON.stringify(value) + suffix in chunks of at most `bound` code units (speedscope, gprof2dot). */
export function jsonChunks(value: unknown, suffix = '', bound: number = EXPORT_CHUNK): Generator<string, void, undefined> {
  return chunked(withSuffix(jsonPieces(value), suffix), bound);
}

/** speedscope's file format (https://www.speedscope.app/file-format-schema.json): two sampled profiles. */
export function speedscopeProfile(model: CaptureModel, stacks: readonly StackAmount[], exporter: string): Record<string, unknown> {
  const frames: { name: string; file?: string; line?: number }[] = [];
  const frameIndex = new Map<FrameId | -1, number>();
  const indexOf = (id: FrameId | -1): number => {
    let i = frameIndex.get(id);
    if (i === undefined) {
      i = frames.length;
      const f = id === -1 ? NO_STACK_FRAME : frameOf(model, id);
      const entry: { name: string; file?: string; line?: number } = { name: f.function };
      if (f.file !== '') entry.file = f.file;
      if (f.line > 0) entry.line = f.line;
      frames.push(entry);
      frameIndex.set(id, i);
    }
    return i;
  };
  const samples: number[][] = [];
  const bytes: number[] = [];
  const counts: number[] = [];
  for (const st of stacks) {
    if (st.bytes <= 0 && st.count <= 0) continue;
    const ids = st.frames;
    samples.push(ids.length === 0 ? [indexOf(-1)] : ids.map(indexOf));
    bytes.push(st.bytes);
    counts.push(st.count);
  }
  const profile = (name: string, unit: string, weights: number[]): Record<string, unknown> => ({
    type: 'sampled',
    name,
    unit,
    startValue: 0,
    endValue: weights.reduce((a, b) => a + b, 0),
    samples,
    weights,
  });
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames },
    profiles: [profile('Memory', 'bytes', bytes), profile('Allocations', 'none', counts)],
    name: model.header.argv.join(' ') || 'memlens',
    activeProfileIndex: 0,
    exporter,
  };
}

/**
 * memray's CSV: allocator, num_allocations, size, tid, thread_name, stack_trace (leaf first, `func;file;line|…`).
 * Rows add up the sites with the same allocator, thread id and stack text. Neither the text nor the frames of
 * every stack are kept (on a deep recursion the texts are the size of the output): each frame text is a
 * number, and a stack is a path of a trie of those numbers, made one Python stack node of the model at a time
 * (each node once, however many sites are under it; no array of frames a site), so a row is keyed by three
 * numbers: the path, the allocator and the thread id. A row's text is made again from its path when it is
 * written. A frame text with a `|` in it could make two different stacks one text: those stacks are keyed by
 * their text, after the other stacks, and join the row of a stack of `|`-free frames whose text they equal.
 */
export function csvChunks(model: CaptureModel, sites: readonly SiteAmount[] | SiteAmountColumns, filter: FrameFilter, bound: number = EXPORT_CHUNK): Generator<string, void, undefined> {
  return chunked(csvLines(model, csvRows(model, sites, filter)), bound);
}

/** The rows of the CSV, largest first, and what their texts are made from. */
interface CsvRows {
  /** Row ids in the order they are written. */
  readonly order: readonly number[];
  /** By row id: its first site (a site id), its path (-1: written from that site's frames), sums. */
  readonly site: Int32Array;
  readonly path: Int32Array;
  readonly count: Float64Array;
  readonly bytes: Float64Array;
  readonly allocator: readonly string[];
  readonly tid: readonly number[];
  /** By row id: the index of its allocator and of its thread id in the two arrays above. */
  readonly allocatorOf: Int32Array;
  readonly tidOf: Int32Array;
  /** Path p > 0 is the trie's tuple p - 1: (parent path, text number). */
  readonly trie: TupleInterner;
  readonly texts: readonly string[];
  readonly filter: FrameFilter;
}

/** A row's text keyed by the row's first site (a stack with a `|` frame that reads as no `|`-free stack): its path is this plus a number. */
const TEXT_KEYED = 2 ** 40;

function csvRows(model: CaptureModel, sites: readonly SiteAmount[] | SiteAmountColumns, filter: FrameFilter): CsvRows {
  const frames = model.frames;
  const cols = isColumns(sites) ? sites : undefined;
  const objects = cols === undefined ? (sites as readonly SiteAmount[]) : undefined;
  const n = cols !== undefined ? cols.site.length : objects!.length;
  const siteAt = (i: number): SiteId => (cols !== undefined ? (cols.site[i]! as SiteId) : objects![i]!.site);
  // Frame text -> its number, and back; FrameId -> 1 + that number (0: not met yet, -1: the text has a `|`).
  const texts: string[] = [];
  const textNumber = new Map<string, number>();
  let frameNumber = new Int32Array(Math.max(16, frames.frames.length));
  const numberOfFrame = (id: FrameId): number => {
    if (id >= frameNumber.length) {
      const grown = new Int32Array(Math.max(id + 1, frameNumber.length * 2));
      grown.set(frameNumber);
      frameNumber = grown;
    }
    let k = frameNumber[id]!;
    if (k === 0) {
      const t = csvFrame(frameOf(model, id));
      if (t.includes('|')) k = -1;
      else {
        let m = textNumber.get(t);
        if (m === undefined) {
          m = texts.length;
          texts.push(t);
          textNumber.set(t, m);
        }
        k = m + 1;
      }
      frameNumber[id] = k;
    }
    return k - 1;
  };
  // The trie, root first: (path, text number) -> tuple id; a path is 1 + a tuple id, 0 the empty stack, -1 a
  // stack with a `|` frame.
  const trie = new TupleInterner(2, Math.min(1 << 22, n * 2 + 1024));
  // Each node of the set's stacks is met once: its path is its parent's and (when shown) its own frame's text
  // number's; a frame with a `|` makes the path -1.
  const paths = new StackPaths(frames, filter, trie, numberOfFrame);
  // Rows: (path, allocator, thread id) -> row id (dense, in the order rows are met), those two as indexes of
  // their own; by row id its first site (whose index in `sites` orders equal sizes) and the sums.
  const allocatorIndex = new Map<string, number>();
  const allocator: string[] = [];
  const tidIndex = new Map<number, number>();
  const tid: number[] = [];
  const rowIds = new TupleInterner(3, Math.min(1 << 22, n + 1024));
  const byText = new Map<string, number>();
  let cap = Math.min(1 << 22, n + 16);
  let rowFirst = new Int32Array(cap);
  let rowSite = new Int32Array(cap);
  let rowPath = new Int32Array(cap);
  let rowCount = new Float64Array(cap);
  let rowBytes = new Float64Array(cap);
  let rows = 0;
  const add = (i: number, path: number, text: string | undefined): void => {
    const site = siteAt(i);
    const name = (ALLOCATORS[model.sites.allocator(site)] ?? 'other').toUpperCase();
    let a = allocatorIndex.get(name);
    if (a === undefined) {
      a = allocator.length;
      allocator.push(name);
      allocatorIndex.set(name, a);
    }
    const osTid = model.threads[model.sites.thread(site)]?.osTid ?? 0;
    let t = tidIndex.get(osTid);
    if (t === undefined) {
      t = tid.length;
      tid.push(osTid);
      tidIndex.set(osTid, t);
    }
    let keyPath = path;
    if (text !== undefined) {
      let k = byText.get(text);
      if (k === undefined) {
        k = byText.size;
        byText.set(text, k);
      }
      keyPath = TEXT_KEYED + k;
    }
    const r = rowIds.intern(keyPath, a, t);
    if (r === rows) {
      if (rows === cap) {
        cap *= 2;
        rowFirst = grown(rowFirst, new Int32Array(cap));
        rowSite = grown(rowSite, new Int32Array(cap));
        rowPath = grown(rowPath, new Int32Array(cap));
        rowCount = grown(rowCount, new Float64Array(cap));
        rowBytes = grown(rowBytes, new Float64Array(cap));
      }
      rowFirst[r] = i;
      rowSite[r] = site;
      rowPath[r] = text === undefined ? path : -1;
      rows++;
    }
    rowCount[r]! += cols !== undefined ? cols.count[i]! : objects![i]!.count;
    rowBytes[r]! += cols !== undefined ? cols.bytes[i]! : objects![i]!.bytes;
  };
  const withBar: number[] = [];
  for (let i = 0; i < n; i++) {
    const site = siteAt(i);
    const py = model.sites.pyStack(site);
    const native = model.sites.nativeStack(site);
    const path = paths.of(py, native);
    if (path < 0) withBar.push(i);
    else add(i, path, undefined);
  }
  for (const i of withBar) {
    const site = siteAt(i);
    const text = csvStack(model, site, filter);
    // The same text as a stack of `|`-free frames: that stack's path (which this walk may make).
    let path = 0;
    const pieces = text.split('|');
    for (let k = pieces.length - 1; k >= 0 && path >= 0; k--) {
      const t = textNumber.get(pieces[k] as string);
      path = t === undefined ? -1 : trie.intern(path, t) + 1;
    }
    add(i, path, path >= 0 ? undefined : text);
  }
  const allocatorOf = new Int32Array(rows);
  const tidOf = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    allocatorOf[r] = rowIds.get(r, 1);
    tidOf[r] = rowIds.get(r, 2);
  }
  // Largest first; equal sizes in the order of their first site.
  const order = Array.from({ length: rows }, (_, r) => r).sort((a, b) => rowBytes[b]! - rowBytes[a]! || rowFirst[a]! - rowFirst[b]!);
  return { order, site: rowSite, path: rowPath, count: rowCount, bytes: rowBytes, allocator, tid, allocatorOf, tidOf, trie, texts, filter };
}

function* csvLines(model: CaptureModel, rows: CsvRows): Generator<string, void, undefined> {
  // Python's csv module (which memray uses) ends rows with CRLF.
  yield csvLine(['allocator', 'num_allocations', 'size', 'tid', 'thread_name', 'stack_trace']);
  const { trie, texts } = rows;
  const pieces: string[] = [];
  for (const r of rows.order) {
    const site = rows.site[r]! as SiteId;
    const path = rows.path[r]!;
    let stack: string;
    if (path < 0) stack = csvStack(model, site, rows.filter);
    else {
      // Leaf first: the path from its end to the root.
      pieces.length = 0;
      for (let p = path; p > 0; p = trie.get(p - 1, 0)) pieces.push(texts[trie.get(p - 1, 1)]!);
      stack = pieces.join('|');
    }
    const thread = model.threads[model.sites.thread(site)]?.name ?? '';
    yield csvLine([rows.allocator[rows.allocatorOf[r]!]!, integerText(rows.count[r]!), integerText(rows.bytes[r]!), String(rows.tid[rows.tidOf[r]!]!), thread, stack]);
  }
}

/** A frame as memray's CSV writes it. */
function csvFrame(f: Pick<Frame, 'function' | 'file' | 'line'>): string {
  return `${f.function};${f.file};${f.line}`;
}

/** A site's stack as the CSV writes it: leaf first, frames joined by `|`. */
function csvStack(model: CaptureModel, site: SiteId, filter: FrameFilter): string {
  const ids = model.frames.stack(model.sites.pyStack(site), model.sites.nativeStack(site), filter);
  let s = '';
  for (let k = ids.length - 1; k >= 0; k--) s += (k === ids.length - 1 ? '' : '|') + csvFrame(frameOf(model, ids[k]!));
  return s;
}

function isColumns(sites: readonly SiteAmount[] | SiteAmountColumns): sites is SiteAmountColumns {
  return !Array.isArray(sites);
}

function grown<T extends Int32Array | Float64Array>(old: T, into: T): T {
  into.set(old);
  return into;
}

function csvLine(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',') + '\r\n';
}

/** gprof2dot's JSON input, as memray writes it: functions (name, module=file), events with leaf-first call chains. */
export function gprof2dotJson(model: CaptureModel, stacks: readonly StackAmount[]): Record<string, unknown> {
  const functions: { name: string; module: string }[] = [];
  const index = new Map<string, number>();
  const events: { callchain: number[]; cost: number[] }[] = [];
  for (const st of stacks) {
    if (st.leaf === undefined || st.bytes <= 0) continue;
    const chain: number[] = [];
    st.walk((id) => {
      const f = frameOf(model, id);
      const key = `${f.function}\u0000${f.file}`;
      let k = index.get(key);
      if (k === undefined) {
        k = functions.length;
        functions.push({ name: f.function, module: f.file });
        index.set(key, k);
      }
      chain.push(k);
    });
    events.push({ callchain: chain, cost: [st.bytes] });
  }
  return { version: 0, costs: [{ description: 'Memory', unit: 'bytes' }], events, functions };
}
