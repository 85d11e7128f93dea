// The live modes of `memlens run` (docs/live.md):
//   --live          the program runs in the foreground of the live view (terminal, or --web for a browser);
//                   its output shows in a panel of the view; -o FILE also keeps the capture;
//   --live-remote   the program runs as usual in this terminal and its capture is written as usual, while
//                   memlens serves the stream on 127.0.0.1:PORT for `memlens live PORT` in another terminal.
// In both, the agent writes into a pipe that memlens reads; nothing in the target changes.

import { createWriteStream, type WriteStream } from 'node:fs';
import type { Server } from 'node:net';
import type { Readable } from 'node:stream';
import { UsageError } from '../../errors.js';
import { closePrivateDir, openPrivateDir, removePrivateFile, writePrivateFile } from '../../util/private-dir.js';
import { signalNumber } from '../../util/signals.js';
import { booleanOption, stringOption, type CommandContext, type OptionValues } from '../command.js';
import { wantsColor } from '../io.js';
import type { SampleConfig } from '../push-options.js';
import { intervalOf, launchPlanned, prepareLaunch, targetOf, trackingConfig } from '../run-options.js';
import { escapeLine } from '../../util/terminal-text.js';

export interface LiveRunMode {
  readonly remote: boolean;
  readonly web: boolean;
  readonly sample: SampleConfig | undefined;
}

export async function runLive(ctx: CommandContext, options: OptionValues, positionals: readonly string[], mode: LiveRunMode): Promise<number> {
  const { io } = ctx;
  for (const o of ['aggregate', 'follow-fork', 'memory-limit']) {
    if (options[o] !== undefined && options[o] !== false) throw new UsageError(`run: --${o} cannot be used with --live or --live-remote`);
  }
  const target = targetOf(options, positionals);
  const interval = intervalOf(options);
  const force = booleanOption(options, 'force');
  const port = portOf(options);
  // --live-remote keeps a capture as memlens run does; --live only with -o.
  const plan = await prepareLaunch(io, options, target, mode.remote);
  const keep = plan.output;
  const { exitRecord } = await import('../../process/finish.js');
  if (mode.web) (await import('../../live/web.js')).loadLivePageAssets(); // fail before the program starts

  const foreground = !mode.remote && !mode.web; // the terminal view owns the terminal: the program's output goes to its panel
  const launched = await launchPlanned(io, plan, target, trackingConfig(options, interval, mode.sample), { pipes: { capture: true, output: foreground } });
  const capture = launched.capture as Readable;
  const path = keep?.replace('{pid}', String(launched.pid));
  // A new private file (output-file.ts): never written through a link, and only a regular file replaced.
  const file = path !== undefined ? createWriteStream(path, { fd: (await import('../output-file.js')).createOutputFile(path, { force }) }) : undefined;

  // Every byte of the stream goes to the file (if any) and to the viewers, whichever reads slower.
  const { Tee } = await import('../../live/tee.js');
  const tee = new Tee(capture, file, path);
  let server: Server | undefined;
  let forgetToken = (): void => undefined;
  if (mode.remote) {
    const remote = await import('../../live/remote-stream.js');
    const token = remote.newLiveToken();
    server = await remote.serveLiveStream(() => tee.reader(), port, token);
    const address = server.address();
    const actual = typeof address === 'object' && address !== null ? address.port : port;
    forgetToken = keepLiveToken(io.env, remote.liveTokenFileName(actual), token);
    io.stderr.write(`memlens: PID ${launched.pid} is tracked; watch it live with: memlens live ${actual}\n`);
    // The stream needs the token: `memlens live` finds it in this user's private directory; another
    // account or machine-wide tool gives it in the environment.
    io.stderr.write(`memlens: the stream asks for a token; as another user: ${remote.LIVE_TOKEN_ENV}=${token} memlens live ${actual}\n`);
  }

  const exit = launched.exited.then((end) => exitRecord(undefined, { code: end.code, signal: signalNumber(end.signal), endMonoNs: end.endMonoNs, oomKill: end.signal === 'SIGKILL' ? 2 : 0, detail: '' }));
  let quitEarly = false;
  if (!mode.remote) {
    const { LiveSession } = await import('../../live/live-session.js');
    const session = new LiveSession();
    void exit.then((e) => session.noteExit(e));
    if (mode.web) {
      const { runLiveWeb } = await import('../../live/web.js');
      const web = await runLiveWeb(tee.reader(), { session, stdout: io.stderr });
      // Ctrl-C while the program runs ends the program (launch passes it on) and then the page with it; so
      // do SIGTERM and SIGHUP (a service manager, `timeout`, a closed terminal: issue 11, the page kept
      // serving for minutes after a SIGTERM had ended the program), and a program those signals ended. After
      // the program ended on its own (an exit, a crash, the OOM killer), the page stays up for a look until
      // one of them.
      let interrupted = false;
      const onStop = (): void => {
        interrupted = true;
      };
      for (const sig of STOP_SIGNALS) process.on(sig, onStop);
      const ended = await launched.exited;
      await web.ended;
      for (const sig of STOP_SIGNALS) process.removeListener(sig, onStop);
      if (!interrupted && (ended.signal === null || !STOP_SIGNALS.includes(ended.signal))) {
        io.stderr.write(`memlens: the program ended; the page at ${web.url} stays up until Ctrl-C\n`);
        await waitForInterrupt();
      }
      await web.close();
    } else {
      const { OutputTail } = await import('../../live/output-tail.js');
      const { runLiveTerminal } = await import('../../live/tui.js');
      const tail = new OutputTail(1000);
      launched.stdout?.on('data', (d: Buffer) => tail.push('stdout', d)).on('end', () => tail.end('stdout'));
      launched.stderr?.on('data', (d: Buffer) => tail.push('stderr', d)).on('end', () => tail.end('stderr'));
      const result = await runLiveTerminal(tee.reader(), { input: io.stdin, output: io.stdout }, { session, output: tail, colour: wantsColor(io) });
      quitEarly = !(await settled(launched.exited));
      if (quitEarly) {
        // The user left the view: the program it was showing ends with it, as it would with Ctrl-C.
        process.kill(launched.pid, result.reason === 'signal' && result.signal !== undefined ? result.signal : 'SIGINT');
      }
      // What the program wrote after the view closed (or all of it, if it was short).
      const lines = tail.last(1000);
      if (lines.length > 0) io.stderr.write(`memlens: the program's last ${lines.length} lines of output:\n${lines.join('\n')}\n`);
    }
  }
  const end = await launched.exited;
  await tee.done();
  server?.close();
  forgetToken();
  if (path !== undefined) {
    const { readHeaderOf } = await import('../../process/finish.js');
    const header = readHeaderOf(path);
    if (header !== undefined) {
      const { finishCaptureFile, recompressCaptureFile, writeFailureLabel } = await import('../capture-file.js');
      const exit = exitRecord(header, { code: end.code, signal: signalNumber(end.signal), endMonoNs: end.endMonoNs, oomKill: end.signal === 'SIGKILL' ? 2 : 0, detail: '' });
      const captureEnd = await finishCaptureFile(path, exit, { writeFailed: tee.fileError !== undefined ? writeFailureLabel(tee.fileError) : undefined });
      if (captureEnd.stopped !== undefined) {
        const { describeWriteFailure } = await import('../../analysis/ending.js');
        const { formatTime } = await import('../../util/units.js');
        io.stderr.write(
          `memlens: ${describeWriteFailure(captureEnd.stopped.why)} ${formatTime(captureEnd.stopped.timeNs)} into the run: ${escapeLine(path)} holds what was recorded until then; the program went on (memlens verdict ${escapeLine(path)})\n`,
        );
      } else {
        if (!booleanOption(options, 'no-compress')) await recompressCaptureFile(path);
        if (!booleanOption(options, 'quiet')) io.stderr.write(`memlens: capture written to ${escapeLine(path)}; for a report, run: memlens summary ${escapeLine(path)}\n`);
      }
    }
  }
  if (end.signal !== null && !quitEarly) {
    io.killSelf?.(end.signal);
    return 128 + signalNumber(end.signal);
  }
  return end.code ?? (quitEarly ? 0 : 1);
}

function portOf(options: OptionValues): number {
  const raw = stringOption(options, 'live-port');
  if (raw === undefined) return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new UsageError(`run: --live-port ${raw}: give a port number from 1 to 65535`);
  if (options['live-remote'] !== true) throw new UsageError('run: --live-port goes with --live-remote');
  return n;
}

async function settled(p: Promise<unknown>): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);
}

/** The signals that end memlens's live view (after the program they were passed on to). */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function waitForInterrupt(): Promise<void> {
  return new Promise((resolveP) => {
    const done = (): void => {
      for (const sig of STOP_SIGNALS) process.removeListener(sig, done);
      resolveP();
    };
    for (const sig of STOP_SIGNALS) process.once(sig, done);
  });
}

/**
 * Keeps the token of the stream on PORT in the user's private directory for `memlens live PORT`; returns
 * what forgets it. Without a private directory the printed token is the only way.
 */
function keepLiveToken(env: Readonly<Record<string, string | undefined>>, name: string, token: string): () => void {
  const dir = openPrivateDir(env);
  if (dir === undefined) return () => undefined;
  try {
    writePrivateFile(dir, name, token);
  } catch {
    closePrivateDir(dir);
    return () => undefined;
  }
  return () => {
    removePrivateFile(dir, name);
    closePrivateDir(dir);
  };
}

export type { WriteStream };
