// The HTML report in a real browser (Debian's chromium through playwright-core): it opens offline with no
// console error, and zoom, search, the inverted toggle, the thread filter, time windows, the table, the
// CSV download and the themes do what they should. Hostile names stay text. Screenshots are written to
// the directory the test prints, to be looked at.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { loadViewerAssets } from '../../src/report/html/assets.js';
import { renderPage } from '../../src/report/html/page.js';
import type { ReportData } from '../../src/report/html/payload.js';
import { launchBrowser, screenshotDir, waitReady } from '../support/browser.js';
import { HOSTILE_NAME, knownProgram } from '../support/synthetic-profile.js';

const MiB = 1024 * 1024;

interface View {
  totalBytes: number;
  zoomBytes: number;
  zoomPath: string[];
  children: { name: string; bytes: number }[];
  largestSelf: { name: string; bytes: number };
  inverted: boolean;
  icicle: boolean;
  thread: number;
  window: { t0: number; t1: number } | null;
  windowTick: number;
  theme: string;
  tab: string;
}

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'memlens-viewer-'));

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  readonly page: Page;
  readonly problems: string[];
  view(): Promise<View>;
}

let pages = 0;
async function open(data: ReportData, name = `report-${++pages}`): Promise<Opened> {
  const file = join(dir, `${name}.html`);
  writeFileSync(file, renderPage(data, loadViewerAssets()).html);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog opened: ${d.message()}`);
    void d.dismiss();
  });
  // Offline: any request other than the file itself is a failure.
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file://') && url.endsWith(`${name}.html`)) return route.continue();
    problems.push(`network request: ${url}`);
    return route.abort();
  });
  await page.goto(`file://${file}`);
  await waitReady(page);
  return { page, problems, view: () => page.evaluate('window.memlens.view()') };
}

function framePoint(o: Opened, fn: string): Promise<{ x: number; y: number } | null> {
  return o.page.evaluate<{ x: number; y: number } | null>(`window.memlens.framePoint(${JSON.stringify(fn)})`);
}

async function clickFrame(o: Opened, fn: string): Promise<void> {
  const p = await framePoint(o, fn);
  assert.ok(p !== null, `${fn} is not drawn`);
  await o.page.mouse.click(p.x, p.y);
}

async function timelineX(o: Opened, timeNs: number): Promise<{ x: number; y: number }> {
  const p = await o.page.evaluate<{ x: number; y: number } | null>(`window.memlens.timelinePoint(${timeNs})`);
  assert.ok(p !== null);
  return p;
}

test('the known program renders offline with no console error; its largest frame is its allocator', async () => {
  const o = await open(knownProgram());
  assert.equal(await o.page.evaluate('document.documentElement.dataset.ready'), '1');
  const v = await o.view();
  assert.equal(v.totalBytes, 1053 * MiB);
  assert.deepEqual(v.largestSelf, { name: 'zeros', bytes: 600 * MiB });
  assert.deepEqual(
    v.children.map((c) => c.name),
    ['<module>', 'loader_thread'],
  );
  assert.match(await o.page.locator('#summary').innerText(), /1\.03 GiB in 50,254 allocations/);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('clicking a frame zooms into it; the breadcrumb and reset zoom back out', async () => {
  const o = await open(knownProgram());
  await clickFrame(o, 'load_matrix');
  let v = await o.view();
  assert.deepEqual(v.zoomPath, ['<module>', 'main', 'load_matrix']);
  assert.equal(v.zoomBytes, 600 * MiB);
  assert.deepEqual(await o.page.locator('.crumbs .crumb').allInnerTexts(), ['all', '<module>', 'main', 'load_matrix']);
  await o.page.locator('.crumbs .crumb', { hasText: /^main$/ }).click();
  v = await o.view();
  assert.deepEqual(v.zoomPath, ['<module>', 'main']);
  await o.page.locator('#reset-zoom').click();
  assert.deepEqual((await o.view()).zoomPath, []);
  await clickFrame(o, 'build_cache');
  await o.page.keyboard.press('Escape');
  assert.deepEqual((await o.view()).zoomPath, []);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('search highlights matches and sums their share, regular expressions included', async () => {
  const o = await open(knownProgram());
  const search = o.page.locator('#search');
  await search.fill('read_');
  await search.press('Enter');
  assert.equal(await o.page.locator('#search-info').innerText(), '250 MiB · 23.7%');
  await search.fill('/^(zeros|main)$/');
  await search.press('Enter');
  // zeros is inside main: 600 + 200 MiB under the two main frames, counted once.
  assert.equal(await o.page.locator('#search-info').innerText(), '800 MiB · 76.0%');
  await search.fill('/(/');
  await search.press('Enter');
  assert.equal(await o.page.locator('#search-info').innerText(), 'invalid expression');
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('the inverted toggle puts the allocators at the root, and back', async () => {
  const o = await open(knownProgram());
  await o.page.locator('#opt-inverted').check();
  let v = await o.view();
  assert.equal(v.inverted, true);
  assert.deepEqual(
    v.children.map((c) => [c.name, c.bytes / MiB]),
    [
      ['zeros', 600],
      ['read_chunk', 250],
      ['build_cache', 200],
      ['<module>', 2],
      [HOSTILE_NAME, 1],
    ],
  );
  await o.page.locator('#opt-inverted').uncheck();
  v = await o.view();
  assert.deepEqual(v.children[0]?.name, '<module>');
  // Showing hidden frames brings back runpy at the root.
  await o.page.locator('#hide-interpreter').uncheck();
  v = await o.view();
  assert.deepEqual(
    v.children.map((c) => c.name),
    ['_run_module_as_main', '_bootstrap_inner'],
  );
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('the thread filter shows one thread', async () => {
  const o = await open(knownProgram());
  await o.page.locator('#thread-filter').selectOption('1');
  const v = await o.view();
  assert.equal(v.thread, 1);
  assert.equal(v.totalBytes, 250 * MiB);
  assert.deepEqual(v.largestSelf.name, 'read_chunk');
  await o.page.locator('#thread-filter').selectOption('-1');
  assert.equal((await o.view()).totalBytes, 1053 * MiB);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('dragging across the timeline shows the peak inside the window', async () => {
  const o = await open(knownProgram());
  const from = await timelineX(o, 1.2e9);
  const to = await timelineX(o, 4.5e9);
  await o.page.mouse.move(from.x, from.y);
  await o.page.mouse.down();
  await o.page.mouse.move((from.x + to.x) / 2, from.y, { steps: 4 });
  await o.page.mouse.move(to.x, to.y, { steps: 4 });
  await o.page.mouse.up();
  let v = await o.view();
  assert.ok(v.window !== null);
  assert.equal(v.windowTick, 2);
  assert.equal(v.totalBytes, 453 * MiB);
  assert.equal(v.largestSelf.name, 'read_chunk');
  assert.match(await o.page.locator('#window-info').innerText(), /Window 1\.00 s – 5\.00 s: peak 453 MiB at 2\.50 s/);
  await o.page.locator('#window-info button').click();
  v = await o.view();
  assert.equal(v.window, null);
  assert.equal(v.totalBytes, 1053 * MiB);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('with --leaks, a window shows what was allocated in it and not freed by its end', async () => {
  const base = knownProgram({ meta: { view: 'leaks' } });
  const o = await open({ ...base, temporal: { ...base.temporal!, kind: 'leaks' } });
  const from = await timelineX(o, 1.2e9);
  const to = await timelineX(o, 2.5e9);
  await o.page.mouse.move(from.x, from.y);
  await o.page.mouse.down();
  await o.page.mouse.move(to.x, to.y, { steps: 4 });
  await o.page.mouse.up();
  const v = await o.view();
  // Ticks 1–2: read_chunk (allocated in 1, freed in 7) and build_cache (2, freed in 9).
  assert.equal(v.totalBytes, 450 * MiB);
  assert.deepEqual(v.largestSelf, { name: 'read_chunk', bytes: 250 * MiB });
  assert.match(await o.page.locator('#window-info').innerText(), /Window 1\.00 s – 3\.00 s: allocated in the window and not freed by its end/);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('hostile names from the program stay text: nothing runs, no element is made from them', async () => {
  const o = await open(knownProgram({ meta: { title: HOSTILE_NAME, commandLine: ['python3', HOSTILE_NAME] } }));
  assert.equal(await o.page.title(), HOSTILE_NAME);
  assert.equal(await o.page.locator('h1').innerText(), HOSTILE_NAME);
  assert.equal(await o.page.locator('img').count(), 0);
  assert.ok((await o.page.locator('#thread-filter option').allInnerTexts()).some((t) => t.includes(HOSTILE_NAME)));
  // The tooltip of the hostile frame: its name, its file and its source line, as text.
  const search = o.page.locator('#search');
  await search.fill('<img');
  await search.press('Enter');
  await clickFrame(o, '<module>');
  const p = await framePoint(o, HOSTILE_NAME);
  assert.ok(p !== null, 'the hostile frame is drawn once zoomed');
  await o.page.mouse.move(p.x, p.y);
  const tip = await o.page.locator('.tooltip').innerText();
  assert.ok(tip.includes(HOSTILE_NAME), tip);
  assert.ok(tip.includes('<img src=x onerror=alert(2)>.py:3'), tip);
  assert.ok(tip.includes('x = "<script>alert(3)</script>"'), tip);
  await o.page.locator('button', { hasText: 'Statistics' }).click();
  assert.ok((await o.page.locator('#stats').innerText()).includes(`python3 ${HOSTILE_NAME}`));
  assert.equal(await o.page.locator('img, iframe, object, embed').count(), 0);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('the table lists locations, sorts, follows the search, and leads back to the flame graph', async () => {
  const o = await open(knownProgram());
  await o.page.locator('#tab-table').click();
  const firstCells = () => o.page.locator('.tbl-rows .tbl-row .fn').allInnerTexts();
  assert.equal((await firstCells())[0], 'zeros');
  await o.page.locator('.tbl-sort[data-key="total"]').click();
  assert.equal((await firstCells())[0], '<module>');
  await o.page.locator('.tbl-sort[data-key="function"]').click();
  const names = await firstCells();
  assert.deepEqual(
    names,
    [...names].sort((a, b) => a.localeCompare(b)),
  );
  await o.page.locator('#search').fill('chunk');
  await o.page.locator('#search').press('Enter');
  assert.deepEqual(await firstCells(), ['read_chunk']);
  await o.page.locator('.tbl-rows .tbl-row').first().click();
  assert.equal((await o.view()).tab, 'flame');
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('the timeline downloads as CSV', async () => {
  const o = await open(knownProgram());
  const [download] = await Promise.all([o.page.waitForEvent('download'), o.page.locator('button', { hasText: 'Download CSV' }).click()]);
  const path = await download.path();
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], 'time_s,rss_bytes,rss_anon_bytes,rss_file_bytes,heap_bytes,cgroup_usage_bytes');
  assert.equal(lines.length, 102);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('a capture with nothing to show says so; reductions are shown', async () => {
  const o = await open(knownProgram({ meta: { emptyReason: 'The capture holds no allocations.', reductions: ['timeline: 3 snapshots thinned to 2'] } }));
  assert.match(await o.page.locator('#empty').innerText(), /Nothing to show\s+The capture holds no allocations\./);
  assert.match(await o.page.locator('.reduction').innerText(), /Reduced to fit: timeline: 3 snapshots thinned to 2/);
  assert.equal(await o.page.locator('canvas.flame-canvas').count(), 0);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});

test('screenshots in light and dark theme', async () => {
  const shots = screenshotDir();
  const o = await open(knownProgram());
  await o.page.emulateMedia({ colorScheme: 'light' });
  await o.page.screenshot({ path: join(shots, 'viewer-light.png'), fullPage: true });
  await o.page.locator('button', { hasText: 'Theme' }).click();
  const v = await o.view();
  assert.equal(v.theme === 'dark' ? 'dark' : 'light', await o.page.evaluate('document.documentElement.dataset.theme'));
  if (v.theme !== 'dark') await o.page.locator('button', { hasText: 'Theme' }).click();
  assert.equal((await o.view()).theme, 'dark');
  await o.page.locator('#search').fill('main');
  await o.page.locator('#search').press('Enter');
  await o.page.screenshot({ path: join(shots, 'viewer-dark.png'), fullPage: true });
  console.log(`screenshots: ${join(shots, 'viewer-light.png')} ${join(shots, 'viewer-dark.png')}`);
  assert.deepEqual(o.problems, []);
  await o.page.close();
});
