import type { Command } from "./command.js";

/**
 * A command as the command list knows it. Its module is imported only when
 * the command runs (or its --help is asked for): `cache ls` then loads the
 * cache code alone, not the Jupyter client, the container engine and the
 * report renderer every other command needs, which took most of a short
 * command's start-up.
 */
export interface CommandEntry {
  name: string;
  /** One line for the command list. */
  summary: string;
  load(): Promise<Command>;
}

/** Every command, in the order `--help` lists them. */
export const commands: CommandEntry[] = [
  { name: "run", summary: "execute a notebook through a real Jupyter kernel", load: async () => (await import("./run-command.js")).run },
  { name: "audit", summary: "run a notebook and record a checkpoint per cell in its bundle", load: async () => (await import("./audit.js")).auditCommand },
  { name: "repeat", summary: "run a notebook again, reusing every cell whose inputs did not change", load: async () => (await import("./repeat.js")).repeatCommand },
  { name: "plan", summary: "show what repeat would reuse, restore and run, and why, without running", load: async () => (await import("./plan.js")).planCommand },
  { name: "pack", summary: "pack a notebook and its bundle into one signed, compressed file", load: async () => (await import("./pack.js")).packCommand },
  { name: "unpack", summary: "unpack a packed bundle, checking every entry", load: async () => (await import("./unpack.js")).unpackCommand },
  { name: "verify", summary: "check a packed file or a bundle: digests, records, blobs, signature", load: async () => (await import("./verify.js")).verifyCommand },
  { name: "replay", summary: "unpack a packed bundle, repeat it here and compare the outputs", load: async () => (await import("./replay.js")).replayCommand },
  { name: "report", summary: "write an HTML report of a run: cells, tasks, reuse, time", load: async () => (await import("./report.js")).reportCommand },
  { name: "keys", summary: "your signing key, and the keys whose bundles you trust", load: async () => (await import("./keys.js")).keysCommand },
  { name: "kernel", summary: "install, list or remove the NBRewind Jupyter kernel (audit and repeat inside JupyterLab)", load: async () => (await import("./kernel.js")).kernelCommand },
  { name: "cache", summary: "list, size, pin, collect, verify, export and import task caches", load: async () => (await import("./cache.js")).cacheCommand },
  { name: "doctor", summary: "check Node, Python, the pinned environment, the Jupyter server and kernelspecs", load: async () => (await import("./doctor.js")).doctorCommand },
  { name: "deps", summary: "show the data-flow graph between a notebook's cells (no execution)", load: async () => (await import("./deps.js")).depsCommand },
];
