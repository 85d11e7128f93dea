// Sentences every terminal report shares: what was captured, which set of allocations a report shows,
// and what the reader should know about the data (damage, attach mode, missing pieces).

import type { AllocationSet } from '../analysis/allocation-set.js';
import type { HighWaterMark } from '../analysis/high-water-mark.js';
import type { TemporaryAllocations } from '../analysis/temporary.js';
import { MODE_ATTACH, OPTION_PYTHON_ALLOCATORS } from '../capture/format.js';
import type { CaptureModel } from '../model/model.js';
import { samplingNote } from '../model/sampling.js';
import { formatBytes, formatCount, formatDuration, formatTime } from '../util/units.js';
import { escapeLine } from '../util/terminal-text.js';
import { captureStopOf, describeCaptureStop, describeEndMoment, describeEnding, endingOf, type Ending } from '../analysis/ending.js';
import { signalName } from '../util/signals.js';

/** `python3 app.py --n 3 (PID 4242, CPython 3.11.7)`. */
export function describeCapture(model: CaptureModel): string {
  const h = model.header;
  const cmd = escapeLine(h.argv.length > 0 ? h.argv.join(' ') : h.script !== '' ? h.script : '(unknown command)');
  const bits: string[] = [];
  if (h.pid !== 0) bits.push(`PID ${h.pid}`);
  if (h.pythonVersion !== '') bits.push(escapeLine(`${h.pythonImplementation === 'cpython' || h.pythonImplementation === '' ? 'CPython' : h.pythonImplementation} ${h.pythonVersion}`));
  if (model.durationNs > 0) bits.push(`${formatDuration(model.durationNs)} tracked`);
  if (model.aggregated) bits.push('aggregated');
  if (model.sampling !== undefined) bits.push(`sampled every ${formatBytes(model.sampling.rateBytes)}`);
  return bits.length > 0 ? `${cmd} (${bits.join(', ')})` : cmd;
}

/** How the process ended and why tracking stopped, as every --json output gives it (docs/json.md). */
export function endingJson(e: Ending): Record<string, unknown> {
  return {
    kind: e.kind,
    stop_reason: e.stopReason,
    went_on: e.wentOn,
    stop_ns: e.stopNs ?? null,
    exit_code: e.exitCode ?? null,
    signal: e.signal ?? null,
    signal_name: e.signal !== undefined ? signalName(e.signal) : null,
    oom_kill: e.oomKill ?? 'unknown',
    detail: e.detail,
    trailer_reason: e.trailerReason ?? null,
    memlens_signal: e.memlensSignal !== undefined ? signalName(e.memlensSignal) : null,
    end_ns: e.endNs,
    program_end: e.programEnd === undefined ? null : { time_ns: e.programEnd.timeNs, names_released: e.programEnd.released, kept_because: e.programEnd.released ? null : e.programEnd.keptBecause },
    summary: describeEnding(e),
  };
}

/** One sentence on the set a report shows. */
export function describeSet(model: CaptureModel, set: AllocationSet): string {
  const amount = `${formatBytes(set.totalBytes)} in ${formatCount(set.totalCount)} allocation${set.totalCount === 1 ? '' : 's'}`;
  switch (set.kind) {
    case 'peak': {
      const hwm = set as HighWaterMark;
      const w = model.window;
      const where = w !== undefined ? ` inside the window ${w.fromNs !== undefined ? formatTime(w.fromNs) : 'start'} – ${w.toNs !== undefined ? formatTime(w.toNs) : 'end'}` : '';
      const when = hwm.timeNs !== undefined ? `, at about ${formatTime(hwm.timeNs)}` : '';
      return `Allocations live at the high-water mark${where}${when}: ${amount}.`;
    }
    case 'leaks':
      return `Allocations still live at the end (${describeEndMoment(endingOf(model), model.header.mode === MODE_ATTACH)}): ${amount}.`;
    case 'temporary': {
      const t = set as TemporaryAllocations;
      return `Temporary allocations (freed after at most ${t.threshold} other allocation${t.threshold === 1 ? '' : 's'} by their thread): ${amount}.`;
    }
    case 'total':
      return `All allocations made while tracking: ${amount}.`;
  }
}

/** Why a set is empty, in words, so that no report is an empty table without explanation. */
export function explainEmpty(model: CaptureModel, set: AllocationSet): string {
  if (model.allocations === 0) {
    return model.aggregated
      ? 'This capture holds no allocations: the agent wrote no location with memory in it (did tracking start before the process ended?).'
      : 'This capture holds no allocations: tracking saw none (the program ended before allocating, or the capture was cut short before its first events).';
  }
  switch (set.kind) {
    case 'leaks':
      return `No allocation was still live when tracking ended (${formatCount(model.allocations)} allocations, all freed).`;
    case 'temporary':
      return `No allocation was freed soon enough to count as temporary (${formatCount(model.allocations)} allocations). Try a higher --temporary-allocation-threshold.`;
    case 'peak':
      return 'Nothing was live at the high-water mark of the window asked for.';
    case 'total':
      return 'No allocation to show.';
  }
}

/**
 * The warning a leaks report needs when Python's allocators were not traced (as memray gives it): small
 * objects then live in pymalloc's arenas, which the agent sees as mmaps charged to whichever line needed a
 * new arena, and an arena that still holds one live object shows as leaked whole. Undefined when it does
 * not apply (not a leaks report, allocators traced, or Python ran without pymalloc).
 */
export function leaksAllocatorNote(model: CaptureModel, set: Pick<AllocationSet, 'kind'>): string | undefined {
  if (set.kind !== 'leaks' || (model.header.options & OPTION_PYTHON_ALLOCATORS) !== 0) return undefined;
  const allocator = model.header.pythonAllocator;
  if (allocator !== 'unknown' && !allocator.startsWith('pymalloc')) return undefined;
  return (
    "Python's allocators were not traced (no --trace-python-allocators): leaked small objects show as pymalloc's arenas " +
    '(1 MiB blocks, 256 KiB before CPython 3.10) charged to whichever line needed a new arena, and an arena that still holds one live object shows as leaked whole. ' +
    'For leaks of small objects, capture again with --trace-python-allocators.'
  );
}

/**
 * A marker's label as a reader wants it: the agent writes its figures in bytes (`cgroup memory usage
 * 285130752 of limit 314572800`), the reports show them in binary units with the share
 * (`cgroup memory usage 272 MiB of the 300 MiB limit (91%)`). Other labels are left as they are.
 */
export function markerLabelText(label: string): string {
  return label.replace(/cgroup memory usage (\d+) of limit (\d+)/, (_, usage: string, limit: string) => {
    const u = Number(usage);
    const l = Number(limit);
    return `cgroup memory usage ${formatBytes(u)} of the ${formatBytes(l)} limit${l > 0 ? ` (${Math.round((100 * u) / l)}%)` : ''}`;
  });
}

/** Notes on the data worth a line under a report. Empty when all is well. */
export function captureNotes(model: CaptureModel): string[] {
  const notes: string[] = [];
  const s = model.sampling;
  if (s !== undefined) {
    const eight = 8 * 1024 * 1024;
    notes.push(
      `Figures are ${samplingNote(s, formatBytes)}: a site of B bytes is within about ±√(R/B) ` +
        `(±${Math.round(100 * Math.sqrt(s.rateBytes / eight))}% for ${formatBytes(eight)}); allocations of ${formatBytes(s.exactBytes)} or more are exact.`,
    );
  }
  const a = model.anomalies;
  if (model.warnings.length > 0) {
    const skipped = model.warnings.reduce((n, w) => n + w.skippedBytes, 0);
    notes.push(`The capture is damaged: ${model.warnings.length} region${model.warnings.length === 1 ? '' : 's'} (${formatBytes(skipped)}) could not be read; figures leave them out.`);
  }
  if (model.header.mode === MODE_ATTACH) {
    notes.push('Attached to a running process: allocations made before the attach are not seen, and their frees are ignored.');
  } else if (a.unknownFrees > 0 && model.allocations > 0) {
    notes.push(`${formatCount(a.unknownFrees)} free${a.unknownFrees === 1 ? '' : 's'} of memory allocated before tracking started were ignored.`);
  }
  if (a.missedFrees > 0) notes.push(`${formatCount(a.missedFrees)} free${a.missedFrees === 1 ? ' was' : 's were'} missed (an address was allocated again while live): the older allocation was dropped.`);
  if (a.unknownStacks > 0) notes.push(`${formatCount(a.unknownStacks)} stack reference${a.unknownStacks === 1 ? '' : 's'} could not be resolved (lost to damage): shown without a stack.`);
  if (model.frames.unknownCodes > 0) notes.push(`${formatCount(model.frames.unknownCodes)} frame${model.frames.unknownCodes === 1 ? "'s" : "s'"} code object never arrived: shown as <unknown code N>.`);
  const impossible = impossibleNote(model);
  if (impossible !== undefined) notes.push(impossible);
  if (a.unreadableLineTables > 0) {
    const one = a.unreadableLineTables === 1;
    notes.push(`${formatCount(a.unreadableLineTables)} code object${one ? "'s line table" : "s' line tables"} could not be read (a kind this memlens does not know): shown at the function's first line.`);
  }
  const stop = captureStopOf(model);
  if (stop !== undefined) notes.push(describeCaptureStop(stop));
  else if (model.trailer === undefined && model.allocations > 0 && !model.aggregated) {
    notes.push(
      model.exit !== undefined && model.exit.signal !== 0
        ? `The process was killed by signal ${model.exit.signal}${model.exit.oomKill === 1 ? ' (the OOM killer)' : ''} before tracking ended: the capture stops there.`
        : 'The capture has no trailer: the process ended (or was killed) before tracking stopped; the capture stops there.',
    );
  }
  const dropped = model.trailer?.droppedEvents ?? model.agentStats?.droppedEvents ?? 0;
  if (dropped > 0) notes.push(`The agent dropped ${formatCount(dropped)} events: figures undercount.`);
  return notes;
}

/**
 * The records left out for a value no process can have (src/model/value-bounds.ts), with the first one:
 * `2 records held values no process can have (the first: an alloc's size of 8.00 PiB): left out.`
 */
export function impossibleNote(model: CaptureModel): string | undefined {
  const { impossibleValues: n, firstImpossible: first } = model.anomalies;
  if (n === 0 || first === undefined) return undefined;
  const value = first.bytes ? formatBytes(first.value) : formatCount(first.value);
  return `${formatCount(n)} record${n === 1 ? '' : 's'} held ${n === 1 ? 'a value' : 'values'} no process can have (the first: ${first.record} ${first.field} ${value}): left out.`;
}
