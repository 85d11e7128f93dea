#!/usr/bin/env node
// The agent's dependency graph between its C files, from the object files themselves: each agent/src/*.c
// is compiled on its own (the build's flags, -c) and `nm` says which global symbols it defines and which it
// uses; file A depends on file B when A uses a symbol B defines (a function or a variable, also through a
// static inline function of a header, which the compiler inlined). Prints the strongly connected
// components, largest first: a component of more than one file is a set of files that call each other in
// a circle. test/agent/layering.test.ts asserts that only the expected small ones remain.
// Usage: node scripts/agent-graph.mjs [--json] [SRC_DIR]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const json = args.includes('--json');
const srcDir = args.find((a) => !a.startsWith('--')) ?? join(root, 'agent', 'src');

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.error(`agent-graph: ${cmd} ${argv.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
    process.exit(1);
  }
  return r.stdout;
}

/** file name (without .c) → { defines: Set<symbol>, functions: Set<symbol> (the defined functions), uses: Set<symbol> } */
function symbolsOf(dir) {
  const cc = process.env.CC || 'cc';
  const out = mkdtempSync(join(tmpdir(), 'memlens-agent-graph-'));
  const files = new Map();
  try {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.c')).sort()) {
      const obj = join(out, f.replace(/\.c$/, '.o'));
      // The build's flags (scripts/build-agent.mjs), so the same inlining decides the same references.
      run(cc, ['-std=c11', '-D_GNU_SOURCE', '-DML_WRITER_VERSION="graph"', '-fPIC', '-pthread', '-O2', '-fvisibility=hidden', '-fno-strict-aliasing',
        '-ftls-model=initial-exec', '-c', '-o', obj, join(dir, f)]);
      const defines = new Set();
      const functions = new Set();
      const uses = new Set();
      for (const line of run('nm', ['-P', obj]).split('\n')) {
        const [name, type] = line.trim().split(/\s+/);
        if (name === undefined || type === undefined) continue;
        if (type === 'U') uses.add(name);
        else if (/^[A-Z]$/.test(type)) defines.add(name);
        if (type === 'T') functions.add(name);
      }
      files.set(basename(f, '.c'), { defines, functions, uses });
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return files;
}

function edgesOf(files) {
  const owner = new Map();
  for (const [file, { defines }] of files) for (const s of defines) owner.set(s, file);
  const edges = new Map();
  for (const [file, { uses }] of files) {
    const to = new Map();
    for (const s of uses) {
      const o = owner.get(s);
      if (o === undefined || o === file) continue;
      if (!to.has(o)) to.set(o, []);
      to.get(o).push(s);
    }
    edges.set(file, to);
  }
  return edges;
}

// Tarjan's algorithm.
function components(edges) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v).keys()) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) {
        low.set(v, Math.min(low.get(v), idx.get(w)));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        c.push(w);
      } while (w !== v);
      out.push(c.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) visit(v);
  return out.sort((a, b) => b.length - a.length || a[0].localeCompare(b[0]));
}

const files = symbolsOf(srcDir);
const edges = edgesOf(files);
const sccs = components(edges);
if (json) {
  const plain = Object.fromEntries([...edges].map(([f, to]) => [f, Object.fromEntries([...to].map(([t, s]) => [t, s.sort()]))]));
  const functions = Object.fromEntries([...files].map(([f, { functions: fns }]) => [f, [...fns].sort()]));
  console.log(JSON.stringify({ files: [...files.keys()], components: sccs, edges: plain, functions }, null, 2));
} else {
  console.log(`${files.size} files; components with more than one file:`);
  for (const c of sccs.filter((c) => c.length > 1)) {
    console.log(`  ${c.length}: ${c.join(' ')}`);
    for (const a of c) {
      for (const [b, syms] of edges.get(a)) if (c.includes(b)) console.log(`      ${a} → ${b}: ${syms.sort().join(', ')}`);
    }
  }
}
