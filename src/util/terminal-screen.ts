// A full-screen terminal view's hold on the terminal (the live view, the interactive `memlens tree`): the
// alternate screen, no cursor, raw keys. Whatever ends the view — the user quitting, a signal, an uncaught
// error — the terminal gets back exactly what it had: main screen, cursor, cooked mode. It is restored
// once, however many of those happen.

import { control } from './terminal-text.js';

export interface TerminalInput {
  readonly isTTY?: boolean | undefined;
  setRawMode?(mode: boolean): unknown;
  on(event: 'data', listener: (data: Buffer | string) => void): unknown;
  off(event: 'data', listener: (data: Buffer | string) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface TerminalOutput {
  readonly isTTY?: boolean | undefined;
  readonly columns?: number | undefined;
  readonly rows?: number | undefined;
  write(text: string): unknown;
  on?(event: 'resize', listener: () => void): unknown;
  off?(event: 'resize', listener: () => void): unknown;
}

export interface ScreenHandlers {
  /** Keys (raw bytes; a paste or an escape sequence comes as one chunk). */
  readonly data: (data: Buffer | string) => void;
  readonly resize?: (() => void) | undefined;
  /** A signal of `signals` arrived; the terminal is already restored. */
  readonly signal: (signal: NodeJS.Signals) => void;
  /** Default SIGINT, SIGTERM, SIGHUP; [] leaves signals alone. */
  readonly signals?: readonly NodeJS.Signals[] | undefined;
}

// Alternate screen, cursor hidden, cleared; back: colours reset, cursor shown, main screen. Markers, turned
// into the sequences by the terminal-safe output (terminal-text.ts).
const ENTER = control('alternateScreen') + control('hideCursor') + control('home') + control('clearScreen');
const LEAVE = control('reset') + control('showCursor') + control('mainScreen');

export class TerminalScreen {
  private restored = false;
  private readonly signals: readonly NodeJS.Signals[];
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.leave();
    this.handlers.signal(signal);
  };
  // An uncaught error ends the process: put the terminal back on the way out (the monitor runs before
  // Node prints the error, so the message lands on the main screen).
  private readonly onUncaught = (): void => this.restore();

  /** Takes the terminal: from here on, `leave()` (or a signal, or an uncaught error) gives it back. */
  constructor(
    private readonly input: TerminalInput,
    private readonly output: TerminalOutput,
    private readonly handlers: ScreenHandlers,
  ) {
    this.signals = handlers.signals ?? ['SIGINT', 'SIGTERM', 'SIGHUP'];
    process.on('uncaughtExceptionMonitor', this.onUncaught);
    for (const s of this.signals) process.on(s, this.onSignal);
    output.write(ENTER);
    input.setRawMode?.(true);
    input.resume();
    input.on('data', handlers.data);
    if (handlers.resize !== undefined) output.on?.('resize', handlers.resize);
  }

  /** The view still owns the terminal (it may draw). */
  get active(): boolean {
    return !this.restored;
  }

  /** Stops listening and gives the terminal back; only the first call does anything. */
  leave(): void {
    if (this.restored) return;
    this.input.off('data', this.handlers.data);
    if (this.handlers.resize !== undefined) this.output.off?.('resize', this.handlers.resize);
    for (const s of this.signals) process.off(s, this.onSignal);
    process.off('uncaughtExceptionMonitor', this.onUncaught);
    this.restore();
    this.input.pause();
  }

  private restore(): void {
    if (this.restored) return;
    this.restored = true;
    try {
      this.input.setRawMode?.(false);
    } catch {
      // The terminal may be gone (hang-up): nothing left to restore on it.
    }
    this.output.write(LEAVE);
  }
}
