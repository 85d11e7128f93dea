import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameFlag, type ReportData } from '../../src/report/html/payload.js';
import { HOSTILE_NAME, knownProgram } from '../../test/support/synthetic-profile.js';
import { buildTree, findPath, framePath, matchedBytes, type FlameTree } from './tree.js';
import { baseValues } from './window.js';

const MiB = 1024 * 1024;
const HIDE = FrameFlag.Interpreter | FrameFlag.Import | FrameFlag.Memlens;

/** The tree as folded lines "a;b;c bytes" of nodes with self bytes, sorted: easy to read in a failure. */
function folded(data: ReportData, tree: FlameTree): string[] {
  const out: string[] = [];
  for (let n = 1; n < tree.size; n++) {
    if (tree.self[n] === 0) continue;
    const names: string[] = [];
    for (let m = n; m > 0; m = tree.parent[m]!) names.push(data.strings[data.frames.name[tree.frame[m]!]!]!);
    out.push(`${names.reverse().join(';')} ${tree.self[n]! / MiB}`);
  }
  return out.sort();
}

test('the caller tree of the known program, hidden frames merged into their callers', () => {
  const data = knownProgram();
  const tree = buildTree(data, baseValues(data, -1), { inverted: false, hideMask: HIDE });
  assert.deepEqual(
    folded(data, tree),
    [
      '<module>;<module> 2', // the json import, its import frame hidden
      `<module>;${HOSTILE_NAME} 1`,
      '<module>;main;build_cache 200',
      '<module>;main;load_matrix;zeros 600',
      'loader_thread;read_chunk 250',
    ].sort(),
  );
  assert.equal(tree.total[0], 1053 * MiB);
  assert.equal(tree.count[0], 3 + 50_000 + 100 + 1 + 150);
  // Children are sorted by total, largest first.
  const first = tree.childList[tree.childStart[0]!]!;
  assert.equal(data.strings[data.frames.name[tree.frame[first]!]!], '<module>');
  // The two `main` frames (lines 72 and 73) are different frames, so different nodes.
  assert.equal(tree.maxDepth, 4);
});

test('showing hidden frames brings back the interpreter and import frames', () => {
  const data = knownProgram();
  const tree = buildTree(data, baseValues(data, -1), { inverted: false, hideMask: 0 });
  assert.deepEqual(
    folded(data, tree),
    [
      '_bootstrap_inner;loader_thread;read_chunk 250',
      '_run_module_as_main;<module>;_find_and_load;<module> 2',
      `_run_module_as_main;<module>;${HOSTILE_NAME} 1`,
      '_run_module_as_main;<module>;main;_PyEval_EvalFrameDefault;load_matrix;zeros 600',
      '_run_module_as_main;<module>;main;build_cache 200',
    ].sort(),
  );
});

test('the inverted tree has the allocating functions at the root', () => {
  const data = knownProgram();
  const tree = buildTree(data, baseValues(data, -1), { inverted: true, hideMask: HIDE });
  const roots = Array.from(tree.childList.subarray(tree.childStart[0], tree.childStart[1]), (n) => [data.strings[data.frames.name[tree.frame[n]!]!], tree.total[n]! / MiB]);
  assert.deepEqual(roots, [
    ['zeros', 600],
    ['read_chunk', 250],
    ['build_cache', 200],
    ['<module>', 2],
    [HOSTILE_NAME, 1],
  ]);
  assert.deepEqual(
    folded(data, tree),
    [
      '<module>;<module> 2', // json's <module>, called (through the hidden import frame) by app's
      `${HOSTILE_NAME};<module> 1`,
      'build_cache;main;<module> 200',
      'read_chunk;loader_thread 250',
      'zeros;load_matrix;main;<module> 600',
    ].sort(),
  );
  assert.equal(tree.total[0], 1053 * MiB);
});

test('one thread only', () => {
  const data = knownProgram();
  const tree = buildTree(data, baseValues(data, 1), { inverted: false, hideMask: HIDE });
  assert.deepEqual(folded(data, tree), ['loader_thread;read_chunk 250']);
});

test('a zoom path survives a rebuild, and stops where the new tree ends', () => {
  const data = knownProgram();
  const all = buildTree(data, baseValues(data, -1), { inverted: false, hideMask: HIDE });
  let zeros = -1;
  for (let n = 0; n < all.size; n++) if (data.strings[data.frames.name[all.frame[n]!]!] === 'zeros') zeros = n;
  const path = framePath(all, zeros);
  assert.equal(path.length, 4);
  const again = buildTree(data, baseValues(data, -1), { inverted: false, hideMask: HIDE });
  assert.equal(again.frame[findPath(again, path)], all.frame[zeros]);
  const loaderOnly = buildTree(data, baseValues(data, 1), { inverted: false, hideMask: HIDE });
  assert.equal(findPath(loaderOnly, path), 0);
});

test('search share counts nested matches once', () => {
  const data = knownProgram();
  const tree = buildTree(data, baseValues(data, -1), { inverted: false, hideMask: HIDE });
  const matches = new Uint8Array(data.frames.name.length);
  for (let f = 0; f < matches.length; f++) {
    const name = data.strings[data.frames.name[f]!]!;
    if (name === 'main' || name === 'zeros') matches[f] = 1;
  }
  // zeros lies under main: its 600 MiB are already in main's 800.
  assert.deepEqual(matchedBytes(tree, matches), { bytes: 800 * MiB, nodes: 3 });
});
