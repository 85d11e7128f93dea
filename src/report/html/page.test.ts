import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { HOSTILE_NAME, knownProgram } from '../../../test/support/synthetic-profile.js';
import { escapeHtml } from '../../html/inline-page.js';
import { jsonForScript, renderPage } from './page.js';
import { decodePayload } from './payload.js';

const ASSETS = { script: 'console.log("viewer")', style: 'body{color:red}' };

test('escapeHtml leaves no markup', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('jsonForScript cannot close a script element and parses back to the same value', () => {
  const value = { name: HOSTILE_NAME, more: '<!-- & \u2028 \u2029 -->' };
  const text = jsonForScript(value);
  assert.doesNotMatch(text, /[<>&\u2028\u2029]/);
  assert.deepEqual(JSON.parse(text), value);
});

test('the page inlines script and style, allows only them by hash, and embeds the payload as base64', () => {
  const data = knownProgram({ meta: { title: HOSTILE_NAME } });
  const { html, payloadBytes, compressedBytes } = renderPage(data, ASSETS);
  assert.ok(compressedBytes < payloadBytes);
  const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html)?.[1] ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.ok(csp.includes(`script-src ${hash(ASSETS.script)}`), csp);
  assert.ok(csp.includes(`style-src ${hash(ASSETS.style)}`), csp);
  assert.ok(html.includes(`<script>${ASSETS.script}</script>`));
  assert.ok(html.includes(`<title>&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</title>`));
  // The hostile name appears nowhere as markup: only escaped in the title, and inside the base64 block.
  assert.equal(html.split(HOSTILE_NAME).length, 1);
  assert.equal(html.match(/<script/g)?.length, 2);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing is fetched from the network');
  const b64 = /<script type="application\/octet-stream" id="memlens-payload">([A-Za-z0-9+/=]*)<\/script>/.exec(html)?.[1];
  assert.ok(b64 !== undefined);
  const back = decodePayload(new Uint8Array(inflateRawSync(Buffer.from(b64, 'base64'))));
  assert.equal(back.meta.title, HOSTILE_NAME);
});

test('a viewer bundle that would end its inline element is refused', () => {
  assert.throws(() => renderPage(knownProgram(), { script: 'var s = "</SCRIPT>"', style: '' }), /rebuild it/);
  assert.throws(() => renderPage(knownProgram(), { script: '', style: 'a{}</style>' }), /rebuild it/);
});
