import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import type { SiteId } from './ids.js';
import { LiveTable } from './live-table.js';

test('the live table agrees with a Map under random inserts, replacements and removals (with growth)', () => {
  const rnd = prng(5);
  const t = new LiveTable(16);
  const m = new Map<number, { size: number; site: number; index: number }>();
  for (let i = 0; i < 200_000; i++) {
    // Few distinct addresses so that probe runs collide, and some above 2^32.
    const address = (1 + Math.floor(rnd() * 5000)) * 8 * (rnd() < 0.3 ? 2 ** 20 : 1);
    const r = rnd();
    if (r < 0.5) {
      const v = { size: Math.floor(rnd() * 1e6), site: Math.floor(rnd() * 100) as SiteId, index: i };
      const replaced = t.insertOrReplace(address, v.size, v.site, v.index);
      assert.equal(replaced, m.has(address));
      if (replaced) assert.equal(t.removedIndex, m.get(address)?.index);
      m.set(address, v);
    } else {
      const had = m.get(address);
      assert.equal(t.remove(address), had !== undefined);
      if (had !== undefined) {
        assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [had.size, had.site, had.index]);
        m.delete(address);
      }
    }
    assert.equal(t.size, m.size);
  }
  let n = 0;
  t.forEach((address, size, site) => {
    n++;
    assert.deepEqual([size, site], [m.get(address)?.size, m.get(address)?.site]);
  });
  assert.equal(n, m.size);
});

test('sizes and indexes past 32 bits, and indexes kept only from a size, come back exactly (with growth)', () => {
  for (const indexesFrom of [0, 1 << 20, Infinity]) {
    const rnd = prng(11);
    const t = new LiveTable(16, { indexesFrom });
    const m = new Map<number, { size: number; site: number; index: number }>();
    for (let i = 0; i < 50_000; i++) {
      const address = (1 + Math.floor(rnd() * 3000)) * 16;
      if (rnd() < 0.55) {
        const r = rnd();
        const size = r < 0.1 ? 2 ** 32 - 1 + Math.floor(rnd() * 2 ** 40) : r < 0.3 ? (1 << 20) + Math.floor(rnd() * 1000) : Math.floor(rnd() * 5000);
        const index = rnd() < 0.1 ? 2 ** 32 - 2 + Math.floor(rnd() * 2 ** 40) : i + 1;
        const v = { size, site: Math.floor(rnd() * 100), index };
        const old = m.get(address);
        const replaced = t.insertOrReplace(address, v.size, v.site as SiteId, v.index);
        assert.equal(replaced, old !== undefined);
        if (old !== undefined) assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [old.size, old.site, old.size >= indexesFrom ? old.index : 0]);
        m.set(address, v);
      } else {
        const had = m.get(address);
        assert.equal(t.remove(address), had !== undefined);
        if (had !== undefined) {
          assert.deepEqual([t.removedSize, t.removedSite, t.removedIndex], [had.size, had.site, had.size >= indexesFrom ? had.index : 0]);
          m.delete(address);
        }
      }
    }
    let n = 0;
    t.forEach((address, size) => {
      n++;
      assert.equal(size, m.get(address)?.size);
    });
    assert.equal(n, m.size);
  }
});

test('a slot is 16 bytes of arrays, 20 when every index is kept', () => {
  assert.equal(new LiveTable(1024, { indexesFrom: Infinity }).byteLength, 1024 * 16);
  assert.equal(new LiveTable(1024, { indexesFrom: 1 << 20 }).byteLength, 1024 * 16);
  assert.equal(new LiveTable(1024).byteLength, 1024 * 20);
});
