// The reports' library (native/mmap_threshold.c) unmaps, when it is loaded, the pages of node's executable and
// libraries that node's start touched (docs/mmap-threshold.md, "node's file pages"): a node process's RssFile
// falls by more than half, and the process runs on as before (what it runs faults back in from the page
// cache). Only pages that are the file's: the relocated tables (RELRO: copies made at load) and node's text
// moved to anonymous memory by --use-largepages stay, or the process would crash at its next call.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MMAP_LIBRARY } from '../src/util/malloc-tuning.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';
import { REPO_ROOT, testPythons } from './support/pythons.js';

// A page of the executable written before the load, as a debugger writes a breakpoint (a copy of the page,
// private to the process, in a read-only mapping): one byte of the ELF header's padding (e_ident[EI_PAD],
// unused), read back after the load. Dropped, the page would be the file's again (0). Node cannot write its
// own read-only pages (no mprotect, and this kernel refuses writes through /proc/self/mem), so a Python
// process does, with ctypes, and calls the library's entry point as node's dlopen would.
const WRITTEN = `import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
exe = os.path.realpath("/proc/self/exe")
lo = next(int(f[0].split("-")[0], 16) for f in (l.split() for l in open("/proc/self/maps"))
          if len(f) > 5 and f[5] == exe and f[1] == "r--p" and f[2] == "00000000")
page = os.sysconf("SC_PAGE_SIZE")
assert libc.mprotect(lo, page, 3) == 0
b = (ctypes.c_ubyte * 16).from_address(lo)
was = b[10]
b[10] = 0x5A
assert libc.mprotect(lo, page, 1) == 0
lib = ctypes.CDLL(sys.argv[1])
lib.napi_register_module_v1.restype = ctypes.c_void_p
lib.napi_register_module_v1.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lib.napi_register_module_v1(None, None)
print(json.dumps({"was": was, "now": b[10]}))
`;

// RssFile and RssAnon (KiB) before and after the library is loaded, then work that needs code node's start
// did not run (zlib, a regular expression, JSON, a collection by the garbage collector) and its results.
const PROBE = `'use strict';
const { readFileSync } = require('node:fs');
const kib = (k) => Number(new RegExp('^' + k + ':\\\\s+(\\\\d+) kB', 'm').exec(readFileSync('/proc/self/status', 'utf8'))[1]);
const before = { file: kib('RssFile'), anon: kib('RssAnon') };
process.dlopen({ exports: {} }, process.argv[1]);
const after = { file: kib('RssFile'), anon: kib('RssAnon') };
const zlib = require('node:zlib');
const text = JSON.stringify(Array.from({ length: 20000 }, (_, i) => ({ i, s: 'x'.repeat(i % 50) })));
const back = zlib.gunzipSync(zlib.gzipSync(text)).toString();
const words = back.match(/"s":"x{49}"/g).length;
let junk = [];
for (let i = 0; i < 200000; i++) junk.push({ i });
junk = null;
console.log(JSON.stringify({ before, after, same: back === text, words }));
`;

interface Seen {
  readonly before: { file: number; anon: number };
  readonly after: { file: number; anon: number };
  readonly same: boolean;
  readonly words: number;
}

function probe(flags: readonly string[]): { code: number | null; signal: string | null; seen: Seen | undefined; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, ...flags, '-e', PROBE, MMAP_LIBRARY], { encoding: 'utf8' });
  const line = r.stdout.trim();
  return { code: r.status, signal: r.signal, seen: line === '' ? undefined : (JSON.parse(line) as Seen), stderr: r.stderr };
}

test("loading the library unmaps node's start pages, and the process runs on", () => {
  assert.ok(existsSync(MMAP_LIBRARY), `${MMAP_LIBRARY} is missing: node scripts/build-agent.mjs builds it`);
  const r = probe([]);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 0, r.stderr);
  const seen = r.seen as Seen;
  // node -e: ~33 MiB of file pages before, ~6 after (measured, 2026-12-07); more than half is a wide margin.
  assert.ok(seen.before.file > 10 * 1024, `RssFile before: ${seen.before.file} KiB`);
  assert.ok(seen.after.file < seen.before.file / 2, `RssFile ${seen.before.file} → ${seen.after.file} KiB`);
  // Nothing anonymous is dropped (the process's own data): RssAnon does not fall.
  assert.ok(seen.after.anon >= seen.before.anon, `RssAnon ${seen.before.anon} → ${seen.after.anon} KiB`);
  assert.equal(seen.same, true);
  assert.equal(seen.words, 400);
});

test('with node text in anonymous huge pages (--use-largepages=on, where the kernel allows) the process runs on', () => {
  const r = probe(['--use-largepages=silent']);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.seen?.same, true);
  assert.equal(r.seen?.words, 400);
});

test('a page of the executable written before the load (a copy of its own, as a breakpoint makes) is kept', () => {
  const py = testPythons()[0];
  assert.ok(py !== undefined);
  const r = spawnSync(py.python, ['-c', WRITTEN, MMAP_LIBRARY], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout) as unknown, { was: 0, now: 0x5a });
});

// bin/memlens.js loads the library for a report before the CLI's bundle runs (node's start with the bundle's
// was the peak of a report on a small capture): preloaded (-r), a probe says at the bundle's first run
// (bin/cli-bundle.js runs it with vm.Script's runInThisContext) whether the library is mapped yet.
const work = mkdtempSync(join(tmpdir(), 'memlens-file-pages-'));
after(() => rmSync(work, { recursive: true, force: true }));
const AT_BUNDLE = join(work, 'at-bundle.cjs');
writeFileSync(
  AT_BUNDLE,
  `'use strict';
const vm = require('node:vm');
const { readFileSync, writeSync } = require('node:fs');
const run = vm.Script.prototype.runInThisContext;
let said = false;
vm.Script.prototype.runInThisContext = function (...args) {
  if (!said) writeSync(2, 'AT-BUNDLE ' + readFileSync('/proc/self/maps', 'utf8').includes('/libmemlens_mmap.so') + '\\n');
  said = true;
  return run.apply(this, args);
};
`,
);

function loadedAtBundle(args: readonly string[]): boolean {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, '-r', AT_BUNDLE, join(REPO_ROOT, 'bin', 'memlens.js'), ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const m = /^AT-BUNDLE (true|false)$/m.exec(r.stderr);
  assert.ok(m !== null, `the bundle did not run: ${r.stderr}`);
  return m[1] === 'true';
}

test("a report has the library loaded (node's start pages dropped) before its bundle runs; another command does not", () => {
  assert.equal(loadedAtBundle(['summary', join(REPO_ROOT, 'test', 'fixtures', 'captures', 'realistic-small.mlens')]), true);
  assert.equal(loadedAtBundle(['--version']), false);
});
