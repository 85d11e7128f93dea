// The bodies memlens sends, from an interval's profile (deployment.md, "What is pushed"):
// - Pyroscope: push.v1.PushRequest{series 1: [RawProfileSeries{labels 1: [LabelPair{name 1, value 2}],
//   samples 2: [RawSample{raw_profile 1, ID 2}]}]} (grafana/pyroscope api/push/v1/push.proto), whose raw
//   profile is a gzipped pprof heap profile;
// - OTLP: an ExportProfilesServiceRequest (report/export/otlp-profiles.ts).

import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { HEAP_SAMPLE_TYPES, type PprofSample, encodePprof } from '../../report/export/pprof.js';
import { encodeOtlpProfiles } from '../../report/export/otlp-profiles.js';
import { ProtoWriter } from '../../report/export/protobuf.js';
import { samplingNote } from '../../model/sampling.js';
import { formatBytes } from '../../util/units.js';
import { VERSION } from '../../version.js';
import type { IntervalProfile } from '../../live/push/interval-profiler.js';

export interface ProfileWindow {
  /** Unix time in ns of the interval's start, and its length. */
  readonly startNs: bigint;
  readonly durationNs: number;
}

export interface Labels {
  readonly serviceName: string;
  /** User labels, in the order given. */
  readonly labels: readonly (readonly [string, string])[];
}

function samplesOf(p: IntervalProfile): PprofSample[] {
  return p.stacks.map((s) => ({ frames: s.frames, values: [s.allocObjects, s.allocBytes, s.inuseObjects, s.inuseBytes] }));
}

/** The gzipped pprof heap profile of an interval. */
export function intervalPprof(p: IntervalProfile, window: ProfileWindow, comment: string): Uint8Array {
  const comments = [comment, 'alloc_*: allocated during the interval; inuse_*: live at its end'];
  if (p.sampling !== undefined) comments.push(`values ${samplingNote(p.sampling, formatBytes)}`);
  return gzipSync(
    encodePprof({
      sampleTypes: HEAP_SAMPLE_TYPES,
      samples: samplesOf(p),
      timeNanos: window.startNs,
      durationNanos: window.durationNs,
      ...(p.sampling !== undefined ? { period: p.sampling.rateBytes } : {}),
      comments,
      defaultSampleType: 'inuse_space',
    }),
  );
}

/** Pyroscope's labels for a memory profile: `__delta__=false` because alloc_* are per interval already. */
export function pyroscopeLabels(l: Labels): [string, string][] {
  return [['__name__', 'memory'], ['service_name', l.serviceName], ['__delta__', 'false'], ...l.labels.map(([k, v]): [string, string] => [k, v])];
}

export function pyroscopePushRequest(gzippedPprof: Uint8Array, labels: readonly (readonly [string, string])[], id: string = randomUUID()): Uint8Array {
  const series = new ProtoWriter();
  for (const [name, value] of labels) series.messageField(1, new ProtoWriter().stringField(1, name).stringField(2, value));
  series.messageField(2, new ProtoWriter().bytesField(1, gzippedPprof).stringField(2, id));
  return new ProtoWriter().messageField(1, series).finish();
}

export function otlpProfilesRequest(p: IntervalProfile, window: ProfileWindow, l: Labels, pid: number): Uint8Array {
  return encodeOtlpProfiles({
    resource: [['service.name', l.serviceName], ...l.labels, ...(pid > 0 ? [['process.pid', pid] as const] : [])],
    scopeName: 'memlens',
    scopeVersion: VERSION,
    sampleTypes: HEAP_SAMPLE_TYPES,
    samples: samplesOf(p),
    timeUnixNano: window.startNs,
    durationNano: window.durationNs,
    periodType: ['space', 'bytes'],
    period: p.sampling?.rateBytes ?? 1,
  });
}
