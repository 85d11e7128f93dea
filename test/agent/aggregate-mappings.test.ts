// The high-water mark and the leaks under partial munmap, MAP_FIXED and mremap, in both modes: the full
// capture (the reader splits mappings into pieces, src/model/mapped-regions.ts) and --aggregate (the agent
// does, agent/src/aggregate.c). Cases after memray's integration tests of partial munmap (head, head and
// tail, one munmap over several mappings, holes), plus MAP_FIXED over part of a mapping and mremap of a
// whole mapping and of its tail; and a recursion that maps on the way down and unmaps on the way up, in
// spikes of different heights, whose peak set must be the deepest level of the highest spike in both
// modes. The program is test/programs/mappings.py; every expected figure is exact.
//
// --trace-python-allocators in every run: pymalloc's arenas are mappings too, made wherever Python needs
// one, and would land on the program's lines; with Python's allocators traced they are made inside the
// agent's wrapper and not recorded, so the program's own calls are the only MMAP/MREMAP records.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadModel } from '../../src/cli/load-model.js';
import { Allocator } from '../../src/capture/format.js';
import type { SiteId } from '../../src/model/ids.js';
import type { CaptureModel } from '../../src/model/model.js';
import { memoryIo } from '../support/memory-io.js';
import { memlensRun, tempDir } from '../support/memlens-run.js';
import { corePythons, label, REPO_ROOT } from '../support/pythons.js';

const PROGRAM_PATH = join(REPO_ROOT, 'test', 'programs', 'mappings.py');
const PROGRAM = readFileSync(PROGRAM_PATH, 'utf8');
const U = 1 << 20;
const SHOW_ALL = { showInternal: true, showImports: true };

interface Figures {
  peakBytes: number;
  peakCount: number;
  liveBytes: number;
  liveCount: number;
  totalBytes: number;
  totalCount: number;
}

const zero = (): Figures => ({ peakBytes: 0, peakCount: 0, liveBytes: 0, liveCount: 0, totalBytes: 0, totalCount: 0 });

function add(into: Figures, model: CaptureModel, site: SiteId): void {
  const c = model.sites.columns;
  into.peakBytes += model.sites.peak.bytes(site);
  into.peakCount += model.sites.peak.count(site);
  into.liveBytes += c.liveBytes.array[site] as number;
  into.liveCount += c.liveCount.array[site] as number;
  into.totalBytes += c.totalBytes.array[site] as number;
  into.totalCount += c.totalCount.array[site] as number;
}

/**
 * Per allocating line of the program (its leaf frame in mappings.py) and per whole stack, the figures of
 * the sites whose allocator is one of `allocators`.
 */
function figures(model: CaptureModel, allocators: readonly number[]): { byLine: Map<number, Figures>; byStack: Map<string, Figures> } {
  const byLine = new Map<number, Figures>();
  const byStack = new Map<string, Figures>();
  for (let s = 0 as SiteId; s < model.sites.size; s++) {
    if (!allocators.includes(model.sites.allocator(s))) continue;
    const frames = model.frames.stack(model.sites.pyStack(s), model.sites.nativeStack(s), SHOW_ALL).map((id) => model.frames.frame(id));
    const leaf = frames.findLast((f) => f.file === PROGRAM_PATH);
    if (leaf?.line === undefined || leaf.line === null) continue;
    const line = leaf.line;
    add(byLine.get(line) ?? byLine.set(line, zero()).get(line)!, model, s);
    const key = `${model.sites.allocator(s)} ${frames
      .filter((f) => f.file === PROGRAM_PATH)
      .map((f) => `${f.function}:${f.line}`)
      .join('<')}`;
    add(byStack.get(key) ?? byStack.set(key, zero()).get(key)!, model, s);
  }
  return { byLine, byStack };
}

/** The line that ends with the marker comment (lineOf would take CASE-TWO-A's line for CASE-TWO). */
function L(marker: string): number {
  const i = PROGRAM.split('\n').findIndex((l) => l.endsWith(`# ${marker}`));
  if (i < 0) throw new Error(`marker ${marker} is not in ${PROGRAM_PATH}`);
  return i + 1;
}

/** Expected [live at the peak = live at the end, allocations live, total bytes, total allocations] per marker, in units. */
const CASES: Record<string, [units: number, count: number, totalUnits: number, totalCount: number]> = {
  'CASE-HEAD-ONLY': [1, 1, 2, 1],
  'CASE-HEAD-AND-TAIL': [2, 1, 4, 1],
  'CASE-TWO-RESERVE': [0, 0, 8, 1],
  'CASE-TWO-A': [0, 0, 4, 1],
  'CASE-TWO-B': [0, 0, 4, 1],
  'CASE-FOUR-RESERVE': [0, 0, 8, 1],
  'CASE-FOUR-EACH': [0, 0, 8, 4],
  'CASE-ONE-HOLE': [7, 1, 8, 1],
  'CASE-TWO-HOLES': [3, 1, 5, 1],
  'CASE-FIXED-A': [3, 1, 4, 1],
  'CASE-FIXED-B': [1, 1, 1, 1],
  'CASE-REMAP-A': [0, 0, 4, 1],
  'CASE-REMAP-B': [0, 0, 6, 1],
  'CASE-REMAP-C': [2, 1, 2, 1],
  'CASE-REMAP-TAIL-A': [4, 1, 6, 1],
  'CASE-REMAP-TAIL-B': [3, 1, 3, 1],
  'CASE-PEAK': [16, 1, 16, 1],
};

const MODES = [
  ['events', []],
  ['aggregated', ['--aggregate']],
] as const;

for (const py of corePythons()) {
  describe(`mappings under partial munmap and mremap, CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    async function capture(what: string, mode: readonly string[], name: string): Promise<CaptureModel> {
      const r = await memlensRun({ python: py.python, program: [PROGRAM_PATH, what], runArgs: ['--trace-python-allocators', ...mode], output: name }, tmp.dir);
      assert.equal(r.code, 0, r.stderr);
      return loadModel(memoryIo(), r.capture);
    }

    test('every case gives the exact high-water mark and leaks, in both modes', async () => {
      for (const [name, mode] of MODES) {
        const model = await capture('cases', mode, `cases-${name}.mlens`);
        const { byLine } = figures(model, [Allocator.Mmap, Allocator.Mremap]);
        for (const [marker, [units, count, totalUnits, totalCount]] of Object.entries(CASES)) {
          const f = byLine.get(L(marker)) ?? zero();
          const where = `${name} capture, ${marker} (line ${L(marker)})`;
          assert.deepEqual(
            [f.peakBytes, f.peakCount, f.liveBytes, f.liveCount, f.totalBytes, f.totalCount],
            [units * U, count, units * U, count, totalUnits * U, totalCount],
            `${where}: [peak bytes, peak allocations, live bytes at the end, live allocations, total bytes, allocations]`,
          );
        }
        assert.ok(model.peakHeap >= 42 * U, `${name}: the end (42 units mapped) is the high-water mark: ${model.peakHeap}`);
      }
    });

    test('a spiky recursion: the peak set is the deepest level of the highest spike, the same in both modes', async () => {
      const stacks: Map<string, Figures>[] = [];
      for (const [name, mode] of MODES) {
        const model = await capture('spikes', mode, `spikes-${name}.mlens`);
        const { byLine, byStack } = figures(model, [Allocator.Mmap, Allocator.Malloc]);
        const map = byLine.get(L('SPIKE-MAP')) ?? zero();
        const mem = byLine.get(L('SPIKE-MALLOC')) ?? zero();
        // The highest spike is 8 deep: at the peak 7 levels hold 2 units and the 8th has just mapped 3;
        // mallocs of 100,000 × depth.
        assert.deepEqual([map.peakBytes, map.peakCount, map.liveBytes, map.liveCount], [17 * U, 8, 0, 0], `${name}: mappings at the peak, and left at the end`);
        assert.deepEqual([mem.peakBytes, mem.peakCount, mem.liveBytes, mem.liveCount], [3_600_000, 8, 0, 0], `${name}: mallocs at the peak, and left at the end`);
        assert.equal(map.totalCount, 3 + 6 + 4 + 8 + 2 + 7);
        stacks.push(byStack);
      }
      // Level by level (each depth is its own stack), both modes name the same allocations at the peak.
      const spikeLines = [`spike:${L('SPIKE-MAP')}`, `spike:${L('SPIKE-MALLOC')}`];
      const peakSet = (m: Map<string, Figures>): [string, number, number][] =>
        [...m]
          .filter(([k, f]) => f.peakCount > 0 && spikeLines.some((leaf) => k.endsWith(`<${leaf}`)))
          .map(([k, f]): [string, number, number] => [k, f.peakBytes, f.peakCount])
          .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      assert.equal(peakSet(stacks[0]!).length, 16, 'one mapping and one malloc per level of the 8-deep spike');
      assert.deepEqual(peakSet(stacks[1]!), peakSet(stacks[0]!));
    });
  });
}
