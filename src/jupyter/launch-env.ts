/**
 * The environment of the Python processes we launch (the embedded server, or
 * a kernel launched directly): the managed env activated, the shim importable,
 * a run marker every descendant inherits, and Jupyter's runtime and config
 * folders pointed at a private one.
 */
import { existsSync } from "node:fs";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { packageRoot } from "../common/package-root.js";

export interface LaunchEnvOptions {
  python: string;
  /** Extra environment from the caller (it wins over ours except for what follows). */
  env?: Record<string, string> | undefined;
  /** NBREWIND_RUN_ID: how stop() finds every process of this run that escaped a polite shutdown (process-sweep.ts). */
  runId: string;
  /** A folder of ours, 0700 (runtime-dirs.ts). */
  runtimeDir: string;
}

export function launchEnv(options: LaunchEnvOptions): NodeJS.ProcessEnv {
  const shimPath = join(packageRoot(), "engines", "python");
  return {
    ...process.env,
    ...options.env,
    ...activatedEnv(options.python, options.env?.PATH ?? process.env.PATH),
    NBREWIND_RUN_ID: options.runId,
    PYTHONPATH: [shimPath, process.env.PYTHONPATH].filter(Boolean).join(delimiter),
    // Isolate from the user's server and kernel config and runtime files; kernelspecs still come from the data path.
    JUPYTER_RUNTIME_DIR: options.runtimeDir,
    JUPYTER_CONFIG_DIR: join(options.runtimeDir, "config"),
    PYTHONUNBUFFERED: "1",
  };
}

/**
 * What activating the interpreter's environment would set: its bin folder first
 * on PATH (engines start helper scripts installed there by name, such as Parsl's
 * `process_worker_pool.py` and `interchange.py`), and VIRTUAL_ENV when it is a venv.
 * The interpreter path is not resolved: a venv's `bin/python` is a symlink out of the venv.
 */
export function activatedEnv(python: string, path: string | undefined): { PATH: string; VIRTUAL_ENV?: string } {
  const bin = dirname(python);
  if (!isAbsolute(bin)) return { PATH: path ?? "" }; // a bare `python3` is found through PATH already
  const rest = (path ?? "").split(delimiter).filter((p) => p !== "" && p !== bin);
  const venv = dirname(bin);
  return { PATH: [bin, ...rest].join(delimiter), ...(existsSync(join(venv, "pyvenv.cfg")) ? { VIRTUAL_ENV: venv } : {}) };
}
