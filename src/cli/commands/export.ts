// memlens export FILE --format pprof|speedscope|folded|csv|gprof2dot [-o OUT]
// (also `memlens transform FORMAT FILE`, memray's spelling).

import { UsageError } from '../../errors.js';
import { booleanOption, type Command, stringOption } from '../command.js';
import { FRAME_OPTIONS, SET_OPTIONS, parseSetOptions } from '../report-options.js';
// A type only: the body itself loads when the command runs.
import type { ExportFormat } from './export.run.js';

export const EXPORT_FORMATS: readonly ExportFormat[] = ['pprof', 'speedscope', 'folded', 'csv', 'gprof2dot'];

export const exportCommand: Command = {
  name: 'export',
  aliases: ['transform'],
  summary: 'Write a capture for other tools: pprof, speedscope, folded stacks, CSV, gprof2dot',
  usage: 'FILE --format FORMAT [-o OUT]   (or: memlens transform FORMAT FILE)',
  description:
    'pprof: alloc_objects, alloc_space (every allocation) and inuse_objects, inuse_space (live at the peak, or at the end ' +
    'with --leaks), gzipped, for go tool pprof and continuous-profiling services. speedscope: two sampled profiles ' +
    '(bytes and allocations). folded: "outer;...;inner BYTES" lines for flamegraph.pl. csv and gprof2dot: as memray transform ' +
    'writes them. Without -o the output goes next to the capture (CAPTURE.pb.gz, .speedscope.json, .folded, .csv, .gprof2dot.json); ' +
    '"-o -" writes to stdout.',
  options: {
    format: { type: 'string', short: 'f', value: 'FORMAT', description: `One of ${EXPORT_FORMATS.join(', ')}` },
    output: { type: 'string', short: 'o', value: 'OUT', description: 'Where to write ("-" for stdout)' },
    force: { type: 'boolean', description: 'Overwrite OUT if it exists' },
    ...SET_OPTIONS,
    ...FRAME_OPTIONS,
  },
  async run(ctx, options, positionals) {
    let format = stringOption(options, 'format');
    let rest = positionals;
    if (format === undefined && positionals.length === 2) {
      format = positionals[0];
      rest = positionals.slice(1);
    }
    if (format === undefined) {
      throw new UsageError('export: which format? Give --format pprof|speedscope|folded|csv|gprof2dot', { hint: "Run 'memlens export --help' for usage." });
    }
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`export: unknown format '${format}': memlens writes ${EXPORT_FORMATS.join(', ')}`);
    }
    if (rest.length !== 1) {
      throw new UsageError(rest.length === 0 ? 'export: missing capture FILE' : `export: expected one FILE, got ${rest.length}`, { hint: "Run 'memlens export --help' for usage." });
    }
    const sel = parseSetOptions('export', options);
    if (sel.kind === 'temporary' && format === 'pprof') {
      throw new UsageError('export: pprof has no place for temporary allocations (its in-use values are a point in time); use speedscope, folded or csv');
    }
    const { runExport } = await import('./export.run.js');
    return runExport(ctx, rest[0] as string, {
      format: format as ExportFormat,
      output: stringOption(options, 'output'),
      force: booleanOption(options, 'force'),
      sel,
      options,
    });
  },
};
