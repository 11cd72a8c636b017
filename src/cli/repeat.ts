import { withBundleRunLock } from "../bundle/run-lock.js";
import { timings } from "../common/phase-timings.js";
import { requireWritable } from "../common/writable.js";
import { bundleOption, bundleTarget, noWaitHelp, noWaitOption, storeAllFrom, storeHelp, storeOption } from "./audit.js";
import { parseArgs } from "./args.js";
import { adoptRecordedCellIds, CheckpointSession, planNotebook } from "../session/checkpoint-session.js";
import { bundleDirFrom, openTrustedBundle } from "./checkpoint-bundle.js";
import { trustHelp, trustOption } from "./bundle-trust.js";
import { TaskSettings } from "../session/task-settings.js";
import type { Command, CommandIO } from "./command.js";
import { forceHelp, forceOptions, forceRequest } from "./force-options.js";
import { resolveForced } from "../planner/forced.js";
import { reportAfterRun, reportHelp, reportOption } from "./report.js";
import { kernelSurelyNeeded } from "../session/kernel-forecast.js";
import { discardRuntime, executeNotebookCommand, executionOptions, executionOptionsHelp, openRuntime, outputTarget, prepareNotebook } from "./run.js";

async function repeat(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("repeat", argv, [...executionOptions, bundleOption, storeOption, trustOption, noWaitOption, reportOption, { name: "explain", arity: 0 }, ...forceOptions]);
  const storeAll = storeAllFrom("repeat", args);
  const prepared = await prepareNotebook("repeat", args);
  const force = forceRequest(args);
  // A CELL that names no cell is bad input before anything starts.
  if (force) resolveForced(force, prepared.notebook.cells);
  const quiet = args.flags.has("quiet");
  const log = (line: string) => void (quiet ? undefined : io.stderr.write(line + "\n"));
  const bundleDir = bundleDirFrom(args, prepared.path);
  // Before any kernel starts: a bad nbrewind.yaml or an unwritable cache.dir is exit 2 at once.
  const taskSettings = await TaskSettings.load(prepared.path, prepared.notebook, bundleDir);
  await requireWritable("repeat", [bundleTarget(bundleDir), outputTarget(args, prepared.path)]);
  timings.mark("settings, writability");
  return withBundleRunLock(bundleDir, { command: "repeat", wait: !args.flags.has("no-wait"), log, signal: io.signal }, async () => {
    timings.mark("bundle lock");
    const { bundle, signer } = await openTrustedBundle("repeat", bundleDir, prepared.path, { trust: args.flags.has("trust"), log });
    timings.mark("bundle open + trust");
    await adoptRecordedCellIds(prepared, bundle);
    const records = await bundle.records();
    timings.mark("bundle records");
    // Trust is settled: when a cell surely runs, the server and kernel start while the plan is made (see kernel-forecast.ts).
    const early = kernelSurelyNeeded(prepared.notebook, records, force !== undefined) ? openRuntime(args, io.signal, prepared.path, prepared.notebook, log) : undefined;
    early?.catch(() => {}); // a failed start is reported where the runtime is awaited
    let handedOver = false;
    try {
      const plan = await planNotebook(prepared.notebook, records, false, force, prepared.path, taskSettings);
      timings.mark("plan");
      const session = new CheckpointSession("repeat", bundle, plan, prepared, records, { explainTasks: args.flags.has("explain"), signer, storeAll, taskSettings });
      if (args.flags.has("explain")) (args.flags.has("json") ? io.stderr : io.stdout).write(session.explain().join("\n") + "\n");
      handedOver = true;
      return await executeNotebookCommand("repeat", args, io, session, prepared, early);
    } finally {
      if (!handedOver) await discardRuntime(early);
      if (args.flags.has("report")) await reportAfterRun(bundle.dir, prepared.path, (line) => io.stderr.write(line + "\n"));
    }
  });
}

export const repeatCommand: Command = {
  name: "repeat",
  summary: "run a notebook again, reusing every cell whose inputs did not change",
  help: `Usage: nbrewind-engine repeat NOTEBOOK [--bundle DIR] [--explain] [--run CELL[,CELL]] [--from CELL]
                              [--store all] [--trust] [--no-wait] [--report] [run options]

Run NOTEBOOK again against its bundle (written by 'audit'). Every code cell
gets a fingerprint from its source and the fingerprints of the cells whose
values it reads. A cell whose fingerprint was recorded is reused: its
recorded outputs are copied, it is not executed. The other cells run: an
edited cell, every cell downstream of it, and the producers of values the
running cells need but that cannot be restored (unserialisable ones, and
values bound to an engine: futures, persisted collections, ObjectRefs, which
their cell recreates with its tasks served) or are cheaper to recompute than
to load. The values a running cell reads from
reused cells are restored from the bundle just before it runs, and only
those. Inside a running cell, every task it submits to Dask (Parsl, Ray)
whose key — its function's code and its arguments — was recorded is served
from the bundle; only the others are sent to the engine. A cell that started
an engine (a Dask Client or LocalCluster, parsl.load, ray.init) runs again
before any running cell that submitted work to it or, when new or edited,
could use it; the cells that set that engine up afterwards (scale, plugins)
run again with it, in order; every engine the cells started is shut down at
the end. The bundle is updated, so edits can be chained; old records are kept,
so going back to an earlier version of a cell reuses it again.

nbrewind.yaml (in the notebook's folder or a parent) can pin task functions
— a pinned task is keyed by its pin's version instead of its code, and a
cell whose recorded tasks a changed pin selects runs again — and name task
caches shared with other notebooks (cache.dir) or published by others
(cache.read), consulted after the bundle. See 'nbrewind-engine cache --help'.

Files are inputs and outputs: a cell (or a task) whose recorded read files
changed or are missing runs again (the reason names the file), and the files
a reused cell (or a served task) wrote are written back where they are
absent or different, never outside the notebook's folder. Reads that Python's
audit hooks cannot see (h5py, netCDF4) are declared with a cell line
'# nbrewind: reads data/*.h5' or nbrewind.reads(...). See README, "Files".

Options:
  -b, --bundle DIR          the bundle folder (default: NAME.nbrewind)
      --explain             print, before running, every cell's decision and
                            its exact reason ('source changed', 'reads \`n\`
                            from cell 3, which runs', ...), and as each cell
                            finishes, why each of its engine tasks that was
                            not served from the bundle was dispatched
                            ('argument 2 changed', 'the code of f changed')
${forceHelp}
${storeHelp}
${trustHelp}
${noWaitHelp}
${reportHelp}
${executionOptionsHelp}

Trust: restoring a value unpickles it, which runs code, so repeat loads
values only from a bundle that is yours (audited here: it carries your
owner mark), signed by a key you trust ('nbrewind-engine keys trust'), or
accepted with --trust. Anything else is refused before a kernel starts,
with the reason. A bundle accepted once is marked as yours in this folder,
and each run re-signs its digest list with your key.

Examples:
  nbrewind-engine repeat analysis.ipynb -p n_samples 2000 --explain
  nbrewind-engine repeat analysis.ipynb --from 12     # cell 12 and all after it run`,
  run: repeat,
};
