// The pusher against real HTTP servers on the loopback interface: one that accepts, one that refuses with a
// Connect error, one that fails and recovers, one too slow to answer, and none at all. What is asserted is
// what the user is told and what is counted, never how long anything took.

import assert from 'node:assert/strict';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type PushEndpoint, Pusher } from './pusher.js';

interface Received {
  readonly body: Buffer;
  readonly headers: IncomingMessage['headers'];
}

async function serve(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse, n: number) => void): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ body, headers: req.headers });
      handler(req, body, res, received.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/push`, received };
}

function endpoint(url: string): PushEndpoint {
  return { kind: 'Pyroscope', url, display: url, headers: { 'Content-Type': 'application/proto', 'X-Scope-OrgID': 'acme' } };
}

const FAST = { minBackoffMs: 10, maxBackoffMs: 50 };

test('accepted profiles are sent in order, with their headers', async () => {
  const { server, url, received } = await serve((_q, _b, res) => res.end());
  const log: string[] = [];
  const p = new Pusher(endpoint(url), { log: (l) => log.push(l), ...FAST });
  p.enqueue(Buffer.from('one'));
  p.enqueue(Buffer.from('two'));
  await p.close(30_000);
  server.close();
  assert.deepEqual(
    received.map((r) => r.body.toString()),
    ['one', 'two'],
  );
  assert.equal(received[0]?.headers['x-scope-orgid'], 'acme');
  assert.match(String(received[0]?.headers['user-agent']), /^memlens\//);
  assert.deepEqual([p.stats.pushed, p.stats.refused, p.stats.droppedAtEnd], [2, 0, 0]);
  assert.deepEqual(log, []);
});

test('a refusal (4xx) drops that profile, says why once, and the next ones are still sent', async () => {
  const { server, url, received } = await serve((_q, body, res) => {
    if (body.toString().startsWith('bad')) {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ code: 'invalid_argument', message: 'profile series has 31 label names; limit 30' }));
    } else res.end();
  });
  const log: string[] = [];
  const p = new Pusher(endpoint(url), { log: (l) => log.push(l), ...FAST });
  for (const b of ['bad1', 'good1', 'bad2', 'good2']) p.enqueue(Buffer.from(b));
  await p.close(30_000);
  server.close();
  assert.equal(received.length, 4);
  assert.deepEqual([p.stats.pushed, p.stats.refused], [2, 2]);
  assert.equal(log.length, 1, log.join('\n'));
  assert.match(log[0] as string, /refused a profile \(HTTP 400: invalid_argument: profile series has 31 label names; limit 30\); it is dropped/);
});

test('a backend that fails, then recovers: retried with backoff, one line each way', async () => {
  const { server, url } = await serve((_q, _b, res, n) => {
    res.writeHead(n <= 3 ? 503 : 200);
    res.end(n <= 3 ? 'overloaded' : '');
  });
  const log: string[] = [];
  const p = new Pusher(endpoint(url), { log: (l) => log.push(l), ...FAST });
  p.enqueue(Buffer.from('x'));
  await p.close(30_000);
  server.close();
  assert.deepEqual([p.stats.pushed, p.stats.failedAttempts, p.stats.droppedAtEnd], [1, 3, 0]);
  assert.equal(log.length, 2, log.join('\n'));
  assert.match(log[0] as string, /failed \(HTTP 503: overloaded\); retrying, with profiles kept in memory \(at most 32\)/);
  assert.match(log[1] as string, /works again \(after 3 failed attempts\)/);
});

test('no backend at all: bounded queue, the oldest dropped and counted, the rest given up at the end', async () => {
  const { server, url } = await serve((_q, _b, res) => res.end());
  await new Promise<void>((r) => server.close(() => r())); // the port is now closed
  const log: string[] = [];
  const p = new Pusher(endpoint(url), { log: (l) => log.push(l), maxQueue: 4, ...FAST });
  for (let i = 0; i < 10; i++) p.enqueue(Buffer.from(`p${i}`));
  assert.equal(p.queued, 4);
  await p.close(100);
  assert.deepEqual([p.stats.pushed, p.stats.droppedQueueFull, p.stats.droppedAtEnd], [0, 6, 4]);
  assert.equal(log.length, 1, log.join('\n'));
  assert.match(log[0] as string, /push to http:\/\/127\.0\.0\.1:\d+\/push failed \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
  assert.match(String(p.stats.lastError), /ECONNREFUSED/);
});

test('a backend too slow to answer: each request times out and is retried; memlens gives up at the end', async () => {
  const pending: ServerResponse[] = [];
  const { server, url } = await serve((_q, _b, res) => pending.push(res)); // never answers
  const log: string[] = [];
  const p = new Pusher(endpoint(url), { log: (l) => log.push(l), timeoutMs: 100, ...FAST });
  p.enqueue(Buffer.from('slow'));
  while (p.stats.failedAttempts < 2) await new Promise((r) => setTimeout(r, 20));
  await p.close(0);
  for (const res of pending) res.destroy();
  server.closeAllConnections();
  server.close();
  assert.equal(p.stats.pushed, 0);
  assert.equal(p.stats.droppedAtEnd, 1);
  assert.match(log[0] as string, /failed \(no answer within 0\.1 s\)/);
});
