// memlens's own time on the program's threads (agent/src/owntime.h): every SNAPSHOT carries the running
// estimate (flag 8), which grows while the program's threads record allocations and not while they sleep,
// in event and aggregated captures; the reader takes it out of the program's clock (own-time.ts). Bounded
// work, no verdict on wall time: the program makes a million small ints between two sleeps, and only the
// order of magnitude between recording them (--trace-python-allocators) and not (pymalloc untraced) is
// asserted.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { SnapshotRecord } from '../../src/capture/records.js';
import { Oracle } from '../support/agent-oracle.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label } from '../support/pythons.js';

const PROGRAM = `import time
KEEP = []
print("sleep", time.monotonic_ns(), flush=True)
time.sleep(0.3)
print("work", time.monotonic_ns(), flush=True)
for i in range(1_000_000):
    KEEP.append(i * 2)
print("done", time.monotonic_ns(), flush=True)
time.sleep(0.1)
`;

const ms = 1e6;

for (const py of corePythons()) {
  describe(`memlens's own time under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    interface Run {
      readonly snaps: SnapshotRecord[];
      /** When the program printed `word`, in ns since tracking started (the snapshots' clock). */
      readonly at: (word: string) => number;
    }

    async function snapshots(name: string, runArgs: readonly string[]): Promise<Run> {
      const r = await memlensRun({ python: py.python, files: { 'own.py': PROGRAM }, program: ['own.py'], output: `${name}.mlens`, runArgs: [...runArgs] }, tmp.dir);
      assert.equal(r.code, 0, r.stderr);
      const o = await Oracle.load(r.capture);
      // In seq order, as a reader takes them: the program's threads write snapshots too, into their own
      // streams, whose blocks may reach the file after the service stream's later ones.
      const snaps = o.records('snapshot').sort((a, b) => a.seq - b.seq);
      assert.ok(snaps.length >= 10, `${snaps.length} snapshots`);
      // time.monotonic_ns() is CLOCK_MONOTONIC, the clock of the header's startMonoNs.
      const start = o.header!.startMonoNs;
      const at = (word: string): number => {
        const line = r.stdout.split('\n').find((l) => l.startsWith(`${word} `));
        assert.ok(line !== undefined, `the program printed "${word}": ${r.stdout}`);
        return Number(BigInt(line.slice(word.length + 1)) - start);
      };
      return { snaps, at };
    }

    /** The own time's growth over the snapshots whose time is in [from, to] (ns since tracking started). */
    const grewIn = (snaps: readonly SnapshotRecord[], from: number, to: number): number => {
      const inside = snaps.filter((s) => s.timeNs >= from && s.timeNs <= to);
      return inside.length < 2 ? 0 : inside[inside.length - 1]!.ownNs! - inside[0]!.ownNs!;
    };

    /** The own time's growth from the last snapshot at or before `from` to the first at or after `to`. */
    const grewAcross = (snaps: readonly SnapshotRecord[], from: number, to: number): number => {
      const before = snaps.filter((s) => s.timeNs <= from).at(-1);
      const after = snaps.find((s) => s.timeNs >= to);
      assert.ok(before !== undefined && after !== undefined, `snapshots before ${from / ms} ms and after ${to / ms} ms`);
      return after.ownNs! - before.ownNs!;
    };

    test('every snapshot carries it; it grows with the recording of small objects, not in a sleep', async () => {
      const run = await snapshots('traced', ['--trace-python-allocators']);
      const traced = run.snaps;
      assert.ok(
        traced.every((s) => s.ownNs !== undefined),
        'every snapshot has the own time',
      );
      for (let k = 1; k < traced.length; k++) assert.ok(traced[k]!.ownNs! >= traced[k - 1]!.ownNs!, 'a running total');
      const total = traced[traced.length - 1]!.ownNs!;
      assert.ok(total > 0, 'recording a million objects took some time');
      // It is the recording's share of the run, never more than the run (the sleeps alone are 0.4 s of it).
      const span = traced[traced.length - 1]!.timeNs - traced[0]!.timeNs;
      assert.ok(total < span, `${total / ms} ms of own time in ${span / ms} ms`);
      // The first sleep, between the times the program printed before and after it (its own clock, so a slow
      // start on a busy machine does not move the window; 20 ms after the first print, whose own bytes were
      // recorded), barely moves the total.
      const firstSleep = grewIn(traced, run.at('sleep') + 20 * ms, run.at('work'));
      assert.ok(firstSleep < total / 10, `${firstSleep / ms} ms in a sleep, ${total / ms} ms in all`);
      // Without tracing Python's allocators the same program's ints are not recorded: far less own time. (A
      // free-threaded CPython's mimalloc is traced either way: its arenas say nothing of the objects.)
      // Compared over the loop alone (the snapshots around it): the totals also hold the start's fixed cost,
      // about half of the traced total, and a busy machine's preemptions inside it (ci-66: 2.6 ms untraced
      // against 5.4 traced).
      if (py.freeThreaded) return;
      const untracedRun = await snapshots('untraced', []);
      const tracedLoop = grewAcross(traced, run.at('work'), run.at('done'));
      const untracedLoop = grewAcross(untracedRun.snaps, untracedRun.at('work'), untracedRun.at('done'));
      assert.ok(tracedLoop > 0, 'recording the loop took some time');
      assert.ok(untracedLoop * 4 < tracedLoop, `${untracedLoop / ms} ms untraced, ${tracedLoop / ms} ms traced over the loop`);
    });

    test('an aggregated capture carries it too', async () => {
      const aggregated = (await snapshots('aggregated', ['--trace-python-allocators', '--aggregate'])).snaps;
      assert.ok(aggregated.every((s) => s.ownNs !== undefined));
      assert.ok(aggregated[aggregated.length - 1]!.ownNs! > 0);
    });
  });
}
