// The sink is replaceable: given an inherited descriptor (fd=N) instead of a file, the agent writes the
// same capture into a pipe, which a reader decodes as it arrives (the live view will use this).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { CaptureDecoder } from '../../src/capture/decoder.js';
import { findAgent } from '../../src/process/agent-files.js';
import { BOOTSTRAP_ENV, bootstrapArgs } from '../../src/process/launch.js';
import { Collector } from '../support/collect.js';
import { tempDir } from '../support/memlens-run.js';
import { bytearraySize, testPythons } from '../support/pythons.js';

test('a capture written into a pipe (fd 3) decodes whole', async (t) => {
  const tmp = tempDir();
  t.after(tmp.remove);
  const py = testPythons()[testPythons().length - 1]!;
  writeFileSync(join(tmp.dir, 'p.py'), 'KEEP = [bytearray(1_234_567)]\nprint("ok")\n');
  const files = findAgent();
  const env = { ...process.env, [BOOTSTRAP_ENV]: JSON.stringify({ run: 'script', agent: files.library, fd: 3 }) };
  const child = spawn(py.python, bootstrapArgs(files, { kind: 'script', path: 'p.py', args: [] }), { cwd: tmp.dir, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  const collector = new Collector();
  const decoder = new CaptureDecoder(collector);
  const pipe = child.stdio[3] as NodeJS.ReadableStream;
  pipe.on('data', (chunk: Buffer) => decoder.feed(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  decoder.end();
  assert.equal(stderr, '');
  assert.equal(stdout, 'ok\n');
  assert.equal(code, 0);
  const c = collector.c;
  assert.deepEqual(c.warnings, []);
  assert.equal(c.header?.writerName, 'memlens-agent');
  assert.equal(c.items.filter((i) => i.type === 'alloc' && i.size === bytearraySize(py, 1_234_567)).length, 1);
  assert.equal(c.items.filter((i) => i.type === 'trailer').length, 1);
});
