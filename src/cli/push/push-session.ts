// A capture stream turned into a profile pushed every interval (`memlens run --push`, `memlens attach
// --push`): the bytes go through the decoder and the seq orderer into an IntervalProfiler; a timer takes
// the interval's profile and queues it for each backend (Pusher). When the stream ends, the last interval
// is pushed too and the backends get a few seconds to take what waits.

import { CaptureDecoder } from '../../capture/decoder.js';
import { SeqOrderer } from '../../capture/order.js';
import { MemlensError } from '../../errors.js';
import { IntervalProfiler } from '../../live/push/interval-profiler.js';
import type { NativeSymbolizer } from '../../model/images.js';
import { type PushEndpoint, Pusher, type PushStats } from './pusher.js';
import { type Labels, intervalPprof, otlpProfilesRequest, pyroscopeLabels, pyroscopePushRequest } from './requests.js';

export interface PushSessionConfig {
  readonly endpoints: readonly PushEndpoint[];
  readonly intervalMs: number;
  readonly labels: Labels;
  readonly maxStacks: number;
  /** One line for the user, without its newline. */
  readonly log: (line: string) => void;
  /** Names the stream in messages. */
  readonly source?: string;
  /** Names native frames (--native): the target's images are read here, in the memlens process. */
  readonly symbolizer?: NativeSymbolizer;
  /** How long the backends get at the end (default 10 s). */
  readonly finalDeadlineMs?: number;
}

export interface PushSummary {
  readonly profiles: number;
  readonly endpoints: readonly { readonly endpoint: PushEndpoint; readonly stats: PushStats }[];
  readonly refusedStacks: number;
  readonly refusedAllocations: number;
}

export class PushSession {
  private readonly profiler: IntervalProfiler;
  private readonly decoder: CaptureDecoder;
  private readonly pushers: Pusher[];
  private intervalStart = wallNs();
  private profiles = 0;
  private broken: string | undefined;

  constructor(private readonly config: PushSessionConfig) {
    this.profiler = new IntervalProfiler({ maxStacks: config.maxStacks, ...(config.symbolizer !== undefined ? { symbolizer: config.symbolizer } : {}) });
    this.decoder = new CaptureDecoder(new SeqOrderer(this.profiler), config.source !== undefined ? { source: config.source } : {});
    this.pushers = config.endpoints.map((e) => new Pusher(e, { log: config.log }));
  }

  /** Reads the stream to its end, pushing a profile every interval, then the last one. */
  async run(stream: AsyncIterable<Uint8Array>): Promise<PushSummary> {
    const timer = setInterval(() => this.push(), this.config.intervalMs);
    try {
      for await (const chunk of stream) this.feed(chunk);
    } catch (e) {
      // A stream that breaks (the target died, the socket reset) ends the session like its end.
      this.config.log(`memlens: warning: the capture stream broke: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      clearInterval(timer);
    }
    this.end();
    this.push();
    await Promise.all(this.pushers.map((p) => p.close(this.config.finalDeadlineMs ?? 10_000)));
    return {
      profiles: this.profiles,
      endpoints: this.pushers.map((p) => ({ endpoint: p.endpoint, stats: p.stats })),
      refusedStacks: this.lastRefusedStacks,
      refusedAllocations: this.profiler.refusedAllocations,
    };
  }

  private lastRefusedStacks = 0;

  private feed(chunk: Uint8Array): void {
    if (this.broken !== undefined) return;
    try {
      this.decoder.feed(chunk);
    } catch (e) {
      // Only a bad file header throws: this stream is not a capture memlens can read.
      if (!(e instanceof MemlensError)) throw e;
      this.broken = e.message;
      this.config.log(`memlens: warning: nothing will be pushed: ${e.message}`);
    }
  }

  private end(): void {
    if (this.broken !== undefined) return;
    try {
      this.decoder.end();
    } catch (e) {
      if (!(e instanceof MemlensError)) throw e;
    }
  }

  /** Takes the interval's profile and queues it for every backend. */
  private push(): void {
    const h = this.profiler.captureHeader;
    if (h === undefined || this.broken !== undefined) return;
    const now = wallNs();
    const window = { startNs: this.intervalStart, durationNs: Number(now - this.intervalStart) };
    this.intervalStart = now;
    const p = this.profiler.take();
    this.lastRefusedStacks = p.refusedStacks;
    if (p.stacks.length === 0) return; // nothing allocated, nothing live: nothing to say
    this.profiles++;
    let pprof: Uint8Array | undefined;
    for (const pusher of this.pushers) {
      if (pusher.endpoint.kind === 'OTLP') {
        pusher.enqueue(otlpProfilesRequest(p, window, this.config.labels, h.pid));
      } else {
        pprof ??= intervalPprof(p, window, `memlens: ${h.argv.join(' ')} (pid ${h.pid})`);
        pusher.enqueue(pyroscopePushRequest(pprof, pyroscopeLabels(this.config.labels)));
      }
    }
  }
}

function wallNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** The lines memlens prints at the end: what was pushed where, and what was lost. */
export function summaryLines(s: PushSummary): string[] {
  const out: string[] = [];
  for (const { endpoint, stats } of s.endpoints) {
    const dropped = stats.refused + stats.droppedQueueFull + stats.droppedAtEnd;
    let line = `memlens: pushed ${stats.pushed} of ${s.profiles} ${s.profiles === 1 ? 'profile' : 'profiles'} to ${endpoint.display}`;
    if (dropped > 0) {
      const why = [
        stats.refused > 0 ? `${stats.refused} refused` : '',
        stats.droppedQueueFull > 0 ? `${stats.droppedQueueFull} dropped while the backend was too slow or away` : '',
        stats.droppedAtEnd > 0 ? `${stats.droppedAtEnd} not sent before the end` : '',
      ].filter((x) => x !== '');
      line += ` (${why.join(', ')}${stats.lastError !== undefined ? `; last error: ${stats.lastError}` : ''})`;
    }
    out.push(line);
  }
  if (s.refusedAllocations > 0) {
    out.push(`memlens: the stack table was full: ${s.refusedAllocations} recorded allocations on ${s.refusedStacks} more stacks were pushed as '[other stacks]'`);
  }
  return out;
}
