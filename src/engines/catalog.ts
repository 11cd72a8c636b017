import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../common/package-root.js";

/**
 * The engines nbrewind memoizes tasks for, in one place: the CLI lists them
 * (doctor), and explanations name their runtimes. Each engine's kernel-side
 * adapter is engines/<name>/<adapter>.py, installed by the shim
 * (engines/python/nbrewind/kernel_shim.py _ADAPTERS); add an entry here and
 * there together.
 */
export interface EngineDescription {
  /** The engine label prefix the shim reports: "dask" in "dask:distributed". */
  name: string;
  title: string;
  /** Distributions whose versions matter (environment.json records them). */
  distributions: string[];
  /** The adapter module, relative to the package root. */
  adapter: string;
  /** Runtime labels the adapter reports, and what they mean to a user. */
  runtimes: Record<string, string>;
  /** What the adapter intercepts, in a sentence (doctor, README). */
  intercepts: string;
}

export const ENGINES: readonly EngineDescription[] = [
  {
    name: "dask",
    title: "Dask",
    distributions: ["dask", "distributed"],
    adapter: "engines/dask/nbrewind_dask.py",
    runtimes: {
      "dask:distributed": "a dask.distributed cluster (Client / LocalCluster)",
      "dask:threads": "Dask's threaded scheduler",
      "dask:processes": "Dask's process-pool scheduler",
      "dask:sync": "Dask's synchronous scheduler",
    },
    intercepts: "every graph a scheduler runs (dask.compute/persist, .compute(), Client.compute/persist) and the futures API (Client.submit, Client.map)",
  },
  {
    name: "parsl",
    title: "Parsl",
    distributions: ["parsl"],
    adapter: "engines/parsl/nbrewind_parsl.py",
    runtimes: {
      parsl: "a Parsl DataFlowKernel (parsl.load), whatever its executors",
    },
    intercepts: "every app invocation (python_app, bash_app, join_app) at DataFlowKernel.submit; hits are completed by Parsl as memo_done, File inputs hashed by content, declared output files restored",
  },
  {
    name: "ray",
    title: "Ray",
    distributions: ["ray"],
    adapter: "engines/ray/nbrewind_ray.py",
    runtimes: {
      ray: "Ray (ray.init, or the first remote call that starts it)",
    },
    intercepts: "remote-function calls (f.remote(), f.options(...).remote()) with ObjectRef and ray.put arguments; actor method calls are recorded, never cached",
  },
  {
    name: "taskvine",
    title: "TaskVine",
    distributions: ["ndcctools"],
    adapter: "engines/taskvine/nbrewind_taskvine.py",
    runtimes: {
      taskvine: "a TaskVine manager (vine.Manager) and the vine_workers connected to it",
    },
    intercepts: "PythonTask, FunctionCall and shell Task submitted to a vine.Manager (function identity or command, argument keys, declared input files by content, environment); hits are handed back by m.wait() without dispatch, their declared output files written back",
  },
];

/** "a dask.distributed cluster (Client / LocalCluster)" for "dask:distributed"; the label itself when unknown. */
export function describeRuntime(label: string): string {
  for (const engine of ENGINES) {
    const known = engine.runtimes[label];
    if (known) return known;
  }
  return label;
}

/** Engines whose adapter ships with this package. */
export function installedAdapters(): { engine: EngineDescription; path: string; present: boolean }[] {
  return ENGINES.map((engine) => {
    const path = join(packageRoot(), engine.adapter);
    return { engine, path, present: existsSync(path) };
  });
}
