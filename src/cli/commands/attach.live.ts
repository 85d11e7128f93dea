// memlens attach PID without -o: the live view of a running process. The agent in the target streams its
// capture into a Unix socket that memlens listens on, in the attach directory (reachable from both sides,
// containers included: path-based Unix sockets do not depend on the network namespace). Quitting the view
// detaches: tracking stops and every hook is removed.

import { createServer, type Server, type Socket } from 'node:net';
import { TargetError } from '../../errors.js';
import type { AttachMethod } from '../../process/attach.js';
import type { CommandContext } from '../command.js';
import { wantsColor } from '../io.js';
import type { TrackingConfig } from '../run-options.js';
import { escapeLine } from '../../util/terminal-text.js';

export interface LiveAttachOptions {
  readonly method: AttachMethod;
  readonly timeoutMs: number;
  /** What to track (run-options.ts). */
  readonly tracking: TrackingConfig;
  readonly web: boolean;
}

export async function liveAttach(ctx: CommandContext, pid: number, o: LiveAttachOptions): Promise<number> {
  const { io } = ctx;
  const { checkPlatform, findAgent } = await import('../../process/agent-files.js');
  const t = await import('../../process/attach.js');
  checkPlatform();
  const files = findAgent();
  const target = t.inspectTarget(pid);
  let server: Server | undefined;
  const connected = new Promise<Socket>((resolveP) => {
    server = createServer((s) => resolveP(s));
  });
  server?.on('error', () => undefined); // a failed bind shows as no socket (createSession)
  // The socket is made in the attach directory before the target's user gets it: 0600, the target's (it
  // connects as its own user); no one else can reach it.
  const session = t.createSession(target, files, { listen: server });
  let attached = false;
  // memlens interrupted (Ctrl-C of the web view, a signal to the terminal view) ends tracking as
  // "interrupted"; quitting a view, as a detach.
  let interrupted = false;
  // Ctrl-C while waiting for the target: the request is withdrawn (or, if the target had begun, the attach
  // completes and is detached below): the target ends up as it was.
  const abort = new AbortController();
  const onInt = (): void => abort.abort();
  process.once('SIGINT', onInt);
  try {
    const outcome = await t.attachStreaming(target, session, files.library, o.tracking, { method: o.method, timeoutMs: o.timeoutMs, signal: abort.signal });
    process.removeListener('SIGINT', onInt);
    if (ctx.verbose) for (const l of outcome.log) io.stderr.write(`${l}\n`);
    if (!outcome.status.startsWith('ok')) throw new TargetError(`PID ${pid}: ${t.statusLine(outcome.status).replace(/^error:\s*/, '')}`);
    for (const w of t.statusWarnings(outcome.status)) io.stderr.write(`memlens: warning: ${w}\n`);
    attached = true;
    if (abort.signal.aborted) throw new TargetError(`attach cancelled; PID ${pid} had begun to attach, and is detached again`, { exitCode: 130 });
    const socket = await Promise.race([connected, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
    if (socket === undefined) throw new TargetError(`PID ${pid} started tracking but did not connect to the live view`);
    if (o.web) {
      const { runLiveWeb } = await import('../../live/web.js');
      const web = await runLiveWeb(socket, { stdout: io.stderr });
      io.stderr.write(`memlens: Ctrl-C stops tracking PID ${pid} (detach) and closes the page\n`);
      await Promise.race([
        web.ended,
        new Promise((r) =>
          process.once('SIGINT', () => {
            interrupted = true;
            r(undefined);
          }),
        ),
      ]);
      await web.close();
    } else {
      const { runLiveTerminal } = await import('../../live/tui.js');
      const result = await runLiveTerminal(socket, { input: io.stdin, output: io.stdout }, { colour: wantsColor(io) });
      // A signal to memlens (SIGINT from outside the raw-mode terminal, SIGTERM, SIGHUP) interrupted it.
      interrupted = result.reason === 'signal';
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onInt);
    server?.close();
    if (attached && (await import('../../process/proc.js')).isAlive(pid)) {
      // Leaving the view ends tracking: the target goes on as before.
      try {
        await t.runInTarget(
          target,
          { action: 'detach', session, agentLibrary: files.library, duration: undefined, config: interrupted ? { reason: 'interrupted' } : {} },
          { method: o.method, timeoutMs: o.timeoutMs },
        );
      } catch (e) {
        io.stderr.write(`memlens: warning: could not detach from PID ${pid}: ${escapeLine(e instanceof Error ? e.message : String(e))}\n`);
      }
    }
    t.removeSession(session);
  }
}
