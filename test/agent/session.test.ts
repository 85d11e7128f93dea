// memlens_agent.py's AgentSession from a plain Python program (test/python/agent_session.py): tracking into a
// file in the current interpreter, stop, quiet, a nested start refused with a clear error, and a second
// session after the first; then the two captures hold what they should.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Oracle } from '../support/agent-oracle.js';
import { tempDir } from '../support/memlens-run.js';
import { corePythons, label, REPO_ROOT } from '../support/pythons.js';

const tmp = tempDir('memlens-session-');
after(tmp.remove);

const LIBRARY = join(REPO_ROOT, 'agent', 'build', 'libmemlens_agent.so');

function facts(stdout: string): Map<string, string> {
  return new Map(
    stdout
      .trimEnd()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)] as [string, string]),
  );
}

for (const py of corePythons()) {
  test(`AgentSession in a plain program under CPython ${label(py)}`, async () => {
    const out1 = join(tmp.dir, `first-${py.version}-${py.system ? 'system' : 'venv'}.mlens`);
    const out2 = join(tmp.dir, `second-${py.version}-${py.system ? 'system' : 'venv'}.mlens`);
    const r = spawnSync(py.python, [join(REPO_ROOT, 'test', 'python', 'agent_session.py'), join(REPO_ROOT, 'agent', 'python'), LIBRARY, out1, out2], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const f = facts(r.stdout);
    assert.equal(f.get('active before start'), 'False');
    assert.equal(f.get('current before start'), 'None');
    assert.equal(f.get('unknown option'), 'unknown option: colour');
    assert.equal(f.get('active'), 'True');
    assert.equal(f.get('current is the session'), 'True');
    assert.equal(f.get('output'), 'True');
    assert.equal(f.get('nested start'), `memlens is already tracking this process (into ${out1}): stop that session first`);
    assert.equal(f.get('same session again'), f.get('nested start'));
    assert.equal(f.get('active after stop'), 'False');
    assert.equal(f.get('at_stop ran'), 'True');
    assert.equal(f.get('current after stop'), 'None');
    assert.equal(f.get('first session active'), 'False');
    assert.equal(f.get('second session active'), 'True', "a stopped session's stop() leaves a later session alone");
    assert.match(f.get('existing file') ?? '', /^cannot create the capture file .*first-.*\.mlens: File exists/);
    assert.equal(f.get('done'), 'True');

    const sizes = async (path: string): Promise<number[]> => (await Oracle.load(path)).allocs.map((a) => a.size).filter((s) => s > 1_000_000 && s < 5_000_000);
    const first = await Oracle.load(out1);
    assert.deepEqual(first.warnings, []);
    assert.equal(first.records('trailer').length, 1);
    assert.equal(first.records('trailer')[0]?.reason, 8, 'stop() by the program itself: reason "program"');
    assert.deepEqual(first.header?.argv.slice(1), ['agent_session.py', 'first']);
    const big1 = await sizes(out1);
    assert.ok(
      big1.some((s) => s >= 1_111_111 && s < 1_112_000),
      `the tracked buffer is in the first capture (${big1.join(', ')})`,
    );
    assert.ok(!big1.some((s) => s >= 2_222_222 && s < 2_223_000), 'nothing from the quiet region');
    assert.ok(!big1.some((s) => s >= 3_333_333), 'nothing after stop');
    const big2 = await sizes(out2);
    assert.deepEqual(big2.filter((s) => s >= 4_444_444 && s < 4_445_000).length, 1, `the second session's buffer (${big2.join(', ')})`);
    assert.ok(!big2.some((s) => s < 4_444_444), 'nothing of the first session in the second capture');
  });
}
