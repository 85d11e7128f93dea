// agent/src/format.h and format.ts must hold the same numbers: this reads the header as text, evaluates
// each #define and enum member, and compares it with the TypeScript constant of the same meaning.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as F from './format.js';

const header = readFileSync(new URL('../../../agent/src/format.h', import.meta.url), 'utf8');

/** Evaluates the C integer expressions the header uses: a literal with a u suffix, or (a << b). */
function cValue(expr: string): number {
  const clean = expr
    .replace(/\/\*.*?\*\//g, '')
    .trim()
    .replace(/\b(0x[0-9a-fA-F]+|\d+)u\b/g, '$1');
  const m = clean.replace(/[()]/g, '').match(/^\s*(\w+)\s*(?:<<\s*(\w+))?\s*$/);
  assert.ok(m !== null, `unexpected C expression ${expr}`);
  return Number(m[1]) * 2 ** Number(m[2] ?? 0);
}

function cConstants(): Map<string, number | string> {
  const out = new Map<string, number | string>();
  for (const m of header.matchAll(/^#define\s+(ML_\w+)\s+(.+)$/gm)) {
    const [, name, value] = m as unknown as [string, string, string];
    if (name === 'MEMLENS_FORMAT_H') continue;
    out.set(name, value.trim().startsWith('"') ? value.trim() : cValue(value));
  }
  for (const body of header.matchAll(/enum\s+\w+\s*\{([^}]*)\}/g)) {
    for (const m of (body[1] ?? '').matchAll(/(ML_\w+)\s*=\s*([^,\n]+)/g)) out.set(m[1]!, cValue(m[2]!));
  }
  return out;
}

const pascal = (s: string): string => s.toLowerCase().replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
const kebab = (s: string): string => s.toLowerCase().replace(/_/g, '-');

/** A C string literal of these bytes, escaped as format.h writes it. */
function cString(bytes: Uint8Array): string {
  const esc: Record<number, string> = { 13: '\\r', 10: '\\n' };
  return `"${Array.from(bytes, (b) => esc[b] ?? (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16)}`)).join('')}"`;
}

/** The TypeScript value for a C name, by the naming rules of the two files. */
function tsValue(name: string): number | string | undefined {
  const rec = F as unknown as Record<string, unknown>;
  const enumMember = (e: string, member: string): number | undefined => (rec[e] as Record<string, number> | undefined)?.[member];
  let m: RegExpMatchArray | null;
  if ((m = name.match(/^ML_H_(\w+)$/))) return enumMember('HeaderTag', pascal(m[1]!));
  if ((m = name.match(/^ML_A_(\w+)$/))) return enumMember('Allocator', pascal(m[1]!));
  if ((m = name.match(/^ML_D_(\w+)$/))) return enumMember('Deallocator', pascal(m[1]!));
  if ((m = name.match(/^ML_R_(\w+)$/))) return enumMember('RecordType', pascal(m[1]!));
  if ((m = name.match(/^ML_M_(\w+)$/))) return (F.MARKER_KINDS as readonly string[]).indexOf(kebab(m[1]!));
  if ((m = name.match(/^ML_T_(\w+)$/))) return (F.TRAILER_REASONS as readonly string[]).indexOf(m[1] === '_EXIT' ? '_exit' : kebab(m[1]!));
  if ((m = name.match(/^ML_N_(\w+)$/))) return (F.NOTE_KINDS as readonly string[]).indexOf(kebab(m[1]!));
  if (name === 'ML_FILE_MAGIC') return cString(F.FILE_MAGIC);
  const v = rec[name.slice(3)];
  return typeof v === 'number' ? v : undefined;
}

test('every constant of agent/src/format.h equals its format.ts counterpart', () => {
  const c = cConstants();
  assert.ok(c.size > 100, `parsed only ${c.size} constants from format.h`);
  for (const [name, value] of c) assert.equal(tsValue(name), value, name);
});

test('every numeric constant of format.ts that the agent needs is in format.h', () => {
  // Decoder-side helpers that the writer has no use for, and group blocks (only memlens's recompression writes them).
  const TS_ONLY = new Set([
    'FREE_MASK',
    'RESERVED_MASK',
    'RESERVED_TAG',
    'MAX_KNOWN_RECORD_TYPE',
    'READER_VERSION',
    'GROUP_FORMAT_VERSION',
    'PACK_FORMAT_VERSION',
    'GROUP_LAYOUT2_VERSION',
    'BLOCK_KIND_GROUP',
  ]);
  const c = cConstants();
  const rec = F as unknown as Record<string, unknown>;
  for (const [name, v] of Object.entries(rec)) {
    if (typeof v === 'number' && !TS_ONLY.has(name)) assert.equal(c.get(`ML_${name}`), v, `ML_${name}`);
  }
  const enums: [string, string][] = [
    ['HeaderTag', 'H'],
    ['Allocator', 'A'],
    ['Deallocator', 'D'],
    ['RecordType', 'R'],
  ];
  for (const [e, prefix] of enums) {
    const members = Object.entries(rec[e] as Record<string, unknown>).filter(([, v]) => typeof v === 'number');
    assert.ok(members.length > 0, `${e} is not visible at run time`);
    for (const [member, v] of members) {
      const cName = `ML_${prefix}_${member.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
      assert.equal(c.get(cName), v, cName);
    }
  }
  assert.equal(c.get('ML_BLOCK_SYNC_U32'), new DataView(F.BLOCK_SYNC.buffer).getUint32(0, true));
  F.MARKER_KINDS.forEach((k, i) => i > 0 && assert.equal(c.get(`ML_M_${k.replace(/-/g, '_').toUpperCase()}`), i, k));
  F.NOTE_KINDS.forEach((k, i) => i > 0 && assert.equal(c.get(`ML_N_${k.replace(/-/g, '_').toUpperCase()}`), i, k));
  F.TRAILER_REASONS.forEach((k, i) => i > 0 && assert.equal(c.get(`ML_T_${k.replace(/-/g, '_').toUpperCase()}`), i, k));
});
