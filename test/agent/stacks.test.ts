// Python stacks at the edges: recursion 5,000 deep, a deep stack regrown to the same frame addresses and the
// same frames pushed again above a caller whose line changed (the agent's walk cache), non-ASCII file and
// function names.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Oracle, type OracleAlloc } from '../support/agent-oracle.js';
import { lineOf, memlensRun, tempDir } from '../support/memlens-run.js';
import { bytearraySize, label, testPythons } from '../support/pythons.js';
import { DEEP_PROG, REGROW_PROG, SAME_TOP_PROG } from './programs.js';

const UNICODE_FILE = 'données_π.py';
const UNICODE = `KEEP = []


def функция_λ():
    KEEP.append(bytearray(555_555))  # HERE


class Ünïcode:
    def méthode(self):
        функция_λ()


Ünïcode().méthode()
print("ok")
`;

for (const py of testPythons()) {
  describe(`stacks under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    test('recursion 5,000 deep', async () => {
      const r = await memlensRun({ python: py.python, files: { 'deep.py': DEEP_PROG }, program: ['deep.py'], output: 'deep.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const bottom = o.allocs.filter((a) => a.size === bytearraySize(py, 777_777));
      assert.equal(bottom.length, 1);
      const stack = o.stack(bottom[0] as OracleAlloc);
      assert.equal(stack.length, 5002, 'down() 5,001 times and the module');
      assert.equal(stack[0]?.line, lineOf(DEEP_PROG, '# BOTTOM'));
      for (let i = 1; i <= 5000; i++) {
        const f = stack[i];
        assert.ok(f?.function === 'down' && f.line === lineOf(DEEP_PROG, '# CALL'), `frame ${i}: ${JSON.stringify(f)}`);
      }
      assert.equal(stack[5001]?.function, '<module>');
      // Back at the top, the stack is short again.
      const afterIt = o.allocs.filter((a) => a.size === bytearraySize(py, 666_666));
      assert.deepEqual(
        o.stack(afterIt[0] as OracleAlloc).map((f) => [f.function, f.line]),
        [['<module>', lineOf(DEEP_PROG, '# AFTER')]],
      );
    });

    test('a deep stack left for the root and grown again to the same frame addresses', async () => {
      const r = await memlensRun({ python: py.python, files: { 'regrow.py': REGROW_PROG }, program: ['regrow.py'], output: 'regrow.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const line = (marker: string): number => lineOf(REGROW_PROG, marker);
      const expect = (tag: number, depth: number, leaf: [string, number]): [string, number][] => [
        leaf,
        ...Array.from({ length: 40 - depth }, (): [string, number] => ['down', line('# CALL')]),
        tag === 2 ? ['via_b', line('# VIA B')] : ['via_a', line('# VIA A')],
        ['<module>', line(tag === 1 ? '# ROOT A' : tag === 2 ? '# ROOT B' : '# ROOT C')],
      ];
      for (const tag of [1, 2, 3]) {
        // The bottom (41 frames of down), and every level on the way up, twice each (the loop runs twice).
        const cases: [number, number, [string, number]][] = [[1_000_000 + tag, 0, ['down', line('# BOTTOM')]]];
        for (let n = 1; n <= 40; n++) cases.push([100_000 + n * 10 + tag, n, ['down', line('# UP')]]);
        for (const [size, depth, leaf] of cases) {
          const found = o.allocs.filter((a) => a.size === bytearraySize(py, size));
          assert.equal(found.length, 2, `bytearray(${size})`);
          for (const a of found) {
            assert.deepEqual(
              o.stack(a).map((f) => [f.function, f.line]),
              expect(tag, depth, leaf),
              `bytearray(${size})`,
            );
          }
        }
      }
    });

    test('the same frames above a caller whose line changed between two allocations', async () => {
      const r = await memlensRun({ python: py.python, files: { 'same_top.py': SAME_TOP_PROG }, program: ['same_top.py'], output: 'same_top.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const line = (marker: string): number => lineOf(SAME_TOP_PROG, marker);
      for (const [base, site] of [
        [200_000, '# SITE A'],
        [300_000, '# SITE B'],
      ] as const) {
        for (let i = 0; i < 3; i++) {
          const found = o.allocs.filter((a) => a.size === bytearraySize(py, base + i));
          assert.equal(found.length, 1, `bytearray(${base + i})`);
          assert.deepEqual(
            o.stack(found[0] as OracleAlloc).map((f) => [f.function, f.line]),
            [
              ['leaf', line('# LEAF')],
              ['mid', line('# TO LEAF')],
              ...Array.from({ length: 10 }, (): [string, number] => ['mid', line('# MID')]),
              ['top', line(site)],
              ...Array.from({ length: 30 }, (): [string, number] => ['top', line('# DOWN')]),
              ['<module>', line('# ROOT')],
            ],
            `bytearray(${base + i})`,
          );
        }
      }
    });

    test('non-ASCII file, class and function names', async () => {
      const r = await memlensRun({ python: py.python, files: { [UNICODE_FILE]: UNICODE }, program: [UNICODE_FILE], output: 'uni.mlens' }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      const o = await Oracle.load(r.capture);
      const found = o.allocs.filter((a) => a.size === bytearraySize(py, 555_555));
      assert.equal(found.length, 1);
      const stack = o.stack(found[0] as OracleAlloc);
      assert.deepEqual(
        stack.map((f) => [f.function, f.line]),
        [
          ['функция_λ', lineOf(UNICODE, '# HERE')],
          ['méthode', lineOf(UNICODE, '        функция_λ()')],
          ['<module>', lineOf(UNICODE, 'Ünïcode().méthode()')],
        ],
      );
      // co_qualname exists from 3.11; before that the qualified name is the plain name.
      assert.equal(stack[1]?.qualname, py.minor >= 11 ? 'Ünïcode.méthode' : 'méthode');
      assert.ok(
        stack.every((f) => f.file.endsWith(UNICODE_FILE)),
        stack[0]?.file,
      );
    });
  });
}
