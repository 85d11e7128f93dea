// The room `memlens run`'s follower leaves the agent on the capture's disk. The follower writes its
// compressed copy beside the capture, on the same file system. When that file system fills up, whoever meets
// ENOSPC first matters: if it is the agent, it cuts off the block it could not write and writes a
// CAPTURE_STOPPED marker in the room that freed (agent/src/sink.c) — room the follower, still writing, can
// take first. The marker is then lost (test/full-disk.test.ts saw it about once in 20 runs on a busy
// machine). So the follower gives up its copy (the room goes back to the agent, and the capture stays as the
// agent wrote it) while the disk still has DISK_ROOM_LEFT free: on a disk that fills up, the agent meets
// ENOSPC alone, as with --no-compress.

import { statfsSync } from 'node:fs';

/** Free bytes the follower leaves the agent: below this it stops compressing alongside. */
export const DISK_ROOM_LEFT = 16 << 20;

/** The free bytes of the file system holding `dir` (statfs, for the caller's user). */
export type FreeBytes = (dir: string) => number;

/** A file system statfs cannot answer for is taken to have room: the follower's own ENOSPC still stops it. */
export const statfsFree: FreeBytes = (dir) => {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
};

/**
 * Tracks whether the follower may write `n` more bytes: statfs is asked again only once the bytes written
 * since the last answer (the follower's and the capture's growth, `spent`) could have used half of the
 * margin above DISK_ROOM_LEFT, so a disk with room costs one statfs per half-margin, not one per block.
 */
export class DiskRoom {
  private margin = 0;
  private spentSince = 0;

  constructor(
    private readonly dir: string,
    private readonly left = DISK_ROOM_LEFT,
    private readonly free: FreeBytes = statfsFree,
  ) {}

  /** Bytes written to the disk by anyone memlens knows of (the agent's capture growing). */
  spent(n: number): void {
    this.spentSince += n;
  }

  /** Whether `n` bytes may go out now and leave the room; counts them as spent when they may. */
  mayWrite(n: number): boolean {
    if (this.spentSince + n > this.margin / 2) {
      this.margin = this.free(this.dir) - this.left;
      this.spentSince = 0;
      if (n > this.margin) return false;
    }
    this.spentSince += n;
    return true;
  }
}
