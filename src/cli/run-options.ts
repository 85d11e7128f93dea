// The program `memlens run` starts and what the agent tracks in it, from the command's options, and what
// happens before the program starts: shared by `memlens run`, its live modes (commands/run.live.ts) and,
// for what to track, `memlens attach`.

import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { AgentFiles } from '../process/agent-files.js';
import type { BootstrapConfig, Launched, LaunchOptions } from '../process/launch.js';
import type { RunTarget } from '../process/python.js';
import { booleanOption, stringOption, type OptionValues } from './command.js';
import type { Io } from './io.js';
import { type SampleConfig, sampleAgentConfig } from './push-options.js';

export const DEFAULT_INTERVAL_MS = 10;

export function targetOf(options: OptionValues, positionals: readonly string[]): RunTarget {
  const module = stringOption(options, 'module');
  const code = stringOption(options, 'code');
  const rest = positionals[0] === '--' ? positionals.slice(1) : positionals;
  // -m and -c end option parsing (terminalOptions), so at most one of them is set.
  if (module !== undefined) return { kind: 'module', module, args: rest };
  if (code !== undefined) return { kind: 'code', code, args: rest };
  const [script, ...args] = rest;
  if (script === undefined) {
    throw new UsageError('run: missing the program to run', { hint: 'Give a script (memlens run app.py), a module (-m MODULE) or code (-c CODE).' });
  }
  return { kind: 'script', path: script, args };
}

/** The program's name in the default capture name `memlens-<stem>.<pid>.mlens`. */
export function stemOf(t: RunTarget): string {
  if (t.kind === 'module') return t.module;
  if (t.kind === 'code') return 'string';
  const b = basename(t.path.replace(/\/+$/, ''));
  return b.endsWith('.py') ? b.slice(0, -3) : b;
}

export function intervalOf(options: OptionValues): number {
  const raw = stringOption(options, 'memory-interval-ms');
  if (raw === undefined) return DEFAULT_INTERVAL_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) {
    throw new UsageError(`run: --memory-interval-ms ${raw}: give a whole number of milliseconds from 1 to 1000`);
  }
  return n;
}

/** What the agent tracks (its config keys), the same in every mode of `memlens run` and `memlens attach`. */
// A type rather than an interface: it goes where any record of config keys does (process/attach.ts).
export type TrackingConfig = {
  native: boolean;
  trace_python_allocators: boolean;
  follow_fork: boolean;
  aggregate: boolean;
  memory_interval_ms: number;
  sample_rate?: number;
  sample_exact?: number;
  sample_seed?: number;
};

/**
 * What to track, as `memlens run` and `memlens attach` take it from their options (the agent's config
 * keys); `intervalMs` is checked by the caller, each command in its own words; `sample` is the sampling
 * (push-options.ts), if any.
 */
export function trackingConfig(options: OptionValues, intervalMs: number, sample: SampleConfig | undefined): TrackingConfig {
  return {
    native: booleanOption(options, 'native'),
    trace_python_allocators: booleanOption(options, 'trace-python-allocators'),
    follow_fork: booleanOption(options, 'follow-fork'),
    aggregate: booleanOption(options, 'aggregate'),
    memory_interval_ms: intervalMs,
    ...sampleAgentConfig(sample),
  };
}

export interface LaunchPlan {
  readonly files: AgentFiles;
  readonly python: string;
  /** The program's environment: memlens's own, less what is meant for memlens alone. */
  readonly env: Record<string, string | undefined>;
  /** Where the capture goes, absolute, `{pid}` standing for the program's PID; undefined: nowhere. */
  readonly output: string | undefined;
  /** The user gave -o (rather than the default name). */
  readonly explicitOutput: boolean;
}

/**
 * What every mode of `memlens run` does before the program starts: the platform, the agent and the
 * interpreter found; -o checked, or the default name chosen when `defaultOutput`; and the program checked
 * to exist, so that a mistyped script fails before the interpreter starts.
 */
export async function prepareLaunch(io: Io, options: OptionValues, target: RunTarget, defaultOutput: boolean): Promise<LaunchPlan> {
  const { checkPlatform, findAgent } = await import('../process/agent-files.js');
  const { checkTarget, findPython } = await import('../process/python.js');
  checkPlatform();
  const files = findAgent(undefined, io.env['MEMLENS_AGENT_SANITIZE']);
  const python = findPython(io.env, io.cwd, stringOption(options, 'python'));
  const explicit = stringOption(options, 'output');
  const output = explicit !== undefined ? resolve(io.cwd, explicit) : defaultOutput ? join(io.cwd, `memlens-${stemOf(target)}.{pid}.mlens`) : undefined;
  if (explicit !== undefined && output !== undefined) (await import('./output-file.js')).checkOutput(output, booleanOption(options, 'force'));
  const env = { ...io.env };
  delete env['MEMLENS_AGENT_SANITIZE'];
  // The interpreter and the program are checked further by the target Python itself, as it starts
  // (process/python.ts, checkAnswer): launchPlanned rejects with the same one-line errors.
  checkTarget(target, io.cwd);
  return { files, python, env, output, explicitOutput: explicit !== undefined };
}

/**
 * Starts the program as prepareLaunch planned it, under the agent with `config` (what to track, where the
 * capture goes); `more`: the pipes of the live modes and the push, the wrapper of a memory limit, what to do
 * once the program passed its checks.
 */
export async function launchPlanned(
  io: Io,
  plan: LaunchPlan,
  target: RunTarget,
  config: Omit<BootstrapConfig, 'agent'>,
  more: Pick<LaunchOptions, 'pipes' | 'wrapper' | 'beforeStart'> = {},
): Promise<Launched> {
  const { launch } = await import('../process/launch.js');
  return launch({ python: plan.python, files: plan.files, target, cwd: io.cwd, env: plan.env, config: { agent: plan.files.library, ...config }, ...more });
}
