// Recompression of a finished capture (`memlens run` does it after the program ended, unless
// --no-compress): every uncompressed block of records is compressed (brotli) on its own, so the result streams and
// survives truncation exactly like the original; small blocks are merged first (merge.ts), and what is merged
// goes out in group blocks (group.ts; the header then says format version 4). `memlens run`'s follower, at
// its fast level, writes the blocks it does not merge in packs (group blocks of their bytes as they are;
// format version 5). Everything else is copied as it is: blocks already compressed, blocks of unknown kinds,
// damaged regions, a partial block at the end.
//
// The level is chosen by measurement (docs/benchmarks.md, "Compression"): DEFAULT_COMPRESS_LEVEL.

import {
  BLOCK_FLAGS_COMPRESSED,
  BLOCK_HEADER_LEN,
  BLOCK_KIND_GROUP,
  BLOCK_KIND_RECORDS,
  GROUP_FORMAT_VERSION,
  OPTION_NATIVE,
  OPTION_PYTHON_ALLOCATORS,
  PACK_FORMAT_VERSION,
  GROUP_LAYOUT2_VERSION,
  SLOT_ADDRESS_VERSION,
  ADDR_REF_VERSION,
  STREAM_MEMLENS,
  STREAM_SERVICE,
} from './format.js';
import { encodeBlock } from './encoder.js';
import { BlockFramer } from './framing.js';
import type { BlockInfo } from './records.js';
import { BlockMerger, GROUPING, SMALL_BLOCKS, type MergeLimits, type MergedBlock } from './merge.js';
import { GROUP_COLUMNS_1, GROUP_COLUMNS_2 } from './group.js';
import { ByteWriter } from './varint.js';

/** Brotli quality 5: on agent captures about a quarter smaller than deflate level 1, and as fast to write. */
export const DEFAULT_COMPRESS_LEVEL = 5;
export const DEFAULT_CODEC = 'brotli';

/**
 * Compressing a capture while it is written (`memlens run`): brotli quality 5 runs at about 45 MB/s, and a
 * program that churns Python objects under --trace-python-allocators writes 45 MB/s or more. Behind by
 * more than this, the follower switches to quality 1 (about 3.5 times faster, output about 20 % larger)
 * until it has caught up: it then competes less for the CPU with the program it follows, and leaves less to
 * do after the program ended, while the user waits. 1 MiB rather than more: measured on objects and threads
 * with Python allocators traced (docs/benchmarks.md, "Compression"), 8 MiB left the run 10-15 % slower
 * for files 5-10 % smaller.
 */
export const FOLLOW_FAST_LAG = 1 << 20;
export const FOLLOW_FAST_LEVEL = 1;

/**
 * The fast level of a capture whose Python allocators are not traced (the header's options without
 * OPTION_PYTHON_ALLOCATORS): the system allocator's events only, fewer and dearer to the program than
 * pymalloc's. On packs (1 MiB at once) quality 2 writes a fifth less than quality 1 for 1.5 times its CPU:
 * malloc_churn's default-mode stream (11.0 MiB raw) 2.41 -> 1.95 MiB, 44 -> 67 ms, where memray writes 2.25
 * MiB (`--native`: 2.63 -> 2.03 MiB, memray 2.32); 23 ms more for the 1.5 million events that memray takes
 * 1.3 s of CPU over. With Python's allocators traced the stream is 5-10 times larger, the captures are
 * a fifth to five-sixths of memray's already (web_requests the closest, 5.90 against 7.10 MiB), and the
 * same step costs 0.1-0.25 s of a run whose overhead is near or above half of memray's: there the fast
 * level stays quality 1 (docs/benchmarks.md, "Round eight: every workload").
 */
export const FOLLOW_FAST_LEVEL_SYSTEM = 2;

/**
 * The follower's fast level for a capture whose Python allocators are traced: brotli quality 0. On 1 MiB packs
 * of agent streams it takes 25-35 % less CPU than quality 1 for 4-17 % more bytes; since format 7 (addresses
 * as references) every such capture stays well below memray's at quality 0 (json_roundtrip's stream 7.98
 * against 17.4 MiB, the closest; with `--native` too 8.59 against 17.9). Round nine took it only behind
 * writers whose packs came out at 14 MiB/s or more of the program's CPU (threads, many_threads), which left
 * json_roundtrip, objects and deep_stacks at quality 1 (docs/benchmarks.md, "Node's CPU with Python's
 * allocators traced, round ten").
 */
export const FOLLOW_FASTEST_LEVEL = 0;

/**
 * The follower's fast level for a capture of these header options: FOLLOW_FAST_LEVEL_SYSTEM without Python's
 * allocators traced, FOLLOW_FASTEST_LEVEL with them, FOLLOW_FAST_LEVEL while the header is not known.
 */
export function followFastLevel(headerOptions: number | undefined): number {
  if (headerOptions === undefined) return FOLLOW_FAST_LEVEL;
  return (headerOptions & OPTION_PYTHON_ALLOCATORS) === 0 ? FOLLOW_FAST_LEVEL_SYSTEM : FOLLOW_FASTEST_LEVEL;
}

/**
 * A writer this fast (bytes per second, over the last RATE_WINDOW_MS) is compressed at quality 1 even when
 * the follower keeps up with it: at quality 5 (40 MB/s on an agent's Python-allocator stream) 8 MB/s takes
 * a fifth of a core, which on a machine of two cores is taken from the program; quality 1 does the same
 * bytes in a fifth of the time (180 MB/s) for files about a third larger (measured on the objects workload's
 * 53 MB stream: 17.3 MB at 5, 26.4 MB at 1; docs/benchmarks.md). Before, only a lag of FOLLOW_FAST_LAG
 * switched, so a follower that kept up spent 4.5 times the CPU per byte while the program ran.
 * 4 MiB/s since format 3 (addresses against slots): the same program writes a quarter fewer bytes, so at
 * 8 MiB/s json_roundtrip fell back to quality 5 on a loaded machine and its run took more CPU than before;
 * and quality 1's files are now well below memray's (docs/benchmarks.md, "Python-allocator addresses against
 * recent pools").
 * The seconds are those of the program's CPU time where `memlens run` can read it (/proc/PID/stat), not of
 * the wall clock: on a busy machine the program got a fifth of a core, wrote 3.2-3.8 MB per wall second
 * instead of 20, and was followed at quality 5, four times the CPU per byte, taken from it when CPU was
 * scarcest (deep_stacks; docs/benchmarks.md, "The follower's CPU"). Per second of the program's CPU the rate
 * measures what compressing costs beside the program, whatever else runs on the machine.
 */
export const FOLLOW_FAST_RATE = 4 << 20;
export const RATE_WINDOW_MS = 250;

/**
 * Below this rate (bytes per second) the follower also groups full blocks (RecompressOptions.group). At
 * quality 5 grouping costs about a fifth more CPU per byte (reading each block for its end state; brotli is
 * slower on 1 MiB than on 32 KiB), which on a writer this slow is under 1 % of a core. Faster writers keep
 * their blocks one by one: grouping them measured 4-8 % more CPU for the whole run (pyperf_raytrace and
 * web_requests with Python allocators traced, grouping always at quality 5 or below 4 MB/s;
 * docs/benchmarks.md, "Capture size, round three"), and memlens's overhead comes first.
 */
export const FOLLOW_GROUP_RATE = 1 << 20;

/**
 * Whether `memlens run`'s follower writes group blocks (group.ts), as whole-file recompression (attach,
 * children of --follow-fork, --live, push) does. Off until round five: coding a group ran cold in a short
 * run and cost 0.12-0.15 s of CPU (docs/benchmarks.md, "Capture size, round four"); most of that was V8
 * compiling the check that decoded every group again (on the main thread, --single-threaded) and, with
 * groups, a full read of the capture at its end (cleanEnd). Both are gone ("Capture size, round five").
 * A full disk: the follower leaves its last DISK_ROOM_LEFT to the agent (src/cli/disk-room.ts), whose
 * CAPTURE_STOPPED marker the copy could otherwise take the room of, grouped or not.
 */
export const FOLLOW_STREAM_GROUPS = true;

/**
 * Whether `memlens run`'s follower writes packs at its fast level (group.ts, packPayload; format version 5):
 * the blocks it would compress one by one at quality 1, in file order, up to PACK_BYTES at a time, as the
 * parts of one group block without columns. Brotli's quality 1 on 32 KiB at a time learns little and pays
 * its setup for each block; on 1 MiB at once it writes a fifth less (web_requests' stream with Python
 * allocators traced: 7.47 -> 5.93 MiB, memray 6.83) in 10-40 % less of the compressor's CPU; the run's CPU is
 * main's within noise (docs/benchmarks.md, "Packs").
 */
export const FOLLOW_PACKS = true;

/**
 * Whether `memlens run`'s follower, at quality 5, puts full blocks into its groups as they are, packing a
 * group that is mostly them (RecompressOptions.wholeParts; merge.ts, WHOLE_PART): the parse of every record
 * that coding them by column takes ran cold, most of the follower's CPU on a short run.
 */
export const FOLLOW_WHOLE_PARTS = true;

/**
 * Whether `memlens run`'s follower, in a capture whose Python allocators are traced, puts blocks of every size
 * into its groups whole and writes every group as a pack (RecompressOptions.packsOnlyPythonAllocators): a
 * short run's small blocks were merged and coded by column, a parse of every record that V8 runs cold and
 * then compiles on the main thread, 40-55 ms of node's CPU for a capture of 30-600 KB (deep_every_level,
 * calls), where brotli took 1-5; such captures are a tenth of memray's or less, coded by column or not
 * (docs/benchmarks.md, "Node's CPU with Python's allocators traced, round ten"). Without Python's
 * allocators traced the columns stay: there the captures are 0.6-0.8 of memray's.
 */
export const FOLLOW_PACKS_ONLY_PYTHON_ALLOCATORS = true;

/**
 * A pack's bytes (its heads and parts) stay within this many: a part that would take them past it starts the next
 * pack. A reader holds a pack's bytes decompressed (decoder.ts, block-inflater.ts) and brotli's decoder a ring of
 * up to the same size (a power of two, up to the window: 2^18 declared at quality 0 and 1, block-deflater.ts,
 * FAST_LGWIN; 2^24 at quality 2), both resident at a report's peak.
 * The same size for every kind of capture: a busy program's capture is mostly packs in every mode (the follower's
 * fast level; threads and malloc_churn, default and `--native`, are all packs of quality 2), and the reports' peak
 * is the goal still missed (`stats`: the big capture with Python's allocators traced 4.5 MiB above memray's,
 * malloc_churn's default one 9.5 above). The same records re-packed (docs/benchmarks.md, "Packs' size per capture
 * kind, round sixteen"): without Python's allocators traced, packs of 1 MiB made captures 10-20 % smaller (0.3-0.45
 * of memray's instead of 0.4-0.55) and took `stats` and `summary` 0.9-7 MiB higher (the ring and buffer of 1 MiB, and
 * glibc keeping the freed 1 MiB chunks in its heap), 512 KiB half of each; with them traced, 512 KiB made the big
 * capture 15 % smaller for peaks within ±0.3 MiB, but many_threads' 0.9 MiB higher. The run's CPU and the reports'
 * were the same at every size; 128 KiB took 0.1-0.3 MiB off for captures 9-55 % larger. Round fifteen took 1 MiB
 * (rounds thirteen and fourteen) to 256 KiB ("Packs' size and brotli window, round fifteen"); up to round twelve a
 * pack went out once its parts held 1 MiB, up to one part (32 KiB) more. Readers take packs of any size.
 */
export const PACK_BYTES = 256 << 10;

/**
 * Room kept before a pack's payloads in its buffer for the pack's heads (group.ts, packPayload: a count,
 * three varints a part, the columns' count 0): a pack of the agent's 32 KiB blocks holds about 8 parts, 80-130
 * bytes of heads. A pack of more or smaller parts than fits is copied once more.
 */
const PACK_HEADROOM = 4 << 10;

/**
 * The first bytes of a capture, this many, are grouped whatever the writer's rate (at quality 5 still: a
 * writer of FOLLOW_FAST_RATE or more is followed at quality 1, where nothing is grouped). A short program
 * that writes between FOLLOW_GROUP_RATE and FOLLOW_FAST_RATE per second of its CPU (web_requests: 2.3 MB/s,
 * 0.76 MB in all) had its full blocks compressed one by one, 27-36 KiB where grouped they take 17 KB
 * (memray: 28 KiB): the rate measured per second of the program's CPU rather than of the wall clock moved
 * it above FOLLOW_GROUP_RATE (docs/benchmarks.md, "Capture size, round five"). Over 1 MiB the cost is small.
 */
export const FOLLOW_GROUP_VOLUME = 1 << 20;

/**
 * Whether the follower groups full blocks from now on (at quality 5 only, see Recompressor), `readBytes`
 * of the capture read so far. With `wholeParts` (FOLLOW_WHOLE_PARTS) whatever the rate, unless far behind:
 * full blocks then go into packs as they are, which costs a copy, not the parse FOLLOW_GROUP_RATE was set
 * for, and a pack at quality 5 is both smaller and cheaper than the same blocks one by one (the band between
 * FOLLOW_GROUP_RATE and FOLLOW_FAST_RATE past FOLLOW_GROUP_VOLUME; docs/benchmarks.md, "The group coder's
 * cold cost, round nine": pyperf_regex_v8's stream 128.7 -> 94.9 KiB, pyperf_unpickle's 82.1 -> 69.3).
 */
export function followGroups(lagBytes: number, bytesPerSecond: number, readBytes = Infinity, wholeParts = false): boolean {
  return lagBytes < FOLLOW_FAST_LAG && (wholeParts || bytesPerSecond < FOLLOW_GROUP_RATE || readBytes <= FOLLOW_GROUP_VOLUME);
}

/**
 * The brotli quality for the next block when `lagBytes` are written but not yet read, the writer writing
 * `bytesPerSecond`; `fastLevel` is the capture's (followFastLevel).
 */
export function followLevel(lagBytes: number, bytesPerSecond = 0, fastLevel = FOLLOW_FAST_LEVEL): number {
  return lagBytes >= FOLLOW_FAST_LAG || bytesPerSecond >= FOLLOW_FAST_RATE ? fastLevel : DEFAULT_COMPRESS_LEVEL;
}

/**
 * Until the first window of RATE_WINDOW_MS is complete, the rate is that of the part seen so far, once it
 * spans this long: a program that writes fast from its start was followed at quality 5 with full blocks
 * grouped for its first quarter of a second, 0.4-1.5 MB of Python-allocator events at a tenth of quality
 * 1's speed, 0.05-0.15 s of CPU of every such run (docs/benchmarks.md, "The follower's CPU").
 */
export const RATE_FIRST_MS = 50;

/**
 * A growing file's rate of growth, over windows of at least RATE_WINDOW_MS, by a clock in milliseconds: the wall
 * clock, or the writing program's CPU time (FOLLOW_FAST_RATE). The rate is that of the latest complete window,
 * or of the window under way once it spans RATE_FIRST_MS when that is higher: a burst is seen within
 * RATE_FIRST_MS of the program's CPU rather than at the end of its window, a slowdown only once a window is
 * complete. Before, only complete windows counted, so a burst shorter than a window went at the rate of the
 * window before it: many_frames writes 2.9 MB of code records in about 0.3 s of its CPU (10 MB/s), all of them
 * at quality 5 with full blocks grouped (the window before said 1.5 MB/s), then its quiet tail at the fast level
 * (docs/benchmarks.md, "Every workload, default and --native, round eleven").
 */
export class GrowthRate {
  private fromMs: number | undefined;
  private fromSize = 0;
  private complete = false;
  /** The rate of the latest complete window. */
  private windowRate = 0;
  /** A rate was measured (the first RATE_FIRST_MS are behind). */
  known = false;
  bytesPerSecond = 0;

  /** Notes that the file has `size` bytes at `nowMs`; returns the rate (see the class). */
  update(size: number, nowMs: number): number {
    if (this.fromMs === undefined) {
      this.fromMs = nowMs;
      this.fromSize = size;
      return this.bytesPerSecond;
    }
    const span = nowMs - this.fromMs;
    if (span < RATE_FIRST_MS) return this.bytesPerSecond;
    const rate = (Math.max(0, size - this.fromSize) * 1000) / span;
    this.known = true;
    if (span >= RATE_WINDOW_MS) {
      this.complete = true;
      this.windowRate = rate;
      this.bytesPerSecond = rate;
      this.fromMs = nowMs;
      this.fromSize = size;
    } else {
      this.bytesPerSecond = this.complete ? Math.max(this.windowRate, rate) : rate;
    }
    return this.bytesPerSecond;
  }
}

export interface RecompressOptions {
  readonly level?: number;
  readonly codec?: 'deflate' | 'brotli';
  readonly source?: string;
  /** Merge small blocks of a stream before compressing them (merge.ts); default true. */
  readonly merge?: boolean;
  /**
   * At quality 5 or more, merge full blocks too, into blocks of up to 1 MiB (merge.ts, GROUPING); default
   * true. False: only the small ones, into blocks of up to 64 KiB (what recompression did before
   * 2026-12-04). Not at the follower's fast level: there the reading that merging a full block takes
   * (about 3 ns a byte) costs more CPU than quality 1 saves on larger blocks (docs/benchmarks.md, "Capture
   * size, round three").
   */
  readonly group?: boolean;
  /**
   * Write what is merged as group blocks (several streams' records in one block, stored by field:
   * group.ts), and the header as format version 4; default true with brotli, for captures of version 3 or
   * later (addresses against slots). False: ordinary blocks, the header as it was.
   */
  readonly streamGroups?: boolean;
  /**
   * At a level below DEFAULT_COMPRESS_LEVEL (the follower's fast level), write the blocks that would be
   * compressed one by one as packs (group.ts, packPayload), and the header as format version 5; default
   * false. Only with brotli, for captures of version 3 or later.
   */
  readonly packs?: boolean;
  /**
   * With `packs`: at quality 5, blocks of merge.ts's WHOLE_PART or more go into groups as they are, and a
   * group mostly of them is a pack rather than coded by column (`memlens run`'s follower: FOLLOW_WHOLE_PARTS);
   * default false.
   */
  readonly wholeParts?: boolean;
  /**
   * With `wholeParts`: in a capture whose header says Python's allocators are traced, blocks of every size go
   * into groups whole and every group is a pack, never coded by column (FOLLOW_PACKS_ONLY_PYTHON_ALLOCATORS);
   * default false.
   */
  readonly packsOnlyPythonAllocators?: boolean;
  /**
   * The sink is done with each array when it returns (it writes it out): the blocks the Recompressor
   * compresses may then come in a buffer used again for the next (encodeBlock, `transient`), not each in
   * fresh memory. Default false: the sink may keep them.
   */
  readonly transientOutput?: boolean;
}

/**
 * The file header with its version and min_reader_version raised to GROUP_FORMAT_VERSION (a copy). Both
 * are outside the header's CRC, which covers the body alone.
 */
export function groupHeader(bytes: Uint8Array, version = GROUP_FORMAT_VERSION): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer, out.byteOffset, out.length);
  dv.setUint16(8, Math.max(dv.getUint16(8, true), version), true);
  dv.setUint16(10, Math.max(dv.getUint16(10, true), version), true);
  return out;
}

/** Whether a block may be a part of a pack: an uncompressed records block with the 32-byte header, not memlens's own. */
function packable(info: BlockInfo): boolean {
  return info.kind === BLOCK_KIND_RECORDS && info.flags === 0 && info.headerLen === BLOCK_HEADER_LEN && info.stream !== STREAM_MEMLENS;
}

export class Recompressor {
  private readonly framer: BlockFramer;
  private level: number;
  private readonly codec: 'deflate' | 'brotli';
  private readonly groupAllowed: boolean;
  private readonly transient: boolean;
  private group: boolean;
  private merging = true;
  private merger: BlockMerger | undefined;
  /** Group blocks are allowed (the header was raised to version 4); written at quality 5 or more only. */
  private groupsAllowed = false;
  /** Packs are allowed (the header was raised to version 5); written below quality 5 only. */
  private packsAllowed = false;
  /**
   * The pack being filled: its parts' payloads one after the other from PACK_HEADROOM on in `packBuf` (a
   * buffer used for every pack: one copy of each block's bytes, where a copy of each block and then of the
   * whole pack cost 30-50 ms of a 36 MB stream; docs/benchmarks.md, "Node's CPU with Python's allocators
   * traced"), `packEnd` the end of the last; `packHeads` three numbers a part: stream, base_seq, length.
   * The pack's bytes are packPayload's for the same parts.
   */
  private packBuf = new Uint8Array(0);
  private packEnd = PACK_HEADROOM;
  private readonly packHeads: number[] = [];
  private readonly headWriter = new ByteWriter(PACK_HEADROOM);
  bytesOut = 0;
  blocks = 0;
  compressedBlocks = 0;

  /** `sink` receives the output in order; each array is its own (the caller may keep it) unless `transientOutput`. */
  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    options: RecompressOptions = {},
  ) {
    this.codec = options.codec ?? DEFAULT_CODEC;
    this.level = options.level ?? (this.codec === 'brotli' ? DEFAULT_COMPRESS_LEVEL : 1);
    this.groupAllowed = options.group !== false && this.codec === 'brotli';
    this.transient = options.transientOutput === true;
    this.group = this.groupAllowed;
    this.framer = new BlockFramer(
      {
        header: (h, bytes) => {
          const slotted = h.minReaderVersion >= SLOT_ADDRESS_VERSION;
          // Groups only where addresses are coded against slots: a header raised to version 4 says so.
          this.groupsAllowed = options.merge !== false && options.streamGroups !== false && this.codec === 'brotli' && slotted;
          this.packsAllowed = options.packs === true && this.codec === 'brotli' && slotted;
          // Groups of the second layout (62 columns, format version 8) over captures whose readers are of
          // version 7 already (the agent's since 2026-12-05): raising an older capture's min_reader_version to 8
          // would tell a reader its addresses may be references and its frames' parents deltas, which they
          // are not; those keep the first layout (45 columns, version 4 or 5).
          const layout2 = h.minReaderVersion >= ADDR_REF_VERSION;
          if (options.merge !== false) {
            const whole = this.packsAllowed && options.wholeParts === true;
            const allWhole = whole && options.packsOnlyPythonAllocators === true && (h.options & OPTION_PYTHON_ALLOCATORS) !== 0;
            this.merger = new BlockMerger(
              (h.options & OPTION_NATIVE) !== 0,
              (b) => this.merged(b),
              this.limits(),
              slotted,
              this.groupsNow(),
              h.minReaderVersion >= ADDR_REF_VERSION,
              whole,
              allWhole,
              layout2 ? GROUP_COLUMNS_2 : GROUP_COLUMNS_1,
            );
          }
          // The header says what a reader needs: 8 where groups may be of the second layout, else 5 where
          // they may be packs, 4 where groups of the first; the agent's own when higher.
          this.out(
            this.groupsAllowed && layout2
              ? groupHeader(bytes, GROUP_LAYOUT2_VERSION)
              : this.packsAllowed
                ? groupHeader(bytes, PACK_FORMAT_VERSION)
                : this.groupsAllowed
                  ? groupHeader(bytes)
                  : bytes.slice(),
          );
        },
        block: (info, bytes) => {
          this.blocks++;
          if (this.packsAllowed && this.level < DEFAULT_COMPRESS_LEVEL && packable(info)) {
            this.merger?.flushAll();
            const payload = bytes.subarray(BLOCK_HEADER_LEN);
            // The pack's bytes (its heads, within PACK_HEADROOM, and its parts) stay within PACK_BYTES.
            if (this.packEnd > PACK_HEADROOM && this.packEnd + payload.length > PACK_BYTES) this.flushPack();
            this.addToPack(info, payload);
            if (this.packEnd >= PACK_BYTES) this.flushPack();
            return;
          }
          this.flushPack();
          if (this.merging && this.merger?.add(info, bytes) === true) return;
          this.merger?.flushAll();
          if (info.kind !== BLOCK_KIND_RECORDS || info.flags !== 0) {
            this.out(bytes.slice());
            return;
          }
          const payload = bytes.subarray(info.headerLen);
          const framed = encodeBlock(info.stream, info.baseSeq, payload, {
            compressLevel: this.level,
            codec: this.codec,
            extraHeader: bytes.subarray(BLOCK_HEADER_LEN, info.headerLen),
            transient: this.transient,
          });
          if ((framed[4]! & BLOCK_FLAGS_COMPRESSED) !== 0) this.compressedBlocks++;
          this.out(framed);
        },
        damaged: () => undefined,
        skipped: (bytes) => {
          this.flushPack();
          this.merger?.flushAll();
          this.out(bytes.slice());
        },
        truncated: (_offset, _info, bytes) => {
          this.flushPack();
          this.merger?.flushAll();
          this.out(bytes.slice());
        },
      },
      options.source,
    );
  }

  private merged(b: MergedBlock): void {
    const framed = encodeBlock(b.stream, b.baseSeq, b.payload, { compressLevel: this.level, codec: this.codec, kind: b.kind, transient: this.transient });
    if ((framed[4]! & BLOCK_FLAGS_COMPRESSED) !== 0) this.compressedBlocks++;
    this.out(framed);
  }

  /** Adds a part to the pack being filled (its payload copied into packBuf). */
  private addToPack(info: BlockInfo, payload: Uint8Array): void {
    const need = this.packEnd + payload.length;
    if (need > this.packBuf.length) {
      const next = new Uint8Array(Math.max(need, PACK_HEADROOM + PACK_BYTES + (64 << 10)));
      next.set(this.packBuf.subarray(PACK_HEADROOM, this.packEnd), PACK_HEADROOM);
      this.packBuf = next;
    }
    this.packBuf.set(payload, this.packEnd);
    this.packEnd = need;
    this.packHeads.push(info.stream, info.baseSeq, payload.length);
  }

  /**
   * Writes the pending pack. At the capture's end (`last`) the service stream's blocks at its end go on as
   * ordinary blocks after it: `memlens run` reads how the capture ended from its last blocks (cleanEnd)
   * without decoding the threads' events, as it does after the merger's last group.
   */
  private flushPack(last = false): void {
    const heads = this.packHeads;
    const count = heads.length / 3;
    if (count === 0) return;
    let keep = count;
    if (last) while (keep > 0 && heads[3 * (keep - 1)] === STREAM_SERVICE) keep--;
    const buf = this.packBuf;
    let at = PACK_HEADROOM;
    if (keep > 1) {
      // packPayload's heads, written just before the parts' payloads: the count, each part's stream,
      // base_seq and length, then no columns.
      const w = this.headWriter;
      w.reset();
      w.varint(keep);
      for (let k = 0; k < keep; k++) {
        w.varint(heads[3 * k]!);
        w.varint(heads[3 * k + 1]!);
        w.varint(heads[3 * k + 2]!);
        at += heads[3 * k + 2]!;
      }
      w.varint(0);
      const h = w.bytes();
      let payload: Uint8Array;
      if (h.length <= PACK_HEADROOM) {
        buf.set(h, PACK_HEADROOM - h.length);
        payload = buf.subarray(PACK_HEADROOM - h.length, at);
      } else {
        payload = new Uint8Array(h.length + at - PACK_HEADROOM);
        payload.set(h);
        payload.set(buf.subarray(PACK_HEADROOM, at), h.length);
      }
      // encodeBlock copies what it keeps of the payload: packBuf is free again once it returns.
      this.merged({ kind: BLOCK_KIND_GROUP, stream: 0, baseSeq: 0, payload });
    }
    for (let k = keep > 1 ? keep : 0; k < count; k++) {
      const len = heads[3 * k + 2]!;
      this.merged({ kind: BLOCK_KIND_RECORDS, stream: heads[3 * k]!, baseSeq: heads[3 * k + 1]!, payload: buf.subarray(at, at + len) });
      at += len;
    }
    heads.length = 0;
    this.packEnd = PACK_HEADROOM;
  }

  private out(bytes: Uint8Array): void {
    this.bytesOut += bytes.length;
    this.sink(bytes);
  }

  /** Input bytes taken into whole units so far (what is past it waits for the rest of its block). */
  get consumed(): number {
    return this.framer.position;
  }

  /** The level for the blocks completed from now on (the codec stays). */
  setLevel(level: number): void {
    if (level === this.level) return;
    // A pack is compressed at the level its parts came at.
    this.flushPack();
    this.level = level;
    this.merger?.setLimits(this.limits());
    this.merger?.setGroups(this.groupsNow());
  }

  /**
   * Group blocks at quality 5 or more only: coding a group by column takes about 20 ns a byte (checked
   * included), three times what quality 1 takes, for 2 % less on numpy_batch's stream
   * (docs/benchmarks.md, "Capture size, round four").
   */
  private groupsNow(): boolean {
    return this.groupsAllowed && this.level >= DEFAULT_COMPRESS_LEVEL;
  }

  /** Whether full blocks are grouped from now on (at quality 5 or more); false when the options said so. */
  setGrouping(on: boolean): void {
    const next = on && this.groupAllowed;
    if (next === this.group) return;
    this.group = next;
    this.merger?.setLimits(this.limits());
  }

  /**
   * Whether small blocks are merged from now on (RecompressOptions.merge still decides whether at all); off,
   * what is pending is written first and every block goes on as it is (only compressed).
   */
  setMerging(on: boolean): void {
    if (on === this.merging) return;
    this.merging = on;
    if (!on) this.merger?.flushAll();
  }

  /** Full blocks are grouped only at quality 5 or more (RecompressOptions.group). */
  private limits(): MergeLimits {
    return this.group && this.level >= DEFAULT_COMPRESS_LEVEL ? GROUPING : SMALL_BLOCKS;
  }

  feed(chunk: Uint8Array): void {
    this.framer.feed(chunk);
  }

  end(): void {
    this.framer.end();
    this.flushPack(true);
    this.merger?.flushAll(true);
  }
}

/** Recompresses a whole capture held in memory. */
export function recompressCapture(bytes: Uint8Array, options: RecompressOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const r = new Recompressor((b) => parts.push(b), options);
  r.feed(bytes);
  r.end();
  const out = new Uint8Array(r.bytesOut);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
