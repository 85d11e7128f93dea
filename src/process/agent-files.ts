// Where the agent and its bootstrap are, and whether this machine can run them.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TargetError } from '../errors.js';
import { PACKAGE_ROOT, REINSTALL_HINT } from '../util/package-root.js';

export interface AgentFiles {
  /** The shared library: agent/build/libmemlens_agent.so. */
  readonly library: string;
  /** The directory of memlens_bootstrap.py. */
  readonly bootstrapDir: string;
}

/** The platforms the agent is built and tested for. */
export function checkPlatform(platform: string = process.platform, arch: string = process.arch): void {
  if (platform !== 'linux' || (arch !== 'x64' && arch !== 'arm64')) {
    throw new TargetError(`memlens run needs Linux on x86-64 or arm64; this is ${platform} on ${arch}`, {
      hint: 'Reports (memlens summary and the others) work anywhere on captures made on Linux.',
    });
  }
}

/**
 * The agent files, or a TargetError saying how to get them. `variant` picks a sanitizer build
 * (MEMLENS_AGENT_SANITIZE=address gives libmemlens_agent-address.so).
 */
export function findAgent(root: string = PACKAGE_ROOT, variant?: string): AgentFiles {
  const name = variant === undefined || variant === '' ? 'libmemlens_agent.so' : `libmemlens_agent-${variant}.so`;
  const library = join(root, 'agent', 'build', name);
  const bootstrapDir = join(root, 'agent', 'python');
  if (!existsSync(library)) {
    throw new TargetError(`the agent is not built (${library} is missing)`, {
      hint: variant === undefined || variant === '' ? REINSTALL_HINT : `Build it with MEMLENS_AGENT_SANITIZE=${variant} node scripts/build-agent.mjs.`,
    });
  }
  if (!existsSync(join(bootstrapDir, 'memlens_bootstrap.py'))) {
    throw new TargetError(`the agent's bootstrap is missing (${join(bootstrapDir, 'memlens_bootstrap.py')})`, {
      hint: REINSTALL_HINT,
    });
  }
  return { library, bootstrapDir };
}
