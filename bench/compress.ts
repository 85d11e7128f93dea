// Measures block recompression (src/capture/compress.ts) at several brotli qualities (and deflate level 1
// for comparison) on a realistic synthetic capture: ratio, compression speed, and the decoder's speed on
// the result.
// Run: node dist/bench/compress.js [EVENTS]   (default 4 million ALLOC/FREE records)

import { recompressCapture } from '../src/capture/compress.js';
import { decodeCapture } from '../src/capture/decoder.js';
import { concat } from '../src/capture/encoder.js';
import type { CaptureVisitor } from '../src/capture/records.js';
import { writeRealistic } from '../test/support/synthetic.js';

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
