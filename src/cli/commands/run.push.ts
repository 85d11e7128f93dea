// `memlens run --push URL` (deployment.md): the program runs as under `memlens run`, sampled; the agent
// writes its capture into a pipe, and memlens turns it into a memory profile pushed every interval. With
// -o FILE the capture is kept too. The push runs here, in the memlens process: a slow or absent backend
// never reaches the program, whose exit status memlens returns as usual.

import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { UsageError } from '../../errors.js';
import { signalNumber } from '../../util/signals.js';
import { booleanOption, type CommandContext, type OptionValues } from '../command.js';
import type { PushConfig, SampleConfig } from '../push-options.js';
import { intervalOf, launchPlanned, prepareLaunch, targetOf, trackingConfig } from '../run-options.js';

/** Options of `memlens run` that pushing cannot go with, and why. */
const NOT_WITH_PUSH: Readonly<Record<string, string>> = {
  live: 'the live view and the push read the same stream; watch it in the profiling engine instead',
  'live-remote': 'the live view and the push read the same stream; watch it in the profiling engine instead',
  web: 'the live view and the push read the same stream; watch it in the profiling engine instead',
  aggregate: "the agent's aggregates keep no allocation sizes to weigh the samples with",
  'follow-fork': 'forked children write capture files of their own, which are not pushed',
  'memory-limit': 'a pushed service runs under its own container limit',
};

export function checkPushCombination(command: string, options: OptionValues): void {
  for (const [o, why] of Object.entries(NOT_WITH_PUSH)) {
    if (options[o] !== undefined && options[o] !== false) throw new UsageError(`${command}: --${o} cannot be combined with pushing: ${why}`);
  }
}

export async function runPush(ctx: CommandContext, options: OptionValues, positionals: readonly string[], push: PushConfig, sample: SampleConfig): Promise<number> {
  const { io } = ctx;
  checkPushCombination('run', options);
  const target = targetOf(options, positionals);
  const interval = intervalOf(options);
  const force = booleanOption(options, 'force');
  const native = booleanOption(options, 'native');
  const quiet = booleanOption(options, 'quiet');
  const plan = await prepareLaunch(io, options, target, false);
  const keep = plan.output;
  const { exitRecord } = await import('../../process/finish.js');

  const launched = await launchPlanned(io, plan, target, trackingConfig(options, interval, sample), { pipes: { capture: true } });
  const capture = launched.capture as Readable;
  const path = keep?.replace('{pid}', String(launched.pid));
  const file = path !== undefined ? createWriteStream(path, { flags: force ? 'w' : 'wx' }) : undefined;
  const { Tee } = await import('../../live/tee.js');
  const tee = new Tee(capture, file);
  const { PushSession, summaryLines } = await import('../push/push-session.js');
  const session = new PushSession({
    endpoints: push.endpoints,
    intervalMs: push.intervalMs,
    labels: { serviceName: push.serviceName, labels: push.labels },
    maxStacks: push.maxStacks,
    log: (line) => io.stderr.write(`${line}\n`),
    source: `PID ${launched.pid} (pipe)`,
    // Native frames are named from the images' symbol tables, read here as for reports (cli/symbolizer.ts).
    ...(native ? { symbolizer: (await import('../symbolizer.js')).fileSymbolizer() } : {}),
  });
  if (!quiet) {
    io.stderr.write(
      `memlens: pushing a memory profile of PID ${launched.pid} every ${push.intervalMs / 1000} s to ${push.endpoints.map((e) => e.display).join(' and ')} ` +
        `(service_name=${push.serviceName}, sampled every ${sample.rateBytes} bytes on average)\n`,
    );
  }
  const pushed = session.run(tee.reader());
  const end = await launched.exited;
  await tee.done();
  const summary = await pushed;
  if (!quiet) for (const line of summaryLines(summary)) io.stderr.write(`${line}\n`);
  if (path !== undefined) {
    const { readHeaderOf } = await import('../../process/finish.js');
    const header = readHeaderOf(path);
    if (header !== undefined) {
      const { appendToCaptureFile, recompressCaptureFile, sealCaptureFile } = await import('../capture-file.js');
      await sealCaptureFile(path);
      appendToCaptureFile(path, [exitRecord(header, { code: end.code, signal: signalNumber(end.signal), endMonoNs: end.endMonoNs, oomKill: end.signal === 'SIGKILL' ? 2 : 0, detail: '' })]);
      if (!booleanOption(options, 'no-compress')) await recompressCaptureFile(path);
      if (!quiet) io.stderr.write(`memlens: capture written to ${path}\n`);
    }
  }
  if (end.signal !== null) {
    io.killSelf?.(end.signal);
    return 128 + signalNumber(end.signal);
  }
  return end.code ?? 1;
}
