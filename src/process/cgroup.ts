// Memory cgroups, v1 and v2: where a process's memory limit comes from, how full it is, whether the kernel's
// OOM killer fired in it, and a child group with a limit of our own for `memlens run --memory-limit`.
//
// v2: memory.max, memory.current, memory.events.local / memory.events ("oom_kill N"), memory.swap.max.
// v1: memory.limit_in_bytes, memory.usage_in_bytes, memory.oom_control ("oom_kill N", kernel ≥ 4.13),
//     memory.memsw.limit_in_bytes when swap accounting is on.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  readonly version: 1 | 2;
  /** Directory of the group in the cgroup file system. */
  readonly dir: string;
  /** The group's path as /proc/PID/cgroup names it. */
  readonly path: string;
}

/** A limit at or above this is "no limit" (v1 writes PAGE_COUNTER_MAX pages, about 2^63). */
const NO_LIMIT = 2 ** 60;

/** Parses /proc/PID/cgroup text into the memory group's path and the hierarchy it belongs to. */
export function parseProcCgroup(text: string): { readonly version: 1 | 2; readonly path: string } | undefined {
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const [id, controllers, path] = line.split(':', 3) as [string?, string?, string?];
    if (path === undefined) continue;
    if ((controllers ?? '').split(',').includes('memory')) return { version: 1, path };
    if (id === '0' && controllers === '') v2 = path;
  }
  return v2 !== undefined ? { version: 2, path: v2 } : undefined;
}

/** The memory cgroup of a process (default: memlens itself), if this machine has a memory controller. */
export function memoryCgroupOf(pid: number | 'self' = 'self', root = '/sys/fs/cgroup'): MemoryCgroup | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseProcCgroup(text);
  if (parsed === undefined) return undefined;
  const candidates = parsed.version === 1 ? [join(root, 'memory', parsed.path)] : [join(root, parsed.path), join(root, 'unified', parsed.path)];
  for (const dir of candidates) {
    const probe = parsed.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
    if (existsSync(join(dir, probe))) return { version: parsed.version, dir, path: parsed.path };
  }
  return undefined;
}

function readNumberFile(path: string): number | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === 'max') return undefined;
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The group's memory limit in bytes, or undefined when it has none. */
export function memoryLimit(cg: MemoryCgroup): number | undefined {
  const n = readNumberFile(join(cg.dir, cg.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'));
  return n === undefined || n >= NO_LIMIT ? undefined : n;
}

export function memoryUsage(cg: MemoryCgroup): number | undefined {
  return readNumberFile(join(cg.dir, cg.version === 1 ? 'memory.usage_in_bytes' : 'memory.current'));
}

/**
 * How many times the kernel's OOM killer has killed a process of this group itself (undefined: cannot tell).
 * v2's memory.events also counts kills in every group below (another run's --memory-limit child, say):
 * memory.events.local (kernel ≥ 5.2) counts this group's own. v1's counter is the group's own already.
 */
export function oomKillCount(cg: MemoryCgroup): number | undefined {
  const files = cg.version === 1 ? ['memory.oom_control'] : ['memory.events.local', 'memory.events'];
  for (const file of files) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(cg.dir, file), 'utf8'));
      return m !== null ? Number(m[1]) : undefined;
    } catch {
      // the next file, if any
    }
  }
  return undefined;
}

export class CgroupError extends Error {}

/**
 * A child group of `parent` with a memory limit, for one run. Swap is limited too where the kernel allows,
 * so the limit means what it says. remove() deletes the group once it is empty.
 */
export function createLimitedChild(parent: MemoryCgroup, name: string, limitBytes: number): MemoryCgroup {
  const dir = join(parent.dir, name);
  try {
    mkdirSync(dir);
  } catch (e) {
    throw new CgroupError(`cannot create cgroup ${dir}: ${(e as Error).message}`);
  }
  const child: MemoryCgroup = { version: parent.version, dir, path: join(parent.path, name) };
  try {
    if (parent.version === 1) {
      writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(limitBytes));
    } else {
      writeFileSync(join(dir, 'memory.max'), String(limitBytes));
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
    }
  } catch (e) {
    rmdirSync(dir);
    throw new CgroupError(`cannot set the memory limit of cgroup ${dir}: ${(e as Error).message}`);
  }
  return child;
}

/** The file a process writes its own PID into to join the group (used by the launcher's shell wrapper). */
export function procsFile(cg: MemoryCgroup): string {
  return join(cg.dir, 'cgroup.procs');
}

export async function removeCgroup(cg: MemoryCgroup): Promise<boolean> {
  // The group may still hold an exiting process for a moment: retry for up to a second.
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(cg.dir);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return false;
}
