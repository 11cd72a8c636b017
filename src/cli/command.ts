/**
 * One CLI command. Every command lives in its own file in this folder and is
 * listed in registry.ts (with its one-line summary, so listing the commands
 * imports none of them); main.ts only dispatches and turns errors into exit codes.
 */
export interface Command {
  name: string;
  /** The full `--help` text: usage, what it does, every option, an example. */
  help: string;
  /** Returns the process exit code (see ExitCode in common/errors.ts). */
  run(argv: string[], io: CommandIO): Promise<number>;
}

export interface CommandIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Aborted on SIGINT / SIGTERM: long-running commands stop cleanly and write what they have. */
  signal: AbortSignal;
}
