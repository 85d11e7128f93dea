// The garbage collector's section of `memlens stats` and `memlens verdict`: per generation, collections,
// objects collected and uncollectable, pauses and the memory freed; the collector's settings.

import type { GcReport } from '../analysis/gc.js';
import type { CaptureModel } from '../model/model.js';
import { stackJson, stackText } from './findings.js';
import { type Paint, noPaint } from '../util/paint.js';
import { wrapText } from '../util/text.js';
import { formatBytes, formatCount, formatDuration, formatTime } from '../util/units.js';
import { renderTable } from './text-table.js';

export interface GcTextOptions {
  readonly width: number;
  readonly paint?: Paint;
  /** Stacks of freed memory shown at most (default 5). */
  readonly stacks?: number;
}

function ms(ns: number): string {
  return ns < 1e9 ? `${(ns / 1e6).toFixed(2)} ms` : formatDuration(ns);
}

/** The section's lines (without its title). */
export function renderGc(model: CaptureModel, gc: GcReport, options: GcTextOptions): string[] {
  const paint = options.paint ?? noPaint;
  const width = Math.max(40, options.width);
  const out: string[] = [];
  if (gc.collections === 0) {
    out.push(
      ...wrapText(
        model.gcStates.length > 0 ? 'No collection ran while tracking.' : 'No collection recorded: the capture has no record of the garbage collector (the agent writes its settings when tracking starts).',
        width,
        '    ',
        '  ',
      ),
    );
  } else {
    const freed = (b: number | undefined): string => (b === undefined ? 'unknown' : formatBytes(b));
    const rows = gc.generations.map((g) => [
      String(g.generation),
      formatCount(g.collections),
      formatCount(g.collected),
      formatCount(g.uncollectable),
      ms(g.totalPauseNs),
      ms(g.maxPauseNs),
      freed(g.bytesFreed),
    ]);
    rows.push(['all', formatCount(gc.collections), formatCount(gc.collected), formatCount(gc.uncollectable), ms(gc.totalPauseNs), ms(gc.longest?.pauseNs ?? 0), freed(gc.bytesFreed)]);
    const table = renderTable(
      [
        { title: 'Generation', align: 'right' },
        { title: 'Collections', align: 'right' },
        { title: 'Collected', align: 'right' },
        { title: 'Uncollectable', align: 'right' },
        { title: 'Total pause', align: 'right' },
        { title: 'Longest', align: 'right' },
        { title: 'Memory freed', align: 'right' },
      ],
      rows,
      { width, paint },
    );
    out.push(
      ...table
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
    );
    if (gc.longest !== undefined) {
      out.push(`  Longest pause: ${ms(gc.longest.pauseNs)}, a generation-${gc.longest.generation} collection that ended at ${formatTime(gc.longest.timeNs)}.`);
    }
    if (gc.uncollectable > 0) {
      out.push(
        ...wrapText(
          `${formatCount(gc.uncollectable)} objects were uncollectable: they stay in gc.garbage, and hold their memory, until the program empties it (gc.set_debug(gc.DEBUG_SAVEALL) keeps every collected object there; so do objects of C types with a legacy tp_del).`,
          width,
          '    ',
          '  ',
        ),
      );
    }
    if (gc.bytesFreed !== undefined && gc.bytesFreed > 0) {
      out.push(`  Memory freed by the collector (reference cycles): ${formatBytes(gc.bytesFreed)} in ${formatCount(gc.allocationsFreed ?? 0)} allocations, allocated at:`);
      for (const st of gc.freedByStack.slice(0, options.stacks ?? 5)) {
        const head = `    ${formatBytes(st.bytes).padStart(10)}  `;
        out.push(head + stackText(model, st.frames, width - head.length));
      }
    } else if (gc.bytesFreed === 0) {
      out.push('  The collections freed no tracked memory: reference counting freed everything else.');
    }
    for (const c of gc.freedCaveats) out.push(...wrapText(`Note: ${c}.`, width, '    ', '  ').map((l) => paint('dim', l)));
  }
  const st = gc.settings;
  for (const d of st.disabled) {
    out.push(`  The collector was disabled (gc.disable()) from ${formatTime(d.fromNs)} ${d.toNs === undefined ? 'to the end' : `to ${formatTime(d.toNs)}`}: cycles were not freed meanwhile.`);
  }
  for (const d of st.disabledByMemlens) {
    const text = `memlens's own census paused the program from ${formatTime(d.fromNs)} to ${formatTime(d.toNs ?? d.fromNs)}, the collector off meanwhile: memlens's doing, not the program's.`;
    out.push(...wrapText(text, width, '    ', '  ').map((l) => paint('dim', l)));
  }
  if (st.maxFrozen > 0) {
    out.push(
      `  gc.freeze() moved ${formatCount(st.maxFrozen)} objects to the permanent generation${st.frozenAtEnd !== st.maxFrozen ? ` (${formatCount(st.frozenAtEnd)} at the end)` : ''}: the collector does not look at them.`,
    );
  }
  if (st.thresholds !== undefined) out.push(paint('dim', `  Thresholds: ${st.thresholds.join(', ')}${st.enabledAtEnd === false ? ' (disabled at the end)' : ''}.`));
  return out;
}

export function gcJson(model: CaptureModel, gc: GcReport): Record<string, unknown> {
  const st = gc.settings;
  return {
    collections: gc.collections,
    collected: gc.collected,
    uncollectable: gc.uncollectable,
    total_pause_ns: gc.totalPauseNs,
    longest_pause:
      gc.longest === undefined
        ? null
        : { generation: gc.longest.generation, pause_ns: gc.longest.pauseNs, time_ns: gc.longest.timeNs, collected: gc.longest.collected, bytes_freed: gc.longest.bytesFreed ?? null },
    generations: gc.generations.map((g) => ({
      generation: g.generation,
      collections: g.collections,
      collected: g.collected,
      uncollectable: g.uncollectable,
      total_pause_ns: g.totalPauseNs,
      max_pause_ns: g.maxPauseNs,
      bytes_freed: g.bytesFreed ?? null,
      allocations_freed: g.allocationsFreed ?? null,
    })),
    bytes_freed: gc.bytesFreed ?? null,
    allocations_freed: gc.allocationsFreed ?? null,
    freed_by_stack: gc.freedByStack.slice(0, 10).map((s) => stackJson(model, s)),
    caveats: gc.freedCaveats,
    enabled_at_end: st.enabledAtEnd ?? null,
    disabled: st.disabled.map((d) => ({ from_ns: d.fromNs, to_ns: d.toNs ?? null })),
    disabled_by_memlens: st.disabledByMemlens.map((d) => ({ from_ns: d.fromNs, to_ns: d.toNs ?? null })),
    frozen_objects: st.frozenAtEnd,
    max_frozen_objects: st.maxFrozen,
    thresholds: st.thresholds ?? null,
  };
}
