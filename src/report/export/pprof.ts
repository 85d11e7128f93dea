// pprof export (github.com/google/pprof proto/profile.proto), as Go's heap profiles: sample types
// alloc_objects/count, alloc_space/bytes, inuse_objects/count, inuse_space/bytes. "alloc" is every
// allocation made while tracking; "inuse" is what was live at the high-water mark (or at the end with
// --leaks). One sample per stack; one location per frame (function, file, line). The caller gzips it.

import type { AllocationSet } from '../../analysis/allocation-set.js';
import type { StackAmount } from '../../analysis/stacks.js';
import type { FrameId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import { ProtoWriter } from './protobuf.js';

export interface PprofInput {
  readonly model: CaptureModel;
  /** Every allocation, per stack. */
  readonly allocated: readonly StackAmount[];
  /** The in-use set (peak or leaks), per stack. */
  readonly inuse: readonly StackAmount[];
  readonly inuseKind: AllocationSet['kind'];
}

export function pprofProfile(input: PprofInput): Uint8Array {
  const { model } = input;
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

  const sampleTypes = [
    ['alloc_objects', 'count'],
    ['alloc_space', 'bytes'],
    ['inuse_objects', 'count'],
    ['inuse_space', 'bytes'],
  ] as const;
  const typeIds = sampleTypes.map(([t, u]) => [str(t), str(u)] as const);

  // Samples: one per distinct stack across both sets.
  interface Sample {
    readonly frames: readonly FrameId[];
    values: [number, number, number, number];
  }
  const samples = new Map<string, Sample>();
  const sampleOf = (frames: readonly FrameId[]): Sample => {
    const key = frames.join(',');
    let s = samples.get(key);
    if (s === undefined) {
      s = { frames, values: [0, 0, 0, 0] };
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

  // Functions by (name, file); locations by frame id. A stack without frames gets one pseudo-location.
  const functionIds = new Map<string, number>();
  const functions: ProtoWriter[] = [];
  const locationIds = new Map<FrameId | -1, number>();
  const locations: ProtoWriter[] = [];
  const functionOf = (name: string, file: string, startLine: number): number => {
    const key = `${name}\u0000${file}`;
    let id = functionIds.get(key);
    if (id === undefined) {
      id = functions.length + 1;
      functionIds.set(key, id);
      // No system_name: pprof demangles system names, and a Python name like `<module>` demangles to nothing.
      functions.push(new ProtoWriter().uintField(1, id).uintField(2, str(name)).uintField(4, str(file)).uintField(5, startLine));
    }
    return id;
  };
  const locationOf = (frameId: FrameId | -1): number => {
    let id = locationIds.get(frameId);
    if (id === undefined) {
      id = locations.length + 1;
      locationIds.set(frameId, id);
      const f = frameId === -1 ? { function: '<no Python stack>', file: '', line: 0 } : model.frames.frame(frameId);
      const fn = functionOf(f.function, f.file, 0);
      const line = new ProtoWriter().uintField(1, fn).uintField(2, f.line);
      locations.push(new ProtoWriter().uintField(1, id).messageField(4, line));
    }
    return id;
  };

  const profile = new ProtoWriter();
  for (const [t, u] of typeIds) profile.messageField(1, new ProtoWriter().uintField(1, t).uintField(2, u));
  for (const s of samples.values()) {
    // Leaf first, as pprof wants.
    const ids = s.frames.length === 0 ? [locationOf(-1)] : [...s.frames].reverse().map(locationOf);
    profile.messageField(2, new ProtoWriter().packedField(1, ids).packedField(2, s.values.map(int64)));
  }
  for (const l of locations) profile.messageField(4, l);
  for (const f of functions) profile.messageField(5, f);
  const h = model.header;
  const comments = [
    `memlens: ${h.argv.join(' ')}`,
    `inuse_*: ${input.inuseKind === 'leaks' ? 'allocations live when tracking ended' : 'allocations live at the high-water mark'}`,
  ].map(str);
  // The string table must be complete before it is written: intern everything first.
  const periodType = new ProtoWriter().uintField(1, str('space')).uintField(2, str('bytes'));
  const defaultType = str('inuse_space');
  for (const s of table) profile.stringField(6, s);
  if (h.startWallNs > 0n) profile.uintField(9, h.startWallNs);
  profile.uintField(10, model.durationNs);
  profile.messageField(11, periodType);
  profile.uintField(12, 1);
  profile.packedField(13, comments);
  profile.uintField(14, defaultType);
  return profile.finish();
}

/**
 * pprof's values are int64. A total over a long run can pass 2^53 (src/model/value-bounds.ts), and in
 * theory 2^63: beyond that it is written as the largest double below 2^63, as near as the format can say.
 */
function int64(v: number): number {
  return Math.min(v, 2 ** 63 - 1024);
}
