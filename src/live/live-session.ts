// A capture stream read as it is written, and what a live view shows of it.
//
// Bytes come in chunks cut anywhere (a pipe, a Unix socket, a TCP connection, a file being written):
// feed(chunk) runs them through the decoder, the seq orderer and the replay (the same ones a report uses:
// src/capture, src/model), end() says the stream is over. view(options) answers, at any moment, with plain
// data for a renderer (view-data.ts; tui-render.ts, the web page): who the target is, its heap, peak, RSS and limit, a
// sparkline of the heap, the locations holding the most live memory now (src/analysis), the threads, and
// whether and how the stream ended. Nothing here touches a terminal, a socket or a clock of its own: the
// clock is passed in, so the same bytes and times give the same view.

import { siteAmounts } from '../analysis/allocation-set.js';
import { describeEnding, endingOf } from '../analysis/ending.js';
import { threadLabel } from '../model/thread-name.js';
import { type LocationRow, NO_STACK, locations } from '../analysis/locations.js';
import { stacksOf } from '../analysis/stacks.js';
import { CaptureDecoder } from '../capture/decoder.js';
import { MODE_ATTACH, MODE_RUN } from '../capture/format.js';
import { SeqOrderer } from '../capture/order.js';
import type { ExitRecord } from '../capture/records.js';
import { MemlensError } from '../errors.js';
import { ModelBuilder } from '../model/builder.js';
import { DEFAULT_FRAME_FILTER } from '../model/frames.js';
import { lineTableResolver } from '../model/lines.js';
import type { ThreadIndex } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import { sparkline } from '../analysis/sparkline.js';
import type { LiveEnd, LiveLocation, LiveThread, LiveView, ViewOptions } from './view-data.js';
import { displayPath } from '../util/text.js';

export interface LiveSessionOptions {
  /** Milliseconds since the Unix epoch (Date.now): the elapsed time while the stream runs. */
  readonly clock?: () => number;
  /** Names the stream in messages (`PID 1234 (pipe)`, `127.0.0.1:5000`). */
  readonly source?: string;
}

interface TablePart {
  readonly threads: readonly LiveThread[];
  readonly thread: number | undefined;
  readonly shownBytes: number;
  readonly shownCount: number;
  readonly shown: readonly LiveLocation[];
  readonly more: number;
}

const DEFAULT_SPARK_WINDOW_NS = 120e9;
const MIN_SPARK_WINDOW_NS = 10e9;

export class LiveSession {
  private readonly builder = new ModelBuilder({ lineResolver: lineTableResolver() });
  private readonly orderer = new SeqOrderer(this.builder);
  private readonly decoder: CaptureDecoder;
  private readonly clock: () => number;
  private ended = false;
  private endNote: { kind: 'disconnected' | 'error'; text: string } | undefined;
  private headerSeen = false;
  /** Bytes fed so far. */
  bytes = 0;
  /** Goes up with every feed, end and exit note: a view redraws when it moved. */
  version = 0;
  // Peak RSS over the snapshots scanned so far (the series only grows).
  private scanned = 0;
  private peakRss: number | undefined;
  private modelCache: { version: number; model: CaptureModel } | undefined;
  private tableCache: { key: string; part: TablePart } | undefined;

  constructor(options: LiveSessionOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.decoder = new CaptureDecoder(this.orderer, options.source !== undefined ? { source: options.source } : {});
  }

  /** The next bytes of the stream. After end(), or once the stream was found not to be a capture, ignored. */
  feed(chunk: Uint8Array): void {
    if (this.ended) return;
    this.bytes += chunk.length;
    this.version++;
    try {
      this.decoder.feed(chunk);
      if (this.decoder.header !== undefined) this.headerSeen = true;
    } catch (e) {
      // Only a bad file header throws: the stream is not a capture this reader can read.
      if (!(e instanceof MemlensError)) throw e;
      this.stop({ kind: 'error', text: e.message });
    }
  }

  /**
   * The stream is over. `how`: 'eof' (it ended: the target closed it), 'disconnected' (a read failed),
   * with a detail for the message.
   */
  end(how: 'eof' | 'disconnected' = 'eof', detail?: string): void {
    if (this.ended) return;
    this.version++;
    if (how === 'disconnected') this.endNote = { kind: 'disconnected', text: `disconnected${detail !== undefined ? `: ${detail}` : ''}` };
    try {
      this.decoder.end();
    } catch (e) {
      // The stream ended inside the file header.
      if (!(e instanceof MemlensError)) throw e;
      this.endNote ??= { kind: 'disconnected', text: `disconnected before the capture began (${e.message})` };
    }
    this.orderer.end();
    this.ended = true;
  }

  /** How the target ended, when the launcher knows it (memlens run --live): as the EXIT record says it. */
  noteExit(exit: ExitRecord): void {
    this.version++;
    this.builder.meta(exit);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private stop(note: { kind: 'disconnected' | 'error'; text: string }): void {
    this.endNote = note;
    this.ended = true;
  }

  /** The model of what was replayed so far (valid until the next feed()). */
  model(): CaptureModel {
    if (this.modelCache?.version !== this.version) this.modelCache = { version: this.version, model: this.builder.current() };
    return this.modelCache.model;
  }

  /**
   * Live memory per site, the threads' shares, then the locations of the shown threads: the costly part
   * of a view (O(live sites + stack nodes)), kept until the data or the options change (a redraw for the
   * clock alone, or several browsers polling, cost nothing more).
   */
  private table(model: CaptureModel, options: ViewOptions): TablePart {
    const filter = options.filter ?? DEFAULT_FRAME_FILTER;
    const key = `${this.version}|${options.sort}|${options.thread ?? ''}|${options.maxRows}|${filter.showInternal}|${filter.showImports}`;
    if (this.tableCache?.key === key) return this.tableCache.part;
    const h = model.header;
    const live = siteAmounts(model, 'leaks', 'liveBytes', 'liveCount');
    const perThread = new Float64Array(model.threads.length);
    for (const a of live.sites) {
      const t = model.sites.thread(a.site);
      perThread[t] = perThread[t]! + a.bytes;
    }
    // The main thread first, then the others as they appeared.
    const isMain = (osTid: number): number => (osTid !== 0 && osTid === h.mainTid ? 0 : 1);
    const threads: LiveThread[] = model.threads

      .map((t) => ({ index: t.index, osTid: t.osTid, name: t.renamedFrom === undefined ? t.name : threadLabel(model, t), liveBytes: perThread[t.index]!, exited: t.exitNs !== undefined }))
      .sort((a, b) => isMain(a.osTid) - isMain(b.osTid) || a.index - b.index);
    const thread = options.thread !== undefined && options.thread >= 0 && options.thread < threads.length ? options.thread : undefined;
    // A thread index from the viewer, checked against the threads just above.
    const stacks = stacksOf(model, live, { filter, threads: thread === undefined ? undefined : new Set([thread as ThreadIndex]) });
    let shownBytes = 0;
    let shownCount = 0;
    for (const st of stacks) {
      shownBytes += st.bytes;
      shownCount += st.count;
    }
    const rows = locations(model, stacks);
    const sortKey = (r: LocationRow): number => (options.sort === 'own' ? r.ownBytes : options.sort === 'count' ? r.count : r.totalBytes);
    rows.sort((a, b) => sortKey(b) - sortKey(a) || b.totalBytes - a.totalBytes || compareText(a.function, b.function) || compareText(a.file, b.file) || a.line - b.line);
    const top = rows.slice(0, Math.max(0, options.maxRows));
    const shown: LiveLocation[] = top.map((r) => ({
      function: r.function,
      file: r.function === NO_STACK ? '' : displayPath(r.file, h.cwd),
      line: r.line,
      totalBytes: r.totalBytes,
      ownBytes: r.ownBytes,
      count: r.count,
      ownCount: r.ownCount,
    }));
    const part: TablePart = { threads, thread, shownBytes, shownCount, shown, more: rows.length - top.length };
    this.tableCache = { key, part };
    return part;
  }

  view(options: ViewOptions): LiveView {
    const model = this.model();
    const h = model.header;
    const s = model.snapshots;
    // From the start of the last scanned snapshot's run of one seq: a snapshot sharing it goes among them in
    // time order (model/snapshots.ts), maybe before one scanned already.
    let from = this.scanned;
    while (from > 0 && from < s.seq.length && s.seq[from - 1] === s.seq[from]) from--;
    for (; from < s.rss.length; from++) {
      const rss = s.rss[from]!;
      if (this.peakRss === undefined || rss > this.peakRss) this.peakRss = rss;
    }
    this.scanned = s.rss.length;
    const last = s.seq.length - 1;
    const lastOf = (col: readonly number[]): number | undefined => {
      const v = last >= 0 ? col[last] : undefined;
      return v === undefined || Number.isNaN(v) || v === 0 ? undefined : v;
    };
    const end = this.endState(model);
    const elapsedNs = this.elapsed(model, end !== undefined);

    const { threads, thread, shownBytes, shownCount, shown, more } = this.table(model, options);

    const cgroupLimit = lastOf(s.cgroupLimit) ?? h.cgroupLimitBytes;
    return {
      started: this.headerSeen,
      pid: h.pid,
      command: commandLine(h.argv, h.script),
      pythonVersion: h.pythonVersion,
      mode: h.mode === MODE_RUN ? 'run' : h.mode === MODE_ATTACH ? 'attach' : '',
      aggregated: model.aggregated,
      sampledEvery: model.sampling?.rateBytes,
      elapsedNs,
      heap: model.endHeap,
      peakHeap: model.maxHeap,
      liveCount: model.endLiveCount,
      allocations: model.allocations,
      rss: lastOf(s.rss),
      peakRss: this.peakRss,
      cgroupUsage: lastOf(s.cgroupUsage),
      cgroupLimit: cgroupLimit !== undefined && cgroupLimit > 0 ? cgroupLimit : undefined,
      spark: sparkline(model, Math.max(1, options.sparkPoints), Math.min(options.sparkWindowNs ?? DEFAULT_SPARK_WINDOW_NS, Math.max(MIN_SPARK_WINDOW_NS, elapsedNs)), elapsedNs),
      threads,
      thread,
      sort: options.sort,
      shownBytes,
      shownCount,
      locations: shown,
      moreLocations: more,
      damaged: model.warnings.length,
      end,
    };
  }

  private elapsed(model: CaptureModel, ended: boolean): number {
    const start = model.header.startWallNs;
    const byRecords = Math.max(model.durationNs, model.exit?.timeNs ?? 0);
    if (ended || start <= 0n) return byRecords;
    const byClock = this.clock() * 1e6 - Number(start);
    return Math.max(byRecords, byClock);
  }

  private endState(model: CaptureModel): LiveEnd | undefined {
    const exit = model.exit;
    if (exit !== undefined) return { kind: exit.signal !== 0 ? 'signal' : 'exit', text: describeEnding(endingOf(model)), exit };
    if (!this.ended) return undefined;
    if (this.endNote?.kind === 'error') return { kind: 'error', text: this.endNote.text, exit: undefined };
    if (model.trailer !== undefined) {
      const e = endingOf(model);
      switch (e.stopReason) {
        case 'detach':
        case 'interrupted':
          return { kind: 'detached', text: `tracking stopped: ${e.stopReason === 'detach' ? 'memlens detached' : 'memlens was interrupted and detached'}; the target goes on`, exit: undefined };
        case 'duration':
          return { kind: 'stopped', text: 'tracking stopped: the duration elapsed; the target goes on', exit: undefined };
        case 'program':
          return { kind: 'stopped', text: 'tracking stopped: the program stopped it; the target goes on', exit: undefined };
        case 'fork-child-stopped':
          return { kind: 'stopped', text: 'tracking stopped in this forked child', exit: undefined };
        case 'exit':
        case '_exit':
          return { kind: 'exited', text: e.stopReason === 'exit' ? 'the target exited' : 'the target left through os._exit', exit: undefined };
        default:
          return { kind: 'stopped', text: 'tracking stopped (why is not recorded)', exit: undefined };
      }
    }
    if (this.endNote !== undefined) return { kind: this.endNote.kind, text: this.endNote.text, exit: undefined };
    return {
      kind: 'disconnected',
      text: this.headerSeen ? 'disconnected: the stream ended before tracking did (the target died or the connection was lost)' : 'disconnected before the capture began',
      exit: undefined,
    };
  }
}

/** The command line with the interpreter's path cut to its name: `python3 app.py --workers 2`. */
function commandLine(argv: readonly string[], script: string): string {
  if (argv.length === 0) return script;
  const first = argv[0]!;
  return [first.slice(first.lastIndexOf('/') + 1), ...argv.slice(1)].join(' ');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
