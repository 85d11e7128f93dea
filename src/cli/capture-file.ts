// Reading and rewriting capture files: the file-system edge of src/capture. Errors become one clear line
// (FileError, CaptureFormatError with the file name); decode warnings go to the visitor.

import { close, closeSync, constants, fstatSync, fsyncSync, open, openSync, promises as fsp, read, readSync, rmSync, stat, type Stats, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { CaptureDecoder } from '../capture/decoder.js';
import {
  DEFAULT_COMPRESS_LEVEL,
  FOLLOW_FAST_LAG,
  FOLLOW_PACKS,
  FOLLOW_PACKS_ONLY_PYTHON_ALLOCATORS,
  FOLLOW_STREAM_GROUPS,
  FOLLOW_WHOLE_PARTS,
  GrowthRate,
  Recompressor,
  followFastLevel,
  followGroups,
  followLevel,
} from '../capture/compress.js';
import { decodeHeader } from '../capture/header.js';
import { encodeAppendix } from '../capture/encoder.js';
import {
  BLOCK_FLAGS_COMPRESSED,
  BLOCK_HEADER_LEN,
  BLOCK_SYNC_U32,
  FILE_HEADER_FIXED_LEN,
  FILE_MAGIC,
  MARKER_KINDS,
  MAX_BLOCK_PAYLOAD,
  MAX_HEADER_BODY_LEN,
  STREAM_MEMLENS,
  STREAM_SERVICE,
  BLOCK_KIND_GROUP,
  TRAILER_REASONS,
  type TrailerReason,
} from '../capture/format.js';
import { readU32 } from '../capture/framing.js';
import type { BlockInfo, CaptureHeader, CaptureVisitor, DecodeWarning, ExitRecord, MarkerRecord, MetaRecord } from '../capture/records.js';
import { CaptureFormatError, FileError, MemlensError } from '../errors.js';
import { NO_PROGRESS, type Progress } from './progress.js';
import { escapeLine } from '../util/terminal-text.js';
import { monotonicMs } from './io.js';
import { DISK_ROOM_LEFT, DiskRoom, statfsFree } from './disk-room.js';

export const READ_CHUNK = 4 << 20;

/**
 * The mode of the files memlens writes: a capture holds command lines, paths and names of the program, so
 * only its owner reads it, whatever the umask (docs/security.md). A rewrite (compression) goes through a
 * new file of this mode renamed over the old one; memlens's later opens of a capture by name do not follow
 * a symbolic link put in its place.
 */
export const PRIVATE = 0o600;

export interface ReadCaptureOptions {
  /** How messages name the file (default: the path). */
  readonly name?: string;
  readonly progress?: Progress;
  readonly chunkSize?: number;
  /** Awaited after each chunk: lets a consumer that writes a lot wait for its output to drain. */
  readonly between?: () => Promise<void>;
  /** Called after each chunk was decoded (a report's reader keeps V8's heap tight there: load-model.ts). */
  readonly afterChunk?: () => void;
}

/** How a failed write says why in a CAPTURE_STOPPED marker, as the agent words it (`ENOSPC: …`). */
export function writeFailureLabel(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC') return 'ENOSPC: no space left on the device';
  if (code === 'EDQUOT') return 'EDQUOT: the disk quota is used up';
  if (code === 'EFBIG') return 'EFBIG: the file grew past the largest size allowed';
  return code ?? (e instanceof Error ? e.message : String(e));
}

export interface ReadCaptureResult {
  readonly header: CaptureHeader | undefined;
  readonly bytes: number;
  readonly blocks: number;
  readonly warnings: number;
}

function fileError(path: string, e: unknown, doing: string): FileError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new FileError(`${path}: no such file`, { hint: 'Check the path; `memlens run` writes memlens-PID.mlens in the current directory by default.', cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new FileError(`${path}: permission denied while ${doing}`, { hint: 'Run memlens as a user who may read the file.', cause: e });
  if (code === 'EISDIR') return isDirectory(path);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new FileError(`${path}: ${code === 'ENOSPC' ? 'no space left on the device' : 'the disk quota is used up'} while ${doing}`, {
      hint: 'Free some space, or write the capture somewhere else (-o).',
      cause: e,
    });
  }
  return new FileError(`${path}: failed while ${doing} (${code ?? (e instanceof Error ? e.message : String(e))})`, { cause: e });
}

function isDirectory(path: string): FileError {
  return new FileError(`${path} is a directory, not a capture file`, { hint: 'Give the path of a .mlens file.' });
}

/**
 * The size of the capture at `path`, or a one-line error: it must be a non-empty regular file. Through
 * node:fs's callbacks, not node:fs/promises: a report reads its capture with nothing else of fs/promises,
 * which (with node's readline and file watchers, loaded behind it) is about 0.6 MiB of resident memory
 * (docs/benchmarks.md, "stats' peak, round thirteen").
 */
async function captureSize(path: string, name: string): Promise<number> {
  let info: Stats;
  try {
    info = await new Promise<Stats>((resolve, reject) => stat(path, (e, st) => (e !== null ? reject(e) : resolve(st))));
  } catch (e) {
    throw fileError(name, e, 'reading it');
  }
  if (info.isDirectory()) throw isDirectory(name);
  if (!info.isFile()) throw new FileError(`${name} is not a regular file`, { hint: 'Give the path of a .mlens file.' });
  if (info.size === 0) {
    throw new CaptureFormatError(`${name} is empty (0 bytes): not a memlens capture`, 0, {
      hint: 'The profiled program may have ended or been killed before the agent started writing.',
    });
  }
  return info.size;
}

/** Opens a capture for reading and returns its descriptor and size, or throws a one-line error. */
async function openCaptureFd(path: string, name: string): Promise<{ fd: number; size: number }> {
  const size = await captureSize(path, name);
  try {
    return { fd: await new Promise<number>((resolve, reject) => open(path, 'r', (e, fd) => (e !== null ? reject(e) : resolve(fd)))), size };
  } catch (e) {
    throw fileError(name, e, 'opening it');
  }
}

/** Opens a capture for reading and returns its handle and size, or throws a one-line error. */
async function openCapture(path: string, name = path): Promise<{ fh: FileHandle; size: number }> {
  const size = await captureSize(path, name);
  try {
    return { fh: await fsp.open(path, 'r'), size };
  } catch (e) {
    throw fileError(name, e, 'opening it');
  }
}

/** `fd`'s next bytes into buf[0, len), as node:fs/promises' FileHandle.read reads them (at the current position). */
function readInto(fd: number, buf: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, null, (e, n) => (e !== null ? reject(e) : resolve(n))));
}

/**
 * Streams a capture file through the decoder into `visitor`, in chunks (4 MiB), reusing one buffer.
 * Throws FileError or CaptureFormatError (bad header); damage after the header reaches visitor.warning.
 */
export async function readCaptureFile(path: string, visitor: CaptureVisitor, options: ReadCaptureOptions = {}): Promise<ReadCaptureResult> {
  const name = options.name ?? path;
  const { fd, size } = await openCaptureFd(path, name);
  const progress = options.progress ?? NO_PROGRESS;
  const decoder = new CaptureDecoder(visitor, { source: name });
  const buf = new Uint8Array(options.chunkSize ?? READ_CHUNK);
  let total = 0;
  try {
    for (;;) {
      let n: number;
      try {
        n = await readInto(fd, buf);
      } catch (e) {
        throw fileError(name, e, 'reading it');
      }
      if (n === 0) break;
      total += n;
      decoder.feed(buf.subarray(0, n));
      progress.update(Math.min(total, size));
      options.afterChunk?.();
      if (options.between !== undefined) await options.between();
    }
    decoder.end();
  } finally {
    progress.finish();
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
  return { header: decoder.header, bytes: total, blocks: decoder.blocks, warnings: decoder.warnings };
}

/** The line memlens prints on stderr for a decode warning. */
export function warningLine(path: string, w: DecodeWarning): string {
  return `memlens: warning: ${escapeLine(path)}: ${escapeLine(w.message)}\n`;
}

export interface RecompressResult {
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly blocks: number;
  readonly compressedBlocks: number;
}

/**
 * Rewrites a finished capture with deflate-compressed blocks (compress.ts), through a temporary file in the
 * same directory that replaces the original only when complete: a crash leaves the original intact.
 */
export async function recompressCaptureFile(path: string, options: { level?: number; progress?: Progress } = {}): Promise<RecompressResult> {
  const { fh, size } = await openCapture(path);
  const tmp = `${path}.${process.pid}.tmp`;
  const progress = options.progress ?? NO_PROGRESS;
  let out: FileHandle | undefined;
  try {
    try {
      out = await fsp.open(tmp, 'wx', PRIVATE);
    } catch (e) {
      throw fileError(tmp, e, 'creating it');
    }
    const target = out;
    const pending: Uint8Array[] = [];
    const r = new Recompressor((bytes) => pending.push(bytes), { source: path, ...(options.level !== undefined ? { level: options.level } : {}) });
    const buf = new Uint8Array(READ_CHUNK);
    let total = 0;
    const flush = async (): Promise<void> => {
      for (const p of pending) await target.write(p);
      pending.length = 0;
    };
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      r.feed(buf.subarray(0, bytesRead));
      await flush();
      progress.update(Math.min(total, size));
    }
    r.end();
    await flush();
    await target.sync();
    await target.close();
    out = undefined;
    await fsp.rename(tmp, path);
    return { bytesIn: total, bytesOut: r.bytesOut, blocks: r.blocks, compressedBlocks: r.compressedBlocks };
  } catch (e) {
    await out?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true });
    // A full disk (the compressed copy is written next to the capture) is a file error like any other.
    throw e instanceof MemlensError ? e : fileError(tmp, e, 'writing it');
  } finally {
    progress.finish();
    await fh.close();
  }
}

/**
 * Appends records in blocks of their own to a capture (memlens run adds EXIT after the program ended).
 * One write, so a reader never sees half of it. If the capture ends inside a block (a writer that died in
 * the middle of a write), that block's records are lost: the reader then sees it as damaged, not cut.
 */
export function appendToCaptureFile(path: string, records: readonly MetaRecord[]): void {
  try {
    // Synchronous: one small write, and the only use of node's fs/promises on `memlens run`'s way (loading it
    // cost about 2 ms of each run: docs/benchmarks.md, "The fixed cost, round three").
    const bytes = encodeAppendix(records);
    const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, PRIVATE);
    try {
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw fileError(path, e, 'appending to it');
  }
}

export interface SealResult {
  /** Bytes of a cut final block that could not be kept (a partial record, a partial block header). */
  readonly droppedBytes: number;
  /** A cut final block was rewritten as a whole, shorter block holding its whole records. */
  readonly resealed: boolean;
  /** The last CAPTURE_STOPPED marker: writing the capture failed there (the agent said why). */
  readonly stopped: MarkerRecord | undefined;
  /** The reason of the agent's last TRAILER, if the capture holds one. */
  readonly trailer: TrailerReason | undefined;
  /** The highest seq and the latest time of the records read: where the capture stops. */
  readonly lastSeq: number;
  readonly lastTimeNs: number;
  /** File offsets of the last whole blocks (at most 64, oldest first): where to cut to make room. */
  readonly lastBlocks: readonly number[];
}

/**
 * Makes a capture that a killed writer left cut in the middle of a block end on a block boundary again,
 * keeping every whole record: the cut block is rewritten as a complete block of its whole records. Without
 * this, anything appended after the cut (the EXIT record) would read as the cut block's missing bytes.
 * The OOM killer often strikes in the middle of a write (the write itself needs memory), so this is the
 * common case of an OOM-killed capture, not an exotic one.
 */
export async function sealCaptureFile(path: string): Promise<SealResult> {
  const { encodeBlock } = await import('../capture/encoder.js');
  let lastBlock: BlockInfo | undefined;
  let cut: DecodeWarning | undefined;
  let stopped: MarkerRecord | undefined;
  let trailer: TrailerReason | undefined;
  let lastSeq = 0;
  let lastTimeNs = 0;
  const lastBlocks: number[] = [];
  await readCaptureFile(path, {
    alloc: (_stream, seq) => {
      if (seq > lastSeq) lastSeq = seq;
    },
    free: (_stream, seq) => {
      if (seq > lastSeq) lastSeq = seq;
    },
    meta: (r) => {
      if ('seq' in r && r.seq > lastSeq) lastSeq = r.seq;
      if ('timeNs' in r && r.timeNs > lastTimeNs) lastTimeNs = r.timeNs;
      if (r.type === 'marker' && MARKER_KINDS[r.kind] === 'capture-stopped') stopped = r;
      if (r.type === 'trailer') trailer = TRAILER_REASONS[r.reason] ?? 'unknown';
    },
    block: (info) => {
      lastBlock = info;
      if (lastBlocks.push(info.offset) > 64) lastBlocks.shift();
    },
    warning: (w) => {
      if (w.kind === 'truncated') cut = w;
    },
  });
  const facts = { stopped, trailer, lastSeq, lastTimeNs };
  if (cut === undefined) return { droppedBytes: 0, resealed: false, ...facts, lastBlocks };
  const { size } = await fsp.stat(path);
  const fh = await fsp.open(path, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const block = lastBlock;
    // Cut inside a block header, or a block we cannot keep part of (compressed): drop it from its start.
    if (block === undefined || cut.offset <= block.offset + block.headerLen || (block.flags & BLOCK_FLAGS_COMPRESSED) !== 0) {
      const from = block !== undefined && block.offset + block.headerLen + block.storedLen > cut.offset ? block.offset : cut.offset;
      await fh.truncate(from);
      return { droppedBytes: size - from, resealed: false, ...facts, lastBlocks: lastBlocks.filter((o) => o < from) };
    }
    const payloadStart = block.offset + block.headerLen;
    const whole = new Uint8Array(cut.offset - payloadStart);
    await fh.read(whole, 0, whole.length, payloadStart);
    const sealed = encodeBlock(block.stream, block.baseSeq, whole);
    await fh.truncate(block.offset);
    await fh.write(sealed, 0, sealed.length, block.offset);
    return { droppedBytes: size - cut.offset, resealed: true, ...facts, lastBlocks };
  } finally {
    await fh.close();
  }
}

/** The file system said it has no room (ENOSPC), or the user's quota is used up (EDQUOT). */
export function isNoSpace(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x !== undefined && x !== null && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}

/** How a capture ends once memlens has finished it (finishCaptureFile). */
export interface CaptureEnd {
  /** Writing the capture failed before the process ended: when (ns since tracking started), and why. */
  readonly stopped: { readonly timeNs: number; readonly why: string } | undefined;
  /** The EXIT record is in the capture (false: no room for it even after dropping the last blocks). */
  readonly exitWritten: boolean;
  /** Bytes of the capture's last blocks given up to make room for the EXIT record on a full disk. */
  readonly droppedForRoom: number;
}

/** Cuts a capture to `size` bytes, through no symbolic link (as every write of memlens to a capture). */
async function truncateCapture(path: string, size: number): Promise<void> {
  const fh = await fsp.open(path, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
}

/** Dropped at most from a capture's end to make room for memlens's own records on a full disk. */
const MAX_ROOM_BYTES = 4 << 20;

/** How many of a capture's last blocks cleanEnd decodes (the TRAILER is in the last). */
const CLEAN_END_BLOCKS = 4;

/** Trailer reasons of a capture that its agent finished and wrote whole. */
const FINISHED: ReadonlySet<TrailerReason> = new Set(['detach', 'duration', '_exit', 'fork-child-stopped', 'exit', 'interrupted', 'program']);

/**
 * Whether a capture ends as its writer finished it, found without decoding all of it: the file ends on a
 * whole block (block headers are walked, no payload read), the last block holds the agent's TRAILER, and
 * that trailer says the capture was not stopped by a failed write (reason `capture-stopped`; old agents'
 * `unknown` and `stopped` do not say, and take the full read too); of the payloads, only those of the last
 * CLEAN_END_BLOCKS blocks that are not a thread's are decoded. Then there is nothing to seal and no CAPTURE_STOPPED marker to find.
 * Undefined otherwise (a killed writer, damage, a failed write): sealCaptureFile's full read decides. That
 * full read of a 20 MB compressed capture of 12 M events took 0.5 s after a `memlens run
 * --trace-python-allocators` of a 0.26 s program (docs/benchmarks.md).
 */
export function cleanEnd(path: string): { readonly size: number } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const size = fstatSync(fd).size;
    const fixed = new Uint8Array(FILE_HEADER_FIXED_LEN);
    if (readSync(fd, fixed, 0, fixed.length, 0) !== fixed.length || FILE_MAGIC.some((b, i) => fixed[i] !== b)) return undefined;
    const bodyLen = readU32(fixed, 12);
    if (bodyLen > MAX_HEADER_BODY_LEN) return undefined;
    const headerEnd = FILE_HEADER_FIXED_LEN + bodyLen;
    // The last blocks, oldest first: [offset, total length, stream, kind].
    const last: [number, number, number, number][] = [];
    const h = new Uint8Array(BLOCK_HEADER_LEN);
    let at = headerEnd;
    while (at < size) {
      if (readSync(fd, h, 0, h.length, at) !== h.length || readU32(h, 0) !== BLOCK_SYNC_U32) return undefined;
      const headerLen = h[5] as number;
      const storedLen = readU32(h, 8);
      if (headerLen < BLOCK_HEADER_LEN || storedLen > MAX_BLOCK_PAYLOAD || at + headerLen + storedLen > size) return undefined;
      if (last.push([at, headerLen + storedLen, readU32(h, 20), h[6]! | (h[7]! << 8)]) > CLEAN_END_BLOCKS) last.shift();
      at += headerLen + storedLen;
    }
    // The agent writes its TRAILER and its markers into the service stream (agent/src/service_stream.c,
    // lifecycle.c): only the last blocks of the streams that are not a thread's are decoded. A thread's
    // 32 KiB block holds some 10 000 events, and decoding the last ones took 40-110 ms of every run
    // (docs/benchmarks.md, "The follower's CPU").
    // A group block (several streams' records; its header's stream is 0) is decoded only when it is the last
    // block: recompression puts the service stream's last records in a group of their own at the end
    // (BlockMerger.flushAll), and the groups before it hold threads' events.
    const lastBlock = last[last.length - 1];
    const wanted = last.filter((b) => (b[2] === STREAM_SERVICE || b[2] === STREAM_MEMLENS) && (b[3] !== BLOCK_KIND_GROUP || b === lastBlock));
    if (lastBlock === undefined || wanted[wanted.length - 1] !== lastBlock) return undefined;
    const bytes = new Uint8Array(headerEnd + wanted.reduce((n, [, len]) => n + len, 0));
    if (readSync(fd, bytes, 0, headerEnd, 0) !== headerEnd) return undefined;
    let into = headerEnd;
    for (const [from, len] of wanted) {
      if (readSync(fd, bytes, into, len, from) !== len) return undefined;
      into += len;
    }
    let ok = true;
    let block = 0;
    let finished = false;
    let stopped = false;
    const decoder = new CaptureDecoder(
      {
        alloc: () => undefined,
        free: () => undefined,
        meta: (r) => {
          if (r.type === 'trailer' && block === wanted.length) finished = FINISHED.has(TRAILER_REASONS[r.reason] ?? 'unknown');
          if (r.type === 'marker' && MARKER_KINDS[r.kind] === 'capture-stopped') stopped = true;
        },
        // A group block is seen once itself, then once for each of its parts: its parts count (one, at the end).
        block: (info) => {
          if (info.kind !== BLOCK_KIND_GROUP) block++;
        },
        warning: () => {
          ok = false;
        },
      },
      { source: path },
    );
    decoder.feed(bytes);
    decoder.end();
    return ok && finished && !stopped && block === wanted.length ? { size } : undefined;
  } catch {
    // Anything unexpected (a header the decoder refuses, a read error): the full read decides and reports.
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Free bytes on a file system below which memlens takes it for full (less than one of the agent's blocks). */
export const FULL_DISK_BYTES = 64 << 10;

/** Whether the file system holding `path` has less than FULL_DISK_BYTES free (false when it cannot tell). */
export function diskNearlyFull(path: string): boolean {
  return statfsFree(dirname(path)) < FULL_DISK_BYTES;
}

/** The label of memlens's own CAPTURE_STOPPED marker when the disk was full and the agent's marker is not there. */
export const NO_SPACE_FOUND_BY_MEMLENS = 'ENOSPC: no space left on the device (found by memlens when the program ended)';

/**
 * Why a capture stopped early when its agent could not say so: its CAPTURE_STOPPED marker did not reach the
 * file (no room for it either: the copy memlens compresses alongside can take the room the agent freed by
 * cutting off its failed block). Undefined when nothing says the capture stopped early.
 * - The agent's TRAILER says it stopped because a write failed (`capture-stopped`), or there is no TRAILER
 *   though the program exited by itself (the agent writes one at every exit, _exit and exec included: only
 *   a signal that kills the process, or failing writes, leave none).
 * - The disk was full (`diskFull`: memlens's own writes met ENOSPC during the run, or the file system has
 *   less than FULL_DISK_BYTES free now): it was ENOSPC. Without that evidence, a missing TRAILER alone is
 *   not taken for a failed write; a `capture-stopped` TRAILER is, with the reason unknown.
 * Pure: the caller looks at the disk.
 */
export function inferredStop(trailer: TrailerReason | undefined, exit: ExitRecord, diskFull: boolean): string | undefined {
  const agentSaysStopped = trailer === 'capture-stopped';
  const endedEarly = agentSaysStopped || (trailer === undefined && exit.signal === 0);
  if (!endedEarly) return undefined;
  if (diskFull) return NO_SPACE_FOUND_BY_MEMLENS;
  return agentSaysStopped ? 'unknown: a write of the capture failed; the reason was lost with its last blocks' : undefined;
}

/**
 * Seals a capture after its writer is gone and appends `exit`. On a full disk (the agent's writes failed:
 * its CAPTURE_STOPPED marker says so, if it had room for it), appending fails too: memlens then gives up the
 * capture's last whole blocks, newest first and at most 4 MiB, until the EXIT record fits, with a
 * CAPTURE_STOPPED marker of its own when the agent's is not there (or was given up), so that the reports
 * say the disk filled up rather than that the process was killed. memlens also writes its own marker when the
 * agent's never reached the file but the capture plainly stopped early on a full disk (inferredStop).
 * `diskFullSeen`: memlens's own writes beside the capture met a full disk during the run.
 */
export async function finishCaptureFile(path: string, exit: ExitRecord, options: { readonly writeFailed?: string | undefined; readonly diskFullSeen?: boolean } = {}): Promise<CaptureEnd> {
  // The common case: the agent finished the capture; nothing to seal, only the EXIT record to add.
  const clean = options.writeFailed === undefined ? cleanEnd(path) : undefined;
  if (clean !== undefined) {
    try {
      appendToCaptureFile(path, [exit]);
      return { stopped: undefined, exitWritten: true, droppedForRoom: 0 };
    } catch (e) {
      if (!isNoSpace(e)) throw e;
      // What got in of the EXIT record goes again: the full path below makes room for it.
      await truncateCapture(path, clean.size);
    }
  }
  const seal = await sealCaptureFile(path);
  const { size } = await fsp.stat(path);
  const agentStop = seal.stopped;
  const ownLabel = agentStop !== undefined ? undefined : (options.writeFailed ?? inferredStop(seal.trailer, exit, options.diskFullSeen === true || diskNearlyFull(path)));
  const marker: MarkerRecord = {
    type: 'marker',
    stream: STREAM_MEMLENS,
    seq: agentStop?.seq ?? seal.lastSeq,
    timeNs: agentStop?.timeNs ?? seal.lastTimeNs,
    kind: MARKER_KINDS.indexOf('capture-stopped'),
    label: agentStop?.label ?? ownLabel ?? NO_SPACE_FOUND_BY_MEMLENS,
  };
  const stopped = { timeNs: marker.timeNs, why: marker.label };
  // memlens wrote the capture itself (the live view's copy) and its writes failed, or the agent's marker is
  // missing from a capture that stopped early: memlens says so, as the agent would.
  const first: MetaRecord[] = ownLabel !== undefined ? [marker, exit] : [exit];
  try {
    appendToCaptureFile(path, first);
    return { stopped: agentStop !== undefined || first.length > 1 ? stopped : undefined, exitWritten: true, droppedForRoom: 0 };
  } catch (e) {
    if (!isNoSpace(e)) throw e;
  }
  // Newest block first; a cut at `from` gives up [from, size), the agent's marker too if it was in there.
  let end = size;
  for (const from of [...seal.lastBlocks].reverse()) {
    if (size - from > MAX_ROOM_BYTES) break;
    try {
      await truncateCapture(path, from);
      end = from;
      appendToCaptureFile(path, [marker, exit]);
      return { stopped, exitWritten: true, droppedForRoom: size - from };
    } catch (e) {
      if (!isNoSpace(e)) throw e;
    }
  }
  // No room even so: what is left ends on a whole block (a failed append may have left part of itself).
  await truncateCapture(path, end);
  return { stopped, exitWritten: false, droppedForRoom: size - end };
}

/** The follower leaves the rest of the disk to the agent (DiskRoom): an ENOSPC of its own making. */
class NoRoomLeft extends Error {
  readonly code = 'ENOSPC';
  constructor(path: string) {
    super(`${path}: less than ${DISK_ROOM_LEFT >> 20} MiB left on its file system`);
  }
}

/** The options of the capture header at the start of `bytes`; undefined when they do not hold a whole, sound one (the Recompressor says why). */
function headerOptions(bytes: Uint8Array): number | undefined {
  try {
    return decodeHeader(bytes).options;
  } catch {
    return undefined;
  }
}

/** How long (wall clock) the follower waits at most for the writer's rate before it starts (compressNext). */
const HOLD_MS = 1000;

/**
 * The follower's pause between polls of the capture: FOLLOW_POLL_MS after a pause in which the capture grew
 * by FOLLOW_BUSY_BYTES or more, doubled after each in which it grew less, up to FOLLOW_QUIET_POLL_MS. The
 * agent flushes every 20 ms, so a quiet program (a sleep, a timed loop) grew the file at every poll of 25 ms:
 * 40 wake-ups of node a second, each a timer, an fstat, a read of the program's CPU clock and of the file and
 * a few hundred bytes through the merger, about 8 ms of CPU per second of an idle run (the agent's service
 * thread takes about 4); polled at most every FOLLOW_QUIET_POLL_MS, about 7 ms a second less
 * (docs/benchmarks.md, "The idle cost and many_frames, round fourteen"). The same bytes are read, later: at
 * most FOLLOW_QUIET_POLL_MS of a slow writer's output waits, and finish() cuts the pause short, so the end
 * of a run waits no longer.
 */
export const FOLLOW_POLL_MS = 25;
export const FOLLOW_QUIET_POLL_MS = 200;
export const FOLLOW_BUSY_BYTES = 64 << 10;

/** The pause after `lastMs` during which the capture grew by `grew` bytes. */
export function followPauseMs(lastMs: number, grew: number): number {
  return grew >= FOLLOW_BUSY_BYTES ? FOLLOW_POLL_MS : Math.min(FOLLOW_QUIET_POLL_MS, lastMs * 2);
}

/**
 * Compresses a capture while its writer is still writing it, on the core the profiled program leaves
 * free: it follows the file as it grows (whole blocks are compressed as they appear; a block being written
 * waits for its end) into `<path>.<pid>.tmp`. finish() takes what remains once the writer is gone, and
 * returns the compressed copy's path; the original is left untouched until the caller renames the copy over
 * it, so a memlens killed meanwhile loses nothing. abandon() removes the copy.
 */
export class FollowingCompressor {
  private readonly tmp: string;
  private fd: number | undefined;
  private out: number | undefined;
  private readonly r: Recompressor;
  private pos = 0;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private failure: unknown;
  /**
   * Why the compressor gave up, if it did, leaving the capture as the agent wrote it: `no-space`, the disk
   * filled up (its copy is removed at once: the room goes back to the agent), `no-room`, less than
   * DISK_ROOM_LEFT was left on the disk (the same, before the agent can meet ENOSPC), or `shrunk`, the agent
   * cut off a block it could not write whole (its writes are failing: the disk is full).
   */
  gaveUp: 'no-space' | 'no-room' | 'shrunk' | undefined;
  /** How many chunks read (up to READ_CHUNK bytes each) were compressed at the fast level. */
  fastChunks = 0;
  private readonly rate = new GrowthRate();
  /** The clock the rate is measured against: the writer's CPU time when `cpuMs` reads, else the wall clock. */
  private clock: (() => number | undefined) | undefined;
  /** When the capture was opened (monotonicMs). */
  private openedMs = 0;
  /** The room on the disk the copy leaves the agent (disk-room.ts), and the capture's size last seen. */
  private readonly room: DiskRoom;
  private seenSize = 0;
  /** The capture's header options, once its header was read (undefined also when it is not sound). */
  private headerOptions: number | undefined;
  /** The fast level of the last chunk read (followFastLevel), once the header was read. */
  fastLevel: number | undefined;

  /**
   * `cpuMs`: the writing process's CPU time in milliseconds (undefined once it is gone). With it the rate is
   * bytes per second of the program's CPU, which a busy machine does not lower (GrowthRate).
   */
  constructor(
    private readonly path: string,
    private readonly cpuMs?: () => number | undefined,
  ) {
    this.tmp = `${path}.${process.pid}.tmp`;
    this.room = new DiskRoom(dirname(path));
    this.r = new Recompressor(
      (bytes) => {
        if (this.out === undefined) return;
        // Too little room left beside the capture: the copy is given up (fail(): no-space) before it can take
        // the room the agent needs for its last words.
        if (!this.room.mayWrite(bytes.length)) throw new NoRoomLeft(this.tmp);
        writeSync(this.out, bytes);
      },
      // The sink writes each block at once: the blocks may come in a buffer used again (no fresh memory each).
      {
        source: path,
        streamGroups: FOLLOW_STREAM_GROUPS,
        packs: FOLLOW_PACKS,
        wholeParts: FOLLOW_WHOLE_PARTS,
        packsOnlyPythonAllocators: FOLLOW_PACKS_ONLY_PYTHON_ALLOCATORS,
        transientOutput: true,
      },
    );
  }

  /** Starts following once the file exists (the agent creates it when tracking starts). */
  start(): void {
    this.loop = this.follow().catch((e: unknown) => this.fail(e));
  }

  private fail(e: unknown): void {
    if (this.gaveUp !== undefined || isNoSpace(e)) {
      this.gaveUp ??= e instanceof NoRoomLeft ? 'no-room' : 'no-space';
      this.abandon();
    } else {
      this.failure = e;
    }
  }

  /**
   * The buffer every chunk is read into, made at the first read and kept to the end: one at the end too
   * (finish) was 4 MiB of fresh memory, a page fault a page, after the program ended.
   */
  private buf: Uint8Array | undefined;

  private async follow(): Promise<void> {
    const buf = (this.buf ??= new Uint8Array(READ_CHUNK));
    // The capture's size at the last pause, and that pause (followPauseMs).
    let sizeThen = 0;
    let pause = FOLLOW_POLL_MS;
    while (!this.stopped) {
      if (!this.opened()) {
        await this.sleep(20);
        continue;
      }
      if (this.compressNext(buf) > 0) {
        // Let the event loop breathe between chunks (signals, the child's exit).
        await new Promise((r) => setImmediate(r));
      } else {
        // By what the file grew, not by what was read: while the writer's rate is not known yet what it
        // wrote waits unread (compressNext), and a fast writer must not be polled less for that.
        pause = followPauseMs(pause, this.seenSize - sizeThen);
        sizeThen = this.seenSize;
        await this.sleep(pause);
      }
    }
  }

  /** A pause between polls that finish() cuts short: the user waits for the end of the run, not for it. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Opens the capture and the compressed copy once the capture exists; false until then. */
  private opened(): boolean {
    if (this.fd !== undefined) return true;
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'r');
      this.out = openSync(this.tmp, 'wx', PRIVATE);
      this.fd = fd;
      this.openedMs = monotonicMs();
      return true;
    } catch {
      if (fd !== undefined) closeSync(fd);
      return false;
    }
  }

  /**
   * Reads and compresses the next chunk; returns its length (0: nothing new). The capture only grows: one
   * shorter than what was read means another writer started over in it. Far behind the writer, or behind
   * one that writes fast, the chunk is compressed faster (followLevel).
   */
  private compressNext(buf: Uint8Array): number {
    const fd = this.fd as number;
    const size = fstatSync(fd).size;
    if (size < this.pos) {
      // Only the block being written went away: the agent cut off a block it could not write whole
      // (agent/src/sink.c), its writes fail, the disk is full. Shorter still: another writer started over.
      if (size >= this.r.consumed) this.gaveUp = 'shrunk';
      throw new FileError(`${this.path} was truncated while memlens compressed it (another writer?)`);
    }
    this.room.spent(size - this.seenSize);
    this.seenSize = size;
    const behind = size - this.pos;
    // Nothing new (a quiet program: most polls): no look at the clock either (a read of /proc/PID/stat).
    if (behind === 0) return 0;
    const now = this.now();
    const rate = now === undefined ? this.rate.bytesPerSecond : this.rate.update(size, now);
    // Until the writer's rate is known, what it wrote waits (for at most HOLD_MS of the wall clock, and
    // FOLLOW_FAST_LAG bytes, which go at the fast level anyway): taken at quality 5 with full blocks grouped,
    // the first 0.4-1.5 MB of a fast writer cost a tenth of a second of CPU (docs/benchmarks.md, "The
    // follower's CPU"). A program that the machine leaves little CPU may not show its rate in that time:
    // then its blocks are not grouped until it does (grouping is the costly part).
    if (!this.stopped && !this.rate.known && behind < FOLLOW_FAST_LAG && monotonicMs() - this.openedMs < HOLD_MS) return 0;
    const n = readSync(fd, buf, 0, buf.length, this.pos);
    if (n === 0) return 0;
    if (this.pos === 0) this.headerOptions = headerOptions(buf.subarray(0, n));
    this.fastLevel = followFastLevel(this.headerOptions);
    this.pos += n;
    // Not yet known: the backlog decides.
    const lag = this.rate.known ? Math.max(0, size - this.pos) : behind;
    const level = followLevel(lag, rate, this.fastLevel);
    this.r.setGrouping(followGroups(lag, rate, this.pos, FOLLOW_WHOLE_PARTS) && (this.rate.known || this.stopped));
    // At the fast level small blocks go on as they are: merging them cost a quarter to half of the
    // follower's CPU for no smaller file (docs/benchmarks.md, "The follower's CPU").
    this.r.setMerging(level === DEFAULT_COMPRESS_LEVEL);
    this.r.setLevel(level);
    if (level !== DEFAULT_COMPRESS_LEVEL) this.fastChunks++;
    this.r.feed(buf.subarray(0, n));
    return n;
  }

  /** The clock's time, chosen at the first look: the program's CPU time if it reads then, else the wall clock. */
  private now(): number | undefined {
    if (this.clock === undefined) {
      const cpu = this.cpuMs;
      this.clock = cpu !== undefined && cpu() !== undefined ? cpu : monotonicMs;
    }
    return this.clock();
  }

  /** The writer is gone: compress the rest and return the compressed copy (not yet renamed). */
  async finish(): Promise<string | undefined> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.gaveUp !== undefined) return undefined;
    if (this.failure !== undefined) throw this.failure instanceof MemlensError ? this.failure : fileError(this.tmp, this.failure, 'writing it');
    if (!this.opened()) return undefined;
    const buf = (this.buf ??= new Uint8Array(READ_CHUNK));
    try {
      while (this.compressNext(buf) > 0);
      this.r.end();
      // fsync can be where a full disk shows (delayed allocation).
      if (this.out !== undefined) fsyncSync(this.out);
    } catch (e) {
      this.fail(e);
      if (this.gaveUp !== undefined) return undefined;
      throw e instanceof MemlensError ? e : fileError(this.tmp, e, 'writing it');
    }
    closeSync(this.fd as number);
    this.fd = undefined;
    if (this.out !== undefined) {
      closeSync(this.out);
      this.out = undefined;
    }
    return this.tmp;
  }

  abandon(): void {
    this.stopped = true;
    this.wake?.();
    for (const fd of [this.fd, this.out]) if (fd !== undefined) closeSync(fd);
    this.fd = undefined;
    this.out = undefined;
    rmSync(this.tmp, { force: true });
  }
}
