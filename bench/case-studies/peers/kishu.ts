/**
 * Kishu (kishu 0.3.4) on a case: its recording run and, after each edit, its
 * checkout-then-re-execute, as a Kishu user would do it without a frontend.
 *
 * Recording: the notebook with a first cell `init_kishu("notebook.ipynb")`,
 * run by papermill on the peers' kernel; Kishu commits a checkpoint of the
 * namespace after every cell into notebook.kishudb (its storage). Kishu
 * needs a Jupyter frontend to save the notebook and a connection file named
 * the way Jupyter's server names them; headless, its own test switches stand
 * in for both (ENV_KISHU_TEST_MODE, TEST_NOTEBOOK_PATH). Its hook is
 * installed in the middle of the init cell, so that cell's post-run half
 * finds no start time: the cell gives it one. The same cell raises Python's
 * recursion limit, which Kishu's id graph exceeds on engine futures.
 *
 * After an edit: a new kernel attaches Kishu, checks out (variables only:
 * `skip_notebook=True`, the notebook file keeps the user's edits) the commit made
 * after the cell just before the first cell the edit's ideal re-runs (Kishu
 * does not decide what to re-run: it is told, as its user would know), and
 * runs the edited cells from there to the end. Timed end to end, like a
 * repeat.
 */
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { CaseStudy } from "../case.js";
import { papermill, readNotebook, codeCell, source, stepOf, sizeOf, writeNotebook } from "../runs.js";
import { applyEdit, NOTEBOOK, prepareFolder, readOutput, type Size } from "../workspace.js";
import { editResult, idealTasks, settle, type PeerResult } from "./result.js";
import { PEERS_KERNEL, type PeersEnv } from "./venv.js";

// Kishu walks every variable with a recursive pickler of its own (its id graph): Dask futures
// and Parsl AppFutures reach the client or the DataFlowKernel, deeper than Python's default
// limit of 1,000 frames (a RecursionError in the recording run). A Kishu user raises it.
const INIT = [
  "import sys; sys.setrecursionlimit(20000)  # Kishu's id graph recurses through engine objects",
  "from kishu import init_kishu",
  'init_kishu("notebook.ipynb")',
  '_kishu._start_time = __import__("time").time()  # Kishu hooked itself in mid-cell: give its post-run half a start',
].join("\n");

/**
 * Parsl's HTEX pickles an app defined in the notebook by value with dill, with
 * the notebook's globals, where Kishu keeps its own object (`_kishu`, holding
 * the kernel session's HMAC signer, which cannot be pickled): every app failed
 * to serialise. Kishu's user on HTEX has dill pickle only the globals an app reads.
 */
function initFor(study: CaseStudy): string {
  return study.engine === "parsl-htex" ? `import dill; dill.settings["recurse"] = True  # Parsl apps: only the globals they read\n${INIT}` : INIT;
}

export async function runKishu(study: CaseStudy, dir: string, size: Size, managedPython: string, peers: PeersEnv, cache: string, freshOutputs: (string | undefined)[]): Promise<PeerResult> {
  const how = "init_kishu() cell first, papermill on the peers' kernel; after an edit: checkout of the commit before the first re-run cell, then the edited cells to the end";
  const result: PeerResult = { peer: "kishu", ok: false, how, edits: [] };
  if (!peers.installed.kishu.ok) return { ...result, why: `not installed: ${peers.installed.kishu.how}` };
  prepareFolder(study, dir, size, managedPython, cache);
  const nbPath = join(dir, NOTEBOOK);
  const nb = readNotebook(nbPath);
  const firstCode = nb.cells.findIndex((c) => c.cell_type === "code");
  nb.cells.splice(firstCode, 0, codeCell("kishu-init", initFor(study)));
  writeNotebook(nbPath, nb);
  const env = { TEST_NOTEBOOK_PATH: nbPath, ENV_KISHU_TEST_MODE: "1", KISHU_PATH_ROOT: dir };

  const record = stepOf(await papermill(peers.python, managedPython, PEERS_KERNEL, dir, NOTEBOOK, "kishu-record.out.ipynb", env));
  if (!record.ok) return { ...result, why: `its recording run failed: ${record.failure}` };
  result.record = { seconds: record.seconds, ...(record.cpuSeconds !== undefined ? { cpuSeconds: record.cpuSeconds } : {}) };
  result.storageBytes = sizeOf(join(dir, "notebook.kishudb"));
  const commits = spawnSync(peers.python, ["-c", "import sqlite3, sys; print('\\n'.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute('select commit_id from commit_entry')))", join(dir, "notebook.kishudb")], { encoding: "utf8" }).stdout.split("\n");

  for (const [i, edit] of study.edits.entries()) {
    applyEdit(study, edit, dir, size, managedPython);
    // Code cells of the edited notebook, without Kishu's own first cell: cell k ran as execution k + 2 of the recording.
    const cells = readNotebook(nbPath).cells.filter((c) => c.cell_type === "code" && c.id !== "kishu-init");
    const first = cells.findIndex((c) => String(c.id) in edit.ideal);
    const commit = `1:0:${first + 1}`;
    if (first < 1 || !commits.includes(commit)) {
      result.edits.push({ kind: edit.kind, ok: false, seconds: 0, idealTasks: idealTasks(edit.ideal), equalFresh: false, note: `no commit ${commit} to check out (recorded: ${commits.filter(Boolean).join(", ")})` });
      continue;
    }
    const checkout = readNotebook(nbPath);
    checkout.cells = [codeCell("kishu-init", initFor(study)), codeCell("kishu-checkout", `_kishu.checkout(${JSON.stringify(commit)}, skip_notebook=True)`), ...cells.slice(first).map((c) => ({ ...c, source: source(c), outputs: [] }) as typeof c)];
    writeNotebook(join(dir, `checkout-${i + 1}.ipynb`), checkout);
    rmSync(join(dir, study.output), { force: true });
    const run = stepOf(await papermill(peers.python, managedPython, PEERS_KERNEL, dir, `checkout-${i + 1}.ipynb`, `checkout-${i + 1}.out.ipynb`, env));
    result.edits.push(editResult(edit, run, readOutput(study, dir), freshOutputs[i], undefined, `checked out ${commit}, re-ran ${cells.length - first} cell(s)`));
  }
  result.storageAfterEditsBytes = sizeOf(join(dir, "notebook.kishudb"));
  return settle(result);
}
