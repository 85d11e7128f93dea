// The live view in a terminal: the edge where tui-render.ts's lines meet a real TTY.
//
// Entry point (the integrator's commands call it; `memlens run --live`, `memlens attach` without -o):
//
//   const result = await runLiveTerminal(source, { input: io.stdin, output: io.stdout }, {
//     session,          // optional: a LiveSession made by the caller (to noteExit() when the target ends)
//     output: tail,     // optional: an OutputTail fed with the program's stdout/stderr (a panel shows it)
//     colour: true,
//   });
//
// `source` is any AsyncIterable<Uint8Array> of capture bytes: a Readable (pipe, socket, file), or a
// generator. It is read as fast as it comes, whatever the view does (pause freezes the view, not the
// reading), so the agent never blocks on a full pipe. The promise resolves when the user quits (q, Esc,
// Ctrl-C) or a SIGINT, SIGTERM or SIGHUP arrives; `result.reason` says which. The stream ending does not
// quit: the view says how the target ended and waits for q. On the way out the source is closed
// (iterator.return(): a Readable is destroyed, so the agent's writes get EPIPE and it stops tracking
// without harm to the target) and the terminal is restored: main screen, cursor, cooked mode. It is
// restored as well when an uncaught error ends the process (src/util/terminal-screen.ts does both).
//
// Redraws: at most `maxFps` a second (default 4) while data comes, and no more often than five times
// what the last view took to compute (a huge live set); once a second otherwise (the clock); at once on
// a key or a resize. A frame is one write of the whole screen from the top left, each line
// erased to its end (no clearing, so no flicker), and is skipped when its text did not change.

import { UsageError } from '../errors.js';
import { type TerminalInput, type TerminalOutput, TerminalScreen } from '../util/terminal-screen.js';
import { control } from '../util/terminal-text.js';
import { LiveSession } from './live-session.js';
import type { OutputTail } from './output-tail.js';
import { renderTui } from './tui-render.js';
import { INITIAL_UI, type LiveUiState, keysOf, pressKey } from './tui-state.js';
import type { LiveView } from './view-data.js';

export interface LiveTerminalIo {
  readonly input: TerminalInput;
  readonly output: TerminalOutput;
}

export interface LiveTerminalOptions {
  readonly session?: LiveSession | undefined;
  readonly output?: OutputTail | undefined;
  readonly colour?: boolean | undefined;
  /** Redraws a second at most while data comes (default 4). */
  readonly maxFps?: number | undefined;
  /** Time the heap sparkline covers (default 2 minutes). */
  readonly sparkWindowNs?: number | undefined;
  /** Signals that end the view (default SIGINT, SIGTERM, SIGHUP); [] to leave signals alone. */
  readonly signals?: readonly NodeJS.Signals[] | undefined;
}

export interface LiveTerminalResult {
  readonly reason: 'quit' | 'signal';
  readonly signal?: NodeJS.Signals;
  readonly session: LiveSession;
}

export async function runLiveTerminal(source: AsyncIterable<Uint8Array>, io: LiveTerminalIo, options: LiveTerminalOptions = {}): Promise<LiveTerminalResult> {
  const { input, output } = io;
  if (input.isTTY !== true || output.isTTY !== true || input.setRawMode === undefined) {
    throw new UsageError('the live view needs a terminal (standard input and output both a TTY)', {
      hint: 'Run it in a terminal, or use --web for the view in a browser, or -o FILE to write a capture.',
    });
  }
  const session = options.session ?? new LiveSession();
  const tail = options.output;
  const minGapMs = 1000 / Math.max(0.1, options.maxFps ?? 4);
  let ui: LiveUiState = INITIAL_UI;
  let frozen: LiveView | undefined;
  let lastView: LiveView | undefined;
  let drawnVersion = -1;
  let drawnTail = -1;
  let lastDraw = 0;
  let lastText = '';
  let screen: TerminalScreen | undefined;
  // What the last view cost: on a capture with a huge live set, redraws for new data are spaced so
  // the view takes at most a fifth of a core.
  let viewCostMs = 0;

  const size = (): { width: number; height: number } => ({ width: Math.max(20, output.columns ?? 80), height: Math.max(3, output.rows ?? 24) });
  const takeView = (): LiveView => {
    const { width } = size();
    return session.view({ sort: ui.sort, thread: ui.thread, maxRows: 200, sparkPoints: width, sparkWindowNs: options.sparkWindowNs });
  };
  const draw = (force: boolean): void => {
    if (screen?.active !== true) return;
    const t0 = Date.now();
    const view = ui.paused && frozen !== undefined ? frozen : takeView();
    viewCostMs = Date.now() - t0;
    lastView = view;
    drawnVersion = session.version;
    drawnTail = tail?.version ?? -1;
    lastDraw = Date.now();
    const { width, height } = size();
    const lines = renderTui({ view, paused: ui.paused, output: tail?.last(height) }, { width, height, colour: options.colour ?? false });
    const eol = control('clearToEnd');
    const text = lines.join(`${eol}${control('carriageReturn')}\n`) + eol;
    if (!force && text === lastText) return;
    lastText = text;
    output.write(`${control('home')}${text}`);
  };

  const iterator = source[Symbol.asyncIterator]();
  let stopReading = false;
  void (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done === true || stopReading) break;
        session.feed(next.value);
      }
      session.end('eof');
    } catch (e) {
      session.end('disconnected', e instanceof Error ? e.message : String(e));
    }
  })();

  return new Promise<LiveTerminalResult>((resolve, reject) => {
    const finish = (result: Omit<LiveTerminalResult, 'session'>, error?: unknown): void => {
      clearInterval(timer);
      screen?.leave();
      stopReading = true;
      // Closing the source tells the writer we are gone; do not wait for a pending read.
      void iterator.return?.().catch(() => undefined);
      if (error !== undefined) reject(error instanceof Error ? error : new Error(`live view: ${JSON.stringify(error)}`));
      else resolve({ ...result, session });
    };
    const guard = (f: () => void) => (): void => {
      try {
        f();
      } catch (e) {
        finish({ reason: 'quit' }, e);
      }
    };
    const onData = (data: Buffer | string): void => {
      guard(() => {
        for (const key of keysOf(typeof data === 'string' ? data : data.toString('utf8'))) {
          const action = pressKey(ui, key, lastView?.threads.map((t) => t.index) ?? []);
          if (action.kind === 'quit') return finish({ reason: 'quit' });
          const wasPaused = ui.paused;
          ui = action.state;
          // Pausing freezes the view as it is; a sort or thread key while paused takes a new snapshot.
          if (ui.paused) frozen = !wasPaused && lastView !== undefined ? lastView : takeView();
          else frozen = undefined;
        }
        draw(false);
      })();
    };
    const onResize = guard(() => {
      output.write(control('clearScreen'));
      lastText = '';
      draw(true);
    });
    // Ticks at the redraw rate; a tick draws when data came since the last frame (and the last frame is
    // `minGapMs` old), or a second passed (the elapsed time moves).
    const timer = setInterval(
      guard(() => {
        const now = Date.now();
        const changed = session.version !== drawnVersion || (tail?.version ?? -1) !== drawnTail;
        const gap = Math.max(minGapMs - 5, 5 * viewCostMs);
        if ((changed && now - lastDraw >= gap) || now - lastDraw >= Math.max(1000, gap)) draw(false);
      }),
      Math.max(50, Math.floor(minGapMs)),
    );
    screen = new TerminalScreen(input, output, {
      data: onData,
      resize: onResize,
      signal: (signal) => finish({ reason: 'signal', signal }),
      signals: options.signals,
    });
    guard(() => draw(true))();
  });
}
