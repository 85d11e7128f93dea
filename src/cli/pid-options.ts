// The arguments of the commands that act on a running process (`memlens attach`, `detach`, `census`): its
// PID, how to get inside it, and the time limits; each error names the command it came from.

import { UsageError } from '../errors.js';
import type { AttachMethod } from '../process/attach.js';
import { stringOption, type OptionValues } from './command.js';

export function parsePid(command: string, positionals: readonly string[]): number {
  const [raw, extra] = positionals;
  if (raw === undefined) throw new UsageError(`${command}: missing the PID of the Python process`, { hint: `memlens ${command} PID` });
  if (extra !== undefined) throw new UsageError(`${command}: unexpected argument '${extra}'`);
  const pid = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(pid) || pid <= 0) throw new UsageError(`${command}: '${raw}' is not a process id`);
  return pid;
}

export function methodOf(command: string, options: OptionValues): AttachMethod {
  const m = stringOption(options, 'method') ?? 'auto';
  if (m !== 'auto' && m !== 'remote-exec' && m !== 'gdb' && m !== 'lldb') {
    throw new UsageError(`${command}: --method ${m}: choose auto, remote-exec, gdb or lldb`);
  }
  return m;
}

export function secondsOf(command: string, options: OptionValues, name: string, fallback: number | undefined): number | undefined {
  const raw = stringOption(options, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${command}: --${name} ${raw}: give a number of seconds above 0`);
  return n;
}
