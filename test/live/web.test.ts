// The live view in a browser (Debian's chromium through playwright-core) on a real program's capture
// pipe: the page renders the figures and the table, the table sorts, the thread switch works, the end of
// the target shows; requests without the token get 404; names from the program stay text.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { LiveSession } from '../../src/live/live-session.js';
import { runLiveWeb } from '../../src/live/web.js';
import { launchBrowser, screenshotDir } from '../support/browser.js';
import { tempDir } from '../support/memlens-run.js';
import { REPO_ROOT, testPythons } from '../support/pythons.js';
import { launchLive } from './launch-live.js';

const PROGRAM = join(REPO_ROOT, 'test', 'live', 'programs', 'grow.py');

const newest = (): string => {
  const ps = testPythons().filter((p) => !p.system);
  return (ps[ps.length - 1] ?? testPythons()[0])?.python ?? 'python3';
};

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The table's first column, top to bottom. */
const locations = (page: Page): Promise<string[]> => page.evaluate<string[]>("[...document.querySelectorAll('#locations tbody td.loc')].map((td) => td.textContent)");
const text = (page: Page, selector: string): Promise<string> => page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? ''`);

test('web: the token guards every URL, the page renders, sorts, switches threads and shows the end', async () => {
  const tmp = tempDir('memlens-live-web-');
  const stop = join(tmp.dir, 'stop');
  const session = new LiveSession();
  const live = await launchLive({ python: newest(), script: PROGRAM, args: [stop, '30'], cwd: tmp.dir }, session);
  let printed = '';
  const web = await runLiveWeb(live.capture, { session, stdout: { write: (t: string) => (printed += t) } });
  const browser = await launchBrowser();
  try {
    assert.match(web.url, /^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{32}\/$/);
    assert.ok(printed.includes(web.url));
    // Without the token, or with a wrong one, nothing: 404 for the page and the state alike.
    const base = `http://127.0.0.1:${web.port}`;
    const token = web.url.slice(base.length + 1, -1);
    const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const path of ['/', '/state', '/index.html', `/${wrong}/`, `/${wrong}/state`, `/${token}`, `/${token.slice(0, 10)}/state`, `/x/${token}/`, `/${token}/../state`, `/${token}/nothing`]) {
      const r = await fetch(base + path);
      assert.equal(r.status, 404, path);
    }
    assert.equal((await fetch(web.url, { method: 'POST' })).status, 404, 'POST');
    const pageRes = await fetch(web.url);
    assert.equal(pageRes.status, 200);
    assert.match(pageRes.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+'; connect-src 'self'/);
    assert.equal(pageRes.headers.get('cache-control'), 'no-store');
    const html = await pageRes.text();
    // Outside the inlined script and style (which the CSP pins by hash), no URL and nothing to load.
    const markup = html.replace(/<script>[\s\S]*?<\/script>/g, '').replace(/<style>[\s\S]*?<\/style>/g, '');
    assert.ok(!/https?:|\ssrc=|\shref=|<link/i.test(markup), markup);
    const state = (await (await fetch(`${web.url}state?sort=own&rows=5&points=30`)).json()) as { sort: string; locations: unknown[]; spark: { heap: unknown[] } };
    assert.equal(state.sort, 'own');
    assert.ok(state.locations.length <= 5);
    assert.equal(state.spark.heap.length, 30);

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(web.url);
    // It renders: figures, the heap growing between polls, the allocating functions.
    await waitFor('the table with grow_cache', async () => ((await locations(page)).some((l) => l.startsWith('grow_cache at')) ? true : undefined));
    assert.match(await text(page, '#heap .value'), /^[\d.]+ (KiB|MiB)$/);
    assert.match(await text(page, '#command'), /^PID \d+ · python3 .*grow\.py/);
    assert.match(await text(page, '#status'), /^running · /);
    const heapAt = async (): Promise<number> => {
      const m = /^([\d.]+) (KiB|MiB)$/.exec(await text(page, '#heap .value'));
      assert.ok(m !== null);
      return Number(m[1]) * (m[2] === 'MiB' ? 1024 : 1);
    };
    const h1 = await heapAt();
    await waitFor('the heap to grow on the page', async () => ((await heapAt()) > h1 + 256 ? true : undefined));
    assert.ok(Number(await page.evaluate<string>('document.documentElement.dataset.updates')) >= 2, 'polled more than once');
    const points = await page.evaluate<number>("document.querySelector('#spark .heap-line').getAttribute('points').split(' ').length");
    assert.ok(points > 1, 'the sparkline has points');

    // Sorting: by total (<module> and grow_cache tie, by name), own (grow_cache), allocations (the holder).
    assert.equal(await page.evaluate<string>("document.querySelector('th[aria-sort=descending]').textContent"), 'Total Memory');
    assert.match((await locations(page))[0] ?? '', /^<module> at /);
    await page.click('th[data-sort=own]');
    await waitFor('sorted by own', async () => ((await locations(page))[0]?.startsWith('grow_cache at') === true ? true : undefined));
    assert.equal(await page.evaluate<string>("document.querySelector('th[aria-sort=descending]').textContent"), 'Own Memory');
    await page.click('th[data-sort=count]');
    await waitFor('sorted by allocations', async () => (/^(Thread\.run|worker_loop) at /.test((await locations(page))[0] ?? '') ? true : undefined));

    // Threads: the select lists all, the main thread, the holder; one at a time shows only its own.
    const options = await page.evaluate<string[]>("[...document.querySelectorAll('#thread option')].map((o) => o.textContent)");
    assert.equal(options.length, 3);
    assert.match(options[0] ?? '', /^All 2 threads/);
    assert.match(options[1] ?? '', /^1\. MainThread/);
    assert.match(options[2] ?? '', /^2\. holder/);
    const holder = await page.evaluate<string>("document.querySelectorAll('#thread option')[2].value");
    await page.selectOption('#thread', holder);
    await waitFor('the holder alone', async () => {
      const l = await locations(page);
      return l.some((x) => x.startsWith('worker_loop at')) && !l.some((x) => x.startsWith('grow_cache at')) ? true : undefined;
    });
    // Keys as in the terminal: > goes from the last thread back to all.
    await page.keyboard.press('>');
    await waitFor('all threads again', async () => ((await locations(page)).some((x) => x.startsWith('grow_cache at')) ? true : undefined));
    assert.equal(await page.evaluate<string>("document.querySelector('#thread').value"), '');

    // Pause stops the polling; resume starts it again.
    await page.click('#pause');
    const frozen = await page.evaluate<string>('document.documentElement.dataset.updates');
    assert.equal(await page.evaluate<string>("document.querySelector('#status').dataset.state"), 'paused');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await page.evaluate<string>('document.documentElement.dataset.updates'), frozen);
    await page.click('#pause');
    await waitFor('polling again', async () => ((await page.evaluate<string>('document.documentElement.dataset.updates')) !== frozen ? true : undefined));

    // The target ends: the banner says how.
    writeFileSync(stop, '');
    await live.ended;
    await web.ended;
    await waitFor('the end banner', async () => ((await text(page, '#end')).includes('Exited with status 3 at ') ? true : undefined));
    assert.equal(await page.evaluate<string>("document.querySelector('#status').dataset.state"), 'ended');
    await page.screenshot({ path: join(screenshotDir(), 'live-web.png'), fullPage: true });
    assert.deepEqual(problems, [], 'no errors and no CSP violation on the page');
  } finally {
    await browser.close();
    await web.close();
    if (live.launched.pid > 0) {
      try {
        process.kill(live.launched.pid, 'SIGKILL');
      } catch {
        // already ended
      }
    }
    tmp.remove();
  }
});

const HOSTILE = `
import sys, threading, time
EVIL = '<img src=x id=evil-img onerror="window.pwned=1"><script>window.pwned=2</script>&amp;'
def holder():
    global kept
    kept = bytearray(2 << 20)
    time.sleep(30)
holder.__code__ = holder.__code__.replace(co_name=EVIL, co_qualname=EVIL, co_filename=EVIL + '.py')
t = threading.Thread(target=holder, name=EVIL, daemon=True)
t.start()
while not __import__('os').path.exists(sys.argv[1]):
    time.sleep(0.02)
`;

test('web: names from the program (functions, files, threads, the command line) are shown as text', async () => {
  const tmp = tempDir('memlens-live-web-');
  const stop = join(tmp.dir, 'stop');
  writeFileSync(join(tmp.dir, 'hostile.py'), HOSTILE);
  const session = new LiveSession();
  const evil = '<img src=x id=evil-img onerror="window.pwned=1"><script>window.pwned=2</script>&amp;';
  const live = await launchLive({ python: newest(), script: 'hostile.py', args: [stop, evil], cwd: tmp.dir }, session);
  const web = await runLiveWeb(live.capture, { session });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(web.url);
    await waitFor('the hostile function in the table', async () => ((await locations(page)).some((l) => l.startsWith(`${evil} at ${evil}.py:`)) ? true : undefined));
    await waitFor('the hostile thread name', async () => {
      const o = await page.evaluate<string[]>("[...document.querySelectorAll('#thread option')].map((o) => o.textContent)");
      return o.some((x) => x.includes(evil)) ? true : undefined;
    });
    assert.ok((await text(page, '#command')).includes(evil), 'the command line as text');
    assert.equal(await page.evaluate<number>("document.querySelectorAll('#evil-img, #app img, #app script').length"), 0, 'no element made from a name');
    assert.equal(await page.evaluate<unknown>('window.pwned'), undefined);
    assert.ok((await page.evaluate<string>('document.title')).includes(evil), 'the title as text');
  } finally {
    writeFileSync(stop, '');
    await browser.close();
    await live.ended;
    await web.close();
    tmp.remove();
  }
});
