// Aggregated mode's table of live mappings (agent/src/mappings.c) against the full capture's reader
// (src/model/mapped-regions.ts), which the two modes must agree with: the same random mmap, MAP_FIXED and
// munmap calls (heads, tails, holes, several mappings at once, size 0) must remove the same pieces, with
// the same bytes, and end a mapping at the same call. Thousands of live pieces, made at falling addresses
// as the kernel hands them out, so chunks split and the directory grows; built as is and under
// AddressSanitizer.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { SiteId } from '../../src/model/ids.js';
import { MappedRegions } from '../../src/model/mapped-regions.js';
import { compile, STRICT_CFLAGS } from '../pyframes/support.js';
import { tempDir } from '../support/memlens-run.js';
import { prng } from '../support/prng.js';
import { REPO_ROOT } from '../support/pythons.js';

const tmp = tempDir('memlens-mappings-');
after(tmp.remove);
const src = join(REPO_ROOT, 'agent', 'src');
const sources = [join(REPO_ROOT, 'agent', 'test', 'mappings_check.c'), join(src, 'mappings.c'), join(src, 'mem.c')];
const exe = join(tmp.dir, 'mappings_check');
const asanExe = join(tmp.dir, 'mappings_check_asan');

before(() => {
  for (const [out, extra] of [
    [exe, []],
    [asanExe, ['-fsanitize=address', '-fno-omit-frame-pointer']],
  ] as const) {
    const r = compile([...STRICT_CFLAGS, ...extra, '-o', out, ...sources]);
    assert.equal(r.status, 0, r.stderr);
  }
});

const PAGE = 4096;
const BASE = 0x7f0000000000;

/** Commands for mappings_check and the lines it must print, from the reader's MappedRegions. */
function script(seed: number, ops: number): { input: string; expected: string[] } {
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const regions = new MappedRegions();
  const input: string[] = [];
  const expected: string[] = [];
  let owner = 1;
  const unmap = (addr: number, size: number): void => {
    const pieces = regions.unmap(addr, size);
    expected.push(`u${pieces.map((p) => ` ${p.site}:${p.bytes}:${p.lastPiece ? 1 : 0}`).join('')}`);
  };
  const add = (addr: number, size: number): void => {
    input.push(`a ${addr} ${size} ${owner}`);
    unmap(addr, size);
    regions.add(addr, size, owner as SiteId, 0);
    expected.push('ok');
    owner++;
  };
  // 6,000 one-page mappings at falling addresses, a page apart: about 94 full chunks.
  for (let i = 6000; i > 0; i--) add(BASE + 2 * i * PAGE, PAGE);
  const pages = 16384;
  for (let k = 0; k < ops; k++) {
    const r = rand();
    if (r < 0.4) {
      add(BASE + int(pages) * PAGE, (1 + int(16)) * PAGE);
    } else if (r < 0.75) {
      const addr = BASE + int(pages) * PAGE;
      const size = (1 + int(48)) * PAGE;
      input.push(`u ${addr} ${size}`);
      unmap(addr, size);
    } else if (r < 0.85) {
      // Size 0: the piece that starts there (a live piece's start, or any page).
      let addr = BASE + int(pages) * PAGE;
      if (rand() < 0.7) {
        const starts: number[] = [];
        regions.forEach((start) => starts.push(start));
        if (starts.length > 0) addr = starts[int(starts.length)] as number;
      }
      input.push(`u ${addr} 0`);
      unmap(addr, 0);
    } else {
      const addr = BASE + int(pages) * PAGE + int(PAGE);
      input.push(`c ${addr}`);
      expected.push(regions.contains(addr) ? '1' : '0');
    }
  }
  return { input: `${input.join('\n')}\n`, expected };
}

for (const [name, program] of [
  ['mappings.c', exe],
  ['mappings.c under AddressSanitizer', asanExe],
] as const) {
  test(`${name} removes the same pieces as the reader's MappedRegions`, () => {
    for (const seed of [1, 2, 3]) {
      const { input, expected } = script(seed, 20_000);
      const r = spawnSync(program, [], { input, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1' } });
      assert.equal(r.status, 0, r.stderr);
      const got = r.stdout.trimEnd().split('\n');
      assert.equal(got.length, expected.length, `seed ${seed}: one line per command`);
      for (let i = 0; i < expected.length; i++) {
        if (got[i] !== expected[i]) assert.fail(`seed ${seed}, output line ${i + 1}: got '${got[i]}', the reader gives '${expected[i]}'`);
      }
    }
  });
}
