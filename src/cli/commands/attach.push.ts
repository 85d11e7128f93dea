// `memlens attach PID --push URL` (deployment.md): starts sampled tracking inside a running process and
// pushes a memory profile every interval until memlens is stopped (Ctrl-C, SIGTERM: tracking stops and
// every hook is removed, the target goes on as before) or the target ends. The agent streams its capture
// into a Unix socket in the attach directory, as for the live view (live-attach.ts).

import { chmodSync, createWriteStream } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { TargetError } from '../../errors.js';
import type { AttachMethod } from '../../process/attach.js';
import type { CommandContext } from '../command.js';
import type { PushConfig, SampleConfig } from '../push-options.js';
import type { TrackingConfig } from '../run-options.js';

export interface AttachPushOptions {
  readonly method: AttachMethod;
  readonly timeoutMs: number;
  /** What to track (run-options.ts); native stacks (--native) are named from the target's images as read by memlens. */
  readonly tracking: TrackingConfig;
  readonly output: string | undefined;
  readonly force: boolean;
  readonly quiet: boolean;
}

/** What a process is called by default in pushed profiles: its script or module, else its program. */
export function serviceNameOf(cmdline: readonly string[]): string {
  for (let i = 1; i < cmdline.length; i++) {
    const a = cmdline[i] as string;
    if (a === '-m' && i + 1 < cmdline.length) return cmdline[i + 1] as string;
    if (a === '-c') return 'python';
    if (!a.startsWith('-')) return basename(a).replace(/\.py$/, '') || 'python';
  }
  return basename(cmdline[0] ?? 'python') || 'python';
}

export async function attachPush(ctx: CommandContext, pid: number, push: PushConfig, sample: SampleConfig, o: AttachPushOptions): Promise<number> {
  const { io } = ctx;
  const { checkPlatform, findAgent } = await import('../../process/agent-files.js');
  const t = await import('../../process/attach.js');
  const { isAlive } = await import('../../process/proc.js');
  checkPlatform();
  const files = findAgent();
  const target = t.inspectTarget(pid);
  const keep = o.output !== undefined ? resolve(io.cwd, o.output) : undefined;
  if (keep !== undefined) {
    const { checkOutput } = await import('../output-file.js');
    checkOutput(keep, o.force);
  }
  const session = t.createSession(target, files);
  let server: Server | undefined;
  let attached = false;
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  try {
    const sockPath = join(session.hostDir, 'live.sock');
    const connected = new Promise<Socket>((resolveP) => {
      server = createServer((s) => resolveP(s));
    });
    await new Promise<void>((resolveP, rejectP) => {
      server?.once('error', rejectP);
      server?.listen(sockPath, () => resolveP());
    });
    chmodSync(sockPath, 0o777); // the target connects as its own user
    const outcome = await t.attachStreaming(target, session, files.library, o.tracking, { method: o.method, timeoutMs: o.timeoutMs });
    if (ctx.verbose) for (const l of outcome.log) io.stderr.write(`${l}\n`);
    if (!outcome.status.startsWith('ok')) throw new TargetError(`PID ${pid}: ${outcome.status.replace(/^error:\s*/, '')}`);
    attached = true;
    const socket = await Promise.race([connected, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
    if (socket === undefined) throw new TargetError(`PID ${pid} started tracking but did not connect to memlens`);
    const file = keep !== undefined ? createWriteStream(keep, { flags: o.force ? 'w' : 'wx' }) : undefined;
    const { Tee } = await import('../../live/tee.js');
    const tee = new Tee(socket, file);
    const { PushSession, summaryLines } = await import('../push/push-session.js');
    const pushSession = new PushSession({
      endpoints: push.endpoints,
      intervalMs: push.intervalMs,
      labels: { serviceName: push.serviceName, labels: push.labels },
      maxStacks: push.maxStacks,
      log: (line) => io.stderr.write(`${line}\n`),
      source: `PID ${pid} (socket)`,
      ...(o.tracking.native ? { symbolizer: (await import('../symbolizer.js')).fileSymbolizer() } : {}),
    });
    if (!o.quiet) {
      io.stderr.write(
        `memlens: pushing a memory profile of PID ${pid} every ${push.intervalMs / 1000} s to ${push.endpoints.map((e) => e.display).join(' and ')} ` +
          `(service_name=${push.serviceName}, sampled every ${sample.rateBytes} bytes on average); Ctrl-C or SIGTERM detaches\n`,
      );
    }
    const pushed = pushSession.run(tee.reader());
    // Stopping memlens detaches: the agent then ends the stream and the last interval is pushed.
    const stopped = new Promise<void>((r) => {
      const on = (): void => {
        stop();
        r();
      };
      process.once('SIGINT', on);
      process.once('SIGTERM', on);
    });
    await Promise.race([tee.done(), stopped]);
    if (stopping && isAlive(pid)) {
      await t.runInTarget(target, { action: 'detach', session, agentLibrary: files.library, duration: undefined, config: {} }, { method: o.method, timeoutMs: o.timeoutMs });
      attached = false;
    }
    await tee.done();
    const summary = await pushed;
    if (!o.quiet) for (const line of summaryLines(summary)) io.stderr.write(`${line}\n`);
    if (keep !== undefined && !o.quiet) io.stderr.write(`memlens: capture written to ${keep}\n`);
    return 0;
  } finally {
    server?.close();
    if (attached && isAlive(pid)) {
      try {
        await t.runInTarget(target, { action: 'detach', session, agentLibrary: files.library, duration: undefined, config: {} }, { method: o.method, timeoutMs: o.timeoutMs });
      } catch (e) {
        io.stderr.write(`memlens: warning: could not detach from PID ${pid}: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
    t.removeSession(session);
  }
}
