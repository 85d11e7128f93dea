import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { DISK_ROOM_LEFT, DiskRoom, statfsFree } from './disk-room.js';

test('DiskRoom: refuses a write that would leave less than the room; asks statfs again only once half the margin may be spent', () => {
  let free = DISK_ROOM_LEFT + 1000;
  let asked = 0;
  const room = new DiskRoom('/x', DISK_ROOM_LEFT, () => (asked++, free));
  assert.equal(room.mayWrite(400), true);
  assert.equal(asked, 1);
  // 400 + 100 = half of the 1000-byte margin: no new question yet.
  assert.equal(room.mayWrite(100), true);
  assert.equal(asked, 1);
  // The capture grew meanwhile (the agent writing): the next write asks again, and the room is gone.
  room.spent(200);
  free -= 700;
  assert.equal(room.mayWrite(301), false);
  assert.equal(asked, 2);
  // Room made again (another file removed): writes go on.
  free = DISK_ROOM_LEFT + (64 << 20);
  assert.equal(room.mayWrite(4096), true);
  assert.equal(asked, 3);
  for (let i = 0; i < 1000; i++) assert.equal(room.mayWrite(4096), true);
  assert.equal(asked, 3, 'a disk with room costs one statfs per half margin');
});

test('statfsFree: the free bytes of a real file system; one it cannot ask about has room', () => {
  const free = statfsFree(tmpdir());
  assert.ok(Number.isFinite(free) && free >= 0);
  assert.equal(statfsFree('/nonexistent/memlens'), Number.POSITIVE_INFINITY);
});
