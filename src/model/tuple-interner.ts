// Hash-consing of small numeric tuples into dense ids (0, 1, 2, …), in typed arrays.
//
// Stacks, native stacks and allocation sites are interned per event on the hot path, and a big capture
// holds millions of them: a Map keyed by a joined string would allocate a string per lookup and cost
// ~100 bytes per entry. Here a tuple costs `arity` doubles plus two int32 slots of the open-addressing
// index. Components are non-negative integers below 2^53 (instruction pointers need more than 32 bits).
// PyNodeInterner is the Python stack nodes' own: Int32 keys and a hint checked before the probe.

const EMPTY = -1;
const TWO_32 = 4294967296;

export class TupleInterner {
  readonly arity: number;
  private values: Float64Array;
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  constructor(arity: number, initialCapacity = 1024) {
    this.arity = arity;
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Int32Array(cap).fill(EMPTY);
    this.mask = cap - 1;
    this.values = new Float64Array(Math.max(16, initialCapacity) * arity);
  }

  get size(): number {
    return this.count;
  }

  /** The id of the tuple, adding it if new. `c` and `d` are ignored beyond the arity. */
  intern(a: number, b: number, c = 0, d = 0): number {
    const arity = this.arity;
    const values = this.values;
    let slot = hash4(a, b, c, d) & this.mask;
    for (;;) {
      const id = this.slots[slot]!;
      if (id === EMPTY) break;
      const base = id * arity;
      if (values[base] === a && values[base + 1] === b && (arity < 3 || values[base + 2] === c) && (arity < 4 || values[base + 3] === d)) {
        return id;
      }
      slot = (slot + 1) & this.mask;
    }
    const id = this.count++;
    if ((id + 1) * arity > this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    const base = id * arity;
    this.values[base] = a;
    this.values[base + 1] = b;
    if (arity > 2) this.values[base + 2] = c;
    if (arity > 3) this.values[base + 3] = d;
    this.slots[slot] = id;
    if (this.count * 2 > this.slots.length) this.rehash();
    return id;
  }

  /** Component `k` (0-based) of tuple `id`. */
  get(id: number, k: number): number {
    return this.values[id * this.arity + k]!;
  }

  /** An independent copy (same ids). */
  clone(): TupleInterner {
    const copy = new TupleInterner(this.arity, 16);
    copy.values = this.values.slice();
    copy.slots = this.slots.slice();
    copy.mask = this.mask;
    copy.count = this.count;
    return copy;
  }

  /** Bytes held by the arrays (for the memory figures in benchmarks). */
  get byteLength(): number {
    return this.values.byteLength + this.slots.byteLength;
  }

  private rehash(): void {
    const cap = this.slots.length * 2;
    const slots = new Int32Array(cap).fill(EMPTY);
    const mask = cap - 1;
    const arity = this.arity;
    const values = this.values;
    for (let id = 0; id < this.count; id++) {
      const base = id * arity;
      let slot = hash4(values[base]!, values[base + 1]!, arity > 2 ? values[base + 2]! : 0, arity > 3 ? values[base + 3]! : 0) & mask;
      while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
      slots[slot] = id;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/** 32-bit mix of four integers below 2^53 (each split into its low and high 32 bits). */
export function hash4(a: number, b: number, c: number, d: number): number {
  let h = 0x9e3779b9;
  h = mix(h, a >>> 0);
  h = mix(h, (a / TWO_32) >>> 0);
  h = mix(h, b >>> 0);
  h = mix(h, (b / TWO_32) >>> 0);
  h = mix(h, c >>> 0);
  h = mix(h, d >>> 0);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Hash of one address (a multiple of 8, below 2^53). */
export function hashAddress(address: number): number {
  let h = Math.imul((address / 8) >>> 0, 0x9e3779b1) ^ Math.imul((address / TWO_32) >>> 0, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

/**
 * The Python stack nodes (parent node id + 1, code id, instruction offset) → dense ids, for a capture of
 * millions of nodes whose FRAME records re-define them again and again (call_sites: 29.7 M FRAMEs, 3.26 M
 * distinct nodes; the agent's table of 2^18 nodes per thread outgrown 113 times, each STACK_RESET followed by
 * the re-definition of ~262 k nodes). A hash probe there costs two cache misses a FRAME (the slot, then the
 * tuple), in tables of 130 MB. But a stream re-defines nodes in about the order they were first defined (a
 * program repeats its paths), so the node after the one a stream defined last is, most often, the one whose
 * id follows: `intern` takes that id as a hint and checks it first, reading the keys in id order, which the
 * cache and the prefetcher serve. The probe is for the rest.
 * Keys are held in Int32Array, 12 bytes a node (the parent is a node id, below 2^31; code id and
 * instruction are u32, stored as their bits), and the index 4 bytes a slot (5 past 2^24 nodes): 17-22 bytes a node
 * (the index up to 4/5 full) where TupleInterner of arity 3 holds 32-40 (call_sites: 84 rather than 134 MB).
 * Of a slot's 4 bytes, one is its key's fingerprint, in an array of its own that a probe scans alone: a new node
 * (most probes: call_sites' 3.26 M first definitions) costs a miss in 1 byte a slot (4 MiB), not in the 4 bytes
 * a slot of ids (16 MiB), and a probe reads the id and the keys of a slot only where the fingerprint matches.
 * Each FRAME waits for the node of the one before (its parent, its hint), so a probe's miss is paid whole: on
 * this machine a chain of dependent reads costs ~40 ns each in 4 MiB, ~175 ns in 16 MiB (round twenty-eight).
 */
export class PyNodeInterner {
  private keys: Int32Array;
  // The index, in parallel arrays: at a slot, its key's fingerprint in `fps` (fingerprint(): 1-255; 0 an empty
  // slot), and its node's id, the low 16 bits in `lo`, the next 8 in `hi`, and the top 8 in `top` once the ids
  // outgrew 24 bits (`wide`; until then `top` is empty). A probe scans `fps` alone, 1 byte a slot: for call_sites'
  // 3.26 M nodes, 4 MiB rather than the 16 MiB of Int32 slots it scanned before (docs/benchmarks.md, round
  // twenty-eight), and reads a slot's id, then its keys, only where the fingerprint matches. The same 4 bytes a slot,
  // in one ArrayBuffer as the Int32 slots were: one allocation of the same size, so that malloc's heap and the peak
  // see what they saw before (a 1-byte array beside the Int32 slots, 5 bytes a slot, raised summary's peak by 5 MB).
  private fps: Uint8Array;
  private lo: Uint16Array;
  private hi: Uint8Array;
  private top: Uint8Array;
  private wide = false;
  private mask: number;
  private count = 0;
  /** Ids below this fit `lo` and `hi` (2^24; fewer in tests, to reach the wide slots). */
  private readonly narrowIds: number;
  /** The bits of an id in `lo` (16; narrowBits − 8 in tests), then 8 in `hi`, and the rest in `top`. */
  private readonly lowBits: number;
  private readonly lowMask: number;

  /** rehash() by regions of this many slots past it (REGION_BITS; fewer in tests, to reach it with few nodes). */
  private readonly regionSlots: number;

  /**
   * `narrowBits` (9-24): ids below 2^narrowBits are held in 3 bytes a slot (tests use fewer than 24, to reach the wide slots).
   * `regionBits` (4-REGION_BITS): rehash()'s regions (tests use fewer, to reach them).
   */
  constructor(initialCapacity = 1024, narrowBits = 24, regionBits = REGION_BITS) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    const index = new ArrayBuffer(cap * 4);
    this.lo = new Uint16Array(index, 0, cap);
    this.hi = new Uint8Array(index, cap * 2, cap);
    this.fps = new Uint8Array(index, cap * 3, cap);
    this.top = NO_BYTES;
    this.mask = cap - 1;
    this.keys = new Int32Array(Math.max(16, initialCapacity) * 3);
    const bits = Math.max(9, Math.min(narrowBits, 24));
    this.narrowIds = 2 ** bits;
    this.lowBits = bits - 8;
    this.lowMask = 2 ** this.lowBits - 1;
    this.regionSlots = 2 ** Math.max(4, Math.min(regionBits, REGION_BITS));
  }

  get size(): number {
    return this.count;
  }

  /** The id of node (parent, codeId, instr), adding it if new; `hint` is checked first (any number). */
  intern(parent: number, codeId: number, instr: number, hint: number): number {
    if (!(parent >= 0 && parent <= 0x7fffffff)) throw new RangeError(`stack node parent ${parent} past 2^31`);
    const code = codeId | 0;
    const ins = instr | 0;
    const keys = this.keys;
    if (hint >= 0 && hint < this.count) {
      const base = hint * 3;
      if (keys[base] === parent && keys[base + 1] === code && keys[base + 2] === ins) return hint;
    }
    return this.probe(parent, code, ins);
  }

  /** intern() past its hint, apart: the hint's check stays small enough to be inlined into each FRAME's path. */
  private probe(parent: number, code: number, ins: number): number {
    if (this.mask === 0) this.reindex();
    const keys = this.keys;
    const g = familyHash(parent, code, ins);
    const k = memberHash(g, ins);
    const fp = fingerprint(k);
    const fps = this.fps;
    const mask = this.mask;
    let slot = nodeHome(g, k) & mask;
    for (;;) {
      const f = fps[slot]!;
      if (f === 0) break;
      if (f === fp) {
        const id = this.idAt(slot);
        const base = id * 3;
        if (keys[base] === parent && keys[base + 1] === code && keys[base + 2] === ins) return id;
      }
      slot = (slot + 1) & mask;
    }
    const id = this.count++;
    if ((id + 1) * 3 > keys.length) {
      const grown = new Int32Array(keys.length * 2);
      grown.set(keys);
      this.keys = grown;
    }
    const base = id * 3;
    this.keys[base] = parent;
    this.keys[base + 1] = code;
    this.keys[base + 2] = ins;
    fps[slot] = fp;
    this.lo[slot] = id & this.lowMask;
    this.hi[slot] = id >>> this.lowBits;
    if (this.wide) this.top[slot] = Math.floor(id / this.narrowIds);
    // At narrowIds ids the next one needs the top byte: the slots are made again with it.
    if (overLoad(this.count, mask + 1) || this.count === this.narrowIds) this.rehash(mask + 1);
    return id;
  }

  /** The id held at `slot` (a full one). */
  private idAt(slot: number): number {
    const id = this.lo[slot]! | (this.hi[slot]! << this.lowBits);
    return this.wide ? id + this.top[slot]! * this.narrowIds : id;
  }

  /** The parent (node id + 1, 0: none) of node `id`. */
  parent(id: number): number {
    return this.keys[id * 3]!;
  }
  /** The code id of node `id`. */
  codeId(id: number): number {
    return this.keys[id * 3 + 1]! >>> 0;
  }
  /** The instruction offset of node `id`. */
  instr(id: number): number {
    return this.keys[id * 3 + 2]! >>> 0;
  }

  /** Bytes held by the arrays (for the memory figures in benchmarks). */
  get byteLength(): number {
    return this.keys.byteLength + this.indexBytes();
  }

  private indexBytes(): number {
    return this.fps.byteLength + this.lo.byteLength + this.hi.byteLength + this.top.byteLength;
  }

  /**
   * The index given up (StackResolver's endOfRead(): the model's frames need the keys, not the index; call_sites:
   * 3.26 M nodes, 16 MiB at 4/5 full). Returns its bytes. A probe after it makes it again (reindex()).
   */
  dropIndex(): number {
    const bytes = this.indexBytes();
    this.fps = NO_BYTES;
    this.lo = NO_SHORTS;
    this.hi = NO_BYTES;
    this.top = NO_BYTES;
    this.mask = 0;
    return bytes;
  }

  /** The index made again after dropIndex(): the smallest within the load limit (overLoad()), as probe() keeps it. */
  private reindex(): void {
    let cap = 16;
    while (overLoad(this.count, cap)) cap *= 2;
    this.rehash(cap);
  }

  /**
   * The index again, doubled (or of `size` slots, when within the load limit: reindex(), or the ids outgrew 3 bytes).
   * Past 2^REGION_BITS slots, region by region: each node's home and fingerprint are worked out once into the old
   * index's buffer (4 bytes a node, within its 4 bytes a slot: no more memory), then the nodes are put in one region
   * of 2^REGION_BITS slots (1 MiB of the index) at a time, over and over that list in id order. Put in id order, each
   * node's slot was a miss in the whole index (call_sites' last doubling: 1.68 M nodes into 16 MiB). Any order of
   * insertion makes a valid index (linear probing without removals); the ids are the nodes' own.
   */
  private rehash(size: number): void {
    const cap = overLoad(this.count, size) ? size * 2 : size;
    const n = this.count;
    const old = this.lo.buffer;
    const index = new ArrayBuffer(cap * 4);
    const lo = new Uint16Array(index, 0, cap);
    const hi = new Uint8Array(index, cap * 2, cap);
    const fps = new Uint8Array(index, cap * 3, cap);
    const wide = n >= this.narrowIds;
    const top = wide ? new Uint8Array(cap) : NO_BYTES;
    const mask = cap - 1;
    const keys = this.keys;
    const lowMask = this.lowMask;
    const lowBits = this.lowBits;
    const narrowIds = this.narrowIds;
    const regionSlots = this.regionSlots;
    if (cap > regionSlots && cap <= HOME_LIMIT && old.byteLength >= n * 4) {
      const homes = new Int32Array(old, 0, n);
      for (let id = 0; id < n; id++) {
        const base = id * 3;
        const ins = keys[base + 2]!;
        const g = familyHash(keys[base]!, keys[base + 1]!, ins);
        const k = memberHash(g, ins);
        homes[id] = (nodeHome(g, k) & mask) | (fingerprint(k) << 24);
      }
      for (let from = 0; from < cap; from += regionSlots) {
        const to = from + regionSlots;
        for (let id = 0; id < n; id++) {
          const v = homes[id]!;
          let slot = v & (HOME_LIMIT - 1);
          if (slot < from || slot >= to) continue;
          while (fps[slot] !== 0) slot = (slot + 1) & mask;
          fps[slot] = v >>> 24;
          lo[slot] = id & lowMask;
          hi[slot] = id >>> lowBits;
          if (wide) top[slot] = Math.floor(id / narrowIds);
        }
      }
    } else {
      for (let id = 0; id < n; id++) {
        const base = id * 3;
        const ins = keys[base + 2]!;
        const g = familyHash(keys[base]!, keys[base + 1]!, ins);
        const k = memberHash(g, ins);
        let slot = nodeHome(g, k) & mask;
        while (fps[slot] !== 0) slot = (slot + 1) & mask;
        fps[slot] = fingerprint(k);
        lo[slot] = id & lowMask;
        hi[slot] = id >>> lowBits;
        if (wide) top[slot] = Math.floor(id / narrowIds);
      }
    }
    this.fps = fps;
    this.lo = lo;
    this.hi = hi;
    this.top = top;
    this.wide = wide;
    this.mask = mask;
  }
}

/** PyNodeInterner's rehash() puts the nodes in regions of 2^REGION_BITS slots (1 MiB of the index) past that many. */
export const REGION_BITS = 18;
/** rehash() by regions holds a home in the 24 bits below a fingerprint: up to 2^24 slots (13.4 M nodes); past it, in id order. */
const HOME_LIMIT = 1 << 24;

/**
 * PyNodeInterner's index holds up to 4/5 of its slots (not 1/2, as TupleInterner's): call_sites' 3.26 M nodes
 * fit 2^22 slots (16 MiB) rather than 2^23 (32 MiB), held through the whole read, whose end is summary's and
 * verdict's peak (docs/benchmarks.md, round twenty-four). The probes that a fuller index lengthens are few: a
 * FRAME's node is found at its hint most often, a slot's tag spares the keys' read of most slots met, and the
 * slots met are adjacent (16 in a cache line).
 */
export function overLoad(count: number, slots: number): boolean {
  return count * 5 > slots * 4;
}

/** A dropped index (PyNodeInterner.dropIndex()): still typed arrays, so that the fields keep one type for V8. */
const NO_BYTES = new Uint8Array(0);
const NO_SHORTS = new Uint16Array(0);

/** A key's fingerprint in PyNodeInterner's index, from its memberHash()'s top byte (nodeHome() takes the 4 bits below it): 1-255. */
export function fingerprint(h: number): number {
  return h >>> 24 || 1;
}

/**
 * PyNodeInterner's index puts the nodes of a family, the same parent and code and an instruction in the same
 * 2^FAMILY_INSTR_BITS bytes of it, in one group of FAMILY_SLOTS adjacent slots (their homes: nodeHome()), not all over
 * the index. A new node is a probe that ends at an empty slot, a cache miss where its home is anywhere in millions of
 * slots; but its siblings were put in or looked for a little before it (call_sites: a level's node gets 4-6 children,
 * the call's allocations and the call deeper, within a few hundred FRAMEs; tree likewise), so its family's group is
 * in the cache. The group is chosen by the family's hash, the slot in it and the fingerprint by the node's own.
 * A family is at most one per instruction of 2^FAMILY_INSTR_BITS bytes of code, so a probe among its slots stays short.
 */
export const FAMILY_SLOTS = 16;
export const FAMILY_INSTR_BITS = 8;

/** The hash of a node's family (parent, code, the instruction's 2^FAMILY_INSTR_BITS-byte block): its group of slots. */
export function familyHash(parent: number, code: number, ins: number): number {
  return hashTriple(parent, code, ins >>> FAMILY_INSTR_BITS);
}

/** A node's own hash from its family's and its instruction: its slot in the group, and its fingerprint. */
export function memberHash(family: number, ins: number): number {
  let h = family ^ Math.imul(ins, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/** A node's home slot (before the index's mask): its family's group, the slot in it by its own hash. */
export function nodeHome(family: number, member: number): number {
  return ((family & ~(FAMILY_SLOTS - 1)) | ((member >>> 20) & (FAMILY_SLOTS - 1))) >>> 0;
}

/**
 * Ids below 2^TAG_ID_BITS leave a slot's 5 bits above them for a tag (2^26: 67 M nodes, 800 MB of keys);
 * past that, slots hold ids alone (NO_TAGS).
 */
export const TAG_ID_BITS = 26;
export const NO_TAGS = 31;

/** A slot's tag for hash `h`: its top 5 bits, from bit `shift` (none: NO_TAGS). */
export function slotTag(h: number, shift: number): number {
  return shift === NO_TAGS ? 0 : (h >>> 27) << shift;
}

/** 32-bit mix of three int32s (murmur3's rounds, without hash4's split of each into two halves). */
export function hashTriple(a: number, b: number, c: number): number {
  let h = 0x9e3779b9;
  h = mix(h, a);
  h = mix(h, b);
  h = mix(h, c);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
