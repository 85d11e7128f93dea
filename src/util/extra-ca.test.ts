import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFERRED_CA_ENV, mayUseTls, restoreExtraCaCerts } from './extra-ca.js';

test('restoreExtraCaCerts puts back the value the launcher set aside, and removes its copy', () => {
  const env: Record<string, string | undefined> = { [DEFERRED_CA_ENV]: '/etc/ssl/corp ca.pem', NODE_EXTRA_CA_CERTS: '', PATH: '/bin' };
  assert.equal(restoreExtraCaCerts(env), true);
  assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp ca.pem', PATH: '/bin' });
});

test('restoreExtraCaCerts: not set before the launcher, not set after it', () => {
  const env: Record<string, string | undefined> = { [DEFERRED_CA_ENV]: '', NODE_EXTRA_CA_CERTS: '', PATH: '/bin' };
  assert.equal(restoreExtraCaCerts(env), false);
  assert.deepEqual(env, { PATH: '/bin' });
});

test('restoreExtraCaCerts leaves alone an environment no launcher touched (node bin/memlens.js)', () => {
  const env: Record<string, string | undefined> = { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem' };
  assert.equal(restoreExtraCaCerts(env), false);
  assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem' });
});

test('mayUseTls: a push option or variable, and nothing else', () => {
  assert.equal(mayUseTls(['run', 'x.py'], {}), false);
  assert.equal(mayUseTls(['run', '--push', 'https://p:4040', 'x.py'], {}), true);
  assert.equal(mayUseTls(['attach', '--push-otlp=https://c:4318', '12'], {}), true);
  assert.equal(mayUseTls(['run', 'x.py'], { MEMLENS_PUSH_OTLP_URL: 'https://c:4318' }), true);
  assert.equal(mayUseTls(['run', 'x.py'], { MEMLENS_PUSH_URL: '' }), false);
});
