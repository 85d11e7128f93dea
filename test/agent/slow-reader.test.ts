// A reader that stops reading must never hold the program up (issue 11: a live attach froze every Python
// thread of its target, whose agent blocked writing into a socket memlens held open but did not read). The
// agent writes into a pipe on fd 3 that these tests hold open: never read, read only after a long pause,
// or read as it comes. The program's threads must finish their work either way; the agent's queue in
// front of the pipe is bounded (queue_limit_mib), and past it the capture stops, whole, says why, and the
// session ends itself.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { CaptureDecoder } from '../../src/capture/decoder.js';
import { MARKER_KINDS, TRAILER_REASONS } from '../../src/capture/format.js';
import { findAgent } from '../../src/process/agent-files.js';
import { BOOTSTRAP_ENV, bootstrapArgs } from '../../src/process/launch.js';
import { Collector } from '../support/collect.js';
import { tempDir } from '../support/memlens-run.js';
import { label, testPythons } from '../support/pythons.js';

/**
 * Three threads allocate a fixed amount each; with the argument "wait", the last of them says so, and the
 * main thread waits for a line on stdin first (blocked in C, where the agent's pending stop cannot run);
 * then it says whether the session still tracks. With "wait" the threads start their work only once the
 * main thread is in that read: the three threads together fill the queue long before the main thread gets
 * the GIL often enough to reach it, and a stop that ran then, while nothing reads, would give up the
 * capture's tail (its marker with it) after a second without progress (lifecycle.c, STOP_STALL_NS).
 */
const PROGRAM = `import sys, threading, time

wait = sys.argv[1:] == ["wait"]
finished = []
lock = threading.Lock()
go = threading.Event()

def syscall(tid):
    with open(f"/proc/self/task/{tid}/syscall") as f:
        return f.read().split()

def start_when_main_reads():
    # Read while this thread reads it, its own line names the read system call (whose number differs
    # between architectures); the main thread's line then says when it is in read(0, ...).
    read = syscall(threading.get_native_id())[0]
    main = threading.main_thread().native_id
    while syscall(main)[:2] != [read, "0x0"]:
        time.sleep(0.001)
    go.set()

def work(i):
    go.wait()
    keep = []
    for n in range(100000):
        keep.append(bytearray(200 + n % 3000))
        if len(keep) > 200:
            del keep[:100]
    with lock:
        finished.append(i)
        if wait and len(finished) == 3:
            print("work done", flush=True)

threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
if wait:
    threads.append(threading.Thread(target=start_when_main_reads))
else:
    go.set()
for t in threads:
    t.start()
if wait:
    # Blocked in C until the reader reads: the agent's stop, a pending call, cannot run before.
    sys.stdin.readline()
for t in threads:
    t.join()
# The agent's stop is a pending call the main thread runs at its next safe point.
for _ in range(200):
    time.sleep(0.005)
m = sys.modules.get("memlens_agent")
print("done", "tracking" if m is not None and m.current() is not None else "stopped", flush=True)
`;

interface Started {
  readonly child: ChildProcess;
  readonly pipe: Readable;
  /**
   * Starts reading the pipe (until then, nothing takes from it but the first 64 KiB node buffers), at most
   * `perTick` bytes every 20 ms if given; resolves with everything at its end.
   */
  read(perTick?: number): Promise<Buffer[]>;
  /** What was read so far, and whether the pipe closed. */
  readonly received: readonly Buffer[];
  closed(): boolean;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function start(python: string, dir: string, config: Record<string, unknown>, args: readonly string[] = []): Started {
  writeFileSync(join(dir, 'p.py'), PROGRAM);
  const files = findAgent();
  const env = { ...process.env, [BOOTSTRAP_ENV]: JSON.stringify({ run: 'script', agent: files.library, fd: 3, ...config }) };
  const child = spawn(python, bootstrapArgs(files, { kind: 'script', path: 'p.py', args: [...args] }), { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const pipe = child.stdio[3] as Readable;
  // A 'readable' listener keeps the stream paused (node resumes a pipe nobody listens to when the child
  // exits, and what it had buffered would be lost) and reads nothing until told to.
  const chunks: Buffer[] = [];
  let reading = false;
  let limit: number | undefined;
  const drain = (): void => {
    for (let c = pipe.read(limit) as Buffer | null; c !== null; c = limit === undefined ? (pipe.read() as Buffer | null) : null) chunks.push(c);
  };
  pipe.on('readable', () => {
    if (reading && limit === undefined) drain();
  });
  let ended = false;
  const closed = new Promise((r) =>
    pipe.on('close', () => {
      ended = true;
      r(undefined);
    }),
  );
  const read = async (perTick?: number): Promise<Buffer[]> => {
    reading = true;
    limit = perTick;
    if (perTick === undefined) {
      drain();
      await closed;
      return chunks;
    }
    // A slow reader: a little every tick, whatever is there.
    while (!ended) {
      drain();
      await new Promise((r) => setTimeout(r, 20));
    }
    // What node had buffered when the pipe closed.
    for (let c = pipe.read() as Buffer | null; c !== null; c = pipe.read() as Buffer | null) chunks.push(c);
    return chunks;
  };
  return { child, pipe, exited, read, received: chunks, closed: () => ended };
}

/** The exit, or a failure if the program is still held up after `ms` (a guard against a hang, not a timing). */
async function exitWithin(s: Started, ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  const end = await Promise.race([s.exited, guard]);
  clearTimeout(timer);
  if (end === undefined) {
    s.child.kill('SIGKILL');
    assert.fail(`the program did not finish in ${ms / 1000} s while its capture was not read: the agent held it up`);
  }
  return end;
}

/**
 * Once reading started (Started.read), waits until what was read holds the marker that says why the capture
 * stopped (or the pipe closed without one); fails if that takes more than `ms` (a guard against a hang, not
 * a timing).
 */
async function readThroughStop(s: Started, ms: number): Promise<void> {
  const seen = new Collector();
  const decoder = new CaptureDecoder(seen);
  let fed = 0;
  let scanned = 0;
  let stopped = false;
  let late = false;
  const timer = setTimeout(() => (late = true), ms);
  while (!stopped && !s.closed() && !late) {
    for (; fed < s.received.length; fed++) decoder.feed(new Uint8Array(s.received[fed]!.buffer, s.received[fed]!.byteOffset, s.received[fed]!.length));
    for (; scanned < seen.c.items.length && !stopped; scanned++) {
      const i = seen.c.items[scanned]!;
      stopped = i.type === 'marker' && MARKER_KINDS[i.kind] === 'capture-stopped';
    }
    if (!stopped) await new Promise((r) => setTimeout(r, 20));
  }
  clearTimeout(timer);
  if (late) {
    s.child.kill('SIGKILL');
    assert.fail(`no capture-stopped marker in the ${s.received.reduce((n, c) => n + c.length, 0)} bytes read in ${ms / 1000} s`);
  }
}

function decode(chunks: Buffer[]): Collector {
  const collector = new Collector();
  const decoder = new CaptureDecoder(collector);
  for (const c of chunks) decoder.feed(new Uint8Array(c.buffer, c.byteOffset, c.length));
  decoder.end();
  return collector;
}

for (const py of testPythons()) {
  test(`a capture nobody reads holds no thread up, and the session ends itself (Python ${label(py)})`, async (t) => {
    const tmp = tempDir();
    t.after(tmp.remove);
    const s = start(py.python, tmp.dir, { queue_limit_mib: 1 });
    // The pipe is held open and never read.
    const end = await exitWithin(s, 120_000);
    assert.equal(end.code, 0, end.stderr);
    assert.equal(end.stderr, '');
    assert.equal(end.stdout, 'done stopped\n');
    s.pipe.destroy();
  });
}

test('a reader that falls behind gets a whole capture that says where and why it stops', async (t) => {
  const tmp = tempDir();
  t.after(tmp.remove);
  const py = testPythons()[testPythons().length - 1]!;
  const s = start(py.python, tmp.dir, { queue_limit_mib: 1 }, ['wait']);
  // Nothing is read while the program works: the queue reaches its limit, and the capture stops there.
  // Then the reader reads everything, and only then may the program go on to the agent's stop.
  let stdout = '';
  await new Promise<void>((resolve) =>
    s.child.stdout!.on('data', (d: string) => {
      stdout += d;
      if (stdout.includes('work done')) resolve();
    }),
  );
  // The reader reads what was queued, up to the marker that says why the capture stops, before the program
  // goes on: its stop then has nothing to wait for (the trailer fits in the empty pipe).
  const all = s.read();
  await readThroughStop(s, 120_000);
  s.child.stdin!.end('go\n');
  const end = await exitWithin(s, 120_000);
  assert.equal(end.code, 0, end.stderr);
  assert.equal(end.stdout, 'work done\ndone stopped\n');
  const c = decode(await all).c;
  assert.deepEqual(c.warnings, [], 'the capture is whole: the blocks after the limit were left out, not cut');
  const markers = c.items.filter((i) => i.type === 'marker');
  const stopped = markers.filter((m) => m.type === 'marker' && MARKER_KINDS[m.kind] === 'capture-stopped');
  assert.equal(stopped.length, 1, JSON.stringify(markers));
  assert.match(stopped[0]!.type === 'marker' ? stopped[0]!.label : '', /^BEHIND: 1 MiB waited to be written/);
  const trailers = c.items.filter((i) => i.type === 'trailer');
  assert.equal(trailers.length, 1);
  assert.equal(trailers[0]!.type === 'trailer' ? TRAILER_REASONS[trailers[0]!.reason] : '', 'capture-stopped');
  // The capture is a prefix of what was recorded: it stops well before the program's end.
  const allocs = c.items.filter((i) => i.type === 'alloc').length;
  assert.ok(allocs > 1000 && allocs < 300_000, `${allocs} allocations`);
});

test('a reader that keeps up gets everything, without a stop', async (t) => {
  const tmp = tempDir();
  t.after(tmp.remove);
  const py = testPythons()[testPythons().length - 1]!;
  const s = start(py.python, tmp.dir, {});
  const all = s.read();
  const end = await exitWithin(s, 120_000);
  assert.equal(end.stdout, 'done tracking\n');
  const c = decode(await all).c;
  assert.deepEqual(c.warnings, []);
  assert.equal(c.items.filter((i) => i.type === 'marker' && MARKER_KINDS[i.kind] === 'capture-stopped').length, 0);
  const bytearrays = c.items.filter((i) => i.type === 'alloc' && i.size >= 200 && i.size <= 3210).length;
  assert.ok(bytearrays >= 3 * 100000 * 0.9, `${bytearrays} of the program's bytearrays`);
});
