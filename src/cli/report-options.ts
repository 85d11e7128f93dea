// Options shared by the commands that report on one capture (summary, tree, export): which allocations
// (peak, leaks, temporary, a time window), which frames, and turning them into build options and a set.

import { UsageError } from '../errors.js';
import type { FrameFilter } from '../model/frames.js';
import type { BuildOptions } from '../model/builder.js';
import type { CaptureModel } from '../model/model.js';
import { booleanOption, type OptionSpecs, type OptionValues, stringOption } from './command.js';

export const SET_OPTIONS: OptionSpecs = {
  leaks: { type: 'boolean', description: 'Allocations still live when tracking ended (default: those live at the high-water mark)' },
  'temporary-allocations': { type: 'boolean', description: 'Temporary allocations: freed after at most 1 other allocation by their thread' },
  'temporary-allocation-threshold': { type: 'string', value: 'N', description: 'Temporary allocations: freed after at most N other allocations by their thread' },
  from: { type: 'string', value: 'SECONDS', description: 'Find the peak inside a window that starts this long after tracking started' },
  to: { type: 'string', value: 'SECONDS', description: 'Find the peak inside a window that ends this long after tracking started' },
};

export const FRAME_OPTIONS: OptionSpecs = {
  'show-internal-frames': { type: 'boolean', description: "Show frames of memlens's bootstrap, runpy, threading and the interpreter" },
  'show-import-frames': { type: 'boolean', description: 'Show frames of the import system (importlib)' },
};

export interface SetSelection {
  readonly kind: 'peak' | 'leaks' | 'temporary';
  readonly temporaryThreshold: number | undefined;
  readonly window: { readonly fromNs?: number | undefined; readonly toNs?: number | undefined } | undefined;
}

export function parseSetOptions(command: string, options: OptionValues): SetSelection {
  const leaksAsked = booleanOption(options, 'leaks');
  const tempAsked = booleanOption(options, 'temporary-allocations');
  const thresholdText = stringOption(options, 'temporary-allocation-threshold');
  let threshold: number | undefined;
  if (thresholdText !== undefined) {
    threshold = Number(thresholdText);
    if (!Number.isInteger(threshold) || threshold < 0) {
      throw new UsageError(`${command}: --temporary-allocation-threshold wants a whole number ≥ 0, not '${thresholdText}'`);
    }
  } else if (tempAsked) {
    threshold = 1;
  }
  if (leaksAsked && threshold !== undefined) {
    throw new UsageError(`${command}: --leaks and temporary allocations are different questions: ask one at a time`);
  }
  const fromNs = seconds(command, 'from', stringOption(options, 'from'));
  const toNs = seconds(command, 'to', stringOption(options, 'to'));
  if (fromNs !== undefined && toNs !== undefined && toNs <= fromNs) {
    throw new UsageError(`${command}: --to (${toNs / 1e9} s) must be after --from (${fromNs / 1e9} s)`);
  }
  const window = fromNs !== undefined || toNs !== undefined ? { fromNs, toNs } : undefined;
  if (window !== undefined && (leaksAsked || threshold !== undefined)) {
    throw new UsageError(`${command}: --from/--to choose the window of the peak; they do not combine with --leaks or temporary allocations`);
  }
  return { kind: threshold !== undefined ? 'temporary' : leaksAsked ? 'leaks' : 'peak', temporaryThreshold: threshold, window };
}

function seconds(command: string, name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text.replace(/s$/, ''));
  if (text.trim() === '' || !Number.isFinite(v) || v < 0) throw new UsageError(`${command}: --${name} wants seconds since tracking started (like 12.5), not '${text}'`);
  return Math.round(v * 1e9);
}

export function buildOptionsOf(sel: SetSelection): BuildOptions {
  return { temporaryThreshold: sel.temporaryThreshold, window: sel.window };
}

export function frameFilterOf(options: OptionValues): FrameFilter {
  return { showInternal: booleanOption(options, 'show-internal-frames'), showImports: booleanOption(options, 'show-import-frames') };
}

/** A note naming the frames a report hid, and the flags that show them; undefined if none were hidden. */
export function hiddenFramesNote(model: CaptureModel, filter: FrameFilter): string | undefined {
  let internal = false;
  let imports = false;
  for (const f of model.frames.frames) {
    if (f.kind === 'internal' && !filter.showInternal) internal = true;
    if (f.kind === 'import' && !filter.showImports) imports = true;
  }
  const parts: string[] = [];
  if (imports) parts.push('import system (--show-import-frames)');
  if (internal) parts.push('interpreter and bootstrap (--show-internal-frames)');
  return parts.length > 0 ? `frames hidden: ${parts.join(', ')}.` : undefined;
}

/** A whole number option ≥ 1 (or ≥ 0 with `allowZero`). */
export function countOption(command: string, options: OptionValues, name: string, fallback: number, allowZero = false): number {
  const text = stringOption(options, name);
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) throw new UsageError(`${command}: --${name} wants a whole number ≥ ${allowZero ? 0 : 1}, not '${text}'`);
  return v;
}

/** Exactly one FILE positional. */
export function onePath(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0 ? `${command}: missing capture FILE` : `${command}: expected one FILE, got ${positionals.length}`, {
      hint: `Run 'memlens ${command} --help' for usage.`,
    });
  }
  return positionals[0] as string;
}
