/**
 * The kernelspecs a Jupyter server on the managed env would offer, found the
 * way jupyter_client's KernelSpecManager finds them, without starting Python:
 * every `kernels/NAME/kernel.json` in the Jupyter data path, the first of a
 * name winning, plus ipykernel's own `python3` on the managed interpreter when
 * none is installed. Then the command line and environment to launch one
 * with, as jupyter_client's KernelManager builds them.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import type { KernelSpecSummary } from "./kernelspec-choice.js";

export interface LocalKernelSpec extends KernelSpecSummary {
  /** The spec's folder ({resource_dir}); undefined for the built-in python3. */
  dir: string | undefined;
  argv: string[];
  env: Record<string, string>;
  /** How to interrupt it: SIGINT to its process group, or an interrupt_request on the control channel. */
  interruptMode: "signal" | "message";
  /** Why its kernel.json cannot be used (naming the file and the field): an error only when it is the one chosen, as Jupyter lists the others. */
  problem?: string;
}

/** Jupyter's per-user data folder, as jupyter_core computes it on Linux and macOS. */
export function userDataDir(env: NodeJS.ProcessEnv): string {
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return join(homedir(), "Library", "Jupyter");
  return join(env.XDG_DATA_HOME || join(homedir(), ".local", "share"), "jupyter");
}

/**
 * sys.prefix of an interpreter, without running it: a venv's `bin/python`
 * sits in the venv (the symlink is not followed); any other one in PREFIX/bin.
 */
function prefixOf(python: string): { prefix: string; venv: boolean } {
  const venv = dirname(dirname(python));
  if (existsSync(join(venv, "pyvenv.cfg"))) return { prefix: venv, venv: true };
  return { prefix: dirname(dirname(realpathSync(python))), venv: false };
}

/**
 * jupyter_core's jupyter_path("kernels") for that interpreter: JUPYTER_PATH,
 * then the user's folder and the env's (the env's first in a venv, or when
 * JUPYTER_PREFER_ENV_PATH says so), then the system's.
 */
export function kernelSearchDirs(python: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const { prefix, venv } = prefixOf(python);
  const user = userDataDir(env);
  const envDir = join(prefix, "share", "jupyter");
  const preferEnv = env.JUPYTER_PREFER_ENV_PATH !== undefined ? !["", "0", "false", "no", "off", "n", "f"].includes(env.JUPYTER_PREFER_ENV_PATH.toLowerCase()) : venv;
  const dirs = [...(env.JUPYTER_PATH ?? "").split(delimiter).filter(Boolean), ...(preferEnv ? [envDir, user] : [user, envDir]), "/usr/local/share/jupyter", "/usr/share/jupyter"];
  return [...new Set(dirs.map((d) => join(d, "kernels")))];
}

interface KernelJson {
  argv?: unknown;
  display_name?: unknown;
  language?: unknown;
  env?: unknown;
  interrupt_mode?: unknown;
}

/** Every kernelspec the managed env's Jupyter would list, in its order. */
export function findLocalKernelSpecs(python: string, env: NodeJS.ProcessEnv = process.env): LocalKernelSpec[] {
  const found = new Map<string, LocalKernelSpec>();
  for (const kernels of kernelSearchDirs(python, env)) {
    let names: string[];
    try {
      names = readdirSync(kernels).sort();
    } catch {
      continue;
    }
    for (const entry of names) {
      const name = entry.toLowerCase(); // Jupyter's kernel names are case-insensitive
      const file = join(kernels, entry, "kernel.json");
      if (found.has(name) || !existsSync(file)) continue;
      found.set(name, readSpec(name, join(kernels, entry), file));
    }
  }
  if (!found.has("python3")) found.set("python3", builtinPython3(python));
  return [...found.values()];
}

/** ipykernel's own kernelspec on the managed interpreter (what a server offers when none is installed). */
function builtinPython3(python: string): LocalKernelSpec {
  return { name: "python3", displayName: "Python 3 (ipykernel)", language: "python", dir: undefined, argv: [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"], env: {}, interruptMode: "signal" };
}

function readSpec(name: string, dir: string, file: string): LocalKernelSpec {
  const unusable = (problem: string): LocalKernelSpec => ({ name, displayName: name, language: "", dir, argv: [], env: {}, interruptMode: "signal", problem: `${file}: ${problem}` });
  let raw: KernelJson;
  try {
    raw = JSON.parse(readFileSync(file, "utf8")) as KernelJson;
  } catch (err) {
    return unusable(`cannot read the kernelspec: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw.argv) || raw.argv.length === 0 || !raw.argv.every((a) => typeof a === "string")) return unusable("argv must be a non-empty list of strings");
  const env = raw.env ?? {};
  if (typeof env !== "object" || Array.isArray(env) || !Object.values(env).every((v) => typeof v === "string")) return unusable("env must map names to strings");
  const mode = raw.interrupt_mode ?? "signal";
  if (mode !== "signal" && mode !== "message") return unusable(`interrupt_mode must be "signal" or "message", not ${JSON.stringify(mode)}`);
  return {
    name,
    displayName: typeof raw.display_name === "string" ? raw.display_name : name,
    language: typeof raw.language === "string" ? raw.language : "",
    dir,
    argv: raw.argv as string[],
    env: env as Record<string, string>,
    interruptMode: mode,
  };
}

/**
 * The command line, as jupyter_client formats it: `{connection_file}` and
 * `{resource_dir}` filled in, and a bare `python`/`python3` meaning the
 * interpreter the server would run on (here the managed env's).
 */
export function launchCommand(spec: LocalKernelSpec, python: string, connectionFile: string): string[] {
  const bare = new Set(["python", "python3", /^python3\.\d+$/.test(spec.argv[0] ?? "") ? spec.argv[0]! : "python3"]);
  return spec.argv.map((arg, i) => {
    if (i === 0 && bare.has(arg)) return python;
    return arg.replaceAll("{connection_file}", connectionFile).replaceAll("{resource_dir}", spec.dir ?? "");
  });
}

/**
 * ipykernel's launcher as a command for a batch run: the same module
 * (`ipykernel_launcher`, run as __main__), with two differences.
 *
 * Without a debugger: debugpy is hidden while ipykernel decides whether it
 * can debug. ipykernel imports debugpy at every start when it is installed
 * (0.07-0.1 s of a ~0.35 s start, measured on this project's 2-core machine),
 * for a debugger no batch run attaches. The kernel then answers debug
 * requests as one without debugpy does; the user's own `import debugpy` in a
 * cell still works (only ipykernel's check saw it hidden).
 *
 * A quicker exit: the command waits for the kernel's exit, and Python's
 * finalization walks every object the kernel holds in several garbage
 * collections (0.55 s for a kernel that imported pandas and dask, measured).
 * The last exit handler (registered first, so it runs after the user's,
 * ipykernel's and IPython's, which clears the user's namespace) collects
 * once, then freezes what is left out of the later collections: 0.2-0.27 s.
 * Everything a normal exit finalizes still is (unclosed files, files held in
 * a reference cycle, the user's atexit handlers), except objects reachable
 * from modules at that point that sit in a cycle: Python does not promise to
 * finalize those at exit either.
 *
 * Any other command line (another kernel, a wrapper script) is left as it is.
 */
export function batchKernelCommand(command: string[]): string[] {
  const at = command.indexOf("-m");
  if (at !== 1 || command[2] !== "ipykernel_launcher") return command;
  return [command[0]!, "-c", BATCH_LAUNCHER, ...command.slice(3)];
}

const BATCH_LAUNCHER = [
  "import sys, runpy, atexit, gc",
  // As ipykernel_launcher does first: the working folder must not shadow a module the kernel imports.
  "if sys.path and sys.path[0] == '': del sys.path[0]",
  "def _nbrewind_last_at_exit():",
  "    gc.collect()",
  "    gc.freeze()",
  "atexit.register(_nbrewind_last_at_exit)",
  "sys.modules['debugpy'] = None",
  "try:",
  "    import ipykernel.debugger",
  "except Exception:",
  "    sys.modules.pop('ipykernel.debugger', None)",
  "del sys.modules['debugpy']",
  "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)",
].join("\n");

/** The spec's env over ours, its `${NAME}` references filled from ours (jupyter_client does the same). */
export function specEnvironment(spec: LocalKernelSpec, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...base };
  for (const [name, value] of Object.entries(spec.env)) out[name] = value.replace(/\$\{(\w+)\}/g, (whole, ref: string) => base[ref] ?? whole);
  return out;
}
