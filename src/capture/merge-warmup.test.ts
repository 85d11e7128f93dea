import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BLOCK_KIND_GROUP, BLOCK_KIND_RECORDS } from './format.js';
import { warmMerger } from './merge-warmup.js';

// The warm-up is only worth its cost if the merger takes every block of its sample and codes it (a block
// refused, or a group that falls back to ordinary blocks, leaves the paths it was meant to run cold).
for (const native of [false, true]) {
  test(`the warm-up's sample is merged whole and written as groups (native ${native})`, () => {
    const done = warmMerger(native, true, true);
    assert.ok(done !== undefined);
    assert.equal(done.refused, 0);
    assert.ok(done.taken >= 6, `taken ${done.taken}`);
    assert.ok(done.kinds.length > 0 && done.kinds.every((k) => k === BLOCK_KIND_GROUP), `kinds ${done.kinds.join(',')}`);
    assert.equal(warmMerger(native, true, true), undefined, 'once per kind of capture');
  });
}

test("the warm-up's sample without slots or groups is merged into ordinary blocks", () => {
  const done = warmMerger(false, false, false);
  assert.ok(done !== undefined);
  assert.equal(done.refused, 0);
  assert.ok(done.kinds.length > 0 && done.kinds.every((k) => k === BLOCK_KIND_RECORDS));
});
