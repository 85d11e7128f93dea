import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { HeapReplay } from './heap-replay.js';
import type { NativeNodeId1, PyNodeId1, SiteId, ThreadIndex } from './ids.js';
import { PeakSaves, SitePeaks } from './site-peaks.js';
import { SiteTable } from './site-table.js';

/** Marks `site` changed since the peak and saves its values, as the replay's hot path does. */
function change(saves: PeakSaves, site: number, bytes: number, count: number): void {
  const w = site >>> 5;
  const bit = 1 << (site & 31);
  if ((saves.bits[w]! & bit) !== 0) return;
  saves.bits[w] = saves.bits[w]! | bit;
  saves.save(site, bytes, count);
}

test('a site changed since the peak reads its saved values (0 if it held nothing), the others their live ones', () => {
  const saves = new PeakSaves();
  saves.ensureSites(100);
  const liveBytes = Float64Array.from({ length: 100 }, (_, s) => s * 10);
  const liveCount = Int32Array.from({ length: 100 }, (_, s) => s);
  change(saves, 3, 300, 3);
  change(saves, 3, 999, 9); // saved once: the first change after the peak
  change(saves, 40, 0, 0); // held nothing at the peak
  change(saves, 63, 7, 0); // bytes without a count (a mapping's piece) is something
  const p = saves.peaks(100, liveBytes, liveCount);
  assert.deepEqual(
    [3, 40, 63, 5, 99].map((s) => [p.bytes(s as SiteId), p.count(s as SiteId)]),
    [
      [300, 3],
      [0, 0],
      [7, 0],
      [50, 5],
      [990, 99],
    ],
  );
  // Only the sites that held something at the peak cost an entry of values; the others their id.
  assert.deepEqual([saves.savedLength, saves.touchedLength], [2, 1]);
  const nz = p.nonzero(100);
  assert.deepEqual(Array.from(nz.site.subarray(0, 5)), [1, 2, 3, 4, 5]);
  assert.equal(nz.length, 98); // every site but 0 (live 0) and 40 (nothing at the peak)
  assert.ok(!Array.from(nz.site).includes(40));
  assert.deepEqual([nz.bytes[2], nz.count[2], nz.bytes[nz.length - 1]], [300, 3, 990]);
});

test('a new peak clears every site changed since the one before: they read their live values again', () => {
  const saves = new PeakSaves();
  saves.ensureSites(5000);
  const liveBytes = new Float64Array(5000).fill(8);
  const liveCount = new Float64Array(5000).fill(1);
  for (let s = 0; s < 5000; s += 3) change(saves, s, s % 2 === 0 ? 0 : 16, s % 2 === 0 ? 0 : 2); // both lists grow past their first room
  saves.nextPeak();
  assert.ok(saves.bits.every((w) => w === 0));
  change(saves, 4998, 0, 0);
  const p = saves.peaks(5000, liveBytes, liveCount);
  assert.deepEqual([p.bytes(0 as SiteId), p.bytes(3 as SiteId), p.count(4998 as SiteId), p.bytes(4998 as SiteId)], [8, 8, 0, 0]);
  assert.equal(p.nonzero(5000).length, 4999);
});

test('SitePeaks.none(): every site 0; a copy of the saves is not changed by the replay going on', () => {
  const none = SitePeaks.none();
  assert.deepEqual([none.bytes(0 as SiteId), none.count(12 as SiteId), none.nonzero(50).length], [0, 0, 0]);
  const saves = new PeakSaves();
  saves.ensureSites(64);
  const live = new Float64Array(64);
  change(saves, 33, 5, 1);
  const p = saves.peaks(64, live, live);
  saves.nextPeak();
  change(saves, 33, 9, 2);
  assert.deepEqual([p.bytes(33 as SiteId), p.count(33 as SiteId)], [5, 1]);
});

test('a replay of many sites, few of them live at the peak, keeps entries for those changed since the peak alone', () => {
  // call_sites: 2.62 M sites, most not live at the peak; the peak columns and marks were 16 bytes a site through
  // the read (docs/benchmarks.md, round twenty-seven).
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold: undefined, window: undefined });
  const n = 50_000;
  let seq = 0;
  const site = (k: number): SiteId => sites.intern((k + 1) as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  // 50 000 sites, each an allocation freed at once; then the peak: 100 sites of 1 MB live; then 10 of them are
  // freed and 1000 other sites allocate (below the peak).
  for (let k = 0; k < n; k++) {
    replay.eventAddress[0] = 0x1000 + k * 16;
    replay.allocAt(site(k), 0 as ThreadIndex, seq++, 16 + k, 0); // each a new peak
    replay.freeAt(seq++, 16 + k, 0);
  }
  for (let k = 0; k < 100; k++) {
    replay.eventAddress[0] = 0x10_000_000 + k * 0x100_000;
    replay.allocAt(site(k), 0 as ThreadIndex, seq++, 1 << 20, 0);
  }
  for (let k = 0; k < 10; k++) {
    replay.eventAddress[0] = 0x10_000_000 + k * 0x100_000;
    replay.freeAt(seq++, 1 << 20, 0);
  }
  for (let k = 100; k < 1100; k++) {
    replay.eventAddress[0] = 0x1000 + k * 16;
    replay.allocAt(site(k), 0 as ThreadIndex, seq++, 8, 0);
  }
  const saves = (replay as unknown as { saves: PeakSaves }).saves;
  assert.deepEqual([saves.touchedLength, saves.savedLength], [1000, 10]);
  // A bit a site, and the lists' room (1024 entries each: 20 KiB): far below 16 bytes a site of columns and marks.
  assert.ok(saves.byteLength <= (65_536 / 32) * 4 + 1024 * 24, `${saves.byteLength} bytes`);
  const totals = replay.totals(true, 0);
  assert.equal(totals.peakHeap, 100 << 20);
  const p = sites.peak;
  assert.deepEqual([p.bytes(site(0)), p.bytes(site(99)), p.bytes(site(100)), p.bytes(site(5000))], [1 << 20, 1 << 20, 0, 0]);
  assert.deepEqual([sites.columns.liveBytes.array[site(0)], sites.columns.liveBytes.array[site(100)]], [0, 8]);
  assert.equal(p.nonzero(sites.size).length, 100);
  replay.endOfRead();
  assert.equal(saves.byteLength, 0);
});

test('the dense case: every site changed after the peak costs about the 16 bytes a site of columns, no more', () => {
  // A program that builds up and exits frees nearly everything after its peak: every site gets a saved value.
  // The lists (20 bytes an entry, up to twice the room) and SitePeaks' copy and table cost several times the
  // columns they replaced (a tree of ~1 M sites: +120 MB; docs/benchmarks.md, round twenty-seven, "The dense case").
  const sites = new SiteTable();
  const replay = new HeapReplay(sites, { observer: undefined, temporaryThreshold: undefined, window: undefined });
  const n = 200_000;
  const site = (k: number): SiteId => sites.intern((k + 1) as PyNodeId1, 0 as NativeNodeId1, 0 as ThreadIndex, 0);
  const size = (k: number): number => 16 + (k % 97) * 8;
  let seq = 0;
  for (let k = 0; k < n; k++) {
    replay.eventAddress[0] = 0x1000 + k * 0x1000;
    replay.allocAt(site(k), 0 as ThreadIndex, seq++, size(k), 0); // each a new peak: the last one is the peak
  }
  // The teardown: every allocation freed (runs of frees: flushFrees), a few sites allocating again after.
  for (let k = 0; k < n; k++) {
    replay.eventAddress[0] = 0x1000 + k * 0x1000;
    replay.freeAt(seq++, size(k), 0);
  }
  for (let k = 0; k < n; k += 1000) {
    replay.eventAddress[0] = 0x1000 + k * 0x1000;
    replay.allocAt(site(k), 0 as ThreadIndex, seq++, 8, 0);
  }
  const columns = sites.columns.liveBytes.array.length * 16; // main's peak columns and marks
  const saves = (replay as unknown as { saves: PeakSaves }).saves;
  assert.ok(saves.byteLength <= columns * 1.1, `saves ${saves.byteLength} bytes, columns ${columns}`);
  replay.totals(true, 0);
  const p = sites.peak;
  // What the read holds at its end (the saves and the values at the peak together, before endOfRead()).
  assert.ok(saves.byteLength + p.byteLength <= columns * 1.1, `saves ${saves.byteLength} + peaks ${p.byteLength} bytes, columns ${columns}`);
  for (let k = 0; k < n; k++) {
    if (p.bytes(site(k)) !== size(k) || p.count(site(k)) !== 1) assert.fail(`site of ${k}: ${p.bytes(site(k))} ${p.count(site(k))}`);
  }
  const nz = p.nonzero(sites.size);
  assert.equal(nz.length, n);
  assert.deepEqual([nz.site[n - 1], nz.bytes[n - 1], nz.count[n - 1], nz.bytes[1000]], [site(n - 1), size(n - 1), 1, size(1000)]);
});

test('dense saves: a new peak clears every bit and reads live values again; a copy taken before is kept', () => {
  const saves = new PeakSaves();
  const sites = 8192;
  saves.ensureSites(sites);
  const liveBytes = new Float64Array(sites).fill(8);
  const liveCount = new Float64Array(sites).fill(1);
  // Every site saved: the lists would cost more than 16 bytes a site (with their buffer), so the saves turn dense
  // (at the 4097th entry of values); then the sites that held nothing, more than the dense buffer's room.
  for (let s = 0; s < sites; s++) if (s % 3 !== 0) change(saves, s, s, 2);
  for (let s = 0; s < sites; s += 3) change(saves, s, 0, 0);
  assert.ok(saves.byteLength <= sites * 16 + (sites >>> 3) + 1024 * 24, `${saves.byteLength} bytes`);
  const before = saves.peaks(sites, liveBytes, liveCount);
  saves.ensureSites(sites * 2); // the site columns grow while dense
  change(saves, sites + 5, 40, 4);
  assert.deepEqual([saves.peaks(sites * 2, liveBytes, liveCount).bytes((sites + 5) as SiteId)], [40]);
  saves.nextPeak();
  assert.ok(saves.bits.every((w) => w === 0));
  change(saves, 7, 3, 1);
  const after = saves.peaks(sites, liveBytes, liveCount);
  assert.deepEqual([before.bytes(3 as SiteId), before.bytes(4 as SiteId), before.count(4 as SiteId), before.bytes(8191 as SiteId)], [0, 4, 2, 8191]);
  assert.equal(before.nonzero(sites).length, sites - Math.ceil(sites / 3));
  assert.deepEqual([after.bytes(3 as SiteId), after.bytes(4 as SiteId), after.bytes(7 as SiteId), after.count(7 as SiteId)], [8, 8, 3, 1]);
  assert.equal(after.nonzero(sites).length, sites);
});

test('dense columns are priced by the sites listed (their resident extent), not the site columns room', () => {
  // The site columns double: 2^13 + 5 sites have a room of 2^14. 4097 saved values (the lists full at 4096 and
  // doubling to 8192 entries, 160 KiB) cost more than dense columns up to the highest site listed (8197 sites,
  // 16 bytes each with their 24 KiB buffer: 152 KiB) but less than dense columns of the whole room (280 KiB):
  // priced by the room, the lists would stay (the tree's teardown: 4.19 M sites in a room of 8.39 M).
  const room = 1 << 14;
  const isDense = (saves: PeakSaves): boolean => (saves as unknown as { dense: boolean }).dense;
  const save = (top: number): PeakSaves => {
    const saves = new PeakSaves();
    saves.ensureSites(room);
    for (let k = 0; k <= 4096; k++) change(saves, top - k, 8 + k, 1);
    return saves;
  };
  const low = save((1 << 13) + 4);
  assert.ok(isDense(low), 'sites up to 2^13 + 5: dense');
  // The same saves for sites up to the room's end: dense columns would cost more than the lists.
  const high = save(room - 1);
  assert.ok(!isDense(high), 'sites up to 2^14: lists');
  for (const [saves, top] of [
    [low, (1 << 13) + 4],
    [high, room - 1],
  ] as const) {
    const p = saves.peaks(room, new Float64Array(room).fill(3), new Float64Array(room).fill(1));
    assert.deepEqual([p.bytes(top as SiteId), p.bytes((top - 4096) as SiteId), p.bytes((top - 4097) as SiteId), p.count(top as SiteId)], [8, 8 + 4096, 3, 1]);
  }
});

test('dense count column: Int32 when the replay counts in Int32 (12 bytes a site, not 16), Float64 once widened', () => {
  const sites = 8192;
  const saves = new PeakSaves();
  saves.countsInInt32();
  saves.ensureSites(sites);
  for (let s = 0; s < sites; s++) change(saves, s, 100 + s, 1 + (s % 7));
  const dense = saves.byteLength;
  assert.ok(dense <= sites * 12 + (sites >>> 3) + 1024 * 24, `${dense} bytes`);
  let p = saves.peaks(sites, new Float64Array(sites), new Float64Array(sites));
  assert.deepEqual([p.bytes(5 as SiteId), p.count(5 as SiteId), p.count(8191 as SiteId)], [105, 6, 1 + (8191 % 7)]);
  // Widened (past 2^31 - 1 allocations): a count above Int32's range is kept, in the columns grown after too.
  saves.widenCounts();
  saves.ensureSites(sites * 2);
  change(saves, sites + 1, 1, 2 ** 33);
  p = saves.peaks(sites * 2, new Float64Array(sites * 2), new Float64Array(sites * 2));
  assert.deepEqual([p.count((sites + 1) as SiteId), p.count(5 as SiteId)], [2 ** 33, 6]);
});
