// The page's two read-only panels, built once from the payload: the OOM verdict at the top of the page and
// the statistics panel that the header's Statistics button opens.

import type { ReportData, VerdictPanel } from '../../src/report/html/payload.js';
import { append, button, el } from './dom.js';
import { formatBytes, formatCount, formatDuration } from './format.js';

/** The statistics panel (closed; the class `open` shows it): the run's facts, notes and reductions. */
export function statsPanel(data: ReportData): HTMLElement {
  const m = data.meta;
  const rows: [string, string][] = [
    ['Command', m.commandLine.join(' ')],
    ['Capture', m.captureFile],
    ['Python', m.pythonVersion],
    ['Python allocator', m.pythonAllocator],
    ['Process', `pid ${m.pid}${m.hostname !== '' ? ` on ${m.hostname}` : ''}`],
    ['Capture mode', m.captureMode],
    [
      'Started',
      m.startWallMs !== null
        ? new Date(m.startWallMs)
            .toISOString()
            .replace('T', ' ')
            .replace(/\.\d+Z$/, ' UTC')
        : 'unknown',
    ],
    ['Duration', formatDuration(m.durationNs)],
    ['Peak tracked heap', `${formatBytes(m.peakHeapBytes)}${m.peakTimeNs !== null ? ` at ${formatDuration(m.peakTimeNs)}` : ''}`],
    ['Peak RSS', m.peakRssBytes !== null ? formatBytes(m.peakRssBytes) : 'unknown'],
    ['cgroup limit', m.cgroupLimitBytes !== null ? formatBytes(m.cgroupLimitBytes) : 'none'],
    ['Allocations', formatCount(m.totalAllocations)],
    ['Bytes allocated', formatBytes(m.totalBytesAllocated)],
    ['Threads', formatCount(data.threads.name.length)],
    ['Distinct frames', formatCount(data.frames.name.length)],
    ['Snapshots', formatCount(data.timeline.time.length)],
    ['Options', m.options.length > 0 ? m.options.join(', ') : 'defaults'],
    ['Ended', m.ending ?? 'unknown'],
    ['Report by', `memlens ${m.memlensVersion}`],
  ];
  const dl = el('dl', {});
  for (const [k, v] of rows) append(dl, el('dt', {}, k), el('dd', {}, v));
  const panel = el(
    'aside',
    { class: 'panel', id: 'stats', ariaLabel: 'Statistics' },
    el(
      'div',
      { class: 'panel-head' },
      el('h2', {}, 'Statistics'),
      button('×', 'Close', () => panel.classList.remove('open'), 'btn icon'),
    ),
    dl,
  );
  if (m.notes.length > 0) append(panel, el('h3', {}, 'Notes'), el('ul', {}, ...m.notes.map((n) => el('li', {}, n))));
  if (m.reductions.length > 0) append(panel, el('h3', {}, 'Reduced to fit'), el('ul', {}, ...m.reductions.map((n) => el('li', {}, n))));
  return panel;
}

/** The OOM verdict at the top of the page: how the process ended, the key figures, what grew, findings. */
export function verdictSection(v: VerdictPanel): HTMLElement {
  const facts = el('dl', { class: 'verdict-facts' });
  for (const [k, val] of v.facts) append(facts, el('dt', {}, k), el('dd', {}, val));
  const growth = el('table', { class: 'verdict-growth' });
  for (const g of v.growth) append(growth, el('tr', {}, el('td', { class: 'num' }, g.bytes), el('td', { class: 'num' }, g.count), el('td', { class: 'where' }, g.where)));
  const body = el(
    'div',
    { class: 'verdict-body' },
    facts,
    el('div', { class: 'verdict-grew' }, el('h3', {}, v.growthTitle), v.growth.length > 0 ? growth : el('p', { class: 'muted' }, 'Nothing tracked grew.')),
  );
  if (v.census !== null) {
    // Beside the allocation sites: the kinds of objects that hold the memory.
    const types = el('table', { class: 'verdict-growth verdict-census-types' });
    for (const t of v.census.types)
      append(types, el('tr', {}, el('td', { class: 'where' }, t.type), el('td', { class: 'num' }, t.count), el('td', { class: 'num' }, t.bytes), el('td', { class: 'num' }, t.share)));
    // And what keeps them alive: objects grouped by the shape of their reference path.
    const paths = el('table', { class: 'verdict-growth verdict-census-paths' });
    for (const g of v.census.paths) append(paths, el('tr', {}, el('td', { class: 'where' }, g.path), el('td', {}, g.type), el('td', { class: 'num' }, g.count), el('td', { class: 'num' }, g.bytes)));
    append(
      body,
      el(
        'div',
        { class: 'verdict-grew verdict-census', id: 'verdict-census' },
        el('h3', {}, v.census.title),
        types,
        v.census.paths.length > 0 ? el('h4', {}, 'Held by (objects grouped by the path that keeps them alive; [*]: any key or index)') : null,
        v.census.paths.length > 0 ? paths : null,
        v.census.pathsNote !== '' ? el('p', { class: 'muted' }, v.census.pathsNote) : null,
        el('p', { class: 'muted' }, v.census.note),
      ),
    );
  }
  const findings = el('div', { class: 'verdict-findings', id: 'verdict-findings' }, el('h3', {}, v.findings.length > 0 ? `Findings (${v.findings.length})` : 'Findings'));
  if (v.findings.length === 0)
    append(
      findings,
      el(
        'p',
        { class: 'muted' },
        'None: nothing in this capture matched what memlens looks for (memory that accumulated, collections that only grew, large objects kept long, thread or process churn, collections grown step by step, cycles holding memory).',
      ),
    );
  for (const n of v.notLookedFor) append(findings, el('p', { class: 'muted' }, n));
  v.findings.forEach((f, i) => {
    const d = el('details', { class: 'finding' }, el('summary', {}, f.title), el('ul', {}, ...f.evidence.map((e) => el('li', {}, e))), el('p', { class: 'advice' }, f.advice));
    d.open = i === 0;
    append(findings, d);
  });
  const head = el('summary', { class: 'verdict-head' }, el('strong', {}, 'Verdict: '), v.headline);
  const box = el('details', { class: `verdict verdict-${v.severity}`, id: 'verdict' }, head, v.detail !== '' ? el('div', { class: 'verdict-detail' }, v.detail) : null, body, findings);
  box.open = true;
  return box;
}

/** Heights the verdict's figures and findings keep at least when the page fits the flame graph into view. */
const MIN_FIGURES_PX = 80;
const MIN_FINDINGS_PX = 150;

/**
 * Makes the verdict `excess` pixels shorter, so that what follows it (the timeline, the flame graph) is in
 * view when the page opens: its figures scroll inside a shorter box (down to MIN_FIGURES_PX), then its
 * findings (down to MIN_FINDINGS_PX), and only then do the findings close to their titles. Nothing is
 * removed: every figure is still there, a scroll or a click away. Returns the pixels it saved.
 */
export function fitVerdict(verdict: HTMLElement, excess: number): number {
  let saved = 0;
  for (const [selector, min] of [
    ['.verdict-body', MIN_FIGURES_PX],
    ['.verdict-findings', MIN_FINDINGS_PX],
  ] as const) {
    const box = verdict.querySelector<HTMLElement>(selector);
    if (box === null || saved >= excess) continue;
    const h = box.getBoundingClientRect().height;
    const to = Math.max(min, h - (excess - saved));
    if (to >= h) continue;
    box.style.maxHeight = `${Math.floor(to)}px`;
    box.classList.add('scrolls');
    saved += h - to;
  }
  if (saved < excess) {
    for (const d of verdict.querySelectorAll<HTMLDetailsElement>('.finding')) {
      if (!d.open) continue;
      const h = d.getBoundingClientRect().height;
      d.open = false;
      saved += h - d.getBoundingClientRect().height;
    }
  }
  return saved;
}
