// Playing the replay for an observer that shares its live columns (LiveSeries, RecentGrowth): begin() gets
// columns this holds, and each site's change goes into them before the observer is told, as HeapReplay does.

import type { SiteId } from '../../src/model/ids.js';
import type { ReplayContext } from '../../src/model/replay-observer.js';

interface SharingObserver {
  begin(context: ReplayContext): void;
  change(site: SiteId, seq: number, bytes: number, count: number): void;
}

/** Sites 0 to `sites` − 1 each get one allocation of `bytes` (seq = site + 1), in shared live columns. */
export function allocateInSharedColumns(observer: SharingObserver, sites: number, bytes: number): void {
  const shared = { liveBytes: { array: new Float64Array(sites) }, liveCount: { array: new Float64Array(sites) } };
  observer.begin({ sites: { columns: shared } } as unknown as ReplayContext);
  for (let site = 0; site < sites; site++) {
    shared.liveBytes.array[site] = bytes;
    shared.liveCount.array[site] = 1;
    observer.change(site as SiteId, site + 1, bytes, 1);
  }
}
