// memlens live PORT: the live view of a program started with `memlens run --live-remote` (in another
// terminal), read from 127.0.0.1:PORT.

import { connect } from 'node:net';
import { TargetError, UsageError } from '../../errors.js';
import { booleanOption, type Command } from '../command.js';
import { wantsColor } from '../io.js';

export const liveCommand: Command = {
  name: 'live',
  summary: "Watch a program started with 'memlens run --live-remote' (terminal or --web)",
  usage: 'PORT',
  options: {
    web: { type: 'boolean', description: 'Show the view in a browser (prints its URL) instead of the terminal' },
  },
  async run(ctx, options, positionals) {
    const [raw, extra] = positionals;
    const port = Number(raw);
    if (raw === undefined || !/^\d+$/.test(raw) || port <= 0 || port > 65535) throw new UsageError('live: give the PORT memlens run --live-remote printed');
    if (extra !== undefined) throw new UsageError(`live: unexpected argument '${extra}'`);
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolveP, rejectP) => {
      socket.once('connect', () => resolveP());
      socket.once('error', (e: NodeJS.ErrnoException) =>
        rejectP(
          new TargetError(`cannot connect to 127.0.0.1:${port}: ${e.code === 'ECONNREFUSED' ? 'nothing listens there' : e.message}`, {
            hint: "Start the program with 'memlens run --live-remote' and give the port it prints.",
          }),
        ),
      );
    });
    if (booleanOption(options, 'web')) {
      const { runLiveWeb } = await import('../../live/web.js');
      const web = await runLiveWeb(socket, { stdout: ctx.io.stderr });
      await web.ended;
      ctx.io.stderr.write(`memlens: the stream ended; the page at ${web.url} stays up until Ctrl-C\n`);
      await new Promise((r) => process.once('SIGINT', r));
      await web.close();
      return 0;
    }
    const { runLiveTerminal } = await import('../../live/tui.js');
    await runLiveTerminal(socket, { input: ctx.io.stdin, output: ctx.io.stdout }, { colour: wantsColor(ctx.io) });
    return 0;
  },
};
