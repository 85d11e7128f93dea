// Sends encoded profiles to one backend (a Pyroscope push endpoint, an OTLP profiles endpoint) over HTTP,
// one request at a time, in the memlens process: never in the target, never on its allocation path.
//
// A slow or absent backend must not cost the machine: profiles wait in a bounded queue (the oldest are
// dropped first, and counted), a failed request is retried after a pause that doubles from 1 s to 60 s
// (with jitter, so that a fleet does not retry in step), every request times out, and a backend that
// refuses a profile (HTTP 4xx other than 408 and 429: it will refuse it again) gets the next one instead.
// The user hears of it in one line when it starts failing, one when it recovers, and a count at the end.

import { VERSION } from '../../version.js';

export interface PushEndpoint {
  /** What the profiles are: 'Pyroscope' or 'OTLP'. */
  readonly kind: string;
  /** The URL requests go to, without credentials. */
  readonly url: string;
  /** The URL as messages show it (scheme, host and path; never credentials). */
  readonly display: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface PusherOptions {
  /** Profiles waiting at most (default 32), and their bytes at most (default 16 MiB). */
  readonly maxQueue?: number;
  readonly maxQueueBytes?: number;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** One line for the user (a warning or a notice), without the trailing newline. */
  readonly log: (line: string) => void;
}

export interface PushStats {
  /** Profiles the backend accepted. */
  pushed: number;
  bytesSent: number;
  /** Requests that failed and were (or would have been) retried. */
  failedAttempts: number;
  /** Profiles dropped because the queue was full (the backend was too slow or away). */
  droppedQueueFull: number;
  /** Profiles the backend refused (4xx). */
  refused: number;
  /** Profiles still waiting when memlens gave up at the end. */
  droppedAtEnd: number;
  /** The last failure, for the summary. */
  lastError: string | undefined;
}

interface Pending {
  readonly body: Uint8Array;
}

export class Pusher {
  readonly stats: PushStats = { pushed: 0, bytesSent: 0, failedAttempts: 0, droppedQueueFull: 0, refused: 0, droppedAtEnd: 0, lastError: undefined };
  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  private readonly maxQueue: number;
  private readonly maxQueueBytes: number;
  private readonly timeoutMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private backoffMs: number;
  private failing = false;
  private failuresInRow = 0;
  private readonly refusedStatuses = new Set<number>();
  private sending: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private inFlight: AbortController | undefined;

  constructor(
    readonly endpoint: PushEndpoint,
    private readonly options: PusherOptions,
  ) {
    this.maxQueue = options.maxQueue ?? 32;
    this.maxQueueBytes = options.maxQueueBytes ?? 16 << 20;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.minBackoffMs = options.minBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.backoffMs = this.minBackoffMs;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Queues a request body; drops the oldest waiting ones past the queue's bounds. */
  enqueue(body: Uint8Array): void {
    if (this.closed) return;
    this.queue.push({ body });
    this.queuedBytes += body.length;
    while (this.queue.length > this.maxQueue || (this.queuedBytes > this.maxQueueBytes && this.queue.length > 1)) {
      const dropped = this.queue.shift() as Pending;
      this.queuedBytes -= dropped.body.length;
      this.stats.droppedQueueFull++;
    }
    this.sending ??= this.sendLoop().finally(() => {
      this.sending = undefined;
    });
    this.wake?.();
  }

  /**
   * The end: keeps sending what waits until it is all sent or `deadlineMs` passed, then gives up on the
   * rest (counted as dropped at the end).
   */
  async close(deadlineMs: number): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    // Retry at once rather than after the current pause: time is short.
    this.backoffMs = Math.min(this.backoffMs, this.minBackoffMs);
    this.wake?.();
    while (this.queue.length > 0 && this.sending !== undefined && Date.now() < deadline) {
      await Promise.race([this.sending, sleep(Math.max(1, Math.min(100, deadline - Date.now())))]);
    }
    this.closed = true;
    this.stats.droppedAtEnd += this.queue.length;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.inFlight?.abort();
    this.wake?.();
    await this.sending;
  }

  private async sendLoop(): Promise<void> {
    while (!this.closed && this.queue.length > 0) {
      const item = this.queue[0] as Pending;
      const outcome = await this.send(item.body);
      if (this.closed) return;
      if (outcome.kind === 'ok') {
        this.dequeue(item);
        this.stats.pushed++;
        this.stats.bytesSent += item.body.length;
        if (this.failing) this.options.log(`memlens: push to ${this.endpoint.display} works again (after ${this.failuresInRow} failed ${this.failuresInRow === 1 ? 'attempt' : 'attempts'})`);
        this.failing = false;
        this.failuresInRow = 0;
        this.backoffMs = this.minBackoffMs;
      } else if (outcome.kind === 'refused') {
        this.dequeue(item);
        this.stats.refused++;
        this.stats.lastError = outcome.detail;
        if (!this.refusedStatuses.has(outcome.status)) {
          this.refusedStatuses.add(outcome.status);
          this.options.log(`memlens: warning: ${this.endpoint.kind} at ${this.endpoint.display} refused a profile (${outcome.detail}); it is dropped, the next ones are still sent`);
        }
      } else {
        this.stats.failedAttempts++;
        this.stats.lastError = outcome.detail;
        this.failuresInRow++;
        if (!this.failing) {
          this.failing = true;
          this.options.log(`memlens: warning: push to ${this.endpoint.display} failed (${outcome.detail}); retrying, with profiles kept in memory (at most ${this.maxQueue})`);
        }
        await this.pause(this.backoffMs * (0.5 + Math.random() / 2));
        this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
      }
    }
  }

  private dequeue(item: Pending): void {
    // The item may have been dropped meanwhile (queue overflow while it was in flight).
    if (this.queue[0] === item) {
      this.queue.shift();
      this.queuedBytes -= item.body.length;
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async send(body: Uint8Array): Promise<{ kind: 'ok' } | { kind: 'refused'; status: number; detail: string } | { kind: 'failed'; detail: string }> {
    const abort = new AbortController();
    this.inFlight = abort;
    const timer = setTimeout(() => abort.abort(new Error(`no answer within ${this.timeoutMs / 1000} s`)), this.timeoutMs);
    try {
      const res = await fetch(this.endpoint.url, {
        method: 'POST',
        headers: { 'User-Agent': `memlens/${VERSION}`, ...this.endpoint.headers },
        body,
        signal: abort.signal,
      });
      const text = await res.text().catch(() => '');
      if (res.ok) return { kind: 'ok' };
      const detail = `HTTP ${res.status}${describeBody(text)}`;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) return { kind: 'refused', status: res.status, detail };
      return { kind: 'failed', detail };
    } catch (e) {
      return { kind: 'failed', detail: describeError(e, abort.signal) };
    } finally {
      clearTimeout(timer);
      this.inFlight = undefined;
    }
  }
}

/** `: the reason` from an error body (Connect's JSON `{code, message}`, or text), on one short line. */
function describeBody(text: string): string {
  let t = text.trim();
  if (t === '') return '';
  try {
    const j = JSON.parse(t) as { code?: unknown; message?: unknown };
    if (typeof j.message === 'string') t = typeof j.code === 'string' ? `${j.code}: ${j.message}` : j.message;
  } catch {
    // not JSON: keep the text
  }
  t = t.replace(/\s+/g, ' ');
  // eslint-disable-next-line no-control-regex
  t = t.replace(/[\u0000-\u001f\u007f]/g, '?');
  return `: ${t.length > 200 ? `${t.slice(0, 200)}…` : t}`;
}

function describeError(e: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const r: unknown = signal.reason;
    return r instanceof Error ? r.message : 'aborted';
  }
  // fetch fails with 'fetch failed'; the cause says why ('connect ECONNREFUSED 127.0.0.1:4040').
  const err = e as { message?: string; cause?: { code?: string; message?: string } };
  return err.cause?.message ?? err.cause?.code ?? err.message ?? String(e);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
