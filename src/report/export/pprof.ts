// pprof export (github.com/google/pprof proto/profile.proto), as Go's heap profiles: sample types
// alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes. "alloc" is every
// allocation made while tracking; "inuse" is what was live at the high-water mark (or at the end with
// --leaks). One sample per stack; one location per frame (function, file, line). The caller gzips it.
//
// encodePprof() is the encoder itself, for any list of stacks with values (the export of a capture, and the
// profiles `memlens run --push` sends every interval); pprofProfile() feeds it a capture's stacks.

import type { AllocationSet } from '../../analysis/allocation-set.js';
import type { StackAmount } from '../../analysis/stacks.js';
import type { FrameId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { samplingNote } from '../../model/sampling.js';
import { formatBytes } from '../../util/units.js';
import { ProtoWriter } from './protobuf.js';

export interface PprofFrame {
  readonly function: string;
  readonly file: string;
  /** 0 when unknown. */
  readonly line: number;
}

export interface PprofSample {
  /** Root first. Empty: a stack without frames (one pseudo-location names it). */
  readonly frames: readonly PprofFrame[];
  /** One value per sample type; rounded to integers (sampled estimates are fractional). */
  readonly values: readonly number[];
}

export interface PprofData {
  readonly sampleTypes: readonly (readonly [type: string, unit: string])[];
  readonly samples: Iterable<PprofSample>;
  /** Unix time in ns when the profile starts; 0 or absent: unknown. */
  readonly timeNanos?: bigint;
  readonly durationNanos?: number;
  /** What the sampling counts in, and its period (bytes between samples); absent: every event. */
  readonly periodType?: readonly [type: string, unit: string];
  readonly period?: number;
  readonly comments?: readonly string[];
  readonly defaultSampleType?: string;
  /** The name of a stack without frames. */
  readonly emptyStackName?: string;
}

/** The four sample types of a heap profile, as Go writes them. */
export const HEAP_SAMPLE_TYPES = [
  ['alloc_objects', 'count'],
  ['alloc_space', 'bytes'],
  ['inuse_objects', 'count'],
  ['inuse_space', 'bytes'],
] as const;

/** The Profile message, not gzipped. */
export function encodePprof(data: PprofData): Uint8Array {
  const strings = new Map<string, number>();
  const table: string[] = [];
  const str = (s: string): number => {
    let i = strings.get(s);
    if (i === undefined) {
      i = table.length;
      table.push(s);
      strings.set(s, i);
    }
    return i;
  };
  str(''); // index 0 is always the empty string
  const typeIds = data.sampleTypes.map(([t, u]) => [str(t), str(u)] as const);

  // Functions by (name, file); locations by (function, line).
  const functionIds = new Map<string, number>();
  const functions: ProtoWriter[] = [];
  const locationIds = new Map<string, number>();
  const locations: ProtoWriter[] = [];
  const functionOf = (name: string, file: string): number => {
    const key = `${name}\u0000${file}`;
    let id = functionIds.get(key);
    if (id === undefined) {
      id = functions.length + 1;
      functionIds.set(key, id);
      // No system_name: pprof demangles system names, and a Python name like `<module>` demangles to nothing.
      functions.push(new ProtoWriter().uintField(1, id).uintField(2, str(name)).uintField(4, str(file)));
    }
    return id;
  };
  const locationOf = (f: PprofFrame): number => {
    const key = `${f.function}\u0000${f.file}\u0000${f.line}`;
    let id = locationIds.get(key);
    if (id === undefined) {
      id = locations.length + 1;
      locationIds.set(key, id);
      const line = new ProtoWriter().uintField(1, functionOf(f.function, f.file)).uintField(2, f.line);
      locations.push(new ProtoWriter().uintField(1, id).messageField(4, line));
    }
    return id;
  };
  const empty: PprofFrame = { function: data.emptyStackName ?? '<no Python stack>', file: '', line: 0 };

  const profile = new ProtoWriter();
  for (const [t, u] of typeIds) profile.messageField(1, new ProtoWriter().uintField(1, t).uintField(2, u));
  for (const s of data.samples) {
    // Leaf first, as pprof wants.
    const ids = s.frames.length === 0 ? [locationOf(empty)] : [...s.frames].reverse().map(locationOf);
    const values = s.values.map((v) => (v > 0 ? int64(Math.round(v)) : 0));
    profile.messageField(2, new ProtoWriter().packedField(1, ids).packedField(2, values));
  }
  for (const l of locations) profile.messageField(4, l);
  for (const f of functions) profile.messageField(5, f);
  // The string table must be complete before it is written: intern everything first.
  const comments = (data.comments ?? []).map(str);
  const [periodTypeName, periodUnit] = data.periodType ?? ['space', 'bytes'];
  const periodType = new ProtoWriter().uintField(1, str(periodTypeName)).uintField(2, str(periodUnit));
  const defaultType = data.defaultSampleType !== undefined ? str(data.defaultSampleType) : 0;
  for (const s of table) profile.stringField(6, s);
  if (data.timeNanos !== undefined && data.timeNanos > 0n) profile.uintField(9, data.timeNanos);
  if (data.durationNanos !== undefined && data.durationNanos > 0) profile.uintField(10, Math.round(data.durationNanos));
  profile.messageField(11, periodType);
  profile.uintField(12, data.period ?? 1);
  profile.packedField(13, comments);
  profile.uintField(14, defaultType);
  return profile.finish();
}

export interface PprofInput {
  readonly model: CaptureModel;
  /** Every allocation, per stack. */
  readonly allocated: readonly StackAmount[];
  /** The in-use set (peak or leaks), per stack. */
  readonly inuse: readonly StackAmount[];
  readonly inuseKind: AllocationSet['kind'];
}

/** A capture as a heap profile: one sample per distinct stack across both sets. */
export function pprofProfile(input: PprofInput): Uint8Array {
  const { model } = input;
  const samples = new Map<string, { frames: PprofFrame[]; values: [number, number, number, number] }>();
  const sampleOf = (frameIds: readonly FrameId[]): { values: [number, number, number, number] } => {
    const key = frameIds.join(',');
    let s = samples.get(key);
    if (s === undefined) {
      s = { frames: frameIds.map((id) => model.frames.frame(id)), values: [0, 0, 0, 0] };
      samples.set(key, s);
    }
    return s;
  };
  for (const st of input.allocated) {
    const s = sampleOf(st.frames);
    s.values[0] += st.count;
    s.values[1] += st.bytes;
  }
  for (const st of input.inuse) {
    const s = sampleOf(st.frames);
    s.values[2] += st.count;
    s.values[3] += st.bytes;
  }
  const h = model.header;
  const comments = [`memlens: ${h.argv.join(' ')}`, `inuse_*: ${input.inuseKind === 'leaks' ? 'allocations live when tracking ended' : 'allocations live at the high-water mark'}`];
  if (model.sampling !== undefined) comments.push(`values ${samplingNote(model.sampling, formatBytes)}`);
  return encodePprof({
    sampleTypes: HEAP_SAMPLE_TYPES,
    samples: samples.values(),
    timeNanos: h.startWallNs,
    durationNanos: model.durationNs,
    ...(model.sampling !== undefined ? { period: model.sampling.rateBytes } : {}),
    comments,
    defaultSampleType: 'inuse_space',
  });
}

/**
 * pprof's values are int64. A total over a long run can pass 2^53 (src/model/value-bounds.ts), and in
 * theory 2^63: beyond that it is written as the largest double below 2^63, as near as the format can say.
 */
function int64(v: number): number {
  return Math.min(v, 2 ** 63 - 1024);
}
