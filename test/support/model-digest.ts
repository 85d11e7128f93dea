// A CaptureModel as plain data that does not depend on how the model was built: sites named by their
// frames (function, file, line, root first) rather than by ids, threads by stream, arrays copied. Two
// models of the same records compare equal with assert.deepEqual, whichever order the builder met the
// stack nodes and code objects in (ModelBuilder.current() resolves frames incrementally, finish() in one go).

import type { CaptureVisitor, CaptureHeader, DecodeWarning, MetaRecord } from '../../src/capture/records.js';
import type { SiteId } from '../../src/model/ids.js';
import type { CaptureModel } from '../../src/model/model.js';
import { SITE_COLUMNS } from '../../src/model/site-table.js';
import type { StreamCall } from './random-stream.js';

const SHOW_ALL = { showInternal: true, showImports: true };

export function siteName(model: CaptureModel, site: SiteId): string {
  const thread = model.threads[model.sites.thread(site)];
  const frames = model.frames.stack(model.sites.pyStack(site), model.sites.nativeStack(site), SHOW_ALL).map((id) => {
    const f = model.frames.frame(id);
    return `${f.native ? 'n' : 'p'}:${f.function}:${f.file}:${f.line}:${f.kind}:${f.module}`;
  });
  return `${thread?.stream ?? '?'}|${model.sites.allocator(site)}|${frames.join('>')}`;
}

export function modelDigest(model: CaptureModel): Record<string, unknown> {
  const sites: Record<string, Record<string, number>> = {};
  for (let s = 0 as SiteId; s < model.sites.size; s++) {
    const key = siteName(model, s);
    const entry = (sites[key] ??= {});
    for (const col of SITE_COLUMNS) {
      // Bookkeeping of aggregated captures, not a figure of the capture.
      if (col === 'updatedSeq') continue;
      entry[col] = (entry[col] ?? 0) + (model.sites.columns[col].array[s] as number);
    }
  }
  // Sites with nothing in any column are the same as sites never seen.
  const nonEmpty = Object.fromEntries(
    Object.entries(sites)
      .filter(([, v]) => Object.values(v).some((x) => x !== 0))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  const s = model.snapshots;
  return {
    header: model.header,
    aggregated: model.aggregated,
    nativeStacks: model.nativeStacks,
    sites: nonEmpty,
    unknownCodes: model.frames.unknownCodes,
    threads: model.threads.map((t) => ({ ...t, index: undefined })).sort((a, b) => a.stream - b.stream),
    allocations: model.allocations,
    frees: model.frees,
    bytesAllocated: model.bytesAllocated,
    endHeap: model.endHeap,
    endLiveCount: model.endLiveCount,
    maxHeap: model.maxHeap,
    maxHeapSeq: model.maxHeapSeq,
    peakHeap: model.peakHeap,
    peakSeq: model.peakSeq,
    peakFound: model.peakFound,
    window: model.window,
    temporaryThreshold: model.temporaryThreshold,
    lastSeq: model.lastSeq,
    sizeHistogram: [...model.sizeHistogram],
    minSize: model.minSize,
    maxSize: model.maxSize,
    allocatorCounts: [...model.allocatorCounts],
    allocatorBytes: [...model.allocatorBytes],
    snapshots: Object.fromEntries(Object.entries(s).map(([k, v]) => [k, [...(v as number[])]])),
    markers: [...model.markers],
    gcs: [...model.gcs],
    forks: [...model.forks],
    notes: [...model.notes],
    censuses: [...model.censuses],
    trailer: model.trailer,
    exit: model.exit,
    agentStats: model.agentStats,
    warnings: [...model.warnings],
    anomalies: model.anomalies,
    durationNs: model.durationNs,
  };
}

/** A visitor that keeps every call, to feed the same records to several builders (cut anywhere). */
export class CallRecorder implements CaptureVisitor {
  headerRecord: CaptureHeader | undefined;
  readonly calls: StreamCall[] = [];
  readonly warnings: DecodeWarning[] = [];
  header(h: CaptureHeader): void {
    this.headerRecord = h;
  }
  alloc(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, native: number): void {
    this.calls.push({ kind: 'alloc', stream, seq, address, size, allocator, stack, native });
  }
  free(stream: number, seq: number, address: number, size: number, deallocator: number): void {
    this.calls.push({ kind: 'free', stream, seq, address, size, deallocator });
  }
  meta(record: MetaRecord): void {
    this.calls.push({ kind: 'meta', record });
  }
  warning(w: DecodeWarning): void {
    this.warnings.push(w);
  }
}

export function feedCalls(visitor: CaptureVisitor, calls: readonly StreamCall[], from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = calls[i] as StreamCall;
    if (c.kind === 'alloc') visitor.alloc(c.stream, c.seq, c.address, c.size, c.allocator, c.stack, c.native);
    else if (c.kind === 'free') visitor.free(c.stream, c.seq, c.address, c.size, c.deallocator);
    else visitor.meta(c.record);
  }
}
