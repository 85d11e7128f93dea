// `memlens stats`: the statistics as readable text (histogram drawn with bars) or JSON. The JSON keeps
// memray's key names where memray has the same figure, so scripts written for `memray stats --json`
// need little change.

import type { GcReport } from '../analysis/gc.js';
import type { Statistics } from '../analysis/statistics.js';
import type { CaptureModel } from '../model/model.js';
import { captureNotes, describeCapture, endingJson } from './describe.js';
import { describeEndingBrief, endingOf } from '../analysis/ending.js';
import { gcJson, renderGc } from './gc.js';
import { type Paint, noPaint } from '../util/paint.js';
import { displayPath, padLeft, padRight, truncateLocation } from '../util/text.js';
import { formatBytes, formatCount, formatDuration, formatPercent, formatTime } from '../util/units.js';
import { escapeLine } from '../util/terminal-text.js';

export interface StatsTextOptions {
  readonly width: number;
  readonly paint?: Paint;
  /** The garbage collector's section; left out when undefined. */
  readonly gc?: GcReport | undefined;
}

const BAR_WIDTH = 25;

export function renderStats(model: CaptureModel, stats: Statistics, options: StatsTextOptions): string {
  const paint = options.paint ?? noPaint;
  const cwd = model.header.cwd;
  const out: string[] = [];
  out.push(paint('bold', describeCapture(model)), '');
  if (stats.totalAllocations === 0) {
    out.push(
      model.aggregated
        ? 'This capture holds no allocations: the agent wrote no location with memory in it.'
        : 'This capture holds no allocations: tracking saw none (the program ended before allocating, or the capture was cut short).',
    );
  }
  const kv: [string, string][] = [
    ['Allocations', formatCount(stats.totalAllocations)],
    ['Memory allocated', formatBytes(stats.totalBytes)],
  ];
  if (!stats.aggregated) kv.push(['Frees', formatCount(stats.frees)]);
  kv.push(['Peak tracked heap', `${formatBytes(stats.peakHeap)}${stats.peakTimeNs !== undefined ? ` at about ${formatTime(stats.peakTimeNs)}` : ''}`]);
  kv.push(['Live at the end', `${formatBytes(stats.endHeap)} in ${plural(stats.endLiveCount, 'allocation')}`]);
  if (stats.peakRss !== undefined) {
    kv.push(['Peak RSS', `${formatBytes(stats.peakRss)}${stats.cgroupLimit !== undefined && stats.cgroupLimit > 0 ? ` (cgroup limit ${formatBytes(stats.cgroupLimit)})` : ''}`]);
  }
  kv.push(['Duration', formatDuration(stats.durationNs)]);
  kv.push(['Ended', describeEndingBrief(endingOf(model))]);
  kv.push(['Threads', formatCount(stats.threads)]);
  out.push(paint('bold', 'Totals'));
  const kw = Math.max(...kv.map(([k]) => k.length)) + 2;
  for (const [k, v] of kv) out.push(`  ${padRight(`${k}:`, kw)}${v}`);

  if (stats.timeline.length > 0) {
    out.push('', paint('bold', 'Memory over time (snapshots; the highest heap and RSS among them)'));
    const hasCgroup = stats.timeline.some((p) => Number.isFinite(p.cgroupUsage));
    const head = `  ${padLeft('time', 9)}  ${padLeft('RSS', 10)}  ${padLeft('anon', 10)}  ${padLeft('file', 10)}  ${padLeft('heap', 10)}${hasCgroup ? `  ${padLeft('cgroup', 10)}` : ''}`;
    out.push(paint('dim', head));
    for (const p of stats.timeline) {
      const cells = [formatTime(p.timeNs), formatBytes(p.rss), formatBytes(p.rssAnon), formatBytes(p.rssFile), Number.isFinite(p.heap) ? formatBytes(p.heap) : '–'];
      if (hasCgroup) cells.push(Number.isFinite(p.cgroupUsage) ? formatBytes(p.cgroupUsage) : '–');
      out.push(`  ${cells.map((c, i) => padLeft(c, i === 0 ? 9 : 10)).join('  ')}`);
    }
  }

  out.push('', paint('bold', 'Allocation sizes (bytes, from – below)'));
  if (stats.histogram === undefined) {
    out.push('  (not in an aggregated capture: it keeps totals per location, not each size)');
  } else if (stats.histogram.length === 0) {
    out.push('  (no allocations)');
  } else {
    const max = Math.max(...stats.histogram.map((b) => b.count));
    const ranges = stats.histogram.map((b) => `${formatBound(b.minBytes)} – ${formatBound(b.maxBytes + 1)}`);
    const rw = Math.max(...ranges.map((r) => r.length));
    stats.histogram.forEach((b, i) => {
      const len = max === 0 ? 0 : Math.round((BAR_WIDTH * b.count) / max);
      const bar = '█'.repeat(len) || (b.count > 0 ? '▏' : '');
      out.push(`  ${padLeft(ranges[i]!, rw)}  ${padRight(bar, BAR_WIDTH)}  ${formatCount(b.count)}`);
    });
  }

  out.push('', paint('bold', 'Allocators'));
  if (stats.allocators.length === 0) out.push('  (none)');
  const aw = Math.max(0, ...stats.allocators.map((a) => a.allocator.length));
  for (const a of stats.allocators) {
    out.push(`  ${padRight(a.allocator, aw)}  ${padLeft(formatCount(a.count), 14)}  ${padLeft(formatPercent(a.count, stats.totalAllocations), 7)}  ${padLeft(formatBytes(a.bytes), 10)}`);
  }

  const locWidth = Math.max(30, options.width - 20);
  const loc = (r: { function: string; file: string; line: number }): string =>
    truncateLocation(r.file === '' ? escapeLine(r.function) : `${escapeLine(r.function)} at ${escapeLine(displayPath(r.file, cwd))}${r.line > 0 ? `:${r.line}` : ''}`, locWidth);
  const n = Math.max(stats.topBySize.length, stats.topByCount.length);
  out.push('', paint('bold', `Top ${n} locations by memory allocated`));
  stats.topBySize.forEach((r, i) => out.push(`  ${i + 1}. ${loc(r)}  ${paint('bold', formatBytes(r.bytes))}`));
  if (stats.topBySize.length === 0) out.push('  (none)');
  out.push('', paint('bold', `Top ${n} locations by number of allocations`));
  stats.topByCount.forEach((r, i) => out.push(`  ${i + 1}. ${loc(r)}  ${paint('bold', formatCount(r.count))}`));
  if (stats.topByCount.length === 0) out.push('  (none)');
  out.push('', paint('bold', `Top ${n} modules by memory allocated (stdlib left out)`));
  stats.topModulesBySize.forEach((m, i) => out.push(`  ${i + 1}. ${escapeLine(m.module)}  ${paint('bold', formatBytes(m.bytes))} in ${plural(m.count, 'allocation')}`));
  if (stats.topModulesBySize.length === 0) out.push('  (none)');
  out.push('', paint('bold', `Top ${n} modules by number of allocations (stdlib left out)`));
  stats.topModulesByCount.forEach((m, i) => out.push(`  ${i + 1}. ${escapeLine(m.module)}  ${paint('bold', plural(m.count, 'allocation'))}, ${formatBytes(m.bytes)}`));
  if (stats.topModulesByCount.length === 0) out.push('  (none)');

  if (options.gc !== undefined) {
    out.push('', paint('bold', 'Garbage collector'));
    out.push(...renderGc(model, options.gc, { width: options.width, paint }));
  }

  const notes = [...stats.unavailable.map((u) => `not in this capture: ${u}.`), ...captureNotes(model)];
  if (notes.length > 0) out.push('', ...notes.map((x) => paint('dim', `Note: ${x}`)));
  return out.join('\n') + '\n';
}

export function statsJson(model: CaptureModel, stats: Statistics, gc?: GcReport): Record<string, unknown> {
  const h = model.header;
  const location = (r: { function: string; file: string; line: number }): string => `${r.function}:${r.file}:${r.line}`;
  return {
    total_num_allocations: stats.totalAllocations,
    total_bytes_allocated: stats.totalBytes,
    total_frees: stats.aggregated ? null : stats.frees,
    peak_memory: stats.peakHeap,
    peak_time_ns: stats.peakTimeNs ?? null,
    end_memory: stats.endHeap,
    end_allocations: stats.endLiveCount,
    peak_rss: stats.peakRss ?? null,
    cgroup_limit: stats.cgroupLimit ?? null,
    duration_ns: stats.durationNs,
    ending: endingJson(endingOf(model)),
    threads: stats.threads,
    allocation_size_histogram: stats.histogram?.map((b) => ({ min_bytes: b.minBytes, max_bytes: b.maxBytes, count: b.count })) ?? null,
    allocator_type_distribution: Object.fromEntries(stats.allocators.map((a) => [a.allocator.toUpperCase(), a.count])),
    allocator_bytes: Object.fromEntries(stats.allocators.map((a) => [a.allocator.toUpperCase(), a.bytes])),
    top_allocations_by_size: stats.topBySize.map((r) => ({ location: location(r), size: r.bytes })),
    top_allocations_by_count: stats.topByCount.map((r) => ({ location: location(r), count: r.count })),
    top_modules_by_allocation_size: stats.topModulesBySize.map((m) => ({ module: m.module, num_allocations: m.count, total_bytes: m.bytes })),
    top_modules_by_allocation_count: stats.topModulesByCount.map((m) => ({ module: m.module, num_allocations: m.count, total_bytes: m.bytes })),
    memory_over_time: stats.timeline.map((p) => ({
      time_ns: p.timeNs,
      rss: p.rss,
      rss_anon: p.rssAnon,
      rss_file: p.rssFile,
      heap: Number.isFinite(p.heap) ? p.heap : null,
      cgroup_usage: Number.isFinite(p.cgroupUsage) ? p.cgroupUsage : null,
    })),
    gc: gc === undefined ? null : gcJson(model, gc),
    unavailable: stats.unavailable,
    notes: captureNotes(model),
    metadata: {
      command_line: h.argv.join(' '),
      pid: h.pid,
      python_version: h.pythonVersion,
      python_allocator: h.pythonAllocator,
      aggregated: stats.aggregated,
      has_native_traces: model.nativeStacks,
      peak_memory: stats.peakHeap,
      total_allocations: stats.totalAllocations,
      duration_ns: stats.durationNs,
    },
  };
}

function plural(n: number, word: string): string {
  return `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;
}

/** A power-of-two bound, exactly: `64 B`, `256 KiB`, `8 MiB`. */
export function formatBound(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && v % 1024 === 0 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${formatCount(v)} ${units[u]}`;
}
