// Builds the Go programs of the push tests (test/go): a real OpenTelemetry Collector with profiles support
// (memlens-otelcol) and the stand-in for a Pyroscope server built on Pyroscope's published API module
// (memlens-pyroscope-receiver). Called by setup-test-env.mjs.
//
// The binaries are cached under .cache/go/<hash of test/go>/, so a build happens once per change of those
// sources (a cold build, modules downloaded and nothing in Go's build cache, took 6.5 minutes on a loaded
// 2-core machine; Go's own module and build caches, ~/go/pkg/mod and ~/.cache/go-build, make later ones
// faster). dist/go-tools.json tells the tests where they are.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const BUILD_TIMEOUT_MS = 25 * 60 * 1000;

function sourcesOf(dir) {
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...sourcesOf(p));
    else if (/\.(go|mod|sum)$/.test(entry)) out.push(p);
  }
  return out;
}

/** Builds (or finds) the tools; returns their paths, or exits with a one-line reason. */
export function setupGoTools(root, cache) {
  const src = join(root, 'test', 'go');
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.status !== 0) {
    console.error('setup: Go is not installed (the push tests build an OpenTelemetry Collector and a Pyroscope receiver with it): install Go 1.25 or later');
    process.exit(1);
  }
  const hash = createHash('sha256');
  hash.update(go.stdout);
  for (const f of sourcesOf(src)) hash.update(relative(src, f)).update('\0').update(readFileSync(f));
  const dir = join(cache, 'go', hash.digest('hex').slice(0, 16));
  const tools = { collector: join(dir, 'memlens-otelcol'), pyroscopeReceiver: join(dir, 'memlens-pyroscope-receiver') };
  if (!existsSync(tools.collector) || !existsSync(tools.pyroscopeReceiver)) {
    const tmp = `${dir}.${process.pid}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    console.error('setup: building the Go test tools (an OpenTelemetry Collector and a Pyroscope receiver; minutes the first time)');
    const t0 = Date.now();
    const r = spawnSync('go', ['build', '-trimpath', '-o', tmp, './collector', './pyroscope-receiver'], {
      cwd: src,
      stdio: 'inherit',
      timeout: BUILD_TIMEOUT_MS,
      env: { ...process.env, GOFLAGS: '-mod=readonly', CGO_ENABLED: '0' },
    });
    if (r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      console.error(`setup: building test/go failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
      process.exit(1);
    }
    renameSync(join(tmp, 'collector'), join(tmp, 'memlens-otelcol'));
    renameSync(join(tmp, 'pyroscope-receiver'), join(tmp, 'memlens-pyroscope-receiver'));
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    console.error(`setup: Go test tools built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'go-tools.json'), JSON.stringify(tools, null, 2));
  return tools;
}
