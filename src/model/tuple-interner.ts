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
 * instruction are u32, stored as their bits), and the slots hold ids only: 17-22 bytes a node (the index up to 4/5 full) where
 * TupleInterner of arity 3 holds 32-40 (call_sites: 84 rather than 134 MB).
 * A slot also holds 5 bits of its key's hash above the id (slotTags()): a probe reads a node's keys only
 * when those match, so a new node (most probes: call_sites' 3.26 M first definitions) costs the miss on
 * its slot alone, not one more on the keys of each node met on the way.
 */
export class PyNodeInterner {
  private keys: Int32Array;
  private slots: Int32Array;
  private mask: number;
  private count = 0;
  /** Where a slot's tag starts, above its id's bits (NO_TAGS once the ids outgrew them), and the id's bits. */
  private tagShift: number;
  private idMask: number;

  /** `idBits`: the id bits of a tagged slot (tests use fewer than TAG_ID_BITS, to reach the end of the tags). */
  constructor(initialCapacity = 1024, idBits = TAG_ID_BITS) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.keys = new Int32Array(Math.max(16, initialCapacity) * 3);
    this.tagShift = Math.min(idBits, TAG_ID_BITS);
    this.idMask = (1 << this.tagShift) - 1;
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
    const h = hashTriple(parent, code, ins);
    const idMask = this.idMask;
    const tag = slotTag(h, this.tagShift);
    const slots = this.slots;
    const mask = this.mask;
    let slot = h & mask;
    for (;;) {
      const s = slots[slot]!;
      if (s === -1) break;
      if ((s & ~idMask) === tag) {
        const id = s & idMask;
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
    slots[slot] = id | tag;
    // At idMask + 1 ids the next one needs more bits: no tags from here.
    if (overLoad(this.count, mask + 1) || this.count === this.idMask + 1) this.rehash(mask + 1);
    return id;
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
    return this.keys.byteLength + this.slots.byteLength;
  }

  /**
   * The slots given up (StackResolver's endOfRead(): the model's frames need the keys, not the index; call_sites:
   * 3.26 M nodes, 16 MiB of slots at 4/5 full). Returns their bytes. A probe after it makes them again (reindex()).
   */
  dropIndex(): number {
    const bytes = this.slots.byteLength;
    this.slots = NO_SLOTS;
    this.mask = 0;
    return bytes;
  }

  /** The slots made again after dropIndex(): the smallest index within the load limit (LOAD_LIMIT), as probe() keeps it. */
  private reindex(): void {
    let cap = 16;
    while (overLoad(this.count, cap)) cap *= 2;
    this.rehash(cap);
  }

  /** The slots again, doubled (or as many, when only the tags go: the ids outgrew them). */
  private rehash(size: number): void {
    const cap = overLoad(this.count, size) ? size * 2 : size;
    const slots = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    const keys = this.keys;
    if (this.count > this.idMask) {
      this.tagShift = NO_TAGS;
      this.idMask = 0x7fffffff;
    }
    const shift = this.tagShift;
    for (let id = 0; id < this.count; id++) {
      const base = id * 3;
      const h = hashTriple(keys[base]!, keys[base + 1]!, keys[base + 2]!);
      let slot = h & mask;
      while (slots[slot] !== -1) slot = (slot + 1) & mask;
      slots[slot] = id | slotTag(h, shift);
    }
    this.slots = slots;
    this.mask = mask;
  }
}

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

/** A dropped index (PyNodeInterner.dropIndex()): still a typed array, so that the slots' field keeps one type for V8. */
const NO_SLOTS = new Int32Array(0);

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
