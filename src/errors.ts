// Typed errors. Commands throw these; src/cli/main.ts is the one place that turns them into a one-line
// message (plus a hint) and an exit code. Anything that is not a MemlensError is a bug in memlens and is
// shown with its stack trace.

export interface ErrorDetails {
  /** What the user can do about it, shown on a second line. */
  readonly hint?: string | undefined;
  readonly exitCode?: number | undefined;
  readonly cause?: unknown;
}

export class MemlensError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.hint = details.hint;
    this.exitCode = details.exitCode ?? 1;
  }
}

/** The command line itself is wrong: unknown option, missing argument. Exit status 2, as getopt tools do. */
export class UsageError extends MemlensError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { exitCode: 2, ...details });
  }
}

/** A file cannot be read or written: missing, a directory, exists already, no permission. */
export class FileError extends MemlensError {}

/** The bytes of a capture are not what the format says. `offset` is the byte offset in the file. */
export class CaptureFormatError extends MemlensError {
  readonly offset: number | undefined;
  constructor(message: string, offset?: number, details: ErrorDetails = {}) {
    super(message, details);
    this.offset = offset;
  }
}

/** The capture was written by a newer memlens whose format this reader cannot read. */
export class UnsupportedVersionError extends CaptureFormatError {}

/** The capture holds no data for the question asked (for example temporary allocations of an aggregated capture). */
export class MissingDataError extends MemlensError {}

/** Starting, attaching to or talking to the target process failed. */
export class TargetError extends MemlensError {}
