// Colour on a terminal (ANSI SGR), or none: renderers take a Paint and never write escape codes themselves.

export type Colour = 'red' | 'yellow' | 'green' | 'brightGreen' | 'bold' | 'dim' | 'cyan';

const SGR: Record<Colour, string> = { red: '31', yellow: '33', green: '32', brightGreen: '92', bold: '1', dim: '2', cyan: '36' };

export interface Paint {
  (colour: Colour, text: string): string;
}

export const noPaint: Paint = (_c, text) => text;
export const ansiPaint: Paint = (c, text) => `\u001b[${SGR[c]}m${text}\u001b[0m`;

/** memray's scale: above 60% of the total red, above 20% yellow, above 5% green, else bright green. */
export function shareColour(share: number): Colour {
  if (share > 0.6) return 'red';
  if (share > 0.2) return 'yellow';
  if (share > 0.05) return 'green';
  return 'brightGreen';
}
