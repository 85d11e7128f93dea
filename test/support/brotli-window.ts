// The window a brotli stream declares in its first bits: what a reader's decoder sizes its ring by.

import assert from 'node:assert/strict';

/** The window a brotli stream declares, 2^n: n from its first bits (RFC 7932, 9.1). */
export function declaredLgwin(c: Uint8Array): number {
  const b = c[0];
  assert.ok(b !== undefined, 'an empty stream');
  if ((b & 1) === 0) return 16;
  if (((b >> 1) & 7) !== 0) return 17 + ((b >> 1) & 7);
  const m = (b >> 4) & 7;
  assert.notEqual(m, 1, 'a large window');
  return m === 0 ? 17 : 8 + m;
}
