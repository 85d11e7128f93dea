// The work of `memlens parse` (commands/parse.ts loads it when the command runs): visitors that print every
// record as a line, and the run itself.

import { allocJson, allocText, blockJson, blockText, freeJson, freeText, headerJson, headerText, metaJson, metaText } from '../../capture/dump.js';
import type { BlockInfo, CaptureHeader, CaptureVisitor, DecodeWarning, MetaRecord } from '../../capture/records.js';
import { readCaptureFile, warningLine } from '../capture-file.js';
import type { Io, OutputStream } from '../io.js';
import { byteProgress } from '../progress.js';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { jsonDocument } from '../../util/json-document.js';

const FLUSH_AT = 64 * 1024;

/** Collects lines and writes them in 64 KiB pieces. */
class LineSink {
  private lines: string[] = [];
  private size = 0;
  private full = false;
  constructor(private readonly out: OutputStream) {}

  /** Resolves once the output has room again: a dump of gigabytes must not pile up in memory. */
  async drained(): Promise<void> {
    if (!this.full || this.out.once === undefined) return;
    await new Promise<void>((r) => this.out.once?.('drain', r));
    this.full = false;
  }
  push(line: string): void {
    this.lines.push(line);
    this.size += line.length + 1;
    if (this.size >= FLUSH_AT) this.flush();
  }
  flush(): void {
    if (this.lines.length === 0) return;
    if (!this.out.write(this.lines.join('\n') + '\n')) this.full = true;
    this.lines = [];
    this.size = 0;
  }
}

class TextDump implements CaptureVisitor {
  constructor(
    private readonly sink: LineSink,
    private readonly onWarning: (w: DecodeWarning) => void,
  ) {}
  header(h: CaptureHeader): void {
    this.sink.push(headerText(h));
  }
  block(b: BlockInfo): void {
    this.sink.push(blockText(b));
  }
  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    this.sink.push(allocText(stream, seq, address, size, allocator, stack, nativeStack));
  }
  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    this.sink.push(freeText(stream, seq, address, size, deallocator));
  }
  meta(r: MetaRecord): void {
    this.sink.push(metaText(r));
  }
  warning(w: DecodeWarning): void {
    // Keep stdout and stderr in step when both go to the same terminal.
    this.sink.flush();
    this.onWarning(w);
  }
}

class JsonDump implements CaptureVisitor {
  constructor(
    private readonly sink: LineSink,
    private readonly onWarning: (w: DecodeWarning) => void,
  ) {}
  header(h: CaptureHeader): void {
    this.sink.push(headerJson(h));
  }
  block(b: BlockInfo): void {
    this.sink.push(blockJson(b));
  }
  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): void {
    this.sink.push(allocJson(stream, seq, address, size, allocator, stack, nativeStack));
  }
  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    this.sink.push(freeJson(stream, seq, address, size, deallocator));
  }
  meta(r: MetaRecord): void {
    this.sink.push(metaJson(r));
  }
  warning(w: DecodeWarning): void {
    this.sink.flush();
    this.onWarning(w);
  }
}

/** Prints the capture at `path` (relative to io.cwd) on io.stdout. */
export async function parseDump(io: Io, path: string, json: boolean): Promise<void> {
  const sink = new LineSink(io.stdout);
  const onWarning = (w: DecodeWarning): void => {
    io.stderr.write(warningLine(path, w));
  };
  const visitor = json ? new JsonDump(sink, onWarning) : new TextDump(sink, onWarning);
  // JSON lines: the first says what the others are (a record type readers that switch on "type" skip).
  if (json) sink.push(JSON.stringify(jsonDocument('parse', { type: 'schema' })));
  const full = resolve(io.cwd, path);
  // A bar only when the dump itself does not go to the terminal.
  // A missing file is reported by readCaptureFile.
  const size = await stat(full).then(
    (s) => s.size,
    () => 0,
  );
  const progress = io.stdout.isTTY === true ? undefined : byteProgress(io, `reading ${path}`, size);
  try {
    // Small chunks: the text of one chunk is what waits in memory before the output drains.
    await readCaptureFile(full, visitor, { name: path, chunkSize: 64 * 1024, between: () => sink.drained(), ...(progress !== undefined ? { progress } : {}) });
  } finally {
    sink.flush();
  }
}
