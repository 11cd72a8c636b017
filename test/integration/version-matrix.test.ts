import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile } from "./cli-harness.js";
import { TaskCounter } from "./task-counter.js";
import { allTasks, kernelspecFor, MATRIX, matrixCells, matrixEnvs, NEWEST } from "./version-matrix-envs.js";

/**
 * The version matrix, as a user with their own environment would run it:
 * `audit -k THEIR_KERNEL`, a parameter edit, `repeat -k THEIR_KERNEL`. Each row
 * is a venv with one version of Dask, Parsl and Ray (oldest and middle of the
 * supported ranges, one deliberately unsupported; the newest is the managed
 * env's own pins), built once per machine and reused (version-matrix-envs.ts).
 * The engine-side counter (each task notes its name where it runs) says what
 * really ran: in range only the invalidated tasks, out of range everything,
 * with the notebook's results the same either way and the reason on stderr and
 * in the summary's engines[].
 */

const root = tempDir("nbrewind-matrix-");
const jupyterPath = join(root, "jupyter");
const counter = new TaskCounter(root);
const env = { JUPYTER_PATH: jupyterPath, ...counter.env };

beforeAll(async () => {
  const envs = await matrixEnvs((line) => process.stderr.write(`[matrix env] ${line}\n`));
  MATRIX.forEach((row, i) => kernelspecFor(jupyterPath, `matrix-${row.label}`, envs[i]!.python));
  kernelspecFor(jupyterPath, "matrix-newest", process.env.NBREWIND_TEST_PYTHON!);
}, 3_600_000);

function printed(nbPath: string): Record<string, string> {
  const nb = readJson(nbPath);
  const out: Record<string, string> = {};
  // The result line of each engine's cell (Ray adds its own log and warning lines around it).
  for (const id of ["dask", "parsl", "ray"]) out[id] = new RegExp(`^${id} \\d+$`, "m").exec(outputText(nb.cells.find((c: any) => c.id === id)))?.[0] ?? "";
  return out;
}

const expected = (n: number) => {
  const sum = String(Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0));
  return { dask: `dask ${sum}`, parsl: `parsl ${sum}`, ray: `ray ${sum}` };
};

async function auditEditRepeat(label: string): Promise<{ repeatSummary: any; repeatStderr: string; auditSummary: any; repeatRan: string[] }> {
  const dir = tempDir(`nbrewind-matrix-${label}-`);
  const nb = writeNotebookFile(dir, "map-reduce.ipynb", matrixCells());
  const kernel = `matrix-${label}`;
  counter.reset();
  const audit = await runCli(["audit", nb, "-k", kernel, "--json", "-o", join(dir, "audit.ipynb")], { env });
  expect(audit.code, audit.stderr).toBe(0);
  expect(audit.survivors).toEqual([]);
  expect(counter.ran()).toEqual(allTasks(4));
  expect(printed(join(dir, "audit.ipynb"))).toEqual(expected(4));

  counter.reset();
  const repeat = await runCli(["repeat", nb, "-k", kernel, "-p", "n", "5", "--json", "-o", join(dir, "repeat.ipynb")], { env });
  expect(repeat.code, repeat.stderr).toBe(0);
  expect(repeat.survivors).toEqual([]);
  expect(printed(join(dir, "repeat.ipynb"))).toEqual(expected(5));
  return { repeatSummary: JSON.parse(repeat.stdout), repeatStderr: repeat.stderr, auditSummary: JSON.parse(audit.stdout), repeatRan: counter.ran() };
}

const onlyTheNewTasks = ["dask-square-4", "dask-total", "parsl-square-4", "parsl-total", "ray-square-4", "ray-total"];

describe("version matrix: audit, a parameter edit, repeat in the user's own kernel", () => {
  for (const row of [...MATRIX.filter((r) => r.supported), NEWEST]) {
    it(`${row.label} (dask ${row.versions.dask}, parsl ${row.versions.parsl}, ray ${row.versions.ray}): memoized, only the new square and the totals run again`, async () => {
      const { repeatSummary, repeatRan } = await auditEditRepeat(row.label);
      expect(repeatRan).toEqual(onlyTheNewTasks);
      const engines = Object.fromEntries(repeatSummary.engines.map((e: any) => [e.engine, e]));
      expect(engines.dask).toMatchObject({ status: "memoized", versions: { dask: row.versions.dask } });
      expect(engines.parsl).toMatchObject({ status: "memoized", versions: { parsl: row.versions.parsl } });
      expect(engines.ray).toMatchObject({ status: "memoized", versions: { ray: row.versions.ray } });
    }, 600_000);
  }

  const unsupported = MATRIX.find((r) => !r.supported)!;
  it(`unsupported (dask ${unsupported.versions.dask}, parsl ${unsupported.versions.parsl}, ray ${unsupported.versions.ray}): runs unmemoized, says why once, cells still checkpointed`, async () => {
    const { repeatSummary, repeatStderr, auditSummary, repeatRan } = await auditEditRepeat(unsupported.label);
    // Every task ran again, as without nbrewind-engine.
    expect(repeatRan).toEqual(allTasks(5));
    for (const summary of [auditSummary, repeatSummary]) {
      const engines = Object.fromEntries(summary.engines.map((e: any) => [e.engine, e]));
      expect(engines.dask.status).toBe("unmemoized");
      expect(engines.dask.reason).toContain(`dask ${unsupported.versions.dask} is outside the supported range >=2024.12.0`);
      expect(engines.parsl.reason).toContain(`parsl ${unsupported.versions.parsl} is outside the supported range >=2024.12.2`);
      expect(engines.ray.reason).toContain(`ray ${unsupported.versions.ray} is outside the supported range >=2.40.0,<3`);
    }
    for (const engine of ["dask", "parsl", "ray"]) {
      expect(repeatStderr.split("\n").filter((l) => l.startsWith(`warning: ${engine} runs unmemoized`))).toHaveLength(1);
    }
    // Cell checkpoints go on working: the unchanged counter cell is reused, not run.
    expect(repeatSummary.counts.reused).toBeGreaterThanOrEqual(1);
    expect(repeatSummary.counts.tasks.total).toBe(0);
  }, 600_000);
});
