import assert from 'node:assert/strict';
import { test } from 'node:test';
import { moduleOfFile, pythonFrameKind, topLevelPackage } from './frame-kinds.js';

test('frames hidden by default: bootstrap and attach scripts, runpy, threading bootstrap; import system apart', () => {
  assert.equal(pythonFrameKind('_find_and_load', '<frozen importlib._bootstrap>'), 'import');
  assert.equal(pythonFrameKind('exec_module', '<frozen importlib._bootstrap_external>'), 'import');
  assert.equal(pythonFrameKind('_find_and_load', '/usr/lib/python3.9/importlib/_bootstrap.py'), 'import');
  assert.equal(pythonFrameKind('main', '/opt/memlens/agent/python/memlens_bootstrap.py'), 'internal');
  assert.equal(pythonFrameKind('_attach', '/tmp/memlens-attach-12-ab/memlens_attach.py'), 'internal');
  assert.equal(pythonFrameKind('census', '/tmp/memlens-attach-12-ab/memlens_census.py'), 'internal');
  assert.equal(pythonFrameKind('_run_code', '/usr/lib/python3.10/runpy.py'), 'internal');
  assert.equal(pythonFrameKind('_run_code', '<frozen runpy>'), 'internal');
  assert.equal(pythonFrameKind('Thread._bootstrap_inner', '/usr/lib/python3.11/threading.py'), 'internal');
  assert.equal(pythonFrameKind('Thread.run', '/usr/lib/python3.11/threading.py'), 'user');
  assert.equal(pythonFrameKind('main', '/srv/app/runpy_helper.py'), 'user');
});

test('modules from the search paths the header recorded', () => {
  const paths = {
    stdlibDirs: ['/usr/lib/python3.11'],
    sitePackages: ['/usr/lib/python3.11/site-packages', '/srv/venv/lib/python3.11/site-packages'],
    sysPath: ['/srv/app', '/srv', '/usr/lib/python3.11'],
  };
  assert.deepEqual(moduleOfFile('/usr/lib/python3.11/json/decoder.py', paths), { module: 'json.decoder', type: 'stdlib' });
  assert.deepEqual(moduleOfFile('/usr/lib/python3.11/site-packages/numpy/core/numeric.py', paths), { module: 'numpy.core.numeric', type: 'site-packages' });
  assert.deepEqual(moduleOfFile('/srv/venv/lib/python3.11/site-packages/pandas/__init__.py', paths), { module: 'pandas', type: 'site-packages' });
  assert.deepEqual(moduleOfFile('/srv/venv/lib/python3.11/site-packages/numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so', paths), {
    module: 'numpy.core._multiarray_umath',
    type: 'site-packages',
  });
  assert.deepEqual(moduleOfFile('/srv/app/etl/load.py', paths), { module: 'etl.load', type: 'project' });
  assert.deepEqual(moduleOfFile('<frozen importlib._bootstrap>', paths), { module: 'importlib._bootstrap', type: 'stdlib' });
  assert.deepEqual(moduleOfFile('/tmp/x/script.py', paths), { module: 'script', type: 'unknown' });
  assert.equal(topLevelPackage('numpy.core.numeric'), 'numpy');
});
