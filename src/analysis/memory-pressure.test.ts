// Memory pressure decided from the kernel's numbers: the mark, the re-arm, the words; and captures with the
// agent's old MEMORY_PRESSURE markers report exactly as before.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyze, MiB, ProgramCapture, SEC } from '../../test/support/program-capture.js';
import type { PressureRecord } from '../capture/records.js';
import { markersWithPressure, pressureCrossings, pressureLabel } from './memory-pressure.js';
import { timeline } from './memory-timeline.js';

function sample(timeNs: number, someAvg10: number, fullAvg10?: number): PressureRecord {
  const full = fullAvg10 === undefined ? undefined : 0;
  return {
    type: 'pressure',
    stream: 0,
    seq: timeNs,
    timeNs,
    source: '/proc/pressure/memory',
    someAvg10,
    someAvg60: 0,
    someAvg300: 0,
    someTotalUs: 0,
    fullAvg10,
    fullAvg60: full,
    fullAvg300: full,
    fullTotalUs: full,
  };
}

const at = (xs: readonly PressureRecord[]): number[] => xs.map((p) => p.timeNs);

describe('when pressure is told', () => {
  test('at 10% of the last 10 s, not below', () => {
    assert.deepEqual(at(pressureCrossings([sample(1, 999), sample(2, 1000), sample(3, 1500)])), [2]);
    assert.deepEqual(at(pressureCrossings([sample(1, 0), sample(2, 999)])), []);
  });

  test('again only after it fell below 5%: a level hovering around the mark is one event', () => {
    const hover = [sample(1, 1000), sample(2, 900), sample(3, 1100), sample(4, 500), sample(5, 1200)];
    assert.deepEqual(at(pressureCrossings(hover)), [1]);
    const twice = [sample(1, 1000), sample(2, 499), sample(3, 1000)];
    assert.deepEqual(at(pressureCrossings(twice)), [1, 3]);
  });

  test('in words: whole percents of "some" and "full" (0 without a full line), and where from', () => {
    assert.equal(pressureLabel(sample(1, 1234, 399)), 'memory pressure: tasks stalled on memory 12% of the last 10 s (all tasks: 3%), from /proc/pressure/memory');
    assert.equal(pressureLabel(sample(1, 10_000)), 'memory pressure: tasks stalled on memory 100% of the last 10 s (all tasks: 0%), from /proc/pressure/memory');
  });
});

/** Six seconds of a growing program, with pressure as `addPressure` records it. */
function program(addPressure: (p: ProgramCapture) => void): Uint8Array {
  const p = new ProgramCapture();
  p.thread(1, 100, 'MainThread', 0);
  for (let t = 0; t <= 6; t++) {
    p.alloc(
      1,
      [
        ['<module>', 1],
        ['grow', 5],
      ],
      MiB,
    );
    if (t === 3) addPressure(p);
    p.snapshot(t * SEC, { rss: (40 + t) * MiB, file: 8 * MiB, cgroupUsage: (50 + t) * MiB, cgroupLimit: 64 * MiB });
  }
  p.exit({ timeNs: 6 * SEC + 1, signal: 9, oomKill: 1 });
  return p.finish();
}

describe('reports from the raw numbers and from the old markers', () => {
  const label = 'memory pressure: tasks stalled on memory 23% of the last 10 s (all tasks: 4%), from /sys/fs/cgroup/job/memory.pressure';
  // What an agent that decided itself wrote, and what an agent that records the numbers writes.
  const old = analyze(program((p) => p.marker(7, label, 3 * SEC)));
  const raw = analyze(
    program((p) => {
      p.pressure(2 * SEC, 150, 0, '/sys/fs/cgroup/job/memory.pressure');
      p.pressure(3 * SEC, 2345, 456, '/sys/fs/cgroup/job/memory.pressure');
      p.pressure(3 * SEC + 1, 2400, 500, '/sys/fs/cgroup/job/memory.pressure');
    }),
  );

  test('an old capture keeps its marker as it was; a new one has none, only the numbers', () => {
    assert.equal(old.model.pressure.length, 0);
    assert.equal(markersWithPressure(old.model), old.model.markers);
    assert.equal(raw.model.markers.filter((m) => m.kind === 7).length, 0);
    assert.equal(raw.model.pressure.length, 3);
  });

  test('the verdict and the timeline say the same of both', () => {
    assert.deepEqual(raw.verdict.pressure, old.verdict.pressure);
    assert.deepEqual(old.verdict.pressure, { timeNs: 3 * SEC, beforeEndNs: 3 * SEC + 1, label, count: 1 });
    const pressureEvents = (t: ReturnType<typeof timeline>): string[] => t.events.filter((e) => e.label.startsWith('memory pressure')).map((e) => `${e.timeNs} ${e.label}`);
    assert.deepEqual(pressureEvents(timeline(raw.model)), pressureEvents(timeline(old.model)));
    assert.deepEqual(pressureEvents(timeline(old.model)), [`${3 * SEC} memory pressure: ${label}`]);
  });
});
