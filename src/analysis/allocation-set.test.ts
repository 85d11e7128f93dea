// A set of the model's sites: columns, sorted, and objects made only when read.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomStream, replay } from '../../test/support/random-stream.js';
import { ModelBuilder } from '../model/builder.js';
import { DEFAULT_FRAME_FILTER } from '../model/frames.js';
import type { CaptureModel } from '../model/model.js';
import { type AllocationSet, allAllocations } from './allocation-set.js';
import { highWaterMark } from './high-water-mark.js';
import { leaks } from './leaks.js';
import { stacksOf } from './stacks.js';
import { temporaryAllocations } from './temporary.js';

function model(seed: number): CaptureModel {
  const stream = randomStream(seed, { events: 3000, mmapShare: 0.1 });
  const builder = new ModelBuilder({ lineResolver: (_code, instr) => instr, temporaryThreshold: 2 });
  replay(stream, builder);
  return builder.finish();
}

/** The stacks as numbers, comparable with deepEqual (the stacks' objects hold their trie). */
function stackFigures(m: CaptureModel, set: AllocationSet): unknown[] {
  return stacksOf(m, set, { filter: DEFAULT_FRAME_FILTER }).map((s) => [s.frames, s.bytes, s.count, s.allocator, s.allocatorBytes]);
}

for (const seed of [1, 2, 3]) {
  test(`columns and objects name the same sites in the same order, and stacksOf reads the columns (seed ${seed})`, () => {
    const m = model(seed);
    for (const set of [allAllocations(m), leaks(m), highWaterMark(m), temporaryAllocations(m)]) {
      const c = set.columns!;
      // The set as made: its objects not made yet (the producers add their fields without a spread, which reads them).
      assert.equal(typeof Object.getOwnPropertyDescriptor(set, 'sites')?.get, 'function', set.kind);
      const fromColumns = stackFigures(m, { ...set, columns: c, sites: [] });
      const sites = set.sites;
      assert.ok(sites.length > 0, set.kind);
      assert.equal(set.sites, sites, 'made once');
      assert.deepEqual(
        sites.map((s) => [s.site, s.bytes, s.count]),
        Array.from(c.site, (site, i) => [site, c.bytes[i], c.count[i]]),
      );
      // Largest first, then by count, then by site.
      for (let i = 1; i < sites.length; i++) {
        const a = sites[i - 1]!;
        const b = sites[i]!;
        assert.ok(a.bytes > b.bytes || (a.bytes === b.bytes && (a.count > b.count || (a.count === b.count && a.site < b.site))), `${set.kind} order at ${i}`);
      }
      assert.equal(
        set.totalBytes,
        sites.reduce((n, s) => n + s.bytes, 0),
      );
      assert.equal(
        set.totalCount,
        sites.reduce((n, s) => n + s.count, 0),
      );
      // stacksOf gives the same stacks from the columns (the objects left empty above) as from the objects alone.
      assert.deepEqual(fromColumns, stackFigures(m, { kind: set.kind, totalBytes: set.totalBytes, totalCount: set.totalCount, sites }));
    }
  });
}
