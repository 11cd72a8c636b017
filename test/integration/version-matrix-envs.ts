import { ensurePinnedEnv, type PinnedEnv } from "../../src/pyenv/pinned-env.js";

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
  { label: "oldest", supported: true, versions: { dask: "2024.12.1", parsl: "2024.12.2", ray: "2.40.0" }, kernel: ["ipykernel==6.29.5", "cloudpickle==3.1.0"] },
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
