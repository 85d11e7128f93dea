// The interactive `memlens tree` in a terminal: raw keys in, the tree view (report/tree-view.ts) drawn on
// the alternate screen, the terminal restored on the way out whatever happens (util/terminal-screen.ts).

import type { CallTree } from '../../analysis/call-tree.js';
import { TerminalScreen } from '../../util/terminal-screen.js';
import { control } from '../../util/terminal-text.js';
import { truncateRight } from '../../util/text.js';
import { ansiPaint } from '../../util/paint.js';
import type { Io } from '../io.js';
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

/** How the view ended: `q` (or Esc, Ctrl-C), or a signal (the terminal is restored either way). */
export interface TreeTuiResult {
  readonly signal?: NodeJS.Signals;
}

export function runTreeTui(tree: CallTree, io: Io, options: TuiOptions): Promise<TreeTuiResult> {
  const stdout = io.stdout;
  let state: TreeViewState = initialState(tree);
  const height = (): number => Math.max(3, (stdout.rows || 24) - options.header.length - 2);
  const draw = (): void => {
    const lines = [
      ...options.header.map((l) => ansiPaint('bold', truncateRight(l, stdout.columns || 100))),
      ...drawTree(state, { width: stdout.columns || 100, height: height(), cwd: options.cwd, total: options.total, paint: ansiPaint }),
    ];
    while (lines.length < options.header.length + height()) lines.push('');
    lines.push(ansiPaint('dim', KEY_HELP));
    stdout.write(`${control('home')}${control('clearScreen')}${lines.join('\n')}`);
  };
  return new Promise((resolve, reject) => {
    // An error while drawing ends the view like q does, and then goes to the command (and its message).
    const guard = (f: () => void) => (): void => {
      try {
        f();
      } catch (e) {
        screen.leave();
        reject(e instanceof Error ? e : new Error(`tree view: ${String(e)}`));
      }
    };
    const onData = (data: Buffer | string): void => {
      const key = KEYS[typeof data === 'string' ? data : data.toString('utf8')];
      if (key === undefined) return;
      guard(() => {
        const action = pressKey(state, key, height());
        if (action.kind === 'quit') {
          screen.leave();
          resolve({});
          return;
        }
        if (action.kind === 'rebuild') state = initialState(options.rebuild(action.toggle));
        else state = action.state;
        draw();
      })();
    };
    const screen = new TerminalScreen(io.stdin, stdout, { data: onData, resize: guard(draw), signal: (signal) => resolve({ signal }) });
    guard(draw)();
  });
}
