// Every report command on damaged captures whose blocks all check out (test/support/capture-mutation.ts),
// through main() in-process. Whatever the values, a command either reports or refuses the file with a
// one-line error: never an internal error, never a negative or NaN figure where a figure cannot be
// negative, never a stack overflow.
//
// A fixed number of seeded cases runs in the normal suite; a longer run:
//   MEMLENS_FUZZ_CASES=1000 npm test -- report-fuzz
// and one case again: MEMLENS_FUZZ_SEED=S MEMLENS_FUZZ_CASE=N (both printed with every failure).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync, inflateRawSync } from 'node:zlib';
import { main } from '../src/cli/main.js';
import { decodePayload } from '../src/report/html/payload.js';
import { CaptureWriter } from '../src/capture/encoder.js';
import { decodeItems, mutatePayloads, mutateRecords } from './support/capture-mutation.js';
import { writeItem } from './support/collect.js';
import { FIXTURES } from './support/golden.js';
import { knownCapture } from './support/known-capture.js';
import { memoryIo } from './support/memory-io.js';
import { prng } from './support/prng.js';

const CASES = Number(process.env['MEMLENS_FUZZ_CASES'] ?? 100);
const SEED = Number(process.env['MEMLENS_FUZZ_SEED'] ?? 1);
const ONLY = process.env['MEMLENS_FUZZ_CASE'];
/** Prints each command before it runs: which one hangs. */
const TRACE = process.env['MEMLENS_FUZZ_TRACE'] === '1';

const dir = mkdtempSync(join(tmpdir(), 'memlens-report-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A census as agent/python/memlens_census.py writes it (taken of a small CPython 3.11 program, trimmed).
const CENSUS = {
  kind: 'census',
  time: 1732694400.5,
  pause_ms: 25.756,
  partial: false,
  tracked_objects: 7236,
  covered_objects: 7236,
  untracked_objects: 4097,
  types: [
    { type: 'str', count: 4641, bytes: 456166 },
    { type: 'code', count: 1052, bytes: 411488 },
    { type: 'dict', count: 1040, bytes: 378264 },
    { type: 'bytearray', count: 100, bytes: 105700 },
  ],
  type_count: 105,
  total_count: 14737,
  total_bytes: 2308810,
  largest_objects: [
    { type: 'dict', bytes: 13056, length: 387, id: 139919151540992 },
    { type: 'frozenset', bytes: 8408, length: 305, id: 139919150629600 },
  ],
  gc: { enabled: true, counts: [393, 2, 1], thresholds: [700, 10, 10], frozen: 0, garbage: 0 },
  paths: { results: [{ id: 1, target: 'bytearray', path: "module __main__['keep'][0]" }] },
  path_groups: [
    { pattern: "module __main__['keep'][*]", type: 'bytearray', count: 100, bytes: 105700, example: "module __main__['keep'][0]" },
    { pattern: null, type: 'str', count: 12, bytes: 700, example: null, reason: 'not reachable from any root: held by a reference cycle (freed by the next full GC) or by C code' },
  ],
  path_search: { types: ['bytearray', 'code', 'dict', 'str'], visited: 7236, depth: 6, partial: false, bound: null, pause_ms: 12.5 },
};

/** The known capture with two censuses in it (the census command shows the last and what grew since the first). */
function knownWithCensuses(): Uint8Array {
  const { header, items } = decodeItems(knownCapture());
  const w = new CaptureWriter({ header });
  for (const it of items) writeItem(w, it);
  for (const [seq, scale] of [
    [3, 1],
    [9, 2],
  ] as const) {
    const json = JSON.stringify({ ...CENSUS, time: CENSUS.time + seq, types: CENSUS.types.map((t) => ({ ...t, count: t.count * scale, bytes: t.bytes * scale })) });
    w.meta({ type: 'census', stream: 1, seq, timeNs: seq * 1_000_000, label: 'growth', json });
  }
  return w.finish();
}

/** Seeds: synthetic captures with every record type and edge values, and captures the real agent wrote. */
const SEEDS: readonly { readonly name: string; readonly bytes: Uint8Array }[] = [
  { name: 'every-record', bytes: readFileSync(join(FIXTURES, 'captures/every-record.mlens')) },
  { name: 'realistic-small', bytes: readFileSync(join(FIXTURES, 'captures/realistic-small.mlens')) },
  { name: 'known-program-native', bytes: readFileSync(join(FIXTURES, 'captures/known-program-native.mlens')) },
  { name: 'known', bytes: knownCapture() },
  { name: 'known-censuses', bytes: knownWithCensuses() },
];

interface Outcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly bytes: Uint8Array;
}

async function run(argv: readonly string[]): Promise<Outcome> {
  const io = memoryIo({ columns: 100, cwd: dir });
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err(), bytes: io.outBytes() };
}

// Keys of JSON outputs whose values are signed by design (growth and differences), and the ones that use
// -1 for "none".
const SIGNED_KEY = /growth|delta|diff|change|grew|net/i;
const NONE_KEY = /^(parent|frame|length|source)$/;

/** Where a JSON value holds a number that is not finite, or negative where it cannot be. */
function badNumbers(value: unknown, path = '$', out: string[] = []): string[] {
  const stack: [unknown, string, string][] = [[value, path, '']];
  while (stack.length > 0 && out.length < 5) {
    const [v, p, key] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) out.push(`${p} = ${v}`);
      else if (v < 0 && !SIGNED_KEY.test(p) && !(v === -1 && NONE_KEY.test(key))) out.push(`${p} = ${v}`);
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, `${p}[${i}]`, key]));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) stack.push([x, `${p}.${k}`, k]);
    }
  }
  return out;
}

/** Text a report must never print: numbers that are not numbers, and negative sizes or counts. */
function badText(text: string, signed: boolean): string | undefined {
  const m = /NaN|Infinity|undefined|\[object Object\]/.exec(text);
  if (m !== null) return `'${m[0]}' in: ${lineOf(text, m.index)}`;
  if (!signed) {
    const neg = /(?<![\w+\-.:=/])-\d/.exec(text);
    if (neg !== null) return `a negative number in: ${lineOf(text, neg.index)}`;
  }
  return undefined;
}

function lineOf(text: string, at: number): string {
  const start = text.lastIndexOf('\n', at) + 1;
  const end = text.indexOf('\n', at);
  return JSON.stringify(text.slice(start, end < 0 ? undefined : end).slice(0, 200));
}

/** The sample values of a pprof profile (gzipped profile.proto): each must be a non-negative int64. */
function pprofNegative(gz: Uint8Array): boolean {
  const b = gunzipSync(gz);
  let p = 0;
  const varint = (): bigint => {
    let r = 0n;
    let s = 0n;
    for (;;) {
      const x = b[p++]!;
      r |= BigInt(x & 0x7f) << s;
      if (x < 0x80) return r;
      s += 7n;
    }
  };
  while (p < b.length) {
    const key = Number(varint());
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = Number(varint());
      if (key >> 3 === 2) {
        // Sample: field 2 holds the values, packed.
        const end = p + len;
        while (p < end) {
          const k = Number(varint());
          if ((k & 7) === 2) {
            const l = Number(varint());
            const e = p + l;
            if (k >> 3 === 2) {
              while (p < e) if (varint() >= 1n << 63n) return true;
            }
            p = e;
          } else if ((k & 7) === 0) {
            const v = varint();
            if (k >> 3 === 2 && v >= 1n << 63n) return true;
          } else return false;
        }
      } else p += len;
    } else return false;
  }
  return false;
}

/** The checks of one command's outcome; a message for the first problem, or undefined. */
function check(argv: readonly string[], o: Outcome): string | undefined {
  const what = `memlens ${argv.map((a) => (a.startsWith(dir) ? a.slice(dir.length + 1) : a)).join(' ')}`;
  if (o.code === 70 || /internal error|RangeError|TypeError|Maximum call stack/.test(o.err)) return `${what}: internal error (${o.code}): ${o.err.slice(0, 600)}`;
  for (const line of o.err.split('\n').filter((l) => l !== '')) {
    if (!/^(memlens: | {2}hint: )/.test(line)) return `${what}: a message that is not one line: ${JSON.stringify(line.slice(0, 200))}`;
  }
  if (o.code !== 0) {
    if (o.code !== 1) return `${what}: exit status ${o.code}`;
    if ((o.err.match(/^memlens: error: /gm) ?? []).length !== 1) return `${what}: not one error line: ${o.err.slice(0, 400)}`;
    return undefined;
  }
  const errText = badText(o.err, true);
  if (errText !== undefined) return `${what}: stderr: ${errText}`;
  const json = argv.includes('--json');
  // Differences are signed by nature (diff, what grew before the end, a census's change); parse prints
  // the capture's strings as they are, census JSON included.
  const signed = argv[0] === 'diff' || argv[0] === 'verdict' || argv[0] === 'census' || argv[0] === 'parse';
  if (json && argv[0] === 'parse') {
    for (const line of o.out.split('\n').filter((l) => l !== '')) {
      const bad = badNumbers(JSON.parse(line) as unknown);
      if (bad.length > 0) return `${what}: ${bad.join(', ')}`;
    }
  } else if (json) {
    const bad = badNumbers(JSON.parse(o.out) as unknown);
    if (bad.length > 0) return `${what}: ${bad.join(', ')}`;
  } else {
    const t = badText(o.out, signed);
    if (t !== undefined) return `${what}: ${t}`;
  }
  return undefined;
}

/** The checks of an output file. */
function checkFile(argv: readonly string[], file: string): string | undefined {
  const what = `memlens ${argv.slice(0, 3).join(' ')}`;
  const bytes = readFileSync(file);
  const format = argv[argv.indexOf('--format') + 1];
  if (argv[0] === 'flamegraph') {
    const b64 = /id="memlens-payload">([A-Za-z0-9+/=]*)</.exec(bytes.toString('utf8'))?.[1] ?? '';
    const d = decodePayload(new Uint8Array(inflateRawSync(Buffer.from(b64, 'base64'))));
    const plain = JSON.parse(JSON.stringify(d, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v))) as unknown;
    const bad = badNumbers(plain);
    return bad.length > 0 ? `${what}: payload ${bad.join(', ')}` : undefined;
  }
  if (format === 'pprof') return pprofNegative(bytes) ? `${what}: a negative sample value` : undefined;
  if (format === 'speedscope' || format === 'gprof2dot') {
    const bad = badNumbers(JSON.parse(bytes.toString('utf8')) as unknown);
    return bad.length > 0 ? `${what}: ${bad.join(', ')}` : undefined;
  }
  const t = badText(bytes.toString('utf8'), false);
  return t !== undefined ? `${what}: ${t}` : undefined;
}

/** Every report command, with the options that change what it computes. */
function commands(file: string, seed: string): { argv: string[]; out?: string }[] {
  const o = (name: string): string => join(dir, name);
  return [
    { argv: ['summary', file] },
    { argv: ['summary', file, '--json'] },
    { argv: ['summary', file, '--leaks', '--json'] },
    { argv: ['summary', file, '--temporary-allocations'] },
    { argv: ['stats', file] },
    { argv: ['stats', file, '--json'] },
    { argv: ['tree', file, '--print'] },
    { argv: ['tree', file, '--json'] },
    { argv: ['verdict', file] },
    { argv: ['verdict', file, '--json'] },
    { argv: ['flamegraph', file, '-f', '-o', o('out.html')], out: o('out.html') },
    ...['pprof', 'speedscope', 'folded', 'csv', 'gprof2dot'].map((f) => ({ argv: ['export', file, '--format', f, '--force', '-o', o(`out.${f}`)], out: o(`out.${f}`) })),
    { argv: ['diff', seed, file] },
    { argv: ['diff', file, file, '--json'] },
    { argv: ['parse', file] },
    { argv: ['parse', file, '--json'] },
    { argv: ['census', file] },
    { argv: ['census', file, '--json'] },
  ];
}

/** The problems of one case; undefined when the encoder could not write the mutated records. */
async function fuzzCase(n: number): Promise<string[] | undefined> {
  const rand = prng(SEED * 1_000_003 + n);
  const seed = SEEDS[n % SEEDS.length]!;
  const seedFile = join(dir, `seed-${seed.name}.mlens`);
  writeFileSync(seedFile, seed.bytes);
  const bytes = rand() < 0.7 ? mutateRecords(seed.bytes, rand) : mutatePayloads(seed.bytes, rand);
  if (bytes === undefined) return undefined;
  const file = join(dir, `case-${n}.mlens`);
  writeFileSync(file, bytes);
  const problems: string[] = [];
  for (const c of commands(file, seedFile)) {
    if (TRACE) process.stderr.write(`case ${n}: ${c.argv.join(' ')}\n`);
    const o = await run(c.argv);
    const p = check(c.argv, o) ?? (o.code === 0 && c.out !== undefined ? checkFile(c.argv, c.out) : undefined);
    if (p !== undefined) problems.push(`seed ${SEED} case ${n} (${seed.name}): ${p}`);
  }
  if (problems.length === 0) rmSync(file);
  return problems;
}

test(`every report command survives ${ONLY !== undefined ? `case ${ONLY}` : `${CASES} damaged captures`} with good checksums`, async () => {
  const problems: string[] = [];
  let encoded = 0;
  const cases = ONLY !== undefined ? [Number(ONLY)] : Array.from({ length: CASES }, (_, i) => i);
  for (const n of cases) {
    const p = await fuzzCase(n);
    if (p === undefined) continue;
    problems.push(...p);
    encoded++;
  }
  // Most mutations must make a capture (a fuzzer whose inputs the encoder refuses tests nothing).
  assert.ok(encoded * 2 >= cases.length, `only ${encoded} of ${cases.length} cases could be written`);
  assert.deepEqual(problems, []);
});

test('values of 2^53 − 1 everywhere (the every-record capture) through every command: none shown, all counted', async () => {
  const seed = SEEDS[0]!;
  const file = join(dir, 'edges.mlens');
  writeFileSync(file, seed.bytes);
  const problems: string[] = [];
  for (const c of commands(file, file)) {
    const o = await run(c.argv);
    const p = check(c.argv, o) ?? (o.code === 0 && c.out !== undefined ? checkFile(c.argv, c.out) : undefined);
    if (p !== undefined) problems.push(p);
    // Nothing a process can hold is measured in PiB: 8 PiB allocations and their sums are left out.
    if (!c.argv.includes('parse') && /\d PiB/.test(o.out)) problems.push(`memlens ${c.argv[0]}: a figure in PiB: ${o.out.slice(0, 300)}`);
  }
  assert.deepEqual(problems, []);
  const summary = await run(['summary', file]);
  assert.match(summary.out, /Note: \d+ records held values no process can have \(the first: [^)]+\): left out\./);
});
