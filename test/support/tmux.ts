// A terminal for tests of terminal programs: a private tmux server (its own socket, no user config) with one
// session of a fixed size; keys in with send-keys, the screen out with capture-pane.

import { execFileSync } from 'node:child_process';

export class Tmux {
  private readonly socket = `memlens-test-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
  private closed = false;

  constructor(command: string, options: { width: number; height: number; cwd: string; env?: Record<string, string> }) {
    this.run(['-f', '/dev/null', 'new-session', '-d', '-s', 'main', '-x', String(options.width), '-y', String(options.height), '-c', options.cwd, command], options.env);
  }

  private run(args: readonly string[], env?: Record<string, string>): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 10_000 });
  }

  /** The visible screen, one string per line (trailing blanks trimmed by tmux). */
  screen(): string {
    return this.run(['capture-pane', '-p', '-t', 'main']);
  }

  /** A tmux format of the pane: `#{alternate_on}`, `#{cursor_flag}`. */
  format(f: string): string {
    return this.run(['display-message', '-p', '-t', 'main', f]).trim();
  }

  /** Keys as tmux names them ('q', 'Space', 'Escape', 'C-c') or literal text with `literal`. */
  keys(keys: string, literal = false): void {
    this.run(['send-keys', '-t', 'main', ...(literal ? ['-l'] : []), keys]);
  }

  /** From now on, appends every byte the pane's program writes (before tmux interprets it) to `file`. */
  pipeOutput(file: string): void {
    this.run(['pipe-pane', '-o', '-t', 'main', `cat >> '${file.replaceAll("'", "'\\''")}'`]);
  }

  resize(width: number, height: number): void {
    this.run(['resize-window', '-t', 'main', '-x', String(width), '-y', String(height)]);
  }

  /** Waits until `test` holds of the screen; fails with the last screen after `timeoutMs`. */
  async waitFor(what: string, test: (screen: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const last = this.screen();
      if (test(last)) return last;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the screen:\n${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.run(['kill-server']);
    } catch {
      // Already gone (the session's command ended and the server with it).
    }
  }
}
