// The verdict panel at the top of the HTML report and the GC markers on its timeline, in a real browser:
// a page made by `memlens flamegraph` from an OOM-killed job (written with the encoder), and a panel whose
// strings are hostile markup, which must stay text.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { main } from '../../src/cli/main.js';
import { loadViewerAssets } from '../../src/report/html/assets.js';
import { renderPage } from '../../src/report/html/page.js';
import { decodePayload, type ReportData } from '../../src/report/html/payload.js';
import { launchBrowser, screenshotDir, waitReady } from '../support/browser.js';
import { memoryIo } from '../support/memory-io.js';
import { oomJobCapture } from '../support/program-capture.js';
import { HOSTILE_NAME, knownProgram } from '../support/synthetic-profile.js';

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'memlens-verdict-page-'));
const capture = join(dir, 'job.mlens');
writeFileSync(capture, oomJobCapture());
const page = join(dir, 'job.html');

before(async () => {
  browser = await launchBrowser();
  const io = memoryIo({ cwd: dir });
  assert.equal(await main(['flamegraph', capture, '-o', page], io), 0, io.err());
});

after(async () => {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
});

function payloadOf(file: string): ReportData {
  const html = readFileSync(file, 'utf8');
  const b64 = /id="memlens-payload">([A-Za-z0-9+/=]*)</.exec(html)?.[1] ?? '';
  return decodePayload(new Uint8Array(inflateRawSync(Buffer.from(b64, 'base64'))));
}

async function openFile(file: string): Promise<{ page: Page; problems: string[] }> {
  const p = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems: string[] = [];
  p.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  p.on('dialog', (d) => {
    problems.push(`dialog opened: ${d.message()}`);
    void d.dismiss();
  });
  await p.goto(`file://${file}`);
  assert.equal(await waitReady(p), '1');
  return { page: p, problems };
}

test('the payload carries the verdict panel and one GC marker per collection, with its pause', () => {
  const d = payloadOf(page);
  const v = d.meta.verdict;
  assert.ok(v !== null);
  assert.equal(v.severity, 'oom');
  assert.equal(v.headline, "Killed by the kernel's OOM killer (SIGKILL, signal 9) at 6.045 s.");
  assert.match(v.detail, /^Memory cgroup out of memory: Killed process 4242/);
  assert.deepEqual(
    v.findings.map((f) => f.title),
    [
      'Memory accumulated steadily and was never freed',
      'Large objects kept alive long',
      'Reference cycles held memory until the garbage collector freed it',
      'A collection grown step by step by reallocation',
    ],
  );
  assert.deepEqual(v.census?.types[0], { type: 'bytearray', count: '55', bytes: '165 MiB', share: '98.6%' });
  assert.deepEqual(v.census?.paths[0], { path: "module __main__['RECORDS'][*].data", type: 'bytearray', count: '54', bytes: '162 MiB' });
  assert.equal(v.census?.pathsNote, '');
  const gc: string[] = [];
  for (let i = 0; i < d.markers.time.length; i++) if (d.strings[d.markers.kind[i]!] === 'GC') gc.push(`${d.markers.time[i]} ${d.strings[d.markers.label[i]!]}`);
  assert.deepEqual(gc, ['3005000000 generation 2: pause 3.00 ms, 120 collected, 8.00 MiB freed']);
});

test('the page shows the verdict at its top, and the GC marker with its pause on the timeline', async () => {
  const { page: p, problems } = await openFile(page);
  const panel = await p.locator('#verdict').innerText();
  assert.match(panel, /Verdict: Killed by the kernel's OOM killer \(SIGKILL, signal 9\) at 6\.045 s\./);
  assert.match(panel, /Memory limit\s+256 MiB/);
  assert.match(panel, /Near OOM\s+5\.602 s, 443 ms before the end: cgroup memory usage 236 MiB of limit 256 MiB/);
  assert.match(panel, /What grew from 1\.000 s to 6\.000 s, by line of the program\s+\+150 MiB\s+50\s+ingest at job\.py:21/);
  // Beside what grew: the census's types.
  assert.match(panel, /What holds the memory: live Python objects at 5\.603 s, near OOM\s+bytearray\s+55\s+165 MiB\s+98\.6%/);
  // And what keeps them alive: the census's objects grouped by their reference path.
  assert.match(panel, /Held by \(objects grouped by the path that keeps them alive; \[\*\]: any key or index\)\s+module __main__\['RECORDS'\]\[\*\]\.data\s+bytearray\s+54\s+162 MiB/);
  assert.match(panel, /Garbage collector\s+1 collection, longest pause 3\.00 ms, 8\.00 MiB freed from cycles/);
  assert.match(panel, /Findings \(4\)/);
  // The first finding is open: its evidence (the line, the rate, the census's type) and what to do.
  assert.match(panel, /ingest at job\.py:21: kept 171 MiB from 0\.100 s to 5\.800 s \(30\.2 MiB\/s\)/);
  assert.match(panel, /counts 55 bytearray objects holding 165 MiB/);
  assert.match(panel, /Find what keeps these objects/);
  // The verdict comes before the timeline.
  const order = await p.evaluate<boolean>("document.getElementById('verdict').compareDocumentPosition(document.getElementById('timeline')) === Node.DOCUMENT_POSITION_FOLLOWING");
  assert.equal(order, true);
  assert.match(await p.locator('.legend').innerText(), /garbage collections/);
  const at = await p.evaluate<{ x: number; y: number } | null>('window.memlens.timelinePoint(3005000000)');
  assert.ok(at !== null);
  await p.mouse.move(at.x, at.y);
  assert.match(await p.locator('#hover-info').innerText(), /▼ GC: generation 2: pause 3\.00 ms, 120 collected, 8\.00 MiB freed/);
  await p.screenshot({ path: join(screenshotDir(), 'verdict-panel.png') });
  assert.deepEqual(problems, []);
  await p.close();
});

test('hostile strings in the verdict panel stay text', async () => {
  const hostile = knownProgram({
    meta: {
      verdict: {
        severity: 'killed',
        headline: HOSTILE_NAME,
        detail: HOSTILE_NAME,
        facts: [[HOSTILE_NAME, HOSTILE_NAME]],
        growthTitle: HOSTILE_NAME,
        growth: [{ bytes: '+1 MiB', count: '1', where: HOSTILE_NAME }],
        findings: [{ title: HOSTILE_NAME, evidence: [HOSTILE_NAME], advice: HOSTILE_NAME }],
        notLookedFor: [HOSTILE_NAME],
        census: {
          title: HOSTILE_NAME,
          note: HOSTILE_NAME,
          types: [{ type: HOSTILE_NAME, count: '1', bytes: '1 MiB', share: '100%' }],
          paths: [{ path: HOSTILE_NAME, type: HOSTILE_NAME, count: '1', bytes: '1 MiB' }],
          pathsNote: HOSTILE_NAME,
        },
      },
    },
  });
  const file = join(dir, 'hostile.html');
  writeFileSync(file, renderPage(hostile, loadViewerAssets()).html);
  const { page: p, problems } = await openFile(file);
  const text = await p.locator('#verdict').innerText();
  assert.ok(text.split(HOSTILE_NAME).length - 1 >= 14, text);
  assert.equal(await p.locator('img, iframe, object, embed, script:not([type])').count(), 1); // the report's own script only
  assert.deepEqual(problems, []);
  await p.close();
});
