// The file header (docs/capture-format.md, "File header"): 20 fixed bytes, then TLV fields under a CRC-32.
// Header problems are the only errors a capture reader throws: without a header there is nothing to read.

import { crc32 } from 'node:zlib';
import { CaptureFormatError, UnsupportedVersionError } from '../errors.js';
import {
  FILE_HEADER_FIXED_LEN,
  FILE_MAGIC,
  FORMAT_VERSION,
  HeaderTag,
  MAX_HEADER_BODY_LEN,
  MIN_READER_VERSION,
  OPTION_GC_START,
  PYTHON_ALLOCATORS,
  READER_VERSION,
  type PythonAllocator,
} from './format.js';
import type { CaptureHeader } from './records.js';
import { ByteReader, ByteWriter, ReadError, decodeUtf8 } from './varint.js';

/** What a writer supplies: every field optional (absent fields decode as 0, '' or []). */
export type HeaderInput = { -readonly [K in keyof CaptureHeader]?: CaptureHeader[K] };

export const EMPTY_HEADER: CaptureHeader = Object.freeze({
  version: FORMAT_VERSION,
  minReaderVersion: MIN_READER_VERSION,
  writerName: '',
  writerVersion: '',
  pid: 0,
  ppid: 0,
  hostname: '',
  argv: [],
  startWallNs: 0n,
  startMonoNs: 0n,
  pythonVersion: '',
  pythonHexversion: 0,
  pythonImplementation: '',
  pythonAllocator: 'unknown',
  options: 0,
  sampleRateBytes: 0,
  sampleExactBytes: 0,
  platform: '',
  pageSize: 0,
  cgroupLimitBytes: undefined,
  memoryIntervalMs: 0,
  mainTid: 0,
  executable: '',
  cwd: '',
  stdlibDirs: [],
  sitePackages: [],
  sysPath: [],
  mode: 0,
  cgroupPath: '',
  script: '',
  unknownFields: [],
});

/**
 * The header of these fields, the rest defaulted. An older `version` given without a min_reader_version
 * gets its own as the minimum (a version-1 file readable by version-1 readers, its addresses coded as then).
 */
export function makeHeader(input: HeaderInput = {}): CaptureHeader {
  const h = { ...EMPTY_HEADER, ...input };
  if (input.minReaderVersion === undefined && h.version < h.minReaderVersion) h.minReaderVersion = h.version;
  return h;
}

/**
 * Whether the capture's collections have GC_START records (options bit 32, agents since round sixteen): every one
 * but a young collection's that starts fewer than GC_START_GAP seqs after the previous GC record (format.ts). A
 * reader may then keep only the frees inside collections, and those of the GC_THIN_WINDOW seqs after each GC
 * record, from the first record on. False for older captures, even those whose agent wrote GC_START records
 * (round fifteen's, one at every collection): nothing said so.
 */
export function hasGcStartRecords(h: CaptureHeader): boolean {
  return (h.options & OPTION_GC_START) !== 0;
}

type Kind = 'string' | 'strings' | 'int' | 'bigint' | 'optint' | 'allocator';
/** Known fields in tag order: the order the encoder writes them in. */
const FIELDS: readonly (readonly [HeaderTag, keyof CaptureHeader, Kind])[] = [
  [HeaderTag.WriterName, 'writerName', 'string'],
  [HeaderTag.WriterVersion, 'writerVersion', 'string'],
  [HeaderTag.Pid, 'pid', 'int'],
  [HeaderTag.Ppid, 'ppid', 'int'],
  [HeaderTag.Hostname, 'hostname', 'string'],
  [HeaderTag.Argv, 'argv', 'strings'],
  [HeaderTag.StartWallNs, 'startWallNs', 'bigint'],
  [HeaderTag.StartMonoNs, 'startMonoNs', 'bigint'],
  [HeaderTag.PythonVersion, 'pythonVersion', 'string'],
  [HeaderTag.PythonHexversion, 'pythonHexversion', 'int'],
  [HeaderTag.PythonImplementation, 'pythonImplementation', 'string'],
  [HeaderTag.PythonAllocator, 'pythonAllocator', 'allocator'],
  [HeaderTag.Options, 'options', 'int'],
  [HeaderTag.SampleRateBytes, 'sampleRateBytes', 'int'],
  [HeaderTag.Platform, 'platform', 'string'],
  [HeaderTag.PageSize, 'pageSize', 'int'],
  [HeaderTag.CgroupLimitBytes, 'cgroupLimitBytes', 'optint'],
  [HeaderTag.MemoryIntervalMs, 'memoryIntervalMs', 'int'],
  [HeaderTag.MainTid, 'mainTid', 'int'],
  [HeaderTag.Executable, 'executable', 'string'],
  [HeaderTag.Cwd, 'cwd', 'string'],
  [HeaderTag.StdlibDir, 'stdlibDirs', 'strings'],
  [HeaderTag.SitePackages, 'sitePackages', 'strings'],
  [HeaderTag.SysPath, 'sysPath', 'strings'],
  [HeaderTag.Mode, 'mode', 'int'],
  [HeaderTag.CgroupPath, 'cgroupPath', 'string'],
  [HeaderTag.Script, 'script', 'string'],
  [HeaderTag.SampleExactBytes, 'sampleExactBytes', 'int'],
];
const FIELD_BY_TAG = new Map(FIELDS.map((f) => [f[0] as number, f]));

/**
 * Encodes a file header. Fields equal to their default (0, '', [], undefined) are left out; unknown fields
 * are written after the known ones, in their order, so decode → encode reproduces the bytes of any header
 * this encoder wrote.
 */
export function encodeHeader(input: HeaderInput = {}): Uint8Array {
  const h = makeHeader(input);
  const body = new ByteWriter(512);
  const value = new ByteWriter(64);
  const field = (tag: number): void => {
    body.varint(tag);
    body.bytesField(value.bytes());
    value.reset();
  };
  for (const [tag, key, kind] of FIELDS) {
    const v = h[key];
    switch (kind) {
      case 'string':
        if (v !== '') {
          value.raw(new TextEncoder().encode(v as string));
          field(tag);
        }
        break;
      case 'strings':
        for (const s of v as readonly string[]) {
          value.raw(new TextEncoder().encode(s));
          field(tag);
        }
        break;
      case 'int':
        if (v !== 0) {
          value.varint(v as number);
          field(tag);
        }
        break;
      case 'optint':
        if (v !== undefined) {
          value.varint(v as number);
          field(tag);
        }
        break;
      case 'bigint':
        if (v !== 0n) {
          value.varintBig(v as bigint);
          field(tag);
        }
        break;
      case 'allocator': {
        const i = PYTHON_ALLOCATORS.indexOf(v as PythonAllocator);
        if (i > 0) {
          value.varint(i);
          field(tag);
        }
        break;
      }
    }
  }
  for (const u of h.unknownFields) {
    value.raw(u.value);
    field(u.tag);
  }
  const bodyBytes = body.bytes();
  if (bodyBytes.length > MAX_HEADER_BODY_LEN) throw new RangeError(`header body of ${bodyBytes.length} bytes is above the limit of ${MAX_HEADER_BODY_LEN}`);
  const out = new ByteWriter(FILE_HEADER_FIXED_LEN + bodyBytes.length);
  out.raw(FILE_MAGIC);
  out.u16(h.version);
  out.u16(h.minReaderVersion);
  out.u32(bodyBytes.length);
  out.u32(crc32(bodyBytes));
  out.raw(bodyBytes);
  return out.bytes();
}

function named(source: string | undefined): string {
  return source === undefined ? 'the data' : source;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Checks the fixed part of a header and returns the header's total length (20 + body_len). `bytes` may be
 * shorter than 20 only when the data ends there (`atEnd`): then the error says what is wrong with it.
 * Throws CaptureFormatError (not a capture, cut short, bad length) or UnsupportedVersionError.
 */
export function checkHeaderPrefix(bytes: Uint8Array, atEnd: boolean, source?: string): number {
  const n = Math.min(bytes.length, FILE_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== FILE_MAGIC[i]) {
      throw new CaptureFormatError(`${named(source)} is not a memlens capture: it starts with ${hex(bytes.subarray(0, Math.min(bytes.length, 8)))}, not ${hex(FILE_MAGIC)}`, 0, {
        hint: 'Give memlens a .mlens file written by `memlens run` or `memlens attach`.',
      });
    }
  }
  if (bytes.length < FILE_HEADER_FIXED_LEN) {
    if (!atEnd) return FILE_HEADER_FIXED_LEN;
    throw cutShort(source, bytes.length, FILE_HEADER_FIXED_LEN);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, FILE_HEADER_FIXED_LEN);
  const version = view.getUint16(8, true);
  const minReader = view.getUint16(10, true);
  const bodyLen = view.getUint32(12, true);
  if (minReader > READER_VERSION) {
    throw new UnsupportedVersionError(
      `${named(source)} was written in capture format version ${version}, which needs a reader of version ${minReader} or later; this memlens reads version ${READER_VERSION}`,
      10,
      { hint: 'upgrade memlens (npm install -g memlens@latest) to read it.' },
    );
  }
  if (version === 0 || minReader === 0 || minReader > version) {
    throw new CaptureFormatError(`${named(source)} has a damaged header: version ${version} with min_reader_version ${minReader} is not possible`, 8);
  }
  if (bodyLen > MAX_HEADER_BODY_LEN) {
    throw new CaptureFormatError(`${named(source)} has a damaged header: body length ${bodyLen} is above the limit of ${MAX_HEADER_BODY_LEN}`, 12);
  }
  return FILE_HEADER_FIXED_LEN + bodyLen;
}

function cutShort(source: string | undefined, have: number, need: number): CaptureFormatError {
  return new CaptureFormatError(`${named(source)} is cut short: it ends at byte ${have}, inside the ${need}-byte file header`, have, {
    hint: 'The writer stopped before the header was complete; there are no records to read.',
  });
}

/** Throws the error for data that ends before the header's `need` bytes. */
export function headerCutShort(source: string | undefined, have: number, need: number): CaptureFormatError {
  return cutShort(source, have, need);
}

/** Decodes a whole header (`bytes` holds at least checkHeaderPrefix's length). */
export function decodeHeader(bytes: Uint8Array, source?: string): CaptureHeader {
  const total = checkHeaderPrefix(bytes, true, source);
  if (bytes.length < total) throw cutShort(source, bytes.length, total);
  const view = new DataView(bytes.buffer, bytes.byteOffset, FILE_HEADER_FIXED_LEN);
  const body = bytes.subarray(FILE_HEADER_FIXED_LEN, total);
  const expected = view.getUint32(16, true);
  const actual = crc32(body);
  if (expected !== actual) {
    throw new CaptureFormatError(`${named(source)} has a damaged header: its CRC-32 is ${expected.toString(16).padStart(8, '0')}, the body's is ${actual.toString(16).padStart(8, '0')}`, 16, {
      hint: 'The file was changed after it was written; nothing in it can be trusted.',
    });
  }
  const h: { -readonly [K in keyof CaptureHeader]: CaptureHeader[K] } = {
    ...EMPTY_HEADER,
    version: view.getUint16(8, true),
    minReaderVersion: view.getUint16(10, true),
  };
  const lists = { argv: [] as string[], stdlibDirs: [] as string[], sitePackages: [] as string[], sysPath: [] as string[] };
  const unknown: { tag: number; value: Uint8Array }[] = [];
  const r = new ByteReader(body, 0, body.length, FILE_HEADER_FIXED_LEN);
  try {
    while (r.remaining > 0) {
      const tag = r.varint();
      const len = r.varint();
      const at = r.pos;
      const value = r.view(len);
      const f = FIELD_BY_TAG.get(tag);
      if (f === undefined) {
        unknown.push({ tag, value: value.slice() });
        continue;
      }
      const [, key, kind] = f;
      const vr = new ByteReader(body, at, at + len, FILE_HEADER_FIXED_LEN);
      switch (kind) {
        case 'string':
          (h as Record<string, unknown>)[key] = decodeUtf8(value, 0, value.length);
          break;
        case 'strings':
          (lists as Record<string, string[]>)[key]?.push(decodeUtf8(value, 0, value.length));
          break;
        case 'int':
        case 'optint':
          (h as Record<string, unknown>)[key] = vr.varint();
          break;
        case 'bigint':
          (h as Record<string, unknown>)[key] = vr.varintBig();
          break;
        case 'allocator': {
          const i = vr.varint();
          h.pythonAllocator = PYTHON_ALLOCATORS[i] ?? 'unknown';
          break;
        }
      }
    }
  } catch (e) {
    if (e instanceof ReadError) {
      throw new CaptureFormatError(`${named(source)} has a malformed header field: ${e.message}`, e.offset);
    }
    throw e;
  }
  h.argv = lists.argv;
  h.stdlibDirs = lists.stdlibDirs;
  h.sitePackages = lists.sitePackages;
  h.sysPath = lists.sysPath;
  h.unknownFields = unknown;
  return h;
}
