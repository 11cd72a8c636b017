import { bundleOption } from "./audit.js";
import { parseArgs } from "./args.js";
import { CheckpointSession, planNotebook } from "../session/checkpoint-session.js";
import { bundleDirFrom, openTrustedBundle } from "./checkpoint-bundle.js";
import { trustHelp, trustOption } from "./bundle-trust.js";
import type { Command, CommandIO } from "./command.js";
import { executeNotebookCommand, executionOptions, executionOptionsHelp, prepareNotebook } from "./run.js";

async function repeat(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("repeat", argv, [...executionOptions, bundleOption, trustOption, { name: "explain", arity: 0 }]);
  const prepared = await prepareNotebook("repeat", args);
  const quiet = args.flags.has("quiet");
  const { bundle, signer } = await openTrustedBundle("repeat", bundleDirFrom(args, prepared.path), prepared.path, {
    trust: args.flags.has("trust"),
    log: (line) => void (quiet ? undefined : io.stderr.write(line + "\n")),
  });
  const records = await bundle.records();
  const plan = await planNotebook(prepared.notebook, records, false);
  const session = new CheckpointSession("repeat", bundle, plan, prepared, records, { explainTasks: args.flags.has("explain"), signer });
  if (args.flags.has("explain")) (args.flags.has("json") ? io.stderr : io.stdout).write(session.explain().join("\n") + "\n");
  return executeNotebookCommand("repeat", args, io, session, prepared);
}

export const repeatCommand: Command = {
  name: "repeat",
  summary: "run a notebook again, reusing every cell whose inputs did not change",
  help: `Usage: nbrewind-engine repeat NOTEBOOK [--bundle DIR] [--explain] [--trust] [run options]

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

Options:
  -b, --bundle DIR          the bundle folder (default: NAME.nbrewind)
      --explain             print, before running, every cell's decision and
                            its exact reason ('source changed', 'reads \`n\`
                            from cell 3, which runs', ...), and as each cell
                            finishes, why each of its engine tasks that was
                            not served from the bundle was dispatched
                            ('argument 2 changed', 'the code of f changed')
${trustHelp}
${executionOptionsHelp}

Trust: restoring a value unpickles it, which runs code, so repeat loads
values only from a bundle that is yours (audited here: it carries your
owner mark), signed by a key you trust ('nbrewind-engine keys trust'), or
accepted with --trust. Anything else is refused before a kernel starts,
with the reason. A bundle accepted once is marked as yours in this folder,
and each run re-signs its digest list with your key.

Example:
  nbrewind-engine repeat analysis.ipynb -p n_samples 2000 --explain`,
  run: repeat,
};
