// `memlens run --memory-limit SIZE`: run the program under a real memory limit, to reproduce an OOM kill.
// Where memlens may create a child memory cgroup (v1 or v2) under its own, the program joins it before it
// starts (a shell wrapper writes its PID to cgroup.procs, then execs Python), so the kernel's OOM killer
// acts exactly as in the container it came from. Otherwise an address-space limit (RLIMIT_AS) stands in,
// and the failure mode differs: MemoryError instead of a kill.

import { createLimitedChild, CgroupError, memoryCgroupOf, procsFile, removeCgroup, type MemoryCgroup } from './cgroup.js';

export type LimitPlan =
  { readonly kind: 'cgroup'; readonly cgroup: MemoryCgroup; readonly wrapper: readonly string[] } | { readonly kind: 'rlimit'; readonly wrapper: readonly string[]; readonly why: string };

export function planMemoryLimit(limitBytes: number, name: string): LimitPlan {
  const parent = memoryCgroupOf();
  let why = 'this machine has no memory cgroup controller';
  if (parent !== undefined) {
    try {
      const cgroup = createLimitedChild(parent, name, limitBytes);
      return { kind: 'cgroup', cgroup, wrapper: ['sh', '-c', 'echo $$ > "$0" && exec "$@"', procsFile(cgroup)] };
    } catch (e) {
      if (!(e instanceof CgroupError)) throw e;
      why = e.message;
    }
  }
  const kib = Math.max(1, Math.floor(limitBytes / 1024));
  return { kind: 'rlimit', wrapper: ['sh', '-c', 'ulimit -v "$0" && exec "$@"', String(kib)], why };
}

export async function releaseMemoryLimit(plan: LimitPlan): Promise<void> {
  if (plan.kind === 'cgroup') await removeCgroup(plan.cgroup);
}
