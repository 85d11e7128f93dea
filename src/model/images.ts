// Loaded ELF images (IMAGE records), for naming native frames: the function's name when a symbolizer
// (given by the caller, which may read the image files) knows the address, else `libfoo.so+0xoffset`, the
// offset relative to the image's load bias, which is what addr2line and `readelf -s` want.

import type { ImageRecord } from '../capture/records.js';

/** Names an address inside an image file: the function holding `vaddr` (load-bias relative), if known.
 * `buildId` (hex, '' if none) lets it refuse a file that is not the one the process had loaded. */
export type NativeSymbolizer = (path: string, buildId: string, vaddr: number) => string | undefined;

export interface ImageInfo {
  readonly path: string;
  readonly buildId: string;
  readonly loadBias: number;
  /** Lowest and highest address covered by the image's segments. */
  readonly start: number;
  readonly end: number;
  /** The Python interpreter itself (the executable or libpython): its frames are interpreter internals. */
  readonly interpreter: boolean;
  /** The IMAGE record's seq: it was written after the events before it (the agent's scan found the image then). */
  readonly seq: number;
}

/**
 * An image whose IMAGE record came after the start (the marker of tracking started or attached; the agent's
 * first scan writes every image loaded before it): a library loaded while the program ran. IMAGE records
 * carry no time: the snapshots around the record place it.
 */
export interface LateImage {
  readonly path: string;
  readonly seq: number;
  /** Snapshots taken before the record (in the order the reader delivers records): the index of the first after it. */
  readonly snapshotsBefore: number;
  /** The address range its segments span (code, data and bss, as loaded): address space, not RSS. */
  readonly bytes: number;
}

/** The LateImage of an IMAGE record read after `snapshotsBefore` snapshots. */
export function lateImage(rec: ImageRecord, snapshotsBefore: number): LateImage {
  const r = span(rec);
  return { path: rec.path, seq: rec.seq, snapshotsBefore, bytes: r.end - r.start };
}

function span(rec: ImageRecord): { start: number; end: number } {
  if (rec.segments.length === 0) return { start: rec.loadBias, end: rec.loadBias };
  let start = Infinity;
  let end = 0;
  for (const s of rec.segments) {
    start = Math.min(start, rec.loadBias + s.vaddr);
    end = Math.max(end, rec.loadBias + s.vaddr + s.memsz);
  }
  return { start, end };
}

export class ImageTable {
  private readonly images: ImageInfo[] = [];
  private sorted = true;

  constructor(
    private readonly executable: string,
    private readonly symbolizer?: NativeSymbolizer,
  ) {}

  add(rec: ImageRecord): void {
    const { start, end } = span(rec);
    const base = rec.path.slice(rec.path.lastIndexOf('/') + 1);
    // dl_iterate_phdr names the main program '' (it is the executable the header records).
    // python3.13t, libpython3.13t.so: free-threaded builds carry a `t` (and debug builds a `d`).
    const interpreter = rec.path === '' || rec.path === this.executable || /^libpython\d/.test(base) || /^python\d*(\.\d+)?[td]*$/.test(base);
    const buildId = Array.from(rec.buildId, (b) => b.toString(16).padStart(2, '0')).join('');
    this.images.push({ path: rec.path, buildId, loadBias: rec.loadBias, start, end, interpreter, seq: rec.seq });
    this.sorted = false;
  }

  /** An IMAGE_UNLOAD (dlclose): the image loaded at `loadBias` is gone. Reports keep every image (a block
   * that library allocated may still be live); a push running for days forgets it, so that a service that
   * loads and unloads libraries all day keeps a bounded table. */
  remove(loadBias: number): void {
    for (let i = this.images.length - 1; i >= 0; i--) if ((this.images[i] as ImageInfo).loadBias === loadBias) this.images.splice(i, 1);
  }

  get list(): readonly ImageInfo[] {
    return this.images;
  }

  /** The image holding `ip` (the most recently loaded one if ranges were reused), or undefined. */
  find(ip: number): ImageInfo | undefined {
    if (!this.sorted) {
      this.images.sort((a, b) => a.start - b.start);
      this.sorted = true;
    }
    let found: ImageInfo | undefined;
    for (const img of this.images) {
      if (img.start > ip) break;
      if (ip < img.end) found = img;
    }
    return found;
  }

  /** `libfoo.so.1+0x1a2b`, or `0x7f…` when no image holds the address (`known` false). */
  name(ip: number): { readonly name: string; readonly file: string; readonly offset: number; readonly interpreter: boolean; readonly known: boolean } {
    const img = this.find(ip);
    if (img === undefined) return { name: `0x${ip.toString(16)}`, file: '', offset: ip, interpreter: false, known: false };
    const path = img.path === '' ? this.executable : img.path;
    const base = path.slice(path.lastIndexOf('/') + 1) || '<main>';
    const offset = ip - img.loadBias;
    // ip is a return address for every frame but the first: ip - 1 is inside the call, whatever follows it.
    const fn = this.symbolizer?.(path, img.buildId, Math.max(0, offset - 1));
    return { name: fn ?? `${base}+0x${offset.toString(16)}`, file: path, offset, interpreter: img.interpreter, known: true };
  }
}
