// memlens run [options] (script.py | -m module | -c code) [args...]: runs a Python program with the agent
// inside it and writes a capture. The program behaves as under python3: same stdio, exit status, signals.

import { readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { MemlensError, UsageError } from '../../errors.js';
import { booleanOption, stringOption, type Command, type CommandContext, type OptionValues } from '../command.js';
import { PUSH_OPTIONS, SAMPLE_OPTIONS, type SampleConfig, pushConfigOf, sampleConfigOf } from '../push-options.js';
import { DEFAULT_INTERVAL_MS, intervalOf, launchPlanned, prepareLaunch, stemOf, targetOf, trackingConfig } from '../run-options.js';
import { escapeLine } from '../../util/terminal-text.js';
import type { CaptureEnd } from '../capture-file.js';
import { DISK_ROOM_LEFT } from '../disk-room.js';

/** The status agent/python/memlens_bootstrap.py exits with when it cannot load the agent or start tracking. */
const BOOTSTRAP_REFUSED = 70;

export const runCommand: Command = {
  name: 'run',
  summary: 'Run a Python program and capture its memory allocations',
  usage: '(script.py | -m MODULE | -c CODE) [ARGS...]',
  description:
    'The program runs as under python3 (the first python3 on PATH, so an active virtualenv is used): same ' +
    'standard streams, exit status and signals. The capture goes to memlens-<script>.<pid>.mlens in the ' +
    "current directory unless -o says otherwise; 'memlens summary FILE' shows a report.",
  stopAtFirstPositional: true,
  terminalOptions: ['module', 'code'],
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', description: 'Write the capture to FILE' },
    force: { type: 'boolean', short: 'f', description: 'Overwrite FILE if it exists (it is removed as the program starts)' },
    module: { type: 'string', short: 'm', value: 'MODULE', description: 'Run a library module as a script (as python3 -m)' },
    code: { type: 'string', short: 'c', value: 'CODE', description: 'Run CODE (as python3 -c)' },
    python: { type: 'string', value: 'PATH', description: 'The Python interpreter (default: python3 on PATH)' },
    native: { type: 'boolean', description: 'Also record native (C/C++) stacks' },
    'trace-python-allocators': { type: 'boolean', description: "Record every Python object allocation (pymalloc), not only the system allocator's" },
    'follow-fork': { type: 'boolean', description: 'Also capture forked children, one file each (<stem>.<childpid>.mlens)' },
    aggregate: { type: 'boolean', description: 'Aggregate in the process: a small capture of stacks and totals' },
    'memory-interval-ms': { type: 'string', value: 'N', description: `Milliseconds between memory snapshots (default ${DEFAULT_INTERVAL_MS})` },
    'memory-limit': { type: 'string', value: 'SIZE', description: 'Run under this memory limit (512M, 2G), in a child cgroup, to reproduce an OOM kill' },
    'near-oom': { type: 'string', value: 'SHARE', description: 'Mark the moment usage crosses this share of the cgroup limit (default 0.9); a census of live objects is taken then' },
    live: { type: 'boolean', description: 'Run the program in the foreground of a live view of its memory' },
    'live-remote': { type: 'boolean', description: "Serve a live view on 127.0.0.1 for 'memlens live PORT' (the capture is written too)" },
    'live-port': { type: 'string', value: 'N', description: 'The port for --live-remote (default: a free one)' },
    web: { type: 'boolean', description: 'With --live: show the live view in a browser (prints its URL)' },
    'census-at-peak': { type: 'boolean', description: 'Take censuses of live Python objects as memory grows (the last is near the peak)' },
    quiet: { type: 'boolean', short: 'q', description: 'Print nothing but errors' },
    'no-compress': { type: 'boolean', description: 'Leave the capture uncompressed' },
    ...SAMPLE_OPTIONS,
    ...PUSH_OPTIONS,
  },
  async run(ctx, options, positionals) {
    const push = pushConfigOf('run', options, ctx.io, stemOf(targetOf(options, positionals)));
    const sample = sampleConfigOf('run', options, ctx.io.env, push !== undefined);
    if (push !== undefined && sample !== undefined) {
      const { runPush } = await import('./run.push.js');
      return runPush(ctx, options, positionals, push, sample);
    }
    const live = booleanOption(options, 'live');
    const remote = booleanOption(options, 'live-remote');
    if (live && remote) throw new UsageError('run: choose --live or --live-remote, not both');
    if (booleanOption(options, 'web') && !live) throw new UsageError('run: --web goes with --live');
    if (live || remote) {
      const { runLive } = await import('./run.live.js');
      return runLive(ctx, options, positionals, { remote, web: booleanOption(options, 'web'), sample });
    }
    if (stringOption(options, 'live-port') !== undefined) throw new UsageError('run: --live-port goes with --live-remote');
    return runProgram(ctx, options, positionals, sample);
  },
};

function nearOomOf(options: OptionValues): number | undefined {
  const raw = stringOption(options, 'near-oom');
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1) throw new UsageError(`run: --near-oom ${raw}: give a share of the limit above 0 and at most 1, such as 0.9`);
  return Math.round(n * 1000);
}

function memoryLimitOf(options: OptionValues, parseSize: (text: string) => number | undefined): number | undefined {
  const raw = stringOption(options, 'memory-limit');
  if (raw === undefined) return undefined;
  const n = parseSize(raw);
  if (n === undefined) throw new UsageError(`run: --memory-limit ${raw}: give a size such as 512M or 2G`);
  if (n < 1024 * 1024) throw new UsageError(`run: --memory-limit ${raw}: at least 1M`);
  return n;
}

/** Captures of forked children written next to `path` (`<stem>.<pid>.mlens`, and their children's). */
function childCaptures(path: string): string[] {
  const dir = dirname(path);
  const stem = basename(path).replace(/\.mlens$/, '');
  const re = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\.\\d+)+\\.mlens$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => join(dir, n));
}

async function runProgram(ctx: CommandContext, options: OptionValues, positionals: readonly string[], sample: SampleConfig | undefined): Promise<number> {
  const { io } = ctx;
  const target = targetOf(options, positionals);
  const interval = intervalOf(options);
  const nearOom = nearOomOf(options);
  const { formatBytes, formatTime, parseSize } = await import('../../util/units.js');
  const memoryLimit = memoryLimitOf(options, parseSize);
  const quiet = booleanOption(options, 'quiet');
  const force = booleanOption(options, 'force');
  const plan = await prepareLaunch(io, options, target, true);
  const outputPattern = plan.output as string; // defaultOutput: there is always one
  const explicitOutput = plan.explicitOutput;
  const { signalNumber } = await import('../../util/signals.js');
  const { exitRecord, readHeaderOf } = await import('../../process/finish.js');

  const { planMemoryLimit, releaseMemoryLimit } = await import('../../process/memory-limit.js');
  const { memoryCgroupOf, oomKillCount } = await import('../../process/cgroup.js');
  const limit = memoryLimit !== undefined ? planMemoryLimit(memoryLimit, `memlens-${process.pid}`) : undefined;
  if (limit?.kind === 'rlimit' && !quiet) {
    io.stderr.write(`memlens: warning: cannot create a memory cgroup (${limit.why}); limiting the address space instead: the program will see MemoryError rather than an OOM kill\n`);
  }
  // The OOM-kill counter of the cgroup the program runs in, before it starts.
  const programCgroup = limit?.kind === 'cgroup' ? limit.cgroup : memoryCgroupOf();
  const oomBefore = programCgroup !== undefined ? oomKillCount(programCgroup) : undefined;
  // -f: the old capture goes once the program passed its checks (a program that fails them leaves it in
  // place), before the agent starts rather than when it truncates the file, so that the compressor, which
  // follows the file from the moment it exists, never reads the old capture's bytes as the new one's.
  // Only a regular file is replaced (output-file.ts): a device or FIFO at the path was refused by the check.
  const removeOld = explicitOutput && force && !outputPattern.includes('{pid}') ? (await import('../output-file.js')).removeForReplace : undefined;
  const { kernelClockUs } = await import('../../process/kernel-log.js');
  const startedUs = kernelClockUs();

  const launched = await launchPlanned(
    io,
    plan,
    target,
    {
      output: outputPattern,
      overwrite: force,
      ...trackingConfig(options, interval, sample),
      ...(nearOom !== undefined ? { near_oom_permille: nearOom } : {}),
      ...(booleanOption(options, 'census-at-peak') ? { census_growth: true } : {}),
    },
    { ...(limit !== undefined ? { wrapper: limit.wrapper } : {}), ...(removeOld !== undefined ? { beforeStart: () => removeOld(outputPattern) } : {}) },
  ).catch(async (e: unknown) => {
    if (limit !== undefined) await releaseMemoryLimit(limit);
    throw e;
  });
  // Compression follows the capture while the program runs, on the core it leaves free: when it ends, only
  // the last blocks remain to compress.
  const compress = !booleanOption(options, 'no-compress');
  const { FollowingCompressor } = await import('../capture-file.js');
  const { processCpuClock } = await import('../../process/proc.js');
  const cpu = compress ? processCpuClock(launched.pid) : undefined;
  const follower = cpu !== undefined ? new FollowingCompressor(outputPattern.replace('{pid}', String(launched.pid)), cpu.ms) : undefined;
  follower?.start();
  const end = await launched.exited;
  cpu?.close();
  const oomAfter = programCgroup !== undefined ? oomKillCount(programCgroup) : undefined;
  if (limit !== undefined) await releaseMemoryLimit(limit);
  const { judgeOomKill } = await import('../../process/oom.js');
  const oom = judgeOomKill(launched.pid, startedUs, end.signal, oomBefore, oomAfter);
  const path = outputPattern.replace('{pid}', String(launched.pid));
  const signal = signalNumber(end.signal);
  const header = readHeaderOf(path);
  const wrote = header !== undefined;
  let captureEnd: CaptureEnd | undefined;
  if (wrote) {
    const exit = exitRecord(header, {
      code: end.code,
      signal,
      endMonoNs: end.endMonoNs,
      oomKill: oom.oomKill,
      detail: oom.detail,
      memlensSignal: signalNumber(end.memlensSignal),
    });
    // A writer killed in the middle of a block (the OOM killer, typically) leaves it cut: the file is made to
    // end on a block boundary again before the EXIT record goes in (finishCaptureFile); on a full disk it
    // makes room for it, and says where the capture stops.
    const { finishCaptureFile } = await import('../capture-file.js');
    let compressed: string | undefined;
    try {
      compressed = await follower?.finish();
    } catch (e) {
      follower?.abandon();
      if (!(e instanceof MemlensError)) throw e;
      io.stderr.write(`memlens: warning: ${escapeLine(path)} left uncompressed: ${escapeLine(e.message)}\n`);
    }
    if (compressed !== undefined) {
      const onCopy = await finishCaptureFile(compressed, exit);
      if (onCopy.exitWritten) {
        renameSync(compressed, path);
        captureEnd = onCopy;
      } else {
        // Not even the compressed copy takes the EXIT record: the disk is full. Its room goes to the original.
        rmSync(compressed, { force: true });
      }
    }
    // The follower met a full disk, or the agent cutting off a block it could not write: evidence for
    // finishCaptureFile when the agent's own CAPTURE_STOPPED marker did not reach the file.
    const diskFullSeen = follower?.gaveUp === 'no-space' || follower?.gaveUp === 'shrunk';
    captureEnd ??= await finishCaptureFile(path, exit, { diskFullSeen });
    if (follower?.gaveUp === 'no-room' && captureEnd.stopped === undefined && !quiet) {
      io.stderr.write(`memlens: warning: ${escapeLine(path)} left uncompressed: less than ${DISK_ROOM_LEFT >> 20} MiB free on its file system\n`);
    }
  } else {
    follower?.abandon();
  }
  // A path as a message shows it: relative when inside the working directory, on one line.
  const rel = (p: string): string => {
    const r = relative(io.cwd, p);
    return escapeLine(r.startsWith('..') ? p : r);
  };
  // The bootstrap could not start tracking (its one line said why, on the program's stderr) and ran nothing.
  const refused = !wrote && end.signal === null && end.code === BOOTSTRAP_REFUSED;
  if (!wrote) {
    if (!refused) io.stderr.write(`memlens: no capture was written to ${rel(path)}: the program ended before tracking started\n`);
    if (oom.oomKill === 1 && memoryLimit !== undefined) {
      io.stderr.write(`memlens: the OOM killer ended it: a limit of ${stringOption(options, 'memory-limit') ?? ''} is too small to start Python\n`);
    }
  } else {
    const children = booleanOption(options, 'follow-fork') ? childCaptures(path) : [];
    if (compress) {
      const { recompressCaptureFile } = await import('../capture-file.js');
      for (const p of children) {
        try {
          await recompressCaptureFile(p);
        } catch (e) {
          if (!(e instanceof MemlensError)) throw e;
          io.stderr.write(`memlens: warning: ${rel(p)} left uncompressed: ${escapeLine(e.message)}\n`);
        }
      }
    }
    const stop = captureEnd?.stopped;
    if (stop !== undefined) {
      // One line, even with -q: the capture is not all of the run.
      const { describeWriteFailure } = await import('../../analysis/ending.js');
      const lost = captureEnd?.exitWritten === false ? ', and how the program ended is not in it' : '';
      io.stderr.write(
        `memlens: ${describeWriteFailure(stop.why)} ${formatTime(stop.timeNs)} into the run: ${rel(path)} (${formatBytes(statSync(path).size)}) holds what was recorded until then${lost}; the program went on untracked (memlens verdict ${rel(path)})\n`,
      );
    } else if (!quiet) {
      io.stderr.write(`memlens: capture written to ${rel(path)} (${formatBytes(statSync(path).size)})\n`);
      if (children.length > 0) {
        io.stderr.write(`memlens: ${children.length} forked ${children.length === 1 ? 'child' : 'children'} captured too: ${children.map(rel).join(', ')}\n`);
      }
      if (oom.oomKill === 1) io.stderr.write(`memlens: the program was killed by the kernel's OOM killer${oom.detail !== '' ? ` (${escapeLine(oom.detail)})` : ''}\n`);
      io.stderr.write(`memlens: for a report, run: memlens ${oom.oomKill === 1 ? 'verdict' : 'summary'} ${rel(path)}\n`);
    }
  }
  if (end.signal !== null) {
    io.killSelf?.(end.signal);
    return 128 + signal;
  }
  return end.code ?? 1;
}
