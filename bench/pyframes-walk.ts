// Cost of pyframes.c in every installed CPython: one walk of the calling thread's frames at several stack
// depths (what the agent pays on each allocation), and one code-text conversion (once per new code object).
// Run: npx tsc -p tsconfig.json && node dist/bench/pyframes-walk.js
import { join } from 'node:path';
import { AGENT_SRC, AGENT_TEST, compile, label, removeDir, ROOT, runPython, STRICT_CFLAGS, supportedPythons, tempDir } from '../test/pyframes/support.js';

interface BenchResult {
  version: string;
  walks: { depth: number; cap: number; ns_per_walk: number }[];
  code_text_ns: number;
}

const dir = tempDir('memlens-bench-');
try {
  const probe = join(dir, 'probe.so');
  const cc = compile([...STRICT_CFLAGS, '-fPIC', '-shared', '-fvisibility=hidden', join(AGENT_TEST, 'pyframes_probe.c'), join(AGENT_SRC, 'pyframes.c'), '-ldl', '-o', probe]);
  if (cc.status !== 0) throw new Error(`building the probe failed:\n${cc.stderr}`);
  console.log(`${'CPython'.padEnd(26)} depth (cap)  ns/walk  ns/frame   code text ns`);
  for (const p of supportedPythons()) {
    const r = JSON.parse(runPython(p, [join(ROOT, 'bench', 'pyframes', 'walk_bench.py'), probe])) as BenchResult;
    r.walks.forEach((w, i) => {
      const name = (i === 0 ? label(p) : '').padEnd(26);
      const text = i === 0 ? r.code_text_ns.toFixed(0).padStart(14) : '';
      console.log(`${name} ${String(w.depth).padStart(5)} (${String(w.cap).padStart(3)}) ${w.ns_per_walk.toFixed(1).padStart(8)} ${(w.ns_per_walk / Math.max(1, w.depth)).toFixed(2).padStart(9)} ${text}`);
    });
  }
} finally {
  removeDir(dir);
}
