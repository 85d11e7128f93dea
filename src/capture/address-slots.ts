// The writer side of version 3's address coding (docs/capture-format.md "Addresses"): the same choices as
// the agent's encode_addr() (agent/src/encode.c), so that the TypeScript encoder and the block merger write
// the agent's bytes for the agent's events.
//
// Why slots: pymalloc hands out blocks from a few pools at a time, and consecutive events hop between pools
// of different size classes, so a delta against the previous address took 2.4 bytes per event. Against the
// last address seen in the same 16 KiB page most deltas fit one byte with the slot (docs/pyalloc-cost.md).

import { ADDR_PAGE_SHIFT, ADDR_SETS, ADDR_SLOT_BITS, ADDR_SLOT_UNIT, ADDR_SLOTS, ADDR_WAYS } from './format.js';
import type { ByteWriter } from './varint.js';

const PAGE = 2 ** ADDR_PAGE_SHIFT;
const SLOT_MUL = 2 ** ADDR_SLOT_BITS;
/** Coded values stay below 2^53, what a reader accepts: larger deltas are written as whole addresses. */
const MAX_ZIGZAG = 2 ** (53 - ADDR_SLOT_BITS);

function zigzag(n: number): number {
  return n < 0 ? -2 * n - 1 : 2 * n;
}

/** A block's address state on the writer side; reset() at every block start. */
export class SlotAddressWriter {
  private readonly last = new Float64Array(ADDR_SLOTS);
  /** Bit k: set k's way 0 was used after its way 1 (0 at a block start: way 0 goes first). */
  private mru = 0;
  private prev = 0;

  reset(): void {
    this.last.fill(0);
    this.mru = 0;
    this.prev = 0;
  }

  /** Takes the state of `o` (a merger rolls a block back). */
  copyFrom(o: SlotAddressWriter): void {
    this.last.set(o.last);
    this.mru = o.mru;
    this.prev = o.prev;
  }

  /** Writes the address field of an ALLOC or FREE; returns whether its w bit is set. */
  write(w: ByteWriter, address: number): boolean {
    const last = this.last;
    const page = Math.floor(address / PAGE);
    // The set of 2 slots is the page modulo 4; in it the slot of the same page, else the less recently used.
    const set = page % ADDR_SETS;
    let slot = set * ADDR_WAYS;
    if (Math.floor(last[slot]! / PAGE) !== page && (Math.floor(last[slot + 1]! / PAGE) === page || (this.mru & (1 << set)) !== 0)) slot++;
    const diff = address - last[slot]!;
    let miss = true;
    if (Math.floor(last[slot]! / PAGE) === page && diff % ADDR_SLOT_UNIT === 0) {
      w.varint(zigzag(diff / ADDR_SLOT_UNIT) * SLOT_MUL + slot);
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

  reset(): void {
    this.last.fill(0);
    this.prev = 0;
  }

  /** Whether the field whose first varint is `a` (w: the record's w bit) holds a whole address: read by whole(). */
  static isWhole(a: number, w: boolean): boolean {
    return w && a < SLOT_MUL;
  }

  /**
   * The address of a field whose first varint is `a` (w: the record's w bit), one that does not hold a whole
   * address. Not a callback for that varint: the merger allocated a closure per record for it, in the loop
   * `memlens run` compiles cold.
   */
  read(a: number, w: boolean): number {
    const slot = a % SLOT_MUL;
    const z = Math.floor(a / SLOT_MUL);
    const d = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    const address = !w ? this.last[slot]! + d * ADDR_SLOT_UNIT : this.prev + d * 8;
    this.last[slot] = address;
    this.prev = address;
    return address;
  }

  /** The whole address `address` of a field whose first varint is `a` (isWhole). */
  whole(a: number, address: number): number {
    this.last[a] = address;
    this.prev = address;
    return address;
  }
}
