// The memory timeline as CSV (one row per snapshot), for spreadsheets and plotting scripts. Pure.

import type { ReportData } from '../../src/report/html/payload.js';

export function timelineCsv(data: ReportData): string {
  const tl = data.timeline;
  const cg = tl.cgroupUsage.length === tl.time.length;
  const head = ['time_s', 'rss_bytes', 'rss_anon_bytes', 'rss_file_bytes', 'heap_bytes', ...(cg ? ['cgroup_usage_bytes'] : [])];
  const lines = [head.join(',')];
  for (let i = 0; i < tl.time.length; i++) {
    const row = [(tl.time[i]! / 1e9).toFixed(6), tl.rss[i], tl.rssAnon[i], tl.rssFile[i], tl.heap[i]];
    if (cg) row.push(tl.cgroupUsage[i]);
    lines.push(row.join(','));
  }
  return lines.join('\n') + '\n';
}
