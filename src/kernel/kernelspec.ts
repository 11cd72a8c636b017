/**
 * The NBRewind kernelspec: where Jupyter looks for kernelspecs, writing ours
 * ("Python 3 (NBRewind)", whose argv starts dist/kernel/main.js with
 * {connection_file}), finding it again and removing it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { delimiter, join, resolve } from "node:path";
import { InputError } from "../common/errors.js";
import { packageRoot, packageVersion } from "../common/package-root.js";
import { userDataDir } from "../jupyter/local-kernelspecs.js";

export const DEFAULT_NAME = "nbrewind";
export const DEFAULT_DISPLAY_NAME = "Python 3 (NBRewind)";

export type Scope = { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };

export interface KernelSpecJson {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode?: string;
  env?: Record<string, string>;
  metadata?: { nbrewind?: { version: string; python: string }; [key: string]: unknown };
}

export interface InstalledSpec {
  name: string;
  dir: string;
  spec: KernelSpecJson;
  /** It starts our kernel (found by its metadata). */
  ours: boolean;
}

function sysPrefix(python: string): string {
  return execFileSync(python, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" }).trim();
}

/** The kernels/ folder a scope installs into. */
export function kernelsDir(scope: Scope, python: string, env: NodeJS.ProcessEnv = process.env): string {
  switch (scope.kind) {
    case "user":
      return join(userDataDir(env), "kernels");
    case "sys-prefix":
      return join(sysPrefix(python), "share", "jupyter", "kernels");
    case "prefix":
      return join(resolve(scope.dir), "share", "jupyter", "kernels");
  }
}

/** Every kernels/ folder Jupyter searches for this Python, in its order (JUPYTER_PATH, user, the env's prefix, system). */
export function searchPath(python: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = [
    ...(env.JUPYTER_PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, "kernels")),
    join(userDataDir(env), "kernels"),
    join(sysPrefix(python), "share", "jupyter", "kernels"),
    "/usr/local/share/jupyter/kernels",
    "/usr/share/jupyter/kernels",
  ];
  return [...new Set(dirs)];
}

export function kernelSpec(options: { name: string; displayName: string; python: string }): KernelSpecJson {
  return {
    argv: [process.execPath, join(packageRoot(), "dist", "kernel", "main.js"), "-f", "{connection_file}", "--python", options.python, "--name", options.name],
    display_name: options.displayName,
    language: "python",
    // Interrupts arrive as control messages, which we pass to the inner ipykernel.
    interrupt_mode: "message",
    metadata: { nbrewind: { version: packageVersion(), python: options.python } },
  };
}

const NAME = /^[A-Za-z0-9._-]+$/;

export async function installKernelSpec(options: { scope: Scope; name: string; displayName: string; python: string }): Promise<string> {
  if (!NAME.test(options.name)) throw new InputError(`--name ${JSON.stringify(options.name)}: a kernelspec name is letters, digits, '.', '_' and '-'`);
  if (!existsSync(options.python)) throw new InputError(`--python ${options.python}: no such file`);
  const probe = (() => {
    try {
      execFileSync(options.python, ["-c", "import ipykernel"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();
  if (!probe) throw new InputError(`--python ${options.python}: ipykernel is not installed in that Python (the kernel runs a real ipykernel inside)`);
  const dir = join(kernelsDir(options.scope, options.python), options.name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "kernel.json"), JSON.stringify(kernelSpec(options), null, 2) + "\n");
  return dir;
}

function readSpec(dir: string): KernelSpecJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8")) as KernelSpecJson;
  } catch {
    return undefined;
  }
}

/** The NBRewind kernelspecs Jupyter would see, first one of each name winning as in Jupyter. */
export function findKernelSpecs(python: string, extraDirs: string[] = [], env: NodeJS.ProcessEnv = process.env): InstalledSpec[] {
  const seen = new Set<string>();
  const out: InstalledSpec[] = [];
  for (const kernels of [...extraDirs, ...searchPath(python, env)]) {
    if (!existsSync(kernels)) continue;
    for (const name of readdirSync(kernels).sort()) {
      if (seen.has(name)) continue;
      const spec = readSpec(join(kernels, name));
      if (!spec) continue;
      seen.add(name);
      if (spec.metadata?.nbrewind) out.push({ name, dir: join(kernels, name), spec, ours: true });
    }
  }
  return out;
}

/** Remove an NBRewind kernelspec; refuses to remove one that is not ours. */
export async function uninstallKernelSpec(options: { scope: Scope; name: string; python: string }): Promise<string> {
  const dir = join(kernelsDir(options.scope, options.python), options.name);
  const spec = readSpec(dir);
  if (!spec) throw new InputError(`no kernelspec '${options.name}' in ${dirOf(dir)}`);
  if (!spec.metadata?.nbrewind) throw new InputError(`${join(dir, "kernel.json")}: not an NBRewind kernelspec (no metadata.nbrewind); left alone`);
  await rm(dir, { recursive: true, force: true });
  return dir;
}

function dirOf(dir: string): string {
  return resolve(dir, "..");
}
