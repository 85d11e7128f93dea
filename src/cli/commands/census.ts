// memlens census PID | CENSUS.json | CAPTURE.mlens [SECOND]: what kinds of Python objects hold the memory.
// With a PID, memlens takes a census in the running process (injected like attach, bounded pause, nothing
// left behind); with files, it shows a saved census or a capture's censuses; with two, what accumulated.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CaptureFormatError, FileError, UsageError } from '../../errors.js';
import type { Census } from '../../analysis/census.js';
import { booleanOption, stringOption, type Command, type CommandContext, type OptionValues } from '../command.js';
import { terminalColumns, wantsColor } from '../io.js';
import { jsonDocument, snakeKeys } from '../../util/json-document.js';
import { escapeLine } from '../../util/terminal-text.js';

export const censusCommand: Command = {
  name: 'census',
  summary: 'Count live Python objects by type, and show what keeps the largest alive',
  usage: '(PID | CENSUS.json | CAPTURE.mlens) [SECOND.json | SECOND.mlens]',
  description:
    'With a PID, takes a census in the running process (nothing to install in it; it pauses for the time ' +
    'the census takes, bounded, and says how long). With a saved census (-o) or a capture that holds ' +
    'censuses (taken near OOM, or with memlens run --census-at-peak), shows it; with two, shows which ' +
    'types accumulated from the first to the second.',
  options: {
    json: { type: 'boolean', description: 'Print the census as JSON' },
    output: { type: 'string', short: 'o', value: 'FILE', description: 'Also save the census (JSON), to compare later' },
    force: { type: 'boolean', short: 'f', description: 'Overwrite FILE if it exists' },
    rows: { type: 'string', short: 'n', value: 'N', description: 'Types to show (default 25)' },
    paths: {
      type: 'string',
      value: 'N',
      description: 'Reference paths: the N largest path groups (objects grouped by the path that keeps them alive) and the N largest objects, each with its path (default 10; 0: none)',
    },
    type: { type: 'string', value: 'NAME', description: 'Reference paths to the largest objects of this type instead' },
    method: { type: 'string', value: 'METHOD', description: 'auto (default), remote-exec, gdb or lldb' },
    timeout: { type: 'string', value: 'SECONDS', description: 'How long to wait for the process to run Python (default 30)' },
  },
  async run(ctx, options, positionals) {
    return census(ctx, options, positionals);
  },
};

async function census(ctx: CommandContext, options: OptionValues, positionals: readonly string[]): Promise<number> {
  const { io } = ctx;
  const [first, second, extra] = positionals;
  if (first === undefined) throw new UsageError('census: give a PID, a census file or a capture', { hint: 'memlens census PID' });
  if (extra !== undefined) throw new UsageError(`census: unexpected argument '${extra}'`);
  const rows = Number(stringOption(options, 'rows') ?? '25');
  if (!Number.isInteger(rows) || rows <= 0) throw new UsageError('census: -n: give a whole number above 0');
  const { parseCensus, diffCensus } = await import('../../analysis/census.js');
  const { renderCensus, renderCensusDiff, PATH_ROWS } = await import('../../report/census.js');
  const paths = Number(stringOption(options, 'paths') ?? String(PATH_ROWS));
  if (!Number.isInteger(paths) || paths < 0) throw new UsageError(`census: --paths: give a whole number, 0 or more (not '${stringOption(options, 'paths') ?? ''}')`);
  const text = { width: terminalColumns(io), rows, paths, ...(wantsColor(io) ? { paint: (await import('../../util/paint.js')).ansiPaint } : {}) };

  if (/^\d+$/.test(first) && second === undefined) {
    const out = stringOption(options, 'output');
    const { checkOutputFile, writeOutputFile } = await import('../output-file.js');
    const outPath = out !== undefined ? resolve(io.cwd, out) : undefined;
    // Refused before the census pauses the process, not after.
    if (outPath !== undefined) checkOutputFile(outPath, { force: booleanOption(options, 'force') });
    const { json, title } = await censusOfPid(ctx, Number(first), options, paths);
    const c = parseCensus(json, `PID ${first}`);
    if (outPath !== undefined) writeOutputFile(outPath, json, { force: booleanOption(options, 'force') });
    io.stdout.write(booleanOption(options, 'json') ? `${JSON.stringify(jsonDocument('census', JSON.parse(json) as object))}\n` : renderCensus(c, { ...text, title }));
    return 0;
  }
  const warn = (line: string): void => void io.stderr.write(`memlens: warning: ${escapeLine(line)}\n`);
  const a = await censusesOf(first, warn);
  if (second === undefined) {
    const last = a.censuses[a.censuses.length - 1] as Census;
    // JSON.stringify recurses on nesting: parseCensus refused any census nested deeper than a census is.
    if (booleanOption(options, 'json')) io.stdout.write(`${JSON.stringify(jsonDocument('census', a.raw[a.raw.length - 1] as object))}\n`);
    else {
      if (a.censuses.length > 1) io.stdout.write(renderCensusDiff(diffCensus(a.censuses[0] as Census, last), { ...text, title: `${first} (first and last of ${a.censuses.length} censuses)` }) + '\n');
      io.stdout.write(renderCensus(last, { ...text, title: a.censuses.length > 1 ? `${first} (the last census)` : first }));
    }
    return 0;
  }
  const b = await censusesOf(second, warn);
  const d = diffCensus(a.censuses[a.censuses.length - 1] as Census, b.censuses[b.censuses.length - 1] as Census);
  io.stdout.write(booleanOption(options, 'json') ? `${JSON.stringify(jsonDocument('census-diff', snakeKeys(d) as object))}\n` : renderCensusDiff(d, { ...text, title: `${first} → ${second}` }));
  return 0;
}

/** The censuses of a saved census (JSON) or of a capture, oldest first; FileError if there are none. */
async function censusesOf(path: string, warn: (line: string) => void): Promise<{ censuses: Census[]; raw: unknown[] }> {
  const { completeCensuses, parseCensus } = await import('../../analysis/census.js');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileError(code === 'ENOENT' ? `${path}: no such file` : code === 'EISDIR' ? `${path} is a directory` : `${path}: ${(e as Error).message}`);
  }
  if (bytes[0] === 0x89 && bytes.subarray(1, 6).toString() === 'MLENS') {
    const { readCaptureFile } = await import('../capture-file.js');
    const records: { json: string }[] = [];
    await readCaptureFile(path, {
      alloc: () => undefined,
      free: () => undefined,
      meta: (r) => {
        if (r.type === 'census') records.push({ json: r.json });
      },
    });
    const texts = completeCensuses(records).map((r) => r.json);
    if (texts.length === 0) {
      throw new FileError(`${path} holds no census`, {
        hint: 'Censuses are taken near OOM, or as memory grows with memlens run --census-at-peak; memlens census PID takes one now.',
      });
    }
    // A census that holds what no process can have is left out, as any such record is (the others stand).
    const censuses: Census[] = [];
    const raw: unknown[] = [];
    const refused: CaptureFormatError[] = [];
    texts.forEach((t, i) => {
      try {
        censuses.push(parseCensus(t, `${path} (census ${i + 1})`));
        raw.push(JSON.parse(t));
      } catch (e) {
        if (!(e instanceof CaptureFormatError)) throw e;
        refused.push(e);
      }
    });
    if (censuses.length === 0) throw refused[0]!;
    for (const e of refused) warn(`${e.message}: left out`);
    return { censuses, raw };
  }
  const t = bytes.toString('utf8');
  return { censuses: [parseCensus(t, path)], raw: [JSON.parse(t) as unknown] };
}

async function censusOfPid(ctx: CommandContext, pid: number, options: OptionValues, paths: number): Promise<{ json: string; title: string }> {
  const { checkPlatform, findAgent } = await import('../../process/agent-files.js');
  const t = await import('../../process/attach.js');
  const { readCmdline } = await import('../../process/proc.js');
  const { TargetError } = await import('../../errors.js');
  checkPlatform();
  const files = findAgent();
  const target = t.inspectTarget(pid);
  const { methodOf, secondsOf } = await import('../pid-options.js');
  const method = methodOf('census', options);
  const timeout = secondsOf('census', options, 'timeout', 30) ?? 30;
  const session = t.createSession(target, files);
  try {
    const outcome = await t.runInTarget(
      target,
      { action: 'census', session, agentLibrary: files.library, duration: undefined, config: { paths, ...(stringOption(options, 'type') !== undefined ? { type: stringOption(options, 'type') } : {}) } },
      { method, timeoutMs: timeout * 1000 },
    );
    if (ctx.verbose) for (const l of outcome.log) ctx.io.stderr.write(`${l}\n`);
    if (!outcome.status.startsWith('ok')) throw new TargetError(`PID ${pid}: ${outcome.status.replace(/^error:\s*/, '')}`);
    // Written by the target (attach-dir.ts reads only a regular file it wrote, of bounded size).
    const json = t.readSessionFile(session, 'census.json', 512 << 20)?.toString('utf8');
    if (json === undefined) throw new TargetError(`PID ${pid} wrote no census`);
    return { json, title: `PID ${pid} (${readCmdline(pid).join(' ').slice(0, 80)})` };
  } finally {
    t.removeSession(session);
  }
}
