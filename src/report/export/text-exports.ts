// The text exports: folded stacks (flamegraph.pl), speedscope JSON, CSV and gprof2dot JSON as memray's
// `transform` writes them. Each takes stacks (frame ids, root first) of one set of allocations.

import type { StackAmount } from '../../analysis/stacks.js';
import { ALLOCATORS } from '../../capture/format.js';
import type { Frame } from '../../model/frames.js';
import type { FrameId } from '../../model/ids.js';
import type { CaptureModel } from '../../model/model.js';
import type { SiteAmount } from '../../analysis/allocation-set.js';
import type { FrameFilter } from '../../model/frames.js';

const NO_STACK_FRAME = { function: '<no Python stack>', file: '', line: 0 };

/**
 * An amount as digits: totals over a long run can pass 2^53 (src/model/value-bounds.ts) and from 10^21 on
 * String() writes an exponent (`1e+21`), which flamegraph.pl and CSV readers take for text.
 */
function integerText(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : Number.isInteger(n) ? BigInt(n).toString() : String(Math.round(n));
}

function frameOf(model: CaptureModel, id: FrameId): Pick<Frame, 'function' | 'file' | 'line'> {
  return model.frames.frame(id);
}

/** `func (file:line)` with the characters that would break the format replaced. */
function foldedFrame(f: Pick<Frame, 'function' | 'file' | 'line'>): string {
  const label = f.file === '' ? f.function : f.line > 0 ? `${f.function} (${f.file}:${f.line})` : `${f.function} (${f.file})`;
  return label.replace(/[;\r\n]/g, ':');
}

/** flamegraph.pl input: `outer;…;inner BYTES`, one line per stack, largest first. */
export function foldedStacks(model: CaptureModel, stacks: readonly StackAmount[]): string {
  const lines: string[] = [];
  for (const st of stacks) {
    if (st.bytes <= 0) continue;
    const ids = st.frames;
    const frames = ids.length === 0 ? [foldedFrame(NO_STACK_FRAME)] : ids.map((id) => foldedFrame(frameOf(model, id)));
    lines.push(`${frames.join(';')} ${integerText(st.bytes)}`);
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

/** speedscope's file format (https://www.speedscope.app/file-format-schema.json): two sampled profiles. */
export function speedscopeProfile(model: CaptureModel, stacks: readonly StackAmount[], exporter: string): Record<string, unknown> {
  const frames: { name: string; file?: string; line?: number }[] = [];
  const frameIndex = new Map<FrameId | -1, number>();
  const indexOf = (id: FrameId | -1): number => {
    let i = frameIndex.get(id);
    if (i === undefined) {
      i = frames.length;
      const f = id === -1 ? NO_STACK_FRAME : frameOf(model, id);
      const entry: { name: string; file?: string; line?: number } = { name: f.function };
      if (f.file !== '') entry.file = f.file;
      if (f.line > 0) entry.line = f.line;
      frames.push(entry);
      frameIndex.set(id, i);
    }
    return i;
  };
  const samples: number[][] = [];
  const bytes: number[] = [];
  const counts: number[] = [];
  for (const st of stacks) {
    if (st.bytes <= 0 && st.count <= 0) continue;
    const ids = st.frames;
    samples.push(ids.length === 0 ? [indexOf(-1)] : ids.map(indexOf));
    bytes.push(st.bytes);
    counts.push(st.count);
  }
  const profile = (name: string, unit: string, weights: number[]): Record<string, unknown> => ({
    type: 'sampled',
    name,
    unit,
    startValue: 0,
    endValue: weights.reduce((a, b) => a + b, 0),
    samples,
    weights,
  });
  return {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    shared: { frames },
    profiles: [profile('Memory', 'bytes', bytes), profile('Allocations', 'none', counts)],
    name: model.header.argv.join(' ') || 'memlens',
    activeProfileIndex: 0,
    exporter,
  };
}

/** memray's CSV: allocator, num_allocations, size, tid, thread_name, stack_trace (leaf first, `func;file;line|…`). */
export function csvRows(model: CaptureModel, sites: readonly SiteAmount[], filter: FrameFilter): string {
  interface Row {
    allocator: string;
    count: number;
    bytes: number;
    tid: number;
    thread: string;
    stack: string;
  }
  const rows = new Map<string, Row>();
  for (const s of sites) {
    const frames = model.frames.stack(model.sites.pyStack(s.site), model.sites.nativeStack(s.site), filter);
    const stack = [...frames]
      .reverse()
      .map((id) => {
        const f = frameOf(model, id);
        return `${f.function};${f.file};${f.line}`;
      })
      .join('|');
    const t = model.threads[model.sites.thread(s.site)];
    const allocator = (ALLOCATORS[model.sites.allocator(s.site)] ?? 'other').toUpperCase();
    const tid = t?.osTid ?? 0;
    const key = `${allocator}\u0000${tid}\u0000${stack}`;
    let r = rows.get(key);
    if (r === undefined) {
      r = { allocator, count: 0, bytes: 0, tid, thread: t?.name ?? '', stack };
      rows.set(key, r);
    }
    r.count += s.count;
    r.bytes += s.bytes;
  }
  const out = [csvLine(['allocator', 'num_allocations', 'size', 'tid', 'thread_name', 'stack_trace'])];
  for (const r of [...rows.values()].sort((a, b) => b.bytes - a.bytes)) {
    out.push(csvLine([r.allocator, integerText(r.count), integerText(r.bytes), String(r.tid), r.thread, r.stack]));
  }
  // Python's csv module (which memray uses) ends rows with CRLF.
  return out.join('');
}

function csvLine(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',') + '\r\n';
}

/** gprof2dot's JSON input, as memray writes it: functions (name, module=file), events with leaf-first call chains. */
export function gprof2dotJson(model: CaptureModel, stacks: readonly StackAmount[]): Record<string, unknown> {
  const functions: { name: string; module: string }[] = [];
  const index = new Map<string, number>();
  const events: { callchain: number[]; cost: number[] }[] = [];
  for (const st of stacks) {
    if (st.leaf === undefined || st.bytes <= 0) continue;
    const chain: number[] = [];
    st.walk((id) => {
      const f = frameOf(model, id);
      const key = `${f.function}\u0000${f.file}`;
      let k = index.get(key);
      if (k === undefined) {
        k = functions.length;
        functions.push({ name: f.function, module: f.file });
        index.set(key, k);
      }
      chain.push(k);
    });
    events.push({ callchain: chain, cost: [st.bytes] });
  }
  return { version: 0, costs: [{ description: 'Memory', unit: 'bytes' }], events, functions };
}
