// Finding the CPython runtime inside another process: which mapped ELF image is the interpreter, its load
// bias, the address of `_PyRuntime` and the interpreter's version. Used to check a PID before attaching and
// by PEP 768 remote execution (remote-exec.ts).

import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { TargetError } from '../errors.js';
import { type ByteSource, type Elf, ElfError, findSection, firstLoadVaddr, isElf, parseElf, readFunctionSymbols } from '../util/elf.js';
import { hostPath, type MapEntry, type ProcessMemory, readMaps } from './proc.js';

export interface PythonRuntime {
  /** The interpreter's image as the target sees it (libpython3.X.so or the python executable). */
  readonly imagePath: string;
  readonly loadBias: number;
  /** Address of _PyRuntime in the target; undefined if the image does not say. */
  readonly runtimeAddress: number | undefined;
  /** Whether _PyRuntime lives in its own .PyRuntime section (3.10+); from 3.13 _Py_DebugOffsets starts it
   * (check the cookie with hasDebugOffsets()). */
  readonly hasRuntimeSection: boolean;
  /** Address of the `Py_Version` constant (3.11+). */
  readonly pyVersionAddress: number | undefined;
  /** major.minor guessed from the image's file name, when it has one (python3.9, libpython3.10.so). */
  readonly nameVersion: { readonly major: number; readonly minor: number } | undefined;
}

/** A ByteSource over a file, read on demand (libpython is tens of megabytes; we need a few pages). */
export function fileSource(path: string): ByteSource & { close(): void } {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset: number, length: number): Uint8Array {
      const n = Math.max(0, Math.min(length, size - offset));
      const out = new Uint8Array(n);
      if (n > 0) readSync(fd, out, 0, n, offset);
      return out;
    },
    close: () => closeSync(fd),
  };
}

const PYTHON_IMAGE = /(^|\/)(lib)?python3\.(\d+)[a-z]*(\.so[.\d]*|$)/;

function openImage(pid: number, entry: MapEntry): (ByteSource & { close(): void }) | undefined {
  // The target's own view first (works across mount namespaces), then the mapping itself (works for
  // deleted or replaced files, given ptrace-level access).
  for (const p of [hostPath(pid, entry.path), `/proc/${pid}/map_files/${entry.start.toString(16)}-${entry.end.toString(16)}`]) {
    try {
      return fileSource(p);
    } catch {
      // try the next way in
    }
  }
  return undefined;
}

export function locatePythonRuntime(pid: number): PythonRuntime | undefined {
  const maps = readMaps(pid);
  const seen = new Set<string>();
  // Candidates: images whose name says python first, then every other file-backed image (a Python embedded
  // in another executable still has _PyRuntime).
  const files = maps.filter((m) => m.path.startsWith('/') && m.offset === 0);
  files.sort((a, b) => Number(!PYTHON_IMAGE.test(a.path)) - Number(!PYTHON_IMAGE.test(b.path)));
  for (const entry of files) {
    if (seen.has(entry.path)) continue;
    seen.add(entry.path);
    const src = openImage(pid, entry);
    if (src === undefined) continue;
    try {
      if (!isElf(src)) continue;
      const found = inspectImage(parseElf(src), src, entry, maps);
      if (found !== undefined) return found;
    } catch (e) {
      if (!(e instanceof ElfError)) throw e;
    } finally {
      src.close();
    }
  }
  return undefined;
}

function inspectImage(elf: Elf, src: ByteSource, entry: MapEntry, maps: readonly MapEntry[]): PythonRuntime | undefined {
  const section = findSection(elf, '.PyRuntime');
  const symbols = section === undefined || !PYTHON_IMAGE.test(entry.path) ? readFunctionSymbolsAndData(elf, src) : undefined;
  const runtimeSym = symbols?.get('_PyRuntime');
  if (section === undefined && runtimeSym === undefined) return undefined;
  // Load bias: where the image's first PT_LOAD landed minus where it asked to be.
  const base = Math.min(...maps.filter((m) => m.path === entry.path && m.inode === entry.inode).map((m) => m.start - m.offset));
  const loadBias = base - firstLoadVaddr(elf);
  const m = PYTHON_IMAGE.exec(entry.path);
  const pyVersion = symbols?.get('Py_Version') ?? readFunctionSymbolsAndData(elf, src).get('Py_Version');
  return {
    imagePath: entry.path,
    loadBias,
    runtimeAddress: section !== undefined ? loadBias + section.addr : runtimeSym !== undefined ? loadBias + runtimeSym : undefined,
    hasRuntimeSection: section !== undefined,
    pyVersionAddress: pyVersion !== undefined ? loadBias + pyVersion : undefined,
    nameVersion: m !== null ? { major: 3, minor: Number(m[3]) } : undefined,
  };
}

/** Addresses of named data and function symbols (dynsym, which is never stripped). */
function readFunctionSymbolsAndData(elf: Elf, src: ByteSource): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of readFunctionSymbols(elf, src, { includeData: true, table: 'dynsym' })) out.set(s.name, s.value);
  return out;
}

export interface PythonVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  readonly hex: number;
}

/** Whether the runtime starts with CPython's _Py_DebugOffsets (3.13+: the cookie "xdebugpy"). */
export function hasDebugOffsets(runtime: PythonRuntime, mem: ProcessMemory): boolean {
  if (!runtime.hasRuntimeSection || runtime.runtimeAddress === undefined) return false;
  return new TextDecoder().decode(mem.read(runtime.runtimeAddress, 8)) === 'xdebugpy';
}

/** The target interpreter's version, read from its memory (Py_Version, or the debug offsets' version). */
export function readPythonVersion(runtime: PythonRuntime, mem: ProcessMemory): PythonVersion | undefined {
  let hex: number | undefined;
  if (runtime.pyVersionAddress !== undefined) hex = mem.readI32(runtime.pyVersionAddress) >>> 0;
  else if (runtime.runtimeAddress !== undefined && hasDebugOffsets(runtime, mem)) hex = mem.readU64(runtime.runtimeAddress + 8);
  if (hex === undefined) {
    return runtime.nameVersion !== undefined ? { ...runtime.nameVersion, micro: 0, hex: (3 << 24) | (runtime.nameVersion.minor << 16) } : undefined;
  }
  return { major: (hex >>> 24) & 0xff, minor: (hex >>> 16) & 0xff, micro: (hex >>> 8) & 0xff, hex };
}

export function describeVersion(v: PythonVersion): string {
  return `${v.major}.${v.minor}.${v.micro}`;
}

export function requirePythonRuntime(pid: number): PythonRuntime {
  const runtime = locatePythonRuntime(pid);
  if (runtime === undefined) {
    throw new TargetError(`PID ${pid} is not a CPython process (no libpython or _PyRuntime among its loaded images)`, {
      hint: 'memlens profiles CPython 3.9 and newer; check the PID.',
    });
  }
  return runtime;
}
