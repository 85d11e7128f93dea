// memlens attach PID [-o FILE]: starts tracking inside a running Python process, without a restart and
// without anything installed in its environment (docs/attach.md).

import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import type { Session } from '../../process/attach.js';
import { booleanOption, stringOption, type Command, type CommandContext, type OptionValues } from '../command.js';
import { PUSH_OPTIONS, SAMPLE_OPTIONS, pushConfigOf, sampleConfigOf } from '../push-options.js';
import { trackingConfig } from '../run-options.js';

export const attachCommand: Command = {
  name: 'attach',
  summary: 'Start tracking a running Python process (no restart, nothing to install in it)',
  usage: 'PID',
  description:
    'With -o, tracking runs in the background: memlens returns at once, and `memlens detach PID` (or the end ' +
    'of --duration) finalizes the capture. Allocations made before the attach are not seen. Methods: ' +
    'remote-exec (PEP 768, Python 3.14+), gdb, lldb; auto tries them in that order.',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'Write the capture to FILE' },
    force: { type: 'boolean', short: 'f', description: 'Overwrite FILE if it exists' },
    duration: { type: 'string', value: 'SECONDS', description: 'Stop tracking by itself after this long' },
    aggregate: { type: 'boolean', description: 'Aggregate in the process: a small capture of stacks and totals' },
    native: { type: 'boolean', description: 'Also record native (C/C++) stacks' },
    'trace-python-allocators': { type: 'boolean', description: 'Record every Python object allocation (pymalloc)' },
    'follow-fork': { type: 'boolean', description: 'Also capture forked children' },
    method: { type: 'string', value: 'METHOD', description: 'auto (default), remote-exec, gdb or lldb' },
    'memory-interval-ms': { type: 'string', value: 'N', description: 'Milliseconds between memory snapshots (default 10)' },
    timeout: { type: 'string', value: 'SECONDS', description: 'How long to wait for the target to run Python (default 30)' },
    'no-compress': { type: 'boolean', description: 'Leave the capture uncompressed when it is finalized' },
    web: { type: 'boolean', description: 'Without -o: show the live view in a browser (prints its URL)' },
    quiet: { type: 'boolean', short: 'q', description: 'With --push: print nothing but warnings and errors' },
    ...SAMPLE_OPTIONS,
    ...PUSH_OPTIONS,
  },
  async run(ctx, options, positionals) {
    return attach(ctx, options, positionals);
  },
};

async function attach(ctx: CommandContext, options: OptionValues, positionals: readonly string[]): Promise<number> {
  const { io } = ctx;
  const { methodOf, parsePid, secondsOf } = await import('../pid-options.js');
  const pid = parsePid('attach', positionals);
  const method = methodOf('attach', options);
  const duration = secondsOf('attach', options, 'duration', undefined);
  const timeout = secondsOf('attach', options, 'timeout', 30) ?? 30;
  const interval = Number(stringOption(options, 'memory-interval-ms') ?? '10');
  if (!Number.isInteger(interval) || interval < 1 || interval > 1000) throw new UsageError('attach: --memory-interval-ms: give a whole number from 1 to 1000');
  const output = stringOption(options, 'output');
  const { readCmdline } = await import('../../process/proc.js');
  const { serviceNameOf } = await import('./attach.push.js');
  const push = pushConfigOf('attach', options, io, serviceNameOf(readCmdlineOr(readCmdline, pid)));
  const sample = sampleConfigOf('attach', options, io.env, push !== undefined);
  const tracking = trackingConfig(options, interval, sample);
  if (push !== undefined && sample !== undefined) {
    for (const o of ['duration', 'web', 'aggregate', 'follow-fork']) {
      if (options[o] !== undefined && options[o] !== false) throw new UsageError(`attach: --${o} cannot be combined with pushing (it pushes until memlens is stopped)`);
    }
    const { attachPush } = await import('./attach.push.js');
    return attachPush(ctx, pid, push, sample, {
      method,
      timeoutMs: timeout * 1000,
      tracking,
      output,
      force: booleanOption(options, 'force'),
      quiet: booleanOption(options, 'quiet'),
    });
  }
  if (booleanOption(options, 'quiet')) throw new UsageError('attach: --quiet goes with --push');
  if (output === undefined) {
    if (booleanOption(options, 'aggregate')) throw new UsageError('attach: --aggregate needs -o FILE (the live view shows every allocation)');
    if (duration !== undefined) throw new UsageError('attach: --duration needs -o FILE (the live view tracks until you quit it)');
    if (booleanOption(options, 'follow-fork')) throw new UsageError('attach: --follow-fork needs -o FILE (the live view shows one process)');
    const { liveAttach } = await import('./attach.live.js');
    return liveAttach(ctx, pid, {
      method,
      timeoutMs: timeout * 1000,
      // The live view shows one process (forked children would each need a stream of their own); --follow-fork
      // was refused above.
      tracking: { ...tracking, follow_fork: false },
      web: booleanOption(options, 'web'),
    });
  }
  if (booleanOption(options, 'web')) throw new UsageError('attach: --web is for the live view (without -o)');
  const { checkPlatform, findAgent } = await import('../../process/agent-files.js');
  const t = await import('../../process/attach.js');
  const { checkAttachOutput } = await import('../output-file.js');
  checkPlatform();
  const files = findAgent();
  const target = t.inspectTarget(pid);
  const userOutput = resolve(io.cwd, output);
  const force = booleanOption(options, 'force');
  checkAttachOutput(target, userOutput, force);
  const session = t.createSession(target, files);
  const targetOutput = target.sameRoot ? userOutput : `${session.targetDir}/capture.mlens`;
  const state = { pid, startedAt: Date.now(), targetOutput, userOutput, compress: !booleanOption(options, 'no-compress'), duration, force };
  try {
    t.writeSessionState(session, state);
  } catch (e) {
    t.removeSession(session);
    throw e;
  }
  const started = performance.now();
  // Ctrl-C while waiting for the target: withdraw the request and leave the target as it was.
  const abort = new AbortController();
  const onInt = (): void => abort.abort();
  process.once('SIGINT', onInt);
  let outcome;
  try {
    outcome = await t.runInTarget(
      target,
      {
        action: 'attach',
        session,
        agentLibrary: files.library,
        duration,
        config: {
          output: targetOutput,
          overwrite: force,
          ...tracking,
        },
      },
      { method, timeoutMs: timeout * 1000, signal: abort.signal },
    );
  } catch (e) {
    t.removeSession(session);
    throw e;
  } finally {
    process.removeListener('SIGINT', onInt);
  }
  if (ctx.verbose) for (const l of outcome.log) io.stderr.write(`${l}\n`);
  if (!outcome.status.startsWith('ok')) {
    t.removeSession(session);
    const { TargetError } = await import('../../errors.js');
    throw new TargetError(`PID ${pid}: ${t.statusLine(outcome.status).replace(/^error:\s*/, '')}`);
  }
  const ms = Math.round(performance.now() - started);
  if (outcome.late === true) {
    // Too late to cancel: the target had begun to attach. It is tracked, and detachable like any other.
    io.stderr.write(`memlens: PID ${pid} had already begun to attach when memlens ${abort.signal.aborted ? 'was interrupted' : 'stopped waiting'}; the attach completed\n`);
  }
  io.stderr.write(`memlens: tracking PID ${pid} (Python ${target.version.major}.${target.version.minor}.${target.version.micro}) into ${userOutput}` + ` (attached with ${outcome.method} in ${ms} ms)\n`);
  for (const w of t.statusWarnings(outcome.status)) io.stderr.write(`memlens: warning: ${w}\n`);
  if (duration !== undefined) {
    io.stderr.write(`memlens: tracking stops by itself after ${duration} s; 'memlens detach ${pid}' stops it earlier\n`);
  } else {
    io.stderr.write(`memlens: run 'memlens detach ${pid}' to stop tracking and finalize the capture\n`);
  }
  // Also without --duration: if the target ends while tracked, the collector finalizes the capture and
  // removes the attach directory (nothing is left in /tmp).
  await spawnCollector(pid, session);
  return 0;
}

/**
 * Starts `memlens _collect` (commands/collect.ts) in the background: a small detached memlens that waits
 * for the end of tracking (--duration, `memlens detach`, or the end of the target), then finalizes the
 * capture (copy out of a container, compression) and removes the attach directory. It outlives
 * `memlens attach`.
 */
async function spawnCollector(pid: number, session: Session): Promise<void> {
  const { spawn } = await import('node:child_process');
  const { CLI_SCRIPT } = await import('../../util/package-root.js');
  const { nodeArgs } = await import('../../util/node-flags.js');
  // It inherits the target's /tmp and the attach directory open (descriptors 3 and 4): both stay reachable
  // after the target ended and /proc/PID/root with it (a container's file system seen from the host), and
  // no one can swap them for others meanwhile.
  const child = spawn(process.execPath, nodeArgs(CLI_SCRIPT, ['_collect', String(pid), session.name, session.key], []), {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', session.tmpFd, session.fd],
    cwd: '/',
  });
  child.unref();
  const { releaseSession } = await import('../../process/attach.js');
  releaseSession(session);
}

/** The target's command line, or nothing when it cannot be read (the attach itself will say why). */
function readCmdlineOr(read: (pid: number) => string[], pid: number): string[] {
  try {
    return read(pid);
  } catch {
    return [];
  }
}
