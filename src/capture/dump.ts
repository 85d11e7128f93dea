// One stable line per record, for `memlens parse` (text or JSON lines). Text lines are
// `TYPE key=value ...` with snake_case keys in the order of the format's fields; strings are JSON-quoted,
// byte strings hex, addresses hex; absent optional values are left out. JSON lines carry the decoded
// values as they are, with snake_case keys too (numbers; bigints and bytes as strings; docs/json.md).

import { ALLOCATORS, DEALLOCATORS, MARKER_KINDS, NOTE_KINDS, TRAILER_REASONS } from './format.js';
import type { BlockInfo, CaptureHeader, MetaRecord } from './records.js';
import { snakeKeys } from '../util/json-document.js';

const HEX_KEYS = new Set(['address', 'ip', 'loadBias', 'vaddr', 'pythonHexversion']);

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export function hexBytes(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function textValue(key: string, v: unknown): string {
  if (typeof v === 'number') return HEX_KEYS.has(key) ? `0x${v.toString(16)}` : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return v.length === 0 ? '""' : hexBytes(v);
  if (Array.isArray(v)) {
    return `[${v.map((x: unknown) => (typeof x === 'object' && x !== null && !(x instanceof Uint8Array) ? `{${textFields(x as Record<string, unknown>)}}` : textValue(key, x))).join(', ')}]`;
  }
  if (typeof v === 'object' && v !== null) return `{${textFields(v as Record<string, unknown>)}}`;
  return String(v);
}

function textFields(o: Record<string, unknown>, skip: ReadonlySet<string> = new Set()): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (skip.has(k) || v === undefined) continue;
    parts.push(`${snake(k)}=${textValue(k, v)}`);
  }
  return parts.join(' ');
}

const SKIP_TYPE = new Set(['type']);

function kindName(names: readonly string[], v: number): string | number {
  return names[v] ?? v;
}

export function headerText(h: CaptureHeader): string {
  const { unknownFields, ...rest } = h;
  const known = textFields(rest);
  const unknown = unknownFields.map((f) => `${f.tag}:${hexBytes(f.value)}`).join(',');
  return `header ${known}${unknown === '' ? '' : ` unknown_fields=[${unknown}]`}`;
}

export function blockText(b: BlockInfo): string {
  return `block offset=${b.offset} stream=${b.stream} kind=${b.kind} flags=0x${b.flags.toString(16)} header_len=${b.headerLen} stored_len=${b.storedLen} raw_len=${b.rawLen} base_seq=${b.baseSeq}`;
}

export function allocText(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): string {
  return `alloc stream=${stream} seq=${seq} address=0x${address.toString(16)} size=${size} allocator=${ALLOCATORS[allocator] ?? allocator} stack=${stack} native_stack=${nativeStack}`;
}

export function freeText(stream: number, seq: number, address: number, size: number, deallocator: number): string {
  return `free stream=${stream} seq=${seq} address=0x${address.toString(16)} size=${size} deallocator=${DEALLOCATORS[deallocator] ?? deallocator}`;
}

export function metaText(r: MetaRecord): string {
  let o: Record<string, unknown> = r as unknown as Record<string, unknown>;
  switch (r.type) {
    case 'marker':
      o = { ...r, kind: kindName(MARKER_KINDS, r.kind) };
      break;
    case 'note':
      o = { ...r, kind: kindName(NOTE_KINDS, r.kind) };
      break;
    case 'trailer':
      o = { ...r, reason: kindName(TRAILER_REASONS, r.reason) };
      break;
    default:
      break;
  }
  const fields = textFields(o, SKIP_TYPE);
  return fields === '' ? r.type : `${r.type} ${fields}`;
}

function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return hexBytes(v);
  return v;
}

/** A record as one JSON line, its keys snake_case as in all of memlens's JSON (docs/json.md). */
export function json(o: unknown): string {
  return JSON.stringify(snakeKeys(o), jsonReplacer);
}

export function headerJson(h: CaptureHeader): string {
  return json({ type: 'header', ...h, unknownFields: h.unknownFields.map((f) => ({ tag: f.tag, value: hexBytes(f.value) })) });
}

export function blockJson(b: BlockInfo): string {
  return json({ type: 'block', ...b });
}

export function allocJson(stream: number, seq: number, address: number, size: number, allocator: number, stack: number, nativeStack: number): string {
  return `{"type":"alloc","stream":${stream},"seq":${seq},"address":${address},"size":${size},"allocator":${allocator},"stack":${stack},"native_stack":${nativeStack}}`;
}

export function freeJson(stream: number, seq: number, address: number, size: number, deallocator: number): string {
  return `{"type":"free","stream":${stream},"seq":${seq},"address":${address},"size":${size},"deallocator":${deallocator}}`;
}

export function metaJson(r: MetaRecord): string {
  return json(r);
}
