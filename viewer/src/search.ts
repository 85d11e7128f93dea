// Which frames a search query matches. Pure; unit-tested.
//
// A query is a case-insensitive substring of the function name or the file, or a regular expression when
// written /like this/ (with flags, /like this/i). An invalid expression matches nothing and says why.

import type { ReportData } from '../../src/report/html/payload.js';

export interface SearchResult {
  /** 1 for each frame that matches. */
  readonly matches: Uint8Array;
  readonly frames: number;
  readonly error: string | null;
}

export function compileQuery(query: string): { test: (s: string) => boolean; error: string | null } {
  const re = /^\/(.*)\/([a-z]*)$/s.exec(query);
  if (re !== null) {
    try {
      const flags = (re[2] ?? '').replace(/[gy]/g, '');
      const rx = new RegExp(re[1] ?? '', flags);
      return { test: (s) => rx.test(s), error: null };
    } catch (e) {
      return { test: () => false, error: e instanceof Error ? e.message : String(e) };
    }
  }
  const needle = query.toLowerCase();
  return { test: (s) => s.toLowerCase().includes(needle), error: null };
}

export function searchFrames(data: ReportData, query: string): SearchResult {
  const nf = data.frames.name.length;
  const matches = new Uint8Array(nf);
  if (query === '') return { matches, frames: 0, error: null };
  const { test, error } = compileQuery(query);
  // Test each distinct string once: many frames share a file or a function name.
  const memo = new Int8Array(data.strings.length);
  const check = (s: number): boolean => {
    let m = memo[s]!;
    if (m === 0) {
      m = test(data.strings[s]!) ? 1 : -1;
      memo[s] = m;
    }
    return m === 1;
  };
  let frames = 0;
  for (let f = 0; f < nf; f++) {
    if (check(data.frames.name[f]!) || check(data.frames.file[f]!)) {
      matches[f] = 1;
      frames++;
    }
  }
  return { matches, frames, error };
}
