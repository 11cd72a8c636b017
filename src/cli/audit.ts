import { parseArgs } from "./args.js";
import { bundleOption, noWaitHelp, noWaitOption, reportHelp, reportOption, storeAllFrom, storeHelp, storeOption, trustHelp, trustOption } from "./checkpoint-options.js";
import type { Command, CommandIO } from "./command.js";
import { executionOptions, executionOptionsHelp } from "./execution-options.js";
import { discardRuntime, startKernelFirst } from "./kernel-start.js";

async function audit(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("audit", argv, [...executionOptions, bundleOption, storeOption, trustOption, noWaitOption, reportOption]);
  const storeAll = storeAllFrom("audit", args);
  // Audit runs every cell: the kernel starts first thing, before the rest of
  // the command is even loaded (see repeat.ts).
  const first = await startKernelFirst(args, io, true);
  let prepared, runCheckpointCommand;
  try {
    const [run, bundle] = await Promise.all([import("./run.js"), import("./checkpoint-bundle.js")]);
    runCheckpointCommand = bundle.runCheckpointCommand;
    prepared = await run.prepareNotebook("audit", args);
  } catch (err) {
    await discardRuntime(first?.runtime);
    throw err;
  }
  return runCheckpointCommand("audit", args, io, prepared, { storeAll, ...(first ? { first } : {}) });
}

export const auditCommand: Command = {
  name: "audit",
  help: `Usage: nbrewind-engine audit NOTEBOOK [--bundle DIR] [--store all] [--trust] [run options]

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
${storeHelp}
${trustHelp}
${noWaitHelp}
${reportHelp}
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
