// The body of `memlens results`, loaded lazily by its command: one capture to one JSON document, and the
// request loop of --serve.

import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ForensicsObserver } from '../analysis/forensics.js';
import { highWaterMark } from '../analysis/high-water-mark.js';
import { leaks } from '../analysis/leaks.js';
import { stacksOf } from '../analysis/stacks.js';
import { verdict } from '../analysis/verdict.js';
import { MemlensError, UsageError } from '../errors.js';
import { resultsJson } from '../report/results.js';
import type { CommandContext, OptionValues } from './command.js';
import type { Io } from './io.js';
import { loadModel } from './load-model.js';
import { frameFilterOf } from './report-options.js';

export interface ResultsRequest {
  readonly top: number;
  readonly over: number | undefined;
  readonly options: OptionValues;
}

export async function resultsOf(io: Io, path: string, req: ResultsRequest): Promise<Record<string, unknown>> {
  const observer = new ForensicsObserver({});
  const model = await loadModel(io, path, { observer });
  const filter = frameFilterOf(req.options);
  const v = verdict(model, observer.finish(), { filter, rows: 5 });
  const peak = model.peakFound ? highWaterMark(model) : undefined;
  const leakSet = leaks(model);
  return resultsJson(model, {
    path,
    peak,
    peakStacks: peak === undefined ? [] : stacksOf(model, peak, { filter }),
    leaks: leakSet,
    leakStacks: stacksOf(model, leakSet, { filter }),
    verdict: v,
    top: req.top,
    over: req.over,
  });
}

function requestOf(line: string, defaults: ResultsRequest): { path: string; req: ResultsRequest } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new UsageError(`results --serve: a request is one JSON object per line, not '${line.slice(0, 80)}'`);
  }
  const o = parsed as { path?: unknown; top?: unknown; stacks_over?: unknown };
  if (typeof o !== 'object' || o === null || typeof o.path !== 'string') throw new UsageError('results --serve: a request needs "path" (a capture file)');
  const top = typeof o.top === 'number' && Number.isInteger(o.top) && o.top >= 0 ? o.top : defaults.top;
  const over = typeof o.stacks_over === 'number' && o.stacks_over >= 0 ? o.stacks_over : defaults.over;
  return { path: o.path, req: { ...defaults, top, over } };
}

function isAsyncIterable(x: unknown): x is AsyncIterable<string | Uint8Array> {
  return typeof x === 'object' && x !== null && Symbol.asyncIterator in x;
}

/** Answers each line of standard input; an error answers {"error": message} and the loop goes on. */
export async function serveResults(ctx: CommandContext, options: OptionValues): Promise<number> {
  const io = ctx.io;
  // Standard input is a stream (process.stdin is async-iterable); an Io without one answers nothing.
  const stdin: unknown = io.stdin;
  const input = isAsyncIterable(stdin) ? stdin : [];
  const lines = createInterface({ input: Readable.from(input), crlfDelay: Infinity });
  const defaults: ResultsRequest = { top: 10, over: undefined, options };
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let answer: Record<string, unknown>;
    try {
      const { path, req } = requestOf(line, defaults);
      answer = await resultsOf(io, path, req);
    } catch (e) {
      if (!(e instanceof MemlensError)) throw e;
      answer = { error: e.hint === undefined ? e.message : `${e.message} (${e.hint})` };
    }
    io.stdout.write(JSON.stringify(answer) + '\n');
  }
  return 0;
}
