// The kernel's own account of an OOM kill, when memlens may read the kernel log (/dev/kmsg needs root or
// CAP_SYSLOG; dmesg is the fallback). Used to say, with the kernel's words, that a process was OOM-killed.

import { closeSync, constants, openSync, readSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Lines of the kernel log (without the /dev/kmsg prefix), oldest first; [] when unreadable. */
export function readKernelLog(): string[] {
  try {
    const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    const lines: string[] = [];
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
        const record = buf.toString('utf8', 0, n);
        const semi = record.indexOf(';');
        lines.push((semi >= 0 ? record.slice(semi + 1) : record).split('\n')[0] ?? '');
      }
    } finally {
      closeSync(fd);
    }
    return lines;
  } catch {
    const r = spawnSync('dmesg', [], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*/, '')) : [];
  }
}

/** The kernel's "Killed process PID (name) …" line for this PID, if the log has it. */
export function findOomKillLine(pid: number, lines: readonly string[] = readKernelLog()): string | undefined {
  const needle = new RegExp(`(Out of memory|Memory cgroup out of memory): Killed process ${pid} `);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (needle.test(line)) return line.trim();
  }
  return undefined;
}
