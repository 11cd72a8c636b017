/**
 * The run command, kept apart from run.ts (what runs a notebook, shared
 * with audit and repeat) so that it can start the kernel before loading it
 * (see kernel-start.ts).
 */
import { parseArgs } from "./args.js";
import type { Command, CommandIO } from "./command.js";
import { executionOptions, executionOptionsHelp } from "./execution-options.js";
import { discardRuntime, startKernelFirst } from "./kernel-start.js";

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("run", argv, executionOptions);
  // Every cell runs: the kernel starts first thing, before the rest of the
  // command (run.ts, the notebook's validation) is even loaded.
  const first = await startKernelFirst(args, io, true);
  let prepared, executeNotebookCommand;
  try {
    const run = await import("./run.js");
    executeNotebookCommand = run.executeNotebookCommand;
    prepared = await run.prepareNotebook("run", args);
  } catch (err) {
    await discardRuntime(first?.runtime);
    throw err;
  }
  first?.showLog();
  return executeNotebookCommand("run", args, io, undefined, prepared, first?.runtime);
}

export const run: Command = {
  name: "run",
  help: `Usage: nbrewind-engine run NOTEBOOK [-o OUT] [-p NAME VALUE]... [options]

Execute every code cell of NOTEBOOK in order through a Jupyter kernel and
write the executed notebook (outputs, execution counts, per-cell timing in
cell.metadata.execution) to OUT. Without --server-url an embedded Jupyter
Server is started on 127.0.0.1 with a random token and shut down, with all
its kernels, when the run ends, fails or is interrupted. The Python side runs
in a pinned environment that is created on first use.

A cell error stops the run (unless --allow-errors); Ctrl-C interrupts the
kernel; in both cases the partial notebook is still written.

${executionOptionsHelp}

Examples:
  nbrewind-engine run analysis.ipynb -o out.ipynb -p n_samples 1000 -p tag "v2"
  nbrewind-engine run analysis.ipynb --server-url http://127.0.0.1:8888 --token $TOKEN --json`,
  run: runCommand,
};
