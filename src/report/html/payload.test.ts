import assert from 'node:assert/strict';
import { test } from 'node:test';
import { knownProgram } from '../../../test/support/synthetic-profile.js';
import { decodePayload, type ReportData } from './payload.js';
import { writePayload } from './payload-writer.js';

test('a payload decodes to the data it was encoded from', () => {
  const data = knownProgram();
  const back = decodePayload(writePayload(data));
  assert.deepEqual(back, data);
});

test('a payload without temporal data decodes with temporal null', () => {
  const data = knownProgram({ temporal: false });
  assert.equal(decodePayload(writePayload(data)).temporal, null);
});

function tampered(change: (d: ReportData) => ReportData): Uint8Array {
  return writePayload(change(knownProgram()));
}

test('decoding rejects indices that point outside their tables', () => {
  assert.throws(() => decodePayload(tampered((d) => ({ ...d, frames: { ...d.frames, name: d.frames.name.map((v, i) => (i === 0 ? 9999 : v)) } }))), /frames.name\[0\] = 9999/);
  assert.throws(() => decodePayload(tampered((d) => ({ ...d, nodes: { ...d.nodes, parent: d.nodes.parent.map((v, i) => (i === 2 ? 5 : v)) } }))), /not an earlier node/);
  assert.throws(() => decodePayload(tampered((d) => ({ ...d, locations: { ...d.locations, thread: d.locations.thread.map(() => 7) } }))), /locations.thread/);
  assert.throws(() => decodePayload(tampered((d) => ({ ...d, temporal: d.temporal === null ? null : { ...d.temporal, location: d.temporal.location.map(() => 99) } }))), /temporal.location/);
});
