// Colour on a terminal (ANSI SGR), or none: renderers take a Paint and never write escape codes themselves.
// The colours are markers (terminal-text.ts): they become escape codes only on their way to the terminal.

import { control } from './terminal-text.js';

export type Colour = 'red' | 'yellow' | 'green' | 'brightGreen' | 'bold' | 'dim' | 'cyan';

export interface Paint {
  (colour: Colour, text: string): string;
}

export const noPaint: Paint = (_c, text) => text;
export const ansiPaint: Paint = (c, text) => `${control(c)}${text}${control('reset')}`;

/** memray's scale: above 60% of the total red, above 20% yellow, above 5% green, else bright green. */
export function shareColour(share: number): Colour {
  if (share > 0.6) return 'red';
  if (share > 0.2) return 'yellow';
  if (share > 0.05) return 'green';
  return 'brightGreen';
}
