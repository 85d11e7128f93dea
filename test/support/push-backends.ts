// The backends of the push tests, built by the test setup (scripts/setup-go-tools.mjs): a stand-in for
// Grafana Pyroscope built on Pyroscope's published API module (the server itself cannot be built here), and
// a real OpenTelemetry Collector with its OTLP receiver and an exporter that writes what it received.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './pythons.js';

export interface GoTools {
  readonly collector: string;
  readonly pyroscopeReceiver: string;
}

export function goTools(): GoTools {
  const file = join(REPO_ROOT, 'dist', 'go-tools.json');
  if (!existsSync(file)) throw new Error(`${file} is missing: run 'node scripts/setup-test-env.mjs' (npm test does it) to build the Go test tools`);
  return JSON.parse(readFileSync(file, 'utf8')) as GoTools;
}

export interface ReceivedSample {
  readonly id: string;
  readonly file: string;
  readonly errors: string[] | null;
  readonly profile?: {
    readonly sampleTypes: string[];
    readonly periodType: string;
    readonly period: number;
    readonly timeNanos: number;
    readonly durationNanos: number;
    readonly comments: string[];
    readonly samples: { readonly stack: string[]; readonly values: number[] }[];
  };
}

export interface ReceivedRequest {
  readonly n: number;
  readonly headers: Record<string, string>;
  readonly series: { readonly labels: Record<string, string>; readonly errors: string[] | null; readonly samples: ReceivedSample[] }[];
  readonly answered: string;
}

export interface Backend {
  readonly url: string;
  stop(): Promise<void>;
}

export interface PyroscopeReceiver extends Backend {
  requests(): ReceivedRequest[];
}

function waitForLine(child: ChildProcess, re: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = re.exec(out);
      if (m !== null) {
        child.stdout?.off('data', onData);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${what} exited (${code}) before it was ready: ${out}`)));
  });
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
}

/** Starts the Pyroscope stand-in; `flags`: -delay 30s, -refuse, -fail-first N. */
export async function startPyroscopeReceiver(outDir: string, flags: readonly string[] = []): Promise<PyroscopeReceiver> {
  const child = spawn(goTools().pyroscopeReceiver, ['-out', outDir, ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const m = await waitForLine(child, /listening on (\S+)\n/, 'the Pyroscope receiver');
  return {
    url: `http://${m[1] as string}`,
    stop: stopper(child),
    requests: () => {
      const file = join(outDir, 'requests.jsonl');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as ReceivedRequest);
    },
  };
}

/** A port that was free a moment ago (the collector cannot be told to pick one and say which). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface CollectedProfile {
  readonly resource: Record<string, unknown>;
  readonly scope: string;
  readonly sampleType: string;
  readonly sampleUnit: string;
  readonly periodType: string;
  readonly period: number;
  readonly timeUnixNano: number;
  readonly durationNano: number;
  readonly samples: { readonly stack: string[]; readonly values: number[] }[] | null;
}

export interface Collector extends Backend {
  profiles(): CollectedProfile[];
  log(): string;
}

/** Starts the OpenTelemetry Collector (OTLP/HTTP on a loopback port, profiles behind their feature gate). */
export async function startCollector(dir: string): Promise<Collector> {
  const port = await freePort();
  const out = join(dir, 'received.jsonl');
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  otlp:',
      '    protocols:',
      '      http:',
      `        endpoint: 127.0.0.1:${port}`,
      'exporters:',
      '  profilefile:',
      `    path: ${out}`,
      'service:',
      '  telemetry:',
      '    logs: { level: info }',
      '    metrics: { level: none }',
      '  pipelines:',
      '    profiles:',
      '      receivers: [otlp]',
      '      exporters: [profilefile]',
      '',
    ].join('\n'),
  );
  const child = spawn(goTools().collector, ['--config', config, '--feature-gates=service.profilesSupport'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Everything is ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the collector exited (${code}): ${log}`)));
  });
  await ready;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: stopper(child),
    log: () => log,
    profiles: () => {
      if (!existsSync(out)) return [];
      return readFileSync(out, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .flatMap((l) => (JSON.parse(l) as { profiles: CollectedProfile[] }).profiles);
    },
  };
}
