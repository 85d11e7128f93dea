// The verdict's "Loaded after the start" on a real attach: a target started plainly loads one library of its own
// (ctypes.CDLL) before memlens attaches and another while attached. The capture's start is the attach, so the
// verdict (text and --json's loaded_after_start) names the second and none of the libraries the process had before
// (the first, ctypes' extension module, libc, libpython), although the agent reports those too, as images, when it
// attaches. On every test CPython (a debugger before 3.14, remote execution after), as attach.test's first test.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readCaptureFile } from '../../src/cli/capture-file.js';
import { MARKER_KINDS } from '../../src/capture/format.js';
import { NODE_FLAGS } from '../../src/util/node-flags.js';
import { Collector } from '../support/collect.js';
import { label, REPO_ROOT, testPythons } from '../support/pythons.js';

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const work = mkdtempSync(join(tmpdir(), 'memlens-late-libraries-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Names no interpreter loads on its own. */
const BEFORE_LIB = join(work, 'libmemlens_test_before_attach.so');
const LATE_LIB = join(work, 'libmemlens_test_late_load.so');

// The target: the first library loaded before "ready", the second once the go file exists (it polls in Python, so
// an attach request runs meanwhile), then a buffer allocated after the load, and it waits to be detached.
const TARGET = `import ctypes, os, sys, time
first = ctypes.CDLL(sys.argv[1])
assert first.before_attach() == 1
print("ready", os.getpid(), flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
late = ctypes.CDLL(sys.argv[2])
assert late.late_load() == 2
KEEP = bytearray(1_500_000)
print("loaded", flush=True)
while True:
    time.sleep(0.02)
`;

before(() => {
  for (const [lib, fn, value] of [
    [BEFORE_LIB, 'before_attach', 1],
    [LATE_LIB, 'late_load', 2],
  ] as const) {
    const src = `${lib}.c`;
    writeFileSync(src, `int ${fn}(void) { return ${value}; }\n`);
    const cc = spawnSync(process.env['CC'] ?? 'cc', ['-shared', '-fPIC', '-o', lib, src], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `building ${lib}: ${cc.stderr}`);
  }
  writeFileSync(join(work, 'late_target.py'), TARGET);
});

function memlens(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Resolves when `child`'s output matches `re`; the deadline only bounds a failure. */
async function waitFor(child: ChildProcess, out: () => string, re: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!re.test(out())) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the target ended before ${what}: ${out()}`);
    if (Date.now() > deadline) throw new Error(`the target did not reach ${what}: ${out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface LoadJson {
  readonly after_ns: number | null;
  readonly by_ns: number | null;
  readonly libraries: readonly { readonly path: string; readonly package: string | null }[];
}

const base = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

for (const py of testPythons()) {
  test(`attach (Python ${label(py)}): the verdict names the library loaded while attached, none loaded before`, async () => {
    const tag = `${py.version}${py.freeThreaded ? 't' : ''}${py.system ? '-system' : ''}`;
    const go = join(work, `go-${tag}`);
    const capture = join(work, `late-${tag}.mlens`);
    const child = spawn(py.python, [join(work, 'late_target.py'), BEFORE_LIB, LATE_LIB, go], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(child, () => out, /ready \d+/, 'ready');
      const a = memlens(['attach', String(child.pid), '-o', capture]);
      assert.equal(a.code, 0, a.stderr);
      writeFileSync(go, '');
      await waitFor(child, () => out, /loaded/, 'the late load');
      const d = memlens(['detach', String(child.pid)]);
      assert.equal(d.code, 0, d.stderr);
    } finally {
      child.kill('SIGKILL');
    }
    assert.ok(existsSync(capture), `${capture} written`);

    // The agent reported the libraries the process had at the attach (the first one among them) before the marker
    // that starts tracking (the one the model's late images count from: tracking-started, or attached); the late one
    // after it.
    const c = new Collector();
    await readCaptureFile(capture, c);
    const starts = [MARKER_KINDS.indexOf('tracking-started'), MARKER_KINDS.indexOf('attached')];
    const attached = c.c.items.findIndex((it) => it.type === 'marker' && starts.includes(it.kind));
    assert.ok(attached >= 0, 'a marker of the start');
    const images = c.c.items.map((it, i) => (it.type === 'image' ? { path: it.path, i } : undefined)).filter((x) => x !== undefined);
    const beforeImage = images.find((x) => x.path === BEFORE_LIB);
    assert.ok(beforeImage !== undefined && beforeImage.i < attached, `the first library reported at the attach: ${JSON.stringify(images.map((x) => x.path))}`);
    assert.ok(
      images.some((x) => x.path === LATE_LIB && x.i > attached),
      JSON.stringify(images.map((x) => x.path)),
    );

    const v = memlens(['verdict', '--json', capture]);
    assert.equal(v.code, 0, v.stderr);
    const loads = (JSON.parse(v.stdout) as { loaded_after_start?: readonly LoadJson[] }).loaded_after_start ?? [];
    const paths = loads.flatMap((l) => l.libraries.map((x) => x.path));
    // The late library, and nothing the process had before the attach: the first library, ctypes' extension
    // module, the interpreter's, the C library's, the agent itself (which the attach loaded, before its start).
    assert.deepEqual(
      paths.filter((p) => p === LATE_LIB),
      [LATE_LIB],
      JSON.stringify(paths),
    );
    assert.ok(!paths.includes(BEFORE_LIB), JSON.stringify(paths));
    assert.ok(!paths.some((p) => /^(_ctypes\.|libc\.so|ld-linux|libpython|libmemlens_agent|libffi)/.test(base(p))), JSON.stringify(paths));
    const late = loads.find((l) => l.libraries.some((x) => x.path === LATE_LIB));
    assert.equal(late?.libraries.find((x) => x.path === LATE_LIB)?.package, null, 'a library outside any package');

    const text = memlens(['verdict', capture]);
    assert.equal(text.code, 0, text.stderr);
    const flat = text.stdout.replace(/\s+/g, ' ');
    // The section (the header names the command line, the first library's path among its arguments).
    const section = flat.slice(flat.indexOf('RSS the tracked heap does not explain'), flat.indexOf('Garbage collector'));
    // When: between two snapshots, or before the first or after the last (snapshots come with time).
    const when = '(between [\\d.]+ s and [\\d.]+ s|by [\\d.]+ s|after [\\d.]+ s|at an unknown time)';
    assert.match(section, new RegExp(`Loaded after the start: ${when}: [^;]*${base(LATE_LIB).replace(/\./g, '\\.')}`), section);
    assert.ok(!section.includes(base(BEFORE_LIB)), section);
  });
}
