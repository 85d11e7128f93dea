// Both self-contained pages memlens serves or writes (the HTML report, the live view in a browser) inline
// their own script and style and let only those run or apply, by hash, through a Content-Security-Policy.

import { createHash } from 'node:crypto';

export interface InlineAssets {
  readonly script: string;
  readonly style: string;
}

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The policy for a page whose only code is `assets`, with the page's own `directives` (img-src,
 * connect-src) added. Throws when the script or style holds text that would end its inline element
 * early (`page` names the page in the message: a build went wrong).
 */
export function inlinePolicy(page: string, assets: InlineAssets, directives: readonly string[]): string {
  for (const [kind, text] of [
    ['script', assets.script],
    ['style', assets.style],
  ] as const) {
    if (new RegExp(`</${kind}|<!--`, 'i').test(text)) throw new Error(`${page}'s ${kind} contains text that would end its inline element; rebuild it`);
  }
  return ["default-src 'none'", `script-src ${sha256Source(assets.script)}`, `style-src ${sha256Source(assets.style)}`, ...directives, "base-uri 'none'", "form-action 'none'"].join('; ');
}
