import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBytes, formatCount, formatDuration, formatPercent, formatRate, parseSize } from './units.js';

test('formatBytes: three significant digits, binary units, no "1024 KiB"', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.00 KiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(100 * 1024), '100 KiB');
  assert.equal(formatBytes(1024 * 1024 - 1), '1.00 MiB');
  assert.equal(formatBytes(11 * 1048576 + 65536), '11.1 MiB');
  assert.equal(formatBytes(-2048), '-2.00 KiB');
  assert.equal(formatBytes(5 * 2 ** 40), '5.00 TiB');
  // A missing value (NaN in a snapshot column) is a dash, not "NaN B".
  assert.equal(formatBytes(Number.NaN), '–');
});

test('parseSize reads what --fail-on-growth is given', () => {
  assert.equal(parseSize('10MB'), 10 * 1048576);
  assert.equal(parseSize('10 MiB'), 10 * 1048576);
  assert.equal(parseSize('1.5g'), 1.5 * 2 ** 30);
  assert.equal(parseSize('512k'), 512 * 1024);
  assert.equal(parseSize('4096'), 4096);
  assert.equal(parseSize('7B'), 7);
  assert.equal(parseSize('ten'), undefined);
  assert.equal(parseSize('5 XB'), undefined);
  assert.equal(parseSize(''), undefined);
});

test('counts, percentages, durations', () => {
  assert.equal(formatCount(1234567), '1,234,567');
  assert.equal(formatCount(-1000), '-1,000');
  assert.equal(formatPercent(1, 3), '33.33%');
  assert.equal(formatPercent(1, 0), '0.00%');
  assert.equal(formatDuration(850e6), '850 ms');
  assert.equal(formatDuration(12.34e9), '12.3 s');
  assert.equal(formatDuration(245e9), '4 min 05 s');
  assert.equal(formatDuration(7380e9), '2 h 03 min');
});

test('formatRate: per second, minute or hour, whichever reads best', () => {
  assert.equal(formatRate(2.32 * 1048576), '2.32 MiB/s');
  assert.equal(formatRate(10 * 1024), '10.0 KiB/s');
  assert.equal(formatRate(1024), '60.0 KiB/min');
  assert.equal(formatRate(100), '352 KiB/h');
  assert.equal(formatRate(0), '0 B/h');
});
