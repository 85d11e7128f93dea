import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageRecord } from '../capture/records.js';
import { ImageTable } from './images.js';

function image(path: string, loadBias: number): ImageRecord {
  return { type: 'image', stream: 0, seq: 1, loadBias, path, buildId: new Uint8Array(), segments: [{ vaddr: 0, memsz: 0x1000, prot: 5, fileOffset: 0 }] };
}

test('the interpreter is recognised by its image name, free-threaded and debug builds included', () => {
  const names: [string, boolean][] = [
    ['/usr/bin/python3', true],
    ['/usr/bin/python3.15', true],
    ['/opt/py/bin/python3.13t', true],
    ['/opt/py/bin/python3.14td', true],
    ['/opt/py/lib/libpython3.13t.so.1.0', true],
    ['/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0', true],
    ['/usr/lib/x86_64-linux-gnu/libc.so.6', false],
    ['/srv/app/python3-helper', false],
    ['/srv/app/pythonista', false],
  ];
  const table = new ImageTable('/srv/venv/bin/python3');
  names.forEach(([path], i) => table.add(image(path, (i + 1) * 0x10000)));
  names.forEach(([path, interpreter], i) => {
    assert.equal(table.name((i + 1) * 0x10000 + 0x10).interpreter, interpreter, path);
  });
});
