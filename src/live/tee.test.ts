import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { Tee } from './tee.js';

async function all(it: AsyncIterable<Uint8Array>): Promise<string> {
  let s = '';
  for await (const c of it) s += Buffer.from(c).toString();
  return s;
}

test('without a file, the first view gets the stream from its first byte, however late it starts pulling', async () => {
  const source = new PassThrough();
  const tee = new Tee(source, undefined);
  source.write('header|');
  await new Promise((r) => setImmediate(r));
  const view = tee.reader(); // made after the first chunk went by
  source.write('a|');
  await new Promise((r) => setTimeout(r, 20)); // and pulled from later still
  const got = all(view);
  source.end('b');
  assert.equal(await got, 'header|a|b');
  await tee.done();
});

test('without a file, a second view gets what comes after it', async () => {
  const source = new PassThrough();
  const tee = new Tee(source, undefined);
  const first = all(tee.reader());
  source.write('1|');
  await new Promise((r) => setImmediate(r));
  const second = all(tee.reader());
  source.end('2');
  assert.deepEqual(await Promise.all([first, second]), ['1|2', '2']);
});
