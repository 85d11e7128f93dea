// The second, unprivileged user of the security tests (test/security/): memlens runs as root there, and
// each attack runs as this user. Created once, idempotently, by scripts/setup-test-env.mjs: a system account
// with no home directory and no login shell. `userdel memlens-test-other` removes it.
import { spawnSync } from 'node:child_process';

export const TEST_USER = 'memlens-test-other';

/** The user's uid and gid, or undefined if it does not exist. */
export function testUserIds() {
  const uid = spawnSync('id', ['-u', TEST_USER], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', TEST_USER], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Creates the user when it is missing (root only); returns its ids, or exits with a message. */
export function ensureTestUser() {
  const ids = testUserIds();
  if (ids !== undefined) return ids;
  if (process.getuid?.() !== 0) {
    console.error(`setup: the security tests need a second user: run as root, or create it (useradd -r -M -s /usr/sbin/nologin ${TEST_USER})`);
    process.exit(1);
  }
  const r = spawnSync('useradd', ['-r', '-M', '-s', '/usr/sbin/nologin', TEST_USER], { encoding: 'utf8' });
  // Another setup running at the same moment may have made it first.
  const made = testUserIds();
  if (made === undefined) {
    console.error(`setup: useradd could not create ${TEST_USER}: ${r.stderr.trim()}`);
    process.exit(1);
  }
  return made;
}
