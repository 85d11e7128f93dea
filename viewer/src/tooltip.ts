// What the pointer is over: the tooltip that follows it across the flame graph (a frame's name, place,
// source line, kind, bytes and count), and the line under the timeline that reads out the sample and the
// markers under it.

import type { ReportData } from '../../src/report/html/payload.js';
import { codeKind, frameColor, KIND_LABELS, type Theme } from './colors.js';
import { el, replaceChildren } from './dom.js';
import { formatBytes, formatCount, formatDuration, formatPercent } from './format.js';
import { frameName, frameWhere } from './labels.js';
import type { TimelineView } from './timeline.js';
import type { FlameTree } from './tree.js';

/** What the tooltip describes: a node of the drawn tree, as the view shows it. */
export interface TooltipTarget {
  readonly tree: FlameTree;
  readonly node: number;
  /** The zoomed node: shares are given of the whole view and, when zoomed, of the zoom. */
  readonly zoomNode: number;
  readonly theme: Theme;
  readonly inverted: boolean;
}

export class FrameTooltip {
  readonly element = el('div', { class: 'tooltip', role: 'tooltip' });

  constructor(private readonly data: ReportData) {}

  hide(): void {
    this.element.classList.remove('show');
  }

  /** Fill the tooltip and place it beside the pointer at (x, y), on the side where it fits the window. */
  show(target: TooltipTarget, x: number, y: number): void {
    const { tree, node, zoomNode, theme, inverted } = target;
    const data = this.data;
    const total = tree.total[0]!;
    const zoomTotal = tree.total[zoomNode]!;
    const bytes = tree.total[node]!;
    const parts: (HTMLElement | null)[] = [];
    if (node === 0) {
      parts.push(el('div', { class: 'tt-name' }, 'all'));
    } else {
      const f = tree.frame[node]!;
      const flags = data.frames.flags[f]!;
      const sw = el('span', { class: 'tt-swatch' });
      sw.style.background = frameColor(flags, frameName(data, f), theme);
      parts.push(el('div', { class: 'tt-name' }, sw, frameName(data, f)));
      parts.push(el('div', { class: 'tt-where' }, frameWhere(data, f)));
      const src = data.frames.source[f]!;
      if (src >= 0) parts.push(el('pre', { class: 'tt-source' }, (data.strings[src] ?? '').trim()));
      parts.push(el('div', { class: 'tt-kind' }, KIND_LABELS.find(([k]) => k === codeKind(flags))?.[1] ?? ''));
    }
    parts.push(
      el('div', { class: 'tt-bytes' }, el('strong', {}, formatBytes(bytes)), ` · ${formatPercent(bytes, total)} of the view`, zoomNode !== 0 ? ` · ${formatPercent(bytes, zoomTotal)} of the zoom` : ''),
    );
    parts.push(el('div', {}, `${formatCount(tree.count[node]!)} allocation${tree.count[node] === 1 ? '' : 's'}`));
    if (tree.self[node]! > 0 && node !== 0) parts.push(el('div', { class: 'tt-self' }, `${inverted ? 'as outermost caller' : 'allocated here'}: ${formatBytes(tree.self[node]!)}`));
    parts.push(el('div', { class: 'tt-hint' }, 'Click to zoom'));
    const tip = this.element;
    replaceChildren(tip, ...parts);
    tip.classList.add('show');
    const r = tip.getBoundingClientRect();
    const left = x + 14 + r.width > window.innerWidth ? x - 14 - r.width : x + 14;
    const top = y + 14 + r.height > window.innerHeight ? y - 14 - r.height : y + 14;
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${Math.max(4, top)}px`;
  }
}

/**
 * The timeline's readout for the pointer at time `t`: the nearest sample's time, RSS (anonymous, file),
 * heap and cgroup usage, then every marker within 4 pixels. Null when no sample is at `t`.
 */
export function timelineReadout(data: ReportData, timeline: TimelineView, t: number): string | null {
  const i = timeline.sampleAt(t);
  if (i < 0) return null;
  const tl = data.timeline;
  const parts = [`${formatDuration(tl.time[i]!)}`, `RSS ${formatBytes(tl.rss[i]!)}`, `anon ${formatBytes(tl.rssAnon[i]!)}`, `file ${formatBytes(tl.rssFile[i]!)}`, `heap ${formatBytes(tl.heap[i]!)}`];
  if (tl.cgroupUsage.length > 0) parts.push(`whole cgroup ${formatBytes(tl.cgroupUsage[i]!)}`);
  const mk = data.markers;
  const px = (timeline.tEnd / timeline.plotWidth) * 4;
  for (let k = 0; k < mk.time.length; k++) {
    if (Math.abs(mk.time[k]! - t) > px) continue;
    const label = data.strings[mk.label[k]!] ?? '';
    parts.push(`▼ ${data.strings[mk.kind[k]!] ?? ''}${label !== '' ? `: ${label}` : ''}`);
  }
  return parts.join(' · ');
}
