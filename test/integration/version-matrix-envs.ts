import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensurePinnedEnv, type PinnedEnv } from "../../src/pyenv/pinned-env.js";
import type { CellSpec } from "./cli-harness.js";
import { TaskCounter } from "./task-counter.js";

/**
 * The version matrix: one kernel environment per row, holding one version of
 * each engine (Dask, Parsl, Ray) plus what the kernel needs. Rows share the
 * pip cache and are built once per machine (src/pyenv/pinned-env.ts); the
 * newest row is the managed environment itself (the project's pins).
 */
export interface MatrixRow {
  label: string;
  /** Whether the engines of this row are inside engine_support.json's ranges. */
  supported: boolean;
  versions: { dask: string; parsl: string; ray: string };
  /** Kernel-side packages pinned in this row beside the engines. */
  kernel: string[];
}

export const MATRIX: MatrixRow[] = [
  { label: "oldest", supported: true, versions: { dask: "2024.12.1", parsl: "2024.12.2", ray: "2.40.0" }, kernel: ["ipykernel==6.29.5", "cloudpickle==3.1.0", "jupyter_server==2.14.2"] },
  { label: "middle", supported: true, versions: { dask: "2025.7.0", parsl: "2025.9.1", ray: "2.50.0" }, kernel: ["ipykernel==7.4.0", "cloudpickle==3.1.2"] },
  { label: "unsupported", supported: false, versions: { dask: "2024.8.0", parsl: "2024.6.3", ray: "2.30.0" }, kernel: ["ipykernel==7.4.0", "cloudpickle==3.1.2"] },
];

export function pinsOf(row: MatrixRow): string[] {
  return [`dask[distributed]==${row.versions.dask}`, `parsl==${row.versions.parsl}`, `ray==${row.versions.ray}`, ...row.kernel];
}

/** Every row's environment, created in parallel when missing. */
export function matrixEnvs(progress: (line: string) => void = () => {}): Promise<PinnedEnv[]> {
  return Promise.all(MATRIX.map((row) => ensurePinnedEnv(`matrix-${row.label}`, pinsOf(row), (l) => progress(`${row.label}: ${l}`))));
}

/** The newest row: the managed environment (the project's own pins), through its python3 kernelspec. */
export const NEWEST = { label: "newest", versions: { dask: "2026.8.0", parsl: "2026.10.26", ray: "2.60.0" } };

/**
 * A kernelspec per environment in a JUPYTER_PATH folder of its own, as a user
 * registers their venv (`python -m ipykernel install --name ...`).
 */
export function kernelspecFor(jupyterPath: string, name: string, python: string): void {
  const dir = join(jupyterPath, "kernels", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "kernel.json"), JSON.stringify({ argv: [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"], display_name: name, language: "python" }));
}

/**
 * The map-reduce a user would write for each engine, small: n squares and
 * their total per engine, each task noting its name on the engine side
 * (TaskCounter). Each engine cell starts and stops its own runtime (threads
 * for Dask and Parsl, one CPU for Ray) so nothing outlives the run.
 */
export function matrixCells(): CellSpec[] {
  return [
    { id: "params", source: "n = 4", tags: ["parameters"] },
    { id: "counter", source: [...TaskCounter.preamble, "def square(tag, x):", "    note(f'{tag}-square-{x}')", "    return x * x", "def total(tag, *xs):", "    note(f'{tag}-total')", "    return sum(xs)"].join("\n") },
    {
      id: "dask",
      source: ["import dask", "from dask import delayed", "print('dask', delayed(total)('dask', *[delayed(square)('dask', i) for i in range(n)]).compute(scheduler='threads'))"].join("\n"),
    },
    {
      id: "parsl",
      source: [
        "import parsl",
        "from parsl.config import Config",
        "from parsl.executors.threads import ThreadPoolExecutor",
        "dfk = parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=os.path.join(os.path.dirname(COUNTER), 'runinfo')))",
        "psquare, ptotal = parsl.python_app(square), parsl.python_app(total)",
        "print('parsl', ptotal('parsl', *[psquare('parsl', i) for i in range(n)]).result())",
        "dfk.cleanup()",
        "parsl.clear()",
      ].join("\n"),
    },
    {
      id: "ray",
      source: [
        "import ray",
        "ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level='ERROR')",
        "rsquare, rtotal = ray.remote(square), ray.remote(total)",
        "print('ray', ray.get(rtotal.remote('ray', *[rsquare.remote('ray', i) for i in range(n)])))",
        "ray.shutdown()",
      ].join("\n"),
    },
  ];
}

/** What the engine-side counter should show after a run that computed everything for n. */
export function allTasks(n: number): string[] {
  return ["dask", "parsl", "ray"].flatMap((tag) => [...Array.from({ length: n }, (_, i) => `${tag}-square-${i}`), `${tag}-total`]).sort();
}
