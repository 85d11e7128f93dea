// LiveSession on captures cut into chunks anywhere: sensible figures at every cut, and at the end the
// figures of `memlens summary --leaks` on the whole file.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { STREAM_MEMLENS } from '../capture/format.js';
import { checkSensible, feedInChunks, rowsOf, summaryLeaks, summaryRows } from '../../test/support/live-checks.js';
import { LiveSession } from './live-session.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixture = (name: string): string => join(root, 'test', 'fixtures', 'captures', name);

for (const name of ['known-program.mlens', 'known-program-native.mlens', 'realistic-small.mlens']) {
  test(`${name} in random chunks: sensible at every cut, the summary's figures at the end`, async () => {
    const bytes = readFileSync(fixture(name));
    for (const [seed, maxChunk] of [
      [1, 7],
      [2, 300],
      [3, 5000],
    ] as const) {
      const session = feedInChunks(bytes, seed, maxChunk, (v, at) => checkSensible(v, `${name} at byte ${at}`));
      const v = session.view({ sort: 'total', maxRows: 100000, sparkPoints: 60 });
      checkSensible(v, `${name} at the end`);
      const model = session.model();
      const summary = await summaryLeaks(fixture(name));
      assert.equal(v.heap, summary.total_bytes, 'heap = live at the end');
      assert.equal(v.liveCount, summary.total_count);
      assert.deepEqual(rowsOf(v), summaryRows(summary, model.header.cwd));
      assert.equal(v.moreLocations, 0);
    }
  });
}

test('known-program.mlens: the peak, the threads one at a time, the sort keys', () => {
  const bytes = readFileSync(fixture('known-program.mlens'));
  const session = new LiveSession({ clock: () => 0 });
  session.feed(bytes);
  session.end();
  const all = session.view({ sort: 'total', maxRows: 5, sparkPoints: 10 });
  assert.equal(all.peakHeap, session.model().maxHeap);
  assert.ok(all.peakHeap >= 17 * 1048576, `peak ${all.peakHeap}`);
  assert.equal(all.pid, session.model().header.pid);
  assert.equal(all.pythonVersion, '3.11.7');
  assert.equal(all.mode, 'run');
  assert.ok(all.command.includes('known_prog.py'));
  assert.equal(all.locations.length, 5);
  assert.ok(all.moreLocations > 0);
  // One thread at a time: the worker's 3 MiB buffer is on the worker thread only.
  const worker = all.threads.find((t) => t.name === 'worker');
  assert.ok(worker !== undefined);
  const alone = session.view({ sort: 'total', maxRows: 50, sparkPoints: 10, thread: worker.index });
  assert.equal(alone.thread, worker.index);
  assert.equal(alone.shownBytes, worker.liveBytes);
  assert.ok(alone.locations.some((l) => l.function === 'worker' && l.line === 15));
  assert.ok(!alone.locations.some((l) => l.function === 'cache'));
  let sum = 0;
  for (const t of all.threads) sum += session.view({ sort: 'total', maxRows: 1, sparkPoints: 1, thread: t.index }).shownBytes;
  assert.equal(sum, all.shownBytes);
  // An index the view does not know reads as all threads.
  assert.equal(session.view({ sort: 'total', maxRows: 1, sparkPoints: 1, thread: 99 }).thread, undefined);
  // Sorting by own puts the allocating lines first; by count, the most allocations.
  const own = session.view({ sort: 'own', maxRows: 3, sparkPoints: 1 });
  assert.deepEqual(
    own.locations.map((l) => `${l.function}:${l.line}`),
    ['worker:15', 'cache:12', own.locations[2] !== undefined ? `${own.locations[2].function}:${own.locations[2].line}` : ''],
  );
  const byCount = session.view({ sort: 'count', maxRows: 1000, sparkPoints: 1 });
  for (let i = 1; i < byCount.locations.length; i++) assert.ok((byCount.locations[i - 1]?.count ?? 0) >= (byCount.locations[i]?.count ?? 0));
  assert.notDeepEqual(
    byCount.locations.slice(0, 3).map((l) => l.function),
    session.view({ sort: 'total', maxRows: 3, sparkPoints: 1 }).locations.map((l) => l.function),
  );
});

test('the end of the stream: exit status, the target exited, disconnected, not a capture', () => {
  const bytes = readFileSync(fixture('known-program.mlens'));
  const running = new LiveSession({ clock: () => 0 });
  running.feed(bytes.subarray(0, bytes.length >> 1));
  assert.equal(running.view({ sort: 'total', maxRows: 1, sparkPoints: 1 }).end, undefined);

  // The whole capture: memlens run appended its EXIT record.
  const whole = new LiveSession();
  whole.feed(bytes);
  whole.end();
  const end = whole.view({ sort: 'total', maxRows: 1, sparkPoints: 1 }).end;
  assert.ok(end !== undefined);
  if (whole.model().exit !== undefined) {
    assert.equal(end.kind, 'exit');
    assert.match(end.text, /^Exited with status 0 at \d+\.\d{3} s; not killed/);
  } else {
    assert.equal(end.kind, 'exited');
  }

  // Cut before the agent's last record: the stream ended, tracking did not.
  const cut = new LiveSession();
  cut.feed(bytes.subarray(0, bytes.length >> 1));
  cut.end();
  assert.equal(cut.view({ sort: 'total', maxRows: 1, sparkPoints: 1 }).end?.kind, 'disconnected');
  const failed = new LiveSession();
  failed.feed(bytes.subarray(0, bytes.length >> 1));
  failed.end('disconnected', 'read ECONNRESET');
  assert.equal(failed.view({ sort: 'total', maxRows: 1, sparkPoints: 1 }).end?.text, 'disconnected: read ECONNRESET');
  // Inside the file header: nothing to show but that.
  const early = new LiveSession();
  early.feed(bytes.subarray(0, 100));
  early.end();
  const earlyEnd = early.view({ sort: 'total', maxRows: 1, sparkPoints: 1 }).end;
  assert.equal(earlyEnd?.kind, 'disconnected');
  assert.match(earlyEnd?.text ?? '', /^disconnected before the capture began \(the data is cut short/);

  // The launcher's word on how the target ended, after the stream.
  cut.noteExit({ type: 'exit', stream: STREAM_MEMLENS, timeNs: 0, exitCode: 0, signal: 9, oomKill: 1, detail: '' });
  const killed = cut.view({ sort: 'total', maxRows: 1, sparkPoints: 1 }).end;
  assert.equal(killed?.kind, 'signal');
  assert.match(killed?.text ?? '', /^Killed by the kernel's OOM killer \(SIGKILL, signal 9\) at \d+\.\d{3} s\.$/);

  const junk = new LiveSession();
  junk.feed(new TextEncoder().encode('HTTP/1.1 200 OK\r\n\r\nhello, this is not a capture'));
  const bad = junk.view({ sort: 'total', maxRows: 1, sparkPoints: 1 });
  assert.equal(bad.started, false);
  assert.equal(bad.end?.kind, 'error');
  assert.match(bad.end?.text ?? '', /capture/i);
  assert.equal(junk.isEnded, true);
});
