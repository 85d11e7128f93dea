// A small reader of ELF64 little-endian files (x86-64, aarch64): program headers, section headers, symbol
// tables and the GNU build id. Pure: it reads through a ByteSource, so callers decide whether bytes come
// from a file on disk, a file inside a container (/proc/PID/root/…) or a test buffer.
// Reference: the System V gABI, "ELF Object File Format" (e_ident, Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr,
// Elf64_Sym, Elf64_Nhdr).

export interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `offset` (fewer at the end of the source). */
  read(offset: number, length: number): Uint8Array;
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}

export class ElfError extends Error {}

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_NOTE = 4;
export const SHT_SYMTAB = 2;
export const SHT_DYNSYM = 11;
export const SHT_NOBITS = 8;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_GNU_IFUNC = 10;
export const ET_EXEC = 2;
export const ET_DYN = 3;

export interface ProgramHeader {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly align: number;
}

export interface SectionHeader {
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

export interface Elf {
  readonly type: number;
  readonly machine: number;
  readonly programHeaders: readonly ProgramHeader[];
  readonly sections: readonly SectionHeader[];
}

export interface ElfSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
  /** STT_* */
  readonly type: number;
}

const MAX_HEADERS = 65535;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function u64(dv: DataView, at: number): number {
  const lo = dv.getUint32(at, true);
  const hi = dv.getUint32(at + 4, true);
  return hi * 0x1_0000_0000 + lo;
}

function readExact(src: ByteSource, offset: number, length: number, what: string): Uint8Array {
  const b = src.read(offset, length);
  if (b.length !== length) throw new ElfError(`${what} at offset ${offset} runs past the end of the file`);
  return b;
}

export function isElf(src: ByteSource): boolean {
  const id = src.read(0, 4);
  return id.length === 4 && id[0] === 0x7f && id[1] === 0x45 && id[2] === 0x4c && id[3] === 0x46;
}

export function parseElf(src: ByteSource): Elf {
  if (!isElf(src)) throw new ElfError('not an ELF file');
  const eh = readExact(src, 0, 64, 'ELF header');
  if (eh[4] !== 2) throw new ElfError('not a 64-bit ELF file');
  if (eh[5] !== 1) throw new ElfError('not a little-endian ELF file');
  const dv = view(eh);
  const type = dv.getUint16(16, true);
  const machine = dv.getUint16(18, true);
  const phoff = u64(dv, 32);
  const shoff = u64(dv, 40);
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  const shentsize = dv.getUint16(58, true);
  const shnum = dv.getUint16(60, true);
  const shstrndx = dv.getUint16(62, true);

  const programHeaders: ProgramHeader[] = [];
  if (phnum > 0) {
    if (phentsize < 56 || phnum > MAX_HEADERS) throw new ElfError('bad program header table');
    const table = view(readExact(src, phoff, phentsize * phnum, 'program header table'));
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      programHeaders.push({
        type: table.getUint32(at, true),
        flags: table.getUint32(at + 4, true),
        offset: u64(table, at + 8),
        vaddr: u64(table, at + 16),
        filesz: u64(table, at + 32),
        memsz: u64(table, at + 40),
        align: u64(table, at + 48),
      });
    }
  }

  const sections: SectionHeader[] = [];
  if (shnum > 0 && shoff > 0 && shoff < src.size) {
    if (shentsize < 64 || shnum > MAX_HEADERS) throw new ElfError('bad section header table');
    const table = view(readExact(src, shoff, shentsize * shnum, 'section header table'));
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const at = i * shentsize;
      raw.push({
        nameOff: table.getUint32(at, true),
        type: table.getUint32(at + 4, true),
        flags: u64(table, at + 8),
        addr: u64(table, at + 16),
        offset: u64(table, at + 24),
        size: u64(table, at + 32),
        link: table.getUint32(at + 40, true),
        entsize: u64(table, at + 56),
      });
    }
    const strtab = raw[shstrndx];
    const names = strtab !== undefined && strtab.type !== SHT_NOBITS ? src.read(strtab.offset, strtab.size) : new Uint8Array();
    for (const s of raw) sections.push({ name: cString(names, s.nameOff), type: s.type, flags: s.flags, addr: s.addr, offset: s.offset, size: s.size, link: s.link, entsize: s.entsize });
  }
  return { type, machine, programHeaders, sections };
}

const decoder = new TextDecoder('utf-8', { fatal: false });

function cString(bytes: Uint8Array, at: number): string {
  if (at >= bytes.length) return '';
  let end = bytes.indexOf(0, at);
  if (end < 0) end = bytes.length;
  return decoder.decode(bytes.subarray(at, end));
}

export function findSection(elf: Elf, name: string): SectionHeader | undefined {
  return elf.sections.find((s) => s.name === name);
}

/** The lowest PT_LOAD virtual address, rounded down to its alignment: what the load bias is measured from. */
export function firstLoadVaddr(elf: Elf): number {
  let lowest = Number.POSITIVE_INFINITY;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD) continue;
    const align = ph.align > 1 ? ph.align : 1;
    lowest = Math.min(lowest, ph.vaddr - (ph.vaddr % align));
  }
  return Number.isFinite(lowest) ? lowest : 0;
}

export interface SymbolQuery {
  /** 'auto': .symtab when the file is not stripped, else .dynsym. */
  readonly table?: 'symtab' | 'dynsym' | 'auto';
  /** Data objects (STT_OBJECT) too, not only functions. */
  readonly includeData?: boolean;
}

/** Defined function (and optionally data) symbols, sorted by address. */
export function readFunctionSymbols(elf: Elf, src: ByteSource, query: SymbolQuery = {}): ElfSymbol[] {
  const which = query.table ?? 'auto';
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  const dynsym = elf.sections.find((s) => s.type === SHT_DYNSYM);
  const table = which === 'symtab' ? symtab : which === 'dynsym' ? dynsym : (symtab ?? dynsym);
  if (table === undefined || table.entsize < 24) return [];
  const strtab = elf.sections[table.link];
  if (strtab === undefined) return [];
  const names = src.read(strtab.offset, strtab.size);
  const bytes = src.read(table.offset, table.size);
  const dv = view(bytes);
  const out: ElfSymbol[] = [];
  for (let at = 0; at + 24 <= bytes.length; at += table.entsize) {
    const info = dv.getUint8(at + 4);
    const type = info & 0xf;
    if (type !== STT_FUNC && type !== STT_GNU_IFUNC && !(query.includeData === true && type === STT_OBJECT)) continue;
    const shndx = dv.getUint16(at + 6, true);
    if (shndx === 0) continue; // undefined: lives in another object
    const value = u64(dv, at + 8);
    if (value === 0) continue;
    out.push({ name: cString(names, dv.getUint32(at, true)), value, size: u64(dv, at + 16), type });
  }
  out.sort((a, b) => a.value - b.value);
  return out;
}

/** The GNU build id (NT_GNU_BUILD_ID note), as lowercase hex, or undefined. */
export function readBuildId(elf: Elf, src: ByteSource): string | undefined {
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_NOTE) continue;
    const notes = src.read(ph.offset, Math.min(ph.filesz, 1 << 16));
    const dv = view(notes);
    let at = 0;
    while (at + 12 <= notes.length) {
      const namesz = dv.getUint32(at, true);
      const descsz = dv.getUint32(at + 4, true);
      const type = dv.getUint32(at + 8, true);
      const nameAt = at + 12;
      const descAt = nameAt + align4(namesz);
      if (descAt + descsz > notes.length) break;
      if (type === 3 && namesz === 4 && cString(notes, nameAt) === 'GNU') {
        return Buffer.from(notes.subarray(descAt, descAt + descsz)).toString('hex');
      }
      at = descAt + align4(descsz);
    }
  }
  return undefined;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
