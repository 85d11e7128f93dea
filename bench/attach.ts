// How long `memlens attach` takes per method, and how long the target is paused by it.
//
// The target is a loop that notes the time every millisecond and, when asked (SIGUSR1), prints the longest
// gap it saw since the previous question: the pause an attach inflicted (the debugger stopping the process,
// the attach script running on the main thread). Run: node dist/bench/attach.js [ROUNDS]
// Needs what the tests need: .cache/pythons.json (a CPython 3.11) and .cache/container.json (3.14).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerInfo, spawnInContainer } from '../test/support/container.js';
import { REPO_ROOT, testPythons } from '../test/support/pythons.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

const TARGET = `import os, signal, sys, time
gap = [0.0]
def report(signum, frame):
    print("gap %.1f" % (gap[0] * 1000), flush=True)
    gap[0] = 0.0
signal.signal(signal.SIGUSR1, report)
print("ready", os.getpid(), flush=True)
last = time.perf_counter()
while True:
    time.sleep(0.001)
    now = time.perf_counter()
    if now - last > gap[0]:
        gap[0] = now - last
    last = now
`;

const MEMLENS = join(REPO_ROOT, 'bin', 'memlens.js');
const rounds = Number(process.argv[2] ?? '5');
const work = mkdtempSync(join(tmpdir(), 'memlens-bench-attach-'));

async function started(child: ChildProcess): Promise<{ pid: number; lines: () => string }> {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  while (!/ready (\d+)/.test(out)) await new Promise((r) => setTimeout(r, 20));
  return { pid: Number(/ready (\d+)/.exec(out)?.[1]), lines: () => out };
}

async function maxGap(pid: number, lines: () => string): Promise<number> {
  const before = (lines().match(/gap [\d.]+/g) ?? []).length;
  process.kill(pid, 'SIGUSR1');
  for (;;) {
    const all = lines().match(/gap ([\d.]+)/g) ?? [];
    if (all.length > before) return Number((all[all.length - 1] ?? 'gap 0').slice(4));
    await new Promise((r) => setTimeout(r, 10));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function measure(label: string, child: ChildProcess, method: string): Promise<void> {
  const { pid, lines } = await started(child);
  const attachMs: number[] = [];
  const pauseMs: number[] = [];
  const detachMs: number[] = [];
  let failure = '';
  try {
    for (let i = 0; i < rounds; i++) {
      await maxGap(pid, lines); // reset the gap
      const out = join(work, `${label}-${i}.mlens`);
      let t = performance.now();
      const a = spawnSync(process.execPath, [...NODE_FLAGS, MEMLENS, 'attach', String(pid), '-o', out, '--method', method], { encoding: 'utf8' });
      if (a.status !== 0) {
        failure = a.stderr.trim().split('\n')[0] ?? '';
        break;
      }
      attachMs.push(performance.now() - t);
      pauseMs.push(await maxGap(pid, lines));
      t = performance.now();
      spawnSync(process.execPath, [MEMLENS, 'detach', String(pid), '--method', method], { encoding: 'utf8' });
      detachMs.push(performance.now() - t);
      rmSync(out, { force: true });
    }
  } finally {
    child.kill('SIGKILL');
  }
  if (failure !== '') {
    console.log(`| ${label} | ${method} | fails here: ${failure} | | |`);
    return;
  }
  console.log(`| ${label} | ${method} | ${median(attachMs).toFixed(0)} ms | ${median(pauseMs).toFixed(1)} ms | ${median(detachMs).toFixed(0)} ms |`);
}

const py = testPythons().find((p) => p.minor === 11 && !p.system) ?? testPythons()[0];
if (py === undefined) throw new Error('no test Python');
const script = join(work, 'target.py');
writeFileSync(script, TARGET);
const { root } = containerInfo();
copyFileSync(script, join(root, 'tmp', 'bench_attach_target.py'));

console.log(`memlens attach, median of ${rounds} rounds (${new Date().toISOString().slice(0, 10)}, ${process.arch})`);
console.log('');
console.log('| target | method | attach (command start to tracking) | longest target pause | detach |');
console.log('|---|---|---|---|---|');
for (const method of ['lldb', 'gdb']) {
  await measure(`CPython ${py.version}`, spawn(py.python, [script], { stdio: ['ignore', 'pipe', 'inherit'] }), method);
}
await measure('CPython 3.14 in another mount namespace', spawnInContainer(['/usr/bin/python3.14', '/tmp/bench_attach_target.py'], { stdio: ['ignore', 'pipe', 'inherit'] }), 'remote-exec');
rmSync(work, { recursive: true, force: true });
