// `memlens verdict`: the post-mortem as text, as JSON, and as the panel at the top of the HTML report.

import type { CaptureCensus } from '../analysis/capture-census.js';
import { type LineRow, NO_STACK } from '../analysis/locations.js';
import type { StackAmount } from '../analysis/stacks.js';
import { describeEndMoment, describeEnding } from '../analysis/ending.js';
import type { Ending } from '../analysis/ending.js';
import type { StallBeforeKill } from '../analysis/stall-before-kill.js';
import type { GrowthView, TimedValue, UnexplainedRss, Verdict } from '../analysis/verdict.js';
import { type LateLoad, packageOf } from '../analysis/verdict-loads.js';
import type { CaptureModel } from '../model/model.js';
import { captureCensusWhen, pathGroupsJson, pathSearchJson, pathSearchNote, renderCaptureCensus } from './census.js';
import { captureNotes, describeCapture, endingJson, markerLabelText } from './describe.js';
import { findingEvidence, findingJson, renderFindings, stackJson, stackText } from './findings.js';
import { type Paint, noPaint } from '../util/paint.js';
import { truncateLocation, wrapText } from '../util/text.js';
import { formatBytes, formatCount, formatDuration, formatSignedBytes, formatTime } from '../util/units.js';
import { gcJson, renderGc } from './gc.js';
import type { VerdictPanel } from './html/payload.js';
import { locationText, ownLineText } from './summary.js';
import { renderTable } from './text-table.js';
import { escapeLine } from '../util/terminal-text.js';

/** Types of the capture's census the verdict lists. */
const CENSUS_ROWS = 5;

export interface VerdictTextOptions {
  readonly width: number;
  readonly paint?: Paint;
  /** The capture's path as the user gave it (for the commands the text suggests). */
  readonly file?: string;
}

function share(bytes: number, limit: number | undefined): string {
  return limit === undefined || limit <= 0 ? '' : `${((100 * bytes) / limit).toFixed(1)}%`;
}

function growthTables(model: CaptureModel, g: GrowthView, width: number, paint: Paint, signed: boolean): string[] {
  const out: string[] = [];
  if (g.lines.length === 0) {
    out.push('  Nothing tracked grew.');
    return out;
  }
  const amount = (b: number): string => (signed ? formatSignedBytes(b) : formatBytes(b));
  const num = (n: number): string => (signed && n > 0 ? `+${formatCount(n)}` : formatCount(n));
  const table = (title: string, stacksColumn: boolean, rows: string[][], truncate?: (t: string, w: number) => string): string[] =>
    renderTable(
      [
        { title: signed ? 'Growth' : 'Live', align: 'right' },
        { title: 'Allocations', align: 'right' },
        ...(stacksColumn ? [{ title: 'Stacks', align: 'right' as const }] : []),
        { title, align: 'left', flex: true, ...(truncate !== undefined ? { truncate } : {}) },
      ],
      rows,
      { width: width - 2, paint },
    )
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`);
  // A line's row adds up every stack through it and the stack table lists them one by one: where a line has
  // several, its allocations can outnumber its largest stack's for about the same bytes (numpy's shape
  // buffers beside its arrays: docs/reports.md), so the number of stacks is shown and the difference said.
  const several = g.lines.some((r) => (r.stacks ?? 1) > 1);
  const lineRows = g.lines.map((r: LineRow) => [amount(r.bytes), num(r.count), ...(several ? [formatCount(r.stacks ?? 1)] : []), ownLineText(r, model.header.cwd)]);
  out.push(...table('By line of the program', several, lineRows, truncateLocation));
  out.push('');
  // The stack column gets what the two number columns leave; a stack is cut at frame boundaries.
  const w0 = Math.max(6, ...g.stacks.map((st) => amount(st.bytes).length));
  const w1 = Math.max(11, ...g.stacks.map((st) => num(st.count).length));
  const room = Math.max(20, width - 2 - w0 - w1 - 4);
  const stackRows = g.stacks.map((st: StackAmount) => [amount(st.bytes), num(st.count), stackText(model, st.frames, room)]);
  out.push(...table('By stack (outermost → innermost)', false, stackRows));
  // Ranked by what the program made (verdict.ts growthView): say why a larger row comes later, where one does
  // (a row of more bytes below one of fewer); where the order is the same either way, there is nothing to explain.
  const imported = g.lines.filter((r) => (r.importBytes ?? 0) > 0);
  const reordered = g.lines.some((r, i) => i > 0 && r.bytes > g.lines[i - 1]!.bytes);
  if (imported.length > 0 && reordered) {
    const which = imported
      .slice(0, 3)
      .map((r) => `${formatBytes(r.importBytes ?? 0)} of ${locationText(r, model.header.cwd)}`)
      .join(', ');
    out.push(
      ...wrapText(
        `Lines rank by what the program made, not by what a library made while it was imported (its own buffers and tables: numpy's OpenBLAS maps 32 MiB or more, mostly never written): ${which}.`,
        width,
        '    ',
        '  ',
      ).map((l) => paint('dim', l)),
    );
  }
  if (several) {
    out.push(
      ...wrapText(
        `A line's row adds up every stack through it (Stacks: how many${signed ? ', those that shrank included' : ''}); the stack table shows one stack per row, the largest first. So a line can count more allocations than its largest stack for about the same bytes: its other stacks may hold many small ones.`,
        width,
        '    ',
        '  ',
      ).map((l) => paint('dim', l)),
    );
  }
  return out;
}

/**
 * Why the tracked heap's or RSS's peak can be above the limit that killed the process (or the heap above the
 * peak RSS): said when it is, as a figure above the limit reads as a contradiction. Undefined when none is.
 * The heap counts what was allocated, touched or not (HeapResidence); RSS counts the library pages the
 * process maps, which the page cache charges to the cgroup that first read them, often another one.
 */
export function beyondLimitText(model: CaptureModel, v: Verdict): string | undefined {
  const p = v.peak;
  const limit = p.limit ?? 0;
  const heapOverLimit = limit > 0 && p.heap.bytes > limit;
  const heapOverRss = p.rss !== undefined && p.heap.bytes > p.rss.bytes;
  const rss = p.rss?.bytes;
  const rssOverLimit = limit > 0 && rss !== undefined && rss > limit;
  const parts: string[] = [];
  if (heapOverLimit || heapOverRss) {
    const r = p.residence;
    parts.push(
      `The tracked heap counts memory when it is allocated, RSS and the limit only the pages written: its peak is above ${heapOverLimit ? 'the limit' : 'the peak RSS'} because part of it was never resident (not touched, or swapped out).`,
    );
    if (r.mappedAtPeak > 0) {
      const l = r.mappedLine;
      // With no Python frame: a library's own thread (numpy 2.0's OpenBLAS maps its buffers from its workers).
      const by = l === undefined ? '' : l.function === NO_STACK ? 'with no Python frame on the stack (a thread of a library, or before Python code ran)' : `by ${ownLineText(l, model.header.cwd)}`;
      const line = l !== undefined && l.bytes > 0 ? `, ${l.bytes === r.mappedAtPeak ? 'all' : formatBytes(l.bytes)} of them ${by}` : '';
      parts.push(
        `At the peak ${formatBytes(r.mappedAtPeak)} of it were mappings made with mmap${line}: a mapping holds memory only in the pages written, and libraries map more than they use (numpy's OpenBLAS maps a buffer of 32 MiB or more per thread; those it maps while numpy is imported are usually made before memlens hooks the library, and then are in RSS but not in the heap).`,
      );
    }
    if (r.notResident !== undefined && r.notResident.timeNs !== undefined)
      parts.push(`At ${formatTime(r.notResident.timeNs)} the heap was ${formatBytes(r.notResident.bytes)} more than anonymous RSS: at least that much of it held no memory then.`);
  }
  if (rssOverLimit) {
    const u = v.unexplained;
    const split = u !== undefined && u.rss === rss ? ` (at ${formatTime(u.timeNs)}: anonymous ${formatBytes(u.rssAnon)}, file-backed ${formatBytes(u.fileBacked)})` : '';
    parts.push(
      `RSS is above the limit${split}: at least ${formatBytes(rss - limit)} of the pages it counts were charged to another cgroup, as the page cache charges a file's pages (the interpreter's, the libraries') to the cgroup that first read them.`,
    );
  }
  return parts.length === 0 ? undefined : parts.join(' ');
}

function unexplainedLines(u: UnexplainedRss, width: number, paint: Paint): string[] {
  const out: string[] = [];
  // The heap is anonymous memory: it explains at most the anonymous RSS, never the file-backed pages (a heap
  // above anonymous RSS once read "explains 140 MiB" of a 140 MiB RSS and then listed 12 MiB file-backed).
  const explained = Math.min(u.heap, u.rssAnon);
  const more = u.rss - explained;
  out.push(`  RSS ${formatBytes(u.rss)}: the tracked heap explains ${formatBytes(explained)}${more > 0 ? `; ${formatBytes(more)} more is` : ''}:`);
  const item = (label: string, bytes: number, text: string): void => {
    const head = `    ${label.padEnd(28)}${formatBytes(bytes).padStart(10)}  `;
    out.push(head.trimEnd());
    if (bytes > 0) out.push(...wrapText(text, width, '      ').map((l) => paint('dim', l)));
  };
  item(
    'file-backed',
    u.fileBacked,
    'The interpreter, shared libraries and memory-mapped files, as far as they were read. The kernel can drop these pages under pressure, but they count against a cgroup limit until it does. To shrink it: import less (each extension module maps its library), read big files in pieces rather than mapping them whole.',
  );
  if (u.shmem > 0) item('shared memory', u.shmem, 'Shared memory (tmpfs, shm_open, multiprocessing shared memory) mapped by the process: it counts against the cgroup of whoever touched it first.');
  const arenas = u.pythonAllocatorsTraced
    ? "pymalloc's arenas around the live objects (an arena that still holds one live object is not returned to the system; the heap counts the objects, not the arenas), "
    : '';
  item(
    'anonymous beyond the heap',
    u.anonBeyondHeap,
    `Allocator free lists and fragmentation: ${arenas}glibc malloc's freed chunks and per-thread arenas it keeps for reuse; thread stacks; and native memory the agent could not see (raw system calls, allocators linked statically). ` +
      'To shrink it: MALLOC_ARENA_MAX=2 for a threaded program, ctypes.CDLL("libc.so.6").malloc_trim(0) after freeing much; memlens run --native shows which native code allocates.',
  );
  if (u.swap !== undefined)
    item('swap (not in RSS)', u.swap, 'Pages the kernel pushed out to swap: not resident, but they count against a memory+swap limit (memory.swap.max, memory.memsw.limit_in_bytes).');
  if (u.heapNotResident > 0) {
    out.push(
      ...wrapText(
        `The tracked heap is ${formatBytes(u.heapNotResident)} larger than anonymous RSS: memory allocated but never touched (calloc, big buffers not yet written) or swapped out.`,
        width,
        '    ',
        '  ',
      ),
    );
  }
  return out;
}

/**
 * Load moments the text shows in full at most: those with the largest library (the address space its image
 * spans: OpenBLAS's is the largest numpy loads), in load order; the others' libraries are named after them.
 */
const LOAD_ROWS = 8;
/** Libraries named per moment, and of the moments not shown in full. */
const LOAD_NAMES = 10;
const REST_NAMES = 20;

/** `a.so, b.so (numpy); libz.so.1`: base names, runs of one Python package followed by its name. */
function loadedNames(libraries: LateLoad['libraries'], max = Infinity): string {
  const runs: { pkg: string | undefined; names: string[] }[] = [];
  for (const l of libraries.slice(0, max)) {
    const pkg = packageOf(l.path);
    const name = escapeLine(l.path.slice(l.path.lastIndexOf('/') + 1) || l.path);
    const last = runs[runs.length - 1];
    if (last !== undefined && last.pkg === pkg) last.names.push(name);
    else runs.push({ pkg, names: [name] });
  }
  const text = runs.map((r) => `${r.names.join(', ')}${r.pkg !== undefined ? ` (${escapeLine(r.pkg)})` : ''}`).join('; ');
  return libraries.length > max ? `${text}; and ${formatCount(libraries.length - max)} more` : text;
}

/** When a load happened: between the snapshots around its IMAGE record. */
function loadWhen(l: LateLoad): string {
  if (l.afterNs !== undefined && l.byNs !== undefined) return `between ${formatTime(l.afterNs)} and ${formatTime(l.byNs)}`;
  if (l.byNs !== undefined) return `by ${formatTime(l.byNs)}`;
  return l.afterNs !== undefined ? `after ${formatTime(l.afterNs)}` : 'at an unknown time';
}

/**
 * The libraries loaded after the start, in "RSS the tracked heap does not explain": who may hold the RSS the
 * heap does not, as what a library maps while it loads is not in the capture. Nothing when none loaded.
 */
function loadedLines(loads: readonly LateLoad[], width: number, paint: Paint): string[] {
  if (loads.length === 0) return [];
  const largest = (l: LateLoad): number => Math.max(...l.libraries.map((x) => x.bytes));
  const shown = new Set(loads.length <= LOAD_ROWS ? loads : [...loads].sort((a, b) => largest(b) - largest(a)).slice(0, LOAD_ROWS));
  const out: string[] = [];
  out.push('  Loaded after the start:');
  for (const l of loads) {
    if (!shown.has(l)) continue;
    const moved =
      l.anonGrowth === undefined
        ? ''
        : `; over that interval anonymous RSS ${formatSignedBytes(l.anonGrowth)}, file-backed ${formatSignedBytes(l.fileGrowth ?? 0)}${l.heapGrowth !== undefined ? `, tracked heap ${formatSignedBytes(l.heapGrowth)}` : ''}`;
    out.push(...wrapText(`${loadWhen(l)}: ${loadedNames(l.libraries, LOAD_NAMES)}${moved}.`, width, '      ', '    '));
  }
  const rest = loads.filter((l) => !shown.has(l)).flatMap((l) => l.libraries);
  if (rest.length > 0) out.push(...wrapText(`Also loaded, at ${formatCount(loads.length - shown.size)} other moments: ${loadedNames(rest, REST_NAMES)} (--json lists when).`, width, '      ', '    '));
  out.push(
    ...wrapText(
      "Libraries can map and allocate memory while they load, before memlens sees their calls (numpy's OpenBLAS maps a buffer of 32 MiB or more per thread then): what they wrote is in anonymous RSS, not in the tracked heap. The times are the memory snapshots around each library's load; what grew between them is the whole process's, not the library's alone.",
      width,
      '      ',
      '    ',
    ).map((l) => paint('dim', l)),
  );
  return out;
}

export function renderVerdict(model: CaptureModel, v: Verdict, options: VerdictTextOptions): string {
  const paint = options.paint ?? noPaint;
  const width = Math.max(60, options.width);
  const out: string[] = [];
  const title = (t: string): void => {
    out.push('', paint('bold', t));
  };
  out.push(paint('bold', `Verdict: ${describeCapture(model)}`));

  title('How it ended');
  out.push(...wrapText(describeEnding(v.ending), width, '    ', '  ').map((l) => (v.ending.oomKill === 'yes' ? paint('red', l) : l)));
  if (v.ending.oomKill === 'yes' && v.ending.detail !== '') out.push(...wrapText(`Kernel: ${escapeLine(v.ending.detail)}`, width, '    ', '  '));
  if (v.ending.kind === 'signal' && model.trailer === undefined && !model.aggregated) {
    out.push(...wrapText('The capture has no trailer: it stops where the process died (its last 50 ms or so may be missing).', width, '    ', '  '));
  }
  if (v.aggregated) {
    const at = v.recent?.toNs !== undefined ? ` (at ${formatTime(v.recent.toNs)})` : '';
    out.push(...wrapText(`Aggregated capture: what each location holds comes from its last checkpoint${at}; the agent writes one at least once a second and at near-OOM.`, width, '    ', '  '));
  }

  const p = v.peak;
  title(p.limit !== undefined ? `Peak against the limit (cgroup limit ${formatBytes(p.limit)})` : 'Peak (no memory limit recorded)');
  const when = (x: TimedValue): string => (x.timeNs === undefined ? 'unknown' : `${x.after === true ? 'after ' : ''}${formatTime(x.timeNs)}`);
  const limited = p.limit !== undefined;
  const row = (name: string, x: TimedValue): string[] => (limited ? [name, formatBytes(x.bytes), share(x.bytes, p.limit), when(x)] : [name, formatBytes(x.bytes), when(x)]);
  const peakRows: string[][] = [row('tracked heap', p.heap)];
  if (p.rss !== undefined) peakRows.push(row('RSS', p.rss));
  if (p.cgroup !== undefined) peakRows.push(row(limited ? 'cgroup usage' : 'whole cgroup', p.cgroup));
  out.push(
    ...renderTable(
      [{ title: 'Peak', align: 'left' }, { title: 'Bytes', align: 'right' }, ...(limited ? [{ title: 'Of the limit', align: 'right' as const }] : []), { title: 'At', align: 'right' }],
      peakRows,
      { width: width - 2, paint },
    )
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`.trimEnd()),
  );
  if (p.rss === undefined) out.push('  RSS and cgroup usage: unknown (no memory snapshot).');
  const beyond = beyondLimitText(model, v);
  if (beyond !== undefined) out.push(...wrapText(beyond, width, '    ', '  ').map((l) => paint('dim', l)));
  if (p.cgroup !== undefined) {
    // The cgroup's usage is the group's, not the process's: say so, or a 400 MiB container reads as a 400 MiB process.
    out.push(
      ...wrapText(
        limited
          ? "cgroup usage is the whole cgroup's (every process in it, and the page cache they charged): what the limit counts."
          : "whole cgroup: every process in the process's cgroup and the page cache they charged, not this process alone; with no limit it is context only.",
        width,
        '    ',
        '  ',
      ).map((l) => paint('dim', l)),
    );
  }

  const last = v.last;
  if (last !== undefined) {
    title(`Last snapshot before the end: ${formatTime(last.timeNs)} (${formatDuration(last.beforeEndNs)} before the end)`);
    const parts = [`RSS ${formatBytes(last.rss)} (anonymous ${formatBytes(last.rssAnon)}, file ${formatBytes(last.rssFile)}${last.rssShmem > 0 ? `, shared ${formatBytes(last.rssShmem)}` : ''})`];
    if (last.heap !== undefined) parts.push(`tracked heap ${formatBytes(last.heap)}`);
    if (last.cgroupUsage !== undefined)
      parts.push(
        `${last.cgroupLimit !== undefined ? 'cgroup usage' : 'whole cgroup'} ${formatBytes(last.cgroupUsage)}${last.cgroupLimit !== undefined ? ` of ${formatBytes(last.cgroupLimit)}` : ' (all its processes)'}`,
      );
    if (last.swap !== undefined && last.swap > 0) parts.push(`swap ${formatBytes(last.swap)}`);
    out.push(...wrapText(`${parts.join(', ')}.`, width, '    ', '  '));
  }
  if (v.nearOom !== undefined) {
    const n = v.nearOom;
    out.push(
      ...wrapText(
        `Near OOM at ${formatTime(n.timeNs)}, ${formatDuration(n.beforeEndNs)} before the end${n.label !== '' ? `: ${escapeLine(markerLabelText(n.label))}` : ''}${n.count > 1 ? ` (the last of ${n.count} near-OOM markers)` : ''}.`,
        width,
        '    ',
        '  ',
      ).map((l) => paint('yellow', l)),
    );
  } else if (p.limit !== undefined) {
    out.push("  No near-OOM marker: usage never reached the agent's threshold (90% of the limit by default).");
  }
  if (v.pressure !== undefined) {
    const n = v.pressure;
    out.push(
      ...wrapText(
        `Memory pressure at ${formatTime(n.timeNs)}, ${formatDuration(n.beforeEndNs)} before the end${n.label !== '' ? `: ${escapeLine(n.label)}` : ''}${n.count > 1 ? ` (the last of ${n.count})` : ''}.`,
        width,
        '    ',
        '  ',
      ).map((l) => paint('yellow', l)),
    );
  }

  const r = v.recent;
  const secs = (ns: number): string => `${Number((ns / 1e9).toFixed(3))} s`;
  if (r === undefined) {
    title(`What grew in the last seconds`);
    out.push(
      v.aggregated
        ? '  Unknown: the capture has no checkpoint (the agent writes one at least once a second; it was cut off before).'
        : '  Unknown: the capture has no memory snapshot to place its events in time.',
    );
  } else {
    const point = v.aggregated ? 'checkpoint' : 'snapshot';
    const before = r.stall !== undefined ? ' before the program stalled' : '';
    const end = r.stall !== undefined ? `its last ${v.aggregated ? 'change' : 'allocation'}` : 'the end';
    title(
      r.wholeCapture
        ? `What grew in the last ${secs(r.lastNs)}${before}: all of it, up to ${formatTime(r.toNs ?? 0)} (no ${point} is ${secs(r.lastNs)} before ${end})`
        : `What grew in the last ${secs(r.lastNs)}${before}: from ${formatTime(r.fromNs ?? 0)} to ${formatTime(r.toNs ?? 0)}`,
    );
    if (r.stall !== undefined) out.push(...wrapText(stallText(r.stall, v.ending, r.lastNs), width, '    ', '  ').map((l) => paint('yellow', l)));
    out.push(`  Tracked heap ${formatSignedBytes(r.heapBytes)}.`);
    out.push(...growthTables(model, r, width, paint, true));
  }
  title(model.header.mode === 2 ? 'Live at the end (what grew since memlens attached)' : 'Live at the end (what grew since the start)');
  out.push(...wrapText(`The end: ${describeEndMoment(v.ending, model.header.mode === 2)}.`, width, '  ', '  '));
  // The same figures as above, unless memlens released the script's names after the program's end (the
  // last seconds stop at that end; what is live at the end is what the release left).
  if (r !== undefined && r.wholeCapture && model.header.mode !== 2 && v.ending.programEnd?.released !== true) {
    out.push(
      r.stall !== undefined
        ? '  As above: the window before the stall is all of the capture, and nothing was allocated or freed after it.'
        : '  As above: no point of the capture is far enough before its end, so its last seconds are all of it.',
    );
  } else {
    out.push(`  Tracked heap ${formatBytes(v.sinceStart.heapBytes)}.`);
    out.push(...growthTables(model, v.sinceStart, width, paint, false));
  }

  // Beside the allocation sites: the objects that hold the memory, when a census was taken.
  if (v.census !== undefined) {
    title(`What holds the memory: a census of live Python objects ${captureCensusWhen(v.census)}`);
    out.push(...renderCaptureCensus(v.census, { width, rows: CENSUS_ROWS, paint, ...(options.file !== undefined ? { file: options.file } : {}) }));
  } else {
    title('What holds the memory');
    out.push(
      ...wrapText(
        v.censusError !== undefined
          ? `The capture holds a census of live Python objects, but it cannot be read (${escapeLine(v.censusError)}).`
          : 'No census of live Python objects in the capture (memlens run takes one near an OOM under a limit, and with --census-at-peak as memory grows; memlens census PID takes one of a running process).',
        width,
        '    ',
        '  ',
      ),
    );
  }

  if (v.unexplained !== undefined) {
    title(`RSS the tracked heap does not explain (at ${formatTime(v.unexplained.timeNs)}, the highest RSS)`);
    out.push(...unexplainedLines(v.unexplained, width, paint));
    out.push(...loadedLines(v.loadedAfterStart, width, paint));
  }

  title('Garbage collector');
  out.push(...renderGc(model, v.gc, { width, paint, stacks: 3 }));

  title('Threads and processes');
  const t = v.threads;
  if (t.seen === 0) out.push('  No thread record: the capture cannot tell.');
  else {
    const verb = t.attached ? 'seen since the attach' : 'started during the capture';
    out.push(
      ...wrapText(
        `${formatCount(t.seen)} thread${t.seen === 1 ? '' : 's'} seen: ${formatCount(t.started)} ${verb} besides the main one, ${formatCount(t.ended)} ended, ${formatCount(t.aliveAtEnd)} alive at the end; at most ${formatCount(t.maxAlive)} at once.`,
        width,
        '    ',
        '  ',
      ),
    );
  }
  out.push(`  ${v.forks === 0 ? 'No process forked.' : `${formatCount(v.forks)} process${v.forks === 1 ? '' : 'es'} forked.`}`);

  title('Findings');
  if (v.findings.length === 0) {
    out.push(
      ...wrapText(
        v.notLookedFor.length === 0
          ? 'None: no memory that accumulated steadily, no collection that only grew, no large object kept alive long, no huge allocation at the limit, no freed memory kept by the process, no thread or process churn, no collection grown by many reallocations, no cycles holding much memory.'
          : 'None found.',
        width,
        '    ',
        '  ',
      ),
    );
  } else out.push(...renderFindings(model, v.findings, { width, paint }));
  // What could not be looked for is said whatever was found: the absence of a finding there means nothing.
  for (const n of v.notLookedFor) out.push(...wrapText(`Not looked for: ${n.what} (${n.why}).`, width, '    ', '  ').map((l) => paint('dim', l)));

  const notes = [...v.cannotTell.map((c) => `The capture cannot tell: ${c}.`), ...captureNotes(model)];
  if (notes.length > 0) {
    out.push('');
    for (const n of notes) out.push(...wrapText(`Note: ${n}`, width, '      ', '').map((l) => paint('dim', l)));
  }
  return out.join('\n') + '\n';
}

function lineJson(l: LineRow): Record<string, unknown> {
  // import_bytes only where a library's import made some of it: other captures keep their JSON as it was.
  const imported = l.importBytes ?? 0;
  return { function: l.function, file: l.file, line: l.line, bytes: l.bytes, count: l.count, stacks: l.stacks ?? 1, via: l.via ?? null, ...(imported > 0 ? { import_bytes: imported } : {}) };
}

/** The stall before the kill, in one sentence: how long nothing was allocated, and the capture's evidence. */
export function stallText(st: StallBeforeKill, ending: Ending, lastNs: number): string {
  const kill = st.oomKill ? 'the OOM kill' : ending.kind === 'signal' ? `it was killed by signal ${ending.signal ?? 0}` : 'the capture ends';
  const evidence: string[] = [];
  if (st.atLimitFromNs !== undefined) evidence.push(`usage at 95% of the limit or more from ${formatTime(st.atLimitFromNs)} on`);
  if (st.someAvg10Max !== undefined && Math.floor(st.someAvg10Max / 100) === 0) {
    evidence.push(`no memory pressure: no task waited for memory in the kernel's figures, from ${escapeLine(st.pressureSource ?? '')}`);
  } else if (st.someAvg10Max !== undefined) {
    const full = st.fullAvg10Max !== undefined && st.fullAvg10Max > 0 ? ` (all tasks at once: ${Math.floor(st.fullAvg10Max / 100)}%)` : '';
    evidence.push(`memory pressure: some task stalled waiting for memory up to ${Math.floor(st.someAvg10Max / 100)}% of 10 s${full}, from ${escapeLine(st.pressureSource ?? '')}`);
  }
  return (
    `The program allocated and freed nothing in its last ${formatDuration(st.quietNs)} before ${kill} (nothing after ${formatTime(st.lastChangeNs)}), while memory snapshots went on: it stalled` +
    `${evidence.length > 0 ? ` (${evidence.join('; ')})` : ''}. The window ends at its last allocation or free: nothing grew in the last ${Number((lastNs / 1e9).toFixed(3))} s before the end.`
  );
}

function stallJson(st: StallBeforeKill | undefined): Record<string, unknown> | null {
  if (st === undefined) return null;
  return {
    last_change_ns: st.lastChangeNs,
    quiet_ns: st.quietNs,
    oom_kill: st.oomKill,
    pressure_some_avg10_max: st.someAvg10Max === undefined ? null : st.someAvg10Max / 100,
    pressure_full_avg10_max: st.fullAvg10Max === undefined ? null : st.fullAvg10Max / 100,
    pressure_source: st.pressureSource ?? null,
    at_limit_from_ns: st.atLimitFromNs ?? null,
  };
}

function growthJson(model: CaptureModel, g: GrowthView): Record<string, unknown> {
  return {
    heap_bytes: g.heapBytes,
    lines: g.lines.map(lineJson),
    stacks: g.stacks.map((s) => stackJson(model, s)),
  };
}

function loadJson(l: LateLoad): Record<string, unknown> {
  return {
    after_ns: l.afterNs ?? null,
    by_ns: l.byNs ?? null,
    anon_rss_growth: l.anonGrowth ?? null,
    file_rss_growth: l.fileGrowth ?? null,
    heap_growth: l.heapGrowth ?? null,
    libraries: l.libraries.map((x) => ({ path: x.path, package: packageOf(x.path) ?? null, seq: x.seq, bytes: x.bytes })),
  };
}

export function verdictJson(model: CaptureModel, v: Verdict): Record<string, unknown> {
  const e = v.ending;
  const tv = (x: TimedValue | undefined) => (x === undefined ? null : { bytes: x.bytes, time_ns: x.timeNs ?? null, after_time: x.after === true });
  const t = v.threads;
  return {
    capture: describeCapture(model),
    aggregated: v.aggregated,
    ending: endingJson(e),
    peak: {
      heap: tv(v.peak.heap),
      rss: tv(v.peak.rss),
      cgroup_usage: tv(v.peak.cgroup),
      limit: v.peak.limit ?? null,
      heap_mapped_at_peak: v.peak.residence.mappedAtPeak,
      heap_mapped_line: v.peak.residence.mappedLine === undefined ? null : lineJson(v.peak.residence.mappedLine),
      heap_not_resident: tv(v.peak.residence.notResident),
      beyond_limit: beyondLimitText(model, v) ?? null,
    },
    last_snapshot:
      v.last === undefined
        ? null
        : {
            time_ns: v.last.timeNs,
            before_end_ns: v.last.beforeEndNs,
            rss: v.last.rss,
            rss_anon: v.last.rssAnon,
            rss_file: v.last.rssFile,
            rss_shmem: v.last.rssShmem,
            swap: v.last.swap ?? null,
            heap: v.last.heap ?? null,
            cgroup_usage: v.last.cgroupUsage ?? null,
            cgroup_limit: v.last.cgroupLimit ?? null,
          },
    near_oom: v.nearOom === undefined ? null : { time_ns: v.nearOom.timeNs, before_end_ns: v.nearOom.beforeEndNs, label: v.nearOom.label, count: v.nearOom.count },
    memory_pressure: v.pressure === undefined ? null : { time_ns: v.pressure.timeNs, before_end_ns: v.pressure.beforeEndNs, label: v.pressure.label, count: v.pressure.count },
    recent_growth:
      v.recent === undefined
        ? null
        : {
            last_ns: v.recent.lastNs,
            from_ns: v.recent.fromNs ?? null,
            to_ns: v.recent.toNs ?? null,
            whole_capture: v.recent.wholeCapture,
            stall: stallJson(v.recent.stall),
            ...growthJson(model, v.recent),
          },
    live_at_end: { ...growthJson(model, v.sinceStart), end: describeEndMoment(e, model.header.mode === 2) },
    unexplained_rss:
      v.unexplained === undefined
        ? null
        : {
            time_ns: v.unexplained.timeNs,
            rss: v.unexplained.rss,
            heap: v.unexplained.heap,
            file_backed: v.unexplained.fileBacked,
            shmem: v.unexplained.shmem,
            anon_beyond_heap: v.unexplained.anonBeyondHeap,
            heap_not_resident: v.unexplained.heapNotResident,
            swap: v.unexplained.swap ?? null,
            python_allocators_traced: v.unexplained.pythonAllocatorsTraced,
          },
    // Only when a library loaded after the start: captures without one keep their JSON as it was.
    ...(v.loadedAfterStart.length === 0 ? {} : { loaded_after_start: v.loadedAfterStart.map(loadJson) }),
    gc: gcJson(model, v.gc),
    threads: { seen: t.seen, started: t.started, ended: t.ended, alive_at_end: t.aliveAtEnd, max_alive: t.maxAlive, attached: t.attached },
    forks: v.forks,
    census:
      v.census === undefined
        ? null
        : {
            time_ns: v.census.timeNs,
            label: v.census.label,
            censuses_in_capture: v.census.inCapture,
            pause_ms: v.census.census.pauseMs,
            partial: v.census.census.partial,
            total_count: v.census.census.totalCount,
            total_bytes: v.census.census.totalBytes,
            type_count: v.census.census.typeCount,
            types: v.census.census.types.slice(0, CENSUS_ROWS),
            path_groups: pathGroupsJson(v.census.census, CENSUS_ROWS),
            path_search: pathSearchJson(v.census.census),
          },
    findings: v.findings.map((f) => findingJson(model, f)),
    findings_not_looked_for: v.notLookedFor,
    census_error: v.censusError ?? null,
    cannot_tell: v.cannotTell,
    notes: captureNotes(model),
  };
}

export function verdictPanel(model: CaptureModel, v: Verdict): VerdictPanel {
  const e = v.ending;
  const severity = e.oomKill === 'yes' ? 'oom' : e.kind === 'signal' || e.kind === 'abrupt' ? 'killed' : 'ok';
  const p = v.peak;
  const facts: [string, string][] = [];
  const withShare = (b: number): string => `${formatBytes(b)}${p.limit !== undefined ? ` (${share(b, p.limit)} of the limit)` : ''}`;
  if (p.limit !== undefined) facts.push(['Memory limit', formatBytes(p.limit)]);
  facts.push(['Peak tracked heap', `${withShare(p.heap.bytes)}${p.heap.timeNs !== undefined ? ` at ${formatTime(p.heap.timeNs)}` : ''}`]);
  if (p.rss !== undefined) facts.push(['Peak RSS', `${withShare(p.rss.bytes)}${p.rss.timeNs !== undefined ? ` at ${formatTime(p.rss.timeNs)}` : ''}`]);
  const beyond = beyondLimitText(model, v);
  if (beyond !== undefined) facts.push([p.limit !== undefined && (p.heap.bytes > p.limit || (p.rss?.bytes ?? 0) > p.limit) ? 'Above the limit' : 'Heap above RSS', beyond]);
  if (p.cgroup !== undefined) {
    const at = p.cgroup.timeNs !== undefined ? ` at ${formatTime(p.cgroup.timeNs)}` : '';
    if (p.limit !== undefined) facts.push(['Peak cgroup usage', `${withShare(p.cgroup.bytes)}${at} (the whole cgroup, as the limit counts it)`]);
    else facts.push(['Whole cgroup (no limit)', `${formatBytes(p.cgroup.bytes)}${at}: every process in the cgroup and its page cache, not this process alone`]);
  }
  if (v.last !== undefined) {
    const l = v.last;
    facts.push([
      'Last snapshot',
      `${formatTime(l.timeNs)} (${formatDuration(l.beforeEndNs)} before the end): RSS ${formatBytes(l.rss)} (anonymous ${formatBytes(l.rssAnon)}, file ${formatBytes(l.rssFile)})${l.heap !== undefined ? `, heap ${formatBytes(l.heap)}` : ''}${l.cgroupUsage !== undefined ? `, whole cgroup ${formatBytes(l.cgroupUsage)}` : ''}`,
    ]);
  }
  if (v.pressure !== undefined)
    facts.push(['Memory pressure', `${formatTime(v.pressure.timeNs)}, ${formatDuration(v.pressure.beforeEndNs)} before the end${v.pressure.label !== '' ? `: ${escapeLine(v.pressure.label)}` : ''}`]);
  if (v.recent?.stall !== undefined) facts.push(['Stalled', stallText(v.recent.stall, v.ending, v.recent.lastNs)]);
  if (v.nearOom !== undefined)
    facts.push(['Near OOM', `${formatTime(v.nearOom.timeNs)}, ${formatDuration(v.nearOom.beforeEndNs)} before the end${v.nearOom.label !== '' ? `: ${escapeLine(markerLabelText(v.nearOom.label))}` : ''}`]);
  if (v.unexplained !== undefined) {
    const u = v.unexplained;
    facts.push([
      'RSS beyond the heap',
      `file-backed ${formatBytes(u.fileBacked)}, anonymous ${formatBytes(u.anonBeyondHeap)}${u.swap !== undefined ? `, swap ${formatBytes(u.swap)}` : ''} (at ${formatTime(u.timeNs)})`,
    ]);
  }
  if (v.gc.collections > 0) {
    facts.push([
      'Garbage collector',
      `${formatCount(v.gc.collections)} collection${v.gc.collections === 1 ? '' : 's'}, longest pause ${((v.gc.longest?.pauseNs ?? 0) / 1e6).toFixed(2)} ms${v.gc.bytesFreed !== undefined ? `, ${formatBytes(v.gc.bytesFreed)} freed from cycles` : ''}`,
    ]);
  }
  facts.push(['Threads', `${formatCount(v.threads.seen)} seen, ${formatCount(v.threads.aliveAtEnd)} alive at the end, at most ${formatCount(v.threads.maxAlive)} at once`]);
  const r = v.recent;
  const g = r ?? v.sinceStart;
  const growthTitle =
    r === undefined
      ? 'Live at the end, by line of the program'
      : r.stall !== undefined
        ? `What grew before the program stalled (${r.wholeCapture ? 'all of the capture' : `from ${formatTime(r.fromNs ?? 0)}`} to ${formatTime(r.toNs ?? 0)}; nothing allocated in the last ${formatDuration(r.stall.quietNs)}), by line of the program`
        : r.wholeCapture
          ? `What grew in the last ${Number((r.lastNs / 1e9).toFixed(3))} s (all of the capture), by line of the program`
          : `What grew from ${formatTime(r.fromNs ?? 0)} to ${formatTime(r.toNs ?? 0)}, by line of the program`;
  return {
    severity,
    headline: describeEnding(v.ending),
    detail: e.oomKill === 'yes' ? e.detail : '',
    facts,
    growthTitle,
    growth: g.lines.map((l) => ({ bytes: r !== undefined ? formatSignedBytes(l.bytes) : formatBytes(l.bytes), count: formatCount(l.count), where: ownLineText(l, model.header.cwd) })),
    findings: v.findings.map((f) => ({ title: f.title, evidence: findingEvidence(model, f), advice: f.advice })),
    notLookedFor: v.notLookedFor.map((n) => `Not looked for: ${n.what} (${n.why}).`),
    census: censusPanel(v.census),
  };
}

function censusPanel(c: CaptureCensus | undefined): VerdictPanel['census'] {
  if (c === undefined) return null;
  const k = c.census;
  return {
    title: `What holds the memory: live Python objects ${captureCensusWhen(c)}`,
    note: `${formatCount(k.totalCount)} objects, ${formatBytes(k.totalBytes)} by sys.getsizeof (shallow sizes)${k.partial ? ', partial' : ''}; memlens census FILE shows all of it.`,
    types: k.types
      .slice(0, CENSUS_ROWS)
      .map((t) => ({ type: t.type, count: formatCount(t.count), bytes: formatBytes(t.bytes), share: k.totalBytes > 0 ? `${((100 * t.bytes) / k.totalBytes).toFixed(1)}%` : '' })),
    paths: (k.pathGroups ?? []).slice(0, CENSUS_ROWS).map((g) => ({
      path: g.pattern ?? `(${g.reason ?? 'not reached from any root'})`,
      type: g.type,
      count: formatCount(g.count),
      bytes: formatBytes(g.bytes),
    })),
    pathsNote: pathSearchNote(k) ?? (k.pathGroups === undefined ? 'This census has no reference paths.' : ''),
  };
}
