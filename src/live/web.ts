// The live view in a browser: a small HTTP server on 127.0.0.1, on a port the system picks, every URL
// under a random path token (128 bits+; a request without it gets 404, so another local user or a web
// page that guesses the port learns nothing). It serves one self-contained page (the viewer's live
// bundle, viewer/src/live/, inlined with a Content-Security-Policy that lets only those two inlined
// pieces run and apply, and lets the page fetch only from this server) and the view's state as JSON.
//
// Entry point (the integrator's commands call it; `memlens run --live --web`, `memlens attach --web`):
//
//   const web = await runLiveWeb(source, { session, stdout: io.stdout });   // prints the URL
//   ...                                                                     // until Ctrl-C, say
//   await web.close();
//
// `source` is any AsyncIterable<Uint8Array> of capture bytes, read as fast as it comes. `web.ended`
// resolves when the stream ended (the server keeps serving the last state until close()). close() stops
// the server and closes the source (a Readable is destroyed: the agent's writes get EPIPE and it stops
// tracking without harm to the target).
//
// GET {token}/state?sort=total|own|count&thread=N&rows=N&points=N answers LiveView (view-data.ts).

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FileError } from '../errors.js';
import { inlinePage } from '../html/inline-page.js';
import type { InlineAssets } from '../html/inline-policy.js';
import { LiveSession } from './live-session.js';
import type { SortKey } from './view-data.js';
import { REINSTALL_HINT, VIEWER_DIR } from '../util/package-root.js';

export interface LiveWebOptions {
  readonly session?: LiveSession | undefined;
  /** Where to print the URL (one line); nothing printed when absent. */
  readonly stdout?: { write(text: string): unknown } | undefined;
  /** Port to listen on (default 0: any free one). The address is always 127.0.0.1. */
  readonly port?: number | undefined;
  /** Time the heap sparkline covers (default 2 minutes). */
  readonly sparkWindowNs?: number | undefined;
  /** The page's assets (tests); default: the built bundle in dist/viewer/. */
  readonly assets?: LivePageAssets | undefined;
}

export interface LiveWebServer {
  /** http://127.0.0.1:PORT/TOKEN/ */
  readonly url: string;
  readonly port: number;
  readonly session: LiveSession;
  /** Resolves when the capture stream ended. */
  readonly ended: Promise<void>;
  close(): Promise<void>;
}

export type LivePageAssets = InlineAssets;

let cachedAssets: LivePageAssets | undefined;

/** The live page's bundle (dist/viewer/live.js and live-style.css, made by `npm run build`). */
export function loadLivePageAssets(): LivePageAssets {
  if (cachedAssets !== undefined) return cachedAssets;
  const scriptPath = join(VIEWER_DIR, 'live.js');
  try {
    cachedAssets = {
      script: readFileSync(scriptPath, 'utf8').trim(),
      style: readFileSync(join(VIEWER_DIR, 'live-style.css'), 'utf8').trim(),
    };
  } catch (e) {
    throw new FileError(`the live view's page is not built (${scriptPath} is missing)`, { hint: REINSTALL_HINT, cause: e });
  }
  return cachedAssets;
}

/** The page: our own text only (no program data: that comes as JSON and goes on the page as text). */
export function livePage(assets: LivePageAssets): { html: string; csp: string } {
  const { html, csp } = inlinePage({
    name: 'the live page',
    assets,
    directives: ["connect-src 'self'", 'img-src data:'],
    meta: ['<meta name="referrer" content="no-referrer">'],
    title: 'memlens live',
    body: ['<div id="app"><p>Connecting to memlens…</p><noscript>The live view needs JavaScript.</noscript></div>'],
  });
  // frame-ancestors only works in the header (a browser ignores it in <meta>, with a console warning).
  return { html, csp: `${csp}; frame-ancestors 'none'` };
}

const SORTS: readonly SortKey[] = ['total', 'own', 'count'];

function intParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  return Number.isInteger(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

export async function runLiveWeb(source: AsyncIterable<Uint8Array>, options: LiveWebOptions = {}): Promise<LiveWebServer> {
  const session = options.session ?? new LiveSession();
  const page = livePage(options.assets ?? loadLivePageAssets());
  const token = randomBytes(24).toString('base64url');
  const prefix = Buffer.from(`/${token}/`);

  const common = {
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
  const notFound = (res: ServerResponse): void => {
    res.writeHead(404, { ...common, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Not found\n');
  };
  /** The part of the path after the token, or undefined when the token is not there. */
  const route = (url: string): string | undefined => {
    const path = url.split('?', 1)[0] ?? '';
    const head = Buffer.from(path.slice(0, prefix.length));
    if (head.length !== prefix.length || !timingSafeEqual(head, prefix)) return undefined;
    return path.slice(prefix.length);
  };
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const rest = route(url);
    if (rest === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return notFound(res);
    if (rest === '' || rest === 'index.html') {
      res.writeHead(200, { ...common, 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': page.csp });
      res.end(req.method === 'HEAD' ? undefined : page.html);
      return;
    }
    if (rest === 'state') {
      const params = new URL(url, 'http://127.0.0.1').searchParams;
      const sortText = params.get('sort') ?? 'total';
      const sort = SORTS.includes(sortText as SortKey) ? (sortText as SortKey) : 'total';
      const threadText = params.get('thread');
      const thread = threadText === null || threadText === '' || !/^\d+$/.test(threadText) ? undefined : Number(threadText);
      const view = session.view({
        sort,
        thread,
        maxRows: intParam(params, 'rows', 100, 1, 10_000),
        sparkPoints: intParam(params, 'points', 200, 1, 2000),
        sparkWindowNs: options.sparkWindowNs,
      });
      res.writeHead(200, { ...common, 'Content-Type': 'application/json; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(view));
      return;
    }
    notFound(res);
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      res.writeHead(500, { ...common, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`memlens: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/${token}/`;

  const iterator = source[Symbol.asyncIterator]();
  let closing = false;
  const ended = (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done === true || closing) break;
        session.feed(next.value);
      }
      session.end('eof');
    } catch (e) {
      session.end('disconnected', e instanceof Error ? e.message : String(e));
    }
  })();

  options.stdout?.write(`memlens: the live view is at ${url} (only this machine can open it)\n`);
  return {
    url,
    port,
    session,
    ended,
    close: async () => {
      closing = true;
      void iterator.return?.().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
