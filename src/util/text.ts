// Text laid out in fixed-width columns (terminal reports and the live terminal view): widths, cutting,
// padding, wrapping, and file paths shown short.

/** Display width of a string (every code point counts 1; reports avoid wide characters). */
export function textWidth(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Cuts `s` to `width` columns, keeping the end (file names matter most at their end). */
export function truncateLeft(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(chars.length - width).join('');
  return `…${chars.slice(chars.length - width + 1).join('')}`;
}

export function truncateRight(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  if (width <= 1) return chars.slice(0, width).join('');
  return `${chars.slice(0, width - 1).join('')}…`;
}

export function padRight(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : s + ' '.repeat(width - w);
}

export function padLeft(s: string, width: number): string {
  const w = textWidth(s);
  return w >= width ? s : ' '.repeat(width - w) + s;
}

/** Shows a file relative to the directory the program ran in, when it is inside it. */
export function displayPath(file: string, cwd: string): string {
  if (cwd !== '' && cwd !== '/') {
    const base = cwd.endsWith('/') ? cwd : `${cwd}/`;
    if (file.startsWith(base)) return file.slice(base.length);
  }
  return file;
}

/**
 * Cuts `function at path:line` to `width` keeping the function and the end of the path (the file name and
 * line): `Thread.run at …/threading.py:982`. Falls back to keeping the end when even that is too long.
 */
export function truncateLocation(text: string, width: number): string {
  if (textWidth(text) <= width) return text;
  const at = text.indexOf(' at ');
  if (at > 0) {
    const head = text.slice(0, at + 4);
    const room = width - textWidth(head);
    if (room >= 12) return head + truncateLeft(text.slice(at + 4), room);
  }
  return truncateLeft(text, width);
}

/**
 * Wraps `text` at spaces to lines of at most `width` columns, each prefixed with `indent` (the first with
 * `first`, when given). A word longer than a line stays whole on its own line.
 */
export function wrapText(text: string, width: number, indent: string, first: string = indent): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/ +/)) {
    if (word === '') continue;
    if (!empty && textWidth(line) + 1 + textWidth(word) > width) {
      out.push(line);
      line = indent + word;
    } else {
      line = empty ? line + word : `${line} ${word}`;
    }
    empty = false;
  }
  out.push(line);
  return out;
}
