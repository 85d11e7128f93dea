import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonDocument, snakeCase, snakeKeys } from './json-document.js';

test('keys become snake_case at every depth; values and snake_case keys stay', () => {
  assert.equal(snakeCase('nativeStack'), 'native_stack');
  assert.equal(snakeCase('startWallNs'), 'start_wall_ns');
  assert.equal(snakeCase('rss_anon'), 'rss_anon');
  assert.equal(snakeCase('osTid2X'), 'os_tid2_x');
  assert.deepEqual(snakeKeys({ countBefore: 1, list: [{ bytesAfter: 2, name: 'keepMe' }], nested: { pythonIdent: null } }), {
    count_before: 1,
    list: [{ bytes_after: 2, name: 'keepMe' }],
    nested: { python_ident: null },
  });
});

test('a document names its schema first', () => {
  assert.deepEqual(Object.keys(jsonDocument('summary', { a: 1 })), ['schema', 'a']);
  assert.equal(jsonDocument('diff', {}, 2).schema, 'memlens.diff/2');
});
