/**
 * The bench's case studies (bench/case-studies/, issue 15) at their --quick
 * size, end to end as a user takes them: audit, one scripted edit (the
 * upstream filter: it re-dispatches tasks through a real engine), repeat;
 * then a fresh plain run (papermill) of the edited notebook. A user sees the
 * repeat re-run exactly the cells and tasks the edit touches (the case's
 * declared ideal) and give the fresh run's results.
 *
 * To stay within the suite's time budget it runs two cases by default, the
 * two cheapest to start (Dask delayed on threads, Dask distributed in-process);
 * NBREWIND_CASES_SMOKE=all runs all five (Parsl HTEX and Ray start slower).
 * Timings are the bench's business (npm run bench:cases), never asserted here.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Notebook } from "../../src/notebook/types.js";
import { differences } from "../../bench/case-studies/fresh.js";
import { departures, rerunSet } from "../../bench/case-studies/ideal.js";
import { CASES } from "../../bench/case-studies/index.js";
import { applyEdit, NOTEBOOK, prepareFolder, readOutput } from "../../bench/case-studies/workspace.js";
import { runCli, tempDir } from "./cli-harness.js";

const python = process.env.NBREWIND_TEST_PYTHON!;
const selected = process.env.NBREWIND_CASES_SMOKE === "all" ? CASES : CASES.filter((c) => ["physics", "mapreduce"].includes(c.name));
const root = tempDir("nbrewind-cases-smoke-");
const cache = join(root, ".data");

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each(selected)("case study $name ($engine), quick size", (study) => {
  it("repeat after the upstream edit re-runs exactly the ideal cells and tasks, and equals a fresh run", async () => {
    const edit = study.edits.find((e) => e.kind === "upstream")!;
    const ours = join(root, study.name, "ours");
    prepareFolder(study, ours, "quick", python, cache);
    const audit = await runCli(["audit", NOTEBOOK, "-o", "audited.ipynb", "-q"], { cwd: ours });
    expect(audit.code).toBe(0);
    expect(audit.survivors).toEqual([]);

    applyEdit(study, edit, ours, "quick", python);
    const repeat = await runCli(["repeat", NOTEBOOK, "-o", "repeated.ipynb", "-q"], { cwd: ours });
    expect(repeat.code).toBe(0);
    expect(repeat.survivors).toEqual([]);
    const got = rerunSet(JSON.parse(readFileSync(join(ours, "repeated.ipynb"), "utf8")) as Notebook);
    expect(departures(edit.ideal, got)).toEqual([]);

    const fresh = join(root, study.name, "fresh");
    prepareFolder(study, fresh, "quick", python, cache);
    applyEdit(study, edit, fresh, "quick", python);
    const plain = spawnSync(python, ["-m", "papermill", NOTEBOOK, "plain.out.ipynb", "-k", "python3", "--no-progress-bar", "--cwd", fresh], { cwd: fresh, encoding: "utf8" });
    expect(plain.status, plain.stderr.slice(-800)).toBe(0);
    expect(differences(join(fresh, "plain.out.ipynb"), join(ours, "repeated.ipynb"), readOutput(study, fresh), readOutput(study, ours), [fresh, ours])).toEqual([]);
  });
});
