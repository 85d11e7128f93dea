// Measures block recompression (src/capture/compress.ts) at several brotli qualities (and deflate level 1
// for comparison) on a realistic synthetic capture: ratio, compression speed, and the decoder's speed on
// the result.
// Run: node dist/bench/compress.js [EVENTS]   (default 4 million ALLOC/FREE records)
// Or:  node dist/bench/compress.js --files CAPTURE.mlens...   real uncompressed captures (`memlens run
// --no-compress`) streamed through the Recompressor at brotli qualities 1-5, 1 MiB at a time as the
// follower reads them: size and MB/s of this process's CPU time (best of two passes).

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Recompressor, recompressCapture } from '../src/capture/compress.js';
import { decodeCapture } from '../src/capture/decoder.js';
import { concat } from '../src/capture/encoder.js';
import type { CaptureVisitor } from '../src/capture/records.js';
import { writeRealistic } from '../test/support/synthetic.js';

if (process.argv[2] === '--files') {
  for (const file of process.argv.slice(3)) {
    const bytes = readFileSync(file);
    for (const level of [1, 2, 3, 4, 5]) {
      let size = 0;
      let cpu = Infinity;
      for (let pass = 0; pass < 2; pass++) {
        size = 0;
        const t0 = process.cpuUsage();
        const r = new Recompressor((b) => void (size += b.length), { level, codec: 'brotli' });
        for (let o = 0; o < bytes.length; o += 1 << 20) r.feed(bytes.subarray(o, o + (1 << 20)));
        r.end();
        const t = process.cpuUsage(t0);
        cpu = Math.min(cpu, (t.user + t.system) / 1e6);
      }
      const mib = (n: number): string => (n / 2 ** 20).toFixed(2);
      console.log(`${basename(file)} (${mib(bytes.length)} MiB) brotli ${level}: ${mib(size)} MiB, ${(bytes.length / 1e6 / cpu).toFixed(0)} MB/s`);
    }
  }
  process.exit(0);
}

const events = Number(process.argv[2] ?? 4_000_000);
const parts: Uint8Array[] = [];
const r = writeRealistic({ events, threads: 4, seed: 3, sink: (b) => parts.push(b) });
const raw = concat(parts);
const mb = (n: number): string => (n / 1e6).toFixed(1);
console.log(`capture: ${r.records} records, ${mb(raw.length)} MB uncompressed, ${(r.hotBytes / (r.allocs + r.frees)).toFixed(2)} bytes per ALLOC/FREE`);

let n = 0;
const counter: CaptureVisitor = {
  alloc: () => void n++,
  free: () => void n++,
  meta: () => void n++,
};
const timeDecode = (bytes: Uint8Array): number => {
  n = 0;
  const t0 = performance.now();
  decodeCapture(bytes, counter);
  return performance.now() - t0;
};
timeDecode(raw);
const rawMs = timeDecode(raw);
console.log(`level       size MB  ratio  compress MB/s  decode ms (raw: ${rawMs.toFixed(0)})`);
const settings: { codec: 'brotli' | 'deflate'; level: number }[] = [...[0, 1, 3, 5, 9].map((level) => ({ codec: 'brotli' as const, level })), { codec: 'deflate', level: 1 }];
for (const { codec, level } of settings) {
  const t0 = performance.now();
  const out = recompressCapture(raw, { codec, level });
  const ms = performance.now() - t0;
  timeDecode(out);
  const dms = timeDecode(out);
  console.log(
    `${`${codec} ${level}`.padEnd(10)}  ${mb(out.length).padStart(7)}  ${(raw.length / out.length).toFixed(2).padStart(5)}  ${(raw.length / 1e3 / ms).toFixed(0).padStart(13)}  ${dms.toFixed(0).padStart(9)}`,
  );
}
