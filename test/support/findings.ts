// Helpers of the findings tests (src/analysis/findings/*.test.ts): which kinds fired, the one of a kind,
// and a run of scripted program time with a snapshot every 100 ms.

import assert from 'node:assert/strict';
import type { Finding } from '../../src/analysis/findings/index.js';
import { type FrameSpec, type ProgramCapture, SEC } from './program-capture.js';

export const MAIN: FrameSpec = ['<module>', 1];
export const ms = 1_000_000;

export function kinds(list: readonly Finding[]): string[] {
  return list.map((f) => f.kind).sort();
}

export function only<K extends Finding['kind']>(list: readonly Finding[], kind: K): Finding & { kind: K } {
  const f = list.find((x) => x.kind === kind);
  assert.ok(f !== undefined, `no ${kind} finding among ${kinds(list).join(', ') || 'none'}`);
  return f as Finding & { kind: K };
}

/** A run of `seconds`, a snapshot every 100 ms, `between(t)` called before each snapshot. */
export function run(p: ProgramCapture, seconds: number, between: (t: number) => void): void {
  for (let t = 0; t <= seconds * SEC; t += 100 * ms) {
    between(t);
    p.snapshot(t);
  }
}
