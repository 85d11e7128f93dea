// Where and how an OTLP profiles request goes: constants of their own, so that the command line's options
// (src/cli/push-options.ts, on every `memlens run`'s way) do not load the encoder (otlp-profiles.ts).

/** The header the collector's receiver checks before it decodes a profiles request. */
export const OTLP_PROFILES_VERSION_HEADER = 'OTLP-Profiles-Development-Version';
export const OTLP_PROFILES_VERSION = '1';
export const OTLP_PROFILES_PATH = '/v1development/profiles';
