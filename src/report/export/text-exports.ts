// The text exports: folded stacks (flamegraph.pl), speedscope JSON, CSV and gprof2dot JSON as memray's
// `transform` writes them. Each takes stacks (frame ids, root first) of one set of allocations.
// They come out as chunks of at most EXPORT_CHUNK UTF-16 code units, written in order: an export can pass
// V8's longest string (2^29 - 24 code units; a recursion of a million distinct stacks writes GBs), so it is
// never one string (docs/reports.md).

import type { StackAmount } from '../../analysis/stacks.js';
import { ALLOCATORS } from '../../capture/format.js';
import type { Frame } from '../../model/frames.js';
import type { FrameId, SiteId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import type { SiteAmount } from '../../analysis/allocation-set.js';
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
 * Rows add up the sites with the same allocator, thread id and stack text. The text of every stack is not
 * kept (on a deep recursion it is the size of the output): a stack is a node of a trie of frame texts, each
 * text a number, and its row's text is made again from its first site when the row is written. A frame text
 * with a `|` in it could make two different stacks one text: those stacks are keyed by their text, after the
 * other stacks, and join the row of a stack of `|`-free frames whose text they equal.
 */
export function csvChunks(model: CaptureModel, sites: readonly SiteAmount[], filter: FrameFilter, bound: number = EXPORT_CHUNK): Generator<string, void, undefined> {
  const textOfFrame = (id: FrameId): string => {
    const f = frameOf(model, id);
    return `${f.function};${f.file};${f.line}`;
  };
  const framesOf = (site: SiteId): FrameId[] => model.frames.stack(model.sites.pyStack(site), model.sites.nativeStack(site), filter);
  // Frame text -> its number; FrameId -> that number (-1: the text has a `|`).
  const textNumber = new Map<string, number>();
  const frameNumber = new Map<FrameId, number>();
  const numberOfText = (t: string): number => {
    let n = textNumber.get(t);
    if (n === undefined) {
      n = textNumber.size;
      textNumber.set(t, n);
    }
    return n;
  };
  const numberOfFrame = (id: FrameId): number => {
    let n = frameNumber.get(id);
    if (n === undefined) {
      const t = textOfFrame(id);
      n = t.includes('|') ? -1 : numberOfText(t);
      frameNumber.set(id, n);
    }
    return n;
  };
  // The trie, root first: (node, text number) -> node; node 0 is the empty stack. Shards, as one Map holds
  // at most 2^24 entries.
  const SHARDS = 64;
  const trie: Map<number, number>[] = Array.from({ length: SHARDS }, () => new Map<number, number>());
  let nodes = 1;
  const child = (node: number, n: number): number => {
    const shard = trie[node % SHARDS] as Map<number, number>;
    const key = Math.floor(node / SHARDS) * 2 ** 26 + n;
    let c = shard.get(key);
    if (c === undefined) {
      c = nodes++;
      shard.set(key, c);
    }
    return c;
  };
  interface Row {
    readonly first: number;
    readonly site: SiteId;
    readonly allocator: string;
    readonly tid: number;
    readonly thread: string;
    count: number;
    bytes: number;
  }
  const rows = new Map<string, Row>();
  const add = (i: number, s: SiteAmount, stackKey: string): void => {
    const t = model.threads[model.sites.thread(s.site)];
    const allocator = (ALLOCATORS[model.sites.allocator(s.site)] ?? 'other').toUpperCase();
    const tid = t?.osTid ?? 0;
    const key = `${allocator}\u0000${tid}\u0000${stackKey}`;
    let r = rows.get(key);
    if (r === undefined) {
      r = { first: i, site: s.site, allocator, tid, thread: t?.name ?? '', count: 0, bytes: 0 };
      rows.set(key, r);
    }
    r.count += s.count;
    r.bytes += s.bytes;
  };
  const withBar: number[] = [];
  for (let i = 0; i < sites.length; i++) {
    const s = sites[i] as SiteAmount;
    let node = 0;
    for (const id of framesOf(s.site)) {
      const n = numberOfFrame(id);
      if (n < 0) {
        node = -1;
        break;
      }
      node = child(node, n);
    }
    if (node < 0) withBar.push(i);
    else add(i, s, String(node));
  }
  for (const i of withBar) {
    const s = sites[i] as SiteAmount;
    const text = [...framesOf(s.site)].reverse().map(textOfFrame).join('|');
    // The same text as a stack of `|`-free frames: that stack's node (which this walk may make).
    let node = 0;
    const pieces = text.split('|');
    for (let k = pieces.length - 1; k >= 0 && node >= 0; k--) {
      const n = textNumber.get(pieces[k] as string);
      node = n === undefined ? -1 : child(node, n);
    }
    add(i, s, node >= 0 ? String(node) : `|${text}`);
  }
  // Largest first; equal sizes in the order of their first site.
  const sorted = [...rows.values()].sort((a, b) => b.bytes - a.bytes || a.first - b.first);
  rows.clear();
  const lines = function* (): Generator<string, void, undefined> {
    // Python's csv module (which memray uses) ends rows with CRLF.
    yield csvLine(['allocator', 'num_allocations', 'size', 'tid', 'thread_name', 'stack_trace']);
    for (const r of sorted) {
      const stack = [...framesOf(r.site)].reverse().map(textOfFrame).join('|');
      yield csvLine([r.allocator, integerText(r.count), integerText(r.bytes), String(r.tid), r.thread, stack]);
    }
  };
  return chunked(lines(), bound);
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
