// memlens run --push and memlens attach --push against the real components the test setup builds
// (docs/deployment.md, "How the push was verified here"): the Pyroscope push API served by Pyroscope's own
// Connect handler and protobuf types (the server cannot be built here), with Pyroscope's ingestion checks;
// an OpenTelemetry Collector (v0.165, OTLP receiver with profiles) that writes what it understood; and
// `go tool pprof`, which must read every profile pushed. The program allocates known blocks: those of 4 ×
// the rate or more are recorded exactly, so their sums over all pushed intervals are checked to the byte.
//
// And the bad inputs: an unreachable URL, a backend that refuses, one too slow to answer, a malformed rate,
// options that cannot go together: each a one-line message, the program unharmed (same output, same exit
// status).

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NODE_FLAGS } from '../../src/util/node-flags.js';
import { type Finished, finished, MEMLENS_BIN, tempDir } from '../support/memlens-run.js';
import { type ReceivedRequest, freePort, startCollector, startPyroscopeReceiver } from '../support/push-backends.js';
import { testPythons } from '../support/pythons.js';

const ROUNDS = 6;
// bytearray(n) allocates n + 1 bytes.
const HOLD = 3_000_001;
const CHURN = 5_000_001;
const PROGRAM = `import sys
import time

KEEP = []


def hold():
    KEEP.append(bytearray(${HOLD - 1}))


def churn():
    x = bytearray(${CHURN - 1})
    del x


def small():
    for _ in range(3000):
        KEEP.append(bytearray(1500))


for i in range(${ROUNDS}):
    hold()
    churn()
    small()
    time.sleep(0.3)
print("program done")
sys.exit(3)
`;

const work = tempDir('memlens-push-');
after(() => work.remove());
const python = (testPythons()[0] as { python: string }).python;

function memlensArgs(args: readonly string[]): string[] {
  return [...NODE_FLAGS, MEMLENS_BIN, ...args];
}

/** memlens run ARGS prog.py in a directory of its own. */
function runPushed(name: string, args: readonly string[], env: Record<string, string> = {}): Promise<Finished> {
  const dir = join(work.dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'prog.py'), PROGRAM);
  return finished(spawn(process.execPath, memlensArgs(['run', '--python', python, ...args, 'prog.py']), { cwd: dir, env: { ...process.env, MEMLENS_SAMPLE_SEED: '5', ...env } }));
}

/** Sums of each sample type per innermost function over every pushed profile, and the last profile's. */
function totals(requests: readonly ReceivedRequest[]): { sums: Map<string, number[]>; last: Map<string, number[]> } {
  const sums = new Map<string, number[]>();
  let last = new Map<string, number[]>();
  for (const r of requests) {
    for (const s of r.series) {
      for (const sample of s.samples) {
        const now = new Map<string, number[]>();
        for (const x of sample.profile?.samples ?? []) {
          const fn = (x.stack[x.stack.length - 1] ?? '').split(' ')[0] as string;
          const acc = sums.get(fn) ?? [0, 0, 0, 0];
          x.values.forEach((v, i) => (acc[i] = (acc[i] as number) + v));
          sums.set(fn, acc);
          const cur = now.get(fn) ?? [0, 0, 0, 0];
          x.values.forEach((v, i) => (cur[i] = (cur[i] as number) + v));
          now.set(fn, cur);
        }
        last = now;
      }
    }
  }
  return { sums, last };
}

test('memlens run --push: Pyroscope push requests with the labels, headers and known values; go tool pprof reads every profile', async () => {
  const out = join(work.dir, 'pyroscope-out');
  const backend = await startPyroscopeReceiver(out);
  try {
    const r = await runPushed('pyroscope', ['--push', backend.url, '--push-interval', '1', '--label', 'version=1.4.2', '--label', 'pod=web-7', '--tenant', 'acme'], { MEMLENS_PUSH_TOKEN: 's3cret' });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, 'program done\n');
    assert.match(r.stderr, /memlens: pushed (\d+) of \1 profiles to http:\/\/127\.0\.0\.1:\d+\n/);
    const requests = backend.requests();
    assert.ok(requests.length >= 1);
    for (const q of requests) {
      assert.equal(q.answered, 'ok');
      assert.equal(q.headers['X-Scope-OrgID'], 'acme');
      assert.equal(q.headers['Authorization'], 'Bearer s3cret');
      assert.equal(q.headers['Content-Type'], 'application/proto');
      assert.equal(q.series.length, 1);
      const s = q.series[0];
      assert.ok(s !== undefined);
      assert.deepEqual(s.labels, { __name__: 'memory', service_name: 'prog', __delta__: 'false', version: '1.4.2', pod: 'web-7' });
      assert.equal(s.errors, null, 'Pyroscope would accept the labels');
      for (const sample of s.samples) {
        assert.equal(sample.errors, null, `Pyroscope would accept the profile: ${JSON.stringify(sample.errors)}`);
        assert.deepEqual(sample.profile?.sampleTypes, ['alloc_objects/count', 'alloc_space/bytes', 'inuse_objects/count', 'inuse_space/bytes']);
        assert.equal(sample.profile?.periodType, 'space/bytes');
        assert.equal(sample.profile?.period, 512 * 1024);
        assert.ok((sample.profile?.durationNanos ?? 0) > 0);
        // The official reader reads every one.
        const raw = execFileSync('go', ['tool', 'pprof', '-raw', sample.file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
        assert.match(raw, /alloc_objects\/count alloc_space\/bytes inuse_objects\/count inuse_space\/bytes/);
      }
    }
    const { sums, last } = totals(requests);
    // Blocks of 4 × the rate or more are exact: summed over the intervals, what the program allocated.
    assert.deepEqual(sums.get('hold')?.slice(0, 2), [ROUNDS, ROUNDS * HOLD]);
    assert.deepEqual(sums.get('churn')?.slice(0, 2), [ROUNDS, ROUNDS * CHURN]);
    // The last profile: what is live at the end.
    assert.deepEqual(last.get('hold')?.slice(2), [ROUNDS, ROUNDS * HOLD]);
    assert.equal(last.get('churn')?.[3] ?? 0, 0);
    // Small blocks are estimated: within five standard deviations (√(R/B)) of what was allocated.
    const smallBytes = ROUNDS * 3000 * 1501;
    const est = sums.get('small')?.[1] ?? 0;
    assert.ok(Math.abs(est / smallBytes - 1) < 5 * Math.sqrt((512 * 1024) / smallBytes), `small: ${est} estimated for ${smallBytes}`);
  } finally {
    await backend.stop();
  }
});

test("memlens run --push --native: numpy's C functions under the Python frames, named from its symbol table", async () => {
  const py = testPythons().find((p) => !p.system) ?? testPythons()[0];
  assert.ok(py !== undefined);
  const dir = join(work.dir, 'native');
  mkdirSync(dir, { recursive: true });
  // np.ones(3_000_000): 24,000,000 bytes from numpy's allocator, far above 4 × the rate (recorded exactly).
  writeFileSync(join(dir, 'nat.py'), 'import time\nimport numpy as np\nKEEP = []\n\n\ndef hold():\n    KEEP.append(np.ones(3_000_000))\n\n\nfor _ in range(3):\n    hold()\n    time.sleep(0.3)\n');
  const backend = await startPyroscopeReceiver(join(work.dir, 'native-out'));
  try {
    const child = spawn(process.execPath, memlensArgs(['run', '--python', py.python, '--native', '--push', backend.url, '--push-interval', '1', 'nat.py']), {
      cwd: dir,
      env: { ...process.env, MEMLENS_SAMPLE_SEED: '5' },
    });
    const r = await finished(child);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /memlens: pushed (\d+) of \1 profiles? /, 'a short program may end within its first interval: one profile');
    let held = 0;
    const names = new Set<string>();
    for (const q of backend.requests()) {
      for (const sample of q.series[0]?.samples ?? []) {
        assert.equal(sample.errors, null, `Pyroscope would accept the profile: ${JSON.stringify(sample.errors)}`);
        execFileSync('go', ['tool', 'pprof', '-raw', sample.file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
        for (const x of sample.profile?.samples ?? []) {
          const at = x.stack.findIndex((f) => f.startsWith('hold '));
          const leaf = x.stack[x.stack.length - 1] ?? '';
          if (at < 0 || !leaf.includes('_multiarray_umath')) continue;
          // Below hold(): the interpreter's own frames are left out, numpy's C functions are named.
          for (const f of x.stack.slice(at + 1)) assert.doesNotMatch(f, /\+0x[0-9a-f]+ /, `${f}: a function name, not an offset`);
          names.add(leaf.split(' ')[0] as string);
          held += x.values[1] as number;
        }
      }
    }
    assert.ok(
      [...names].some((n) => /^(PyDataMem_UserNEW|default_malloc|PyArray_NewFromDescr_int|array_empty)$/.test(n)),
      JSON.stringify([...names]),
    );
    assert.ok(held >= 3 * 24_000_000, `numpy's blocks under hold(): ${held} bytes`);
  } finally {
    await backend.stop();
  }
});

test('configured by the environment alone (containers): MEMLENS_PUSH_URL, MEMLENS_SERVICE_NAME, MEMLENS_LABELS', async () => {
  const backend = await startPyroscopeReceiver(join(work.dir, 'env-out'));
  try {
    const r = await runPushed('env', ['-q'], { MEMLENS_PUSH_URL: backend.url, MEMLENS_SERVICE_NAME: 'checkout', MEMLENS_LABELS: 'version=2.0,region=eu', MEMLENS_PUSH_INTERVAL: '1' });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stderr, '', '-q: nothing but warnings');
    const requests = backend.requests();
    assert.ok(requests.length >= 1);
    for (const q of requests) assert.deepEqual(q.series[0]?.labels, { __name__: 'memory', service_name: 'checkout', __delta__: 'false', version: '2.0', region: 'eu' });
  } finally {
    await backend.stop();
  }
});

test('memlens run --push-otlp: a real OpenTelemetry Collector receives the profiles, stacks and values', async () => {
  const dir = join(work.dir, 'otel');
  mkdirSync(dir, { recursive: true });
  const collector = await startCollector(dir);
  try {
    const r = await runPushed('otlp', ['--push-otlp', collector.url, '--push-interval', '1', '--label', 'version=1.4.2']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /memlens: pushed (\d+) of \1 profiles to http:\/\/127\.0\.0\.1:\d+\n/);
    const profiles = collector.profiles();
    assert.ok(profiles.length >= 4, collector.log());
    const sums = new Map<string, number>();
    for (const p of profiles) {
      assert.equal(p.resource['service.name'], 'prog');
      assert.equal(p.resource['version'], '1.4.2');
      assert.equal(typeof p.resource['process.pid'], 'number');
      assert.equal(p.scope, 'memlens');
      assert.deepEqual([p.periodType, p.period], ['space', 512 * 1024]);
      for (const s of p.samples ?? []) {
        // Python's own start-up allocates outside any Python frame: '<no Python stack>'.
        assert.ok(s.stack[0] === '<no Python stack> :0' || (s.stack.length >= 2 && /^<module> .*prog\.py:\d+$/.test(s.stack[0] as string)), JSON.stringify(s.stack));
        const fn = (s.stack[s.stack.length - 1] as string).split(' ')[0] as string;
        const key = `${p.sampleType}/${fn}`;
        sums.set(key, (sums.get(key) ?? 0) + (s.values[0] as number));
      }
    }
    assert.equal(sums.get('alloc_space/hold'), ROUNDS * HOLD);
    assert.equal(sums.get('alloc_objects/churn'), ROUNDS);
    assert.equal(sums.get('alloc_space/churn'), ROUNDS * CHURN);
  } finally {
    await collector.stop();
  }
});

test('an unreachable URL: one warning, the program unharmed, the loss counted', async () => {
  const port = await freePort();
  const r = await runPushed('unreachable', ['--push', `http://127.0.0.1:${port}`, '--push-interval', '1']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'program done\n');
  const warnings = r.stderr.split('\n').filter((l) => l.includes('warning'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0] as string, /^memlens: warning: push to http:\/\/127\.0\.0\.1:\d+ failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\); retrying/);
  assert.match(r.stderr, /memlens: pushed 0 of (\d+) profiles to http:\/\/127\.0\.0\.1:\d+ \(\1 not sent before the end; last error: connect ECONNREFUSED/);
});

test('a backend that refuses: its reason in one line, the program unharmed', async () => {
  const backend = await startPyroscopeReceiver(join(work.dir, 'refuse-out'), ['-refuse']);
  try {
    const r = await runPushed('refused', ['--push', backend.url, '--push-interval', '1']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'program done\n');
    const warnings = r.stderr.split('\n').filter((l) => l.includes('warning'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0] as string, /Pyroscope at http:\/\/127\.0\.0\.1:\d+ refused a profile \(HTTP 403: permission_denied: this receiver refuses every push \(-refuse\)\); it is dropped/);
    assert.match(r.stderr, /pushed 0 of (\d+) profiles .*\(\1 refused/);
  } finally {
    await backend.stop();
  }
});

test('a backend too slow to answer: the program is not slowed or harmed, memlens ends in bounded time and counts the loss', async () => {
  const backend = await startPyroscopeReceiver(join(work.dir, 'slow-out'), ['-delay', '1h']);
  try {
    const r = await runPushed('slow', ['--push', backend.url, '--push-interval', '1']);
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'program done\n');
    // Whether a request's own 10 s timeout is reported first depends on when the first push went out against
    // the program's end (the end's deadline is 10 s from then): on a busy machine the first push can be the
    // last profile's, and the deadline comes first (ci-49). The timeout itself is src/cli/push/pusher.test.ts's.
    assert.match(r.stderr, /pushed 0 of (\d+) profiles .*not sent before the end/);
    assert.doesNotMatch(r.stderr, /pushed [1-9]/);
  } finally {
    await backend.stop();
  }
});

test('bad input: one line, exit status 2, nothing started', async () => {
  const cases: [readonly string[], RegExp][] = [
    [['--sample-rate', 'lots'], /^memlens: error: run: --sample-rate lots: give the mean bytes between samples, from 1 to 1G, such as 512K or 1M\n$/],
    [['--sample-rate', '1M', '--aggregate'], /^memlens: error: run: sampling cannot be combined with --aggregate: .*\n$/],
    [['--push', 'http://127.0.0.1:9', '--live'], /^memlens: error: run: --live cannot be combined with pushing: .*\n$/],
    [['--push', 'http://127.0.0.1:9', '--follow-fork'], /^memlens: error: run: --follow-fork cannot be combined with pushing: .*\n$/],
    [['--push', 'pyroscope:4040'], /^memlens: error: run: --push 'pyroscope:4040': memlens pushes over http or https, not pyroscope\n$/],
    [['--push', 'http://h', '--label', 'pod'], /^memlens: error: run: --label 'pod': give KEY=VALUE, .*\n$/],
  ];
  for (const [args, message] of cases) {
    const r = await runPushed('bad', args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', 'the program did not run');
    assert.match(r.stderr, message);
  }
});

test('memlens attach PID --push: profiles of a running process until memlens is stopped; the process goes on', async () => {
  const backend = await startPyroscopeReceiver(join(work.dir, 'attach-out'));
  const dir = join(work.dir, 'attach');
  mkdirSync(dir, { recursive: true });
  // The service polls a file for work (a process blocked in a read would not run the attach until it
  // returns): each line is one block to allocate, a line 'stop' ends it.
  const control = join(dir, 'control');
  writeFileSync(control, '');
  const service = `import sys, time
KEEP = []
print("ready", flush=True)
done = 0
while True:
    lines = open(sys.argv[1]).read().split()
    for line in lines[done:]:
        if line == "stop":
            print("service done", len(KEEP), flush=True)
            sys.exit(0)
        KEEP.append(bytearray(${HOLD - 1}))  # HOLD
        print("held", len(KEEP), flush=True)
    done = len(lines)
    time.sleep(0.05)
`;
  writeFileSync(join(dir, 'service.py'), service);
  const target = spawn(python, ['service.py', control], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let targetOut = '';
  target.stdout.on('data', (d: Buffer) => (targetOut += d.toString()));
  const send = (line: string): void => writeFileSync(control, `${line}\n`, { flag: 'a' });
  const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 120_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  let memlens: ChildProcess | undefined;
  try {
    await waitFor(() => targetOut.includes('ready'), 'the target');
    memlens = spawn(process.execPath, memlensArgs(['attach', String(target.pid), '--push', backend.url, '--push-interval', '1', '--service-name', 'svc']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    memlens.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const ended = new Promise<number | null>((r) => memlens?.on('exit', (code) => r(code)));
    await waitFor(() => err.includes('pushing a memory profile') || memlens?.exitCode !== null, `the attach (${err})`);
    for (let i = 0; i < 3; i++) send('go');
    await waitFor(() => targetOut.includes('held 3'), 'the target to allocate');
    await waitFor(
      () => backend.requests().some((q) => q.series.some((s) => s.samples.some((x) => x.profile?.samples.some((y) => y.stack.some((f) => f.includes('service.py')))))),
      "a profile with the target's stack",
    );
    memlens.kill('SIGTERM');
    assert.equal(await ended, 0, err);
    assert.match(err, /memlens: pushed (\d+) of \1 profiles/);
    // Detached: the target goes on, and ends as it would have.
    send('go');
    send('stop');
    const code = await new Promise<number | null>((r) => target.on('exit', (c) => r(c)));
    assert.equal(code, 0);
    assert.match(targetOut, /service done 4/);
    // The blocks of the HOLD line (above 4 × the rate: exact); the loop's own small allocations at module
    // level are sampled, so they are not counted here.
    const holdLine = service.split('\n').findIndex((l) => l.includes('# HOLD')) + 1;
    const held = [0, 0];
    for (const q of backend.requests()) {
      for (const x of q.series[0]?.samples[0]?.profile?.samples ?? []) {
        if ((x.stack[x.stack.length - 1] ?? '').endsWith(`service.py:${holdLine}`)) x.values.slice(0, 2).forEach((v, i) => (held[i] = (held[i] as number) + v));
      }
    }
    assert.deepEqual(held, [3, 3 * HOLD], 'the three blocks allocated while attached, exactly');
    for (const q of backend.requests()) assert.equal(q.series[0]?.labels['service_name'], 'svc');
  } finally {
    memlens?.kill('SIGKILL');
    target.kill('SIGKILL');
    await backend.stop();
  }
});

test("memlens attach PID --push --native: numpy's C functions by name in the profiles of a running process", async () => {
  const py = testPythons().find((p) => !p.system) ?? testPythons()[0];
  assert.ok(py !== undefined);
  const backend = await startPyroscopeReceiver(join(work.dir, 'attach-native-out'));
  const dir = join(work.dir, 'attach-native');
  mkdirSync(dir, { recursive: true });
  const control = join(dir, 'control');
  writeFileSync(control, '');
  // As above: the service polls a file; each line 'go' holds one more numpy array of 24,000,000 bytes.
  writeFileSync(
    join(dir, 'service.py'),
    'import sys, time\nimport numpy as np\nKEEP = []\nprint("ready", flush=True)\ndone = 0\nwhile True:\n    lines = open(sys.argv[1]).read().split()\n    for line in lines[done:]:\n        if line == "stop":\n            sys.exit(0)\n        KEEP.append(np.ones(3_000_000))\n        print("held", len(KEEP), flush=True)\n    done = len(lines)\n    time.sleep(0.05)\n',
  );
  const target = spawn(py.python, ['service.py', control], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  let targetOut = '';
  target.stdout.on('data', (d: Buffer) => (targetOut += d.toString()));
  const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 120_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const numpyStacks = (): string[][] =>
    backend.requests().flatMap((q) => (q.series[0]?.samples[0]?.profile?.samples ?? []).map((x) => x.stack).filter((s) => (s[s.length - 1] ?? '').includes('_multiarray_umath')));
  let memlens: ChildProcess | undefined;
  try {
    await waitFor(() => targetOut.includes('ready'), 'the target');
    memlens = spawn(process.execPath, memlensArgs(['attach', String(target.pid), '--native', '--push', backend.url, '--push-interval', '1']), { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    memlens.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const ended = new Promise<number | null>((r) => memlens?.on('exit', (code) => r(code)));
    await waitFor(() => err.includes('pushing a memory profile') || memlens?.exitCode !== null, `the attach (${err})`);
    writeFileSync(control, 'go\ngo\n', { flag: 'a' });
    await waitFor(() => targetOut.includes('held 2'), 'the target to allocate');
    await waitFor(() => numpyStacks().length > 0, "a profile with numpy's frames");
    memlens.kill('SIGTERM');
    assert.equal(await ended, 0, err);
    const stacks = numpyStacks();
    for (const s of stacks) {
      assert.ok(
        s.some((f) => f.includes('service.py')),
        `under the service's Python frames: ${JSON.stringify(s)}`,
      );
      assert.doesNotMatch(s[s.length - 1] as string, /\+0x[0-9a-f]+ /, 'a function name, not an offset');
    }
    writeFileSync(control, 'stop\n', { flag: 'a' });
    assert.equal(await new Promise<number | null>((r) => target.on('exit', (c) => r(c))), 0, 'detached, the service ends as it would have');
  } finally {
    memlens?.kill('SIGKILL');
    target.kill('SIGKILL');
    await backend.stop();
  }
});
