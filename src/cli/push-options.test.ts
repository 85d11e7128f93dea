// The sampling and push options and their environment variables: what they make, and a one-line message
// naming the option (or variable) and the value for every bad one.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type MemoryIo, memoryIo } from '../../test/support/memory-io.js';
import { UsageError } from '../errors.js';
import type { OptionValues } from './command.js';
import { pushConfigOf, sampleAgentConfig, sampleConfigOf } from './push-options.js';

const io = (env: Record<string, string> = {}, cwd = '/tmp'): MemoryIo => memoryIo({ cwd, env });

function usage(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof UsageError && message.test(e.message) && !e.message.includes('\n'), String(message));
}

test('sampling: off unless asked; --sample at 512 KiB; --sample-rate, MEMLENS_SAMPLE_RATE; pushing samples', () => {
  assert.equal(sampleConfigOf('run', {}, {}, false), undefined);
  assert.deepEqual(sampleConfigOf('run', { sample: true }, {}, false), { rateBytes: 512 * 1024, exactBytes: 2 * 1024 * 1024, seed: 0 });
  assert.equal(sampleConfigOf('run', { 'sample-rate': '1M' }, {}, false)?.rateBytes, 1024 * 1024);
  assert.equal(sampleConfigOf('run', {}, { MEMLENS_SAMPLE_RATE: '64K' }, false)?.rateBytes, 64 * 1024);
  assert.equal(sampleConfigOf('run', { 'sample-rate': '1M' }, { MEMLENS_SAMPLE_RATE: '64K' }, false)?.rateBytes, 1024 * 1024, 'the option wins');
  assert.equal(sampleConfigOf('run', {}, {}, true)?.rateBytes, 512 * 1024);
  assert.deepEqual(sampleAgentConfig(sampleConfigOf('run', { sample: true }, { MEMLENS_SAMPLE_SEED: '9' }, false)), { sample_rate: 524288, sample_exact: 2097152, sample_seed: 9 });
});

test('sampling: a malformed rate, a seed, and --aggregate are refused in one line', () => {
  for (const bad of ['abc', '0', '-5', '2G', '1e9', '']) {
    usage(() => sampleConfigOf('run', { 'sample-rate': bad }, {}, false), /--sample-rate/);
  }
  usage(() => sampleConfigOf('attach', {}, { MEMLENS_SAMPLE_RATE: 'lots' }, false), /^attach: MEMLENS_SAMPLE_RATE lots: give the mean bytes/);
  usage(() => sampleConfigOf('run', { sample: true }, { MEMLENS_SAMPLE_SEED: 'x' }, false), /MEMLENS_SAMPLE_SEED x/);
  usage(() => sampleConfigOf('run', { sample: true, aggregate: true }, {}, false), /sampling cannot be combined with --aggregate/);
});

test('push: endpoints, headers, labels and defaults, from options or the environment', () => {
  assert.equal(pushConfigOf('run', {}, io(), 'app'), undefined);
  const c = pushConfigOf('run', { push: 'http://pyroscope:4040/', label: ['version=1.4.2', 'pod=web-1'], tenant: 'acme' }, io(), 'app');
  assert.ok(c !== undefined);
  assert.equal(c.serviceName, 'app');
  assert.equal(c.intervalMs, 15_000);
  assert.deepEqual(c.labels, [
    ['version', '1.4.2'],
    ['pod', 'web-1'],
  ]);
  const e = c.endpoints[0];
  assert.equal(e?.url, 'http://pyroscope:4040/push.v1.PusherService/Push');
  assert.equal(e?.headers['Content-Type'], 'application/proto');
  assert.equal(e?.headers['Connect-Protocol-Version'], '1');
  assert.equal(e?.headers['X-Scope-OrgID'], 'acme');

  const env = pushConfigOf(
    'attach',
    {},
    io({ MEMLENS_PUSH_OTLP_URL: 'https://user:p%40ss@collector:4318', MEMLENS_SERVICE_NAME: 'checkout', MEMLENS_LABELS: 'version=2, region=eu', MEMLENS_PUSH_INTERVAL: '5', MEMLENS_PUSH_TOKEN: 'tok' }),
    'app',
  );
  const o = env?.endpoints[0];
  assert.equal(o?.url, 'https://collector:4318/v1development/profiles');
  assert.equal(o?.display, 'https://collector:4318', 'no credentials in what messages show');
  assert.equal(o?.headers['OTLP-Profiles-Development-Version'], '1');
  // The token and the URL's credentials both make an Authorization header; the URL's, more specific, wins.
  assert.equal(o?.headers['Authorization'], `Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  assert.deepEqual(
    [env?.serviceName, env?.intervalMs, env?.labels],
    [
      'checkout',
      5000,
      [
        ['version', '2'],
        ['region', 'eu'],
      ],
    ],
  );

  const dir = mkdtempSync(join(tmpdir(), 'memlens-token-'));
  try {
    writeFileSync(join(dir, 'token'), 'secret-token\n');
    const t = pushConfigOf('run', { push: 'http://p:4040', 'push-token-file': 'token' }, io({}, dir), 'app');
    assert.equal(t?.endpoints[0]?.headers['Authorization'], 'Bearer secret-token');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('push: every bad value is one line naming it', () => {
  const cases: [OptionValues, Record<string, string>, RegExp][] = [
    [{ push: 'pyroscope:4040' }, {}, /--push 'pyroscope:4040': memlens pushes over http or https/],
    [{ push: 'not a url' }, {}, /--push 'not a url' is not a URL/],
    [{ push: 'ftp://h' }, {}, /over http or https, not ftp/],
    [{ push: 'http://h?x=1' }, {}, /without a query/],
    [{}, { MEMLENS_PUSH_URL: 'gopher://h' }, /^run: MEMLENS_PUSH_URL 'gopher:\/\/h'/],
    [{ push: 'http://h', 'push-interval': '0' }, {}, /--push-interval 0: give a number of seconds from 1 to 3600/],
    [{ push: 'http://h', 'push-interval': 'soon' }, {}, /--push-interval soon/],
    [{ push: 'http://h', label: ['nolabel'] }, {}, /--label 'nolabel': give KEY=VALUE/],
    [{ push: 'http://h', label: ['1x=2'] }, {}, /--label '1x=2'/],
    [{ push: 'http://h', label: ['__name__=x'] }, {}, /reserved for Pyroscope/],
    [{ push: 'http://h', label: ['service_name=x'] }, {}, /use --service-name/],
    [{ push: 'http://h', label: ['a=1', 'a=2'] }, {}, /the label a is given twice/],
    [{ push: 'http://h', tenant: 'a b' }, {}, /--tenant 'a b'/],
    [{ push: 'http://h', 'push-token-file': '/nonexistent/token' }, {}, /--push-token-file \/nonexistent\/token: cannot read it \(ENOENT\)/],
    [{ push: 'http://h', 'push-max-stacks': '20000' }, {}, /--push-max-stacks 20000/],
    [{ 'service-name': 'x' }, {}, /--service-name goes with --push or --push-otlp/],
  ];
  for (const [options, env, message] of cases) usage(() => pushConfigOf('run', options, io(env), 'app'), message);
  const many = Array.from({ length: 26 }, (_, i) => `l${i}=v`);
  usage(() => pushConfigOf('run', { push: 'http://h', label: many }, io(), 'app'), /26 labels/);
});
