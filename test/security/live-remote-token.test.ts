// `memlens run --live-remote` serves the whole capture (command line, working directory, every record) on a
// loopback port. Any local user can connect to such a port: here memlens-test-other tries, without the
// token, with a wrong one, and the way the old server answered anyone (just reading). The user who started
// it watches with `memlens live PORT` (the token is in their private directory); given the printed token,
// another account may too. The port is bound on 127.0.0.1 only.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { asOther, makeArena, spawnMemlensAsRoot, until, type Arena } from '../support/other-user.js';

let arena: Arena;
before(() => {
  arena = makeArena('live-remote');
});
after(() => arena.remove());

/** A client run as the other user: connects, optionally sends a line, and reports what it received. */
const CLIENT = `
const net = require('net');
const [port, line] = process.argv.slice(1);
const s = net.connect(Number(port), '127.0.0.1');
const got = [];
s.on('connect', () => { if (line !== '') s.write(line); });
s.on('data', (d) => got.push(d));
s.on('error', () => {});
const done = () => { const b = Buffer.concat(got); process.stdout.write(JSON.stringify({ bytes: b.length, text: b.toString('latin1') })); process.exit(0); };
s.on('close', done);
setTimeout(done, 3000);
`;

function tryAsOther(port: string, line: string): { bytes: number; text: string } {
  const r = asOther([process.execPath, '-e', CLIENT, port, line]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { bytes: number; text: string };
}

/** The local address a TCP socket listening on `port` is bound to, from /proc/net/tcp (hex, as the kernel writes it). */
function listenAddress(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A')
    .map((f) => f[1] ?? '');
}

test('another local user gets nothing of the stream without the token; the user who started it, and anyone given the token, get all of it', async () => {
  const prog = join(arena.root, 'secret_prog.py');
  // It runs until the test is done with it (the stop file; at most 3,000 rounds): on a busy machine the
  // checks below may take longer than any fixed run, and the token is forgotten when the stream ends.
  const stop = join(arena.root, 'stop');
  writeFileSync(prog, `import os, time\nx = []\nfor i in range(3000):\n    x.append(bytearray(4096)); time.sleep(0.02)\n    if os.path.exists(${JSON.stringify(stop)}):\n        break\n`);
  const capture = join(arena.root, 'remote.mlens');
  const runner = spawnMemlensAsRoot(['run', '--live-remote', '-o', capture, '--python', '/usr/bin/python3', prog, '--the-secret-argument'], { home: arena.home, cwd: arena.root });
  let err = '';
  runner.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => runner.on('exit', (c) => r(c)));
  let port: string;
  try {
    await until(`the token line in: ${err}`, () => /MEMLENS_LIVE_TOKEN=(\S+) memlens live (\d+)/.test(err));
    const m = /MEMLENS_LIVE_TOKEN=(\S+) memlens live (\d+)/.exec(err) ?? [];
    const token = m[1] ?? '';
    port = m[2] ?? '';
    assert.match(err, new RegExp(`watch it live with: memlens live ${port}\\n`));
    assert.deepEqual(listenAddress(Number(port)), [`0100007F:${Number(port).toString(16).toUpperCase().padStart(4, '0')}`], 'bound on 127.0.0.1 only');

    for (const line of ['', 'hello\n', `MEMLENS-LIVE 1 ${'A'.repeat(token.length)}\n`, `MEMLENS-LIVE 1 ${token.slice(0, -1)}\n`, `MEMLENS-LIVE 1 ${token}x\n`, 'x'.repeat(5000)]) {
      const got = tryAsOther(port, line);
      assert.ok(
        !got.text.includes('\x89MLENS') && !got.text.includes('the-secret-argument') && !got.text.includes(arena.root),
        `nothing of the capture for ${JSON.stringify(line.slice(0, 30))}: ${got.text.slice(0, 80)}`,
      );
      assert.ok(got.bytes <= 'MEMLENS-LIVE denied\n'.length, `${got.bytes} bytes`);
    }

    // Given the token, the other account gets the stream from its first byte.
    const given = tryAsOther(port, `MEMLENS-LIVE 1 ${token}\n`);
    assert.ok(given.text.startsWith('MEMLENS-LIVE ok\n\x89MLENS'), given.text.slice(0, 40));

    // The user who started it: `memlens live PORT` finds the token in their private directory.
    const token0 = readFileSync(join(arena.home, '.cache', 'memlens', `live-${port}.token`), 'utf8');
    assert.equal(token0, token);
    assert.equal(statSync(join(arena.home, '.cache', 'memlens', `live-${port}.token`)).mode & 0o777, 0o600);
    const viewer = spawnMemlensAsRoot(['live', port, '--web'], { home: arena.home });
    let vout = '';
    viewer.stderr?.on('data', (d: Buffer) => (vout += d.toString()));
    try {
      await until(`the page URL in: ${vout}`, () => /http:\/\/127\.0\.0\.1:\d+\/\S+\//.test(vout));
      const url = /(http:\/\/127\.0\.0\.1:\d+\/\S+\/)/.exec(vout)?.[1] ?? '';
      let state: { locations?: { function: string }[] } = {};
      for (let i = 0; i < 200 && (state.locations ?? []).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = (await (await fetch(`${url}state`)).json()) as typeof state;
      }
      assert.ok(JSON.stringify(state).includes('the-secret-argument'), 'the owner sees the whole capture');
    } finally {
      viewer.kill('SIGINT');
    }
  } finally {
    writeFileSync(stop, '');
    assert.equal(await exited, 0, err);
  }
  // The token is forgotten with the stream; the capture is private.
  assert.ok(!existsSync(join(arena.home, '.cache', 'memlens', `live-${port}.token`)));
  assert.equal(statSync(capture).mode & 0o777, 0o600);
});
