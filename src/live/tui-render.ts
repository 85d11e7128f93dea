// The live view drawn as lines of text: a pure function of the view data (view-data.ts), the screen's
// size and whether to colour. tui.ts writes the lines to the terminal; tests compare them with goldens.
//
// Every line is at most `width` columns and there are exactly `height` of them, so the terminal edge can
// redraw by overwriting without clearing (no flicker). Names that come from the program (command line,
// functions, files, thread names, its output) may hold control characters: they are shown as U+FFFD,
// never sent to the terminal, where an escape sequence would be obeyed.

import { type Colour, type Paint, ansiPaint, noPaint, shareColour } from '../util/paint.js';
import { padLeft, padRight, textWidth, truncateLocation, truncateRight } from '../util/text.js';
import { formatBytes, formatCount, formatDuration } from '../util/units.js';
import type { LiveLocation, LiveView, SortKey } from './view-data.js';
import { escapeLine } from '../util/terminal-text.js';

export interface TuiFrame {
  readonly view: LiveView;
  /** The view is frozen (space): the data goes on being read. */
  readonly paused: boolean;
  /** The last lines the program wrote (memlens run --live), oldest first; undefined: no panel. */
  readonly output?: readonly string[] | undefined;
}

export interface TuiSize {
  readonly width: number;
  readonly height: number;
  readonly colour: boolean;
}

export const KEY_HELP = 'q quit · space pause · t/o/a sort by total/own/allocations · < > thread';

const SPARK = ' ▁▂▃▄▅▆▇█';
const NUMBER_COLUMNS: readonly { readonly title: string; readonly width: number; readonly sort?: SortKey }[] = [
  { title: 'Total Memory', width: 15, sort: 'total' },
  { title: 'Total %', width: 9 },
  { title: 'Own Memory', width: 13, sort: 'own' },
  { title: 'Own %', width: 9 },
  { title: 'Allocations', width: 14, sort: 'count' },
];
/** Rows of the program's output shown at most. */
const OUTPUT_ROWS = 5;

/** Text from the program, on one line and safe to print (util/terminal-text.ts): `\u001b` for an ESC. */
export function safeText(s: string): string {
  return escapeLine(s);
}

export function renderTui(frame: TuiFrame, size: TuiSize): string[] {
  const width = Math.max(20, size.width);
  const height = Math.max(1, size.height);
  const paint: Paint = size.colour ? ansiPaint : noPaint;
  const v = frame.view;
  const fit = (text: string): string => truncateRight(text, width);
  const cell = (c: Colour, text: string): string => paint(c, text);

  const head: string[] = [];
  const stateText = frame.paused ? 'paused' : v.end !== undefined ? 'ended' : v.started ? 'running' : 'waiting';
  const right = `${stateText} · ${formatDuration(v.elapsedNs)}`;
  const left = v.started ? `memlens live · PID ${v.pid} · ${safeText(v.command)}` : 'memlens live · waiting for the capture to begin';
  const leftRoom = width - textWidth(right) - 2;
  if (leftRoom < 10) head.push(cell('bold', fit(`${stateText} · ${left}`)));
  else head.push(cell('bold', padRight(truncateRight(left, leftRoom), leftRoom)) + '  ' + cell(frame.paused ? 'yellow' : 'dim', right));

  if (v.started) {
    const bits = [
      `CPython ${safeText(v.pythonVersion)}`,
      v.mode === 'attach' ? 'attached' : v.mode === 'run' ? 'run' : '',
      `${v.threads.length} thread${v.threads.length === 1 ? '' : 's'}`,
      `${formatCount(v.allocations)} allocations`,
    ];
    if (v.aggregated) bits.push('aggregated (updated every second)');
    if (v.sampledEvery !== undefined) bits.push(`sampled every ${formatBytes(v.sampledEvery)}: estimates`);
    if (v.damaged > 0) bits.push(`${v.damaged} damaged region${v.damaged === 1 ? '' : 's'} skipped`);
    head.push(cell('dim', fit(bits.filter((b) => b !== '').join(' · '))));

    const mem = [`Heap ${formatBytes(v.heap)}`, `peak ${formatBytes(v.peakHeap)}`];
    if (v.rss !== undefined) mem.push(`RSS ${formatBytes(v.rss)}${v.peakRss !== undefined ? ` (peak ${formatBytes(v.peakRss)})` : ''}`);
    if (v.cgroupLimit !== undefined) {
      const usage = v.cgroupUsage !== undefined ? ` (cgroup ${formatBytes(v.cgroupUsage)}, ${Math.round((100 * v.cgroupUsage) / v.cgroupLimit)}%)` : '';
      mem.push(`limit ${formatBytes(v.cgroupLimit)}${usage}`);
    }
    head.push(fit(mem.join('   ')));
    head.push(sparkLine(v, width, paint));
    head.push(fit(threadLine(v)));
  }

  const foot: string[] = [];
  if (v.end !== undefined) foot.push(cell(v.end.kind === 'exit' && v.end.exit?.exitCode === 0 ? 'bold' : 'red', fit(`■ ${safeText(v.end.text)}`)));
  foot.push(cell('dim', fit(KEY_HELP)));

  let output: string[] = [];
  if (frame.output !== undefined) {
    const room = height - head.length - foot.length - 4; // keep the table's title and a row or two
    const rows = Math.max(0, Math.min(OUTPUT_ROWS, room - 2));
    if (rows > 0) {
      const last = frame.output.slice(-rows).map((l) => fit(safeText(l)));
      output = [cell('dim', fit(`── program output ${'─'.repeat(Math.max(0, width - 19))}`)), ...last];
    }
  }

  const tableRoom = height - head.length - foot.length - output.length - 1;
  const table = v.started ? tableLines(v, width, Math.max(0, tableRoom), paint) : [];
  const lines = [...head, '', ...table];
  while (lines.length < height - foot.length - output.length) lines.push('');
  lines.length = Math.max(0, height - foot.length - output.length);
  lines.push(...output, ...foot);
  // A screen too small for the footer keeps its first lines.
  return lines.slice(0, height);
}

function sparkLine(v: LiveView, width: number, paint: Paint): string {
  const points = v.spark.heap;
  let max = 0;
  for (const p of points) if (p !== null && p > max) max = p;
  const label = 'Heap ';
  let note = ` last ${formatDuration(v.spark.windowNs)}, top ${formatBytes(max)}`;
  if (width - label.length - note.length < 10) note = '';
  const room = Math.max(0, width - label.length - note.length);
  // The newest points, right-aligned: the line fills from the right as data comes.
  const shown = points.slice(Math.max(0, points.length - room));
  const chars = shown.map((p) => (p === null ? ' ' : max === 0 ? SPARK[1]! : SPARK[Math.max(1, Math.round((p / max) * (SPARK.length - 1)))]!));
  return label + paint('cyan', padLeft(chars.join(''), room)) + (note !== '' ? paint('dim', note) : '');
}

function threadLine(v: LiveView): string {
  if (v.thread === undefined) {
    return `Threads: ${v.threads.length}, merged${v.threads.length > 1 ? ' (< > to see one at a time)' : ''}`;
  }
  const at = v.threads.findIndex((x) => x.index === v.thread);
  const t = v.threads[at];
  if (t === undefined) return 'Threads: all merged';
  const name = t.name !== '' ? safeText(t.name) : `thread ${at + 1}`;
  return `Thread ${at + 1} of ${v.threads.length}: ${name}${t.osTid !== 0 ? ` (TID ${t.osTid})` : ''}${t.exited ? ', exited' : ''} · ${formatBytes(t.liveBytes)} live (< > to switch)`;
}

function locationText(l: LiveLocation): string {
  const fn = safeText(l.function);
  if (l.file === '') return fn;
  const file = safeText(l.file);
  return l.line > 0 ? `${fn} at ${file}:${l.line}` : `${fn} at ${file}`;
}

function tableLines(v: LiveView, width: number, room: number, paint: Paint): string[] {
  if (room <= 0) return [];
  // A narrow screen keeps the location and the sorted column with its share (or the total by count).
  const sorted = v.sort === 'own' ? 2 : v.sort === 'count' ? 4 : 0;
  const pick = width >= 90 ? [0, 1, 2, 3, 4] : width < 45 ? [sorted] : v.sort === 'own' ? [2, 3] : v.sort === 'count' ? [0, 4] : [0, 1];
  const columns = pick.map((i) => NUMBER_COLUMNS[i] as (typeof NUMBER_COLUMNS)[number]);
  const numbers = columns.reduce((a, c) => a + c.width, 0);
  const locWidth = width - numbers;
  const title = padRight('Location', locWidth) + columns.map((c) => padLeft(c.sort === v.sort ? `<${c.title}>` : c.title, c.width)).join('');
  const out = [paint('bold', truncateRight(title, width))];
  if (v.locations.length === 0) {
    out.push(truncateRight(v.heap === 0 ? 'No memory is live yet.' : 'No live memory in this thread.', width));
    return out.slice(0, room);
  }
  const rows = Math.max(0, room - 1 - (v.moreLocations > 0 ? 1 : 0));
  const whole = v.shownBytes;
  const pct = (n: number): string => (whole === 0 ? '0.00%' : `${((100 * n) / whole).toFixed(2)}%`);
  for (const l of v.locations.slice(0, rows)) {
    const totalC = shareColour(whole === 0 ? 0 : l.totalBytes / whole);
    const ownC = shareColour(whole === 0 ? 0 : l.ownBytes / whole);
    const cells = [
      paint(totalC, padLeft(formatBytes(l.totalBytes), 15)),
      paint(totalC, padLeft(pct(l.totalBytes), 9)),
      paint(ownC, padLeft(formatBytes(l.ownBytes), 13)),
      paint(ownC, padLeft(pct(l.ownBytes), 9)),
      padLeft(formatCount(l.count), 14),
    ];
    out.push(padRight(truncateLocation(locationText(l), locWidth - 1), locWidth) + pick.map((i) => cells[i]!).join(''));
  }
  const hidden = v.moreLocations + Math.max(0, v.locations.length - rows);
  if (hidden > 0 && out.length < room) out.push(paint('dim', truncateRight(`… ${formatCount(hidden)} more location${hidden === 1 ? '' : 's'}`, width)));
  return out;
}
