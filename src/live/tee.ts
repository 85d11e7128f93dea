// One capture stream, several consumers: the file it is kept in (if any) and the live views reading it.
// With a file, a view reads the file and follows it as it grows (`tail -f`), so a view that connects late
// (`memlens live PORT` ten minutes in) still gets the stream from its first byte, without memlens keeping
// it in memory. Without a file (one view: `memlens run --live`), the stream is kept from its first byte
// until the first view is made, and that view gets all of it; a later view gets what comes after it.

import { close, constants, open, read, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

const FOLLOW_POLL_MS = 50;
const READ_SIZE = 1 << 20;

export class Tee {
  private readonly queues: Uint8Array[][] = [];
  /** Without a file: the chunks that came before the first view, which gets them (then undefined). */
  private backlog: Uint8Array[] | undefined = [];
  private readonly wakers: (() => void)[] = [];
  private ended = false;
  private readonly finished: Promise<void>;
  private readonly path: string | undefined;
  /**
   * Writing the file failed (the disk is full): the views go on from the stream, the file stops there and
   * the command says so (src/cli/capture-file.ts finishCaptureFile).
   */
  fileError: NodeJS.ErrnoException | undefined;

  /** `path`: where `file` writes (a stream opened on a descriptor does not know its path). */
  constructor(source: Readable, file: WriteStream | undefined, path: string | undefined = file !== undefined ? String(file.path) : undefined) {
    this.path = file !== undefined ? path : undefined;
    file?.on('error', (e: NodeJS.ErrnoException) => {
      this.fileError ??= e;
    });
    this.finished = new Promise((resolveP) => {
      source.on('data', (chunk: Buffer) => {
        if (this.fileError === undefined) file?.write(chunk);
        if (file === undefined && this.backlog !== undefined) this.backlog.push(chunk);
        for (const q of this.queues) q.push(chunk);
        this.wake();
      });
      const finish = (): void => {
        if (this.ended) return;
        const done = (): void => {
          this.ended = true;
          this.wake();
          resolveP();
        };
        if (file !== undefined && this.fileError === undefined) file.end(done);
        else done();
      };
      source.on('end', finish);
      source.on('close', finish);
      source.on('error', finish);
    });
  }

  private wake(): void {
    for (const w of this.wakers.splice(0)) w();
  }

  private next(): Promise<void> {
    return new Promise((r) => this.wakers.push(r));
  }

  /** The stream ended and the file (if any) has every byte. */
  done(): Promise<void> {
    return this.finished;
  }

  /** The stream from its first byte (without a file: for the first view only), to its end. */
  reader(): AsyncIterable<Uint8Array> {
    if (this.path !== undefined) return this.followFile(this.path);
    // Registered now, not when the view first pulls (a generator's body starts only then): chunks that
    // come in between belong to this view too.
    const q: Uint8Array[] = this.backlog ?? [];
    this.backlog = undefined;
    this.queues.push(q);
    return this.followQueue(q);
  }

  private async *followQueue(q: Uint8Array[]): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        while (q.length > 0) yield q.shift() as Uint8Array;
        if (this.ended) return;
        await this.next();
      }
    } finally {
      this.queues.splice(this.queues.indexOf(q), 1);
    }
  }

  private async *followFile(path: string): AsyncGenerator<Uint8Array> {
    const fd = await new Promise<number>((resolveP, rejectP) => open(path, constants.O_RDONLY | constants.O_NOFOLLOW, (e, f) => (e !== null ? rejectP(e) : resolveP(f))));
    let pos = 0;
    // One read buffer for the whole follow, and a copy of what each read got: a follower polls every 50 ms
    // and is woken by every chunk the pipe delivers, so a fresh 1 MiB buffer per read made tens of MiB of
    // garbage a second that the memlens process carried until V8 collected it (a push running for days
    // grew from 50 to 130 MiB on it). Now the garbage is the stream's own size.
    const buf = Buffer.allocUnsafe(READ_SIZE);
    try {
      for (;;) {
        const n = await new Promise<number>((resolveP, rejectP) => read(fd, buf, 0, buf.length, pos, (e, got) => (e !== null ? rejectP(e) : resolveP(got))));
        if (n > 0) {
          pos += n;
          yield Uint8Array.prototype.slice.call(buf, 0, n);
          continue;
        }
        if (this.ended) {
          // One more read: bytes written between the last read and the end.
          const m = await new Promise<number>((resolveP, rejectP) => read(fd, buf, 0, buf.length, pos, (e, got) => (e !== null ? rejectP(e) : resolveP(got))));
          if (m > 0) {
            pos += m;
            yield Uint8Array.prototype.slice.call(buf, 0, m);
            continue;
          }
          return;
        }
        await Promise.race([this.next(), new Promise((r) => setTimeout(r, FOLLOW_POLL_MS))]);
      }
    } finally {
      close(fd, () => undefined);
    }
  }
}
