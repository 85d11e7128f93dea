// The one escaping function for text that reaches a terminal, and the markers of memlens's own sequences.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { control, escapeLine, escapeTerminalText, terminalSafe, toTerminal, withoutControls } from './terminal-text.js';

test('every control a terminal obeys is written as a JSON escape; the line feed and ordinary text stay', () => {
  const cases: [string, string][] = [
    ['plain ünïcødé 日本 😀 <>&"\'\\', 'plain ünïcødé 日本 😀 <>&"\'\\'],
    ['\u001b[2J\u001b]0;title\u0007', '\\u001b[2J\\u001b]0;title\\u0007'],
    ['a\rb\bc\td\u0000e\u007f', 'a\\u000db\\u0008c\\u0009d\\u0000e\\u007f'],
    ['\u0085\u009b31m\u0090', '\\u0085\\u009b31m\\u0090'],
    ['txt\u202eexe.\u2066\u2069\u200e\u200f\u061c', 'txt\\u202eexe.\\u2066\\u2069\\u200e\\u200f\\u061c'],
    ['zero\u200bwidth\ufeff\u00ad', 'zero\\u200bwidth\\ufeff\\u00ad'],
    ['\u2028\u2029', '\\u2028\\u2029'],
    ['lone \ud800 and \udc00', 'lone \\ud800 and \\udc00'],
    ['tag \u{e0041}', 'tag \\udb40\\udc41'],
    ['two\nlines', 'two\nlines'],
  ];
  for (const [input, out] of cases) assert.equal(escapeTerminalText(input), out, JSON.stringify(input));
  assert.equal(escapeLine('two\nlines\u001b'), 'two\\u000alines\\u001b');
});

test('escaping JSON keeps it the same data', () => {
  const value = { name: 'f\u001b[31m\u202e\u009b\u2028', file: 'a\\u001b.py', n: -1 };
  const text = escapeTerminalText(JSON.stringify(value));
  // eslint-disable-next-line no-control-regex -- checking that no control is left is the point
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2028]/.test(text));
  assert.deepEqual(JSON.parse(text), value);
});

test("memlens's own sequences pass; a name that imitates them does not", () => {
  const red = control('red');
  assert.equal(toTerminal(`${red}8 MiB${control('reset')}`), '\u001b[31m8 MiB\u001b[0m');
  assert.equal(toTerminal(control('carriageReturn') + control('clearToEnd')), '\r\u001b[K');
  // A name holding a marker without the process's nonce, or one of a guessed nonce, is just text.
  for (const fake of ['\uE0000\uE001', `\uE000${'0'.repeat(16)}4\uE001`, red.replace(/[0-9a-f]{16}/, 'ffffffffffffffff')]) {
    assert.equal(toTerminal(`x${fake}y`), `x${fake}y`);
  }
  // An escape in a name next to a real marker stays escaped.
  assert.equal(toTerminal(`\u001b[2J${red}x`), '\\u001b[2J\u001b[31mx');
  assert.equal(withoutControls(`${red}x${control('reset')}`), 'x');
});

test('a terminal-safe stream escapes strings, passes bytes and keeps the stream itself', () => {
  const written: (string | Uint8Array)[] = [];
  const listeners: string[] = [];
  const raw = {
    isTTY: true,
    columns: 77,
    write(chunk: string | Uint8Array): boolean {
      written.push(chunk);
      return true;
    },
    on(event: string): void {
      listeners.push(event);
    },
  };
  const safe = terminalSafe(raw);
  safe.write(`a\u001bb${control('bold')}`);
  safe.write(Uint8Array.of(0x1b, 0x5b));
  safe.on('resize');
  assert.deepEqual(written, ['a\\u001bb\u001b[1m', Uint8Array.of(0x1b, 0x5b)]);
  assert.equal(safe.isTTY, true);
  assert.equal(safe.columns, 77);
  assert.deepEqual(listeners, ['resize']);
});
