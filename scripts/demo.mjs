#!/usr/bin/env node
// npm run demo: memlens's main job on a bundled example. Runs examples/leaky_service.py under the agent,
// prints the summary of what was alive at the peak and of what leaked, and writes the HTML flame graph.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.cache', 'demo');
mkdirSync(out, { recursive: true });
const capture = join(out, 'leaky_service.mlens');
const html = join(out, 'leaky_service.html');
const memlens = (args) => {
  console.error(`\n$ memlens ${args.map((a) => (a.startsWith(root) ? relative(root, a) : a)).join(' ')}`);
  // The node flags bin/memlens.js's first line gives it (src/util/node-flags.ts).
  const r = spawnSync(process.execPath, ['--single-threaded-gc', '--no-concurrent-recompilation', join(root, 'bin', 'memlens.js'), ...args], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

memlens(['run', '-f', '-o', capture, join(root, 'examples', 'leaky_service.py')]);
memlens(['summary', '--max-rows', '12', capture]);
memlens(['summary', '--leaks', '--max-rows', '8', capture]);
memlens(['flamegraph', '-f', '-o', html, capture]);
console.error(`\nOpen ${relative(root, html)} in a browser for the interactive flame graph and memory timeline.`);
