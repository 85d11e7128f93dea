// NODE_EXTRA_CA_CERTS, set aside while node starts and put back at once.
//
// Node 20 reads and parses every certificate of the file NODE_EXTRA_CA_CERTS names while it starts, before
// any JavaScript runs: with Debian's bundle (about 140 certificates, the value companies and CI images
// commonly set) that was 40 of node's 62 ms of CPU, two fifths of `memlens run`'s fixed cost
// (docs/benchmarks.md, "The fixed cost, round four"). Only a push over https needs those certificates.
// So the launchers start node without it (bin/memlens.js's first line, the wheel's python/memlens/_cli.py)
// and keep its value in MLENS_CA (a short name: bin/memlens.js's first line has 127 characters at most);
// memlens puts it back in its own environment first thing, so that the program it runs and every process it
// starts get it as the user set it, and a command that may push over https starts again under node with it
// (bin.ts).

/** Where the launchers keep NODE_EXTRA_CA_CERTS's value while node starts ('' when it was not set). */
export const DEFERRED_CA_ENV = 'MLENS_CA';
const EXTRA_CA_ENV = 'NODE_EXTRA_CA_CERTS';

/**
 * Puts NODE_EXTRA_CA_CERTS back as the user had it and removes the launcher's copy. True when the user had
 * set it: this node then started without the certificates it names.
 */
export function restoreExtraCaCerts(env: Record<string, string | undefined> = process.env): boolean {
  const saved = env[DEFERRED_CA_ENV];
  if (saved === undefined) return false;
  delete env[DEFERRED_CA_ENV];
  // Empty means unset, to node as to the launchers.
  if (saved === '') {
    delete env[EXTRA_CA_ENV];
    return false;
  }
  env[EXTRA_CA_ENV] = saved;
  return true;
}

/**
 * Whether this command line may open a TLS connection: a push (`--push`, `--push-otlp`, or their
 * environment variables; src/cli/push-options.ts), the only thing memlens sends over the network. Rather
 * too often than too rarely: an argument of the profiled program that starts with --push costs a second
 * node start, nothing else.
 */
export function mayUseTls(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): boolean {
  if ((env['MEMLENS_PUSH_URL'] ?? '') !== '' || (env['MEMLENS_PUSH_OTLP_URL'] ?? '') !== '') return true;
  return argv.some((a) => a.startsWith('--push'));
}
