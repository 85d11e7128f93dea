// Python stacks at the edges: recursion 5,000 deep, a deep stack regrown to the same frame addresses and the
// same frames pushed again above a caller whose line changed (the agent's walk cache), non-ASCII file and
// function names.

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Frame, Oracle } from '../support/agent-oracle.js';
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

type Lines = [string, number | null][];

/** A stack as [function, line] pairs, innermost first. */
const lines = (stack: readonly Frame[]): Lines => stack.map((f) => [f.function, f.line]);

for (const py of testPythons()) {
  describe(`stacks under CPython ${label(py)}`, () => {
    const tmp = tempDir();
    after(tmp.remove);

    /** `memlens run FILE` of `source`, which must end well and say nothing: its capture, read. */
    const capture = async (file: string, source: string): Promise<Oracle> => {
      const r = await memlensRun({ python: py.python, files: { [file]: source }, program: [file], output: `${file}.mlens` }, tmp.dir);
      assert.equal(r.stderr, '');
      assert.equal(r.code, 0);
      return Oracle.load(r.capture);
    };
    /** The stacks of the allocations of bytearray(n), innermost frame first: `count` of them. */
    const stacksOf = (o: Oracle, n: number, count: number): Frame[][] => {
      const allocs = o.allocs.filter((a) => a.size === bytearraySize(py, n));
      assert.equal(allocs.length, count, `bytearray(${n})`);
      return allocs.map((a) => o.stack(a));
    };

    test('recursion 5,000 deep', async () => {
      const o = await capture('deep.py', DEEP_PROG);
      const stack = stacksOf(o, 777_777, 1)[0] ?? [];
      assert.equal(stack.length, 5002, 'down() 5,001 times and the module');
      assert.equal(stack[0]?.line, lineOf(DEEP_PROG, '# BOTTOM'));
      for (let i = 1; i <= 5000; i++) {
        const f = stack[i];
        assert.ok(f?.function === 'down' && f.line === lineOf(DEEP_PROG, '# CALL'), `frame ${i}: ${JSON.stringify(f)}`);
      }
      assert.equal(stack[5001]?.function, '<module>');
      // Back at the top, the stack is short again.
      assert.deepEqual(stacksOf(o, 666_666, 1).map(lines), [[['<module>', lineOf(DEEP_PROG, '# AFTER')]]]);
    });

    test('a deep stack left for the root and grown again to the same frame addresses', async () => {
      const o = await capture('regrow.py', REGROW_PROG);
      const line = (marker: string): number => lineOf(REGROW_PROG, marker);
      const expect = (tag: number, depth: number, leaf: [string, number]): Lines => [
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
          for (const stack of stacksOf(o, size, 2)) assert.deepEqual(lines(stack), expect(tag, depth, leaf), `bytearray(${size})`);
        }
      }
    });

    test('the same frames above a caller whose line changed between two allocations', async () => {
      const o = await capture('same_top.py', SAME_TOP_PROG);
      const line = (marker: string): number => lineOf(SAME_TOP_PROG, marker);
      for (const [base, site] of [
        [200_000, '# SITE A'],
        [300_000, '# SITE B'],
      ] as const) {
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(
            stacksOf(o, base + i, 1).map(lines),
            [
              [
                ['leaf', line('# LEAF')],
                ['mid', line('# TO LEAF')],
                ...Array.from({ length: 10 }, (): [string, number] => ['mid', line('# MID')]),
                ['top', line(site)],
                ...Array.from({ length: 30 }, (): [string, number] => ['top', line('# DOWN')]),
                ['<module>', line('# ROOT')],
              ],
            ],
            `bytearray(${base + i})`,
          );
        }
      }
    });

    test('non-ASCII file, class and function names', async () => {
      const o = await capture(UNICODE_FILE, UNICODE);
      const stack = stacksOf(o, 555_555, 1)[0] ?? [];
      assert.deepEqual(lines(stack), [
        ['функция_λ', lineOf(UNICODE, '# HERE')],
        ['méthode', lineOf(UNICODE, '        функция_λ()')],
        ['<module>', lineOf(UNICODE, 'Ünïcode().méthode()')],
      ]);
      // co_qualname exists from 3.11; before that the qualified name is the plain name.
      assert.equal(stack[1]?.qualname, py.minor >= 11 ? 'Ünïcode.méthode' : 'méthode');
      assert.ok(
        stack.every((f) => f.file.endsWith(UNICODE_FILE)),
        stack[0]?.file,
      );
    });
  });
}
