import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { bufferSource, ElfError, findSection, parseElf, readBuildId, readFunctionSymbols } from './elf.js';

// Checked against binutils' readelf on files every Linux machine has.
const LIBC = execFileSync('sh', ['-c', 'ldd /bin/sh | grep -o "/[^ ]*libc.so[^ ]*"'], { encoding: 'utf8' }).trim();

test('sections and build id of libc match readelf', () => {
  const src = bufferSource(readFileSync(LIBC));
  const elf = parseElf(src);
  const readelf = execFileSync('readelf', ['-S', '-W', '-n', LIBC], { encoding: 'utf8' });
  const text = findSection(elf, '.text');
  assert.ok(text !== undefined);
  const line = readelf.split('\n').find((l) => / \.text\s/.test(l)) ?? '';
  const addr = /\.text\s+PROGBITS\s+([0-9a-f]+)/.exec(line)?.[1];
  assert.equal(text.addr, parseInt(addr ?? 'x', 16));
  const buildId = /Build ID: ([0-9a-f]+)/.exec(readelf)?.[1];
  assert.equal(readBuildId(elf, src), buildId);
});

test('function symbols of libc include malloc at the address nm gives', () => {
  const src = bufferSource(readFileSync(LIBC));
  const elf = parseElf(src);
  const syms = readFunctionSymbols(elf, src, { table: 'dynsym' });
  const nm = execFileSync('nm', ['-D', '--defined-only', LIBC], { encoding: 'utf8' });
  const expected = /^([0-9a-f]+) [Tti] malloc(@@\S+)?$/m.exec(nm)?.[1];
  const malloc = syms.find((s) => s.name === 'malloc');
  assert.ok(malloc !== undefined && expected !== undefined);
  assert.equal(malloc.value, parseInt(expected, 16));
  for (let i = 1; i < syms.length; i++) assert.ok((syms[i - 1]?.value ?? 0) <= (syms[i]?.value ?? 0));
});

test('non-ELF and cut ELF input gives ElfError, never anything else', () => {
  assert.throws(() => parseElf(bufferSource(new TextEncoder().encode('#!/bin/sh\n'))), ElfError);
  const bytes = readFileSync(LIBC);
  for (const cut of [4, 16, 63, 64, 100]) {
    assert.throws(() => parseElf(bufferSource(bytes.subarray(0, cut))), ElfError);
  }
  // Past the program headers, a cut file parses with what is there (its section table is gone).
  for (let cut = 64; cut < 70000; cut += 997) {
    try {
      const elf = parseElf(bufferSource(bytes.subarray(0, cut)));
      assert.equal(elf.sections.length, 0);
    } catch (e) {
      assert.ok(e instanceof ElfError, String(e));
    }
  }
});
