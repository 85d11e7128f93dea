// memlens tree FILE: the call tree of the biggest allocation paths at the peak, printed.

import type { CallTree } from '../../analysis/call-tree.js';
import { booleanOption, type Command } from '../command.js';
import { FRAME_OPTIONS, SET_OPTIONS, buildOptionsOf, countOption, frameFilterOf, onePath, parseSetOptions } from '../report-options.js';
import { jsonDocument } from '../../util/json-document.js';

export const treeCommand: Command = {
  name: 'tree',
  summary: 'Call tree of the biggest allocation paths at the peak',
  usage: 'FILE',
  description:
    'The tree of the N stacks holding the most memory (at the high-water mark by default). In a terminal it is ' +
    'interactive: arrows move, open and close, e opens a chain, i and u show import-system and interpreter frames, q quits; ' +
    '--print prints it instead.',
  options: {
    ...SET_OPTIONS,
    ...FRAME_OPTIONS,
    num: { type: 'string', short: 'n', value: 'N', description: 'How many of the biggest stacks (default 10)' },
    biggest: { type: 'string', short: 'b', value: 'N', description: 'Same as -n (memray tree -b)' },
    json: { type: 'boolean', description: 'Print the tree as JSON (the data the HTML flame graph uses)' },
    print: { type: 'boolean', description: 'Print the tree even in a terminal (no interactive view)' },
  },
  async run(ctx, options, positionals) {
    const path = onePath('tree', positionals);
    const sel = parseSetOptions('tree', options);
    const n = countOption('tree', options, 'num', countOption('tree', options, 'biggest', 10));
    const filter = frameFilterOf(options);
    const [{ loadModel }, { stacksOf }, { callTree }, { renderTree }, { describeCapture, describeSet, explainEmpty, captureNotes, leaksAllocatorNote }, fmt, io, ro, { selectSet }] = await Promise.all([
      import('../load-model.js'),
      import('../../analysis/stacks.js'),
      import('../../analysis/call-tree.js'),
      import('../../report/tree.js'),
      import('../../report/describe.js'),
      import('../../util/paint.js'),
      import('../io.js'),
      import('../report-options.js'),
      import('../select-set.js'),
    ]);
    const model = await loadModel(ctx.io, path, buildOptionsOf(sel));
    const set = selectSet(model, sel);
    const tree = callTree(model, stacksOf(model, set, { filter }), { maxStacks: n });
    if (booleanOption(options, 'json')) {
      ctx.io.stdout.write(JSON.stringify(treeJson(tree), null, 2) + '\n');
      return 0;
    }
    if (!booleanOption(options, 'print') && ctx.io.stdout.isTTY === true && ctx.io.stdin.isTTY === true && set.sites.length > 0) {
      // A terminal on both ends: the interactive view (expand, collapse, show hidden frames, quit).
      const { runTreeTui } = await import('./tree.tui.js');
      let shown = filter;
      const { signal } = await runTreeTui(tree, ctx.io, {
        header: [describeCapture(model), describeSet(model, set)],
        cwd: model.header.cwd,
        total: set.totalBytes,
        rebuild: (toggle) => {
          shown = toggle === 'imports' ? { ...shown, showImports: !shown.showImports } : { ...shown, showInternal: !shown.showInternal };
          return callTree(model, stacksOf(model, set, { filter: shown }), { maxStacks: n });
        },
      });
      if (signal !== undefined) {
        // Ended by a signal: the terminal is restored, and memlens ends by that signal (a shell sees it).
        ctx.io.killSelf?.(signal);
        return 128 + (await import('../../util/signals.js')).signalNumber(signal);
      }
      return 0;
    }
    const paint = io.wantsColor(ctx.io) ? fmt.ansiPaint : fmt.noPaint;
    const out = [paint('bold', describeCapture(model)), describeSet(model, set), ''];
    if (set.sites.length === 0) out.push(explainEmpty(model, set));
    else out.push(...renderTree(tree, { width: io.terminalColumns(ctx.io), cwd: model.header.cwd, paint, total: set.totalBytes }));
    const notes = [leaksAllocatorNote(model, set), ro.hiddenFramesNote(model, filter), ...captureNotes(model)].filter((x): x is string => x !== undefined);
    if (notes.length > 0) out.push('', ...notes.map((x) => paint('dim', `Note: ${x}`)));
    ctx.io.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};

function treeJson(tree: CallTree): Record<string, unknown> {
  return jsonDocument('tree', {
    nodes: tree.nodes.map((n) => ({ id: n.id, parent: n.parent, frame: n.frame, bytes: n.bytes, count: n.count, self_bytes: n.selfBytes, self_count: n.selfCount, children: n.children })),
    frames: Object.fromEntries([...tree.frames].map(([id, f]) => [id, { function: f.function, file: f.file, line: f.line, native: f.native, kind: f.kind }])),
    omitted_stacks: tree.omittedStacks,
    omitted_bytes: tree.omittedBytes,
  });
}
