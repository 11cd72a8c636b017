import { basename, dirname, extname, join, resolve } from "node:path";
import { afterDiskFailure } from "./disk-failure.js";
import { DiskError, diskErrorFrom } from "../common/disk-errors.js";
import { ExitCode, InputError, NbrewindError } from "../common/errors.js";
import { requireWritable, type WriteTarget } from "../common/writable.js";
import { packageVersion } from "../common/package-root.js";
import { timings } from "../common/phase-timings.js";
import type { JupyterRuntime } from "../jupyter/jupyter-runtime.js";
import { KernelDiedError } from "../jupyter/kernel-died.js";
import { executeNotebook, type NotebookRun } from "../jupyter/notebook-executor.js";
import { collectParameters, injectParameters } from "../notebook/parameters.js";
import { readNotebook } from "../notebook/read.js";
import { writeNotebook } from "../notebook/write.js";
import { numberOption, type ParsedArgs } from "./args.js";
import { discardRuntime, InterruptedBeforeStart, kernelTransport, openRuntime } from "./kernel-start.js";
import type { CommandIO } from "./command.js";
import { errorLine } from "./error-line.js";
import { ProgressReporter, formatSeconds } from "./progress.js";
import { cellName } from "../notebook/cell-label.js";
import type { Prepared, RunExtension } from "../session/run-extension.js";

export type { Prepared, RunExtension };
export { executionOptions, executionOptionsHelp } from "./execution-options.js";
export { discardRuntime, InterruptedBeforeStart, kernelTransport, openRuntime } from "./kernel-start.js";
export { run, runCommand } from "./run-command.js";



export interface RunSummary {
  command: string;
  nbrewind_version: string;
  notebook: string;
  output: string;
  status: NotebookRun["status"];
  exit_code: number;
  kernel: string;
  server: string;
  duration_s: number;
  parameters: Record<string, unknown>;
  cells: Array<{
    index: number;
    id: string | null;
    status: string;
    duration_s: number;
    execution_count: number | null;
    outputs: number;
    error?: { ename: string; evalue: string };
  }>;
  failed_cell?: number;
  message?: string;
}

/** Where the executed notebook goes, as a folder the pre-flight check must be able to write. */
export function outputTarget(args: ParsedArgs, input: string): WriteTarget {
  return { dir: dirname(resolve(args.values.get("output") ?? defaultOutputPath(input))), role: "the output notebook", option: "-o FILE", mustExist: true };
}

export function defaultOutputPath(input: string): string {
  const stem = basename(input, extname(input));
  return join(dirname(input), `${stem}.out.ipynb`);
}

/** Read the notebook and inject parameters: everything about the input that can be wrong fails here, before a server starts. */
export async function prepareNotebook(command: string, args: ParsedArgs): Promise<Prepared> {
  if (args.positionals.length !== 1) {
    throw new InputError(`${command}: expected one NOTEBOOK argument, got ${args.positionals.length} (see 'nbrewind-engine ${command} --help')`);
  }
  kernelTransport(args);
  const path = resolve(args.positionals[0]!);
  const notebook = await readNotebook(path);
  const parameters = await collectParameters({
    pairs: (args.lists.get("parameters") ?? []) as [string, string][],
    rawPairs: (args.lists.get("parameters-raw") ?? []) as [string, string][],
    files: (args.lists.get("parameters-file") ?? []).map((v) => v[0]!),
  });
  const injected = injectParameters(notebook, parameters);
  timings.mark("read notebook");
  return { path, notebook: injected.notebook, parameters };
}




/**
 * The shared body of run, audit and repeat: kernel up, cells through, notebook
 * written, everything shut down. `early` is a runtime the caller started
 * already (openRuntime): it is used when a kernel is needed and closed
 * otherwise; either way this function owns it from the call on.
 */
export async function executeNotebookCommand(command: string, args: ParsedArgs, io: CommandIO, extension?: RunExtension, prepared?: Prepared, early?: Promise<JupyterRuntime>): Promise<number> {
  let cellTimeout;
  try {
    cellTimeout = numberOption(command, args, "cell-timeout");
  } catch (err) {
    await discardRuntime(early); // owned from the call on
    throw err;
  }
  const needsKernel = !extension || extension.needsKernel();
  if (early && !needsKernel) {
    // Started on a forecast that something would run; the plan reuses every cell.
    await discardRuntime(early);
    early = undefined;
    timings.mark("close the unneeded kernel");
  }
  const { path, notebook, parameters } = prepared ?? (await prepareNotebook(command, args));
  const output = resolve(args.values.get("output") ?? defaultOutputPath(path));
  try {
    await requireWritable(command, [outputTarget(args, path)]);
  } catch (err) {
    await discardRuntime(early);
    throw err;
  }
  const json = args.flags.has("json");
  const progress = new ProgressReporter(io.stderr, !args.flags.has("quiet"), notebook.cells.length);
  const log = (line: string) => progress.info(line);

  const started = performance.now();
  let runtime: JupyterRuntime | undefined;
  let kernelLog: string[] = [];
  let closing: Promise<void> | undefined;
  /** Shut the kernel down, once: early, when the extension is done with it, or at the end. */
  const closeRuntime = (): Promise<void> => {
    if (!closing) {
      kernelLog = runtime?.recentLog() ?? [];
      closing = runtime ? runtime.close() : Promise.resolve();
      closing.catch(() => {}); // awaited below, in the finally
    }
    return closing;
  };
  let result: NotebookRun | undefined;
  let failure: unknown;
  let attached = false;
  try {
    if (early) {
      // Whatever the caller did meanwhile, the CPU work the shim needs can still overlap the kernel's start.
      extension?.warmUp?.();
      runtime = await early;
      timings.mark("wait for kernel (started early)");
    } else if (needsKernel) {
      runtime = await openRuntime(args, io.signal, path, notebook.metadata.kernelspec?.name, log, extension?.warmUp ? () => extension.warmUp!() : undefined);
      timings.mark("kernel start (and its server, if any)");
    }
    const hooks = extension ? await extension.attach(runtime, log) : undefined;
    attached = true;
    log(runtime ? `running ${basename(path)} on kernel '${runtime.kernelName}'` : `every cell of ${basename(path)} is reused: no kernel needed`);
    result = await executeNotebook(notebook, runtime?.session, {
      cellTimeoutMs: cellTimeout ? cellTimeout * 1000 : undefined,
      allowErrors: args.flags.has("allow-errors"),
      signal: io.signal,
      events: progress,
      hooks,
    });
    timings.mark("cells + checkpoints");
  } catch (err) {
    failure = err;
  } finally {
    progress.stop();
    try {
      // Whatever happened, the notebook on disk says what ran.
      failure = diskErrorFrom(failure) ?? failure;
      if (result || failure instanceof KernelDiedError || failure instanceof DiskError) {
        notebook.metadata.nbrewind = { ...(notebook.metadata.nbrewind as object | undefined), run: runMetadata(result, runtime?.kernelName, started) };
        failure = await afterDiskFailure(failure, "the partial notebook", output, () => writeNotebook(output, notebook));
        timings.mark("write notebook");
      }
      if (extension && attached) failure = await afterDiskFailure(failure, "the bundle's run record", undefined, () => extension.finish(result, failure, closeRuntime));
      timings.mark("finish run (engines, bundle)");
    } finally {
      await closeRuntime();
      timings.mark("shutdown");
      if (result?.status === "kernel-died") failure = new KernelDiedError("the kernel died while executing a cell", kernelLog.slice(-15));
    }
  }

  if (failure instanceof InterruptedBeforeStart) return ExitCode.interrupted;
  if (failure && !(failure instanceof NbrewindError)) throw failure;
  const exitCode = failure ? (failure as NbrewindError).exitCode : exitCodeFor(result!, args.flags.has("allow-errors"));
  const summary = buildSummary(command, path, output, result, runtime?.kernelName, args.values.get("server-url") ?? (kernelTransport(args) === "server" ? "embedded" : "none"), parameters, exitCode, started, failure);
  const extra = extension?.summary?.();
  if (args.flags.has("timings")) {
    timings.mark("summary");
    io.stderr.write(timings.table().join("\n") + "\n");
  }
  if (json) {
    io.stdout.write(JSON.stringify({ ...summary, ...extra?.fields }, null, 2) + "\n");
    if (failure) io.stderr.write(errorLine(command, (failure as Error).message) + "\n");
    return exitCode;
  }
  if (result && (!args.flags.has("quiet") || exitCode !== ExitCode.ok)) {
    io.stderr.write(humanSummary(summary) + "\n");
    for (const line of extra?.lines ?? []) io.stderr.write(line + "\n");
  }
  if (failure) throw failure;
  return exitCode;
}


function exitCodeFor(run: NotebookRun, allowErrors: boolean): number {
  switch (run.status) {
    case "ok":
      return ExitCode.ok;
    case "cell-error":
      // Errors were asked to be tolerated: they are in the outputs and the summary, not in the exit code.
      return allowErrors ? ExitCode.ok : ExitCode.cellFailed;
    case "timeout":
      return ExitCode.cellFailed;
    case "interrupted":
      return ExitCode.interrupted;
    case "kernel-died":
      return ExitCode.infrastructure;
  }
}

function runMetadata(run: NotebookRun | undefined, kernel: string | undefined, started: number): Record<string, unknown> {
  return {
    status: run?.status ?? "kernel-died",
    kernel: kernel ?? null,
    duration_s: round3((performance.now() - started) / 1000),
    finished_at: new Date().toISOString(),
    nbrewind_version: packageVersion(),
  };
}

export function buildSummary(
  command: string,
  notebook: string,
  output: string,
  run: NotebookRun | undefined,
  kernel: string | undefined,
  server: string,
  parameters: Record<string, unknown>,
  exitCode: number,
  started: number,
  failure: unknown,
): RunSummary {
  const summary: RunSummary = {
    command,
    nbrewind_version: packageVersion(),
    notebook,
    output,
    status: run?.status ?? (failure instanceof KernelDiedError ? "kernel-died" : "cell-error"),
    exit_code: exitCode,
    kernel: kernel ?? "",
    server,
    duration_s: round3((performance.now() - started) / 1000),
    parameters,
    cells: (run?.cells ?? []).map((c) => ({
      index: c.index,
      id: c.id ?? null,
      status: c.status,
      duration_s: round3(c.durationMs / 1000),
      execution_count: c.executionCount,
      outputs: c.outputs,
      ...(c.error ? { error: c.error } : {}),
    })),
  };
  if (run?.failedCell !== undefined) summary.failed_cell = run.failedCell;
  if (failure instanceof Error) summary.message = failure.message;
  return summary;
}

function humanSummary(s: RunSummary): string {
  const failed = s.failed_cell === undefined ? "a cell" : cellName(s.failed_cell);
  const ran = s.cells.filter((c) => c.status !== "skipped" && c.status !== "not-run" && c.status !== "reused").length;
  const head = {
    ok: `done: ran ${ran} cells in ${formatSeconds(s.duration_s * 1000)}`,
    "cell-error": `failed: ${failed} raised an error`,
    timeout: `failed: ${failed} timed out`,
    interrupted: `interrupted at ${failed}`,
    "kernel-died": `the kernel died${s.failed_cell !== undefined ? ` in ${failed}` : ""}`,
  }[s.status];
  const failedCell = s.cells.find((c) => c.index === s.failed_cell);
  const why = failedCell?.error ? `\n  ${failedCell.error.ename}: ${failedCell.error.evalue}` : "";
  return `${head}${why}\noutput written to ${s.output}`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

