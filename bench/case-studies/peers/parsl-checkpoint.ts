/**
 * Parsl's own memoization with checkpoint files on the Parsl case: every app
 * `@python_app(cache=True)`, and the DataFlowKernel loaded with
 * `BasicMemoizer(checkpoint_mode="task_exit",
 * checkpoint_files=get_all_checkpoints("runinfo"))`, so each run reuses the
 * app results that earlier runs checkpointed. The whole notebook runs each
 * time (papermill, the managed env's plain kernel: no nbrewind); Parsl's log
 * tells how many apps were launched and how many answered from the cache.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CaseStudy } from "../case.js";
import { papermill, readNotebook, source, stepOf, sizeOf, writeNotebook } from "../runs.js";
import { applyEdit, NOTEBOOK, prepareFolder, readOutput, type Size } from "../workspace.js";
import { editResult, settle, type PeerResult } from "./result.js";

const MEMOIZER_IMPORTS = "from parsl.dataflow.memoization import BasicMemoizer\nfrom parsl.utils import get_all_checkpoints\n";
const RUN_DIR = 'run_dir="runinfo",';
const MEMOIZER = `${RUN_DIR}\n    memoizer=BasicMemoizer(checkpoint_mode="task_exit", checkpoint_files=get_all_checkpoints("runinfo")),`;

/** The notebook with Parsl's checkpointing switched on, or why it cannot be. */
function checkpointVariant(path: string): string | undefined {
  const nb = readNotebook(path);
  let loads = 0;
  let apps = 0;
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    let text = source(cell);
    apps += text.split("@python_app\n").length - 1;
    text = text.replaceAll("@python_app\n", "@python_app(cache=True)\n");
    if (text.includes("parsl.load(") && text.includes(RUN_DIR)) {
      loads++;
      text = MEMOIZER_IMPORTS + text.replace(RUN_DIR, MEMOIZER);
    }
    cell.source = text;
  }
  if (loads !== 1 || apps === 0) return `expected one parsl.load(... ${RUN_DIR} ...) and @python_app decorators, found ${loads} and ${apps}`;
  writeNotebook(path, nb);
  return undefined;
}

/** Launched and cache-answered tasks in the newest run's parsl.log. */
function parslCounts(dir: string): { launched: number; cached: number } | undefined {
  const runinfo = join(dir, "runinfo");
  if (!existsSync(runinfo)) return undefined;
  const runs = readdirSync(runinfo).filter((d) => /^\d+$/.test(d)).sort();
  const log = join(runinfo, runs[runs.length - 1] ?? "", "parsl.log");
  if (!existsSync(log)) return undefined;
  const text = readFileSync(log, "utf8");
  return { launched: (text.match(/ launched on executor /g) ?? []).length, cached: (text.match(/Reusing cached result for task/g) ?? []).length };
}

export async function runParslCheckpoint(study: CaseStudy, dir: string, size: Size, python: string, cache: string, freshOutputs: (string | undefined)[]): Promise<PeerResult> {
  const how = "@python_app(cache=True) and BasicMemoizer(checkpoint_mode='task_exit', checkpoint_files=get_all_checkpoints('runinfo')); every run is the whole notebook, papermill on the plain kernel";
  const result: PeerResult = { peer: "parsl-checkpoint", ok: false, how, edits: [] };
  prepareFolder(study, dir, size, python, cache);
  const why = checkpointVariant(join(dir, NOTEBOOK));
  if (why) return { ...result, why };
  const record = stepOf(await papermill(python, python, "python3", dir, NOTEBOOK, "parsl-record.out.ipynb"));
  if (!record.ok) return { ...result, why: `its first run failed: ${record.failure}` };
  result.record = { seconds: record.seconds, ...(record.cpuSeconds !== undefined ? { cpuSeconds: record.cpuSeconds } : {}) };
  result.storageBytes = sizeOf(join(dir, "runinfo"));
  for (const [i, edit] of study.edits.entries()) {
    applyEdit(study, edit, dir, size, python);
    if (edit.source) checkpointVariant(join(dir, NOTEBOOK));
    rmSync(join(dir, study.output), { force: true });
    const run = stepOf(await papermill(python, python, "python3", dir, NOTEBOOK, `parsl-${i + 1}.out.ipynb`));
    const counts = parslCounts(dir);
    result.edits.push(editResult(edit, run, readOutput(study, dir), freshOutputs[i], counts?.launched, counts ? `${counts.launched} launched, ${counts.cached} from its checkpoint` : "no parsl.log found"));
  }
  result.storageAfterEditsBytes = sizeOf(join(dir, "runinfo"));
  return settle(result);
}
