import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameTable } from './frames.js';

const paths = { stdlibDirs: ['/usr/lib/python3.11'], sitePackages: ['/srv/venv/lib/python3.11/site-packages'], sysPath: ['/srv/app'] };

test('intern(): one frame per (function, file, line, native), ids in order of first intern, the kind of the first', () => {
  const t = new FrameTable(paths);
  const keys: [string, string, number, boolean][] = [
    ['f', '/srv/app/a.py', 1, false],
    ['f', '/srv/app/a.py', 2, false], // another line
    ['f', '/srv/app/b.py', 1, false], // another file
    ['g', '/srv/app/a.py', 1, false], // another function
    ['f', '/srv/app/a.py', 1, true], // native
    ['f\u0000/srv/app/a.py', '1', 1, false], // the old joined key's parts moved across its separators
    ['f', '/srv/app/a.py\u00001', 1, false],
    ['a.py', 'f', 1, false], // function and file swapped
    ['f', '/srv/app/a.py', 2 ** 31 - 1, false],
  ];
  keys.forEach(([func, file, line, native], i) => assert.equal(t.intern(func, file, line, native), i, `${func} ${file} ${line} ${native}`));
  keys.forEach(([func, file, line, native], i) => assert.equal(t.intern(func, file, line, native, 'internal'), i));
  assert.equal(t.frames.length, keys.length);
  for (const [i, [func, file, line, native]] of keys.entries()) {
    const f = t.frame(i as never);
    assert.deepEqual([f.id, f.function, f.file, f.line, f.native], [i, func, file, line, native]);
    assert.equal(f.kind, 'user');
  }
});

test('intern(): module and type from the file, the same for each frame of a file', () => {
  const t = new FrameTable(paths);
  const a = t.frame(t.intern('loads', '/usr/lib/python3.11/json/decoder.py', 10, false));
  const b = t.frame(t.intern('decode', '/usr/lib/python3.11/json/decoder.py', 20, false));
  const c = t.frame(t.intern('main', '/srv/app/tool.py', 3, false));
  const d = t.frame(t.intern('dot', '/srv/venv/lib/python3.11/site-packages/numpy/core/numeric.py', 0, true, 'internal'));
  assert.deepEqual([a.module, a.moduleType, b.module, b.moduleType], ['json.decoder', 'stdlib', 'json.decoder', 'stdlib']);
  assert.deepEqual([c.module, c.moduleType, c.kind], ['tool', 'project', 'user']);
  assert.deepEqual([d.module, d.moduleType, d.kind], ['numpy.core.numeric', 'site-packages', 'internal']);
});
