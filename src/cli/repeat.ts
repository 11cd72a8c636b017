import { parseArgs } from "./args.js";
import { bundleOption, noWaitHelp, noWaitOption, reportHelp, reportOption, storeAllFrom, storeHelp, storeOption, trustHelp, trustOption } from "./checkpoint-options.js";
import type { Command, CommandIO } from "./command.js";
import { executionOptions, executionOptionsHelp } from "./execution-options.js";
import { forceHelp, forceOptions, forceRequest } from "./force-options.js";
import { discardRuntime, startKernelFirst } from "./kernel-start.js";

async function repeat(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("repeat", argv, [...executionOptions, bundleOption, storeOption, trustOption, noWaitOption, reportOption, { name: "explain", arity: 0 }, ...forceOptions]);
  const storeAll = storeAllFrom("repeat", args);
  const force = forceRequest(args);
  // The kernel's start is most of what a repeat that runs a cell waits for:
  // when the files say a cell will run, it starts first, before the rest of
  // the command (the notebook's validation, the bundle, the planner) is even
  // loaded, and is shut down if anything below refuses the input (same
  // error, same exit code).
  const first = await startKernelFirst(args, io, force !== undefined);
  let prepared, runCheckpointCommand;
  try {
    const [run, bundle, forced] = await Promise.all([import("./run.js"), import("./checkpoint-bundle.js"), import("../planner/forced.js")]);
    runCheckpointCommand = bundle.runCheckpointCommand;
    prepared = await run.prepareNotebook("repeat", args);
    // A CELL that names no cell is bad input before anything starts.
    if (force) forced.resolveForced(force, prepared.notebook.cells);
  } catch (err) {
    await discardRuntime(first?.runtime);
    throw err;
  }
  const explain = args.flags.has("explain");
  return runCheckpointCommand("repeat", args, io, prepared, {
    storeAll,
    ...(force ? { force } : {}),
    explainTasks: explain,
    beforeRun: (session) => void (explain ? (args.flags.has("json") ? io.stderr : io.stdout).write(session.explain().join("\n") + "\n") : undefined),
    ...(first ? { first } : {}),
  });
}

export const repeatCommand: Command = {
  name: "repeat",
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
accepted with --trust. Anything else is refused before anything is loaded
from it, with the reason. A bundle accepted once is marked as yours in this folder,
and each run re-signs its digest list with your key.

Examples:
  nbrewind-engine repeat analysis.ipynb -p n_samples 2000 --explain
  nbrewind-engine repeat analysis.ipynb --from 12     # cell 12 and all after it run`,
  run: repeat,
};
