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
  private slots: Int32Array;
  private top: Uint8Array;
  private wide = false;
  private mask: number;
  private count = 0;
  // A flag for each parent value below flagLimit: bit p of `flags` is set once a node of parent p is made.
  // flagLimit 0: no flags, no pending nodes (a parent past them was met: add()).
  private flags: Uint8Array;
  private flagLimit: number;
  // The pending nodes (addPending()), made and not in the index yet: their ids, and for each the position of the
  // one before it of the same parent (−1: none), in the order made; for each of their parents (pendParents, open
  // addressing, 0 an empty slot), the position of its latest (pendHeads). A parent is in pendParents from its first
  // child to the next flush(): all its children are pending, or none.
  private pendingCount = 0;
  private readonly pendIds = new Int32Array(PENDING_NODES);
  private readonly pendNext = new Int32Array(PENDING_NODES);
  private readonly pendParents = new Int32Array(PENDING_PARENT_SLOTS);
  private readonly pendHeads = new Int32Array(PENDING_PARENT_SLOTS);
  private readonly pendHomes = new Int32Array(PENDING_NODES);
  private readonly pendFps = new Uint8Array(PENDING_NODES);
  /** Ids below this fit a slot's low 24 bits (2^24; fewer in tests, to reach the wide slots); the rest go in `top`. */
  private readonly narrowIds: number;
  private readonly lowMask: number;

  /**
   * `narrowBits` (9-24): ids below 2^narrowBits are held in 3 bytes a slot (tests use fewer than 24, to reach the wide slots).
   */
  constructor(initialCapacity = 1024, narrowBits = 24) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.slots = new Int32Array(cap);
    this.top = NO_BYTES;
    this.mask = cap - 1;
    this.keys = new Int32Array(Math.max(16, initialCapacity) * 3);
    this.flags = new Uint8Array((this.keys.length / 3 + 8) >>> 3);
    this.flagLimit = this.flags.length * 8;
    const bits = Math.max(9, Math.min(narrowBits, 24));
    this.narrowIds = 2 ** bits;
    this.lowMask = this.narrowIds - 1;
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
    if (parent > 0 && parent < this.flagLimit) {
      // A node whose parent has no child yet is new without a look at the index; so is one whose parent's
      // children are all pending (made since the last flush(), none in the index) and not among them.
      if ((this.flags[parent >>> 3]! & (1 << (parent & 7))) === 0) return this.addPending(parent, code, ins, -1);
      if (this.pendingCount > 0) {
        const head = this.pendingOf(parent);
        if (head >= 0) {
          const keys = this.keys;
          const pendIds = this.pendIds;
          const pendNext = this.pendNext;
          let steps = 0;
          for (let at = head; at >= 0; at = pendNext[at]!) {
            const id = pendIds[at]!;
            const base = id * 3;
            if (keys[base + 1] === code && keys[base + 2] === ins) return id; // the parent is theirs
            steps++;
          }
          if (steps < PENDING_CHILDREN) return this.addPending(parent, code, ins, head);
          // A parent of many pending children: they go to the index, and this node with them.
          this.flush();
        }
      }
    }
    return this.probeIndex(parent, code, ins);
  }

  /** The probe of the index (no node it could be is pending: its parent's children, if any, are all in the index). */
  private probeIndex(parent: number, code: number, ins: number): number {
    const keys = this.keys;
    const g = familyHash(parent, code, ins);
    const k = memberHash(g, ins);
    const fp = fingerprint(k);
    const slots = this.slots;
    const mask = this.mask;
    let slot = nodeHome(g, k) & mask;
    for (;;) {
      const v = slots[slot]!;
      if (v === 0) break;
      if (v >>> 24 === fp) {
        const id = this.idAt(slot, v);
        const base = id * 3;
        if (keys[base] === parent && keys[base + 1] === code && keys[base + 2] === ins) return id;
      }
      slot = (slot + 1) & mask;
    }
    const id = this.add(parent, code, ins);
    slots[slot] = (fp << 24) | (id & this.lowMask);
    if (this.wide) this.top[slot] = Math.floor(id / this.narrowIds);
    // At narrowIds ids the next one needs the top byte: the slots are made again with it.
    if (overLoad(this.count, mask + 1) || this.count === this.narrowIds) this.rehash(mask + 1);
    return id;
  }

  /** A new node's id and keys, and its parent's flag (a child made); not in the index yet. */
  private add(parent: number, code: number, ins: number): number {
    const id = this.count++;
    let keys = this.keys;
    if ((id + 1) * 3 > keys.length) {
      keys = new Int32Array(keys.length * 2);
      keys.set(this.keys);
      this.keys = keys;
      this.growFlags(keys.length / 3 + 1);
    }
    const base = id * 3;
    keys[base] = parent;
    keys[base + 1] = code;
    keys[base + 2] = ins;
    if (parent > 0) {
      if (parent < this.flagLimit) this.flags[parent >>> 3]! |= 1 << (parent & 7);
      else if (this.flagLimit > 0) {
        // A parent past the flags (not a node yet: StackResolver's never are): no flag for it, so no more
        // pending nodes, whose test needs one for every parent.
        this.flush();
        this.flags = NO_BYTES;
        this.flagLimit = 0;
      }
    }
    return id;
  }

  /**
   * A new node, pending (its parent's children are all pending: `head`, the latest of them, or −1, none yet):
   * in the index at the next flush(), with the others, whose probes' cache misses then overlap.
   */
  private addPending(parent: number, code: number, ins: number, head: number): number {
    if (this.pendingCount === PENDING_NODES) {
      this.flush();
      head = -1; // flush() cleared the parents' lists: a parent with a child is then found in the index.
      if ((this.flags[parent >>> 3]! & (1 << (parent & 7))) !== 0) return this.probeIndex(parent, code, ins);
    }
    const id = this.add(parent, code, ins);
    const at = this.pendingCount++;
    this.pendIds[at] = id;
    this.pendNext[at] = head;
    const slots = this.pendParents;
    let s = Math.imul(parent, 0x9e3779b1) >>> PENDING_PARENT_SHIFT;
    while (slots[s] !== 0 && slots[s] !== parent) s = (s + 1) & (PENDING_PARENT_SLOTS - 1);
    slots[s] = parent;
    this.pendHeads[s] = at;
    if (overLoad(this.count, this.mask + 1) || this.count === this.narrowIds) this.rehash(this.mask + 1);
    return id;
  }

  /** The pending position of `parent`'s latest pending child; −1 when its children (if any) are in the index. */
  private pendingOf(parent: number): number {
    const slots = this.pendParents;
    let s = Math.imul(parent, 0x9e3779b1) >>> PENDING_PARENT_SHIFT;
    for (;;) {
      const p = slots[s]!;
      if (p === parent) return this.pendHeads[s]!;
      if (p === 0) return -1;
      s = (s + 1) & (PENDING_PARENT_SLOTS - 1);
    }
  }

  /**
   * The pending nodes into the index: their homes first, then their slots, in a loop of independent probes whose
   * cache misses the processor overlaps (each FRAME's own probe waits for the node before it: its parent, its hint).
   */
  private flush(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    const keys = this.keys;
    const pendIds = this.pendIds;
    const homes = this.pendHomes;
    const marks = this.pendFps;
    const mask = this.mask;
    for (let at = 0; at < n; at++) {
      const base = pendIds[at]! * 3;
      const ins = keys[base + 2]!;
      const g = familyHash(keys[base]!, keys[base + 1]!, ins);
      const k = memberHash(g, ins);
      homes[at] = nodeHome(g, k) & mask;
      marks[at] = fingerprint(k);
    }
    const slots = this.slots;
    const lowMask = this.lowMask;
    for (let at = 0; at < n; at++) {
      let slot = homes[at]!;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      const id = pendIds[at]!;
      slots[slot] = (marks[at]! << 24) | (id & lowMask);
      if (this.wide) this.top[slot] = Math.floor(id / this.narrowIds);
    }
    this.clearPending();
  }

  /** No node pending (flush(), or an index made again from the keys: rehash()). */
  private clearPending(): void {
    this.pendingCount = 0;
    this.pendParents.fill(0);
  }

  private growFlags(limit: number): void {
    if (this.flagLimit === 0 || limit <= this.flagLimit) return;
    const flags = new Uint8Array((limit + 7) >>> 3);
    flags.set(this.flags);
    this.flags = flags;
    this.flagLimit = flags.length * 8;
  }

  /** The id held at `slot` (a full one, whose value is `v`). */
  private idAt(slot: number, v: number): number {
    const id = v & this.lowMask;
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
    return this.keys.byteLength + this.flags.byteLength + this.indexBytes();
  }

  private indexBytes(): number {
    return this.slots.byteLength + this.top.byteLength;
  }

  /**
   * The index given up (StackResolver's endOfRead(): the model's frames need the keys, not the index; call_sites:
   * 3.26 M nodes, 16 MiB at 4/5 full). Returns its bytes. A probe after it makes it again (reindex()).
   */
  dropIndex(): number {
    const bytes = this.indexBytes();
    this.slots = NO_INTS;
    this.top = NO_BYTES;
    this.mask = 0;
    this.clearPending(); // the index made again holds every node
    return bytes;
  }

  /** The index made again after dropIndex(): the smallest within the load limit (overLoad()), as probe() keeps it. */
  private reindex(): void {
    let cap = 16;
    while (overLoad(this.count, cap)) cap *= 2;
    this.rehash(cap);
  }

  /**
   * The index again, doubled (or of `size` slots, when within the load limit: reindex(), or the ids outgrew 3 bytes),
   * in two passes over the nodes in id order: their homes and fingerprints first, into the old index's buffer (4 bytes
   * a node, within its 4 bytes a slot: no more memory), then their slots. The second pass's probes do not wait for
   * one another, so the processor overlaps their cache misses (call_sites' last doubling: 1.68 M nodes into 16 MiB);
   * the hashing between them, in one loop, left fewer in flight. Any order of insertion makes a valid index (linear
   * probing without removals); the ids are the nodes' own.
   */
  private rehash(size: number): void {
    const cap = overLoad(this.count, size) ? size * 2 : size;
    const n = this.count;
    const old = this.slots.buffer;
    const slots = new Int32Array(cap);
    const wide = n >= this.narrowIds;
    const top = wide ? new Uint8Array(cap) : NO_BYTES;
    const mask = cap - 1;
    const keys = this.keys;
    const lowMask = this.lowMask;
    const narrowIds = this.narrowIds;
    if (!wide && cap <= HOME_LIMIT && old.byteLength >= n * 4) {
      const homes = new Int32Array(old, 0, n);
      for (let id = 0; id < n; id++) {
        const base = id * 3;
        const ins = keys[base + 2]!;
        const g = familyHash(keys[base]!, keys[base + 1]!, ins);
        const k = memberHash(g, ins);
        homes[id] = (nodeHome(g, k) & mask) | (fingerprint(k) << 24);
      }
      for (let id = 0; id < n; id++) {
        const v = homes[id]!;
        let slot = v & (HOME_LIMIT - 1);
        while (slots[slot] !== 0) slot = (slot + 1) & mask;
        slots[slot] = (v & ~(HOME_LIMIT - 1)) | id;
      }
    } else {
      for (let id = 0; id < n; id++) {
        const base = id * 3;
        const ins = keys[base + 2]!;
        const g = familyHash(keys[base]!, keys[base + 1]!, ins);
        const k = memberHash(g, ins);
        let slot = nodeHome(g, k) & mask;
        while (slots[slot] !== 0) slot = (slot + 1) & mask;
        slots[slot] = (fingerprint(k) << 24) | (id & lowMask);
        if (wide) top[slot] = Math.floor(id / narrowIds);
      }
    }
    this.slots = slots;
    this.top = top;
    this.wide = wide;
    this.mask = mask;
    this.clearPending(); // made from the keys: every node is in it
  }
}

/** Pending nodes (PyNodeInterner.addPending()) at most: then flush(). */
const PENDING_NODES = 512;
/** Pending children of one parent looked through at most: past them, flush(). */
const PENDING_CHILDREN = 32;
/** Slots for the parents of pending nodes (at most PENDING_NODES, half full at most), and the shift to one. */
const PENDING_PARENT_SLOTS = 1024;
const PENDING_PARENT_SHIFT = 22;

/** rehash()'s first pass holds a home in the 24 bits below a fingerprint: up to 2^24 slots (13.4 M nodes); past it, one pass. */
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
const NO_INTS = new Int32Array(0);

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
