// Cancelling an attach at any instant leaves the target unharmed (issue 11: a Ctrl-C during `memlens attach`
// removed the attach files while the injected statement was pending, and the target died with "SystemError:
// error return without exception set"). The target here is a real Python that queues the injected statement
// as a debugger would (Py_AddPendingCall(PyRun_SimpleString, text), through ctypes instead of gdb: the same
// call, made from inside). A trace function pauses it at its Nth trace event (calls, lines, returns) from the
// moment the statement starts, in every frame it runs; there memlens cancels exactly as `attach` does on Ctrl-C or a timeout
// (withdrawRequest, then removing the attach directory if the request was withdrawn), and the target goes on.
// Points are chosen by event count, spread over the whole attach: no sleeps decide anything.
//
// After each point: no exception reached the program; if memlens withdrew the request, the target does not
// track; if the script had taken it, it reported an outcome, and "ok" means tracking (then stopped for the
// next point), "error" means not tracking.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { findAgent } from '../../src/process/agent-files.js';
import { createSession, injectedStatement, inspectTarget, readSessionFile, removeSession, withdrawRequest, writeRequest } from '../../src/process/attach.js';
import { label, testPythons } from '../support/pythons.js';

const TARGET = `import ctypes, os, sys, threading

api = ctypes.pythonapi
api.Py_AddPendingCall.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
api.Py_AddPendingCall.restype = ctypes.c_int
RUN = ctypes.cast(api.PyRun_SimpleString, ctypes.c_void_p).value

state = {"pause": 0, "count": 0, "done": False, "dir": None, "active": False, "script_at": 0}
keep = []

def tracer(frame, event, arg):
    code = frame.f_code
    statement = code.co_filename == "<string>" and code.co_name == "<module>"
    if statement and event == "call":
        state["active"] = True
    if not state["active"]:
        return None
    # Every event while the statement runs, in every frame it calls (the standard library's too: a pause
    # between os.path.exists and open is a point where the attach files may vanish).
    state["count"] += 1
    if state["script_at"] == 0 and code.co_filename.endswith("/memlens_attach.py"):
        state["script_at"] = state["count"]
    if state["count"] == state["pause"]:
        print("paused", flush=True)
        sys.stdin.readline()
    if statement and event == "return":
        state["active"] = False
        state["done"] = True
    return tracer

def tracking():
    m = sys.modules.get("memlens_agent")
    return m is not None and m.current() is not None

print("ready", os.getpid(), flush=True)
for line in sys.stdin:
    words = line.split()
    try:
        if words[0] == "inject":
            state.update(dir=words[1], pause=int(words[2]), count=0, done=False, active=False, script_at=0)
            text = ctypes.create_string_buffer(open(words[3], "rb").read())
            sys.settrace(tracer)
            assert api.Py_AddPendingCall(RUN, text) == 0
            while not state["done"]:
                keep.append(bytearray(64))  # the program goes on; the pending call runs between these
                del keep[:-10]
            sys.settrace(None)
            print("ran", state["count"], state["script_at"], "tracking" if tracking() else "idle", flush=True)
        elif words[0] == "stop":
            sys.modules["memlens_agent"].current().stop()
            print("stopped", flush=True)
    except BaseException as e:
        print("harmed", type(e).__name__, e, flush=True)
`;

test('cancelling an attach at every point of the injected statement and 60 points of the script leaves the target unharmed', async (t) => {
  const pythons = testPythons();
  const py = pythons[pythons.length - 1]!;
  const work = mkdtempSync(join(tmpdir(), 'memlens-cancel-test-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  writeFileSync(join(work, 'target.py'), TARGET);
  const child = spawn(py.python, [join(work, 'target.py')], { cwd: work, stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done === true) assert.fail(`the target ended (Python ${label(py)}): ${stderr}`);
    return r.value;
  };
  const pid = Number(/^ready (\d+)$/.exec(await next())?.[1]);
  const target = inspectTarget(pid);
  const files = findAgent();
  const say = (s: string): void => void child.stdin.write(`${s}\n`);

  /** One attach, cancelled at trace event `pause` (0: before the statement runs; past the end: never). */
  async function attachCancelledAt(pause: number): Promise<{ events: number; scriptAt: number; withdrawn: boolean | undefined; status: string | undefined; tracking: boolean }> {
    const session = createSession(target, files);
    let removed = false;
    try {
      writeRequest(target, { action: 'attach', session, agentLibrary: files.library, duration: undefined, config: { output: join(work, 'capture.mlens'), overwrite: true, memory_interval_ms: 10 } });
      const statementFile = join(work, 'statement.py');
      writeFileSync(statementFile, injectedStatement(session.targetDir));
      let withdrawn: boolean | undefined;
      const cancel = (): void => {
        withdrawn = withdrawRequest(target, session);
        // What `attach` does next when the request was withdrawn: the directory goes at once.
        if (withdrawn) {
          removeSession(session);
          removed = true;
        }
      };
      if (pause === 0) cancel();
      say(`inject ${session.targetDir} ${pause === 0 ? 1_000_000 : pause} ${statementFile}`);
      let line = await next();
      if (line === 'paused') {
        cancel();
        say('go');
        line = await next();
      }
      const m = /^ran (\d+) (\d+) (tracking|idle)$/.exec(line);
      assert.ok(m !== null, `the target at point ${pause}: ${line} ${stderr}`);
      const status = removed ? undefined : readSessionFile(session, 'status', 4096)?.toString().trim();
      return { events: Number(m[1]), scriptAt: Number(m[2]), withdrawn, status, tracking: m[3] === 'tracking' };
    } finally {
      if (!removed) removeSession(session);
    }
  }

  // An attach nobody cancels: how many trace events it has, where the script starts, and that it tracks.
  const whole = await attachCancelledAt(Number.MAX_SAFE_INTEGER);
  assert.match(whole.status ?? '', /^ok tracking/);
  assert.ok(whole.tracking);
  assert.ok(whole.scriptAt > 1 && whole.events > whole.scriptAt + 60, `${whole.events} trace events, the script from ${whole.scriptAt}`);
  say('stop');
  assert.equal(await next(), 'stopped');

  // Every event of the statement before the script (where the files vanished under it), then 60 points
  // spread over the script and the agent's start.
  const early = Array.from({ length: whole.scriptAt + 1 }, (_, i) => i);
  const spread = Array.from({ length: 60 }, (_, i) => whole.scriptAt + 1 + Math.floor((i * (whole.events - whole.scriptAt - 1)) / 59));
  const points = [...early, ...spread];
  const outcomes = { withdrawn: 0, tracked: 0, refused: 0 };
  for (const pause of points) {
    const r = await attachCancelledAt(pause);
    const where = `cancelled at trace event ${pause} of ${whole.events}`;
    if (r.withdrawn === true) {
      assert.equal(r.tracking, false, `${where}: memlens withdrew the request, yet the target tracks`);
      outcomes.withdrawn++;
    } else {
      assert.ok(r.status !== undefined, `${where}: the script took the request but reported nothing`);
      assert.equal(r.tracking, r.status.startsWith('ok'), `${where}: the script said "${r.status}"`);
      if (r.tracking) {
        say('stop');
        assert.equal(await next(), 'stopped');
        outcomes.tracked++;
      } else {
        outcomes.refused++;
      }
    }
  }
  // Both sides of the race were met: early points withdraw, late ones let the attach finish.
  assert.ok(outcomes.withdrawn > 0 && outcomes.tracked > 0, JSON.stringify(outcomes));
  child.stdin.end();
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /Traceback|Error/);
});
