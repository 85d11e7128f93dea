import assert from 'node:assert/strict';
import { test } from 'node:test';
import { markerLabelText } from './describe.js';

test('markerLabelText: the near-OOM figures in binary units, other labels as they are', () => {
  assert.equal(markerLabelText('cgroup memory usage 285130752 of limit 314572800'), 'cgroup memory usage 272 MiB of the 300 MiB limit (91%)');
  assert.equal(markerLabelText('memory pressure: tasks stalled on memory 12% of the last 10 s'), 'memory pressure: tasks stalled on memory 12% of the last 10 s');
});
