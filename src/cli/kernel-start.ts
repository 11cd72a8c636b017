/**
 * How run, audit and repeat start their kernel. Kept light (no notebook,
 * bundle or planner code) so that a command can launch the kernel first
 * thing, before it loads and does the rest.
 */
import { dirname, resolve } from "node:path";
import { InputError } from "../common/errors.js";
import { timings } from "../common/phase-timings.js";
import type { JupyterRuntime, KernelTransport } from "../jupyter/jupyter-runtime.js";
import { ensureManagedEnv, findManagedEnv } from "../pyenv/managed-env.js";
import { kernelGuessFromFiles } from "../session/kernel-forecast.js";
import type { ParsedArgs } from "./args.js";
import { bundleDirFrom } from "./checkpoint-options.js";
import type { CommandIO } from "./command.js";

/**
 * Start the kernel: launched directly (the default), on an embedded server
 * (--kernel-transport server), or on --server-url. The kernel client code is
 * loaded here, on first need: a repeat that reuses every cell never pays for
 * it. `whileStarting` is CPU work of the caller's done while the Python
 * processes start (see RuntimeOptions); called once they are spawned.
 */
export async function openRuntime(args: ParsedArgs, signal: AbortSignal, path: string, notebookKernel: string | undefined, log: (line: string) => void, whileStarting?: () => void): Promise<JupyterRuntime> {
  const serverUrl = args.values.get("server-url");
  const transport = kernelTransport(args);
  const python = serverUrl ? "" : (await timings.timeSpan("managed env check", () => ensureManagedEnv(log))).python;
  if (signal.aborted) throw new InterruptedBeforeStart();
  const { JupyterRuntime } = await import("../jupyter/jupyter-runtime.js");
  return JupyterRuntime.open({
    serverUrl,
    transport,
    token: args.values.get("token"),
    python,
    rootDir: dirname(path),
    kernel: args.values.get("kernel"),
    notebookKernel,
    log,
    ...(whileStarting ? { whileStarting } : {}),
  });
}

/** --kernel-transport (or NBREWIND_KERNEL_TRANSPORT), checked before anything starts. */
export function kernelTransport(args: ParsedArgs): KernelTransport {
  const value = args.values.get("kernel-transport") ?? "direct";
  if (value === "direct" || value === "server") return value;
  throw new InputError(`--kernel-transport (or NBREWIND_KERNEL_TRANSPORT) must be 'direct' or 'server', not ${JSON.stringify(value)}`);
}

/**
 * A runtime started early (first thing, or while the plan is made) that turned out
 * not to be used, or whose command failed before using it: closed, whatever
 * state it reached.
 */
export async function discardRuntime(early: Promise<JupyterRuntime> | undefined): Promise<void> {
  const runtime = await early?.catch(() => undefined);
  await runtime?.close();
}

export class InterruptedBeforeStart extends Error {}

/** A kernel started first thing (startKernelFirst). */
export interface FirstKernel {
  /** The kernel, starting or started. */
  runtime: Promise<JupyterRuntime>;
  /**
   * Print the progress lines of its start ("starting kernel 'python3'"),
   * held until now, and the later ones as they come: called when the
   * command goes on to use the kernel. A command that refuses its input
   * before prints none: its output is what it was without the early start.
   */
  showLog(): void;
}

/**
 * Start the kernel first thing, when the files alone say a cell will surely
 * run (kernelGuessFromFiles; `forced`: run and audit, which run every cell,
 * or repeat's --run/--from): before the rest of the command is loaded, the
 * notebook validated, the bundle locked, trusted and its records read, so
 * that the kernel's start (most of a repeat's wait) overlaps all of that
 * instead of following it. Resolves once the kernel process is spawned (or
 * its start failed), so that the caller's own work does not delay the spawn.
 * The caller hands the kernel to runCheckpointCommand, or discards it
 * (discardRuntime) if the command fails before. Nothing from the bundle
 * reaches this kernel before the trust gate has passed: the shim and values
 * are loaded only after the plan.
 */
export async function startKernelFirst(args: ParsedArgs, io: CommandIO, forced: boolean): Promise<FirstKernel | undefined> {
  if (args.positionals.length !== 1 || !transportValid(args)) return undefined;
  const path = resolve(args.positionals[0]!);
  const parameters = ["parameters", "parameters-raw", "parameters-file"].some((name) => (args.lists.get(name) ?? []).length > 0);
  // A first use that must create the Python environment first (minutes) is no moment to guess.
  if (!args.values.get("server-url") && !envReady()) return undefined;
  const guess = await kernelGuessFromFiles(path, bundleDirFrom(args, path), { forced, parameters });
  if (!guess) return undefined;
  const write = (line: string) => void (args.flags.has("quiet") ? undefined : io.stderr.write(line + "\n"));
  const held: string[] = [];
  let shown = false;
  let spawned!: () => void;
  const started = new Promise<void>((resolve) => (spawned = resolve));
  const runtime = openRuntime(args, io.signal, path, guess.kernelName, (line) => (shown ? write(line) : held.push(line)), spawned);
  runtime.catch(() => {}); // a failed start is reported where the runtime is awaited
  await Promise.race([started, runtime.then(noop, noop)]);
  timings.mark("kernel launched (first guess)");
  return {
    runtime,
    showLog: () => {
      if (shown) return;
      shown = true;
      for (const line of held.splice(0)) write(line);
    },
  };
}

function transportValid(args: ParsedArgs): boolean {
  try {
    kernelTransport(args);
    return true;
  } catch {
    return false; // said by prepareNotebook, as before
  }
}

function envReady(): boolean {
  try {
    return findManagedEnv() !== undefined;
  } catch {
    return false;
  }
}

function noop(): void {}
