// The weights of a sampled capture: their values, and that the estimator they make is unbiased when the
// agent's Poisson sampling (reimplemented here from docs/sampling.md: exponential gaps in bytes, an
// allocation taken when a point falls inside it) is applied to a known stream of allocations.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prng } from '../../test/support/prng.js';
import { Allocator, OPTION_SAMPLED } from '../capture/format.js';
import { makeHeader } from '../capture/header.js';
import { sampleWeight, samplingOf } from './sampling.js';

const R = 512 * 1024;
const S = { rateBytes: R, exactBytes: 4 * R };

test('weights: 1/(1 − e^(−S/R)) below T, 1 from T and for mappings, 1 without sampling', () => {
  assert.equal(sampleWeight(undefined, 100, Allocator.Malloc), 1);
  assert.ok(Math.abs(sampleWeight(S, R, Allocator.Malloc) - 1 / (1 - Math.exp(-1))) < 1e-12);
  // Far below R: about R/S.
  assert.ok(Math.abs(sampleWeight(S, 64, Allocator.Malloc) / (R / 64) - 1) < 1e-3);
  // Zero bytes weigh as one byte.
  assert.equal(sampleWeight(S, 0, Allocator.Malloc), sampleWeight(S, 1, Allocator.Malloc));
  assert.equal(sampleWeight(S, 4 * R, Allocator.Malloc), 1);
  assert.equal(sampleWeight(S, 4 * R - 1, Allocator.Malloc) > 1, true);
  assert.equal(sampleWeight(S, 4096, Allocator.Mmap), 1);
  assert.equal(sampleWeight(S, 4096, Allocator.Mremap), 1);
});

test('samplingOf reads the header: option bit, rate, exact threshold', () => {
  assert.equal(samplingOf(makeHeader({})), undefined);
  assert.equal(samplingOf(makeHeader({ sampleRateBytes: R })), undefined, 'a rate without the option bit is not sampling');
  assert.deepEqual(samplingOf(makeHeader({ options: OPTION_SAMPLED, sampleRateBytes: R, sampleExactBytes: 4 * R })), S);
  assert.deepEqual(samplingOf(makeHeader({ options: OPTION_SAMPLED, sampleRateBytes: R })), { rateBytes: R, exactBytes: Infinity });
});

test('the estimator is unbiased for bytes and counts over many sampled streams', () => {
  // A stream of sizes from 16 B to 3 MiB, the same each time; 400 independent samplings of it.
  const rnd = prng(42);
  const sizes: number[] = [];
  for (let i = 0; i < 20000; i++) sizes.push(Math.max(1, Math.floor(16 * 2 ** (rnd() * 18))));
  const trueBytes = sizes.reduce((a, b) => a + b, 0);
  const runs = 400;
  let sumBytes = 0;
  let sumCount = 0;
  for (let run = 0; run < runs; run++) {
    const r = prng(1000 + run);
    const gap = (): number => Math.ceil(-R * Math.log(1 - r()));
    let left = gap();
    for (const s of sizes) {
      let taken = s >= S.exactBytes;
      if (!taken) {
        left -= Math.max(s, 1);
        if (left <= 0) {
          taken = true;
          left = gap();
        }
      }
      if (taken) {
        const w = sampleWeight(S, s, Allocator.Malloc);
        sumBytes += s * w;
        sumCount += w;
      }
    }
  }
  const meanBytes = sumBytes / runs;
  const meanCount = sumCount / runs;
  // Theory: one run's bytes have a relative standard deviation below √(R/B) (here about 4 %), so the mean
  // of 400 runs is within 1 % with room to spare.
  assert.ok(Math.abs(meanBytes / trueBytes - 1) < 0.01, `bytes: ${meanBytes} for ${trueBytes}`);
  assert.ok(Math.abs(meanCount / sizes.length - 1) < 0.05, `count: ${meanCount} for ${sizes.length}`);
});
