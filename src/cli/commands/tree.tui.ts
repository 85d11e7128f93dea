// The interactive `memlens tree` in a terminal: raw keys in, the tree view (report/tree-view.ts) drawn on
// the alternate screen, the terminal restored on the way out whatever happens.

import type { CallTree } from '../../analysis/call-tree.js';
import { ansiPaint } from '../../util/paint.js';
import { KEY_HELP, type TreeKey, type TreeViewState, drawTree, initialState, pressKey } from '../../report/tree-view.js';

const KEYS: Record<string, TreeKey> = {
  '\u001b[A': 'up',
  k: 'up',
  '\u001b[B': 'down',
  j: 'down',
  '\u001b[C': 'open',
  l: 'open',
  '\r': 'open',
  '\u001b[D': 'close',
  h: 'close',
  e: 'expand-chain',
  i: 'toggle-imports',
  u: 'toggle-internal',
  q: 'quit',
  '\u001b': 'quit',
  '\u0003': 'quit',
  '\u001b[5~': 'page-up',
  '\u001b[6~': 'page-down',
};

export interface TuiOptions {
  readonly header: readonly string[];
  readonly cwd: string;
  readonly total: number;
  /** Builds the tree again with other frames shown. */
  readonly rebuild: (toggle: 'imports' | 'internal') => CallTree;
}

export function runTreeTui(tree: CallTree, options: TuiOptions): Promise<void> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  let state: TreeViewState = initialState(tree);
  const height = (): number => Math.max(3, (stdout.rows || 24) - options.header.length - 2);
  const draw = (): void => {
    const lines = [...options.header.map((l) => ansiPaint('bold', l)), ...drawTree(state, { width: stdout.columns || 100, height: height(), cwd: options.cwd, total: options.total, paint: ansiPaint })];
    while (lines.length < options.header.length + height()) lines.push('');
    lines.push(ansiPaint('dim', KEY_HELP));
    stdout.write(`\u001b[H\u001b[2J${lines.join('\n')}`);
  };
  return new Promise((resolve) => {
    const finish = (): void => {
      stdin.off('data', onData);
      stdout.off('resize', draw);
      stdin.setRawMode(false);
      stdin.pause();
      stdout.write('\u001b[?25h\u001b[?1049l');
      resolve();
    };
    const onData = (data: Buffer): void => {
      const key = KEYS[data.toString('utf8')];
      if (key === undefined) return;
      try {
        const action = pressKey(state, key, height());
        if (action.kind === 'quit') return finish();
        if (action.kind === 'rebuild') state = initialState(options.rebuild(action.toggle));
        else state = action.state;
        draw();
      } catch (e) {
        finish();
        throw e;
      }
    };
    stdout.write('\u001b[?1049h\u001b[?25l');
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
    stdout.on('resize', draw);
    draw();
  });
}
