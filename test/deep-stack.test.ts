// A real Python recursion 10,000 calls deep (test/programs/deep_recursion.py), captured on every CPython of
// .cache/pythons.json, through every report command: none may recurse on the depth of a stack (memlens tree
// overflowed its own stack on this), each shows the allocation at the bottom with its whole stack, and the
// HTML report, opened in chromium, lets one zoom down to it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { main } from '../src/cli/main.js';
import { decodePayload } from '../src/report/html/payload.js';
import { launchBrowser, waitReady } from './support/browser.js';
import { lineOf, memlensRun, tempDir } from './support/memlens-run.js';
import { memoryIo } from './support/memory-io.js';
import { corePythons, label, REPO_ROOT } from './support/pythons.js';

const SOURCE = readFileSync(join(REPO_ROOT, 'test', 'programs', 'deep_recursion.py'), 'utf8');
const ALLOC_LINE = lineOf(SOURCE, 'DEEP-ALLOC');
/** down() runs 10,001 times (the chain's 10,000 levels and its empty end) under main(): the allocating frame is at least this deep. */
const MIN_DEPTH = 10_002;
const MiB = 1024 * 1024;

const tmp = tempDir('memlens-deep-');
let browser: Browser | undefined;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  tmp.remove();
});

async function run(...argv: string[]): Promise<{ out: string; err: string; bytes: Uint8Array }> {
  const io = memoryIo({ columns: 120, cwd: tmp.dir });
  const code = await main(argv, io);
  assert.equal(code, 0, `memlens ${argv.join(' ')}: ${io.err()}`);
  assert.doesNotMatch(io.err(), /internal error|Maximum call stack/);
  return { out: io.out(), err: io.err(), bytes: io.outBytes() };
}

/** The location ids of the longest sample of a pprof profile (gzipped profile.proto). */
function longestPprofSample(gz: Uint8Array): number {
  const b = gunzipSync(gz);
  let p = 0;
  const varint = (): number => {
    let r = 0;
    let scale = 1;
    for (;;) {
      const x = b[p++]!;
      r += (x & 0x7f) * scale;
      if (x < 0x80) return r;
      scale *= 128;
    }
  };
  let longest = 0;
  while (p < b.length) {
    const key = varint();
    if ((key & 7) === 0) varint();
    else if ((key & 7) === 2) {
      const len = varint();
      const end = p + len;
      if (key >> 3 === 2) {
        // Sample: field 1 holds the location ids, packed.
        while (p < end) {
          const k = varint();
          const l = varint();
          if (k >> 3 === 1) {
            const e = p + l;
            let n = 0;
            while (p < e) {
              varint();
              n++;
            }
            longest = Math.max(longest, n);
          }
          p += k >> 3 === 1 ? 0 : l;
        }
      }
      p = end;
    } else throw new Error(`wire type ${key & 7} in the profile`);
  }
  return longest;
}

/** Clicks the deepest drawn frame until the zoomed frame has no children; returns the zoom path's length. */
async function zoomToTheBottom(html: string): Promise<{ depth: number; name: string; problems: string[] }> {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  try {
    await page.goto(`file://${html}`);
    assert.equal(await waitReady(page), '1');
    const canvas = page.locator('.flame-canvas');
    type View = { zoomPath: string[]; children: unknown[] };
    // Each zoom shows at most 1,600 rows (the canvas limit): a few zooms reach 10,000 frames down.
    for (let i = 0; i < 20; i++) {
      const v = await page.evaluate<View>('window.memlens.view()');
      if (v.children.length === 0) return { depth: v.zoomPath.length, name: v.zoomPath[v.zoomPath.length - 1] ?? '', problems };
      const height = await page.evaluate<number>('document.querySelector(".flame-canvas").clientHeight');
      // Icicle (the default): the deepest row is at the bottom of the canvas.
      await canvas.click({ position: { x: 10, y: height - 9 } });
    }
    throw new Error('20 zooms did not reach the bottom of the stack');
  } finally {
    await page.close();
  }
}

for (const py of corePythons()) {
  test(`a 10,000-deep stack through every report command (CPython ${label(py)})`, async () => {
    const name = `deep-${py.version}${py.system ? '-system' : ''}`;
    const r = await memlensRun({ python: py.python, program: [join(REPO_ROOT, 'test', 'programs', 'deep_recursion.py')], output: `${name}.mlens`, timeoutMs: 300_000 }, tmp.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /allocated 1/);
    const capture = r.capture;

    const tree = JSON.parse((await run('tree', capture, '--json')).out) as { nodes: { parent: number; self_bytes: number; frame: number }[]; frames: Record<string, { function: string; line: number }> };
    // The bytearray's node (on 3.9 and 3.10 the recursion's own frames take memory on the way down too).
    const leaf = tree.nodes.findIndex((n) => n.self_bytes >= MiB && tree.frames[String(n.frame)]?.line === ALLOC_LINE);
    assert.ok(leaf > 0, 'no node holds the 1 MiB at the allocating line');
    let depth = 0;
    for (let n = leaf; tree.nodes[n]!.parent >= 0; n = tree.nodes[n]!.parent) depth++;
    assert.ok(depth >= MIN_DEPTH, `the allocation is ${depth} frames deep`);

    const printed = (await run('tree', capture, '--print')).out;
    const deepLine = printed.split('\n').find((l) => l.includes(`deep_recursion.py:${ALLOC_LINE}`) && l.includes('own 1.00 MiB'));
    assert.ok(deepLine !== undefined && /^\[10,0\d\d\]/.test(deepLine), `no deep line in:\n${printed.slice(-2000)}`);
    for (const l of printed.split('\n').filter((x) => x.includes('%  '))) assert.ok([...l].length <= 120, `a tree line of ${l.length} columns: ${l}`);

    const summary = JSON.parse((await run('summary', capture, '--json')).out) as { rows: { function: string; line: number; own_bytes: number }[] };
    assert.ok(summary.rows.some((row) => row.function === 'down' && row.line === ALLOC_LINE && row.own_bytes >= MiB));
    await run('summary', capture, '--leaks');
    await run('stats', capture);
    assert.match((await run('verdict', capture)).out, new RegExp(`down at \\S*deep_recursion\\.py:${ALLOC_LINE}`));
    await run('verdict', capture, '--json');
    await run('diff', capture, capture);
    await run('diff', capture, capture, '--json');
    assert.ok((await run('parse', capture)).out.split('\n').filter((l) => l.startsWith('frame ')).length >= MIN_DEPTH - 1);

    const out = (f: string): string => join(tmp.dir, `${name}.${f}`);
    for (const f of ['pprof', 'speedscope', 'folded', 'csv', 'gprof2dot']) await run('export', capture, '--format', f, '-o', out(f));
    const folded = readFileSync(out('folded'), 'utf8').split('\n');
    assert.ok(
      folded.some((l) => l.split(';').length >= MIN_DEPTH),
      'no folded stack of 10,000 frames',
    );
    const speedscope = JSON.parse(readFileSync(out('speedscope'), 'utf8')) as { profiles: { samples: number[][] }[] };
    assert.ok(Math.max(...speedscope.profiles[0]!.samples.map((s) => s.length)) >= MIN_DEPTH);
    assert.ok(longestPprofSample(readFileSync(out('pprof'))) >= MIN_DEPTH);
    assert.ok(
      readFileSync(out('csv'), 'utf8')
        .split('\r\n')
        .some((l) => l.split('|').length >= MIN_DEPTH),
      'no CSV stack of 10,000 frames',
    );
    const gprof = JSON.parse(readFileSync(out('gprof2dot'), 'utf8')) as { events: { callchain: number[] }[] };
    assert.ok(gprof.events.some((e) => e.callchain.length >= MIN_DEPTH));

    const html = out('html');
    await run('flamegraph', capture, '-o', html);
    const b64 = /id="memlens-payload">([A-Za-z0-9+/=]*)</.exec(readFileSync(html, 'utf8'))?.[1] ?? '';
    const payload = decodePayload(new Uint8Array(inflateRawSync(Buffer.from(b64, 'base64'))));
    let deepest = 0;
    for (let i = 0; i < payload.nodes.parent.length; i++) {
      let d = 0;
      for (let n = i; n > 0 && d <= MIN_DEPTH; n = payload.nodes.parent[n]!) d++;
      deepest = Math.max(deepest, d);
    }
    assert.ok(deepest >= MIN_DEPTH, `the page's deepest node is ${deepest} frames down`);
    const bottom = await zoomToTheBottom(html);
    assert.deepEqual(bottom.problems, []);
    assert.ok(bottom.depth >= MIN_DEPTH, `zoomed to ${bottom.depth} frames down`);
    assert.equal(bottom.name, 'down');
  });
}
