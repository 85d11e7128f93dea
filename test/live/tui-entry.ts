// Test-only entry (test/live/tui.test.ts runs it inside tmux): a real Python program under the agent, its
// capture read from a pipe into the live terminal view, its output in the view's panel.
//
//   node dist/test/live/tui-entry.js PYTHON SCRIPT [ARGS...]
//
// When the view ends it writes LIVE_RESULT (a JSON file: why it ended, the terminal's raw mode after),
// stops the program if it still runs, and exits.

import { writeFileSync } from 'node:fs';
import { LiveSession } from '../../src/live/live-session.js';
import { OutputTail } from '../../src/live/output-tail.js';
import { runLiveTerminal } from '../../src/live/tui.js';
import { terminalSafe } from '../../src/util/terminal-text.js';
import { launchLive } from './launch-live.js';

const [python, script, ...args] = process.argv.slice(2);
if (python === undefined || script === undefined) {
  process.stderr.write('usage: tui-entry.js PYTHON SCRIPT [ARGS...]\n');
  process.exit(2);
}
const session = new LiveSession();
const tail = new OutputTail();
const live = await launchLive({ python, script, args, cwd: process.cwd(), aggregate: process.env['LIVE_AGGREGATE'] === '1' }, session, tail);
// As main() does for every command: the view's own sequences are markers until the terminal-safe stream.
const result = await runLiveTerminal(live.capture, { input: process.stdin, output: terminalSafe(process.stdout) }, { session, output: tail, colour: process.env['LIVE_COLOUR'] === '1' });
let running = true;
void live.ended.then(() => (running = false));
await new Promise((r) => setTimeout(r, 50));
const targetWasRunning = running;
if (running) process.kill(live.launched.pid, 'SIGTERM');
await live.ended;
const out = process.env['LIVE_RESULT'];
if (out !== undefined) {
  writeFileSync(out, JSON.stringify({ reason: result.reason, signal: result.signal ?? null, rawAfter: process.stdin.isRaw, targetWasRunning, bytes: session.bytes }));
}
process.exit(0);
