// LiveSession on real captures made by the agent, in every CPython the tests have:
// - files written by `memlens run` (normal and --aggregate), cut into chunks anywhere: sensible at every
//   cut, the figures of `memlens summary --leaks` at the end;
// - the stream itself, read from the agent's pipe while the program runs: the heap grows in the view and
//   the allocating functions show; the bytes, saved and summarized afterwards, give the view's last figures.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LiveSession } from '../../src/live/live-session.js';
import type { LiveView } from '../../src/live/view-data.js';
import { checkSensible, feedInChunks, rowsOf, summaryLeaks, summaryRows } from '../support/live-checks.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label, REPO_ROOT } from '../support/pythons.js';
import { launchLive } from './launch-live.js';

const PROGRAM = join(REPO_ROOT, 'test', 'live', 'programs', 'grow.py');
const VIEW = { sort: 'total', maxRows: 100000, sparkPoints: 50 } as const;

for (const py of corePythons()) {
  test(`${label(py)}: captures of memlens run (normal and aggregated) cut anywhere give the summary's figures`, async () => {
    const tmp = tempDir('memlens-live-real-');
    try {
      for (const aggregate of [false, true]) {
        const out = `cap-${aggregate ? 'agg' : 'raw'}.mlens`;
        const r = await memlensRun({ python: py.python, program: [PROGRAM, '', '0.4'], output: out, runArgs: aggregate ? ['--aggregate', '--no-compress'] : ['--no-compress'] }, tmp.dir);
        assert.equal(r.code, 3, r.stderr);
        const bytes = readFileSync(r.capture);
        const summary = await summaryLeaks(r.capture);
        for (const [seed, maxChunk] of [
          [11, 997],
          [12, Math.max(64, Math.floor(bytes.length / 4))],
        ] as const) {
          let views = 0;
          const session = feedInChunks(bytes, seed, maxChunk, (v, at) => {
            views++;
            checkSensible(v, `${out} at byte ${at}`);
          });
          assert.ok(views > 2);
          const v = session.view(VIEW);
          checkSensible(v, `${out} at the end`);
          assert.equal(v.aggregated, aggregate);
          assert.equal(v.heap, summary.total_bytes, `${out}: heap = live at the end`);
          assert.deepEqual(rowsOf(v), summaryRows(summary, session.model().header.cwd), out);
          assert.equal(v.end?.kind, 'exit', `${out}: memlens run appended EXIT`);
          assert.match(v.end?.text ?? '', /^Exited with status 3 at \d+\.\d{3} s; not killed \(so not by the OOM killer\)\.$/);
          assert.ok(v.locations.some((l) => l.function === 'grow_cache' && l.ownBytes >= 64 * 1024));
        }
      }
    } finally {
      tmp.remove();
    }
  });
}

/** Reads the capture pipe into the session (and a copy of the bytes) until it ends. */
async function readAll(source: AsyncIterable<Uint8Array>, session: LiveSession, copy: Uint8Array[]): Promise<void> {
  for await (const chunk of source) {
    copy.push(Uint8Array.from(chunk));
    session.feed(chunk);
  }
  session.end();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const py of corePythons()) {
  for (const aggregate of py.system ? [false, true] : [false]) {
    test(`${label(py)}${aggregate ? ', aggregated' : ''}: the stream read live from the agent's pipe while the program runs`, async () => {
      const tmp = tempDir('memlens-live-pipe-');
      const stop = join(tmp.dir, 'stop');
      try {
        const session = new LiveSession();
        const live = await launchLive({ python: py.python, script: PROGRAM, args: [stop, '30'], cwd: tmp.dir, aggregate }, session);
        const copy: Uint8Array[] = [];
        const reading = readAll(live.capture, session, copy);
        // Views while it runs: the heap grows, grow_cache holds it, the holder thread shows.
        const seen: LiveView[] = [];
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline) {
          await sleep(200);
          const v = session.view(VIEW);
          if (!v.started || v.end !== undefined) continue;
          checkSensible(v, 'while running');
          seen.push(v);
          if (seen.length >= 2 && (seen[0] as LiveView).heap + 1048576 < v.heap && v.threads.length === 2 && v.locations.some((l) => l.function === 'worker_loop')) break;
        }
        assert.ok(seen.length >= 2, 'views while the program ran');
        const first = seen[0] as LiveView;
        const last = seen[seen.length - 1] as LiveView;
        assert.equal(last.end, undefined, 'still running');
        assert.ok(last.heap > first.heap + 1048576, `the heap grew: ${first.heap} → ${last.heap}`);
        assert.ok(last.elapsedNs > first.elapsedNs);
        const top = last.locations.find((l) => l.function === 'grow_cache');
        assert.ok(top !== undefined && top.ownBytes > 1048576, 'grow_cache holds the cache');
        assert.ok(
          last.locations.some((l) => l.function === 'worker_loop'),
          'the holder thread allocates in worker_loop',
        );
        assert.ok(last.threads.some((t) => t.name === 'holder'));
        assert.equal(last.threads[0]?.name, 'MainThread', 'the main thread first');
        assert.ok(last.rss !== undefined && last.rss > last.heap / 2, `RSS ${last.rss}`);
        assert.equal(last.pid, live.launched.pid);
        assert.ok(last.spark.heap.some((p) => p !== null && p > 0));

        writeFileSync(stop, '');
        const end = await live.ended;
        assert.equal(end.code, 3);
        await reading;
        const v = session.view(VIEW);
        checkSensible(v, 'at the end');
        assert.equal(v.end?.kind, 'exit');
        assert.match(v.end?.text ?? '', /^Exited with status 3 at \d+\.\d{3} s; not killed \(so not by the OOM killer\)\.$/);
        assert.ok(v.peakHeap >= last.heap);
        // The bytes that went through the pipe are a capture: its summary is what the view shows last.
        const file = join(tmp.dir, 'streamed.mlens');
        writeFileSync(file, Buffer.concat(copy));
        const summary = await summaryLeaks(file);
        assert.equal(v.heap, summary.total_bytes);
        assert.deepEqual(rowsOf(v), summaryRows(summary, session.model().header.cwd));
      } finally {
        tmp.remove();
      }
    });
  }
}
