// What a flame graph page (`memlens flamegraph -o PAGE.html`) holds, in a form that does not depend on the
// viewer's bundle: to compare the pages of two builds whose viewer differs (esbuild's minified names change
// with any change to the code it bundles, so the pages' bytes differ where their data does not).
//
//   npm run build && node dist/bench/page-payload.js PAGE.html [PAGE.html ...] [--dump]
//
// One line a page: `payload=H1 container=H2 rest=H3 viewer=H4 PAGE.html`, each H the first 16 hex digits of
// a SHA-256:
//   payload    the payload as decodePayload (the viewer's decoder, with its checks) reads it, written in
//              a stable form (the --dump text below): the same data gives the same hash, however encoded;
//   container  the payload's container (inflated, before decoding): the same bytes from the same writer;
//   rest       the page with the payload, the inlined script and style and their hashes in the policy taken
//              out: everything that is neither the data nor the viewer's build;
//   viewer     the inlined script and style: this is what a change to the viewer's code changes.
// Two pages of two builds with the same payload and rest differ only by their viewer.
// --dump (one page): the decoded payload, one line a column: `name [length] JSON`, to diff two pages.
// Exits 1 when a page has no payload or its payload does not decode.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { inflateRawSync } from 'node:zlib';
import { decodePayload, PAYLOAD_ELEMENT_ID } from '../src/report/html/payload.js';

const PAYLOAD_RE = new RegExp(`(<script type="application/octet-stream" id="${PAYLOAD_ELEMENT_ID}">)([A-Za-z0-9+/=]*)(</script>)`);
const SCRIPT_RE = /(<script>)([\s\S]*?)(<\/script>\n<\/body>)/;
const STYLE_RE = /(<style>)([\s\S]*?)(<\/style>)/;
const HASH_RE = /'sha256-[A-Za-z0-9+/=]+'/g;

const sha = (b: string | Uint8Array): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** The decoded payload, a line a column (`meta`, `frames.name`, … `temporal.bytes`): typed arrays as lists. */
export function payloadLines(bytes: Uint8Array): string[] {
  const d = decodePayload(bytes) as unknown as Record<string, unknown>;
  const lines: string[] = [];
  const line = (name: string, v: unknown): void => {
    const n = ArrayBuffer.isView(v) || Array.isArray(v) ? ` [${(v as ArrayLike<unknown>).length}]` : '';
    lines.push(`${name}${n} ${JSON.stringify(ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v)}`);
  };
  for (const [key, v] of Object.entries(d)) {
    if (key === 'meta' || key === 'strings' || v === null || typeof v !== 'object') line(key, v);
    else for (const [sub, c] of Object.entries(v)) line(`${key}.${sub}`, c);
  }
  return lines;
}

export interface PageParts {
  readonly container: Uint8Array;
  readonly payload: string[];
  readonly rest: string;
  readonly viewer: string;
}

export function pageParts(html: string): PageParts {
  const p = PAYLOAD_RE.exec(html);
  if (p === null) throw new Error(`no <script id="${PAYLOAD_ELEMENT_ID}"> block: not a memlens flame graph page`);
  const container = new Uint8Array(inflateRawSync(Buffer.from(p[2] ?? '', 'base64')));
  const script = SCRIPT_RE.exec(html)?.[2] ?? '';
  const style = STYLE_RE.exec(html)?.[2] ?? '';
  const rest = html.replace(PAYLOAD_RE, '$1…$3').replace(SCRIPT_RE, '$1…$3').replace(STYLE_RE, '$1…$3').replace(HASH_RE, "'sha256-…'");
  return { container, payload: payloadLines(container), rest, viewer: `${style}\n${script}` };
}

function main(): void {
  const { values, positionals } = parseArgs({ options: { dump: { type: 'boolean', default: false } }, allowPositionals: true });
  if (positionals.length === 0 || (values.dump && positionals.length !== 1)) {
    process.stderr.write('usage: node dist/bench/page-payload.js PAGE.html [PAGE.html ...] | --dump PAGE.html\n');
    process.exit(2);
  }
  let failed = false;
  for (const path of positionals) {
    let parts: PageParts;
    try {
      parts = pageParts(readFileSync(path, 'utf8'));
    } catch (e) {
      process.stderr.write(`${path}: ${e instanceof Error ? e.message : String(e)}\n`);
      failed = true;
      continue;
    }
    if (values.dump) {
      process.stdout.write(`${parts.payload.join('\n')}\n`);
      continue;
    }
    const payload = sha(parts.payload.join('\n'));
    process.stdout.write(`payload=${payload} container=${sha(parts.container)} rest=${sha(parts.rest)} viewer=${sha(parts.viewer)} ${path}\n`);
  }
  if (failed) process.exit(1);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
