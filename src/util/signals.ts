// Linux signal names and numbers, both ways. x86-64 and arm64 agree on 1–31 (they use the generic
// numbering); the table is fixed rather than read from os.constants so that pure code (reports, the
// viewer) can name a signal recorded on another machine.

const NAMES = [
  '',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];

/** The other names Linux gives some of those numbers (Node's os.constants.signals lists them too). */
const ALIASES: Readonly<Record<string, number>> = { SIGIOT: 6, SIGPOLL: 29 };

/** `SIGKILL` for 9; `signal 40` for a number without a name (real-time signals). */
export function signalName(n: number): string {
  return NAMES[n] ?? `signal ${n}`;
}

/** The number of a signal name (`SIGTERM`: 15); 0 for null (no signal) or a name Linux does not have. */
export function signalNumber(name: string | null): number {
  if (name === null) return 0;
  const n = NAMES.indexOf(name);
  return n > 0 ? n : (ALIASES[name] ?? 0);
}
