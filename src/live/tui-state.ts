// What the keys of the live terminal view do: a pure state machine (tui.ts feeds it raw key bytes).

import type { SortKey } from './view-data.js';

export interface LiveUiState {
  readonly sort: SortKey;
  /** Thread index shown alone; undefined: all threads merged. */
  readonly thread: number | undefined;
  readonly paused: boolean;
}

export const INITIAL_UI: LiveUiState = { sort: 'total', thread: undefined, paused: false };

export type LiveKey = 'quit' | 'pause' | 'sort-total' | 'sort-own' | 'sort-count' | 'next-thread' | 'prev-thread' | 'merge-threads';

// memray's keys (t, o, a, <, >, m, space, q, Esc), c as another name for "allocation count".
const KEYS: Record<string, LiveKey> = {
  q: 'quit',
  Q: 'quit',
  '\u001b': 'quit',
  '\u0003': 'quit',
  ' ': 'pause',
  p: 'pause',
  t: 'sort-total',
  T: 'sort-total',
  o: 'sort-own',
  O: 'sort-own',
  a: 'sort-count',
  A: 'sort-count',
  c: 'sort-count',
  C: 'sort-count',
  '>': 'next-thread',
  '.': 'next-thread',
  '\u001b[C': 'next-thread',
  '<': 'prev-thread',
  ',': 'prev-thread',
  '\u001b[D': 'prev-thread',
  m: 'merge-threads',
  M: 'merge-threads',
};

/** The keys in one read from a raw terminal (several may come at once when typed fast or pasted). */
export function keysOf(data: string): LiveKey[] {
  const out: LiveKey[] = [];
  let i = 0;
  while (i < data.length) {
    // An escape sequence (arrows) is three bytes; Esc alone is one.
    const seq = data.startsWith('\u001b[', i) ? data.slice(i, i + 3) : undefined;
    if (seq !== undefined && KEYS[seq] !== undefined) {
      out.push(KEYS[seq]);
      i += 3;
      continue;
    }
    if (seq !== undefined) {
      // Another sequence (function keys, mouse): skip to its final byte, not a quit.
      let j = i + 2;
      while (j < data.length && !/[@-~]/.test(data[j]!)) j++;
      i = j + 1;
      continue;
    }
    const key = KEYS[data[i]!];
    if (key !== undefined) out.push(key);
    i++;
  }
  return out;
}

export type KeyAction = { readonly kind: 'quit' } | { readonly kind: 'redraw'; readonly state: LiveUiState };

/**
 * `threads`: the thread indexes the view lists now, in its order; switching cycles all → first → … →
 * last → all.
 */
export function pressKey(state: LiveUiState, key: LiveKey, threads: readonly number[]): KeyAction {
  switch (key) {
    case 'quit':
      return { kind: 'quit' };
    case 'pause':
      return { kind: 'redraw', state: { ...state, paused: !state.paused } };
    case 'sort-total':
      return { kind: 'redraw', state: { ...state, sort: 'total' } };
    case 'sort-own':
      return { kind: 'redraw', state: { ...state, sort: 'own' } };
    case 'sort-count':
      return { kind: 'redraw', state: { ...state, sort: 'count' } };
    case 'merge-threads':
      return { kind: 'redraw', state: { ...state, thread: undefined } };
    case 'next-thread':
    case 'prev-thread': {
      // Positions 0…n-1 are the threads, n is "all merged"; a thread that left the list reads as all.
      const n = threads.length;
      const at = state.thread === undefined ? n : threads.indexOf(state.thread);
      const from = at < 0 ? n : at;
      const to = (from + (key === 'next-thread' ? 1 : n)) % (n + 1);
      return { kind: 'redraw', state: { ...state, thread: to === n ? undefined : threads[to] } };
    }
  }
}
