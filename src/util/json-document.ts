// The one shape of memlens's JSON (docs/json.md): every document a `--json` option, `memlens results` or
// the pytest plugin prints starts with "schema": "memlens.KIND/N", where N changes only when a key is
// removed or changes meaning (adding keys does not), and every key is snake_case.

/** `{ schema: 'memlens.KIND/VERSION', ...body }`. */
export function jsonDocument<T extends object>(kind: string, body: T, version = 1): { schema: string } & T {
  return { schema: `memlens.${kind}/${version}`, ...body };
}

/** lowerCamelCase → snake_case (`nativeStack` → `native_stack`); snake_case stays. */
export function snakeCase(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** A copy of plain data whose object keys are snake_case, at every depth. Only for keys that are names of
 * fields (records, report rows), never for keys that are data (type names, allocator names). */
export function snakeKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[snakeCase(k)] = snakeKeys(v);
  return out;
}
