/**
 * Entry point of the NBRewind kernel, as a kernelspec's argv starts it:
 *
 *   node dist/kernel/main.js -f {connection_file} [--python PATH] [--name NAME]
 *
 * --python is the interpreter of the inner ipykernel (by default the managed
 * environment's). Messages for the user go to stderr, which Jupyter Server
 * shows in its log.
 */
import { findManagedEnv } from "../pyenv/managed-env.js";
import { readConnectionFile } from "../jupyter/connection-file.js";
import { NbrewindKernel } from "./nbrewind-kernel.js";

function argValue(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  const log = (line: string) => void process.stderr.write(`[nbrewind kernel] ${line}\n`);
  const file = argValue(argv, "-f");
  if (!file) {
    log("usage: main.js -f CONNECTION_FILE [--python PATH] [--name NAME]");
    return 2;
  }
  const python = argValue(argv, "--python") ?? findManagedEnv()?.python;
  if (!python) {
    log("no Python for the inner ipykernel: pass --python PATH, or create the managed environment with 'nbrewind-engine doctor --fix'");
    return 3;
  }
  const connection = await readConnectionFile(file);
  const kernel = new NbrewindKernel(connection, { python, kernelName: argValue(argv, "--name") ?? "nbrewind", log });
  process.on("SIGINT", () => kernel.interrupt());
  process.on("SIGTERM", () => void kernel.terminate());
  await kernel.start();
  return kernel.stopped;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[nbrewind kernel] ${(err as Error).stack ?? String(err)}\n`);
    process.exit(3);
  },
);
