// The IPython extension in a real Jupyter kernel: a notebook executed headless by nbclient, whose %%memlens
// cells hold the offline HTML report inline and whose %memlens_census cell holds the kernel's census.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import { decodePayload } from '../../src/report/html/payload.js';
import { envWithoutNode, makeVenv, sh, wheelPath } from '../support/pip.js';
import { REPO_ROOT, testPythons } from '../support/pythons.js';

const work = mkdtempSync(join(tmpdir(), 'memlens-notebook-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The names in the report an inline iframe holds: its srcdoc unescaped, the payload decoded. */
function reportStrings(iframe: string): string[] {
  const srcdoc = /srcdoc="([^"]*)"/.exec(iframe)?.[1] ?? '';
  const page = srcdoc
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, '&');
  const b64 = /<script type="application\/octet-stream" id="memlens-payload">([A-Za-z0-9+/=]*)<\/script>/.exec(page)?.[1];
  assert.ok(b64 !== undefined, 'the page holds its payload');
  return [...decodePayload(new Uint8Array(inflateRawSync(Buffer.from(b64, 'base64')))).strings];
}

type Output = { kind: string; html?: string; text?: string; name?: string; ename?: string; evalue?: string };

test('a notebook run by nbclient: %%memlens shows the report inline, %memlens_census the census', () => {
  const py = testPythons()
    .filter((p) => !p.system)
    .slice(-1)[0];
  assert.ok(py !== undefined);
  const venv = makeVenv(py, join(work, 'venv'), [wheelPath(), 'nbclient', 'nbformat', 'ipykernel']);
  const kept = join(work, 'kept');
  const r = sh(venv.python, [join(REPO_ROOT, 'test', 'pip', 'programs', 'run_notebook.py'), kept], { env: envWithoutNode(work, venv.bin), cwd: work });
  assert.equal(r.code, 0, r.stderr);
  const cells = JSON.parse(r.stdout) as Output[][];
  const html = (i: number): string =>
    (cells[i] ?? [])
      .filter((o) => o.kind === 'display_data')
      .map((o) => o.html ?? '')
      .join('');
  const text = (i: number): string => (cells[i] ?? []).map((o) => o.text ?? o.evalue ?? '').join('');

  // The report, as a sandboxed iframe whose document is the whole offline page.
  const first = html(1);
  assert.match(first, /^<div class="memlens-report"><iframe title="memlens report" sandbox="allow-scripts allow-downloads"/);
  assert.match(first, /srcdoc="&lt;!doctype html&gt;/i);
  assert.match(first, /id=&quot;memlens-payload&quot;/, 'the data of the flame graph');
  assert.ok(reportStrings(first).includes('make_buffers'), 'the function that allocated at the peak');
  assert.ok(!(cells[1] ?? []).some((o) => o.kind === 'error'), JSON.stringify(cells[1]));

  // --leaks with run options; -o keeps the capture and the report.
  assert.ok(reportStrings(html(2)).includes('keep_in_cell'));
  assert.match(text(2), /memlens: capture .*memlens-cell-\d+\.mlens, report .*memlens-cell-\d+\.html/);
  const files = readdirSync(kept).sort();
  assert.equal(files.length, 2, files.join(' '));
  const capture = join(kept, files.find((f) => f.endsWith('.mlens')) ?? '');
  const res = sh(venv.python, ['-m', 'memlens', 'results', capture], { env: envWithoutNode(work, venv.bin) });
  assert.equal(res.code, 0, res.stderr);
  const doc = JSON.parse(res.stdout) as { capture: { native_stacks: boolean; trace_python_allocators: boolean }; leaks: { stacks: { frames: { function: string }[] }[] } };
  assert.equal(doc.capture.native_stacks, true);
  assert.equal(doc.capture.trace_python_allocators, true);
  assert.ok(
    doc.leaks.stacks.some((s) => s.frames.some((f) => f.function === 'keep_in_cell')),
    'the leak of the cell',
  );

  assert.match(text(3), /^Census of live Python objects in python-pid-\d+\.json: paused it for \d+ ms/);
  assert.match(text(3), /bytearray/);

  // A wrong option: one line from IPython's UsageError, no traceback.
  const bad = text(4).trim();
  assert.equal(bad, 'UsageError: memlens: unrecognized arguments: --bogus (see %memlens --help)');

  // A failing cell: its traceback, then the report of what it allocated.
  assert.ok(
    (cells[5] ?? []).some((o) => o.kind === 'error' && o.ename === 'ValueError'),
    JSON.stringify(cells[5]),
  );
  assert.ok(reportStrings(html(5)).length > 0);
  assert.ok(!existsSync(join(work, 'memlens-cell-2.mlens')), 'nothing is left behind without -o');
});
