// The capture stream of `memlens run --live-remote`, served to `memlens live PORT` over TCP on 127.0.0.1.
// The stream holds the program's command line, working directory and every allocation, and any local user
// can connect to a loopback port: so a client must first prove it has the token that memlens printed for
// the user (and kept in the user's private directory, util/private-dir.ts), as the browser view's URL does.
//
//   client → server   MEMLENS-LIVE 1 TOKEN\n
//   server → client   MEMLENS-LIVE ok\n, then the capture bytes from the first; or MEMLENS-LIVE denied\n
//
// The token is 192 random bits, compared in constant time (hashes of equal length, timingSafeEqual). A
// client that sends no line within HANDSHAKE_MS, or a line longer than MAX_LINE, is dropped.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { TargetError, UsageError } from '../errors.js';

/** The environment variable `memlens live` reads a token from (another account, another terminal). */
export const LIVE_TOKEN_ENV = 'MEMLENS_LIVE_TOKEN';
const HELLO = 'MEMLENS-LIVE 1 ';
const OK = 'MEMLENS-LIVE ok\n';
const DENIED = 'MEMLENS-LIVE denied\n';
const MAX_LINE = 256;
const HANDSHAKE_MS = 10_000;

export function newLiveToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The name under which memlens keeps the token of the stream on PORT in the user's private directory. */
export function liveTokenFileName(port: number): string {
  return `live-${port}.token`;
}

function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Serves `reader()` (a fresh iterator of the whole stream per client) on 127.0.0.1:port (0: any free port)
 * to clients that send the token; never on another interface.
 */
export async function serveLiveStream(reader: () => AsyncIterable<Uint8Array>, port: number, token: string): Promise<Server> {
  const server = createServer((socket: Socket) => {
    socket.on('error', () => socket.destroy());
    const timer = setTimeout(() => socket.destroy(), HANDSHAKE_MS);
    let line = '';
    const onData = (d: Buffer): void => {
      line += d.toString('latin1');
      const end = line.indexOf('\n');
      if (end < 0) {
        if (line.length > MAX_LINE) socket.destroy();
        return;
      }
      socket.off('data', onData);
      clearTimeout(timer);
      const hello = line.slice(0, end);
      if (!hello.startsWith(HELLO) || !sameToken(hello.slice(HELLO.length), token)) {
        socket.end(DENIED);
        return;
      }
      socket.write(OK);
      void (async () => {
        for await (const chunk of reader()) {
          if (socket.destroyed) return;
          if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
        }
        socket.end();
      })();
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolveP, rejectP) => {
    server.once('error', (e: NodeJS.ErrnoException) => rejectP(new UsageError(`run: cannot listen on 127.0.0.1:${port}: ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`)));
    server.listen(port, '127.0.0.1', () => resolveP());
  });
  return server;
}

/**
 * Connects to the stream on 127.0.0.1:port with the token; resolves with the socket positioned at the
 * capture's first byte, or rejects with a TargetError (nothing listens, wrong token).
 */
export async function connectLiveStream(port: number, token: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  return new Promise<Socket>((resolveP, rejectP) => {
    let reply = Buffer.alloc(0);
    const fail = (e: TargetError): void => {
      socket.destroy();
      rejectP(e);
    };
    socket.once('error', (e: NodeJS.ErrnoException) =>
      fail(
        new TargetError(`cannot connect to 127.0.0.1:${port}: ${e.code === 'ECONNREFUSED' ? 'nothing listens there' : e.message}`, {
          hint: "Start the program with 'memlens run --live-remote' and give the port it prints.",
        }),
      ),
    );
    socket.once('connect', () => socket.write(`${HELLO}${token}\n`));
    const onData = (d: Buffer): void => {
      reply = Buffer.concat([reply, d]);
      const end = reply.indexOf(0x0a);
      if (end < 0) {
        if (reply.length > MAX_LINE) fail(new TargetError(`127.0.0.1:${port} is not a memlens live stream`));
        return;
      }
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      const line = `${reply.subarray(0, end + 1).toString('latin1')}`;
      if (line === DENIED) return fail(new TargetError(`127.0.0.1:${port} refused the token`, { hint: `Give the token 'memlens run --live-remote' printed, in ${LIVE_TOKEN_ENV}.` }));
      if (line !== OK) return fail(new TargetError(`127.0.0.1:${port} is not a memlens live stream`));
      const rest = reply.subarray(end + 1);
      if (rest.length > 0) socket.unshift(rest);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // the reader sees it as the end of the stream
      resolveP(socket);
    };
    const onEnd = (): void => fail(new TargetError(`127.0.0.1:${port} closed the connection before the stream began`));
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}
