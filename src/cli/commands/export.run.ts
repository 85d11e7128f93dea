// The body of `memlens export`, loaded lazily by its command.

import { closeSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { allAllocations } from '../../analysis/allocation-set.js';
import { leaks } from '../../analysis/leaks.js';
import { stacksOf } from '../../analysis/stacks.js';
import { FileError, MemlensError, MissingDataError, UsageError } from '../../errors.js';
import { explainEmpty } from '../../report/describe.js';
import { pprofProfile } from '../../report/export/pprof.js';
import { csvChunks, foldedChunks, gprof2dotJson, jsonChunks, speedscopeProfile } from '../../report/export/text-exports.js';
import { VERSION } from '../../version.js';
import type { CommandContext, OptionValues } from '../command.js';
import { loadModel } from '../load-model.js';
import { type SetSelection, buildOptionsOf, frameFilterOf } from '../report-options.js';
import { selectSet } from '../select-set.js';
import { writeAll } from '../../util/safe-fs.js';
import { escapeLine } from '../../util/terminal-text.js';

/** What memlens export writes (commands/export.ts lists them for --help). */
export type ExportFormat = 'pprof' | 'speedscope' | 'folded' | 'csv' | 'gprof2dot';

export interface ExportRun {
  readonly format: ExportFormat;
  readonly output: string | undefined;
  readonly force: boolean;
  readonly sel: SetSelection;
  readonly options: OptionValues;
}

const SUFFIX: Record<ExportFormat, string> = {
  pprof: '.pb.gz',
  speedscope: '.speedscope.json',
  folded: '.folded',
  csv: '.csv',
  gprof2dot: '.gprof2dot.json',
};

export async function runExport(ctx: CommandContext, path: string, run: ExportRun): Promise<number> {
  const io = ctx.io;
  const model = await loadModel(io, path, buildOptionsOf(run.sel));
  const set = selectSet(model, run.sel);
  // The set's columns when it has them: its `sites` objects (one a site) are made only when read.
  if ((set.columns?.site.length ?? set.sites.length) === 0 && run.format !== 'pprof') {
    throw new MissingDataError(`${path}: nothing to export: ${explainEmpty(model, set)}`);
  }
  const filter = frameFilterOf(run.options);
  // The set's stacks, made only by the formats that read them (csv keys its rows by its own trie).
  const stacks = (): ReturnType<typeof stacksOf> => stacksOf(model, set, { filter });
  // The output in order: one buffer (pprof) or bounded text chunks made as they are written (text-exports.ts).
  let chunks: Iterable<Uint8Array | string>;
  switch (run.format) {
    case 'pprof': {
      const allocated = stacksOf(model, allAllocations(model), { filter });
      if (allocated.length === 0) throw new MissingDataError(`${path}: nothing to export: ${explainEmpty(model, set)}`);
      const inuse = run.sel.kind === 'leaks' ? stacksOf(model, leaks(model), { filter }) : stacks();
      chunks = [gzipSync(pprofProfile({ model, allocated, inuse, inuseKind: set.kind }))];
      break;
    }
    case 'speedscope':
      chunks = jsonChunks(speedscopeProfile(model, stacks(), `memlens@${VERSION}`), '\n');
      break;
    case 'folded':
      chunks = foldedChunks(model, stacks());
      break;
    case 'csv':
      chunks = csvChunks(model, set.columns ?? set.sites, filter);
      break;
    case 'gprof2dot':
      chunks = jsonChunks(gprof2dotJson(model, stacks()), '\n');
      break;
  }
  const out = run.output ?? defaultOutput(path, run.format);
  if (out === '-') {
    // To a pipe or a file the export is data, byte for byte; to a terminal it is something to read, so
    // it goes through the terminal-safe output as text (names from the program cannot drive the terminal).
    const stdout = io.stdout;
    const tty = stdout.isTTY === true;
    try {
      for (const chunk of chunks) {
        if (tty && typeof chunk !== 'string') {
          throw new UsageError('pprof profiles are binary: they do not go to a terminal', { hint: 'Give -o FILE, or send it to a pipe or a file (-o - > profile.pb.gz).' });
        }
        // A pipe that fills up is waited for: the chunks already made are all that is held.
        const more = stdout.write(tty || typeof chunk !== 'string' ? chunk : Buffer.from(chunk, 'utf8'));
        // A write that failed (a full disk, /dev/full) marks the stream at once; its 'error' event comes later.
        if (stdout.errored) throw cannotWrite(stdout.errored, path, run.format, 'standard output');
        if (!more && stdout.once !== undefined) await new Promise<void>((r) => stdout.once?.('drain', r));
      }
    } catch (e) {
      throw tooLarge(e, path, run.format);
    }
    return 0;
  }
  const { createOutputFile, removeForReplace } = await import('../output-file.js');
  const fd = createOutputFile(out, { force: run.force, exists: (p) => new FileError(`${escapeLine(p)} exists already`, { hint: 'Give --force to overwrite it, or -o another name.' }) });
  try {
    for (const chunk of chunks) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      try {
        writeAll(fd, b);
      } catch (e) {
        throw cannotWrite(e, path, run.format, out);
      }
    }
  } catch (e) {
    // No half-written export is left behind.
    closeSync(fd);
    try {
      removeForReplace(out);
    } catch {
      // The error that stopped the export is the one to report.
    }
    throw tooLarge(e, path, run.format);
  }
  closeSync(fd);
  const shown = escapeLine(out);
  io.stderr.write(
    `memlens: wrote ${shown}${run.format === 'gprof2dot' ? ` (render it with: gprof2dot -f json ${shown} | dot -Tpng -o ${shown}.png)` : run.format === 'pprof' ? ` (open it with: go tool pprof -http=: ${shown})` : ''}\n`,
  );
  return 0;
}

/** V8's limits on one string or array, met while an export was made, as a one-line error; other errors as they are. */
function tooLarge(e: unknown, path: string, format: ExportFormat): unknown {
  if (!(e instanceof RangeError) || !/Invalid (string|array|typed array) length|Array buffer allocation failed/.test(e.message)) return e;
  return new MemlensError(`${path}: the ${format} export is too large for memlens to make (${e.message})`, {
    hint: 'Export a smaller set (--leaks, --temporary-allocations, --from/--to), or use --format pprof (one entry per distinct frame and stack, gzipped).',
    cause: e,
  });
}

/** A write of the export that failed, as one line naming the capture, the format and where it went. */
function cannotWrite(e: unknown, path: string, format: ExportFormat, out: string): FileError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOSPC'
      ? 'no space left on the device'
      : code === 'EDQUOT'
        ? 'the disk quota is used up'
        : code === 'EFBIG'
          ? 'the file size limit (ulimit -f) was reached'
          : code === 'EIO'
            ? 'an I/O error'
            : (code ?? String(e));
  return new FileError(`${path}: cannot write the ${format} export to ${out}: ${why}${code !== undefined && why !== code ? ` (${code})` : ''}`, { cause: e });
}

function defaultOutput(path: string, format: ExportFormat): string {
  const stem = path.endsWith('.mlens') ? path.slice(0, -'.mlens'.length) : path;
  return stem + SUFFIX[format];
}
