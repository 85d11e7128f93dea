// RecentGrowth's packed ticks: every value comes back exactly, and a tick of small values takes a few bytes a site.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TickPacker, TickReader } from './tick-pack.js';

function unpack(packed: Uint8Array): [number, number, number][] {
  const r = new TickReader(packed);
  const out: [number, number, number][] = [];
  while (r.next()) out.push([r.site, r.bytes, r.count]);
  return out;
}

test('sites and values come back exactly, small and large, negative and positive', () => {
  const values = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 40 + 3, -(2 ** 45) - 7, 2 ** 51 - 1, -(2 ** 51) + 1];
  const sites = values.map((_, i) => [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 28, 2 ** 31 - 1][i % 9]! + 0);
  const n = Math.max(...sites) + 1;
  // Sparse: sites up to 2^31 - 1.
  const bytes: { [site: number]: number; length: number } = { length: n };
  const counts: { [site: number]: number; length: number } = { length: n };
  const uniq = [...new Set(sites)];
  // Every value at every site: the rows repeat with the values shifted.
  for (let shift = 0; shift < values.length; shift++) {
    uniq.forEach((s, i) => {
      bytes[s] = values[(i + shift) % values.length]!;
      counts[s] = values[(i * 7 + shift) % values.length]!;
    });
    const packed = new TickPacker().pack(uniq, bytes, counts);
    assert.ok(packed !== null);
    assert.deepEqual(
      unpack(packed),
      uniq.map((s) => [s, bytes[s], counts[s]]),
    );
  }
});

test('a value that is not an integer below 2^51 in magnitude is refused (the tick stays unpacked)', () => {
  for (const bad of [0.5, 2 ** 51, -(2 ** 51), 2 ** 53, NaN, Infinity]) {
    assert.equal(new TickPacker().pack([3], [0, 0, 0, bad], [0, 0, 0, 1]), null, String(bad));
    assert.equal(new TickPacker().pack([3], [0, 0, 0, 1], [0, 0, 0, bad]), null, String(bad));
  }
});

test('a big tick of small values: 6 bytes a site rather than 20, through the scratch growing', () => {
  const n = 100_000;
  const sites = Array.from({ length: n }, (_, i) => (i * 7919) % n);
  const bytes = Float64Array.from({ length: n }, (_, i) => (i % 50) * 16);
  const counts = Float64Array.from({ length: n }, (_, i) => i % 3);
  const packed = new TickPacker().pack(sites, bytes, counts);
  assert.ok(packed !== null && packed.length <= n * 6, `${packed?.length} bytes`);
  const back = unpack(packed);
  assert.equal(back.length, n);
  for (let i = 0; i < n; i++) assert.deepEqual(back[i], [sites[i], bytes[sites[i]!], counts[sites[i]!]]);
});
