import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMANDS as ALL } from './registry.js';
import { COMMANDS as REPORTS, findCommand } from './report-registry.js';

// bin/cli-bundle.js, from dist/src/cli/ (tsc's output) or src/cli/.
const loader = fileURLToPath(new URL('../../../bin/cli-bundle.js', import.meta.url));
const { REPORT_COMMANDS, BUNDLE, REPORTS_BUNDLE, bundleFor } = createRequire(import.meta.url)(loader) as {
  REPORT_COMMANDS: ReadonlySet<string>;
  BUNDLE: string;
  REPORTS_BUNDLE: string;
  bundleFor: (argv: readonly string[]) => string;
};

test("bin/cli-bundle.js starts the reports' bundle for exactly the commands it holds, by name or alias", () => {
  const names = REPORTS.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
  assert.deepEqual([...REPORT_COMMANDS].sort(), [...names].sort());
  for (const name of names) {
    assert.equal(bundleFor(['node', 'memlens', name, 'x.mlens']), REPORTS_BUNDLE, name);
    assert.equal(
      findCommand(name),
      REPORTS.find((c) => c.name === name || (c.aliases ?? []).includes(name)),
      name,
    );
  }
  for (const argv of [['run', 'x.py'], ['attach', '1'], ['--version'], ['--help'], ['help', 'stats'], [], ['stat']]) {
    assert.equal(bundleFor(['node', 'memlens', ...argv]), BUNDLE, argv.join(' '));
  }
});

test("the reports' registry holds the whole CLI's commands themselves, none that starts or follows a process", () => {
  for (const c of REPORTS) assert.ok(ALL.includes(c), c.name);
  const names = REPORTS.map((c) => c.name);
  for (const other of ['run', 'attach', 'detach', 'live', 'census', 'collect']) assert.ok(!names.includes(other), other);
});
