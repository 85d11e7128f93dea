// Frame colours: the hue says where the code lives (your code, the standard library, an installed package,
// native code, the interpreter), the lightness varies with the name so neighbours stay distinguishable.

import { FrameFlag } from '../../src/report/html/payload.js';

export type Theme = 'light' | 'dark';

export interface Palette {
  readonly background: string;
  readonly text: string;
  readonly textOnFrame: string;
  readonly muted: string;
  readonly grid: string;
  readonly match: string;
  readonly rss: string;
  readonly rssAnon: string;
  readonly heap: string;
  readonly cgroup: string;
  readonly limit: string;
  readonly selection: string;
  readonly marker: string;
  readonly gc: string;
}

export const PALETTES: Record<Theme, Palette> = {
  light: {
    background: '#ffffff',
    text: '#1d2430',
    textOnFrame: '#1b1b1b',
    muted: '#6b7280',
    grid: 'rgba(0,0,0,0.08)',
    match: '#d946ef',
    rss: 'rgba(59,130,246,0.22)',
    rssAnon: 'rgba(59,130,246,0.45)',
    heap: '#ea580c',
    cgroup: '#7c3aed',
    limit: '#dc2626',
    selection: 'rgba(234,88,12,0.14)',
    marker: '#be123c',
    gc: '#0d9488',
  },
  dark: {
    background: '#14171c',
    text: '#e5e7eb',
    textOnFrame: '#111111',
    muted: '#9ca3af',
    grid: 'rgba(255,255,255,0.09)',
    match: '#f0abfc',
    rss: 'rgba(96,165,250,0.22)',
    rssAnon: 'rgba(96,165,250,0.45)',
    heap: '#fb923c',
    cgroup: '#a78bfa',
    limit: '#f87171',
    selection: 'rgba(251,146,60,0.18)',
    marker: '#fb7185',
    gc: '#2dd4bf',
  },
};

/** Hue ranges per kind of code: [hue, saturation%]. */
const KINDS = {
  user: [22, 88],
  stdlib: [45, 75],
  library: [150, 45],
  native: [205, 55],
  interpreter: [265, 25],
  synthetic: [0, 0],
} as const;

export type CodeKind = keyof typeof KINDS;

export function codeKind(flags: number): CodeKind {
  if ((flags & FrameFlag.Synthetic) !== 0) return 'synthetic';
  if ((flags & (FrameFlag.Interpreter | FrameFlag.Import | FrameFlag.Memlens)) !== 0) return 'interpreter';
  if ((flags & FrameFlag.Native) !== 0) return 'native';
  if ((flags & FrameFlag.Library) !== 0) return 'library';
  if ((flags & FrameFlag.Stdlib) !== 0) return 'stdlib';
  return 'user';
}

/** FNV-1a of a string, for a stable per-name lightness. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function frameColor(flags: number, name: string, theme: Theme): string {
  const [hue, sat] = KINDS[codeKind(flags)];
  const h = hashString(name);
  const jitter = (h % 1000) / 1000;
  const light = theme === 'light' ? 62 + jitter * 16 : 52 + jitter * 14;
  return `hsl(${hue + (((h >> 10) % 16) - 8)}, ${sat}%, ${light.toFixed(1)}%)`;
}

export const KIND_LABELS: readonly [CodeKind, string][] = [
  ['user', 'your code'],
  ['stdlib', 'standard library'],
  ['library', 'installed packages'],
  ['native', 'native'],
  ['interpreter', 'interpreter / import / memlens'],
];
