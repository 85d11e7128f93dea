// The sampling and push options of `memlens run` and `memlens attach`, and their environment variables
// (deployment.md, "Configuration"): an option wins over its variable. Every bad value is a one-line
// UsageError naming the option (or the variable) and the value, before anything starts.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { PushEndpoint } from './push/pusher.js';
import { OTLP_PROFILES_PATH, OTLP_PROFILES_VERSION, OTLP_PROFILES_VERSION_HEADER } from '../report/export/otlp-endpoint.js';
import { parseSize } from '../util/units.js';
import { booleanOption, type OptionSpecs, type OptionValues, stringOption } from './command.js';
import type { Io } from './io.js';

export const DEFAULT_SAMPLE_RATE = 512 * 1024;
/** Allocations of at least this many times the rate are all recorded (docs/sampling.md). */
export const EXACT_FACTOR = 4;
const MAX_SAMPLE_RATE = 1 << 30;
export const DEFAULT_PUSH_INTERVAL_S = 15;
export const DEFAULT_PUSH_MAX_STACKS = 10_000;
const MAX_USER_LABELS = 25;

export const SAMPLE_OPTIONS: OptionSpecs = {
  sample: {
    type: 'boolean',
    description: `Record a random sample of the allocations (one every ${DEFAULT_SAMPLE_RATE / 1024} KiB allocated, on average): cheap enough for production; reports show estimates`,
  },
  'sample-rate': { type: 'string', value: 'SIZE', description: 'Sample, with this mean distance between samples (512K, 1M)' },
};

export const PUSH_OPTIONS: OptionSpecs = {
  push: { type: 'string', value: 'URL', description: 'Push a memory profile every interval to Grafana Pyroscope at URL (implies --sample)' },
  'push-otlp': { type: 'string', value: 'URL', description: "Push OTLP profiles to an OpenTelemetry Collector's OTLP/HTTP URL (alpha; implies --sample)" },
  'push-interval': { type: 'string', value: 'SECONDS', description: `Seconds between pushed profiles (default ${DEFAULT_PUSH_INTERVAL_S})` },
  'service-name': { type: 'string', value: 'NAME', description: 'The service_name label of pushed profiles (default: the script or module)' },
  label: { type: 'string', multiple: true, value: 'KEY=VALUE', description: 'A label for pushed profiles (repeatable): version, pod, region…' },
  tenant: { type: 'string', value: 'ID', description: "The X-Scope-OrgID header (Pyroscope's tenant)" },
  'push-token-file': { type: 'string', value: 'FILE', description: 'Send the token in FILE as Authorization: Bearer' },
  'push-max-stacks': { type: 'string', value: 'N', description: `Stacks a pushed profile holds at most; the rest go to '[other stacks]' (default ${DEFAULT_PUSH_MAX_STACKS})` },
};

export interface SampleConfig {
  readonly rateBytes: number;
  readonly exactBytes: number;
  /** MEMLENS_SAMPLE_SEED: the same program and seed give the same capture (0: a random seed). */
  readonly seed: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The value of an option, else of its environment variable; `from` says which, for messages. */
function fromEither(options: OptionValues, name: string, env: Env, variable: string): { value: string; from: string } | undefined {
  const v = stringOption(options, name);
  if (v !== undefined) return { value: v, from: `--${name}` };
  const e = env[variable];
  if (e !== undefined && e !== '') return { value: e, from: variable };
  return undefined;
}

/** The sampling asked for (--sample, --sample-rate, MEMLENS_SAMPLE_RATE, or pushing), or undefined. */
export function sampleConfigOf(command: string, options: OptionValues, env: Env, pushing: boolean): SampleConfig | undefined {
  const rate = fromEither(options, 'sample-rate', env, 'MEMLENS_SAMPLE_RATE');
  if (rate === undefined && !booleanOption(options, 'sample') && !pushing) return undefined;
  let bytes = DEFAULT_SAMPLE_RATE;
  if (rate !== undefined) {
    const n = parseSize(rate.value);
    if (n === undefined || !Number.isInteger(n) || n < 1 || n > MAX_SAMPLE_RATE) {
      throw new UsageError(`${command}: ${rate.from} ${rate.value}: give the mean bytes between samples, from 1 to 1G, such as 512K or 1M`);
    }
    bytes = n;
  }
  for (const o of ['aggregate']) {
    if (booleanOption(options, o)) {
      throw new UsageError(`${command}: sampling cannot be combined with --${o}: the agent's aggregates keep no allocation sizes to weigh the samples with; choose one`);
    }
  }
  let seed = 0;
  const rawSeed = env['MEMLENS_SAMPLE_SEED'];
  if (rawSeed !== undefined && rawSeed !== '') {
    seed = Number(rawSeed);
    if (!/^\d+$/.test(rawSeed) || !Number.isSafeInteger(seed) || seed < 1) throw new UsageError(`${command}: MEMLENS_SAMPLE_SEED ${rawSeed}: give a whole number from 1 to 2^53`);
  }
  return { rateBytes: bytes, exactBytes: bytes * EXACT_FACTOR, seed };
}

/** The agent's configuration keys for a sampling (docs/agent.md). */
export function sampleAgentConfig(s: SampleConfig | undefined): Record<string, number> {
  if (s === undefined) return {};
  return { sample_rate: s.rateBytes, sample_exact: s.exactBytes, ...(s.seed > 0 ? { sample_seed: s.seed } : {}) };
}

export interface PushConfig {
  readonly endpoints: readonly PushEndpoint[];
  readonly intervalMs: number;
  readonly serviceName: string;
  readonly labels: readonly (readonly [string, string])[];
  readonly maxStacks: number;
}

/** The push asked for by options or environment, or undefined. `defaultService`: the script's name. */
export function pushConfigOf(command: string, options: OptionValues, io: Io, defaultService: string): PushConfig | undefined {
  const env = io.env;
  const pyroscope = fromEither(options, 'push', env, 'MEMLENS_PUSH_URL');
  const otlp = fromEither(options, 'push-otlp', env, 'MEMLENS_PUSH_OTLP_URL');
  if (pyroscope === undefined && otlp === undefined) {
    for (const o of ['push-interval', 'service-name', 'label', 'tenant', 'push-token-file', 'push-max-stacks']) {
      if (options[o] !== undefined) throw new UsageError(`${command}: --${o} goes with --push or --push-otlp`);
    }
    return undefined;
  }
  const headers: Record<string, string> = {};
  const tenant = fromEither(options, 'tenant', env, 'MEMLENS_TENANT');
  if (tenant !== undefined) {
    if (!/^[\x21-\x7e]{1,150}$/.test(tenant.value)) throw new UsageError(`${command}: ${tenant.from} '${tenant.value}': a tenant id is 1 to 150 printable characters without spaces`);
    headers['X-Scope-OrgID'] = tenant.value;
  }
  const token = tokenOf(command, options, env, io.cwd);
  if (token !== undefined) headers['Authorization'] = `Bearer ${token}`;

  const endpoints: PushEndpoint[] = [];
  if (pyroscope !== undefined) {
    const u = urlOf(command, pyroscope);
    endpoints.push(
      endpointOf('Pyroscope', u, `${u.base}/push.v1.PusherService/Push`, {
        ...headers,
        ...u.auth,
        'Content-Type': 'application/proto',
        'Connect-Protocol-Version': '1',
      }),
    );
  }
  if (otlp !== undefined) {
    const u = urlOf(command, otlp);
    const path = u.base.endsWith(OTLP_PROFILES_PATH) ? u.base : `${u.base}${OTLP_PROFILES_PATH}`;
    endpoints.push(endpointOf('OTLP', u, path, { ...headers, ...u.auth, 'Content-Type': 'application/x-protobuf', [OTLP_PROFILES_VERSION_HEADER]: OTLP_PROFILES_VERSION }));
  }

  let intervalMs = DEFAULT_PUSH_INTERVAL_S * 1000;
  const interval = fromEither(options, 'push-interval', env, 'MEMLENS_PUSH_INTERVAL');
  if (interval !== undefined) {
    const n = Number(interval.value);
    if (!Number.isFinite(n) || n < 1 || n > 3600) throw new UsageError(`${command}: ${interval.from} ${interval.value}: give a number of seconds from 1 to 3600`);
    intervalMs = Math.round(n * 1000);
  }
  const service = fromEither(options, 'service-name', env, 'MEMLENS_SERVICE_NAME');
  const serviceName = service?.value ?? defaultService;
  if (serviceName === '' || serviceName.length > 2048 || hasControl(serviceName)) {
    throw new UsageError(`${command}: ${service?.from ?? 'the service name'} '${serviceName}': give a name of 1 to 2048 printable characters`);
  }
  const labels = labelsOf(command, options, env);
  let maxStacks = DEFAULT_PUSH_MAX_STACKS;
  const max = stringOption(options, 'push-max-stacks');
  if (max !== undefined) {
    const n = Number(max);
    if (!Number.isInteger(n) || n < 1 || n > 15_999) throw new UsageError(`${command}: --push-max-stacks ${max}: give a whole number from 1 to 15999 (Pyroscope takes 16,000 samples per profile)`);
    maxStacks = n;
  }
  return { endpoints, intervalMs, serviceName, labels, maxStacks };
}

interface ParsedUrl {
  /** Scheme, host, port and path without a trailing slash, without credentials. */
  readonly base: string;
  readonly auth: Record<string, string>;
}

function urlOf(command: string, v: { value: string; from: string }): ParsedUrl {
  let u: URL;
  try {
    u = new URL(v.value);
  } catch {
    throw new UsageError(`${command}: ${v.from} '${v.value}' is not a URL: give one such as http://pyroscope:4040`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`${command}: ${v.from} '${v.value}': memlens pushes over http or https, not ${u.protocol.slice(0, -1)}`);
  if (u.search !== '' || u.hash !== '') throw new UsageError(`${command}: ${v.from} '${v.value}': give the server's base URL, without a query or fragment`);
  const auth: Record<string, string> = {};
  // fetch refuses credentials in a URL: they become a basic Authorization header (Grafana Cloud's scheme).
  if (u.username !== '' || u.password !== '') {
    auth['Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
    u.username = '';
    u.password = '';
  }
  return { base: u.toString().replace(/\/+$/, ''), auth };
}

function endpointOf(kind: string, u: ParsedUrl, url: string, headers: Record<string, string>): PushEndpoint {
  return { kind, url, display: u.base, headers };
}

function tokenOf(command: string, options: OptionValues, env: Env, cwd: string): string | undefined {
  const file = stringOption(options, 'push-token-file');
  let token: string;
  let from: string;
  if (file !== undefined) {
    try {
      token = readFileSync(resolve(cwd, file), 'utf8').trim();
    } catch (e) {
      throw new UsageError(`${command}: --push-token-file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    from = `--push-token-file ${file}`;
  } else {
    const e = env['MEMLENS_PUSH_TOKEN'];
    if (e === undefined || e === '') return undefined;
    token = e.trim();
    from = 'MEMLENS_PUSH_TOKEN';
  }
  if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`${command}: ${from}: the token is empty or has spaces or control characters`);
  return token;
}

function labelsOf(command: string, options: OptionValues, env: Env): [string, string][] {
  const raw: { text: string; from: string }[] = [];
  const given = options['label'];
  if (Array.isArray(given)) for (const t of given as readonly string[]) raw.push({ text: t, from: '--label' });
  else {
    const e = env['MEMLENS_LABELS'];
    if (e !== undefined && e.trim() !== '') for (const t of e.split(',')) raw.push({ text: t.trim(), from: 'MEMLENS_LABELS' });
  }
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (const { text, from } of raw) {
    const eq = text.indexOf('=');
    const key = eq < 0 ? text : text.slice(0, eq);
    const value = eq < 0 ? '' : text.slice(eq + 1);
    if (eq < 0 || !/^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$/.test(key) || value === '') {
      throw new UsageError(`${command}: ${from} '${text}': give KEY=VALUE, the key made of letters, digits and _ (not starting with a digit)`);
    }
    if (key.startsWith('__') || key === 'service_name') {
      throw new UsageError(`${command}: ${from} '${text}': ${key === 'service_name' ? 'use --service-name for the service name' : 'names starting with __ are reserved for Pyroscope'}`);
    }
    if (value.length > 2048 || hasControl(value)) throw new UsageError(`${command}: ${from} '${text}': a value is at most 2048 printable characters`);
    if (seen.has(key)) throw new UsageError(`${command}: ${from}: the label ${key} is given twice`);
    seen.add(key);
    out.push([key, value]);
  }
  if (out.length > MAX_USER_LABELS) throw new UsageError(`${command}: ${out.length} labels: Pyroscope takes at most 30 per series, memlens sends 3 of its own, so give at most ${MAX_USER_LABELS}`);
  return out;
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true;
  return false;
}
