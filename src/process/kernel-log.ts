// The kernel's own account of an OOM kill, when memlens may read the kernel log (/dev/kmsg needs root or
// CAP_SYSLOG; dmesg is the fallback). Used to say, with the kernel's words, that a process was OOM-killed.
//
// PIDs are reused (pid_max is often 32768), and the log keeps lines from long before: only a line written
// after the process started can be about it. The log's timestamps count from boot on the kernel's clock,
// which is the clock of CLOCK_MONOTONIC (what process.hrtime reads) apart from a small drift.

import { closeSync, constants, openSync, readSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

export interface KernelLogLine {
  /** Microseconds since boot on the kernel's clock. */
  readonly timeUs: number;
  readonly text: string;
}

/** How far before the process's start a line may be stamped and still be about it (clock drift). */
export const KERNEL_CLOCK_SLACK_US = 2_000_000;

/** Now, on the kernel log's clock (microseconds since boot). */
export function kernelClockUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Lines of the kernel log, oldest first; [] when unreadable. */
export function readKernelLog(): KernelLogLine[] {
  try {
    const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    const lines: KernelLogLine[] = [];
    const buf = Buffer.alloc(8192);
    try {
      for (let i = 0; i < 100_000; i++) {
        let n: number;
        try {
          n = readSync(fd, buf, 0, buf.length, null);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') break;
          if (code === 'EPIPE') continue; // the ring buffer overwrote records we had not read yet
          throw e;
        }
        const line = parseKmsgRecord(buf.toString('utf8', 0, n));
        if (line !== undefined) lines.push(line);
      }
    } finally {
      closeSync(fd);
    }
    return lines;
  } catch {
    const r = spawnSync('dmesg', [], { encoding: 'utf8' });
    if (r.status !== 0) return [];
    const out: KernelLogLine[] = [];
    for (const l of r.stdout.split('\n')) {
      const line = parseDmesgLine(l);
      if (line !== undefined) out.push(line);
    }
    return out;
  }
}

/** One /dev/kmsg record: "PRIO,SEQ,TIME_US,FLAGS[,...];MESSAGE\n[continuation lines]". */
export function parseKmsgRecord(record: string): KernelLogLine | undefined {
  const semi = record.indexOf(';');
  if (semi < 0) return undefined;
  const timeUs = Number(record.slice(0, semi).split(',')[2]);
  if (!Number.isFinite(timeUs)) return undefined;
  return { timeUs, text: record.slice(semi + 1).split('\n')[0] ?? '' };
}

/** One line of dmesg's output: "[SECONDS.MICROS] MESSAGE". */
export function parseDmesgLine(line: string): KernelLogLine | undefined {
  const m = /^\[\s*(\d+)\.(\d{1,6})\]\s?(.*)$/.exec(line);
  if (m === null) return undefined;
  return { timeUs: Number(m[1]) * 1e6 + Number((m[2] ?? '0').padEnd(6, '0')), text: m[3] ?? '' };
}

/**
 * The kernel's "Killed process PID (name) …" line for this PID written at or after `sinceUs` (the
 * process's start on kernelClockUs, less KERNEL_CLOCK_SLACK_US), if the log has it.
 */
export function findOomKillLine(pid: number, sinceUs: number, lines: readonly KernelLogLine[] = readKernelLog()): string | undefined {
  const needle = new RegExp(`(Out of memory|Memory cgroup out of memory): Killed process ${pid} `);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (line === undefined || line.timeUs < sinceUs - KERNEL_CLOCK_SLACK_US) break;
    if (needle.test(line.text)) return line.text.trim();
  }
  return undefined;
}
