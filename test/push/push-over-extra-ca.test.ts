// NODE_EXTRA_CA_CERTS through memlens's launchers (src/util/extra-ca.ts): bin/memlens.js, started as the
// `memlens` command is (by its first line), sets it aside while node starts and puts it back, so a push
// over https still trusts a certificate authority that only NODE_EXTRA_CA_CERTS names, and the program sees
// the variable as the user set it.
//
// The https server is a few lines of node:https that answers every POST with 200: what is tested is whose
// certificates memlens's node trusts, not the push protocol (test/push/push.test.ts runs the real backends,
// over http). Its certificate is signed by a throwaway authority made here with openssl.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Finished, finished, MEMLENS_BIN, tempDir } from '../support/memlens-run.js';
import { testPythons } from '../support/pythons.js';

const work = tempDir('memlens-extra-ca-');
const python = (testPythons()[0] as { python: string }).python;
const PROGRAM = 'import os, time\nprint(repr(os.environ.get("NODE_EXTRA_CA_CERTS")), repr(os.environ.get("MLENS_CA")))\nKEEP = [bytearray(100000) for _ in range(50)]\ntime.sleep(2.5)\n';

let server: Server;
let url = '';
let posts = 0;
let ca = '';

before(async () => {
  const d = work.dir;
  const ssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: d, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=memlens test CA']);
  ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(d, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  ca = join(d, 'ca.pem');
  writeFileSync(join(d, 'prog.py'), PROGRAM);
  server = createServer({ key: readFileSync(join(d, 'server.key')), cert: readFileSync(join(d, 'server.pem')) }, (req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.close();
  work.remove();
});

/** `memlens run --push URL prog.py`, started by bin/memlens.js's own first line, as the command is. */
function runPushed(env: Record<string, string | undefined>): Promise<Finished> {
  return finished(spawn(MEMLENS_BIN, ['run', '-q', '--python', python, '--push', url, '--push-interval', '1', 'prog.py'], { cwd: work.dir, env }));
}

test('a push over https trusts the authority NODE_EXTRA_CA_CERTS names; the program sees the variable unchanged', async () => {
  posts = 0;
  const r = await runPushed({ ...process.env, NODE_EXTRA_CA_CERTS: ca });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${JSON.stringify(ca).replace(/"/g, "'")} None\n`);
  assert.doesNotMatch(r.stderr, /warning|failed/, r.stderr);
  assert.ok(posts >= 1, `no push reached the server: ${r.stderr}`);
});

test('without it the same push is refused by TLS (the test above can fail), and the program still runs', async () => {
  posts = 0;
  const env = { ...process.env };
  delete env['NODE_EXTRA_CA_CERTS'];
  const r = await runPushed(env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'None None\n');
  assert.match(r.stderr, /memlens: warning: push to https:\/\/127\.0\.0\.1:\d+ failed \(.*(certificate|self.signed|issuer)/i, r.stderr);
  assert.equal(posts, 0);
});
