// memlens live PORT: the live view of a program started with `memlens run --live-remote` (in another
// terminal), read from 127.0.0.1:PORT with the stream's token (live/remote-stream.ts): from
// $MEMLENS_LIVE_TOKEN, else from this user's private directory, where `memlens run --live-remote` left it.

import { TargetError, UsageError } from '../../errors.js';
import { booleanOption, type Command } from '../command.js';
import { wantsColor } from '../io.js';

export const liveCommand: Command = {
  name: 'live',
  summary: "Watch a program started with 'memlens run --live-remote' (terminal or --web)",
  usage: 'PORT',
  description:
    "The stream asks for the token 'memlens run --live-remote' printed: run as the same user, memlens live finds it " +
    'in your private directory; otherwise give it in the environment, MEMLENS_LIVE_TOKEN=TOKEN memlens live PORT.',
  options: {
    web: { type: 'boolean', description: 'Show the view in a browser (prints its URL) instead of the terminal' },
  },
  async run(ctx, options, positionals) {
    const [raw, extra] = positionals;
    const port = Number(raw);
    if (raw === undefined || !/^\d+$/.test(raw) || port <= 0 || port > 65535) throw new UsageError('live: give the PORT memlens run --live-remote printed');
    if (extra !== undefined) throw new UsageError(`live: unexpected argument '${extra}'`);
    const remote = await import('../../live/remote-stream.js');
    const token = ctx.io.env[remote.LIVE_TOKEN_ENV] ?? (await savedToken(ctx.io.env, remote.liveTokenFileName(port)));
    if (token === undefined || token === '') {
      throw new TargetError(`no token for the stream on port ${port}`, {
        hint: `Run memlens live as the user who started 'memlens run --live-remote', or give the token it printed in ${remote.LIVE_TOKEN_ENV}.`,
      });
    }
    const socket = await remote.connectLiveStream(port, token.trim());
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

async function savedToken(env: Readonly<Record<string, string | undefined>>, name: string): Promise<string | undefined> {
  const { closePrivateDir, openPrivateDir, readPrivateFile } = await import('../../util/private-dir.js');
  const dir = openPrivateDir(env, { create: false });
  if (dir === undefined) return undefined;
  try {
    return readPrivateFile(dir, name, 1024);
  } finally {
    closePrivateDir(dir);
  }
}
