import assert from 'node:assert/strict';
import { test } from 'node:test';
import { knownProgram } from '../../test/support/synthetic-profile.js';
import { tickAt, tickStart, windowValues } from './window.js';

const MiB = 1024 * 1024;

function byFunction(data: ReturnType<typeof knownProgram>, bytes: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  for (let l = 0; l < bytes.length; l++) {
    if (bytes[l] === 0) continue;
    const name = data.strings[data.frames.name[data.nodes.frame[data.locations.node[l]!]!]!]!;
    out[name] = (out[name] ?? 0) + bytes[l]! / MiB;
  }
  return out;
}

test('ticks: a time falls into the tick whose end is the first at or after it', () => {
  const t = knownProgram().temporal!;
  assert.equal(tickAt(t, 0), 0);
  assert.equal(tickAt(t, 1e9), 0);
  assert.equal(tickAt(t, 1e9 + 1), 1);
  assert.equal(tickAt(t, 99e9), 9);
  assert.equal(tickStart(t, 0), 0);
  assert.equal(tickStart(t, 3), 3e9);
});

test('the peak inside a window, and what was live then', () => {
  const data = knownProgram();
  const t = data.temporal!;
  const whole = windowValues(data, t, 0, 9, -1);
  assert.equal(whole.tick, 6);
  assert.equal(whole.heap, 1053 * MiB);
  assert.deepEqual(byFunction(data, whole.bytes), { zeros: 600, build_cache: 200, '<module>': 2, read_chunk: 250, '</script><img src=x onerror=alert(1)>': 1 });
  const early = windowValues(data, t, 1, 4, -1);
  assert.equal(early.tick, 2);
  assert.deepEqual(byFunction(data, early.bytes), { build_cache: 200, read_chunk: 250, '<module>': 2, '</script><img src=x onerror=alert(1)>': 1 });
  const late = windowValues(data, t, 9, 9, -1);
  assert.deepEqual(byFunction(data, late.bytes), { zeros: 600, '<module>': 2, '</script><img src=x onerror=alert(1)>': 1 });
  const loader = windowValues(data, t, 1, 4, 1);
  assert.deepEqual(byFunction(data, loader.bytes), { read_chunk: 250 });
});

test('leaks in a window: allocated inside it, not freed by its end', () => {
  const data = knownProgram();
  const t = { ...data.temporal!, kind: 'leaks' as const };
  // Read the known lifetimes as (allocated in tick start, freed in tick end).
  assert.deepEqual(byFunction(data, windowValues(data, t, 0, 9, -1).bytes), { zeros: 600, '<module>': 2, '</script><img src=x onerror=alert(1)>': 1 });
  assert.deepEqual(byFunction(data, windowValues(data, t, 1, 2, -1).bytes), { read_chunk: 250, build_cache: 200 });
  assert.deepEqual(byFunction(data, windowValues(data, t, 1, 6, -1).bytes), { read_chunk: 250, build_cache: 200, zeros: 600 });
});
