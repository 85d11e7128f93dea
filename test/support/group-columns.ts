// What the follower chose for each group block of a capture: its column count (0 for a pack, whose parts are
// blocks whole), read from the group's own header. The follower's tests (compress.test, capture-file.test)
// check which groups it coded by column and which it packed.

import { brotliDecompressSync } from 'node:zlib';
import { BLOCK_KIND_GROUP } from '../../src/capture/format.js';
import { BlockFramer } from '../../src/capture/framing.js';
import { ByteReader } from '../../src/capture/varint.js';

/** The column count of each group block of a capture (0: a pack), in file order. */
export function groupColumnCounts(bytes: Uint8Array): number[] {
  const out: number[] = [];
  const f = new BlockFramer({
    header: () => undefined,
    block: (info, b) => {
      if (info.kind !== BLOCK_KIND_GROUP) return;
      const stored = b.subarray(info.headerLen, info.headerLen + info.storedLen);
      const r = new ByteReader(info.flags === 2 ? new Uint8Array(brotliDecompressSync(stored)) : stored);
      const n = r.varint();
      for (let k = 0; k < 3 * n; k++) r.varint();
      out.push(r.varint());
    },
    damaged: () => undefined,
    skipped: () => undefined,
    truncated: () => undefined,
  });
  f.feed(bytes);
  f.end();
  return out;
}
