// The libraries loaded after the start, for the verdict's "RSS the tracked heap does not explain". What a
// library maps or allocates while it loads (its constructors, threads they start) happens inside dlopen,
// before the agent patches the new image (docs/agent.md): numpy's OpenBLAS maps a 32 MiB buffer per thread
// there, usually not in the capture. The capture cannot say what those bytes were; it can say which
// libraries loaded, between which two memory snapshots, and how RSS and the tracked heap moved between them.

import type { CaptureModel } from '../model/model.js';

export interface LateLoad {
  /** The libraries whose IMAGE records fall between the same two snapshots, in load order. */
  readonly libraries: readonly { readonly path: string; readonly seq: number; readonly bytes: number }[];
  /** The snapshot before the loads (undefined: none, they came before the first) and the one after (undefined: none). */
  readonly afterNs: number | undefined;
  readonly byNs: number | undefined;
  /** Between those two snapshots, the whole process's: undefined without both (the heap: without its figure). */
  readonly anonGrowth: number | undefined;
  readonly fileGrowth: number | undefined;
  readonly heapGrowth: number | undefined;
}

/** The late images of `model` grouped by the snapshots around them, in load order. */
export function lateLoads(model: CaptureModel): LateLoad[] {
  const s = model.snapshots;
  const n = s.seq.length;
  const out: LateLoad[] = [];
  let key = '';
  let libs: { path: string; seq: number; bytes: number }[] = [];
  let from = -1;
  let to = -1;
  const close = (): void => {
    if (libs.length === 0) return;
    const both = from >= 0 && to < n;
    const heap = both ? s.heap[to]! - s.heap[from]! : NaN;
    out.push({
      libraries: libs,
      afterNs: from >= 0 ? s.timeNs[from] : undefined,
      byNs: to < n ? s.timeNs[to] : undefined,
      anonGrowth: both ? s.rssAnon[to]! - s.rssAnon[from]! : undefined,
      fileGrowth: both ? s.rssFile[to]! - s.rssFile[from]! : undefined,
      heapGrowth: Number.isFinite(heap) ? heap : undefined,
    });
    libs = [];
  };
  for (const img of model.lateImages) {
    // The IMAGE record is written when the agent's scan finds the image, after dlopen returned; a snapshot
    // with no event between it and the record may have been taken while the library was loading: the
    // interval starts at the last snapshot some event separates from the record.
    let i = img.snapshotsBefore - 1;
    while (i >= 0 && s.seq[i]! >= img.seq) i--;
    const k = `${i}:${img.snapshotsBefore}`;
    if (k !== key) {
      close();
      key = k;
      from = i;
      to = img.snapshotsBefore;
    }
    libs.push({ path: img.path, seq: img.seq, bytes: img.bytes });
  }
  close();
  return out;
}

/**
 * The Python package an image belongs to (the directory under site-packages, `numpy.libs` read as numpy),
 * `the standard library` for lib-dynload, else undefined (a system library).
 */
export function packageOf(path: string): string | undefined {
  const m = /\/(?:site|dist)-packages\/([^/]+)\//.exec(path);
  if (m !== null) return m[1]!.replace(/\.libs$/, '');
  if (path.includes('/lib-dynload/')) return 'the standard library';
  return undefined;
}
