// A stand-in for a process in a container: CPython 3.14 from a Debian sid root file system
// (.cache/sid-root, made by scripts/setup-test-env.mjs), started in its own mount namespace with
// `unshare -m` and `chroot`, with /proc mounted inside that namespace only.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT as repoRoot } from './pythons.js';

export interface ContainerInfo {
  /** The root file system, as the host sees it. */
  readonly root: string;
  /** The interpreter inside it, as the container sees it. */
  readonly python: string;
}

export function containerInfo(): ContainerInfo {
  return JSON.parse(readFileSync(join(repoRoot, '.cache', 'container.json'), 'utf8')) as ContainerInfo;
}

/**
 * Starts `argv` (paths as the container sees them) inside the container; as `user` (uid and gid) instead
 * of root, for a process in a container that the host must not trust (test/security/).
 */
export function spawnInContainer(argv: readonly string[], options: SpawnOptions = {}, user?: { readonly uid: number; readonly gid: number }): ChildProcess {
  const { root } = containerInfo();
  const chroot = user === undefined ? 'chroot' : `chroot --userspec=${user.uid}:${user.gid}`;
  return spawn('unshare', ['-m', 'sh', '-c', `mount -t proc proc "$0/proc" && exec ${chroot} "$0" "$@"`, root, ...argv], options);
}
