// The last lines a program wrote to its stdout and stderr, for the live view's output panel (memlens run
// --live pipes them instead of leaving them on the terminal the view draws on). Bytes in, lines out: UTF-8
// is decoded across chunk boundaries, terminal escape sequences (colours, cursor moves) are dropped, a
// carriage return starts its line over (progress bars), and only the last `keep` lines are kept.

import { TextDecoder } from 'node:util';

export type OutputStreamName = 'stdout' | 'stderr';

export class OutputTail {
  private readonly lines: string[] = [];
  private readonly partial = new Map<OutputStreamName, string>();
  private readonly decoders = new Map<OutputStreamName, TextDecoder>();
  /** Goes up with every change (the view redraws when it moved). */
  version = 0;

  constructor(private readonly keep = 200) {}

  push(stream: OutputStreamName, chunk: Uint8Array | string): void {
    let decoder = this.decoders.get(stream);
    if (decoder === undefined) {
      decoder = new TextDecoder('utf-8', { fatal: false });
      this.decoders.set(stream, decoder);
    }
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    this.add(stream, text);
  }

  /** The stream ended: its unfinished last line counts as a line. */
  end(stream: OutputStreamName): void {
    const rest = (this.decoders.get(stream)?.decode() ?? '') + (this.partial.get(stream) ?? '');
    this.partial.delete(stream);
    if (rest !== '') this.addLine(clean(rest));
  }

  /** The last `n` whole lines, oldest first, and the unfinished ones after them. */
  last(n: number): string[] {
    const open = [...this.partial.values()].filter((p) => p !== '').map(clean);
    return [...this.lines, ...open].slice(-n);
  }

  private add(stream: OutputStreamName, text: string): void {
    let buf = (this.partial.get(stream) ?? '') + text;
    for (;;) {
      const nl = buf.indexOf('\n');
      if (nl < 0) break;
      this.addLine(clean(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
    this.partial.set(stream, buf);
    this.version++;
  }

  private addLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
    this.version++;
  }
}

/** Drops escape sequences and what a carriage return overwrote; the renderer masks any other control. */
function clean(line: string): string {
  // eslint-disable-next-line no-control-regex
  let s = line.replace(/\u001b\[[0-?]*[ -/]*[@-~]/g, '').replace(/\u001b\][^\u0007\u001b]*(\u0007|\u001b\\)?/g, '');
  if (s.endsWith('\r')) s = s.slice(0, -1);
  const cr = s.lastIndexOf('\r');
  return cr >= 0 ? s.slice(cr + 1) : s;
}
