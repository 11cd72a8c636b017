import { parseArgs } from "./args.js";
import { bundleDirFrom, CheckpointSession, openTrustedBundle, planNotebook } from "./checkpoint-session.js";
import { trustHelp, trustOption } from "./bundle-trust.js";
import { TaskSettings } from "../session/task-settings.js";
import type { Command, CommandIO } from "./command.js";
import { executeNotebookCommand, executionOptions, executionOptionsHelp, prepareNotebook } from "./run.js";

export const bundleOption = { name: "bundle", short: "b", arity: 1 } as const;

async function audit(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("audit", argv, [...executionOptions, bundleOption, trustOption]);
  const prepared = await prepareNotebook("audit", args);
  const quiet = args.flags.has("quiet");
  // Before any kernel starts: a bad nbrewind.yaml or an unwritable cache.dir is exit 2 at once.
  const taskSettings = await TaskSettings.load(prepared.path, prepared.notebook, bundleDirFrom(args, prepared.path));
  const { bundle, signer } = await openTrustedBundle("audit", bundleDirFrom(args, prepared.path), prepared.path, {
    trust: args.flags.has("trust"),
    log: (line) => void (quiet ? undefined : io.stderr.write(line + "\n")),
  });
  const records = await bundle.records();
  const plan = await planNotebook(prepared.notebook, records, true, taskSettings);
  return executeNotebookCommand("audit", args, io, new CheckpointSession("audit", bundle, plan, prepared, records, { signer, taskSettings }), prepared);
}

export const auditCommand: Command = {
  name: "audit",
  summary: "run a notebook and record a checkpoint per cell in its bundle",
  help: `Usage: nbrewind-engine audit NOTEBOOK [--bundle DIR] [--trust] [run options]

Run every code cell of NOTEBOOK, like 'run', and record in a bundle beside it
(NAME.nbrewind/ by default) a checkpoint per cell: the values the cell wrote
(serialised in the kernel and written straight into the bundle's
content-addressed blob store), its outputs and timings, and the captured
environment. Values that cannot be serialised (a Dask Client, an open file)
are recorded with the reason. Afterwards 'nbrewind-engine repeat NOTEBOOK'
re-runs only what an edit touched.

Task results are also published into nbrewind.yaml's cache.dir when it sets
one, and tasks already there (or in a cache.read folder) are served from it;
see 'nbrewind-engine cache --help' for pins and caches.

Options:
  -b, --bundle DIR          the bundle folder (default: NAME.nbrewind beside
                            the notebook); records already in it are kept
${trustHelp}
${executionOptionsHelp}

Trust: the bundle audit creates is yours. It is marked with your signing
key (created on first use in ~/.config/nbrewind-engine, or
$NBREWIND_CONFIG_DIR; see 'nbrewind-engine keys'), and at the end of every
run its digest list (digests.json) is re-signed with it, so 'repeat' loads
its values without --trust and 'verify' checks it. Auditing into an existing
bundle that is not yours (unpacked from elsewhere) needs a trusted signature
or --trust, as for 'repeat'.

Example:
  nbrewind-engine audit analysis.ipynb -p n_samples 1000
  # edit a cell, or change a parameter, then:
  nbrewind-engine repeat analysis.ipynb -p n_samples 2000 --explain`,
  run: audit,
};
