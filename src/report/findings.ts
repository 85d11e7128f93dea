// Findings as text (verdict, summary), as sentences for the HTML report's verdict panel, and as JSON.
// Each finding shows its evidence and what to do; the analysis (analysis/findings/) decided it fires.

import type { HeldAs } from '../analysis/capture-census.js';
import type { Finding } from '../analysis/findings/index.js';
import { programEndOf } from '../analysis/program-end.js';
import { MODE_ATTACH } from '../capture/format.js';
import type { StackAmount } from '../analysis/stacks.js';
import type { Frame } from '../model/frames.js';
import type { FrameId } from '../model/ids.js';
import type { CaptureModel } from '../model/model.js';
import { type Paint, noPaint } from '../util/paint.js';
import { displayPath, textWidth, truncateLeft, wrapText } from '../util/text.js';
import { formatBytes, formatCount, formatDuration, formatRate, formatTime } from '../util/units.js';
import { escapeLine } from '../util/terminal-text.js';

/** `load_chunk at app/batch.py:14` (the file relative to the program's directory). */
export function frameText(model: CaptureModel, id: FrameId | -1): string {
  if (id === -1) return '(no Python frame)';
  const f = model.frames.frame(id);
  const fn = escapeLine(f.function);
  if (f.native) return fn;
  const file = escapeLine(displayPath(f.file, model.header.cwd));
  return file === '' ? fn : f.line > 0 ? `${fn} at ${file}:${f.line}` : `${fn} at ${file}`;
}

/** A frame in a stack line: `load (app.py:14)`; `:14` alone when the caller is in the same file, and a
 * nested function without its enclosing one's prefix (`load.<locals>.<listcomp>` after `load`). */
/**
 * The rate leaves out the time memlens took from the program (its pauses, its recording: own-time.ts); where
 * that is much of the span, the rate is not the bytes over the times shown, and the reader is told why.
 */
function ownTimeText(g: { readonly fromNs: number; readonly toNs: number; readonly pausedNs: number }): string {
  return g.pausedNs > OWN_TIME_SAID_SHARE * (g.toNs - g.fromNs) ? `, leaving out the ${formatDuration(g.pausedNs)} memlens took` : '';
}
/** memlens's time is named in the rate from this share of the span on. */
const OWN_TIME_SAID_SHARE = 0.1;

function short(model: CaptureModel, f: Frame, caller: Frame | undefined): string {
  if (f.native) return escapeLine(f.function);
  const file = escapeLine(displayPath(f.file, model.header.cwd));
  const base = file.slice(file.lastIndexOf('/') + 1);
  let name = f.function;
  const nested = caller === undefined || caller.native ? '' : `${caller.function}.<locals>.`;
  if (nested !== '' && name.startsWith(nested)) name = name.slice(nested.length);
  name = escapeLine(name);
  const where = caller !== undefined && !caller.native && caller.file === f.file ? '' : base;
  return f.line > 0 ? `${name} (${where}:${f.line})` : where === '' ? name : `${name} (${where})`;
}

/**
 * A stack on one line, outermost first, as many of the innermost frames as fit in `width`:
 * `… → main (app.py:20) → load (:14)`.
 */
export function stackText(model: CaptureModel, frames: readonly FrameId[], width = Infinity): string {
  if (frames.length === 0) return '(no Python stack)';
  const fs = frames.map((id) => model.frames.frame(id));
  // The innermost frame shown names its file even when its caller is in the same file.
  const part = (i: number, first: boolean): string => short(model, fs[i]!, first ? undefined : fs[i - 1]);
  let text = part(fs.length - 1, fs.length === 1);
  for (let i = fs.length - 2; i >= 0; i--) {
    // Re-render the frame after this one relative to it, and this one with its own file.
    const inner = [part(i, true), ...Array.from({ length: fs.length - 1 - i }, (_, k) => part(i + 1 + k, false))].join(' → ');
    if (textWidth(inner) > width - (i > 0 ? 4 : 0)) return textWidth(`… → ${text}`) <= width ? `… → ${text}` : truncateLeft(text, width);
    text = inner;
  }
  return textWidth(text) <= width ? text : truncateLeft(text, width);
}

function plural(n: number, word: string, many = `${word}s`): string {
  return `${formatCount(n)} ${n === 1 ? word : many}`;
}

/**
 * The program's own line first, with the library or native frame that allocated beside it:
 * `load_partition at job.py:7 (in ones, numeric.py:233)`.
 */
export function lineText(model: CaptureModel, line: FrameId | -1, leaf: FrameId | undefined): string {
  const own = frameText(model, line);
  if (leaf === undefined) return own;
  const f = model.frames.frame(leaf);
  const file = displayPath(f.file, model.header.cwd);
  const base = file.slice(file.lastIndexOf('/') + 1);
  return `${own} (in ${f.native || base === '' ? f.function : `${f.function}, ${base}${f.line > 0 ? `:${f.line}` : ''}`})`;
}

/** What a census says holds the memory, and when it was taken. */
function heldAsText(h: HeldAs | undefined, census: { readonly timeNs: number; readonly label: string } | undefined): string {
  if (census === undefined) return '';
  const when = `The census at ${formatTime(census.timeNs)}${census.label === 'near-oom' ? ' (near OOM)' : census.label !== '' ? ` (${census.label})` : ''}`;
  if (h === undefined) return '';
  const path = h.path === undefined ? '' : ` ${h.path.count === h.count ? 'They are' : `${formatCount(h.path.count)} of them (${formatBytes(h.path.bytes)}) are`} kept by ${escapeLine(h.path.pattern)}.`;
  return ` ${when} counts ${plural(h.count, `${escapeLine(h.type)} object`)} holding ${formatBytes(h.bytes)} (${(100 * h.share).toFixed(0)}% of what it measured): most likely what holds it.${path}`;
}

/** A climb's last rise is said when the line then held still for more than this share of its time (a
 * leak that stopped before the end); a line still rising has its last rise within an interval of the end. */
const LAST_RISE_SAID_SHARE = 0.1;

const ARENAS_TEXT =
  " This memory is pymalloc's arenas (blocks of small Python objects), charged to the line that needed a new arena; memlens run --trace-python-allocators shows the lines that made the objects.";

/** The evidence of a finding, one sentence per item. */
export function findingEvidence(model: CaptureModel, f: Finding, stackWidth = 90): string[] {
  // Findings judge the program at its end (analysis/program-end.ts): where memlens released the script's
  // names after it, "live at the end" of the verdict is after that release, so a finding says which end.
  const theEnd = programEndOf(model)?.released === true ? "the program's end" : 'the end';
  switch (f.kind) {
    case 'accumulation':
      return f.items.map((i) => {
        const g = i.growth;
        let limit: string;
        if (f.limit !== undefined) {
          const share = `${(100 * (i.shareOfLimit ?? 0)).toFixed(0)}% of the ${formatBytes(f.limit)} limit`;
          const reached = f.limitReachedNs !== undefined ? `; usage reached the limit at ${formatTime(f.limitReachedNs)}` : '';
          if (f.oomKilled) limit = `; it holds ${share}${reached}, and the OOM killer ended the process`;
          else if (i.limitInNs === 0) limit = `; it holds ${share}${reached !== '' ? reached : ', and usage had reached the limit'}`;
          else limit = `; it holds ${share}; at this rate usage (${formatBytes(f.usage?.bytes ?? 0)} at the last snapshot) reaches the limit ${formatDuration(i.limitInNs ?? 0)} after it`;
        } else if (model.header.mode === MODE_ATTACH) {
          // The process runs on after an attach: how much it adds over an hour is what an operator plans by.
          limit = `; no memory limit was recorded: at this rate the process adds ${formatBytes(i.bytesPerSecond * 3600)} an hour`;
        } else {
          limit = '; no memory limit was recorded';
        }
        return (
          `${lineText(model, i.line, i.leaf)}: kept ${formatBytes(g.bytes)} from ${formatTime(g.fromNs)} to ${formatTime(g.toNs)} (${formatRate(i.bytesPerSecond)}${ownTimeText(g)}${g.toNs - g.lastRiseNs > LAST_RISE_SAID_SHARE * (g.toNs - g.fromNs) ? `; its last rise at ${formatTime(g.lastRiseNs)}` : ''}), ` +
          `rising in ${formatCount(g.rises)} of ${plural(g.samples, model.aggregated ? 'interval between checkpoints' : 'interval between snapshots', model.aggregated ? 'intervals between checkpoints' : 'intervals between snapshots')} and never given back; ` +
          `${formatBytes(i.bytes)} in ${plural(i.count, 'allocation')} live at ${theEnd} (${formatCount(i.made)} made)${limit}.` +
          heldAsText(i.heldAs, f.census) +
          (i.arenas ? ARENAS_TEXT : '') +
          ` Stack: ${stackText(model, i.frames, stackWidth)}`
        );
      });
    case 'growing-collection':
      return f.items.map(
        (i) =>
          `${lineText(model, i.line, i.leaf)}: ${plural(i.added, 'object')} added from ${formatTime(i.fromNs)} to ${formatTime(i.lastAddedNs)} and kept (the capture ends at ${formatTime(i.toNs)}); ` +
          `${formatBytes(i.bytes)} in ${plural(i.count, 'allocation')} live at ${theEnd}.` +
          heldAsText(i.heldAs, f.census) +
          (i.arenas ? ARENAS_TEXT : '') +
          ` Stack: ${stackText(model, i.frames, stackWidth)}`,
      );
    case 'huge-allocation': {
      const when = f.at === 'limit' ? `when usage reached the limit (${formatTime(f.atNs)})` : f.at === 'near-oom' ? `at the near-OOM marker (${formatTime(f.atNs)})` : 'at the end';
      return [
        `${lineText(model, f.line, f.leaf)}: one allocation of ${formatBytes(f.allocationBytes)}, ${(100 * (f.allocationBytes / f.limit)).toFixed(0)}% of the ${formatBytes(f.limit)} limit, ` +
          `made at ${formatTime(f.madeNs)} and alive ${when}${f.oomKilled ? '; the OOM killer ended the process' : ''}. Stack: ${stackText(model, f.frames, stackWidth)}`,
      ];
    }
    case 'freed-not-returned': {
      const out = [
        `At ${formatTime(f.timeNs)} the tracked heap was ${formatBytes(f.heap)}, down from its peak of ${formatBytes(f.peakHeap)}, but anonymous RSS was still ${formatBytes(f.rssAnon)}: ` +
          `${formatBytes(f.bytes)} freed by the program and kept by the process (beyond the ${formatBytes(f.baseline)} the interpreter held at the start).`,
      ];
      for (const x of f.freed.slice(0, 3)) out.push(`${formatBytes(x.bytes)} of the peak freed since, made at ${lineText(model, x.line, x.leaf)}`);
      return out;
    }
    case 'large-objects-kept':
      return f.items.map((i) => {
        if (i.proof === 'repeated') {
          return (
            `${formatBytes(i.bytes)} in ${plural(i.count, 'allocation')} made by ${frameText(model, i.maker)}, the first at ${formatTime(i.firstAllocNs)}; ` +
            `none freed, all still live at ${theEnd} (${formatTime(f.endNs)}): the first for ${formatDuration(i.outlivedNs)}. ` +
            `Stack: ${stackText(model, i.frames, stackWidth)}`
          );
        }
        const maker = model.frames.frame(i.maker).function;
        const live =
          i.liveAtEndCount === i.count
            ? `all still live at ${theEnd} (${formatTime(f.endNs)})`
            : i.liveAtEndCount > 0
              ? `${formatBytes(i.liveAtEndBytes)} of it still live at ${theEnd} (${formatTime(f.endNs)})`
              : 'freed only late in the run';
        return (
          `${formatBytes(i.bytes)} in ${plural(i.count, 'allocation')} made by ${frameText(model, i.maker)}, the first at ${formatTime(i.firstAllocNs)}; ` +
          `${maker} had returned by ${formatTime(i.makerReturnedNs)}; ${live}, up to ${formatDuration(i.outlivedNs)} after it returned. ` +
          `Stack: ${stackText(model, i.frames, stackWidth)}`
        );
      });
    case 'thread-churn':
    case 'many-threads': {
      const t = f.threads;
      const out: string[] = [];
      if (f.kind === 'thread-churn') {
        out.push(
          `${plural(t.started, 'thread')} started and ${formatCount(t.ended)} ended between ${formatTime(t.firstStartNs ?? 0)} and ${formatTime(t.lastStartNs ?? 0)}; ` +
            `${formatCount(t.replacements)} of them started after another had ended${t.medianLifeNs !== undefined ? `; the median thread lived ${formatDuration(t.medianLifeNs)}` : ''}.`,
        );
      } else {
        out.push(`${plural(t.maxAlive, 'thread')} alive at once${t.maxAliveNs !== undefined ? ` at ${formatTime(t.maxAliveNs)}` : ''} (${formatCount(t.started)} started in all).`);
      }
      const entries = t.entries.slice(0, 3).map((e) => `${frameText(model, e.frame)} (${plural(e.threads, 'thread')})`);
      if (entries.length > 0) out.push(`They ran: ${entries.join(', ')}${t.entries.length > 3 ? ', …' : ''}.`);
      return out;
    }
    case 'process-churn':
      return [
        `${plural(f.forks, 'process', 'processes')} forked between ${formatTime(f.firstNs)} and ${formatTime(f.lastNs)} (children ${f.childPids.join(', ')}${f.forks > f.childPids.length ? ', …' : ''}).`,
      ];
    case 'collection-growth':
      return f.items.map(
        (i) =>
          `${frameText(model, i.line)}: ${plural(i.growths, 'growth')} by reallocation, up to ${formatBytes(i.maxBytes)}; ${formatBytes(i.copiedBytes)} copied in all. ` +
          `Stack: ${stackText(model, i.frames, stackWidth)}`,
      );
    case 'gc-cycles': {
      const out = [
        `${formatBytes(f.bytes)} in ${plural(f.allocations, 'allocation')} freed by ${plural(f.collections, 'collection')}` +
          (f.largest !== undefined ? ` (the most, ${formatBytes(f.largest.bytes)}, by a generation-${f.largest.generation} collection at ${formatTime(f.largest.timeNs)})` : '') +
          '.',
      ];
      for (const st of f.stacks) out.push(`${formatBytes(st.bytes)} in ${plural(st.count, 'allocation')} made at ${stackText(model, st.frames, stackWidth)}`);
      return out;
    }
  }
}

export interface FindingsTextOptions {
  readonly width: number;
  readonly paint?: Paint;
  /** Only the title and the first line of evidence of each (summary's short list). */
  readonly brief?: boolean;
}

export function renderFindings(model: CaptureModel, list: readonly Finding[], options: FindingsTextOptions): string[] {
  const paint = options.paint ?? noPaint;
  const width = Math.max(40, options.width);
  const out: string[] = [];
  list.forEach((f, k) => {
    const head = `${k + 1}. `;
    const pad = ' '.repeat(2 + head.length);
    out.push(paint('bold', `  ${head}${f.title}`));
    const evidence = findingEvidence(model, f, width - pad.length - 2);
    for (const e of options.brief === true ? evidence.slice(0, 1) : evidence) out.push(...wrapText(e, width, `${pad}  `, `${pad}- `));
    out.push(...wrapText(`What to do: ${f.advice}`, width, pad).map((l) => paint('cyan', l)));
  });
  return out;
}

function framesJson(model: CaptureModel, frames: readonly FrameId[]): { function: string; file: string; line: number }[] {
  return frames.map((id) => {
    const f = model.frames.frame(id);
    return { function: f.function, file: f.file, line: f.line };
  });
}

function heldAsJson(h: HeldAs | undefined): Record<string, unknown> | null {
  return h === undefined
    ? null
    : { type: h.type, count: h.count, bytes: h.bytes, share: h.share, path: h.path === undefined ? null : { pattern: h.path.pattern, count: h.path.count, bytes: h.path.bytes } };
}

export function stackJson(model: CaptureModel, st: StackAmount): Record<string, unknown> {
  return { bytes: st.bytes, count: st.count, stack: framesJson(model, st.frames) };
}

export function findingJson(model: CaptureModel, f: Finding): Record<string, unknown> {
  const base = { kind: f.kind, title: f.title, advice: f.advice, bytes: f.bytes, evidence: findingEvidence(model, f) };
  const frame = (id: FrameId | -1) => (id === -1 ? null : (framesJson(model, [id])[0] ?? null));
  switch (f.kind) {
    case 'accumulation':
      return {
        ...base,
        limit: f.limit ?? null,
        usage: f.usage === undefined ? null : { bytes: f.usage.bytes, time_ns: f.usage.timeNs, what: f.usage.what },
        oom_killed: f.oomKilled,
        limit_reached_ns: f.limitReachedNs ?? null,
        census: f.census === undefined ? null : { time_ns: f.census.timeNs, label: f.census.label },
        items: f.items.map((i) => ({
          line: frame(i.line),
          leaf: i.leaf === undefined ? null : frame(i.leaf),
          bytes: i.bytes,
          count: i.count,
          made: i.made,
          growth_bytes: i.growth.bytes,
          from_ns: i.growth.fromNs,
          to_ns: i.growth.toNs,
          last_rise_ns: i.growth.lastRiseNs,
          rises: i.growth.rises,
          samples: i.growth.samples,
          // Over [from_ns, to_ns] less memlens_ns: memlens's pauses and its own recording on the program's threads.
          bytes_per_second: i.bytesPerSecond,
          memlens_ns: i.growth.pausedNs,
          share_of_limit: i.shareOfLimit ?? null,
          limit_in_ns: i.limitInNs ?? null,
          held_as: heldAsJson(i.heldAs),
          pymalloc_arenas: i.arenas,
          stack: framesJson(model, i.frames),
        })),
      };
    case 'growing-collection':
      return {
        ...base,
        census: f.census === undefined ? null : { time_ns: f.census.timeNs, label: f.census.label },
        items: f.items.map((i) => ({
          line: frame(i.line),
          leaf: i.leaf === undefined ? null : frame(i.leaf),
          bytes: i.bytes,
          count: i.count,
          added: i.added,
          from_ns: i.fromNs,
          last_added_ns: i.lastAddedNs,
          to_ns: i.toNs,
          held_as: heldAsJson(i.heldAs),
          pymalloc_arenas: i.arenas,
          stack: framesJson(model, i.frames),
        })),
      };
    case 'huge-allocation':
      return {
        ...base,
        line: frame(f.line),
        leaf: f.leaf === undefined ? null : frame(f.leaf),
        allocation_bytes: f.allocationBytes,
        made_ns: f.madeNs,
        limit: f.limit,
        at: f.at,
        at_ns: f.atNs,
        oom_killed: f.oomKilled,
        stack: framesJson(model, f.frames),
      };
    case 'freed-not-returned':
      return {
        ...base,
        time_ns: f.timeNs,
        rss_anon: f.rssAnon,
        heap: f.heap,
        baseline: f.baseline,
        peak_heap: f.peakHeap,
        freed: f.freed.map((x) => ({ line: frame(x.line), leaf: x.leaf === undefined ? null : frame(x.leaf), bytes: x.bytes })),
      };
    case 'large-objects-kept':
      return {
        ...base,
        end_ns: f.endNs,
        items: f.items.map((i) => ({
          proof: i.proof,
          maker: frame(i.maker),
          bytes: i.bytes,
          count: i.count,
          live_at_end_bytes: i.liveAtEndBytes,
          live_at_end_count: i.liveAtEndCount,
          first_alloc_ns: i.firstAllocNs,
          maker_returned_ns: i.makerReturnedNs,
          outlived_ns: i.outlivedNs,
          stack: framesJson(model, i.frames),
        })),
      };
    case 'thread-churn':
    case 'many-threads': {
      const t = f.threads;
      return {
        ...base,
        threads_started: t.started,
        threads_ended: t.ended,
        started_after_another_ended: t.replacements,
        max_alive: t.maxAlive,
        max_alive_ns: t.maxAliveNs ?? null,
        first_start_ns: t.firstStartNs ?? null,
        last_start_ns: t.lastStartNs ?? null,
        median_life_ns: t.medianLifeNs ?? null,
        entries: t.entries.map((e) => ({ frame: frame(e.frame), threads: e.threads })),
      };
    }
    case 'process-churn':
      return { ...base, forks: f.forks, first_ns: f.firstNs, last_ns: f.lastNs, child_pids: f.childPids };
    case 'collection-growth':
      return {
        ...base,
        items: f.items.map((i) => ({ line: frame(i.line), growths: i.growths, copied_bytes: i.copiedBytes, max_bytes: i.maxBytes, stack: framesJson(model, i.frames) })),
      };
    case 'gc-cycles':
      return { ...base, allocations: f.allocations, collections: f.collections, largest: f.largest ?? null, stacks: f.stacks.map((s) => stackJson(model, s)) };
  }
}
