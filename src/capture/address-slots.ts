// The writer side of version 3's address coding (docs/capture-format.md "Addresses"), with version 7's
// references: the same choices as the agent's ml_encode_addr() (agent/src/encode.h), so that the TypeScript
// encoder and the block merger write the agent's bytes for the agent's events.
//
// Why slots: pymalloc hands out blocks from a few pools at a time, and consecutive events hop between pools
// of different size classes, so a delta against the previous address took 2.4 bytes per event. Against the
// last address seen in the same 16 KiB page most deltas fit one byte with the slot (docs/pyalloc-cost.md).
// Why references (version 7): the addresses of a program that repeats itself differ from one repetition to the
// next by the state of pymalloc's free lists, which depends on the process's whole past (hash seed,
// environment, address-space layout), so their deltas compressed two times better in one run than in another;
// which earlier FREE an ALLOC reuses, and which earlier ALLOC a FREE frees, is the program's own structure.

import { ADDR_PAGE_SHIFT, ADDR_REF_BITS, ADDR_REF_ENTRIES, ADDR_REF_HASH, ADDR_REF_MAX, ADDR_SETS, ADDR_SLOT_BITS, ADDR_SLOT_UNIT, ADDR_SLOTS, ADDR_WAYS } from './format.js';
import type { ByteWriter } from './varint.js';

const PAGE = 2 ** ADDR_PAGE_SHIFT;
const SLOT_MUL = 2 ** ADDR_SLOT_BITS;
/** Coded values stay below 2^53, what a reader accepts: larger deltas are written as whole addresses. */
const MAX_ZIGZAG = 2 ** (53 - ADDR_SLOT_BITS);

function zigzag(n: number): number {
  return n < 0 ? -2 * n - 1 : 2 * n;
}

/** The entry of `address` in the writer's table of references (ADDR_REF_* in format.ts; the agent's hash). */
export function refEntry(address: number): number {
  return Math.imul(Math.floor(address / 16) >>> 0, ADDR_REF_HASH) >>> (32 - ADDR_REF_BITS);
}

/** A block's address state on the writer side; reset() at every block start. */
export class SlotAddressWriter {
  private readonly last = new Float64Array(ADDR_SLOTS);
  /** Bit k: set k's way 0 was used after its way 1 (0 at a block start: way 0 goes first). */
  private mru = 0;
  private prev = 0;
  /**
   * References (version 7, `refs`): per table entry, the address of the last event on it (−1: none), that
   * event's block (`gen`), its kind (1 FREE) and its index among its block's events of that kind.
   */
  private readonly refAddr = new Float64Array(ADDR_REF_ENTRIES).fill(-1);
  private readonly refGen = new Float64Array(ADDR_REF_ENTRIES);
  private readonly refFree = new Uint8Array(ADDR_REF_ENTRIES);
  private readonly refIndex = new Float64Array(ADDR_REF_ENTRIES);
  private gen = 1;
  private allocs = 0;
  private frees = 0;

  /** `refs`: code addresses as references too (min_reader_version ≥ ADDR_REF_VERSION). */
  constructor(private readonly refs = false) {}

  reset(): void {
    this.last.fill(0);
    this.mru = 0;
    this.prev = 0;
    this.gen++;
    this.allocs = 0;
    this.frees = 0;
  }

  /** Takes the state of `o` (a merger rolls a block back). */
  copyFrom(o: SlotAddressWriter): void {
    this.last.set(o.last);
    this.mru = o.mru;
    this.prev = o.prev;
    this.refAddr.set(o.refAddr);
    this.refGen.set(o.refGen);
    this.refFree.set(o.refFree);
    this.refIndex.set(o.refIndex);
    this.gen = o.gen;
    this.allocs = o.allocs;
    this.frees = o.frees;
  }

  /** Writes the address field of an ALLOC or FREE (`free`); returns whether its w bit is set. */
  write(w: ByteWriter, address: number, free = false): boolean {
    if (this.refs) {
      const h = refEntry(address);
      const hit = this.refAddr[h] === address && this.refGen[h] === this.gen && this.refFree[h] !== (free ? 1 : 0);
      const back = hit ? (free ? this.allocs : this.frees) - 1 - this.refIndex[h]! : ADDR_REF_MAX;
      this.refAddr[h] = address;
      this.refGen[h] = this.gen;
      this.refFree[h] = free ? 1 : 0;
      this.refIndex[h] = free ? this.frees++ : this.allocs++;
      if (back < ADDR_REF_MAX) {
        w.varint(back * 2 + 1);
        this.prev = address;
        return false;
      }
    }
    const last = this.last;
    const page = Math.floor(address / PAGE);
    // The set of 2 slots is the page modulo 4; in it the slot of the same page, else the less recently used.
    const set = page % ADDR_SETS;
    let slot = set * ADDR_WAYS;
    if (Math.floor(last[slot]! / PAGE) !== page && (Math.floor(last[slot + 1]! / PAGE) === page || (this.mru & (1 << set)) !== 0)) slot++;
    const diff = address - last[slot]!;
    let miss = true;
    if (Math.floor(last[slot]! / PAGE) === page && diff % ADDR_SLOT_UNIT === 0) {
      w.varint((zigzag(diff / ADDR_SLOT_UNIT) * SLOT_MUL + slot) * (this.refs ? 2 : 1));
      miss = false;
    } else {
      const d = address - this.prev;
      const z = zigzag(d / 8);
      if (d % 8 === 0 && d !== 0 && z < MAX_ZIGZAG) w.varint(z * SLOT_MUL + slot);
      else {
        w.u8(slot);
        w.varint(address);
      }
    }
    last[slot] = address;
    this.mru = (this.mru & ~(1 << set)) | ((~slot & 1) << set);
    this.prev = address;
    return miss;
  }
}

/** A block's address state on the reader side, for readers outside the decoder's hot loop (the merger). */
export class SlotAddressReader {
  private readonly last = new Float64Array(ADDR_SLOTS);
  private prev = 0;
  /** Version 7: the block's ALLOC and FREE addresses so far, for references. */
  private allocs: Float64Array = new Float64Array(1024);
  private frees: Float64Array = new Float64Array(1024);
  private nAllocs = 0;
  private nFrees = 0;

  /** `refs`: the capture codes references (min_reader_version ≥ ADDR_REF_VERSION). */
  constructor(private readonly refs = false) {}

  reset(): void {
    this.last.fill(0);
    this.prev = 0;
    this.nAllocs = 0;
    this.nFrees = 0;
  }

  /** Notes the address of the event just read (every ALLOC and FREE, whatever its coding). */
  private seen(address: number, free: boolean): void {
    if (!this.refs) return;
    if (free) {
      if (this.nFrees === this.frees.length) this.frees = grow(this.frees);
      this.frees[this.nFrees++] = address;
    } else {
      if (this.nAllocs === this.allocs.length) this.allocs = grow(this.allocs);
      this.allocs[this.nAllocs++] = address;
    }
  }

  /** Whether the field whose first varint is `a` (w: the record's w bit) holds a whole address: read by whole(). */
  static isWhole(a: number, w: boolean): boolean {
    return w && a < SLOT_MUL;
  }

  /**
   * The address of a field whose first varint is `a` (w: the record's w bit) of an ALLOC or a FREE (`free`),
   * one that does not hold a whole address; NaN for a reference to an event the block does not have. Not a
   * callback for that varint: the merger allocated a closure per record for it, in the loop `memlens run`
   * compiles cold.
   */
  read(a: number, w: boolean, free = false): number {
    if (this.refs && !w) {
      if (a % 2 === 1) {
        const back = (a - 1) / 2;
        const n = free ? this.nAllocs : this.nFrees;
        const address = back < n ? (free ? this.allocs : this.frees)[n - 1 - back]! : NaN;
        this.prev = address;
        this.seen(address, free);
        return address;
      }
      a /= 2;
    }
    const slot = a % SLOT_MUL;
    const z = Math.floor(a / SLOT_MUL);
    const d = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    const address = !w ? this.last[slot]! + d * ADDR_SLOT_UNIT : this.prev + d * 8;
    this.last[slot] = address;
    this.prev = address;
    this.seen(address, free);
    return address;
  }

  /** The whole address `address` of a field whose first varint is `a` (isWhole). */
  whole(a: number, address: number, free = false): number {
    this.last[a] = address;
    this.prev = address;
    this.seen(address, free);
    return address;
  }
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}
