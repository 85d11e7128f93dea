// A plain text table that fits a terminal width: numeric columns keep their width, the one flexible
// column (a location) is cut from the left to what remains.

import { type Paint, noPaint } from '../util/paint.js';
import { padLeft, padRight, textWidth, truncateLeft } from '../util/text.js';

export interface Column {
  readonly title: string;
  readonly align: 'left' | 'right';
  /** At most one column flexes to fill the width. */
  readonly flex?: boolean;
  /** How to cut a cell that is too wide (default: keep the end). */
  readonly truncate?: (text: string, width: number) => string;
}

export interface TableOptions {
  readonly width: number;
  readonly paint?: Paint;
  /** Per row, a function that paints each cell (after padding). */
  readonly rowPaint?: (row: number, column: number, text: string) => string;
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], options: TableOptions): string {
  const paint = options.paint ?? noPaint;
  const gap = 2;
  const widths = columns.map((c, i) => Math.max(textWidth(c.title), ...rows.map((r) => textWidth(r[i] ?? ''))));
  const flex = columns.findIndex((c) => c.flex === true);
  if (flex >= 0) {
    const fixed = widths.reduce((a, w, i) => (i === flex ? a : a + w), 0) + gap * (columns.length - 1);
    const room = Math.max(textWidth(columns[flex]?.title ?? ''), options.width - fixed, 20);
    widths[flex] = Math.min(widths[flex]!, room);
  }
  const cell = (text: string, i: number): string => {
    const w = widths[i]!;
    const c = columns[i]!;
    const t = textWidth(text) > w ? (c.truncate ?? truncateLeft)(text, w) : text;
    return c.align === 'right' ? padLeft(t, w) : padRight(t, w);
  };
  const lines: string[] = [];
  const header = columns.map((c, i) => cell(c.title, i)).join(' '.repeat(gap));
  lines.push(paint('bold', header.trimEnd()));
  lines.push(widths.map((w) => '─'.repeat(w)).join(' '.repeat(gap)));
  rows.forEach((r, ri) => {
    const cells = columns.map((_, i) => {
      const text = cell(r[i] ?? '', i);
      return options.rowPaint !== undefined ? options.rowPaint(ri, i, text) : text;
    });
    lines.push(cells.join(' '.repeat(gap)).trimEnd());
  });
  return lines.join('\n') + '\n';
}
