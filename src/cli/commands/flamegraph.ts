// memlens flamegraph FILE [-o OUT.html]: one self-contained HTML file with the flame graph, the memory
// timeline, the table of locations and the statistics (src/report/html, viewer/).

import { UsageError } from '../../errors.js';
import { booleanOption, stringOption, type Command } from '../command.js';

export const flamegraphCommand: Command = {
  name: 'flamegraph',
  summary: 'Write an interactive HTML flame graph with the memory timeline (one offline file)',
  usage: 'FILE',
  description:
    'Shows the allocations live at the high-water mark (default), still live at the end (--leaks), or the ' +
    'temporary ones (--temporary-allocations). The page needs no network: mail it, attach it to a ticket. ' +
    'Selecting a time window on its timeline shows the peak inside that window.',
  options: {
    output: { type: 'string', short: 'o', value: 'OUT.html', description: 'Where to write the page (default: memlens-flamegraph-NAME.html)' },
    force: { type: 'boolean', short: 'f', description: 'Overwrite OUT if it exists' },
    leaks: { type: 'boolean', description: 'Show what was still live when tracking ended' },
    'temporary-allocations': { type: 'boolean', description: 'Show allocations freed right after (threshold 1)' },
    'temporary-allocation-threshold': { type: 'string', value: 'N', description: 'Temporary: freed after at most N other allocations' },
    inverted: { type: 'boolean', description: 'Start with allocators at the root (also a toggle on the page)' },
    'no-source': { type: 'boolean', description: 'Leave the source lines out of the page' },
    'no-temporal': { type: 'boolean', description: 'Leave out the per-moment data that time windows need (smaller file)' },
  },
  async run(ctx, options, positionals) {
    if (positionals.length !== 1) {
      throw new UsageError(positionals.length === 0 ? 'flamegraph: missing capture FILE' : `flamegraph: expected one FILE, got ${positionals.length}`, {
        hint: "Run 'memlens flamegraph --help' for usage.",
      });
    }
    const thresholdText = stringOption(options, 'temporary-allocation-threshold');
    let threshold: number | undefined;
    if (thresholdText !== undefined) {
      threshold = Number(thresholdText);
      if (!Number.isInteger(threshold) || threshold < 1) {
        throw new UsageError(`flamegraph: --temporary-allocation-threshold must be a whole number ≥ 1, not '${thresholdText}'`);
      }
    } else if (booleanOption(options, 'temporary-allocations')) threshold = 1;
    const leaks = booleanOption(options, 'leaks');
    if (leaks && threshold !== undefined) throw new UsageError('flamegraph: --leaks and --temporary-allocations show different things: choose one');
    const { writeFlamegraph } = await import('./flamegraph.run.js');
    return writeFlamegraph(ctx.io, {
      capture: positionals[0] as string,
      output: stringOption(options, 'output'),
      force: booleanOption(options, 'force'),
      view: leaks ? 'leaks' : threshold !== undefined ? 'temporary' : 'peak',
      threshold,
      inverted: booleanOption(options, 'inverted'),
      source: !booleanOption(options, 'no-source'),
      temporal: !booleanOption(options, 'no-temporal'),
    });
  },
};
