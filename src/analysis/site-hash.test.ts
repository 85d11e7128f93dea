// SiteHash: numbers per site for the sites that hold one, against a Map doing the same.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import { SiteHash } from './site-hash.js';

test('0 where never set; a site set to 0 leaves the table (width 1)', () => {
  const v = new SiteHash();
  assert.equal(v.get(0), 0);
  assert.equal(v.get(10_000_000), 0);
  v.set(5, 0);
  assert.equal(v.size, 0, 'a 0 written makes no entry');
  v.set(5, 2.5);
  v.add(5, 1);
  v.add(1_000_000, -7);
  assert.deepEqual([v.get(5), v.get(6), v.get(1_000_000), v.size], [3.5, 0, -7, 2]);
  v.add(1_000_000, 7);
  assert.deepEqual([v.get(1_000_000), v.size], [0, 1]);
});

test('inserts, finds and removes of many sites in clusters: every value as a Map holds it, the table at most half full', () => {
  const rand = prng(5);
  const h = new SiteHash(3);
  const model = new Map<number, [number, number, number]>();
  let most = 0;
  for (let op = 0; op < 200_000; op++) {
    // Sites near one another and far apart, so that probes wrap and clusters form.
    const site = rand() < 0.5 ? Math.floor(rand() * 3000) : Math.floor(rand() * 2 ** 31);
    if (rand() < 0.45) {
      h.remove(site);
      model.delete(site);
    } else {
      const slot = h.insert(site);
      const v: [number, number, number] = [op, -op, op / 2];
      v.forEach((x, c) => h.setValue(slot, c, x));
      model.set(site, v);
    }
    most = Math.max(most, model.size);
    if (op % 997 === 0 || op > 199_000) {
      assert.equal(h.size, model.size);
      for (const [site, v] of model) {
        const slot = h.find(site);
        assert.ok(slot >= 0, `site ${site} lost at op ${op}`);
        assert.deepEqual(
          [0, 1, 2].map((c) => h.value(slot, c)),
          v,
        );
      }
      let n = 0;
      for (let slot = 0; slot < h.slots; slot++) if (h.slotSite(slot) >= 0) n++;
      assert.equal(n, model.size);
    }
  }
  assert.equal(h.find(2 ** 31 - 1) >= 0, model.has(2 ** 31 - 1));
  assert.ok(h.slots <= 4 * most, `${h.slots} slots for at most ${most} sites`);
});

test('a clone is a copy: writes to either leave the other as it was', () => {
  const v = new SiteHash();
  v.set(7, 1);
  const c = v.clone();
  c.set(7, 2);
  c.set(3000, 4);
  v.set(8, 5);
  assert.deepEqual([v.get(7), v.get(8), v.get(3000)], [1, 5, 0]);
  assert.deepEqual([c.get(7), c.get(8), c.get(3000)], [2, 0, 4]);
});

test('most sites of a range held: dense columns (the smaller layout), every value as a Map holds it; a far site makes it a table again', () => {
  const rand = prng(27);
  const h = new SiteHash(3);
  const model = new Map<number, [number, number, number]>();
  const check = (when: string): void => {
    assert.equal(h.size, model.size, when);
    let n = 0;
    for (let slot = 0; slot < h.slots; slot++) {
      const site = h.slotSite(slot);
      if (site < 0) continue;
      n++;
      assert.deepEqual(
        [0, 1, 2].map((c) => h.value(slot, c)),
        model.get(site),
        `${when}: site ${site}`,
      );
    }
    assert.equal(n, model.size, when);
    for (const site of model.keys()) assert.equal(h.slotSite(h.find(site)), site, when);
  };
  const sites = 20_000;
  for (let op = 0; op < 100_000; op++) {
    const site = Math.floor(rand() * sites);
    if (rand() < 0.2) {
      h.remove(site);
      model.delete(site);
    } else {
      // Values past 32 bits, fractions and -2^31 now and then: kept beside the 4-byte values.
      const wide = [2 ** 33, 0.5, -(2 ** 31)][op % 3]!;
      const v: [number, number, number] = [op, op % 7 === 0 ? wide : -op, op % 11 === 0 ? wide : 0];
      const slot = h.insert(site);
      v.forEach((x, c) => h.setValue(slot, c, x));
      model.set(site, v);
    }
  }
  check('dense');
  // 13 bytes a site of 2^15 (the values in 4 bytes, an entry byte) and the wide ones, where a table of
  // 2^15 slots would be 28 bytes a slot.
  assert.ok(h.byteLength <= 2 ** 15 * 13 + 16 * 40_000, `${h.byteLength} bytes`);
  const copy = h.clone();
  // A site far past the others: columns up to it would be 2^31 sites; a table of what is held is smaller.
  const far = 2 ** 31 - 1;
  h.insert(far);
  model.set(far, [0, 0, 0]);
  check('a table again');
  assert.ok(h.byteLength <= 4 * model.size * 28, `${h.byteLength} bytes`);
  model.delete(far);
  assert.deepEqual([copy.find(far), copy.size], [-1, model.size]);
  for (const [site, v] of model) assert.deepEqual([copy.get(site), h.get(site)], [v[0], v[0]]);
});

test('a dense phase then all but a few sites removed: back to a table of what is held (not columns of every site), every value as a Map holds it', () => {
  for (const width of [1, 3]) {
    const h = new SiteHash(width);
    const model = new Map<number, number>();
    const same = (when: string): void => {
      assert.equal(h.size, model.size, when);
      for (const [site, v] of model) assert.equal(h.get(site), v, `${when}: site ${site}`);
    };
    const sites = 200_000;
    for (let site = 0; site < sites; site++) {
      const v = site % 13 === 0 ? 2 ** 33 + site : site + 1;
      if (width === 1) h.set(site, v);
      else h.setValue(h.insert(site), 0, v);
      model.set(site, v);
    }
    same(`width ${width}, dense`);
    const denseBytes = h.byteLength;
    assert.ok(denseBytes <= 2 ** 18 * (4 * width + 1) + 16 * 20_000, `width ${width}: ${denseBytes} bytes dense`);
    // All but every 50 000th removed, in an order that is not the sites', checked along the way.
    let removed = 0;
    for (let k = 0; k < 7; k++) {
      for (let site = k; site < sites; site += 7) {
        if (site % 50_000 === 0) continue;
        h.remove(site);
        model.delete(site);
        if (++removed % 9973 === 0) same(`width ${width}, ${removed} removed`);
      }
    }
    same(`width ${width}, sparse end`);
    assert.equal(model.size, 4);
    // A table of 4 sites: at most 32 slots of 4 + 8 · width bytes.
    assert.ok(h.byteLength <= 32 * (4 + 8 * width), `width ${width}: ${h.byteLength} bytes for ${model.size} sites (dense: ${denseBytes})`);
    // Growing again from there: values still a Map's.
    for (let site = 0; site < sites; site += 3) {
      const v = -site - 1;
      if (width === 1) h.set(site, v);
      else h.setValue(h.insert(site), 0, v);
      model.set(site, v);
    }
    same(`width ${width}, grown again`);
  }
});
