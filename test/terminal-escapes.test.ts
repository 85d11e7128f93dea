// Names from the profiled program never reach the terminal as controls: every text command on captures
// whose every string carries ESC sequences, C0 and C1 controls and bidirectional overrides, checked on the
// raw bytes memlens writes to stdout and stderr (only its own colour sequences may hold an ESC), with the
// JSON outputs still the exact data; a real program with such names under `memlens run`; and the full-screen
// views (the live view, the interactive tree) in tmux, checked on the bytes the pane received.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CaptureWriter } from '../src/capture/encoder.js';
import { OPTION_NATIVE } from '../src/capture/format.js';
import { main } from '../src/cli/main.js';
import { KNOWN_HEADER, MiB } from './support/known-capture.js';
import { MEMLENS_BIN, memlensRun, tempDir } from './support/memlens-run.js';
import { memoryIo } from './support/memory-io.js';
import { REPO_ROOT, testPythons } from './support/pythons.js';
import { Tmux } from './support/tmux.js';
import { NODE_FLAGS } from '../src/util/node-flags.js';

/** ESC sequences (clear, title, colour), a BEL, RLO and LRI, a C1 CSI, CR, RLM and NUL. */
const EVIL = '\u001b[2J\u001b]0;pwned\u0007\u001b[31mred\u202etxt.exe\u2066\u009b1m\r\u200f\u0000';

const tmp = tempDir('memlens-escapes-');
after(() => tmp.remove());

/**
 * What may not be in memlens's output: any control but the line feed, any C1 control, any format
 * character (bidi controls among them), the line and paragraph separators. With `colour`, an ESC may
 * start memlens's own colour sequences and nothing else. Returns the first offence, with its context.
 */
function offence(text: string, colour: boolean): string | undefined {
  // eslint-disable-next-line no-control-regex -- memlens's own colour sequences are what this takes out
  const allowed = colour ? text.replace(/\u001b\[(?:0|1|2|7|27|31|32|33|36|92)m/g, '') : text;
  // eslint-disable-next-line no-control-regex -- finding controls is the point
  const m = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\p{Cf}]/u.exec(allowed);
  return m === null ? undefined : `U+${m[0].codePointAt(0)!.toString(16).padStart(4, '0')} in ${JSON.stringify(allowed.slice(Math.max(0, m.index - 40), m.index + 40))}`;
}

/** A capture whose every string field holds EVIL: header, threads, code, images, markers, notes, the exit, censuses. */
function hostileCapture(scale = 1): Uint8Array {
  const w = new CaptureWriter({
    header: {
      ...KNOWN_HEADER,
      options: OPTION_NATIVE,
      hostname: `host${EVIL}`,
      argv: ['python3', `app${EVIL}.py`, `--flag${EVIL}`],
      executable: `/usr/bin/python3${EVIL}`,
      cwd: `/srv/app${EVIL}`,
      script: `app${EVIL}.py`,
      cgroupPath: `/user${EVIL}`,
      pythonVersion: `3.11.7${EVIL}`,
    },
  });
  w.meta({ type: 'thread', stream: 1, osTid: 100, pythonIdent: 1, name: `main${EVIL}`, timeNs: 0 });
  w.meta({
    type: 'code',
    stream: 1,
    codeId: 1,
    name: `<module>${EVIL}`,
    qualname: `<module>${EVIL}`,
    filename: `/srv/app${EVIL}/app${EVIL}.py`,
    firstLineNo: 1,
    linetableKind: 3,
    linetable: new Uint8Array(0),
  });
  w.meta({ type: 'code', stream: 1, codeId: 2, name: `load${EVIL}`, qualname: `Loader${EVIL}.load${EVIL}`, filename: `/srv/lib${EVIL}.py`, firstLineNo: 7, linetableKind: 3, linetable: new Uint8Array(0) });
  w.meta({ type: 'image', stream: 0, seq: 0, loadBias: 0x7f0000000000, path: `/usr/lib/libevil${EVIL}.so`, buildId: new Uint8Array(0), segments: [{ vaddr: 0, memsz: 0x100000, prot: 5, fileOffset: 0 }] });
  const mod = w.frame(1, 0, 1, 0);
  const load = w.frame(1, mod, 2, 0);
  const native = w.nativeFrame(1, 0, 0x7f0000001234);
  w.meta({
    type: 'snapshot',
    stream: 0,
    seq: 1,
    timeNs: 1_000_000,
    rss: 40 * MiB,
    rssAnon: 30 * MiB,
    rssFile: 10 * MiB,
    rssShmem: 0,
    swap: undefined,
    heap: undefined,
    cgroupUsage: 50 * MiB,
    cgroupLimit: 64 * MiB,
  });
  w.alloc(1, 1, 0x100000, 4 * MiB * scale, 0, load, native);
  w.alloc(1, 2, 0x600000, MiB, 0, mod, 0);
  w.alloc(1, 3, 0x700000, 64, 0, load, native);
  w.free(1, 4, 0x700000, 0, 0);
  w.flush(1);
  w.meta({ type: 'thread-name', stream: 0, thread: 1, name: `renamed${EVIL}` });
  w.meta({ type: 'marker', stream: 0, seq: 4, timeNs: 2_000_000, kind: 4, label: `near${EVIL}` });
  w.meta({ type: 'marker', stream: 0, seq: 4, timeNs: 2_100_000, kind: 5, label: `user${EVIL}` });
  w.meta({ type: 'marker', stream: 0, seq: 4, timeNs: 2_200_000, kind: 7, label: `pressure${EVIL}` });
  w.meta({ type: 'note', stream: 0, kind: 3, text: `note${EVIL}` });
  const census = (n: number): string =>
    JSON.stringify({
      kind: 'census',
      time: 1732694400 + n,
      pause_ms: 3,
      partial: false,
      tracked_objects: 10 * n,
      untracked_objects: 1,
      total_count: 10 * n,
      total_bytes: 1000 * n,
      types: [{ type: `Type${EVIL}`, count: 5 * n, bytes: 600 * n }],
      type_count: 1,
      largest_objects: [{ type: `Big${EVIL}`, bytes: 500, length: 3, id: 7 }],
      paths: {
        results: [
          { id: 7, target: `Big${EVIL}`, path: `module __main__['k${EVIL}']` },
          { target: `T${EVIL}`, path: null, reason: `why${EVIL}` },
        ],
      },
      path_groups: [
        { pattern: `module __main__['g${EVIL}'][*]`, type: `Type${EVIL}`, count: 5 * n, bytes: 600 * n, example: `module __main__['g${EVIL}'][0]` },
        { pattern: null, type: `Type${EVIL}`, count: 1, bytes: 1, example: null, reason: `cycle${EVIL}` },
      ],
      path_search: { types: [`Type${EVIL}`], visited: 10, depth: 2, partial: true, bound: `bound${EVIL}`, pause_ms: 1 },
    });
  w.meta({ type: 'census', stream: 1, seq: 2, timeNs: 1_500_000, label: `growth${EVIL}`, json: census(1) });
  w.meta({ type: 'census', stream: 1, seq: 3, timeNs: 1_800_000, label: `near-oom${EVIL}`, json: census(2) });
  w.meta({ type: 'exit', stream: 0xffffffff, timeNs: 3_000_000, exitCode: 0, signal: 9, oomKill: 2, detail: `kernel${EVIL}` });
  return w.finish();
}

interface Output {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function run(argv: readonly string[], tty: boolean): Promise<Output> {
  const io = memoryIo({ cwd: tmp.dir, columns: 140, stdoutTTY: tty, stderrTTY: tty });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

const A = join(tmp.dir, `a${EVIL.replaceAll('/', '_').replaceAll('\u0000', '')}.mlens`);
const B = join(tmp.dir, 'b.mlens');
writeFileSync(A, hostileCapture());
writeFileSync(B, hostileCapture(2));
const CENSUS_A = join(tmp.dir, 'census-a.json');
const CENSUS_B = join(tmp.dir, 'census-b.json');

test('every text command: no control from a name reaches stdout or stderr, with colour or without', async () => {
  // Saved censuses, as `memlens census PID -o` writes them: the capture's, through --json.
  writeFileSync(CENSUS_A, (await run(['census', A, '--json'], false)).out);
  writeFileSync(CENSUS_B, (await run(['census', B, '--json'], false)).out);
  const commands: readonly (readonly string[])[] = [
    ['summary', A],
    ['summary', A, '--leaks'],
    ['summary', A, '--temporary-allocations'],
    ['summary', A, '--show-internal-frames', '--show-import-frames'],
    ['stats', A],
    ['tree', A, '--print'],
    ['verdict', A],
    ['diff', A, B],
    ['diff', A, B, '--leaks'],
    ['census', A],
    ['census', CENSUS_A, CENSUS_B],
    ['parse', A],
    ['flamegraph', A, '-f', '-o', join(tmp.dir, `page${EVIL.replaceAll('/', '_').replaceAll('\u0000', '')}.html`)],
    ['export', A, '--format', 'speedscope', '--force', '-o', join(tmp.dir, `out${EVIL.replaceAll('/', '_').replaceAll('\u0000', '')}.json`)],
    // Errors that name what they were given.
    ['summary', join(tmp.dir, `missing${EVIL}.mlens`)],
    ['census', join(tmp.dir, `missing${EVIL}.json`)],
    [`summ${EVIL}ary`, A],
    ['summary', A, `--opt${EVIL}`],
  ];
  // Exports to stdout are data byte for byte on a pipe (the next test); on a terminal they are text to read.
  const exports = [
    ['export', A, '--format', 'folded', '-o', '-'],
    ['export', A, '--format', 'csv', '-o', '-'],
  ];
  for (const tty of [false, true]) {
    for (const argv of tty ? [...commands, ...exports] : commands) {
      const r = await run(argv, tty);
      const what = `${tty ? 'terminal' : 'pipe'}: memlens ${JSON.stringify(argv)}`;
      assert.doesNotMatch(r.err, /internal error/, `${what}: ${r.err}`);
      assert.equal(offence(r.out, tty), undefined, `${what} stdout`);
      assert.equal(offence(r.err, tty), undefined, `${what} stderr`);
      if (r.code !== 0) assert.equal(r.err.split('\n').filter((l) => l.startsWith('memlens: error: ')).length, 1, `${what}: ${r.err}`);
    }
  }
  // What the reports show is the name, escaped where it would have acted: `\u001b` for the ESC.
  const tree = (await run(['tree', A, '--print'], false)).out;
  assert.ok(tree.includes('\\u001b]0;pwned\\u0007\\u001b[31mred\\u202etxt.exe'), tree);
  const verdict = (await run(['verdict', A], false)).out;
  assert.ok(verdict.includes('kernel\\u001b[2J'), verdict);
});

test('JSON outputs carry the names exactly (escaped as JSON), and no raw control', async () => {
  for (const argv of [
    ['summary', A, '--json'],
    ['stats', A, '--json'],
    ['tree', A, '--json'],
    ['verdict', A, '--json'],
    ['diff', A, B, '--json'],
    ['census', A, '--json'],
    ['export', A, '--format', 'speedscope', '-o', '-'],
  ]) {
    const r = await run(argv, true);
    assert.equal(r.code, 0, r.err);
    assert.equal(offence(r.out, false), undefined, argv.join(' '));
    const text = JSON.stringify(JSON.parse(r.out));
    // The whole of EVIL, as JSON writes it: the names came through exactly.
    assert.ok(text.includes(JSON.stringify(EVIL).slice(1, -1)), `${argv.join(' ')}: no exact name in ${text.slice(0, 1000)}`);
  }
  const lines = (await run(['parse', A, '--json'], true)).out.split('\n').filter((l) => l !== '');
  const code = lines.map((l) => JSON.parse(l) as { type: string; name?: string }).find((r) => r.type === 'code' && r.name === `load${EVIL}`);
  assert.ok(code !== undefined, 'parse --json: the code record with the exact name');
  // To a pipe, the text exports are data: byte for byte.
  const folded = await run(['export', A, '--format', 'folded', '-o', '-'], false);
  assert.ok(folded.out.includes('pwned\u0007\u001b[31mred\u202etxt.exe\u2066\u009b1m'), 'the folded export keeps the names as they are');
});

test('a real program with such names: memlens run, then every report of its capture', async () => {
  const py = testPythons().find((p) => !p.system && p.minor >= 11) ?? testPythons()[0]!;
  const dir = join(tmp.dir, `cwd${EVIL.replaceAll('/', '_').replaceAll('\u0000', '')}`);
  mkdirSync(dir);
  const r = await memlensRun(
    {
      python: py.python,
      program: [join(REPO_ROOT, 'test', 'programs', 'hostile_names.py'), '0', `arg${EVIL.replaceAll('\u0000', '')}`],
      output: `cap${EVIL.replaceAll('/', '_').replaceAll('\u0000', '')}.mlens`,
      verbose: true,
    },
    dir,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(offence(r.stderr, false), undefined, 'memlens run: stderr');
  assert.match(r.stderr, /capture written to cap\\u001b/);
  for (const argv of [
    ['summary', r.capture],
    ['stats', r.capture],
    ['tree', r.capture, '--print'],
    ['verdict', r.capture],
    ['diff', r.capture, r.capture],
  ]) {
    for (const tty of [false, true]) {
      const o = await run(argv, tty);
      assert.equal(o.code, 0, o.err);
      assert.equal(offence(o.out, tty), undefined, `${argv[0]} stdout`);
      assert.equal(offence(o.err, tty), undefined, `${argv[0]} stderr`);
    }
  }
  const summary = (await run(['summary', r.capture], false)).out;
  assert.ok(summary.includes('\\u202etxt.exe'), summary);
});

// memlens's own sequences in the full-screen views: colours, alternate screen, cursor, home, clear, line end.
// And the shell's: bash turns bracketed paste on and off around each command line.
// eslint-disable-next-line no-control-regex -- the sequences are made of controls
const VIEW_SEQUENCES = /\u001b\[(?:0|1|2|7|27|31|32|33|36|92)m|\u001b\[\?(?:1049|25|2004)[hl]|\u001b\[(?:H|2J|K)|\r/g;

function viewOffence(bytes: string): string | undefined {
  return offence(bytes.replace(VIEW_SEQUENCES, ''), false);
}

test('the live view and the interactive tree, in a terminal: only their own sequences reach it', async () => {
  const py = testPythons().find((p) => !p.system && p.minor >= 11) ?? testPythons()[0]!;
  const memlens = `${process.execPath} ${NODE_FLAGS.join(' ')} ${MEMLENS_BIN}`;
  const raw = join(tmp.dir, 'live-pane.bytes');
  const tmux = new Tmux('env PS1="$ " bash --norc --noprofile -i', { width: 140, height: 40, cwd: tmp.dir, env: { HISTFILE: '/dev/null' } });
  try {
    await tmux.waitFor('the prompt', (s) => s.includes('$'));
    tmux.pipeOutput(raw);
    const program = join(REPO_ROOT, 'test', 'programs', 'hostile_names.py');
    tmux.keys(`${memlens} run --live --python ${py.python} -o live.mlens ${program} 4; echo LIVE-EXIT=$?`, true);
    tmux.keys('Enter');
    await tmux.waitFor('the live view with the names, escaped', (s) => s.includes('memlens live') && s.includes('\\u202etxt.exe'), 60_000);
    await tmux.waitFor('the end of the program', (s) => s.includes('ended'), 60_000);
    tmux.keys('q');
    await tmux.waitFor('the shell again', (s) => s.includes('LIVE-EXIT=0'), 60_000);
    tmux.keys(`${memlens} tree b.mlens; echo TREE-EXIT=$?`, true);
    tmux.keys('Enter');
    await tmux.waitFor('the interactive tree', (s) => s.includes('▾') && s.includes('\\u202etxt.exe'), 30_000);
    tmux.keys('q');
    await tmux.waitFor('the shell after the tree', (s) => s.includes('TREE-EXIT=0'), 30_000);
  } finally {
    tmux.close();
  }
  assert.ok(existsSync(raw));
  // Everything the pane received, the shell's own echo aside: the shell runs no program of its own here,
  // and bash with --norc draws its prompt and line without controls.
  const bytes = readFileSync(raw, 'utf8');
  assert.ok(bytes.includes('\u001b[?1049h'), 'the views took the alternate screen');
  assert.equal(viewOffence(bytes), undefined);
  assert.ok(!bytes.includes('pwned\u0007') && !bytes.includes('\u001b]0;'), 'no window title from a name');
});
