// Native symbolization at the edge: reads the ELF images a capture names (the same files the process had
// loaded, on the machine it ran on) and finds the function holding an address. The agent never does this
// in the target. A file whose build id differs from the recorded one (a library upgraded since) is not
// used: a wrong name is worse than an offset.

import { readBuildId, readFunctionSymbols, parseElf, type ElfSymbol } from '../util/elf.js';
import { fileSource } from '../process/python-runtime.js';
import type { NativeSymbolizer } from '../model/images.js';

interface ImageSymbols {
  readonly values: Float64Array;
  readonly ends: Float64Array;
  readonly names: readonly string[];
}

export function fileSymbolizer(): NativeSymbolizer {
  const cache = new Map<string, ImageSymbols | undefined>();
  return (path, buildId, vaddr) => {
    const key = `${path}\u0000${buildId}`;
    let table = cache.get(key);
    if (table === undefined && !cache.has(key)) {
      table = load(path, buildId);
      cache.set(key, table);
    }
    if (table === undefined) return undefined;
    // The last symbol starting at or below vaddr.
    let lo = 0;
    let hi = table.values.length - 1;
    let hit = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((table.values[mid] as number) <= vaddr) {
        hit = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (hit < 0 || vaddr >= (table.ends[hit] as number)) return undefined;
    return table.names[hit];
  };
}

function load(path: string, buildId: string): ImageSymbols | undefined {
  if (path === '' || path.startsWith('[')) return undefined;
  let src;
  try {
    src = fileSource(path);
  } catch {
    return undefined;
  }
  try {
    const elf = parseElf(src);
    if (buildId !== '' && readBuildId(elf, src) !== buildId) return undefined;
    const syms: ElfSymbol[] = readFunctionSymbols(elf, src);
    const values = new Float64Array(syms.length);
    const ends = new Float64Array(syms.length);
    const names: string[] = [];
    syms.forEach((s, i) => {
      values[i] = s.value;
      // A symbol without a size (hand-written assembly) covers up to the next one.
      ends[i] = s.size > 0 ? s.value + s.size : (syms[i + 1]?.value ?? s.value + 1);
      names.push(s.name);
    });
    return { values, ends, names };
  } catch {
    return undefined;
  } finally {
    src.close();
  }
}
