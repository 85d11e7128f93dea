// Checks shared by the live view's tests: what must hold of any view at any cut of a stream, and the
// figures of `memlens summary --leaks --json` to compare the end of a stream with.

import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import { LiveSession } from '../../src/live/live-session.js';
import type { LiveView, SortKey } from '../../src/live/view-data.js';
import { displayPath } from '../../src/util/text.js';
import { memoryIo } from './memory-io.js';
import { prng } from './prng.js';

export interface SummaryJson {
  readonly total_bytes: number;
  readonly total_count: number;
  readonly rows: readonly { function: string; file: string; line: number; total_bytes: number; own_bytes: number; allocations: number }[];
}

export async function summaryLeaks(path: string): Promise<SummaryJson> {
  const io = memoryIo();
  assert.equal(await main(['summary', path, '--leaks', '--json', '-r', '100000'], io), 0, io.err());
  return JSON.parse(io.out()) as SummaryJson;
}

/** Checks what must hold of any view, at any cut. */
export function checkSensible(v: LiveView, what: string): void {
  assert.ok(v.heap >= 0 && v.heap <= v.peakHeap, `${what}: heap ${v.heap} ≤ peak ${v.peakHeap}`);
  assert.ok(v.shownBytes <= v.heap || v.aggregated, `${what}: shown ${v.shownBytes} ≤ heap ${v.heap}`);
  if (v.thread === undefined && !v.aggregated) assert.equal(v.shownBytes, v.heap, `${what}: all threads shown = heap`);
  const key = (l: LiveView['locations'][number]): number => (v.sort === 'own' ? l.ownBytes : v.sort === 'count' ? l.count : l.totalBytes);
  for (let i = 1; i < v.locations.length; i++) assert.ok(key(v.locations[i - 1] as never) >= key(v.locations[i] as never), `${what}: sorted by ${v.sort}`);
  for (const l of v.locations) {
    assert.ok(l.ownBytes <= l.totalBytes && l.totalBytes <= v.shownBytes, `${what}: ${l.function} own ≤ total ≤ shown`);
    assert.ok(l.ownCount <= l.count, `${what}: ${l.function} counts`);
  }
  const perThread = v.threads.reduce((a, t) => a + t.liveBytes, 0);
  if (!v.aggregated) assert.equal(perThread, v.heap, `${what}: threads add up to the heap`);
  for (const p of [...v.spark.heap, ...v.spark.rss]) assert.ok(p === null || p >= 0, `${what}: spark point ${p}`);
  assert.ok(v.elapsedNs >= 0);
}

/** Feeds `bytes` in chunks of random sizes (seeded), viewing after each chunk; returns the last view. */
export function feedInChunks(bytes: Uint8Array, seed: number, maxChunk: number, check: (v: LiveView, at: number) => void, sort: SortKey = 'total'): LiveSession {
  const rnd = prng(seed);
  const session = new LiveSession({ clock: () => 0 });
  let at = 0;
  while (at < bytes.length) {
    const n = 1 + Math.floor(rnd() * maxChunk);
    session.feed(bytes.subarray(at, Math.min(bytes.length, at + n)));
    at += n;
    check(session.view({ sort, maxRows: 50, sparkPoints: 40 }), Math.min(at, bytes.length));
  }
  session.end();
  return session;
}

/** The view's rows as summary --leaks --json prints them, in a canonical order. */
export function rowsOf(v: LiveView): string[] {
  return v.locations.map((l) => `${l.function}|${l.file}|${l.line}|${l.totalBytes}|${l.ownBytes}|${l.count}`).sort();
}

export function summaryRows(s: SummaryJson, cwd: string): string[] {
  return s.rows.map((r) => `${r.function}|${displayPath(r.file, cwd)}|${r.line}|${r.total_bytes}|${r.own_bytes}|${r.allocations}`).sort();
}
