// Reading and rewriting capture files: the file-system edge of src/capture. Errors become one clear line
// (FileError, CaptureFormatError with the file name); decode warnings go to the visitor.

import { closeSync, constants, fstatSync, fsyncSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { appendFile, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { CaptureDecoder } from '../capture/decoder.js';
import { DEFAULT_COMPRESS_LEVEL, Recompressor, followLevel } from '../capture/compress.js';
import { encodeAppendix } from '../capture/encoder.js';
import type { BlockInfo, CaptureHeader, CaptureVisitor, DecodeWarning, MetaRecord } from '../capture/records.js';
import { CaptureFormatError, FileError } from '../errors.js';
import { NO_PROGRESS, type Progress } from './progress.js';

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
  return new FileError(`${path}: cannot ${doing} (${code ?? (e instanceof Error ? e.message : String(e))})`, { cause: e });
}

function isDirectory(path: string): FileError {
  return new FileError(`${path} is a directory, not a capture file`, { hint: 'Give the path of a .mlens file.' });
}

/** Opens a capture for reading and returns its handle and size, or throws a one-line error. */
async function openCapture(path: string, name = path): Promise<{ fh: FileHandle; size: number }> {
  let info;
  try {
    info = await stat(path);
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
  try {
    return { fh: await open(path, 'r'), size: info.size };
  } catch (e) {
    throw fileError(name, e, 'opening it');
  }
}

/**
 * Streams a capture file through the decoder into `visitor`, in chunks (4 MiB), reusing one buffer.
 * Throws FileError or CaptureFormatError (bad header); damage after the header reaches visitor.warning.
 */
export async function readCaptureFile(path: string, visitor: CaptureVisitor, options: ReadCaptureOptions = {}): Promise<ReadCaptureResult> {
  const name = options.name ?? path;
  const { fh, size } = await openCapture(path, name);
  const progress = options.progress ?? NO_PROGRESS;
  const decoder = new CaptureDecoder(visitor, { source: name });
  const buf = new Uint8Array(options.chunkSize ?? READ_CHUNK);
  let total = 0;
  try {
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        throw fileError(name, e, 'reading it');
      }
      if (n === 0) break;
      total += n;
      decoder.feed(buf.subarray(0, n));
      progress.update(Math.min(total, size));
      if (options.between !== undefined) await options.between();
    }
    decoder.end();
  } finally {
    progress.finish();
    await fh.close();
  }
  return { header: decoder.header, bytes: total, blocks: decoder.blocks, warnings: decoder.warnings };
}

/** The line memlens prints on stderr for a decode warning. */
export function warningLine(path: string, w: DecodeWarning): string {
  return `memlens: warning: ${path}: ${w.message}\n`;
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
      out = await open(tmp, 'wx', PRIVATE);
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
    await rename(tmp, path);
    return { bytesIn: total, bytesOut: r.bytesOut, blocks: r.blocks, compressedBlocks: r.compressedBlocks };
  } catch (e) {
    await out?.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
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
export async function appendToCaptureFile(path: string, records: readonly MetaRecord[]): Promise<void> {
  try {
    await appendFile(path, encodeAppendix(records), { flag: constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, mode: PRIVATE });
  } catch (e) {
    throw fileError(path, e, 'appending to it');
  }
}

export interface SealResult {
  /** Bytes of a cut final block that could not be kept (a partial record, a partial block header). */
  readonly droppedBytes: number;
  /** A cut final block was rewritten as a whole, shorter block holding its whole records. */
  readonly resealed: boolean;
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
  await readCaptureFile(path, {
    alloc: () => undefined,
    free: () => undefined,
    meta: () => undefined,
    block: (info) => {
      lastBlock = info;
    },
    warning: (w) => {
      if (w.kind === 'truncated') cut = w;
    },
  });
  if (cut === undefined) return { droppedBytes: 0, resealed: false };
  const { size } = await stat(path);
  const fh = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const block = lastBlock;
    // Cut inside a block header, or a block we cannot keep part of: drop it from its start.
    if (block === undefined || cut.offset <= block.offset + block.headerLen || (block.flags & 1) !== 0) {
      const from = block !== undefined && block.offset + block.headerLen + block.storedLen > cut.offset ? block.offset : cut.offset;
      await fh.truncate(from);
      return { droppedBytes: size - from, resealed: false };
    }
    const payloadStart = block.offset + block.headerLen;
    const whole = new Uint8Array(cut.offset - payloadStart);
    await fh.read(whole, 0, whole.length, payloadStart);
    const sealed = encodeBlock(block.stream, block.baseSeq, whole);
    await fh.truncate(block.offset);
    await fh.write(sealed, 0, sealed.length, block.offset);
    return { droppedBytes: size - cut.offset, resealed: true };
  } finally {
    await fh.close();
  }
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
  private failure: unknown;
  /** How many chunks read (up to READ_CHUNK bytes each) were compressed at the fast level. */
  fastChunks = 0;

  constructor(private readonly path: string) {
    this.tmp = `${path}.${process.pid}.tmp`;
    this.r = new Recompressor((bytes) => {
      if (this.out !== undefined) writeSync(this.out, bytes);
    }, { source: path });
  }

  /** Starts following once the file exists (the agent creates it when tracking starts). */
  start(): void {
    this.loop = this.follow().catch((e: unknown) => {
      this.failure = e;
    });
  }

  private async follow(): Promise<void> {
    const buf = new Uint8Array(READ_CHUNK);
    while (!this.stopped) {
      if (!this.opened()) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      if (this.compressNext(buf) > 0) {
        // Let the event loop breathe between chunks (signals, the child's exit).
        await new Promise((r) => setImmediate(r));
      } else {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  /** Opens the capture and the compressed copy once the capture exists; false until then. */
  private opened(): boolean {
    if (this.fd !== undefined) return true;
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'r');
      this.out = openSync(this.tmp, 'wx', PRIVATE);
      this.fd = fd;
      return true;
    } catch {
      if (fd !== undefined) closeSync(fd);
      return false;
    }
  }

  /**
   * Reads and compresses the next chunk; returns its length (0: nothing new). The capture only grows: one
   * shorter than what was read means another writer started over in it. Far behind the writer, the chunk
   * is compressed faster (followLevel).
   */
  private compressNext(buf: Uint8Array): number {
    const fd = this.fd as number;
    const size = fstatSync(fd).size;
    if (size < this.pos) throw new FileError(`${this.path} was truncated while memlens compressed it (another writer?)`);
    const n = readSync(fd, buf, 0, buf.length, this.pos);
    if (n === 0) return 0;
    this.pos += n;
    const level = followLevel(Math.max(0, size - this.pos));
    this.r.setLevel(level);
    if (level !== DEFAULT_COMPRESS_LEVEL) this.fastChunks++;
    this.r.feed(buf.subarray(0, n));
    return n;
  }

  /** The writer is gone: compress the rest and return the compressed copy (not yet renamed). */
  async finish(): Promise<string | undefined> {
    this.stopped = true;
    await this.loop;
    if (this.failure !== undefined) throw this.failure instanceof Error ? this.failure : new Error("the following compressor failed");
    if (!this.opened()) return undefined;
    const buf = new Uint8Array(READ_CHUNK);
    while (this.compressNext(buf) > 0);
    this.r.end();
    closeSync(this.fd as number);
    this.fd = undefined;
    if (this.out !== undefined) {
      fsyncSync(this.out);
      closeSync(this.out);
      this.out = undefined;
    }
    return this.tmp;
  }

  abandon(): void {
    this.stopped = true;
    for (const fd of [this.fd, this.out]) if (fd !== undefined) closeSync(fd);
    this.fd = undefined;
    this.out = undefined;
    rmSync(this.tmp, { force: true });
  }
}
