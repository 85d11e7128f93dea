// Assembles the one self-contained HTML file: inlined style and script, the payload as a base64 block in
// a non-executable <script type="application/octet-stream">, and a Content-Security-Policy that lets only
// those two inlined pieces (by hash) run or apply. Nothing is fetched when the page opens.
//
// Program data never reaches the HTML as markup: the payload is base64 (its alphabet has no '<', '>' or
// '&'), the title goes through escapeHtml, and the viewer puts every name on the page as text.

import { deflateRawSync } from 'node:zlib';
import { escapeHtml, inlinePage } from '../../html/inline-page.js';
import type { InlineAssets } from '../../html/inline-policy.js';
import { PAYLOAD_ELEMENT_ID, type ReportData } from './payload.js';
import { writePayload } from './payload-writer.js';

export type ViewerAssets = InlineAssets;

/**
 * JSON that may sit inside a <script> element: '<', '>' and '&' as \u escapes (no '</script>' or '<!--'
 * can appear), and U+2028/U+2029, which older JavaScript parsers treat as line ends inside strings.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export interface PageResult {
  readonly html: string;
  /** Bytes of the payload before compression, and after (before base64). */
  readonly payloadBytes: number;
  readonly compressedBytes: number;
}

/** The deflated payload as base64 on one line (the browser strips nothing and parses it fastest). */
export function encodeEmbeddedPayload(data: ReportData): { base64: string; raw: number; compressed: number } {
  const raw = writePayload(data);
  const compressed = deflateRawSync(raw, { level: 6 });
  return { base64: Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength).toString('base64'), raw: raw.length, compressed: compressed.length };
}

export function renderPage(data: ReportData, assets: ViewerAssets): PageResult {
  const payload = encodeEmbeddedPayload(data);
  const { html } = inlinePage({
    name: 'the viewer',
    assets,
    directives: ['img-src data: blob:'],
    meta: ['<meta name="color-scheme" content="light dark">', `<meta name="generator" content="memlens ${escapeHtml(data.meta.memlensVersion)}">`],
    title: data.meta.title,
    body: [
      `<div id="app"><p class="loading">Opening the report…</p><noscript>This report draws its flame graph with JavaScript; allow scripts for this file to see it.</noscript></div>`,
      `<script type="application/octet-stream" id="${PAYLOAD_ELEMENT_ID}">${payload.base64}</script>`,
    ],
  });
  return { html, payloadBytes: payload.raw, compressedBytes: payload.compressed };
}
