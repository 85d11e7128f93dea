// Reading another process through /proc: its memory maps, status, and memory (/proc/PID/mem). Errors
// name the PID and say what to do (permissions are the usual reason attaching fails).

import { closeSync, openSync, readFileSync, readSync, readlinkSync, writeSync } from 'node:fs';
import { TargetError } from '../errors.js';

export interface MapEntry {
  readonly start: number;
  readonly end: number;
  readonly perms: string;
  readonly offset: number;
  readonly inode: number;
  /** The mapped file as the target sees it ('' for anonymous memory, '[heap]' and the like for special ones). */
  readonly path: string;
}

/** Parses the text of /proc/PID/maps. */
export function parseMaps(text: string): MapEntry[] {
  const out: MapEntry[] = [];
  for (const line of text.split('\n')) {
    // 7f0c3a400000-7f0c3a428000 r--p 00000000 fe:01 1234  /usr/lib/x86_64-linux-gnu/libc.so.6
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+\S+\s+(\d+)\s*(.*)$/.exec(line);
    if (m === null) continue;
    out.push({
      start: parseInt(m[1] ?? '0', 16),
      end: parseInt(m[2] ?? '0', 16),
      perms: m[3] ?? '',
      offset: parseInt(m[4] ?? '0', 16),
      inode: Number(m[5]),
      path: (m[6] ?? '').replace(/ \(deleted\)$/, ''),
    });
  }
  return out;
}

export interface ProcessStatus {
  readonly pid: number;
  readonly name: string;
  /** R, S, D, T (stopped), t (traced), Z … */
  readonly state: string;
  readonly ppid: number;
  readonly uid: number;
  readonly tracerPid: number;
  readonly threads: number;
}

export function parseStatus(pid: number, text: string): ProcessStatus {
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    pid,
    name: field('Name'),
    state: field('State').charAt(0),
    ppid: Number(field('PPid')),
    uid: Number(field('Uid').split(/\s+/)[0]),
    tracerPid: Number(field('TracerPid')),
    threads: Number(field('Threads')),
  };
}

function procError(pid: number, e: unknown, what: string): TargetError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') {
    return new TargetError(`no process with PID ${pid}`, { hint: 'Check the PID with `ps` or `pgrep -f`.' });
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new TargetError(`no permission to ${what} of PID ${pid}`, { hint: ptraceHint(pid), cause: e });
  }
  return new TargetError(`cannot ${what} of PID ${pid}: ${(e as Error).message}`, { cause: e });
}

/** Why ptrace-level access may be refused, and what to do about it, for this machine. */
export function ptraceHint(pid: number): string {
  const reasons: string[] = [];
  try {
    const owner = parseStatus(pid, readFileSync(`/proc/${pid}/status`, 'utf8')).uid;
    if (process.getuid !== undefined && owner !== process.getuid() && process.getuid() !== 0) {
      reasons.push(`the process belongs to uid ${owner}: run memlens as that user or as root`);
    }
  } catch {
    // The status file itself may be unreadable; the other reasons still apply.
  }
  try {
    const scope = readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim();
    if (scope !== '0') reasons.push(`kernel.yama.ptrace_scope is ${scope}: run as root, or set it to 0 with \`sysctl kernel.yama.ptrace_scope=0\``);
  } catch {
    // No Yama on this kernel.
  }
  reasons.push('in a container, add the SYS_PTRACE capability (docker run --cap-add=SYS_PTRACE)');
  return reasons.join('; ');
}

export function readMaps(pid: number): MapEntry[] {
  try {
    return parseMaps(readFileSync(`/proc/${pid}/maps`, 'utf8'));
  } catch (e) {
    throw procError(pid, e, 'read the memory maps');
  }
}

export function readStatus(pid: number): ProcessStatus {
  try {
    return parseStatus(pid, readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch (e) {
    throw procError(pid, e, 'read the status');
  }
}

export function readCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((s, i, a) => s !== '' || i < a.length - 1);
  } catch (e) {
    throw procError(pid, e, 'read the command line');
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The path under which this process sees a file of the target's file system (another mount namespace). */
export function hostPath(pid: number, targetPath: string): string {
  return `/proc/${pid}/root${targetPath.startsWith('/') ? '' : '/'}${targetPath}`;
}

/** True when the target sees the same root file system as memlens. */
export function sharesRoot(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/root`) === '/' && readlinkSync(`/proc/${pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt');
  } catch {
    return false;
  }
}

/** Random access to another process's memory through /proc/PID/mem (needs ptrace-level permission). */
export class ProcessMemory {
  private readonly fd: number;
  constructor(
    readonly pid: number,
    writable: boolean,
  ) {
    try {
      this.fd = openSync(`/proc/${pid}/mem`, writable ? 'r+' : 'r');
    } catch (e) {
      throw procError(pid, e, writable ? 'write the memory' : 'read the memory');
    }
  }

  read(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let n: number;
    try {
      n = readSync(this.fd, out, 0, length, address);
    } catch (e) {
      throw procError(this.pid, e, `read memory at 0x${address.toString(16)}`);
    }
    if (n !== length) throw new TargetError(`PID ${this.pid}: short read of ${length} bytes at 0x${address.toString(16)}`);
    return out;
  }

  readU64(address: number): number {
    const b = this.read(address, 8);
    const dv = new DataView(b.buffer);
    return dv.getUint32(4, true) * 0x1_0000_0000 + dv.getUint32(0, true);
  }

  readI32(address: number): number {
    return new DataView(this.read(address, 4).buffer).getInt32(0, true);
  }

  write(address: number, bytes: Uint8Array): void {
    let n: number;
    try {
      n = writeSync(this.fd, bytes, 0, bytes.length, address);
    } catch (e) {
      throw procError(this.pid, e, `write memory at 0x${address.toString(16)}`);
    }
    if (n !== bytes.length) throw new TargetError(`PID ${this.pid}: short write at 0x${address.toString(16)}`);
  }

  writeU64(address: number, value: number): void {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, value % 0x1_0000_0000, true);
    dv.setUint32(4, Math.floor(value / 0x1_0000_0000), true);
    this.write(address, b);
  }

  writeI32(address: number, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, value, true);
    this.write(address, b);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux architecture node runs on). */
const USER_HZ = 100;

/**
 * The fields of the text of /proc/PID/stat that follow the command name, from field 3 (the state) on: field N
 * of proc(5) is `[N - 3]`. The command name (field 2) may hold spaces and parentheses, so the fields start
 * after its last ')'. Undefined when the text has no command name (empty, or not a stat line).
 */
export function statFields(stat: string): string[] | undefined {
  const close = stat.lastIndexOf(')');
  return close < 0 ? undefined : stat.slice(close + 2).split(' ');
}

/** The CPU time (user + system, all threads) in the text of /proc/PID/stat, in milliseconds; undefined if unreadable. */
export function parseCpuMs(stat: string): number | undefined {
  const fields = statFields(stat);
  if (fields === undefined) return undefined;
  // utime and stime are fields 14 and 15.
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return Number.isFinite(ticks) ? (ticks * 1000) / USER_HZ : undefined;
}

/** PID's CPU time so far in milliseconds (10 ms steps), or undefined once it is gone (reaped) or unreadable. */
export function processCpuMs(pid: number): number | undefined {
  try {
    return parseCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A clock of PID's CPU time in milliseconds, for reading often (the follower asks at every chunk): the file
 * stays open and is read again from its start, one system call a look instead of readFileSync's four.
 * close() when done; undefined once the process is gone (reaped) or after close().
 */
export function processCpuClock(pid: number): { readonly ms: () => number | undefined; readonly close: () => void } {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
  } catch {
    fd = undefined;
  }
  const buf = Buffer.alloc(1024);
  return {
    ms: () => {
      if (fd === undefined) return undefined;
      try {
        const n = readSync(fd, buf, 0, buf.length, 0);
        return parseCpuMs(buf.toString('latin1', 0, n));
      } catch {
        return undefined;
      }
    },
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
