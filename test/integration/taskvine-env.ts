import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { delimiter, join } from "node:path";

const repo = join(import.meta.dirname, "..", "..");

/**
 * TaskVine for a test: built from the cctools source tarball once per machine
 * (scripts/taskvine.sh, cached by the tarball's digest), and handed to the
 * kernel through PATH (vine_worker) and PYTHONPATH (ndcctools), which every
 * process of a CLI run inherits.
 */
export function taskVineEnv(): Record<string, string> {
  const prefix = execFileSync("bash", [join(repo, "scripts", "taskvine.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  const lib = join(prefix, "lib");
  const site = readdirSync(lib)
    .filter((d) => d.startsWith("python3"))
    .map((d) => join(lib, d, "site-packages"))[0]!;
  return { PATH: `${join(prefix, "bin")}${delimiter}${process.env.PATH ?? ""}`, PYTHONPATH: [site, process.env.PYTHONPATH].filter(Boolean).join(delimiter) };
}

/** Notebook lines that start a local vine_worker for manager `m`, with the kernel's Python first on PATH (cloudpickle must match). */
export const localWorker: string[] = [
  "import os, subprocess, sys",
  "worker_env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'])",
  "worker = subprocess.Popen(['vine_worker', '--single-shot', '--cores', '2', '-t', '60', '127.0.0.1', str(m.port)], env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
];
