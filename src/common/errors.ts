/**
 * Exit codes are part of the CLI's contract (see README):
 * 0 success, 1 a cell failed, 2 bad usage or input, 3 infrastructure failure.
 */
export const ExitCode = {
  ok: 0,
  cellFailed: 1,
  badInput: 2,
  infrastructure: 3,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is written for the user and carries its exit code. */
export class NbrewindError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Extra lines shown under the message (for example the tail of a server log). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad usage or bad input: a file that does not exist, an invalid notebook, a wrong flag. */
export class InputError extends NbrewindError {
  constructor(message: string, details: string[] = []) {
    super(message, ExitCode.badInput, details);
  }
}

/** The machinery failed: the server did not start, the kernel died, Python is missing. */
export class InfrastructureError extends NbrewindError {
  constructor(message: string, details: string[] = []) {
    super(message, ExitCode.infrastructure, details);
  }
}
