// Memory pressure in words (docs/capture-format.md, PRESSURE and MARKER). The agent records the kernel's
// pressure stall numbers as they are (PRESSURE records, read once a second); this module decides what
// counts as pressure and how to say it: when the share of the last 10 s in which some task stalled
// waiting for memory reaches 10%, reclaim is costing real time and the OOM killer may be near even below
// the memory limit. Told once, then again only after the share fell back below 5%, so a level that
// hovers around the mark is one event, not one a second.
//
// Captures from agents that made this decision themselves carry MEMORY_PRESSURE markers and no PRESSURE
// records: their markers are taken as they are, so they report as they always did.

import { MARKER_KINDS } from '../capture/format.js';
import type { MarkerRecord, PressureRecord } from '../capture/records.js';

/** Pressure is told when "some" avg10 reaches this share of the time (hundredths of a percent: 10%). */
export const PRESSURE_MARK = 1000;
/** ... and told again only after it fell below this share (5%). */
export const PRESSURE_REARM = 500;

const MEMORY_PRESSURE = MARKER_KINDS.indexOf('memory-pressure');

/** The sentence for a sample that crossed the mark (the words the agent used to write into its marker). */
export function pressureLabel(p: PressureRecord): string {
  const some = Math.floor(p.someAvg10 / 100);
  const all = p.fullAvg10 !== undefined && p.fullAvg10 > 0 ? Math.floor(p.fullAvg10 / 100) : 0;
  return `memory pressure: tasks stalled on memory ${some}% of the last 10 s (all tasks: ${all}%), from ${p.source}`;
}

/** The samples at which pressure is told, in the order given (the capture's). Pure. */
export function pressureCrossings(samples: readonly PressureRecord[]): PressureRecord[] {
  const out: PressureRecord[] = [];
  let marked = false;
  for (const p of samples) {
    if (!marked && p.someAvg10 >= PRESSURE_MARK) {
      marked = true;
      out.push(p);
    } else if (marked && p.someAvg10 < PRESSURE_REARM) {
      marked = false;
    }
  }
  return out;
}

/**
 * The capture's markers, with memory pressure decided from its PRESSURE records added as MEMORY_PRESSURE
 * markers (the service stream's, at the sample's seq and time), in time order. A capture without PRESSURE
 * records gets its markers back as they are.
 */
export function markersWithPressure(model: { readonly markers: readonly MarkerRecord[]; readonly pressure: readonly PressureRecord[] }): readonly MarkerRecord[] {
  const crossings = pressureCrossings(model.pressure);
  if (crossings.length === 0) return model.markers;
  const derived: MarkerRecord[] = crossings.map((p) => ({ type: 'marker', stream: p.stream, seq: p.seq, timeNs: p.timeNs, kind: MEMORY_PRESSURE, label: pressureLabel(p) }));
  // Stable: markers of the same time keep the capture's order, the derived one after them.
  return [...model.markers, ...derived]
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.timeNs - b.m.timeNs || a.i - b.i)
    .map((x) => x.m);
}
