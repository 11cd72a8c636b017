import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../common/cache-dir.js";
import { InfrastructureError } from "../common/errors.js";
import { packageRoot } from "../common/package-root.js";
import { withDirectoryLock } from "../common/directory-lock.js";
import { askPythonVersion, rememberedPythonVersion } from "./base-python-probe.js";

/**
 * The kernel side runs in a Python environment we create and own, pinned by
 * engines/python/requirements.lock. Its folder is named by the digest of the
 * lock and the base interpreter, so a changed pin set gets a fresh env and an
 * unchanged one is reused by every clone of the project on this machine.
 */
export interface ManagedEnv {
  dir: string;
  python: string;
  bin: string;
  lockDigest: string;
}

interface Stamp {
  lockDigest: string;
  basePython: string;
  createdAt: string;
}

export function requirementsLockPath(): string {
  return join(packageRoot(), "engines", "python", "requirements.lock");
}

export function basePython(): string {
  return process.env.NBREWIND_PYTHON ?? "python3";
}

export function basePythonVersion(python: string): string {
  return rememberedPythonVersion(python, askBasePythonVersion);
}

function askBasePythonVersion(python: string): string {
  const probe = askPythonVersion(python);
  if (probe.error || probe.status !== 0) {
    throw new InfrastructureError(`cannot run the base Python interpreter '${python}'`, [
      probe.error ? String(probe.error.message) : probe.stderr.trim(),
      "fix: install CPython 3.11 (for example `apt-get install python3 python3-venv`) or set NBREWIND_PYTHON to its path",
    ]);
  }
  return probe.stdout.trim();
}

export function lockDigest(python = basePython()): string {
  const lock = readFileSync(requirementsLockPath());
  return createHash("sha256").update(lock).update("\0").update(basePythonVersion(python)).digest("hex");
}

export function managedEnvDir(digest: string): string {
  if (process.env.NBREWIND_PYTHON_ENV) return process.env.NBREWIND_PYTHON_ENV;
  return join(cacheRoot(), `python-${digest.slice(0, 12)}`);
}

function envFrom(dir: string, digest: string): ManagedEnv {
  return { dir, python: join(dir, "bin", "python"), bin: join(dir, "bin"), lockDigest: digest };
}

function readStamp(dir: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "nbrewind-env.json"), "utf8")) as Stamp;
  } catch {
    return undefined;
  }
}

/**
 * NBREWIND_KERNEL_ENV names a Python environment to use as it is: not created,
 * not checked against our pins. A container replay sets it to the venv its
 * image holds, which has the pins recorded in the bundle, not ours (and no
 * network to install ours). It must contain jupyter_server and ipykernel.
 */
function givenKernelEnv(): ManagedEnv | undefined {
  const dir = process.env.NBREWIND_KERNEL_ENV;
  if (!dir) return undefined;
  if (!existsSync(join(dir, "bin", "python"))) {
    throw new InfrastructureError(`NBREWIND_KERNEL_ENV is ${dir}, but ${join(dir, "bin", "python")} does not exist`, ["fix: point NBREWIND_KERNEL_ENV at a Python venv (with jupyter_server and ipykernel), or unset it"]);
  }
  return envFrom(dir, "given");
}

/** The managed env if it is complete and matches the lock; never creates anything. */
export function findManagedEnv(): ManagedEnv | undefined {
  const given = givenKernelEnv();
  if (given) return given;
  const digest = lockDigest();
  const dir = managedEnvDir(digest);
  const stamp = readStamp(dir);
  return stamp?.lockDigest === digest && existsSync(join(dir, "bin", "python")) ? envFrom(dir, digest) : undefined;
}

export type ProgressSink = (line: string) => void;

/**
 * Return the managed env, creating it first when it is missing or stale.
 * The stamp is written last, so an interrupted install is redone, not trusted;
 * a lock folder keeps two concurrent bootstraps (parallel tests, two shells)
 * from installing into the same place.
 */
export async function ensureManagedEnv(progress: ProgressSink = () => {}): Promise<ManagedEnv> {
  const given = givenKernelEnv();
  if (given) return given;
  const python = basePython();
  const digest = lockDigest(python);
  const dir = managedEnvDir(digest);
  await createVenv(python, dir, digest, ["-r", requirementsLockPath()], progress);
  return envFrom(dir, digest);
}

/**
 * Create the venv `dir` with `pip install <requirements>` unless its stamp
 * already says `digest`. The stamp is written last, so an interrupted install
 * is redone, not trusted; a lock folder keeps two concurrent creations
 * (parallel tests, two shells) from installing into the same place.
 */
export async function createVenv(python: string, dir: string, digest: string, requirements: string[], progress: ProgressSink): Promise<void> {
  const ready = () => readStamp(dir)?.lockDigest === digest && existsSync(join(dir, "bin", "python"));
  if (ready()) return;
  mkdirSync(join(dir, ".."), { recursive: true });
  await withDirectoryLock(`${dir}.lock`, progress, async () => {
    if (ready()) return;
    progress(`creating the Python environment in ${dir} (once per pin set; a few minutes)`);
    rmSync(dir, { recursive: true, force: true });
    await runLogged(python, ["-m", "venv", dir], progress);
    const pip = join(dir, "bin", "pip");
    await runLogged(pip, ["install", "--disable-pip-version-check", "--no-input", ...requirements], progress);
    const stamp: Stamp = { lockDigest: digest, basePython: basePythonVersion(python), createdAt: new Date().toISOString() };
    writeFileSync(join(dir, "nbrewind-env.json"), JSON.stringify(stamp, null, 2) + "\n");
    progress("Python environment ready");
  });
}

export interface RunLoggedOptions {
  /** Which output lines (trimmed) go to progress; the rest only to the error's tail. */
  show?: RegExp;
  signal?: AbortSignal;
}

/** Run a pip-like tool: selected lines to progress, the last 30 lines in the error if it fails. */
export function runLogged(cmd: string, args: string[], progress: ProgressSink, options: RunLoggedOptions = {}): Promise<void> {
  const show = options.show ?? /^(Collecting|Installing|Successfully)/;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], signal: options.signal });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split(/\r?\n/)) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 30) tail.shift();
        if (show.test(line.trim())) progress(line.trim());
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err) => reject(err.name === "AbortError" ? err : new InfrastructureError(`cannot run ${cmd}: ${err.message}`)));
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new InfrastructureError(`'${cmd} ${args.join(" ")}' failed with exit code ${code}`, tail)),
    );
  });
}
