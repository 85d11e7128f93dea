// memlens flamegraph end to end on the known capture (test/support/known-capture.ts): the page's data
// matches the known figures, time windows work on real replay data, and bad input gets clear errors.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { main } from '../src/cli/main.js';
import { decodePayload, type ReportData } from '../src/report/html/payload.js';
import { CaptureWriter } from '../src/capture/encoder.js';
import { KNOWN_HEADER, knownCapture, MiB } from './support/known-capture.js';
import { memoryIo } from './support/memory-io.js';

const dir = mkdtempSync(join(tmpdir(), 'memlens-flamegraph-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const capture = join(dir, 'known.mlens');
writeFileSync(capture, knownCapture());

function payloadOf(file: string): ReportData {
  const html = readFileSync(file, 'utf8');
  const b64 = /id="memlens-payload">([A-Za-z0-9+/=]*)</.exec(html)?.[1] ?? '';
  return decodePayload(new Uint8Array(inflateRawSync(Buffer.from(b64, 'base64'))));
}

function bytesByFunction(d: ReportData, values: ArrayLike<number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (let l = 0; l < d.locations.node.length; l++) {
    const v = values[l] ?? 0;
    if (v === 0) continue;
    const name = d.strings[d.frames.name[d.nodes.frame[d.locations.node[l]!]!]!]!;
    out[name] = (out[name] ?? 0) + v;
  }
  return out;
}

test('the peak view of the known capture, with live intervals that reproduce it', async () => {
  const io = memoryIo({ cwd: dir });
  const out = join(dir, 'peak.html');
  assert.equal(await main(['flamegraph', capture, '-o', out], io), 0, io.err());
  assert.match(io.err(), /memlens: wrote .*peak\.html/);
  const d = payloadOf(out);
  assert.equal(d.meta.view, 'peak');
  assert.equal(d.meta.peakHeapBytes, 11 * MiB + 64 * 1024);
  const total = Array.from(d.locations.bytes).reduce((a, b) => a + b, 0);
  assert.equal(total, 11 * MiB + 64 * 1024);
  // The temporal data: at the tick of the highest peak, what was live is the peak view itself.
  const t = d.temporal;
  assert.ok(t !== null);
  let best = 0;
  for (let k = 0; k < t.tickPeakHeap.length; k++) if (t.tickPeakHeap[k]! > t.tickPeakHeap[best]!) best = k;
  assert.equal(t.tickPeakHeap[best], 11 * MiB + 64 * 1024);
  const atPeak = new Float64Array(d.locations.node.length);
  for (let i = 0; i < t.location.length; i++) if (t.start[i]! <= best && best < t.end[i]!) atPeak[t.location[i]!]! += t.bytes[i]!;
  assert.deepEqual(bytesByFunction(d, atPeak), bytesByFunction(d, d.locations.bytes));
});

test('--leaks and --temporary-allocations change the view; --no-source and --no-temporal leave data out', async () => {
  const io = memoryIo({ cwd: dir });
  const leaks = join(dir, 'leaks.html');
  assert.equal(await main(['flamegraph', capture, '-o', leaks, '--leaks', '--no-source'], io), 0, io.err());
  const d = payloadOf(leaks);
  assert.equal(d.meta.view, 'leaks');
  assert.equal(
    Array.from(d.locations.bytes).reduce((a, b) => a + b, 0),
    2 * MiB + 64 * 1024,
  );
  // Lifetimes for windows: over the whole run, "allocated and not freed by the end" is the leaks view.
  const lt = d.temporal;
  assert.equal(lt?.kind, 'leaks');
  const n = lt.tickEnd.length;
  let never = 0;
  for (let i = 0; i < lt.location.length; i++) if (lt.end[i] === n) never += lt.bytes[i]!;
  assert.equal(never, 2 * MiB + 64 * 1024);
  assert.ok(Array.from(d.frames.source).every((s) => s === -1));
  const temp = join(dir, 'temp.html');
  assert.equal(await main(['flamegraph', capture, '-o', temp, '--temporary-allocations', '--inverted'], io), 0, io.err());
  const t = payloadOf(temp);
  assert.equal(t.meta.view, 'temporary');
  assert.equal(t.meta.inverted, true);
  assert.equal(
    Array.from(t.locations.bytes).reduce((a, b) => a + b, 0),
    100,
  );
  const plain = join(dir, 'plain.html');
  assert.equal(await main(['flamegraph', capture, '-o', plain, '--no-temporal'], io), 0, io.err());
  assert.equal(payloadOf(plain).temporal, null);
});

test('an existing output needs -f; an unwritable one says why; a missing capture says so', async () => {
  const out = join(dir, 'exists.html');
  writeFileSync(out, 'keep me');
  let io = memoryIo({ cwd: dir });
  assert.equal(await main(['flamegraph', capture, '-o', out], io), 1);
  assert.match(io.err(), /exists\.html exists\n {2}hint: Pass -f to overwrite it/);
  assert.equal(readFileSync(out, 'utf8'), 'keep me');
  io = memoryIo({ cwd: dir });
  assert.equal(await main(['flamegraph', capture, '-o', out, '-f'], io), 0, io.err());
  assert.match(readFileSync(out, 'utf8'), /^<!doctype html>/);
  io = memoryIo({ cwd: dir });
  assert.equal(await main(['flamegraph', capture, '-o', join(dir, 'no', 'such', 'dir.html')], io), 1);
  assert.match(io.err(), /no[/]such: no such directory/);
  if (process.getuid?.() !== 0) {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    io = memoryIo({ cwd: dir });
    assert.equal(await main(['flamegraph', capture, '-o', join(ro, 'x.html')], io), 1);
    assert.match(io.err(), /permission denied/);
  }
  io = memoryIo({ cwd: dir });
  assert.equal(await main(['flamegraph', join(dir, 'missing.mlens'), '-o', join(dir, 'm.html')], io), 1);
  assert.match(io.err(), /missing\.mlens: no such file/);
  io = memoryIo({ cwd: dir });
  assert.equal(await main(['flamegraph', capture, '--leaks', '--temporary-allocations'], io), 2);
  assert.match(io.err(), /choose one/);
});

test('a capture with no allocations gives a page that says so', async () => {
  const empty = join(dir, 'empty.mlens');
  writeFileSync(empty, new CaptureWriter({ header: KNOWN_HEADER }).finish());
  const io = memoryIo({ cwd: dir });
  const out = join(dir, 'empty.html');
  assert.equal(await main(['flamegraph', empty, '-o', out], io), 0, io.err());
  const d = payloadOf(out);
  assert.match(d.meta.emptyReason ?? '', /no allocations/);
  assert.match(io.err(), /nothing to draw: The capture holds no allocations/);
});

test('a capture too large for the budgets is reduced, and says how on stderr and on the page', async () => {
  const { buildReportData } = await import('../src/report/html/report-data.js');
  const { loadModel } = await import('../src/cli/load-model.js');
  const { highWaterMark } = await import('../src/analysis/high-water-mark.js');
  const model = await loadModel(memoryIo(), capture);
  const r = buildReportData(model, {
    view: 'peak',
    set: highWaterMark(model),
    inverted: false,
    captureFile: 'known.mlens',
    memlensVersion: 'test',
    sourceLine: null,
    temporal: null,
    limits: { maxSnapshots: 2, maxNodes: 3 },
  });
  assert.equal(r.reductions.length, 2);
  assert.match(r.reductions[0] ?? '', /smallest allocation sites .* are drawn as one "\[other stacks\]" frame per thread, to keep 3 stack nodes/);
  // One group of four: the snapshot with the highest RSS is also the one with the highest heap.
  assert.match(r.reductions[1] ?? '', /timeline: 4 snapshots thinned to 1 /);
  assert.deepEqual(r.data.meta.reductions, r.reductions);
  assert.equal(r.data.timeline.time.length, 1);
  assert.equal(
    Array.from(r.data.locations.bytes).reduce((a, b) => a + b, 0),
    11 * MiB + 64 * 1024,
    'nothing is lost, only merged',
  );
});

test('writing a page loads no number-format data (no toLocaleString: 5 MiB of ICU resident)', async () => {
  const io = memoryIo({ cwd: dir });
  const out = join(dir, 'no-locale.html');
  const toLocaleString = Number.prototype.toLocaleString; // eslint-disable-line @typescript-eslint/unbound-method -- put back as it was
  let calls = 0;
  Number.prototype.toLocaleString = function (this: number, ...args: Parameters<typeof toLocaleString>): string {
    calls++;
    return toLocaleString.apply(this, args);
  };
  try {
    assert.equal(await main(['flamegraph', capture, '-o', out], io), 0, io.err());
  } finally {
    Number.prototype.toLocaleString = toLocaleString;
  }
  assert.equal(calls, 0);
  assert.match(payloadOf(out).meta.viewDescription, / in [0-9,]+ allocations/);
});
