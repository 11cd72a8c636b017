/**
 * graphchain (1.4.0) on a Dask-delayed case: every graph the notebook
 * computes goes through `graphchain.get` (set as Dask's scheduler, with the
 * threaded scheduler under it, as the notebook's own default), which keys
 * each task by its function's source and its arguments' hashes, and stores
 * and loads results in a cache folder. The whole notebook runs each time
 * (papermill on the peers' kernel, where graphchain is installed);
 * graphchain's log says which tasks it computed.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CaseStudy } from "../case.js";
import { papermill, readNotebook, source, stepOf, sizeOf, writeNotebook } from "../runs.js";
import { applyEdit, NOTEBOOK, prepareFolder, readOutput, type Size } from "../workspace.js";
import { editResult, settle, type PeerResult } from "./result.js";
import { PEERS_KERNEL, type PeersEnv } from "./venv.js";

const SETUP = [
  "import functools, logging, graphchain",
  '_graphchain_log = logging.getLogger("graphchain")',
  "_graphchain_log.setLevel(logging.INFO)",
  '_graphchain_log.addHandler(logging.FileHandler("graphchain.log"))',
  'dask.config.set(scheduler=functools.partial(graphchain.get, location="graphchain-cache", scheduler=dask.threaded.get))',
].join("\n");

function computed(dir: string): number | undefined {
  const log = join(dir, "graphchain.log");
  return existsSync(log) ? (readFileSync(log, "utf8").match(/^COMPUTE /gm) ?? []).length : undefined;
}

export async function runGraphchain(study: CaseStudy, dir: string, size: Size, managedPython: string, peers: PeersEnv, cache: string, freshOutputs: (string | undefined)[]): Promise<PeerResult> {
  const how = "dask.config.set(scheduler=partial(graphchain.get, location='graphchain-cache', scheduler=dask.threaded.get)) after the imports; every run is the whole notebook, papermill on the peers' kernel";
  const result: PeerResult = { peer: "graphchain", ok: false, how, edits: [] };
  if (!peers.installed.graphchain.ok) return { ...result, why: `not installed: ${peers.installed.graphchain.how}` };
  prepareFolder(study, dir, size, managedPython, cache);
  const nbPath = join(dir, NOTEBOOK);
  const nb = readNotebook(nbPath);
  const imports = nb.cells.find((c) => c.cell_type === "code" && /^import dask$/m.test(source(c)));
  if (!imports) return { ...result, why: "no cell imports dask: graphchain has nothing to wrap" };
  imports.source = `${source(imports)}\n${SETUP}`;
  writeNotebook(nbPath, nb);
  const record = stepOf(await papermill(peers.python, managedPython, PEERS_KERNEL, dir, NOTEBOOK, "graphchain-record.out.ipynb"));
  if (!record.ok) return { ...result, why: `its first run failed: ${record.failure} (install: ${peers.installed.graphchain.how})` };
  result.record = { seconds: record.seconds, ...(record.cpuSeconds !== undefined ? { cpuSeconds: record.cpuSeconds } : {}) };
  result.storageBytes = sizeOf(join(dir, "graphchain-cache"));
  for (const [i, edit] of study.edits.entries()) {
    applyEdit(study, edit, dir, size, managedPython);
    rmSync(join(dir, "graphchain.log"), { force: true });
    rmSync(join(dir, study.output), { force: true });
    const run = stepOf(await papermill(peers.python, managedPython, PEERS_KERNEL, dir, NOTEBOOK, `graphchain-${i + 1}.out.ipynb`));
    const n = computed(dir);
    result.edits.push(editResult(edit, run, readOutput(study, dir), freshOutputs[i], n, `${n ?? "?"} task(s) computed, the rest loaded from its cache`));
  }
  result.storageAfterEditsBytes = sizeOf(join(dir, "graphchain-cache"));
  return settle(result);
}
