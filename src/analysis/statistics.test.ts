import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramBins } from './statistics.js';

test('histogram bins cover the used power-of-two buckets, merged evenly to at most maxBins', () => {
  const b = new Float64Array(66);
  b[1] = 5; // 1 B
  b[4] = 2; // 8..15 B
  b[21] = 1; // 1..2 MiB
  assert.deepEqual(histogramBins(b, 100)[0], { minBytes: 1, maxBytes: 1, count: 5 });
  assert.equal(histogramBins(b, 100).length, 21);
  const merged = histogramBins(b, 5);
  assert.equal(merged.length, 5);
  assert.deepEqual(merged[0], { minBytes: 1, maxBytes: 31, count: 7 });
  assert.equal(
    merged.reduce((n, x) => n + x.count, 0),
    8,
  );
  assert.equal(merged[merged.length - 1]?.maxBytes, 2 * 1048576 - 1);
  assert.deepEqual(histogramBins(new Float64Array(66), 10), []);
});

// statistics()' top lines and modules are computed in numbers (topRows); they must equal what the stacks of
// stacksOf() give through allocatingLines() and moduleOfStack(), ties and summing order included.
import { OPTION_SAMPLED } from '../capture/format.js';
import { randomStream, replay, testHeader } from '../../test/support/random-stream.js';
import { ModelBuilder } from '../model/builder.js';
import type { FrameFilter } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import { allAllocations } from './allocation-set.js';
import { allocatingLines } from './locations.js';
import { stacksOf } from './stacks.js';
import { statistics } from './statistics.js';

function randomModel(seed: number, events: number, sampled: boolean, fewSizes: boolean): CaptureModel {
  const stream = randomStream(seed, { events, codes: 8 });
  const builder = new ModelBuilder({ lineResolver: (_code, instr) => instr });
  // Few sizes (heap allocations of 8, 16 or 24 bytes): lines and modules with the same bytes and count, whose
  // order is then the order first met.
  const calls = fewSizes ? stream.calls.map((c) => (c.kind === 'alloc' && c.allocator !== 8 && c.allocator !== 14 ? { ...c, size: 8 * (1 + (c.size % 3)) } : c)) : stream.calls;
  replay({ header: sampled ? testHeader({ options: OPTION_SAMPLED, sampleRateBytes: 1000 }) : stream.header, calls }, builder);
  return builder.finish();
}

/** The top rows as statistics() made them before round twenty-six: from the stacks' objects. */
function viaStacks(model: CaptureModel, filter: FrameFilter, top: number): unknown {
  const stacks = stacksOf(model, allAllocations(model), { filter });
  const lines = allocatingLines(model, stacks);
  const modules = new Map<string, { module: string; count: number; bytes: number }>();
  for (const st of stacks) {
    const name = model.frames.moduleOfStack(st);
    let m = modules.get(name);
    if (m === undefined) {
      m = { module: name, count: 0, bytes: 0 };
      modules.set(name, m);
    }
    m.count += st.count;
    m.bytes += st.bytes;
  }
  const rows = [...modules.values()];
  return {
    topBySize: [...lines].sort((a, b) => b.bytes - a.bytes || b.count - a.count).slice(0, top),
    topByCount: [...lines].sort((a, b) => b.count - a.count || b.bytes - a.bytes).slice(0, top),
    topModulesBySize: [...rows].sort((a, b) => b.bytes - a.bytes || b.count - a.count).slice(0, top),
    topModulesByCount: [...rows].sort((a, b) => b.count - a.count || b.bytes - a.bytes).slice(0, top),
  };
}

test('the top lines and modules equal those of the stacks, ties and sums in the same order', () => {
  let ties = 0;
  let fractions = 0;
  for (let seed = 1; seed <= 40; seed++) {
    for (const events of [30, 400, 3000]) {
      const model = randomModel(seed, events, seed % 4 === 0, seed % 2 === 1);
      for (const filter of [
        { showInternal: false, showImports: false },
        { showInternal: true, showImports: true },
      ]) {
        for (const top of [1, 3, 5, 50]) {
          const s = statistics(model, { top, filter });
          const want = viaStacks(model, filter, top) as Record<string, { bytes: number; count: number }[]>;
          const got = { topBySize: s.topBySize, topByCount: s.topByCount, topModulesBySize: s.topModulesBySize, topModulesByCount: s.topModulesByCount };
          assert.deepEqual(got, want, `seed ${seed}, ${events} events, top ${top}, ${JSON.stringify(filter)}`);
          const rows = want.topByCount!;
          for (let i = 1; i < rows.length; i++) if (rows[i]!.count === rows[i - 1]!.count && rows[i]!.bytes === rows[i - 1]!.bytes) ties++;
          if (rows.some((r) => !Number.isInteger(r.bytes))) fractions++;
        }
      }
    }
  }
  // The cases that decide an order beyond bytes and count, and sums of fractional weights, were met.
  assert.ok(ties > 0, 'no tie met');
  assert.ok(fractions > 0, 'no sampled figure met');
});
