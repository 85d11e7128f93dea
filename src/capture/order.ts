// SeqOrderer: a CaptureVisitor adapter that hands records on in `seq` order across streams, using the
// BARRIER records of the service stream (docs/capture-format.md, "Streams and sequence numbers" and
// "Reading in seq order").
//
// The rule, exactly. Every record gets an order key (k, e) when it arrives, in file order:
//   - ALLOC and FREE: (seq, 1);
//   - records that carry a seq (SNAPSHOT, GC, FORK, IMAGE, IMAGE_UNLOAD, MARKER, BARRIER, CHECKPOINT,
//     TRAILER, CENSUS, PRESSURE, a THREAD_NAME of a rename): (seq, 0), so a record with seq S comes after every event with seq < S and before the event
//     with seq S;
//   - every other record: (−∞, 0);
// then the key is raised to at least the key of the previous record of the same stream (a stream's records
// keep their file order: a FRAME reaches the visitor before the ALLOC that uses it) and to at least the key
// of the last BARRIER before it in the file (what was released is never preceded by a later arrival).
// Records are delivered sorted by (k, e), ties in file order. A BARRIER releases every record whose
// (k, e, file position) is at most its own, the barrier included: by the barrier's promise no later event
// can sort before it. end() releases the rest.
//
// Without barriers (a writer that died before its first flush round, a capture made by a test) records
// wait in memory until end(); past `maxBuffered` records everything buffered is released early, in order,
// and the result is only as ordered as the file allows.
//
// How, cheaply. The blocks of threads' streams (nearly every event) arrive undecoded (CaptureVisitor.defer)
// and wait as their stored bytes, a few KiB each. At a barrier whose waiting blocks are all of one stream,
// that stream is decoded straight into the downstream visitor (no copy of its records); before each of its
// records, the column records (typed arrays, about 70 bytes per record, no object per event) that sort
// before it go out first. A program with one thread, and a program whose threads take turns slower than the
// agent's flush rounds, have a single stream between two barriers, so their records are never copied. A
// block of the straight stream that reaches past the release bound stops decoding there (STOP_BLOCK,
// straight()) and is decoded again at a later release, passing over what it delivered (SKIP); a stream
// whose last key is past the bound keeps its blocks undecoded (pastBound()).
//
// Waiting blocks of several streams (releaseLazily()): the stream with the most bytes waiting is decoded
// straight as above; the others are decoded into the columns, each stream's next block only once its run
// there emptied, and merged: in the columns each stream's records form a linked list, so the merge is a
// k-way merge of runs that are already sorted, and a stream's records not decoded yet sort after its run's.
// A run that empties while the straight stream is being decoded is refilled from inside that decoding
// (refillWithin(): one more nesting level of the decoder). A record delivered gives its column slot back (a
// free list: slots need no order), and the next record buffered takes it. So the columns hold about one
// block of each other stream, not every record between two barriers.
//
// Measured (round eighteen, docs/benchmarks.md, "The seq orderer with many threads"): a 50.6 M-event capture
// of 32 threads taking turns (bench/report-workloads/threads.py) has 201 barriers; decoding every waiting
// block of the other streams first (the one with the most bytes went straight) held up to 272 774 records
// in the columns at once (90 111 on average at a release), grown by doubling to 524 288 slots, 35.6 MiB
// reserved and never given back: one anonymous mapping of 36 MiB with 24 MiB resident at `stats`' peak of
// 92 MiB. Decoded as runs empty, with slots taken again: 37 276 slots at most (65 536, 4.5 MiB), `stats`
// peaks at 62.5 MiB, outputs the same. Tried and not kept: compacting the columns within a release when
// half of them were delivered (instead of the free list): 4.4 s against 2.35 for the read alone (decode and
// orderer, a counting visitor), 673 ms in compact(), and META records indexed by column slot made their
// array sparse (a dictionary: 1.1 s), hence `metas` indexed through `addr`.
//
// The straight stream of a release of several streams (round twenty, docs/benchmarks.md, "The straight
// stream in a release of several threads"): on that capture a mixed release has 2.9 streams on average,
// and the one with the most bytes holds 61 % of them; with it straight, 19.8 M records of 50.6 M go
// through the columns instead of 50.3 M, the read alone (decoder, orderer, a counting visitor) took
// 2.73-2.78 s against 3.08-3.24, and the columns 28 727 slots at most. Its decoding stopped 1 143 times to
// refill another stream's run. With the stream with the most bytes left going straight next once it is done
// (takeStraight()), 12.1 M records through the columns, 2.73-2.75 s.
//
// The merge (releaseUpTo()) delivers from the run whose head sorts first up to one limit, the bound or the
// second head, whichever sorts first: one comparison per record. Two (the bound, then the second head) took
// the read alone (decoder and orderer, a counting visitor) 3.02-3.12 s on that capture, one 2.86-2.89
// (round nineteen, docs/benchmarks.md, "The per-event cost of the reports").
//
// File position: record r of the b-th block is b · 2^24 + r (a block holds fewer than 2^24 records: its
// payload is at most 16 MiB), so records decoded late keep the place they had in the file.

import { type CaptureHeader, type CaptureVisitor, type DecodeWarning, type DeferredBlock, type MetaRecord, DOUBLE_FIELD, STOP_BLOCK, eventAddress } from './records.js';

export interface OrdererOptions {
  /** Records buffered before they are released without a barrier (default 2^21; a waiting block counts as its raw bytes / 4). */
  readonly maxBuffered?: number;
}

const KIND_ALLOC = 0;
const KIND_FREE = 1;
const KIND_META = 2;
/** A FRAME held in the columns as its four numbers (seq: id, addr: parent, size: codeId, stack: instr): no object. */
const KIND_FRAME = 3;

const POS_BLOCK = 16777216; // 2^24

/**
 * Calls of each record kind in warm(): V8 gives a function its feedback vector once it ran about 8 × its
 * bytecode's length in the interpreter (a call counting about its return's offset): the first calls make
 * alloc()'s, freeAt()'s, meta()'s, frame()'s and raise()'s vectors, the later ones fill them.
 */
const WARM_ROUNDS = 64;
/** A stream id no capture has (ids are 32-bit unsigned): warm()'s run, let go after it. */
const WARM_STREAM = -1;
/** What warm() passes to meta() (passed over: never read). */
const WARM_META: MetaRecord = { type: 'barrier', stream: WARM_STREAM, seq: 0 } as unknown as MetaRecord;

// What the orderer does with a record it is given.
const DIRECT = 0; // arrived from the decoder: into the columns
const STRAIGHT = 1; // of the stream decoded straight through at a release: downstream, unless past the bound
const COLUMNS = 2; // decoded at a release, to wait in the columns
const SKIP = 3; // a block decoded again: its first records were delivered before, pass over them

interface StreamRun {
  /** Set after the object is made (run()): starts as a double, the memlens stream's id is 0xffffffff. */
  id: number;
  head: number;
  tail: number;
  lastK: number;
  lastE: number;
  /** In a release that decodes blocks as their runs empty (releaseLazily()): its waiting blocks (indices), in file order. */
  pend: number[];
  /** The first of `pend` not decoded yet. */
  pendAt: number;
  /** Blocks of `pend` still to decode when its run empties (0 outside such a release): releaseUpTo() stops there. */
  pending: number;
  /** In releaseLazily(): the raw bytes of its waiting blocks not decoded yet. */
  bytes: number;
}

interface Waiting {
  readonly block: DeferredBlock;
  /** File position of the block's first record (set after the object is made: see defer()). */
  base: number;
  /** Records of it delivered already (its decoding was stopped at the release bound). */
  skip: number;
}

export class SeqOrderer implements CaptureVisitor {
  private readonly down: CaptureVisitor;
  /** The downstream visitor takes a FREE's address through eventAddress (records.ts), not boxed as an argument. */
  private readonly downFreeAt: boolean;
  /** The downstream visitor takes FRAMEs as numbers (CaptureVisitor.frame). */
  private readonly downFrame: boolean;
  private readonly maxBuffered: number;
  private cap = 0;
  private n = 0;
  private kind: Uint8Array = new Uint8Array(0);
  private code: Uint8Array = new Uint8Array(0);
  private keyE: Uint8Array = new Uint8Array(0);
  /** Column slots given back (deliver()), taken again before the columns grow: a stack of `freeTop` slots. */
  private spare = new Int32Array(0);
  private freeTop = 0;
  /** Records in the columns now (n less the slots given back). */
  private held = 0;
  private stream = new Uint32Array(0);
  private next = new Int32Array(0);
  private keyK: Float64Array = new Float64Array(0);
  private pos: Float64Array = new Float64Array(0);
  private seq: Float64Array = new Float64Array(0);
  private addr: Float64Array = new Float64Array(0);
  private size: Float64Array = new Float64Array(0);
  private stack: Float64Array = new Float64Array(0);
  private native: Float64Array = new Float64Array(0);
  /**
   * The META records buffered: a column record's `addr` is its index here, and the indices given back are
   * taken again (`metaFree`), so the array stays dense. Indexed by column slot, a write past the array's end
   * made it a sparse (dictionary) array: 1.1 s of a 50 M-event read of 32 threads, tried.
   */
  private metas: (MetaRecord | undefined)[] = [];
  private readonly metaFree: number[] = [];
  private readonly runs = new Map<number, StreamRun>();
  private readonly active: StreamRun[] = [];
  /** releaseLazily(): the streams decoded into the columns as their runs empty (not the straight one). */
  private readonly lazy: StreamRun[] = [];
  private last: StreamRun | undefined;
  private wmK = -Infinity;
  private wmE = 0;
  /** Blocks of threads' streams not decoded yet, in file order, and an upper bound of their records. */
  private readonly waiting: Waiting[] = [];
  /** releaseWaiting(): which waiting blocks stay undecoded (reused). */
  private readonly keepFlags: boolean[] = [];
  private waitingRecords = DOUBLE_FIELD;
  private mode = DIRECT;
  // File position of the next record: the current block's base, and the records of it seen so far.
  private blocks = DOUBLE_FIELD;
  private posBase = DOUBLE_FIELD;
  private posNext = DOUBLE_FIELD;
  // The key a record was raised to (raise()), and its position.
  private rk = DOUBLE_FIELD;
  private re = 0;
  private rp = DOUBLE_FIELD;
  // The run's key before the record just raised (to undo the raise of a record that goes back to wait).
  private pk = DOUBLE_FIELD;
  private pe = 0;
  // While passing over a block's records delivered before (SKIP): how many, and the mode to go on in.
  private skipUntil = DOUBLE_FIELD;
  private afterSkip = DIRECT;
  // While decoding straight: the release bound (inclusive) and the smallest column record.
  private boundK = DOUBLE_FIELD;
  private boundE = 0;
  private boundP = DOUBLE_FIELD;
  private headK = Infinity;
  private headE = 0;
  private headP = DOUBLE_FIELD;
  /**
   * While decoding straight: min(boundK, headK). A record of the run last raised whose seq is above the
   * run's key and the watermark and below this needs neither raising nor a release first (the fast path
   * of alloc() and free(), nearly every record of a program with one thread).
   */
  private fastK = -Infinity;
  /** Where straight() stopped the block being decoded (its records before that were delivered); -1: it did not. */
  private stopAt = DOUBLE_FIELD;
  /** The waiting block being decoded (not a record handed over directly), and its records delivered before. */
  private stoppable = false;
  private blockSkip = DOUBLE_FIELD;
  /** Records delivered so far. */
  delivered = DOUBLE_FIELD;
  /** The most records the columns held at once, and the most slots they used (what their memory follows). */
  mostHeld = 0;
  mostSlots = 0;
  /** Times the straight stream's decoding stopped to decode another stream's block into the columns (refillWithin()). */
  refills = 0;
  /** FRAMEs delivered from the columns (KIND_FRAME), counted before each is passed on: which path a FRAME took. */
  framesHeld = DOUBLE_FIELD;

  constructor(downstream: CaptureVisitor, options: OrdererOptions = {}) {
    // File positions (2^24 per block: past 2^30 from the 64th block on), seqs and record counts: the fields
    // that hold them start as doubles (DOUBLE_FIELD, records.ts) and get their start values here, so that
    // V8 does not change the orderer's shape in the middle of a read (which deopted the decoder's loop and
    // every alloc/freeAt inlined into it). So do the values derived from them (stopAt, skipUntil, blockSkip:
    // differences of doubles are doubles to V8, whatever their size). Do not "simplify" them to `= 0`.
    this.waitingRecords = this.blocks = this.posBase = this.posNext = this.rk = this.rp = this.pk = 0;
    this.skipUntil = this.boundK = this.boundP = this.headP = this.blockSkip = this.delivered = this.framesHeld = 0;
    this.stopAt = -1;
    // The watermark is written again here, not first at the first barrier: V8 marks a field stored only once
    // "const", and code that read it (alloc()'s and freeAt()'s fast path, inlined into the decoder's loop) was
    // deoptimized when hold() first changed it, early in every read with barriers (round twenty-five, cpu25).
    // A value other than the field's own first: V8 keeps a field "const" through a store of the value it holds.
    this.wmK = this.wmE = 1;
    this.wmK = -Infinity;
    this.wmE = 0;
    // So is the spare slots' count, first changed by the first release of column records: push(), inlined into the
    // loop once the loop's own varints left room in the inlining budget (round twenty-nine), read it as 0.
    this.freeTop = 1;
    this.freeTop = 0;
    this.down = downstream;
    this.downFreeAt = downstream.freeAt !== undefined;
    this.downFrame = downstream.frame !== undefined;
    this.maxBuffered = Math.max(16, options.maxBuffered ?? 1 << 21);
    this.grow(1024);
    this.warm();
  }

  /**
   * Takes the rare branches of alloc(), freeAt(), meta() and frame() past their fast paths, and raise()'s
   * watermark, with nothing passed on and nothing kept, so that V8 has feedback for them before the decoder's
   * loop, which inlines them, is compiled. Met first after the compile (the first record past a release
   * bound, a block decoded again: SKIP, a meta record under the watermark), each was a bytecode without
   * feedback where the optimized loop deoptimized ("Insufficient type feedback"), and recordsAt() was compiled
   * again, OSR and whole (~50-70 ms each; docs/benchmarks.md, the round twenty-eight section on the decoder's
   * warm-up deopts). In SKIP with no end, every record is passed over (skipped()); the state is put back after.
   */
  private warm(): void {
    const posNext = this.posNext;
    this.mode = SKIP;
    this.skipUntil = Infinity;
    for (let i = 0; i < WARM_ROUNDS; i++) {
      this.alloc(WARM_STREAM, 0, 0, 0, 0, 0, 0);
      eventAddress[0] = 0;
      this.freeAt(WARM_STREAM, 0, 0, 0);
      this.meta(WARM_META);
      this.frame(WARM_STREAM, 0, 0, 0, 0);
    }
    // skipped()'s end (the first record past those passed over), to DIRECT and to STRAIGHT (findHead(): no runs,
    // the head and fastK it sets are put back below). Unfed, it deoptimized the loop the first time a block decoded
    // again ended its SKIP (call_sites, churn: "Insufficient type feedback" at `this.afterSkip`).
    this.skipUntil = 0;
    for (let i = 0; i < WARM_ROUNDS; i++) {
      this.mode = SKIP;
      this.afterSkip = (i & 1) === 0 ? DIRECT : STRAIGHT;
      this.skipped();
    }
    this.afterSkip = DIRECT;
    this.headK = Infinity;
    this.headE = 0;
    this.headP = 0;
    // Past SKIP: raised under the watermark (raise()), then past a release bound of −∞ (straight(): false, the
    // mode COLUMNS), then into the columns (push()); the slot, the run and the counters let go after each.
    const n = this.n;
    const held = this.held;
    const mostHeld = this.mostHeld;
    const mostSlots = this.mostSlots;
    this.wmK = 0;
    this.boundK = -Infinity;
    for (let i = 0; i < WARM_ROUNDS; i++) {
      this.mode = STRAIGHT;
      this.alloc(WARM_STREAM, 1, 0, 0, 0, 0, 0);
      this.mode = STRAIGHT;
      eventAddress[0] = 0;
      this.freeAt(WARM_STREAM, 2, 0, 0);
      this.n = n;
      this.held = held;
      this.runs.delete(WARM_STREAM);
      this.last = undefined;
    }
    this.mostHeld = mostHeld;
    this.mostSlots = mostSlots;
    this.boundK = 0;
    this.fastK = -Infinity;
    this.mode = DIRECT;
    // raise() of a key under the watermark (a meta record's (−∞, 0), a stream's first record after a barrier).
    for (let i = 0; i < WARM_ROUNDS; i++) {
      this.raise(WARM_STREAM, -Infinity, 0);
      this.runs.delete(WARM_STREAM);
      this.last = undefined;
    }
    // straight()'s ties: a key equal to the bound's and to the head's, compared on e then on the position (the
    // bound's and the head's fields read for the first time there deoptimized the loop: call_sites, threads).
    this.rk = this.boundK = this.headK = 1;
    this.re = this.boundE = this.headE = 1;
    this.boundP = this.headP = 1;
    for (let i = 0; i < WARM_ROUNDS; i++) {
      this.rp = 0;
      this.straight();
    }
    // straight()'s stop of a waiting block's decoding past the bound (STOP_BLOCK), its run's key put back.
    this.boundK = -Infinity;
    this.stoppable = true;
    for (let i = 0; i < WARM_ROUNDS; i++) {
      this.raise(WARM_STREAM, 1, 1);
      try {
        this.straight();
      } catch (e) {
        if (e !== STOP_BLOCK) throw e;
      }
      this.runs.delete(WARM_STREAM);
      this.last = undefined;
    }
    this.stoppable = false;
    this.stopAt = -1;
    this.fastK = -Infinity;
    this.mode = DIRECT;
    this.boundK = 0;
    this.boundE = 0;
    this.boundP = 0;
    this.headK = Infinity;
    this.headE = 0;
    this.headP = 0;
    this.wmK = -Infinity;
    this.posNext = posNext;
    this.rk = this.rp = this.pk = 0;
    this.re = this.pe = 0;
  }

  header(h: CaptureHeader): void {
    this.down.header?.(h);
  }

  warning(w: DecodeWarning): void {
    if (this.mode === SKIP) return; // told when these records were first decoded
    this.down.warning?.(w);
  }

  block(): void {
    this.blocks++;
    this.posBase = this.blocks * POS_BLOCK;
    this.posNext = 0;
  }

  defer(block: DeferredBlock): void {
    // Made with doubles, then set: a position passes 2^30, a skip is a difference of positions (see the constructor).
    const w: Waiting = { block, base: DOUBLE_FIELD, skip: DOUBLE_FIELD };
    w.base = this.posBase;
    w.skip = 0;
    this.waiting.push(w);
    this.waitingRecords += Math.ceil(block.rawLen / 4);
    if (this.held + this.waitingRecords >= this.maxBuffered) this.releaseAll();
  }

  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    const l = this.last;
    if (seq < this.fastK && l !== undefined && l.id === stream && seq > l.lastK && seq > this.wmK) {
      // Its key is (seq, 1) as it came, before the bound and before every column record: what straight()
      // would decide, without the comparisons of the general path.
      l.lastK = seq;
      l.lastE = 1;
      this.posNext++;
    } else {
      // Past the fast path: out of line, so that the loop that inlines alloc() holds one call here, fed at the
      // orderer's start (warm()), and one delivery for both paths (a second call site, first taken late, was a
      // deopt of the loop). The address goes through eventAddress (a call's double argument is boxed).
      eventAddress[0] = address;
      if (!this.allocKeyed(stream, seq, size, allocator, stack, nativeStack)) return;
    }
    this.delivered++;
    this.down.alloc(stream, seq, address, size, allocator, stack, nativeStack);
  }

  /**
   * alloc() past its fast path (the address in eventAddress[0]): raised, then true when it goes downstream now
   * (the caller passes it on), else passed over (SKIP) or held in the columns.
   */
  private allocKeyed(stream: number, seq: number, size: number, allocator: number, stack: number, nativeStack: number): boolean {
    const address = eventAddress[0]!;
    if (this.mode === SKIP && this.skipped()) return false;
    this.raise(stream, seq, 1);
    if (this.mode === STRAIGHT && this.straight()) return true;
    const i = this.push(stream, KIND_ALLOC);
    this.seq[i] = seq;
    this.addr[i] = address;
    this.size[i] = size;
    this.code[i] = allocator;
    this.stack[i] = stack;
    this.native[i] = nativeStack;
    if (this.mode === DIRECT && this.held + this.waitingRecords >= this.maxBuffered) this.releaseAll();
    return false;
  }

  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    eventAddress[0] = address;
    this.freeAt(stream, seq, size, deallocator);
  }

  /** free() with the address in eventAddress[0] (records.ts): the decoder's call, not boxing it. */
  freeAt(stream: number, seq: number, size: number, deallocator: number): void {
    const address = eventAddress[0]!;
    const l = this.last;
    if (seq < this.fastK && l !== undefined && l.id === stream && seq > l.lastK && seq > this.wmK) {
      // As in alloc().
      l.lastK = seq;
      l.lastE = 1;
      this.posNext++;
    } else if (!this.freeKeyed(stream, seq, size, deallocator)) {
      // Out of line, as alloc()'s (eventAddress[0] still holds the address).
      return;
    }
    this.delivered++;
    if (this.downFreeAt) {
      // Set again: a release inside freeKeyed() passed other FREEs on through it.
      eventAddress[0] = address;
      this.down.freeAt!(stream, seq, size, deallocator);
    } else this.down.free(stream, seq, address, size, deallocator);
  }

  /** freeAt() past its fast path (the address in eventAddress[0]): as allocKeyed(). */
  private freeKeyed(stream: number, seq: number, size: number, deallocator: number): boolean {
    const address = eventAddress[0]!;
    if (this.mode === SKIP && this.skipped()) return false;
    this.raise(stream, seq, 1);
    if (this.mode === STRAIGHT && this.straight()) return true;
    const i = this.push(stream, KIND_FREE);
    this.seq[i] = seq;
    this.addr[i] = address;
    this.size[i] = size;
    this.code[i] = deallocator;
    if (this.mode === DIRECT && this.held + this.waitingRecords >= this.maxBuffered) this.releaseAll();
    return false;
  }

  meta(rec: MetaRecord): void {
    if (this.mode === SKIP && this.skipped()) return;
    // The record's fields by Reflect.get, not `rec.seq`: a property read compiled with the record kinds met so
    // far checks their maps, and a kind first met late in a read (a pressure record, agent-stats, a thread's
    // exit, the trailer) deoptimized this function ("wrong map": at `rec.seq` on churn, at hold()'s `rec.type`
    // on threads), and with it the records loop when V8 inlines this through the decoder's metaAt(). V8 compiles
    // Reflect.get to its generic property lookup, with no map check: a few meta records per block, its cost is
    // nothing measurable. FRAMEs made by frame() do not come this way (round twenty-five, cpu25).
    const seq = Reflect.get(rec, 'seq') as number | undefined; // a THREAD_NAME has one only for a rename
    const stream = Reflect.get(rec, 'stream');
    this.keyed(rec, stream, seq !== undefined ? seq : -Infinity, Reflect.get(rec, 'type') === 'barrier');
  }

  /**
   * A FRAME as numbers (the decoder's path without a record object): passed on as numbers to a visitor that
   * takes them (else as a FrameRecord, made then), or held in the columns as numbers (KIND_FRAME), never as an
   * object. Its natural key is (−∞, 0): raised to its stream's last key (raise()).
   */
  frame(stream: number, id: number, parent: number, codeId: number, instr: number): void {
    const l = this.last;
    if (l !== undefined && l.id === stream && l.lastK < this.fastK && l.lastK > this.wmK && this.downFrame) {
      // Decoding straight, after a record of the same stream (nearly every FRAME: call_sites has 29.7 M):
      // raised to that record's key, which is past the watermark and before the bound and every column
      // record, so the key stays and it goes downstream now: what raise() and straight() would decide,
      // without their comparisons and stores (the alloc()/freeAt() fast path's reasoning).
      this.posNext++;
      this.delivered++;
      this.down.frame!(stream, id, parent, codeId, instr);
      return;
    }
    this.frameKeyed(stream, id, parent, codeId, instr);
  }

  /** frame() past its fast path: raised, then passed on or held in the columns. */
  private frameKeyed(stream: number, id: number, parent: number, codeId: number, instr: number): void {
    if (this.mode === SKIP && this.skipped()) return;
    this.raise(stream, -Infinity, 0);
    if (this.mode === STRAIGHT && this.straight()) {
      this.delivered++;
      if (this.downFrame) this.down.frame!(stream, id, parent, codeId, instr);
      else this.down.meta({ type: 'frame', stream, id, parent, codeId, instr });
      return;
    }
    const i = this.push(stream, KIND_FRAME);
    this.seq[i] = id;
    this.addr[i] = parent;
    this.size[i] = codeId;
    this.stack[i] = instr;
    if (this.mode === DIRECT && this.held + this.waitingRecords >= this.maxBuffered) this.releaseAll();
  }

  /** meta()'s record `rec` of `stream` whose natural key is (k, 0): raised, then passed on or held. */
  private keyed(rec: MetaRecord, stream: number, k: number, barrier: boolean): void {
    this.raise(stream, k, 0);
    if (this.mode === STRAIGHT && this.straight()) {
      this.delivered++;
      this.down.meta(rec);
      return;
    }
    this.hold(rec, stream, barrier);
  }

  /** A meta record of `stream` raised (raise()) and not delivered straight: into the columns, in its place. */
  private hold(rec: MetaRecord, stream: number, barrier: boolean): void {
    const i = this.push(stream, KIND_META);
    const metaFree = this.metaFree;
    const at = metaFree.length > 0 ? metaFree.pop()! : this.metas.length;
    this.metas[at] = rec;
    this.addr[i] = at;
    if (this.mode !== DIRECT) return;
    // A barrier decoded late (in a thread's block: damage) is an ordinary record.
    if (barrier) {
      // Its key first: once delivered, its slot may be taken by a record decoded later in the release.
      const k = this.keyK[i]!;
      const e = this.keyE[i]!;
      this.release(i);
      this.wmK = k;
      this.wmE = e;
      this.compact();
    } else if (this.held + this.waitingRecords >= this.maxBuffered) {
      this.releaseAll();
    }
  }

  /** Releases everything: call after the decoder's end(). */
  end(): void {
    this.releaseAll();
  }

  // ── keys and columns ─────────────────────────────────────────────────────────────────────────────

  private run(stream: number): StreamRun {
    const l = this.last;
    if (l !== undefined && l.id === stream) return l;
    let r = this.runs.get(stream);
    if (r === undefined) {
      // id made a double first (see StreamRun): 0xffffffff is past a small integer.
      r = { id: DOUBLE_FIELD, head: -1, tail: -1, lastK: -Infinity, lastE: 0, pend: [], pendAt: 0, pending: 0, bytes: 0 };
      r.id = stream;
      this.runs.set(stream, r);
    }
    this.last = r;
    return r;
  }

  /** The key of the next record of `stream` whose natural key is (k, e), into rk/re, and its position into rp. */
  private raise(stream: number, k: number, e: number): void {
    const r = this.run(stream);
    this.pk = r.lastK;
    this.pe = r.lastE;
    if (k < r.lastK || (k === r.lastK && e < r.lastE)) {
      k = r.lastK;
      e = r.lastE;
    }
    if (k < this.wmK || (k === this.wmK && e < this.wmE)) {
      k = this.wmK;
      e = this.wmE;
    }
    r.lastK = k;
    r.lastE = e;
    this.rk = k;
    this.re = e;
    this.rp = this.posBase + this.posNext++;
  }

  /**
   * While decoding straight: true when the record just raised goes downstream now (the column records
   * before it were delivered). A record past the release bound stops the block's decoding (STOP_BLOCK): its
   * raise is undone, and the block waits for a later release with the records before it marked as
   * delivered, rather than the rest of it waiting as ~70 bytes of columns per record (a block may hold a
   * few hundred thousand records when the service stream's first barrier comes late). A block decoded
   * again passes over its delivered records once more, so it stops again only if this decoding delivered
   * at least a quarter as many as it passed over (the passes over a block add up to at most about six
   * times its records); else false: it and the rest of its block wait in the columns.
   */
  private straight(): boolean {
    const k = this.rk;
    const e = this.re;
    const p = this.rp;
    if (k > this.boundK || (k === this.boundK && (e > this.boundE || (e === this.boundE && p > this.boundP)))) {
      const at = p - this.posBase;
      this.fastK = -Infinity;
      this.mode = COLUMNS;
      if (this.stoppable && (at - this.blockSkip) * 4 >= this.blockSkip) {
        const r = this.last!;
        r.lastK = this.pk;
        r.lastE = this.pe;
        this.stopAt = at;
        throw STOP_BLOCK;
      }
      return false;
    }
    if (k > this.headK || (k === this.headK && (e > this.headE || (e === this.headE && p > this.headP)))) {
      // Stopped at a run that emptied with blocks of its stream left (releaseLazily()): refilled, then on.
      while (!this.releaseUpTo(k, e, p)) this.refillWithin();
      this.findHead();
    }
    return true;
  }

  /** In SKIP: true for a record delivered before (passed over); the first one after them ends SKIP. */
  private skipped(): boolean {
    if (this.posNext < this.skipUntil) {
      this.posNext++;
      return true;
    }
    this.mode = this.afterSkip;
    if (this.mode === STRAIGHT) this.findHead();
    return false;
  }

  private grow(min: number): void {
    let cap = Math.max(this.cap * 2, 1024);
    while (cap < min) cap *= 2;
    const u8 = (a: Uint8Array): Uint8Array => {
      const b = new Uint8Array(cap);
      b.set(a.subarray(0, this.n));
      return b;
    };
    const f64 = (a: Float64Array): Float64Array => {
      const b = new Float64Array(cap);
      b.set(a.subarray(0, this.n));
      return b;
    };
    this.kind = u8(this.kind);
    this.code = u8(this.code);
    this.keyE = u8(this.keyE);
    const fr = new Int32Array(cap);
    fr.set(this.spare.subarray(0, this.freeTop));
    this.spare = fr;
    const s = new Uint32Array(cap);
    s.set(this.stream.subarray(0, this.n));
    this.stream = s;
    const nx = new Int32Array(cap);
    nx.set(this.next.subarray(0, this.n));
    this.next = nx;
    this.keyK = f64(this.keyK);
    this.pos = f64(this.pos);
    this.seq = f64(this.seq);
    this.addr = f64(this.addr);
    this.size = f64(this.size);
    this.stack = f64(this.stack);
    this.native = f64(this.native);
    this.cap = cap;
  }

  /** Appends the record just raised to its stream's run in the columns; returns its index. */
  private push(stream: number, kind: number): number {
    let i: number;
    if (this.freeTop > 0) i = this.spare[--this.freeTop]!;
    else {
      if (this.n === this.cap) this.grow(this.n + 1);
      i = this.n++;
      if (this.n > this.mostSlots) this.mostSlots = this.n;
    }
    if (++this.held > this.mostHeld) this.mostHeld = this.held;
    const r = this.run(stream);
    this.kind[i] = kind;
    this.stream[i] = stream;
    this.keyK[i] = this.rk;
    this.keyE[i] = this.re;
    this.pos[i] = this.rp;
    this.next[i] = -1;
    if (r.tail >= 0) this.next[r.tail] = i;
    else r.head = i;
    r.tail = i;
    return i;
  }

  // ── releasing ────────────────────────────────────────────────────────────────────────────────────

  private releaseAll(): void {
    if (this.held === 0 && this.waiting.length === 0) return;
    this.release(-1);
    // Later arrivals sort after everything released.
    for (const r of this.runs.values()) {
      if (r.lastK > this.wmK || (r.lastK === this.wmK && r.lastE > this.wmE)) {
        this.wmK = r.lastK;
        this.wmE = r.lastE;
      }
    }
    this.compact();
  }

  /** Delivers, in order, every record that sorts at or before column record `limit` (−1: everything). */
  private release(limit: number): void {
    const bk = limit < 0 ? Infinity : this.keyK[limit]!;
    const be = limit < 0 ? 0 : this.keyE[limit]!;
    const bp = limit < 0 ? 0 : this.pos[limit]!;
    if (this.waiting.length > 0) this.releaseWaiting(bk, be, bp);
    this.releaseUpTo(bk, be, bp);
  }

  /**
   * Decodes the waiting blocks. Blocks of one stream only: straight downstream, around the column records.
   * Of several streams: the one with the most bytes straight, the others into the columns, each stream's next
   * block once its run emptied (releaseLazily()).
   */
  private releaseWaiting(bk: number, be: number, bp: number): void {
    const waiting = this.waiting;
    const main = waiting[0]!.block.stream;
    let mixed = false;
    for (const w of waiting) if (w.block.stream !== main) mixed = true;
    const savedBase = this.posBase;
    const savedNext = this.posNext;
    // A stream whose last key is already past the bound sorts after it from here on (a stream's keys never
    // go down): its blocks wait undecoded for a later release, in the order they came, rather than as ~70
    // bytes of columns per record that every release until then would copy (compact()). A thread ahead of
    // the service stream's barriers by several rounds did that with every one of its blocks.
    const keep = this.keepFlags;
    keep.length = 0;
    if (mixed) {
      this.releaseLazily(bk, be, bp);
    } else {
      this.boundK = bk;
      this.boundE = be;
      this.boundP = bp;
      this.mode = this.pastBound(main, bk, be) ? COLUMNS : STRAIGHT;
      this.findHead();
      // Once the straight stream passed the bound (COLUMNS), the rest of it waits undecoded too.
      for (let i = 0; i < waiting.length; i++) {
        if (this.mode !== STRAIGHT) keep[i] = true;
        else if (!this.decodeWaiting(waiting[i]!)) keep[i] = true; // stopped at the bound: the mode is COLUMNS now
      }
    }
    // The kept blocks, in their file order.
    let kept = 0;
    let keptRecords = 0;
    for (let i = 0; i < waiting.length; i++) {
      if (keep[i] !== true) continue;
      const w = waiting[i]!;
      waiting[kept++] = w;
      keptRecords += Math.ceil(w.block.rawLen / 4);
    }
    this.mode = DIRECT;
    this.fastK = -Infinity;
    this.posBase = savedBase;
    this.posNext = savedNext;
    waiting.length = kept;
    keep.length = 0;
    this.waitingRecords = keptRecords;
  }

  /**
   * The waiting blocks of several streams, merged up to the bound (bk, be, bp) with the column records. The
   * stream with the most bytes waiting is decoded straight (as one stream's blocks are: its records go
   * downstream without a copy in the columns, the column records that sort before each going first); the
   * others are decoded into the columns, a stream's next block only once its run there emptied, so the
   * columns hold about one block of each of them, not every record between two barriers (a 50 M-event
   * capture of 32 threads held 272 774 records, 18.5 MiB of columns, at its longest interval). A stream's
   * records that were not decoded sort after those that were (its keys never go down, its file positions go
   * up), so the merge needs only the streams whose run is empty to have been refilled, and stops when a run
   * with blocks left empties (releaseUpTo()): then the straight stream's decoding refills it from inside its
   * own (refillWithin()). A stream whose last key is past the bound keeps its blocks undecoded.
   */
  private releaseLazily(bk: number, be: number, bp: number): void {
    const waiting = this.waiting;
    const keep = this.keepFlags;
    const lazy = this.lazy;
    lazy.length = 0;
    for (let i = 0; i < waiting.length; i++) {
      const w = waiting[i]!;
      const r = this.run(w.block.stream);
      if (r.pend.length === 0) {
        lazy.push(r);
        r.bytes = 0;
      }
      r.pend.push(i);
      r.bytes += w.block.rawLen;
    }
    this.boundK = bk;
    this.boundE = be;
    this.boundP = bp;
    this.mode = COLUMNS;
    this.fastK = -Infinity;
    // The first straight stream is chosen before the others' first blocks are decoded into the columns.
    let s = this.takeStraight();
    this.refill();
    while (s !== undefined) {
      // Its blocks left, straight; once it passed the bound (COLUMNS), the rest of it waits undecoded (see
      // releaseWaiting()). Its records decoded into the columns before sort before them: they go first.
      s.pending = 0;
      this.mode = STRAIGHT;
      this.findHead();
      for (let j = s.pendAt; j < s.pend.length; j++) {
        const i = s.pend[j]!;
        if (this.mode !== STRAIGHT) keep[i] = true;
        else if (!this.decodeWaiting(waiting[i]!)) keep[i] = true; // stopped at the bound: the mode is COLUMNS now
      }
      s.pend = [];
      s.pendAt = 0;
      this.mode = COLUMNS;
      this.fastK = -Infinity;
      // Then the one with the most bytes left undecoded, if any.
      s = this.takeStraight();
    }
    for (;;) {
      if (this.releaseUpTo(bk, be, bp)) break;
      this.refill();
    }
    for (const r of lazy) {
      for (let j = r.pendAt; j < r.pend.length; j++) keep[r.pend[j]!] = true;
      r.pend = [];
      r.pendAt = 0;
      r.pending = 0;
    }
    lazy.length = 0;
  }

  /**
   * releaseLazily()'s next straight stream, taken out of `lazy`: the one with the most bytes of blocks not
   * decoded yet (the first of them on a tie), unless its last key is past the bound (then they all wait).
   */
  private takeStraight(): StreamRun | undefined {
    const lazy = this.lazy;
    const bk = this.boundK;
    const be = this.boundE;
    let at = -1;
    let most = 0;
    for (let j = 0; j < lazy.length; j++) {
      const r = lazy[j]!;
      if (r.pendAt === r.pend.length || r.lastK > bk || (r.lastK === bk && r.lastE > be)) continue;
      if (at < 0 || r.bytes > most) {
        at = j;
        most = r.bytes;
      }
    }
    return at < 0 ? undefined : lazy.splice(at, 1)[0];
  }

  /**
   * releaseLazily()'s streams decoded into the columns: the next blocks of those whose run is empty, up to the
   * bound; and how many blocks each has left to decode when its run empties (`pending`: 0 once its last key
   * is past the bound, the rest of it waiting undecoded).
   */
  private refill(): void {
    const bk = this.boundK;
    const be = this.boundE;
    for (const r of this.lazy) {
      while (r.head < 0 && r.pendAt < r.pend.length && !(r.lastK > bk || (r.lastK === bk && r.lastE > be))) {
        const w = this.waiting[r.pend[r.pendAt++]!]!;
        r.bytes -= w.block.rawLen;
        this.decodeWaiting(w);
      }
      r.pending = r.lastK > bk || (r.lastK === bk && r.lastE > be) ? 0 : r.pend.length - r.pendAt;
    }
  }

  /**
   * refill() from inside the straight stream's decoding (straight(), when the merge stopped at a run that
   * emptied with blocks left): one more nesting level of the decoder, the straight block's state kept.
   */
  private refillWithin(): void {
    const mode = this.mode;
    const posBase = this.posBase;
    const posNext = this.posNext;
    const stoppable = this.stoppable;
    const blockSkip = this.blockSkip;
    const stopAt = this.stopAt;
    const afterSkip = this.afterSkip;
    const skipUntil = this.skipUntil;
    this.mode = COLUMNS;
    this.fastK = -Infinity;
    try {
      this.refill();
    } finally {
      this.mode = mode;
      this.posBase = posBase;
      this.posNext = posNext;
      this.stoppable = stoppable;
      this.blockSkip = blockSkip;
      this.stopAt = stopAt;
      this.afterSkip = afterSkip;
      this.skipUntil = skipUntil;
    }
    this.refills++;
  }

  /** Whether every later record of `stream` sorts after (k, e): its last key is past it. */
  private pastBound(stream: number, k: number, e: number): boolean {
    const r = this.runs.get(stream);
    return r !== undefined && (r.lastK > k || (r.lastK === k && r.lastE > e));
  }

  /** Decodes a waiting block, or the part of it not delivered yet; false if straight() stopped it again. */
  private decodeWaiting(w: Waiting): boolean {
    this.posBase = w.base;
    this.posNext = 0;
    this.stopAt = -1;
    this.blockSkip = w.skip;
    this.stoppable = true;
    if (w.skip > 0) {
      this.afterSkip = this.mode;
      this.skipUntil = w.skip;
      this.mode = SKIP;
      this.fastK = -Infinity;
    }
    try {
      w.block.decode(this);
    } finally {
      this.stoppable = false;
    }
    if (this.stopAt < 0) return true;
    w.skip = this.stopAt;
    return false;
  }

  /** The smallest head of the column runs, into headK/headE/headP (k = +∞ when there is none). */
  private findHead(): void {
    let k = Infinity;
    let e = 0;
    let p = 0;
    for (const r of this.runs.values()) {
      const i = r.head;
      if (i < 0) continue;
      const ki = this.keyK[i]!;
      const ei = this.keyE[i]!;
      const pi = this.pos[i]!;
      if (ki < k || (ki === k && (ei < e || (ei === e && pi < p)))) {
        k = ki;
        e = ei;
        p = pi;
      }
    }
    this.headK = k;
    this.headE = e;
    this.headP = p;
    this.fastK = this.mode === STRAIGHT ? Math.min(k, this.boundK) : -Infinity;
  }

  /** Whether column record i sorts before column record j: by (k, e), then file position. */
  private before(i: number, j: number): boolean {
    const ki = this.keyK[i]!;
    const kj = this.keyK[j]!;
    if (ki !== kj) return ki < kj;
    const ei = this.keyE[i]!;
    const ej = this.keyE[j]!;
    if (ei !== ej) return ei < ej;
    return this.pos[i]! < this.pos[j]!;
  }

  /** Whether column record i sorts at or before (k, e, p). */
  private atOrBefore(i: number, k: number, e: number, p: number): boolean {
    const ki = this.keyK[i]!;
    if (ki !== k) return ki < k;
    const ei = this.keyE[i]!;
    if (ei !== e) return ei < e;
    return this.pos[i]! <= p;
  }

  /**
   * Delivers, in order, every column record that sorts at or before (bk, be, bp); true when done, false when
   * it stopped at a run that emptied with blocks of its stream still to decode (`pending`, releaseLazily()).
   */
  private releaseUpTo(bk: number, be: number, bp: number): boolean {
    const active = this.active;
    active.length = 0;
    for (const r of this.runs.values()) if (r.head >= 0) active.push(r);
    if (active.length === 1) {
      const r = active[0]!;
      let i = r.head;
      while (i >= 0 && this.atOrBefore(i, bk, be, bp)) {
        this.deliver(i);
        i = this.next[i]!;
      }
      r.head = i;
      if (i < 0) {
        r.tail = -1;
        if (r.pending > 0) return false;
      }
      return true;
    }
    for (;;) {
      // The run whose head sorts first, and the head that sorts second.
      let best: StreamRun | undefined;
      let second = -1;
      for (const r of active) {
        if (r.head < 0) continue;
        if (best === undefined || this.before(r.head, best.head)) {
          if (best !== undefined) second = best.head;
          best = r;
        } else if (second < 0 || this.before(r.head, second)) {
          second = r.head;
        }
      }
      if (best === undefined) return true;
      let i = best.head;
      if (!this.atOrBefore(i, bk, be, bp)) return true;
      // Deliver from this run while it stays first: up to the bound, or up to the second head when that
      // sorts first (at or before it is before it: no record of this run has its position). One comparison
      // per record instead of two.
      let k = bk;
      let e = be;
      let p = bp;
      if (second >= 0 && this.atOrBefore(second, bk, be, bp)) {
        k = this.keyK[second]!;
        e = this.keyE[second]!;
        p = this.pos[second]!;
      }
      while (i >= 0 && this.atOrBefore(i, k, e, p)) {
        this.deliver(i);
        i = this.next[i]!;
      }
      best.head = i;
      if (i < 0) {
        best.tail = -1;
        if (best.pending > 0) return false;
      }
    }
  }

  private deliver(i: number): void {
    // Its slot is taken again by the next record buffered (the runs are linked lists: slots need no order).
    this.spare[this.freeTop++] = i;
    this.held--;
    this.delivered++;
    switch (this.kind[i]) {
      case KIND_ALLOC:
        this.down.alloc(this.stream[i]!, this.seq[i]!, this.addr[i]!, this.size[i]!, this.code[i]!, this.stack[i]!, this.native[i]!);
        break;
      case KIND_FREE:
        // As the straight records go (freeAt: the address not boxed as an argument).
        if (this.downFreeAt) {
          eventAddress[0] = this.addr[i]!;
          this.down.freeAt!(this.stream[i]!, this.seq[i]!, this.size[i]!, this.code[i]!);
        } else this.down.free(this.stream[i]!, this.seq[i]!, this.addr[i]!, this.size[i]!, this.code[i]!);
        break;
      case KIND_FRAME:
        this.framesHeld++;
        if (this.downFrame) this.down.frame!(this.stream[i]!, this.seq[i]!, this.addr[i]!, this.size[i]!, this.stack[i]!);
        else this.down.meta({ type: 'frame', stream: this.stream[i]!, id: this.seq[i]!, parent: this.addr[i]!, codeId: this.size[i]!, instr: this.stack[i]! });
        break;
      default: {
        const at = this.addr[i]!;
        const m = this.metas[at]!;
        this.metas[at] = undefined;
        this.metaFree.push(at);
        this.down.meta(m);
      }
    }
  }

  /** After a release: the columns start again from their first slot when they hold nothing, and runs with nothing to remember go. */
  private compact(): void {
    if (this.held === 0) {
      // The usual case at a barrier: everything went out.
      this.n = 0;
      this.freeTop = 0;
      this.metas.length = 0;
      this.metaFree.length = 0;
    }
    this.forgetRuns();
  }

  /** Streams with nothing buffered and nothing to remember can go (threads come and go). */
  private forgetRuns(): void {
    for (const [id, r] of this.runs) if (r.head < 0 && (r.lastK < this.wmK || (r.lastK === this.wmK && r.lastE <= this.wmE))) this.runs.delete(id);
    this.last = undefined;
  }
}
