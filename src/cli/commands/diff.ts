// memlens diff BEFORE AFTER: which stacks grew or shrank at the peak and at the end. Exit status 3 when
// --fail-on-growth is given and the peak (or, with --leaks, the end) grew by more than it.

import { UsageError } from '../../errors.js';
import { booleanOption, type Command, stringOption } from '../command.js';
import { FRAME_OPTIONS, countOption, frameFilterOf } from '../report-options.js';
import { jsonDocument } from '../../util/json-document.js';
import { escapeLine } from '../../util/terminal-text.js';

/** Exit status of a diff whose growth is over --fail-on-growth (1 and 2 mean errors). */
export const EXIT_GROWTH = 3;

export const diffCommand: Command = {
  name: 'diff',
  summary: 'Compare two captures of the same program: which stacks grew, by how much',
  usage: 'BEFORE AFTER',
  description:
    'Totals at the high-water mark and at the end, then stacks by growth, largest first. For CI: --fail-on-growth SIZE ' +
    `exits with status ${EXIT_GROWTH} when the peak (with --leaks: the memory live at the end) grew by more than SIZE (like 10MB; units are binary).`,
  options: {
    ...FRAME_OPTIONS,
    leaks: { type: 'boolean', description: 'Rank stacks by growth at the end (leaks) instead of at the peak' },
    'ignore-lines': { type: 'boolean', description: 'Match stacks by function and file only (the code moved between the runs)' },
    'fail-on-growth': { type: 'string', value: 'SIZE', description: `Exit with status ${EXIT_GROWTH} if memory grew by more than SIZE` },
    'max-rows': { type: 'string', short: 'r', value: 'N', description: 'Stacks shown at most (default 10)' },
    json: { type: 'boolean', description: 'Print JSON' },
  },
  async run(ctx, options, positionals) {
    if (positionals.length !== 2) {
      throw new UsageError(`diff: expected two capture files (BEFORE AFTER), got ${positionals.length}`, { hint: "Run 'memlens diff --help' for usage." });
    }
    const { parseSize } = await import('../../util/units.js');
    const limitText = stringOption(options, 'fail-on-growth');
    const limit = limitText === undefined ? undefined : parseSize(limitText);
    if (limitText !== undefined && limit === undefined) throw new UsageError(`diff: --fail-on-growth wants a size like 10MB or 512KiB, not '${limitText}'`);
    const maxRows = countOption('diff', options, 'max-rows', 10);
    const [{ loadModel }, { diffCaptures }, { renderDiff, diffJson }, { ansiPaint, noPaint }, { formatBytes }, io] = await Promise.all([
      import('../load-model.js'),
      import('../../analysis/diff.js'),
      import('../../report/diff.js'),
      import('../../util/paint.js'),
      import('../../util/units.js'),
      import('../io.js'),
    ]);
    const [beforePath, afterPath] = positionals as [string, string];
    const before = await loadModel(ctx.io, beforePath);
    const after = await loadModel(ctx.io, afterPath);
    const by = booleanOption(options, 'leaks') ? 'end' : 'peak';
    const diff = diffCaptures(before, after, { filter: frameFilterOf(options), by, ignoreLines: booleanOption(options, 'ignore-lines') });
    if (diff.differentPrograms) {
      ctx.io.stderr.write(
        `memlens: warning: ${escapeLine(beforePath)} and ${escapeLine(afterPath)} ran different programs (${escapeLine(diff.programs[0])} / ${escapeLine(diff.programs[1])}): comparing anyway\n`,
      );
    }
    if (booleanOption(options, 'json')) ctx.io.stdout.write(JSON.stringify(jsonDocument('diff', diffJson(diff)), null, 2) + '\n');
    else ctx.io.stdout.write(renderDiff(diff, { width: io.terminalColumns(ctx.io), cwd: after.header.cwd, maxRows, paint: io.wantsColor(ctx.io) ? ansiPaint : noPaint }));
    if (limit !== undefined) {
      const t = by === 'peak' ? diff.peak : diff.end;
      const growth = t.after - t.before;
      if (growth > limit) {
        ctx.io.stderr.write(`memlens: ${by === 'peak' ? 'the peak' : 'memory live at the end'} grew by ${formatBytes(growth)}, more than --fail-on-growth ${formatBytes(limit)}\n`);
        return EXIT_GROWTH;
      }
    }
    return 0;
  },
};
