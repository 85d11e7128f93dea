// The page both self-contained HTML pages of memlens are built on (the HTML report, the live view in a
// browser): one file whose only code is its own inlined script and style, which a Content-Security-Policy
// lets run and apply by hash (inline-policy.ts), and nothing else. Each page adds its meta elements, its
// body and its policy directives; the skeleton around them is written once, here.

import { inlinePolicy, type InlineAssets } from './inline-policy.js';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for an HTML text node or a quoted attribute value. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

export interface InlinePage {
  /** Names the page in the error a bad build gives (`the viewer`, `the live page`). */
  readonly name: string;
  readonly assets: InlineAssets;
  /** The page's own policy directives (img-src, connect-src). */
  readonly directives: readonly string[];
  /** Meta elements after the viewport's, in order: our own markup. */
  readonly meta: readonly string[];
  /** Plain text (escaped here). */
  readonly title: string;
  /** The body's elements before the script: our own markup. */
  readonly body: readonly string[];
}

/** The page's HTML, and the policy it carries in its <meta> (a server may send it as a header too). */
export function inlinePage(page: InlinePage): { html: string; csp: string } {
  const csp = inlinePolicy(page.name, page.assets, page.directives);
  const html = [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // Our own text: keywords and base64 hashes, no double quote or markup character.
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ...page.meta,
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${page.assets.style}</style>`,
    '</head>',
    '<body>',
    ...page.body,
    `<script>${page.assets.script}</script>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
  return { html, csp };
}
