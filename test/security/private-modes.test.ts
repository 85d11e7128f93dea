// What memlens creates holds command lines, paths and names of someone's program. Under the usual umask
// (022) captures, reports and exports used to be world-readable, and an attach directory was 0755 with a
// 0777 socket. Here memlens runs as root with umask 022 and another user (memlens-test-other) tries to read
// each file; for an attach to a process of that user, a third one (nobody) tries to get into the attach
// directory and its socket, which the target's user must reach and no one else.

import assert from 'node:assert/strict';
import { lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { asOther, collectorDone, makeArena, memlensAsRoot, NOBODY, otherUser, spawnAsOther, spawnMemlensAsRoot, until, type Arena } from '../support/other-user.js';

let arena: Arena;
before(() => {
  arena = makeArena('private-modes');
});
after(() => arena.remove());

function assertPrivate(path: string, owner: number): void {
  const st = lstatSync(path);
  assert.ok(st.isFile(), path);
  assert.equal(st.mode & 0o777, 0o600, `${path} is 0600`);
  assert.equal(st.uid, owner, `${path} belongs to uid ${owner}`);
}

test('captures, HTML reports and exports are 0600 under umask 022; another user cannot read them', () => {
  // The other user could read the files if they were world-readable: the directory is open to them.
  const prog = join(arena.root, 'prog.py');
  writeFileSync(prog, 'x = [bytearray(1000) for _ in range(200)]\n');
  const r0 = memlensAsRoot(['run', '-q', '-o', join(arena.shared, 'run.mlens'), '--python', '/usr/bin/python3', prog], { home: arena.home, cwd: arena.root });
  assert.equal(r0.code, 0, r0.stderr);
  const noCompress = memlensAsRoot(['run', '-q', '--no-compress', '-o', join(arena.shared, 'raw.mlens'), '--python', '/usr/bin/python3', prog], { home: arena.home, cwd: arena.root });
  assert.equal(noCompress.code, 0, noCompress.stderr);
  const html = memlensAsRoot(['flamegraph', join(arena.shared, 'run.mlens'), '-o', join(arena.shared, 'report.html')], { home: arena.home });
  assert.equal(html.code, 0, html.stderr);
  for (const format of ['pprof', 'speedscope', 'folded', 'csv', 'gprof2dot']) {
    const e = memlensAsRoot(['export', join(arena.shared, 'run.mlens'), '--format', format, '-o', join(arena.shared, `out.${format}`)], { home: arena.home });
    assert.equal(e.code, 0, e.stderr);
  }
  const written = readdirSync(arena.shared).map((n) => join(arena.shared, n));
  assert.equal(written.length, 8, written.join(' '));
  for (const p of written) {
    assertPrivate(p, 0);
    const read = asOther(['cat', p]);
    assert.notEqual(read.code, 0, `${p} cannot be read by another user`);
    assert.match(read.stderr, /Permission denied/);
  }
});

test("attach to another user's process: the attach directory is theirs and 0700, the live socket 0600 and theirs, the capture and a saved census 0600; a third user gets into none", async () => {
  const { uid } = otherUser();
  const code = 'import os, time\nprint("ready", os.getpid(), flush=True)\nx = []\nwhile True:\n    x.append(bytearray(2048)); time.sleep(0.01)\n    if len(x) > 2000: x.clear()\n';
  const target = spawnAsOther(['/usr/bin/python3', '-c', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  target.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  target.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await until('the target', () => /ready \d+/.test(out));
    const pid = Number(/ready (\d+)/.exec(out)?.[1]);
    const dirs = (): string[] => readdirSync('/tmp').filter((n) => n.startsWith(`memlens-attach-${pid}-`));

    // The live view in a browser: the socket exists while it runs.
    const live = spawnMemlensAsRoot(['attach', String(pid), '--web', '--method', 'lldb', '--timeout', '60'], { home: arena.home });
    let err = '';
    live.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    try {
      await until(`the live view: ${err}`, () => /the live view is at/.test(err), 120_000);
      const [name] = dirs();
      assert.ok(name !== undefined);
      const dir = join('/tmp', name);
      const st = lstatSync(dir);
      assert.equal(st.mode & 0o777, 0o700);
      assert.equal(st.uid, uid, "the target's user owns it: its agent writes the status there");
      const sock = lstatSync(join(dir, 'live.sock'));
      assert.ok(sock.isSocket());
      assert.equal(sock.mode & 0o777, 0o600);
      assert.equal(sock.uid, uid, "the target's user connects to it");
      for (const f of readdirSync(dir)) {
        const fst = lstatSync(join(dir, f));
        assert.equal(fst.mode & 0o077, 0, `${f} is private`);
      }
      // A third user, nobody: not into the directory, not to the socket.
      assert.notEqual(asOther(['ls', dir], { ids: NOBODY }).code, 0, 'nobody cannot list the attach directory');
      const connect = asOther(['/usr/bin/python3', '-c', `import socket; s = socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(join(dir, 'live.sock'))})`], { ids: NOBODY });
      assert.match(connect.stderr, /PermissionError/, 'nobody cannot connect to the socket');
    } finally {
      live.kill('SIGINT');
      await new Promise((r) => live.on('exit', r));
    }
    assert.deepEqual(dirs(), [], 'the live view removed its directory');

    // A capture the target writes itself (same file system): 0600, the target's user's.
    const capture = join(arena.shared, 'attached.mlens');
    const a = memlensAsRoot(['attach', String(pid), '-o', capture, '--method', 'lldb', '--timeout', '60', '--no-compress'], { home: arena.home });
    assert.equal(a.code, 0, a.stderr);
    const [name] = dirs();
    assert.ok(name !== undefined);
    assert.equal(lstatSync(join('/tmp', name)).mode & 0o777, 0o700);
    await new Promise((r) => setTimeout(r, 500));
    const d = memlensAsRoot(['detach', String(pid), '--method', 'lldb', '--timeout', '60'], { home: arena.home });
    assert.equal(d.code, 0, d.stderr);
    assertPrivate(capture, uid);
    assert.notEqual(asOther(['cat', capture], { ids: NOBODY }).code, 0);

    // A census saved with -o: memlens writes it, 0600.
    const census = join(arena.shared, 'census.json');
    const c = memlensAsRoot(['census', String(pid), '-o', census, '--paths', '0', '--method', 'lldb', '--timeout', '60'], { home: arena.home });
    assert.equal(c.code, 0, c.stderr);
    assertPrivate(census, 0);
    assert.notEqual(asOther(['cat', census]).code, 0);
    assert.deepEqual(dirs(), [], 'the census left nothing in /tmp');
    assert.equal(target.exitCode, null, `the target runs on: ${out}`);
  } finally {
    target.kill('SIGKILL');
    const pid = Number(/ready (\d+)/.exec(out)?.[1]);
    if (pid > 0) await collectorDone(pid);
  }
});
