// The agent's C files call each other in layers, not in a circle (issue 14): scripts/agent-graph.mjs
// compiles each agent/src/*.c on its own and builds the file-level dependency graph from `nm` (file A
// depends on file B when A uses a function or variable B defines). Only the expected small cycle may
// remain, and each function is declared in its own file's header.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../support/pythons.js';

interface Graph {
  readonly files: readonly string[];
  readonly components: readonly (readonly string[])[];
  readonly edges: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
  readonly functions: Readonly<Record<string, readonly string[]>>;
}

function graph(): Graph {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'agent-graph.mjs'), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Graph;
}

const g = graph();

test('the only cycle between agent files is hooks ↔ lifecycle', () => {
  // The natural one: the lifecycle hands hooks.c's table to got.c at start, and the _exit hook stops the
  // session (ml_stop) before the process goes.
  const cycles = g.components.filter((c) => c.length > 1);
  assert.deepEqual(cycles, [['hooks', 'lifecycle']]);
  assert.deepEqual(g.edges['hooks']?.['lifecycle'], ['ml_stop']);
  assert.deepEqual(g.edges['lifecycle']?.['hooks'], ['ml_hook_count', 'ml_hook_defs']);
});

test('the layers: state, the encoder and the service stream depend on nothing above them', () => {
  const below = (file: string): string[] => Object.keys(g.edges[file] ?? {}).sort();
  assert.deepEqual(below('state'), [], 'state.c is data only');
  assert.deepEqual(below('encode'), ['mem', 'sink'], 'the encoder reads no session state');
  assert.deepEqual(below('elf'), [], 'ELF reading is pure');
  for (const [file, to] of Object.entries(g.edges)) {
    if (file === 'agent') continue;
    assert.ok(!('agent' in to), `${file}.c calls into agent.c, the ctypes API (${(to['agent'] ?? []).join(', ')})`);
  }
  const streamDeps = below('service_stream');
  for (const upper of ['service', 'thread', 'lifecycle', 'hooks', 'got', 'aggregate']) {
    assert.ok(!streamDeps.includes(upper), `service_stream.c depends on ${upper}.c`);
  }
});

test("each function is declared in its own file's header, and agent.h declares exactly the exports", () => {
  // hooks.c's dlsym entry point is assembly that jumps to its C half: both are declared in hooks.c for
  // the assembler and never called from another file.
  const local = new Set(['ml_hook_dlsym', 'ml_hook_dlsym_c']);
  // pylayout.h is pyframes.c's second header: the per-version layouts and the function that derives one
  // from _Py_DebugOffsets, which agent/test/layout_check.c compiles against without the rest.
  const headers = (file: string): string[] => (file === 'pyframes' ? ['pyframes.h', 'pylayout.h'] : [`${file}.h`]);
  for (const [file, functions] of Object.entries(g.functions)) {
    const text = headers(file)
      .map((h) => readFileSync(join(REPO_ROOT, 'agent', 'src', h), 'utf8'))
      .join('\n');
    for (const fn of functions) {
      if (local.has(fn)) continue;
      assert.match(text, new RegExp(`\\b${fn}\\(`), `${fn} (defined in ${file}.c) is not declared in ${headers(file).join(' or ')}`);
    }
  }
  // And the other way: a header declares only functions its own file defines (static inline ones aside).
  const owner = (header: string): string => (header === 'pylayout' ? 'pyframes' : header);
  for (const h of readdirSync(join(REPO_ROOT, 'agent', 'src')).filter((f) => f.endsWith('.h'))) {
    const text = readFileSync(join(REPO_ROOT, 'agent', 'src', h), 'utf8');
    const defined = new Set(g.functions[owner(h.slice(0, -2))] ?? []);
    for (const m of text.matchAll(/^(?!static|typedef|#)[A-Za-z_][\w *]*?\b((?:ml|memlens)_\w+)\(/gm)) {
      assert.ok(defined.has(m[1] as string), `${h} declares ${m[1]}, which ${owner(h.slice(0, -2))}.c does not define`);
    }
  }
  const api = readFileSync(join(REPO_ROOT, 'agent', 'src', 'agent.h'), 'utf8');
  const declared = [...api.matchAll(/^ML_EXPORT [^(]*\b(\w+)\(/gm)].map((m) => m[1]).sort();
  assert.deepEqual(declared, [...(g.functions['agent'] ?? [])].sort());
  const exported = [...api.matchAll(/\b(memlens_\w+)\(/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(exported)].sort(), declared, 'agent.h declares nothing but the exports');
  for (const file of g.files) {
    if (file === 'agent') continue;
    const text = readFileSync(join(REPO_ROOT, 'agent', 'src', `${file}.h`), 'utf8');
    assert.doesNotMatch(text, /ML_EXPORT/, `${file}.h declares an export: agent.h is the whole API`);
  }
});
