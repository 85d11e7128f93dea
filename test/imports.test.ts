// The import rules of src/ (src/README.md), checked two ways. The import graph of the sources — static
// imports, lazy import() and type-only imports alike — has no cycle, and commands load only the shared
// modules of src/cli and their own bodies. And ESLint (eslint.config.js), run through its Node API on a
// deliberately wrong import of each kind, reports it, while allowed imports pass.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { REPO_ROOT } from './support/pythons.js';

// ── the import graph ─────────────────────────────────────────────────────────────────────────────

/** `from '…'`, `import '…'`, `import('…')` (a lazy load, or a type), `export … from '…'`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (entry.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Each file (repository-relative) and the files it imports, resolved (`x.js` is `x.ts`). */
function importGraph(dirs: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of dirs.flatMap((d) => sourceFiles(join(REPO_ROOT, d)))) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(SPECIFIER)].map((m) => relative(REPO_ROOT, resolve(dirname(file), (m[1] as string).replace(/\.js$/, '.ts'))));
    graph.set(relative(REPO_ROOT, file), [...new Set(targets)]);
  }
  return graph;
}

/** Strongly connected components with more than one file, and files that import themselves (Tarjan). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue; // outside the walked folders (test support, node modules)
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the cycle finder finds a cycle through a lazy import, and none where there is none', () => {
  assert.deepEqual(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', []],
      ]),
    ),
    [],
  );
  assert.deepEqual(
    cycles(
      new Map([
        ['a', ['b']],
        ['b', ['c']],
        ['c', ['a']],
        ['d', ['a']],
      ]),
    ),
    [['a', 'b', 'c']],
  );
  const text = "import type { T } from './b.js';\nconst m = await import('./c.js');\nexport { x } from \"../d/e.js\";\nimport './f.js';\n";
  assert.deepEqual(
    [...text.matchAll(SPECIFIER)].map((m) => m[1]),
    ['./b.js', './c.js', '../d/e.js', './f.js'],
  );
});

test('no import cycle in src/ or viewer/src/ (type-only and lazy imports included)', () => {
  const graph = importGraph(['src', 'viewer/src']);
  assert.ok(graph.size > 150, `walked ${graph.size} files`);
  assert.ok((graph.get('src/cli/commands/run.ts') ?? []).includes('src/cli/commands/run.live.ts'), 'lazy imports are edges');
  assert.deepEqual(cycles(graph), []);
});

test('commands load only src/cli shared modules and their own bodies; only the registries load commands', () => {
  const graph = importGraph(['src']);
  const COMMANDS = 'src/cli/commands/';
  const commandOf = (file: string): string => basename(file, '.ts').split('.')[0] as string;
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    if (file.endsWith('.test.ts')) continue;
    for (const t of targets.filter((x) => x.startsWith(COMMANDS))) {
      if (file.startsWith(COMMANDS)) {
        // commands/<name>.ts loads its bodies commands/<name>.<part>.ts; a body loads no other command file.
        if (commandOf(t) !== commandOf(file) || basename(t, '.ts') === commandOf(t)) wrong.push(`${file} -> ${t}`);
      } else if (file !== 'src/cli/registry.ts' && file !== 'src/cli/report-registry.ts') {
        wrong.push(`${file} -> ${t}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

// ── the lint rules ───────────────────────────────────────────────────────────────────────────────

// The boundaries are syntactic, so the probes are linted without the type-aware rules (which would
// need the probe files to exist in the TypeScript project).
const eslint = new ESLint({
  cwd: REPO_ROOT,
  overrideConfig: tseslint.configs.disableTypeChecked,
  ruleFilter: ({ ruleId }) => ['no-restricted-imports', 'no-restricted-syntax'].includes(ruleId),
});

async function lintMessages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(REPO_ROOT, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parser'}: ${m.message}`);
}

const WRONG: readonly (readonly [string, string, string, RegExp])[] = [
  [
    'a lower part imports a higher one',
    'src/model/probe.ts',
    "import { leaks } from '../analysis/leaks.js';\nexport const x = leaks;\n",
    /no-restricted-imports: .*src\/model\/ imports only capture\/, util\//,
  ],
  ['nothing imports cli', 'src/report/probe.ts', "import { main } from '../cli/main.js';\nexport const x = main;\n", /no-restricted-imports: .*src\/report\/ imports only/],
  [
    'siblings do not import each other',
    'src/live/probe.ts',
    "import { renderSummary } from '../report/summary.js';\nexport const x = renderSummary;\n",
    /no-restricted-imports: .*src\/live\/ imports only/,
  ],
  [
    'capture imports nothing above it',
    'src/capture/probe.ts',
    "import type { CaptureModel } from '../model/model.js';\nexport type X = CaptureModel;\n",
    /no-restricted-imports: .*src\/capture\/ imports only util\//,
  ],
  ['util is a leaf', 'src/util/probe.ts', "import { MAX_STRING_LEN } from '../capture/format.js';\nexport const x = MAX_STRING_LEN;\n", /no-restricted-imports: .*src\/util\/ imports only errors\.ts/],
  [
    'html is a leaf',
    'src/html/probe.ts',
    "import { PAYLOAD_ELEMENT_ID } from '../report/html/payload.js';\nexport const x = PAYLOAD_ELEMENT_ID;\n",
    /no-restricted-imports: .*src\/html\/ imports only util\//,
  ],
  ['errors.ts and version.ts are leaves', 'src/probe.ts', "import { main } from './cli/main.js';\nexport const x = main;\n", /no-restricted-imports: .*errors\.ts and version\.ts are leaves/],
  ['a lazy import()', 'src/process/probe.ts', "export async function f(): Promise<unknown> {\n  return import('../cli/main.js');\n}\n", /no-restricted-syntax: src\/process\/ imports only/],
  ['an import() type', 'src/analysis/probe.ts', "export type T = import('../report/summary.js').SummarySort;\n", /no-restricted-syntax: src\/analysis\/ imports only/],
  ['pure parts do no I/O', 'src/model/probe.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", /no-restricted-imports: .*are pure/],
  [
    'the viewer takes only the pure modules of src/',
    'viewer/src/probe.ts',
    "import { main } from '../../src/cli/main.js';\nexport const x = main;\n",
    /no-restricted-imports: .*The viewer imports from src\/ only/,
  ],
];

for (const [kind, file, code, expected] of WRONG) {
  test(`lint: ${kind}`, async () => {
    const messages = await lintMessages(file, code);
    assert.ok(
      messages.some((m) => expected.test(m)),
      `${file}:\n${code}\ngave: ${JSON.stringify(messages)}`,
    );
  });
}

test('lint: the imports the rules allow pass', async () => {
  const allowed: readonly (readonly [string, string])[] = [
    [
      'src/cli/probe.ts',
      "import { main } from './main.js';\nimport { runLiveWeb } from '../live/web.js';\nimport { launch } from '../process/launch.js';\nimport { renderSummary } from '../report/summary.js';\nexport const x = [main, runLiveWeb, launch, renderSummary];\n",
    ],
    [
      'src/live/probe.ts',
      "import { inlinePage } from '../html/inline-page.js';\nimport { describeEnding } from '../analysis/ending.js';\nimport { formatBytes } from '../util/units.js';\nexport const x = [inlinePage, describeEnding, formatBytes];\n",
    ],
    [
      'src/report/html/probe.ts',
      "import { inlinePage } from '../../html/inline-page.js';\nimport { FileError } from '../../errors.js';\nimport { jsonForScript } from './page.js';\nexport const x = [inlinePage, FileError, jsonForScript];\n",
    ],
    ['src/analysis/probe.ts', "export async function f(): Promise<unknown> {\n  return import('../model/model.js');\n}\n"],
    [
      'viewer/src/probe.ts',
      "import { formatBytes } from '../../src/util/units.js';\nimport type { LiveView } from '../../src/live/view-data.js';\nexport const x: [unknown, LiveView | undefined] = [formatBytes, undefined];\n",
    ],
  ];
  for (const [file, code] of allowed) assert.deepEqual(await lintMessages(file, code), [], file);
});
