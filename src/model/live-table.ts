// The allocations live right now, keyed by address: an open-addressing hash table in typed arrays.
//
// This is the main memory cost of reading a capture (millions of live allocations in a big process), so
// an entry is 8 bytes at a load factor of at most 0.7, instead of a Map entry plus an object (~150 bytes).
// An entry is two uint32 words side by side in one array (a look-up that finds its address has the size
// and site in the same cache line): the address over 8's low 32 bits; and in the second, from its low bits,
// the number (1-7) of the address over 8's high word (its bits above the low 32) in `highs`, a small list
// of the distinct high words met (0: an empty slot), the size, and the site. A process's addresses share a
// few high words (each covers 32 GiB: the heap's, the mappings'), so 3 bits hold what took 12. The size and
// the site share 28 bits (bit 31 stays 0: a small integer to V8): the site gets 8 at first and one more each
// time a site past them comes (sites are numbered from 0 as met, so a few times in a read, each rewriting
// the entries once), up to 18; the size has the rest, 20 bits at first and never fewer than 10. A size that
// does not fit (with 20 bits, 1 MiB or more) is kept exactly in `bigSizes`, a Map by address. So are, with
// all their values in `odd`, an address that is not a multiple of 8 or whose high word is an eighth one
// (allocators return addresses aligned to at least 8 bytes, and use a few high words: on real captures these
// stay empty).
// The wide mode (round eighteen): a site of 2^18 − 1 or more, or sizes beside in more than one entry put of
// 16 (checked every 4096 of them), switch the table once to a column of every entry's site by slot (`sites`,
// reserved as `words` is), the entry's 28 bits then all the size's (bigSizes only from 256 MiB): 12 bytes a
// slot, 16 with the indexes. put() and take() are unchanged: in the wide mode siteMax is 0, so every entry
// goes through putBeside()/takeBeside(), which write and read the column (a call per event, no Map entry).
// Before it a program of many sites paid a Map entry per allocation: the call_sites capture (~660 k stacks,
// 2^18 sites passed at the 443 000th of 2.65 M allocations at a tenth of its size) put 80 % of its entries'
// sites beside, `putBeside` 35 % of `stats`' CPU; `stats` there 13.0 s of CPU → 5.8 (at full size, 50 M
// events: 109.3 → 30.7, memray 27.2), the table alone 764 → 23 ns/event with 700 000 sites spread. numpy_mix
// (~50 k sites: 16 bits, so sizes of 4 KiB or more beside) put 13.5 % of its sizes beside (3.4 M of 25 M):
// wide after 253 000 entries put, `stats` 6.7 → 5.3 s of CPU, 238 full collections → 59. The four other
// shapes of bench/report-captures.ts (at most 11 site bits, 6 sizes beside in 25 M) never switch: their
// entries stay 8 bytes (docs/benchmarks.md, "The live table on many sites, round eighteen").
// Not kept: the column written and read in put()/take() themselves (no call per event in the wide mode: the
// table alone 6 % faster there), but the code they add to the replay's inlined chain made `stats` on
// rolling_window 4.8/4.4/3.8 s → 6.4/5.3/5.4 (never wide). A uint32 column by slot for big sizes alone
// (round fourteen) was 3-4 % slower for `stats` (V8 then left a call in the replay's chain that boxed an
// address per event: 325 scavenges against 23); the wide mode's column is touched only off that chain (and
// in remove()'s shift-back: the scavenges stay 19-21 on churn and rolling_window). A Map of sites past the
// entry's bits (`besideSites`, until round eighteen) is gone: such a site now widens the entry or makes it wide
// first.
// History: 16 bytes in round eleven (the address as a double, size and site as uint32), 12 in round twelve
// (the high word's 12 bits beside the site's 20: addresses below 2^47), 8 in round fourteen: 4 MiB instead
// of 6 for the 2^19 slots of a 50 M-event capture's 240 000 live allocations (docs/benchmarks.md).
// The allocation's index (its number among its thread's allocations) costs 4 more bytes per entry, and only
// when the reader needs it for every allocation (`indexesFrom` 0); otherwise it is kept beside the table for
// the few allocations of at least `indexesFrom` bytes, or not at all; an index of 2^32 − 1 or more is kept
// beside as well. Deletion shifts later entries of the probe run back (no tombstones), so a table that sees
// billions of events does not fill up with dead slots.
//
// Fewer slots instead (round fourteen, measured with bench/live-table-speed.ts on that capture, not kept):
// slot counts that are not powers of two (m · 2^j, 8 ≤ m ≤ 15, the home by one integer multiply of the hash's
// high bits, growth in place by 1.1-1.25 with a pending bit per slot, as hashbrown rehashes in place) cost
// the table 13-35 % more time even at the slot counts of main (the hash's high bits: a simulation of this
// capture found 7 % more probes than with its low bits), +39-56 % with growth by 1.25 at a load of at most
// 0.7, +40-61 % at 0.8, +73-102 % at 0.85 and +115 % at 0.9: with linear probing an insert walks to the end
// of its run and a removal shifts the rest of it back, both growing as 1/(1 − load)^2. The table is a fifth
// of a report's CPU, and the reports must stay within 2 % of it: the slots stay powers of two at main's load,
// and the entry got smaller instead. Cuckoo hashing (round fifteen, not kept): buckets of four slots, two
// buckets a key, a count per bucket of its keys placed in their second one, up to 93 % full: 2 MiB instead of
// 4 at that capture's peak (stats 2.2 MiB lower), but the table 40 % slower and `stats` 20 % more CPU: at
// that load most first buckets are full (60 % of ALLOCs and 29 % of FREEs looked at a second bucket, another
// cache line), and even at 70 % a miss reads the whole bucket where linear probing stops at the first empty
// slot (docs/benchmarks.md, "stats' peak, round fifteen"). Hashes that keep an address's neighbours in
// neighbouring slots (round seventeen, not kept): a group of 8 16-byte units in one cache line of slots cut the
// events meeting a cold line of a 64 MiB table from 19 % to 7 %, but the groups cluster under linear probing
// (2.5× the probes), and the table was no faster there (39.7-43.5 ns/event against 39.6-43.0); a 4 KiB page of
// slots per 256 bytes of addresses (for the TLB) was 4 % faster there and 8-11 % slower on the other captures
// (docs/benchmarks.md, "The live table on a big live set, round seventeen").
//
// A big table doubles in place. Its arrays are made once for many more slots than it uses (RESERVED_SLOTS),
// and only the first `mask + 1` are used: the rest stays untouched, so the system gives it no memory (an
// array that big is mapped by malloc, whose fresh pages are zero without being written). Doubling then
// moves each entry within the arrays it is in, instead of copying them into new arrays twice as big beside
// the old ones: at the last doubling of a report's table (4 MiB used, 8 MiB after) the process held 12 MiB
// at once, the highest moment of its memory (docs/benchmarks.md, "Report memory, round seven").

import type { SiteId } from './ids.js';
import { outgrown } from '../util/outgrown.js';

/** In the indexes column: the index is in the side map. */
const BESIDE = 0xffffffff;
/** 2^35: an address's high word, over 8 (the address over 8's bits above its low 32). */
const TWO_35 = 34359738368;
/** 2^-35, exactly: a multiplication by it is exact, and quicker than a division by TWO_35. */
const ONE_35TH = 1 / TWO_35;
/** The second word's low bits: the number (1 to HIGH_WORDS) of the address's high word in `highs`; 0, an empty slot. */
const HIGH_BITS = 3;
const HIGH_WORDS = (1 << HIGH_BITS) - 1;
/**
 * The second word's bits above HIGH_BITS, size then site: FIELD_BITS in all, bit 31 left 0 (so that the word is
 * a small integer to V8). The site's part starts at FIRST_SITE_BITS and widens as bigger sites come, up to
 * MAX_SITE_BITS; the size has the rest.
 */
const FIELD_BITS = 28;
const FIRST_SITE_BITS = 8;
const MAX_SITE_BITS = 18;
/** In the wide mode (`sites`): sizes of this or more are kept beside (bigSizes), this in the entry. */
const WIDE_SIZE_MAX = 2 ** FIELD_BITS - 1;
/**
 * Outside the wide mode, every BIG_CHECK sizes put beside (bigSizes) are compared with the entries put meanwhile:
 * more than one in BIG_SHARE of them, and the table goes wide (its sizes get all FIELD_BITS).
 */
const BIG_CHECK = 4096;
const BIG_SHARE = 16;
const PUTS_MASK = 2 ** 30 - 1;
/** A table reaching this many slots moves into arrays reserved for RESERVED_SLOTS (below it, exact arrays). */
const IN_PLACE_FROM = 1 << 17;
/**
 * Slots of the arrays a big table doubles in (virtual memory: 64 MiB of entries, 32 MiB of indexes, none
 * of it resident until used). 32 MiB or more so that malloc maps each array rather than taking it from its
 * heap (where calloc would write the zeros: glibc raises its mmap threshold up to 32 MiB). A table past it
 * moves into arrays four times its size, and doubles in place twice more.
 */
const RESERVED_SLOTS = 1 << 23;
/**
 * removeMany()'s addresses looked up ahead at a time: few enough that their pages stay in the processor's TLB
 * until their removals (64 to 512 measured alike, 4096 slower).
 */
const AHEAD = 256;

export interface LiveTableOptions {
  /**
   * Keep the index of allocations of at least this many bytes (default 0: every allocation's;
   * Infinity: none). The others are removed with removedIndex 0.
   */
  readonly indexesFrom?: number;
}

/** An allocation at an address the table's entries cannot hold (see the top), with all its values. */
interface OddEntry {
  size: number;
  site: SiteId;
  index: number;
}

/**
 * The slot a key hashes to: hashAddress (tuple-interner.ts) of the address `high` · 2^35 + `low` · 8. Written out
 * again in remove()'s shift loop: the two must stay the same.
 */
function home(low: number, high: number): number {
  let h = Math.imul(low, 0x9e3779b1) ^ Math.imul((high << 3) | (low >>> 29), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h;
}

export class LiveTable {
  /**
   * Entry i: the address over 8's low word at words[2i]; at words[2i + 1], the number of its high word in
   * `highs` (low HIGH_BITS bits), the size (the next sizeBits bits) and the site (above them).
   */
  private words: Uint32Array;
  /** Present when every allocation's index is kept (indexesFrom 0). */
  private indexes: Uint32Array | undefined;
  private readonly indexesFrom: number;
  /** The high words (an address over 2^35) of the table's entries, in the order they came: entry's number − 1. */
  private readonly highs = new Uint32Array(HIGH_WORDS);
  private highCount = 0;
  /** The high word last looked up, and its number in `highs` (0: none yet). */
  private lastHigh = -1;
  private lastHighNumber = 0;
  /** The size's bits in an entry: sizes of sizeMax or more are kept beside (bigSizes), sizeMax in the entry. */
  private sizeBits = FIELD_BITS - FIRST_SITE_BITS;
  private sizeMax = 2 ** (FIELD_BITS - FIRST_SITE_BITS) - 1;
  /** Where the site starts in the second word; sites of siteMax or more are kept beside, siteMax in the entry. */
  private siteShift = HIGH_BITS + FIELD_BITS - FIRST_SITE_BITS;
  private siteMax = 2 ** FIRST_SITE_BITS - 1;
  /** Sizes of sizeMax or more, by address. */
  private readonly bigSizes = new Map<number, number>();
  /** Indexes that are kept but not in `indexes` (too big for it, or indexesFrom > 0), by address. */
  private readonly besideIndexes = new Map<number, number>();
  /**
   * The wide mode: every entry's site, by slot (reserved as `words` is), the entry's FIELD_BITS all its size.
   * Made once, when a site of 2^MAX_SITE_BITS − 1 or more comes or sizes beside become common (see the top).
   */
  private sites: Uint32Array | undefined;
  /** Sites of this or more call widenSites() (siteMax; 2^32 in the wide mode, where siteMax is 0). */
  private widenFrom = 2 ** FIRST_SITE_BITS - 1;
  /**
   * Entries put (counted for the check on sizes beside: BIG_CHECK), modulo 2^30, and their number at the last
   * check. Modulo: a field that passes 2^30 − 1 stops being a small integer to V8, and every optimized function
   * that checks the table's shape then deopts (docs/benchmarks.md, "Deopts and recompiles of a big read").
   */
  private puts = 0;
  private putsChecked = 0;
  /** Sizes put beside (bigSizes) since the last check. */
  private bigPuts = 0;
  /** Allocations at addresses that no entry can hold (see the top), by address. */
  private readonly odd = new Map<number, OddEntry>();
  /** Slots in use − 1 (the arrays may hold more: see RESERVED_SLOTS). */
  private mask: number;
  /** Entries in the table (`odd` holds the others). */
  private count = 0;
  // What remove() found, read by the caller right after it (no object per call on the hot path).
  removedSize = 0;
  removedSite = 0 as SiteId;
  removedIndex = 0;
  /** What removeMany()'s first loop read (kept, so that the compiler keeps its loads). */
  linesRead = 0;

  constructor(initialCapacity = 1 << 16, options: LiveTableOptions = {}) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.indexesFrom = options.indexesFrom ?? 0;
    [this.words, this.indexes] = newArrays(cap, this.indexesFrom === 0);
    this.mask = cap - 1;
    // The fields that grow() and widenSites() change, and the high words' state, written a second time: V8
    // marks a field stored only once "const", and the first change later in the read (the table's first
    // growth into new arrays, the sites' first widening, the first address past 2^35) deoptimized every
    // optimized function that read it, the decoder's loop with the replay inlined (round twenty-five, cpu25).
    const { sizeBits, sizeMax, siteShift, siteMax, widenFrom, highCount, lastHigh, lastHighNumber, sites } = this;
    // A value other than the field's own: V8 keeps a field "const" through a store of the value it holds.
    this.sizeBits = this.sizeMax = this.siteShift = this.siteMax = this.widenFrom = this.highCount = this.lastHigh = this.lastHighNumber = 7;
    this.sites = this.highs;
    this.sizeBits = sizeBits;
    this.sizeMax = sizeMax;
    this.siteShift = siteShift;
    this.siteMax = siteMax;
    this.widenFrom = widenFrom;
    this.highCount = highCount;
    this.lastHigh = lastHigh;
    this.lastHighNumber = lastHighNumber;
    this.sites = sites;
  }

  get size(): number {
    return this.count + this.odd.size;
  }

  /** The bytes of the slots in use (the arrays reserved for a big table are larger, and not resident beyond them). */
  get byteLength(): number {
    return (this.mask + 1) * ((this.indexes !== undefined ? 12 : 8) + (this.sites !== undefined ? 4 : 0));
  }

  has(address: number): boolean {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    const number = high === this.lastHigh ? this.lastHighNumber : this.highNumber(high);
    // `odd` is looked at only when it holds something: the address passed to the Map (or to oddRemove(), a call)
    // is boxed, a heap number per look-up of an address whose high word the table has not met (see remove()).
    if (number === 0 || high * TWO_35 + low * 8 !== address) return this.odd.size !== 0 && this.odd.has(address);
    return this.find(low, high, number) >= 0;
  }

  /** Adds an allocation; the caller has checked that `address` is not live. */
  insert(address: number, size: number, site: SiteId, index: number): void {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    const number = high * TWO_35 + low * 8 !== address ? 0 : high === this.lastHigh ? this.lastHighNumber : this.newHighNumber(high);
    if (number === 0) {
      this.odd.set(address, { size, site, index: this.keptIndex(size, index) });
      return;
    }
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) outgrown(this.grow());
    if (site >= this.widenFrom) this.widenSites(site);
    const words = this.words;
    const mask = this.mask;
    let slot = home(low, high) & mask;
    while (words[slot * 2 + 1] !== 0) slot = (slot + 1) & mask;
    this.put(slot, low, number, size, site, index);
    this.count++;
  }

  /**
   * Adds an allocation at `address`, replacing the one live there if any (then true, and removedSize/Site/
   * Index describe the replaced one). One probe instead of remove() then insert().
   */
  insertOrReplace(address: number, size: number, site: SiteId, index: number): boolean {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    const number = high * TWO_35 + low * 8 !== address ? 0 : high === this.lastHigh ? this.lastHighNumber : this.newHighNumber(high);
    if (number === 0) return this.oddInsertOrReplace(address, size, site, index);
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) outgrown(this.grow());
    if (site >= this.widenFrom) this.widenSites(site);
    const words = this.words;
    const mask = this.mask;
    let slot = home(low, high) & mask;
    for (;;) {
      const w = words[slot * 2 + 1]!;
      if (w === 0) break;
      if (words[slot * 2] === low && (w & HIGH_WORDS) === number) {
        this.take(slot);
        this.put(slot, low, number, size, site, index);
        return true;
      }
      slot = (slot + 1) & mask;
    }
    this.put(slot, low, number, size, site, index);
    this.count++;
    return false;
  }

  /** Removes the allocation at `address`; false if none. On success removedSize/Site/Index describe it. */
  remove(address: number): boolean {
    const low = (address * 0.125) >>> 0;
    const high = (address * ONE_35TH) >>> 0;
    const number = high === this.lastHigh ? this.lastHighNumber : this.highNumber(high);
    // Not oddRemove() while `odd` is empty (it is on real captures): the address passed to that call is boxed, a
    // heap number per free of an address whose high word the table has not met: on numpy_mix, the replay's
    // `tracked` table and PyTraceMalloc_Untracks of buffers it does not hold (their tracks were duplicates of
    // malloc's): 80 MB of young garbage in `stats`, 250 scavenges → 173.
    if (number === 0 || high * TWO_35 + low * 8 !== address) return this.odd.size !== 0 && this.oddRemove(address);
    let slot = this.find(low, high, number);
    if (slot < 0) return false;
    this.take(slot);
    this.count--;
    // Backward-shift deletion: move later members of the probe run into the hole when their home slot
    // does not lie cyclically in (hole, current]. The home is home() written out: on accumulate V8 left that
    // call a call (a loop that runs less than once per free early in a read is not among the call sites it
    // inlines), ~0.15 s of `stats`, and its argument and result boxed past 2^30: 370 MB of young garbage, 382
    // scavenges against 25. Written out, remove() stays within V8's 460 bytes of bytecode for a function it
    // inlines (454; with the range test as two branches, 476: then remove() itself stayed a call).
    const mask = this.mask;
    const words = this.words;
    const indexes = this.indexes;
    const sites = this.sites;
    const highs = this.highs;
    let next = (slot + 1) & mask;
    for (;;) {
      const w = words[next * 2 + 1]!;
      if (w === 0) break;
      const k = words[next * 2]!;
      // home(), written out (see above); it is in (hole, current] cyclically when it lies fewer than
      // current − hole slots after hole + 1 (all modulo the slots).
      let h = Math.imul(k, 0x9e3779b1) ^ Math.imul((highs[(w & HIGH_WORDS) - 1]! << 3) | (k >>> 29), 0x85ebca6b);
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      if ((((h ^ (h >>> 12)) - slot - 1) & mask) >= ((next - slot) & mask)) {
        words[slot * 2] = k;
        words[slot * 2 + 1] = w;
        if (indexes !== undefined) indexes[slot] = indexes[next]!;
        if (sites !== undefined) sites[slot] = sites[next]!;
        slot = next;
      }
      next = (next + 1) & mask;
    }
    words[slot * 2 + 1] = 0;
    return true;
  }

  /**
   * remove() of `addresses[0 .. n)`, in that order: position i's values go into sizes[i], sites[i] and indexes[i]
   * (sizes[i] −1: not live, or freed by an earlier position). A program's end frees most of a big table in one
   * run of FREEs (the replay holds such a run back and calls this: heap-replay.ts), each in a cold line of it.
   * So AHEAD addresses at a time: first the lines of each one's home slot and of the slot 7 after it (where its
   * probe run or the backward shift goes on when the home is late in its line) are read, in a loop of a few
   * instructions each whose loads do not wait on one another, so that the processor has many of these misses
   * in flight at once; then each remove() finds its lines in the cache. On accumulate (4.81 M frees out of a
   * 64 MiB table) 178-192 ns → 131-135 ns an event with the whole call's addresses read first (round
   * twenty-two, branch free22); AHEAD at a time and the second line, 134 → 104 ns (round twenty-four: each
   * line is also a page of its own, and 4096 pages are more than the processor's TLB keeps between the two
   * loops; docs/benchmarks.md, "... round twenty-four ... branch live24").
   */
  removeMany(addresses: Float64Array, n: number, sizes: Float64Array, sites: Uint32Array, indexes: Float64Array): void {
    let lines = 0;
    for (let from = 0; from < n; from += AHEAD) {
      const to = from + AHEAD < n ? from + AHEAD : n;
      const words = this.words;
      const mask = this.mask;
      for (let i = from; i < to; i++) {
        const address = addresses[i]!;
        const slot = home((address * 0.125) >>> 0, (address * ONE_35TH) >>> 0) & mask;
        lines ^= words[slot * 2 + 1]! ^ words[((slot + 7) & mask) * 2 + 1]!;
      }
      // One store of each array, whether found or not: a store only a miss makes would have no type feedback
      // when V8 compiles this loop, and the first miss after would deoptimize it (a compile at the program's
      // end, the read's largest moment).
      for (let i = from; i < to; i++) {
        const found = this.remove(addresses[i]!);
        sizes[i] = found ? this.removedSize : -1;
        sites[i] = this.removedSite;
        indexes[i] = this.removedIndex;
      }
    }
    this.linesRead = lines & 1; // kept (a small integer): a load whose value nothing reads could be left out
  }

  /**
   * The read is over (HeapReplay.endOfRead()): the table's arrays given up, the table left empty (16 slots, as
   * usable as a new one). Returns the bytes of the slots that were in use. Only at the end: the fields written
   * here are the hot path's, and optimized code that read them as constants is thrown away.
   */
  giveUp(): number {
    const bytes = this.byteLength;
    [this.words, this.indexes] = newArrays(16, this.indexes !== undefined);
    if (this.sites !== undefined) this.sites = new Uint32Array(16);
    this.mask = 15;
    this.count = 0;
    this.bigSizes.clear();
    this.besideIndexes.clear();
    this.odd.clear();
    return bytes;
  }

  /** Calls `fn` for every live allocation (order unspecified). */
  forEach(fn: (address: number, size: number, site: SiteId) => void): void {
    const slots = this.mask + 1;
    const words = this.words;
    const sites = this.sites;
    for (let i = 0; i < slots; i++) {
      const w = words[i * 2 + 1]!;
      if (w === 0) continue;
      const address = this.addressAt(i);
      const s = (w >>> HIGH_BITS) & this.sizeMax;
      const siteField = w >>> this.siteShift;
      fn(address, s === this.sizeMax ? (this.bigSizes.get(address) as number) : s, (sites !== undefined ? sites[i]! : siteField) as SiteId);
    }
    for (const [address, e] of this.odd) fn(address, e.size, e.site);
  }

  /** The number of the high word `high` in `highs`, remembered as the last one looked up; 0 if it has none. */
  private highNumber(high: number): number {
    const highs = this.highs;
    for (let i = 0; i < this.highCount; i++) {
      if (highs[i] === high) {
        this.lastHigh = high;
        this.lastHighNumber = i + 1;
        return i + 1;
      }
    }
    return 0;
  }

  /** highNumber(), giving `high` a number if it has none and there is room (else 0: the address goes to `odd`). */
  private newHighNumber(high: number): number {
    const number = this.highNumber(high);
    if (number !== 0 || this.highCount === HIGH_WORDS) return number;
    this.highs[this.highCount++] = high;
    return this.highNumber(high);
  }

  /**
   * Writes the entry at `slot`. No address argument: a double passed to a call that V8 does not inline is
   * boxed (a heap number per event). Small, the rare values in putBeside(): this is inlined with the rest of
   * the replay's chain into the decoder's loop, within V8's budget for it (src/util/report-flags.ts).
   */
  private put(slot: number, low: number, number: number, size: number, site: SiteId, index: number): void {
    const words = this.words;
    const sizeMax = this.sizeMax;
    const siteMax = this.siteMax;
    this.puts = (this.puts + 1) & PUTS_MASK;
    words[slot * 2] = low;
    words[slot * 2 + 1] = ((site < siteMax ? site : siteMax) << this.siteShift) | ((size < sizeMax ? size : sizeMax) << HIGH_BITS) | number;
    const indexes = this.indexes;
    if (indexes !== undefined) indexes[slot] = index;
    if (size >= sizeMax || site >= siteMax || (indexes === undefined ? size >= this.indexesFrom : index >= BESIDE)) this.putBeside(slot, size, site, index);
  }

  /**
   * put()'s values that the entry cannot hold: the site into `sites` in the wide mode (every entry's: its
   * siteMax is 0), the others into the maps beside (keyed by the address, rebuilt: only when one is needed,
   * an address being a double that a Map's key boxes).
   */
  private putBeside(slot: number, size: number, site: SiteId, index: number): void {
    // A site of siteMax or more outside the wide mode went to widenSites() first: none is put here.
    const sites = this.sites;
    if (sites !== undefined) sites[slot] = site;
    if (size >= this.sizeMax) {
      this.bigSizes.set(this.addressAt(slot), size);
      if (sites === undefined && size < WIDE_SIZE_MAX && ++this.bigPuts === BIG_CHECK) this.checkBigSizes();
    }
    const indexes = this.indexes;
    if (indexes === undefined) {
      if (size >= this.indexesFrom) this.besideIndexes.set(this.addressAt(slot), index);
    } else if (index >= BESIDE) {
      indexes[slot] = BESIDE;
      this.besideIndexes.set(this.addressAt(slot), index);
    }
  }

  /**
   * BIG_CHECK sizes that the wide mode's entry would hold were put beside: goes wide if they were more than
   * one in BIG_SHARE of the entries put since the last check. Called from putBeside() after the size went
   * into bigSizes: goWide() moves it back.
   */
  private checkBigSizes(): void {
    const puts = (this.puts - this.putsChecked) & PUTS_MASK;
    this.putsChecked = this.puts;
    this.bigPuts = 0;
    if (puts < BIG_CHECK * BIG_SHARE) this.goWide();
  }

  /** The address of the entry at `slot`. */
  private addressAt(slot: number): number {
    return this.highs[(this.words[slot * 2 + 1]! & HIGH_WORDS) - 1]! * TWO_35 + this.words[slot * 2]! * 8;
  }

  /** Reads the values of the entry at `slot` into removedSize/Site/Index (with takeBeside() for the rare ones). */
  private take(slot: number): void {
    const w = this.words[slot * 2 + 1]!;
    const size = (w >>> HIGH_BITS) & this.sizeMax;
    const siteField = w >>> this.siteShift;
    this.removedSize = size;
    this.removedSite = siteField as SiteId;
    const indexes = this.indexes;
    const index = indexes !== undefined ? indexes[slot]! : 0;
    this.removedIndex = index;
    if (size === this.sizeMax || siteField === this.siteMax || (indexes === undefined ? size >= this.indexesFrom : index === BESIDE)) this.takeBeside(slot);
  }

  /** take()'s values kept in `sites` or the maps beside, taken out of the maps. */
  private takeBeside(slot: number): void {
    const w = this.words[slot * 2 + 1]!;
    const sites = this.sites;
    if (sites !== undefined) this.removedSite = sites[slot]! as SiteId;
    if (((w >>> HIGH_BITS) & this.sizeMax) === this.sizeMax) {
      const address = this.addressAt(slot);
      this.removedSize = this.bigSizes.get(address) as number;
      this.bigSizes.delete(address);
    }
    if (this.indexes !== undefined) {
      if (this.removedIndex === BESIDE) {
        const address = this.addressAt(slot);
        this.removedIndex = this.besideIndexes.get(address) as number;
        this.besideIndexes.delete(address);
      }
    } else if (this.removedSize >= this.indexesFrom) {
      const address = this.addressAt(slot);
      this.removedIndex = this.besideIndexes.get(address) ?? 0;
      this.besideIndexes.delete(address);
    }
  }

  /**
   * Gives the site more bits of the entries, so that `site` fits if it can (up to MAX_SITE_BITS), and the
   * size fewer: every entry is written again, a size that no longer fits going beside. Sites are numbered
   * from 0 as they are met, so this happens a few times in a read, each time the sites double.
   */
  private widenSites(site: number): void {
    if (site >= 2 ** MAX_SITE_BITS - 1) {
      this.goWide();
      return;
    }
    let siteBits = FIELD_BITS - this.sizeBits;
    while (site >= 2 ** siteBits - 1 && siteBits < MAX_SITE_BITS) siteBits++;
    const sizeBits = FIELD_BITS - siteBits;
    const sizeMax = 2 ** sizeBits - 1;
    const siteMax = 2 ** siteBits - 1;
    const siteShift = HIGH_BITS + sizeBits;
    const words = this.words;
    const slots = this.mask + 1;
    for (let i = 0; i < slots; i++) {
      const w = words[i * 2 + 1]!;
      if (w === 0) continue;
      let sizeField = (w >>> HIGH_BITS) & this.sizeMax;
      if (sizeField === this.sizeMax) sizeField = sizeMax;
      else if (sizeField >= sizeMax) {
        this.bigSizes.set(this.addressAt(i), sizeField);
        sizeField = sizeMax;
      }
      const siteField = w >>> this.siteShift;
      words[i * 2 + 1] = ((siteField === this.siteMax ? siteMax : siteField) << siteShift) | (sizeField << HIGH_BITS) | (w & HIGH_WORDS);
    }
    this.sizeBits = sizeBits;
    this.sizeMax = sizeMax;
    this.siteMax = siteMax;
    this.siteShift = siteShift;
    this.widenFrom = siteMax;
  }

  /**
   * Switches to the wide mode, once: every entry's site goes into the new `sites` column, and its size into all FIELD_BITS of the entry (sizes in bigSizes that now fit leave it).
   * `sites` is reserved as `words` is (its pages resident only as they are written).
   */
  private goWide(): void {
    const words = this.words;
    const sites = newColumn(words.length / 2, this.mask + 1);
    const slots = this.mask + 1;
    for (let i = 0; i < slots; i++) {
      const w = words[i * 2 + 1]!;
      if (w === 0) continue;
      sites[i] = w >>> this.siteShift;
      let size = (w >>> HIGH_BITS) & this.sizeMax;
      if (size === this.sizeMax) {
        const address = this.addressAt(i);
        size = this.bigSizes.get(address)!;
        if (size < WIDE_SIZE_MAX) this.bigSizes.delete(address);
      }
      words[i * 2 + 1] = ((size < WIDE_SIZE_MAX ? size : WIDE_SIZE_MAX) << HIGH_BITS) | (w & HIGH_WORDS);
    }
    this.sites = sites;
    this.sizeBits = FIELD_BITS;
    this.sizeMax = WIDE_SIZE_MAX;
    // Every site is then put beside (into `sites`): site >= 0 always, and 0 << 31 leaves the entry's bit 31 at 0.
    this.siteMax = 0;
    this.siteShift = HIGH_BITS + FIELD_BITS;
    this.widenFrom = 2 ** 32;
  }

  private find(low: number, high: number, number: number): number {
    const words = this.words;
    const mask = this.mask;
    let slot = home(low, high) & mask;
    for (;;) {
      const w = words[slot * 2 + 1]!;
      if (w === 0) return -1;
      if (words[slot * 2] === low && (w & HIGH_WORDS) === number) return slot;
      slot = (slot + 1) & mask;
    }
  }

  /** The index an odd entry keeps: as the table would (0 when not kept). */
  private keptIndex(size: number, index: number): number {
    return this.indexes !== undefined || size >= this.indexesFrom ? index : 0;
  }

  private oddInsertOrReplace(address: number, size: number, site: SiteId, index: number): boolean {
    const replaced = this.oddRemove(address);
    this.odd.set(address, { size, site, index: this.keptIndex(size, index) });
    return replaced;
  }

  private oddRemove(address: number): boolean {
    const e = this.odd.get(address);
    if (e === undefined) return false;
    this.odd.delete(address);
    this.removedSize = e.size;
    this.removedSite = e.site;
    this.removedIndex = e.index;
    return true;
  }

  /**
   * Doubles the table: in place when its arrays have the room, else into new arrays. The caller says
   * outgrown() with what it returns, the bytes of the old arrays when there were new ones (else 0), once
   * they are no longer referenced from this frame: otherwise they would wait for a full collection
   * (util/outgrown.ts).
   */
  private grow(): number {
    const slots = (this.mask + 1) * 2;
    if (slots * 2 <= this.words.length && (this.sites === undefined || slots <= this.sites.length)) {
      this.growInPlace();
      return 0;
    }
    const oldWords = this.words;
    const oldIndexes = this.indexes;
    const oldSlots = this.mask + 1;
    const [words, indexes] = newArrays(slots, oldIndexes !== undefined);
    const oldSites = this.sites;
    const sites = oldSites !== undefined ? newColumn(words.length / 2, slots) : undefined;
    const mask = slots - 1;
    const highs = this.highs;
    // The values move as they are (what is kept beside stays keyed by address).
    for (let i = 0; i < oldSlots; i++) {
      const w = oldWords[i * 2 + 1]!;
      if (w === 0) continue;
      const k = oldWords[i * 2]!;
      let slot = home(k, highs[(w & HIGH_WORDS) - 1]!) & mask;
      while (words[slot * 2 + 1] !== 0) slot = (slot + 1) & mask;
      words[slot * 2] = k;
      words[slot * 2 + 1] = w;
      if (indexes !== undefined) indexes[slot] = oldIndexes![i]!;
      if (sites !== undefined) sites[slot] = oldSites![i]!;
    }
    this.words = words;
    this.indexes = indexes;
    this.sites = sites;
    this.mask = mask;
    return oldWords.byteLength + (oldIndexes?.byteLength ?? 0) + (oldSites?.byteLength ?? 0);
  }

  /**
   * Doubles the slots in use within the same arrays; the new half is empty (never used). Each entry of the
   * old half is taken out and put back by the new mask, its home either where it was or one old size
   * higher. Taken in slot order from just after an empty slot, so that each probe run is taken from its
   * start: an entry put back in the old half then lands at or before the slot it left (every slot from its
   * home to there was taken already, and it is empty now), so it never passes an entry not yet taken; one
   * put back in the new half sees only entries already put back, unless its probe run reaches the end of the
   * table and would go on at slot 0: those few are set aside and inserted once all are in.
   */
  private growInPlace(): void {
    const words = this.words;
    const indexes = this.indexes;
    const sites = this.sites;
    const highs = this.highs;
    const oldSlots = this.mask + 1;
    const slots = oldSlots * 2;
    const mask = slots - 1;
    this.mask = mask;
    let empty = 0;
    while (words[empty * 2 + 1] !== 0) empty++; // there is one: the load factor is at most 0.7
    let wrapped: number[] | undefined;
    for (let n = 1; n <= oldSlots; n++) {
      const i = (empty + n) & (oldSlots - 1);
      const w = words[i * 2 + 1]!;
      if (w === 0) continue;
      const k = words[i * 2]!;
      words[i * 2 + 1] = 0;
      let slot = home(k, highs[(w & HIGH_WORDS) - 1]!) & mask;
      while (words[slot * 2 + 1] !== 0 && slot < mask) slot++;
      if (words[slot * 2 + 1] !== 0) {
        (wrapped ??= []).push(k, w, indexes !== undefined ? indexes[i]! : 0, sites !== undefined ? sites[i]! : 0);
        words[i * 2] = 0;
        continue;
      }
      if (slot === i) {
        words[i * 2 + 1] = w;
        continue;
      }
      words[slot * 2] = k;
      words[slot * 2 + 1] = w;
      words[i * 2] = 0;
      if (indexes !== undefined) indexes[slot] = indexes[i]!;
      if (sites !== undefined) sites[slot] = sites[i]!;
    }
    if (wrapped === undefined) return;
    for (let e = 0; e < wrapped.length; e += 4) {
      const k = wrapped[e]!;
      const w = wrapped[e + 1]!;
      let slot = home(k, highs[(w & HIGH_WORDS) - 1]!) & mask;
      while (words[slot * 2 + 1] !== 0) slot = (slot + 1) & mask;
      words[slot * 2] = k;
      words[slot * 2 + 1] = w;
      if (indexes !== undefined) indexes[slot] = wrapped[e + 2]!;
      if (sites !== undefined) sites[slot] = wrapped[e + 3]!;
    }
  }
}

/**
 * The arrays of a table of `slots` slots: exact below IN_PLACE_FROM, else reserved larger (RESERVED_SLOTS,
 * or four times `slots` past it). Where the system refuses to reserve that much (a strict overcommit
 * setting), exact.
 */
function newArrays(slots: number, withIndexes: boolean): [Uint32Array, Uint32Array | undefined] {
  if (slots >= IN_PLACE_FROM) {
    const room = Math.max(RESERVED_SLOTS, slots * 4);
    try {
      return [new Uint32Array(room * 2), withIndexes ? new Uint32Array(room) : undefined];
    } catch {
      // A RangeError: the arrays are allocated exactly below.
    }
  }
  return [new Uint32Array(slots * 2), withIndexes ? new Uint32Array(slots) : undefined];
}

/** A column of `room` slots (as reserved as the table's words are), or of `slots` where the system refuses that. */
function newColumn(room: number, slots: number): Uint32Array {
  if (room > slots) {
    try {
      return new Uint32Array(room);
    } catch {
      // A RangeError: exact below.
    }
  }
  return new Uint32Array(slots);
}
