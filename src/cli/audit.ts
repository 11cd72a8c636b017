import { withBundleRunLock } from "../bundle/run-lock.js";
import { InputError } from "../common/errors.js";
import { timings } from "../common/phase-timings.js";
import { requireWritable } from "../common/writable.js";
import { parseArgs, type ParsedArgs } from "./args.js";
import { adoptRecordedCellIds, CheckpointSession, planNotebook } from "../session/checkpoint-session.js";
import { bundleDirFrom, openTrustedBundle } from "./checkpoint-bundle.js";
import { trustHelp, trustOption } from "./bundle-trust.js";
import { TaskSettings } from "../session/task-settings.js";
import type { Command, CommandIO } from "./command.js";
import { reportAfterRun, reportHelp, reportOption } from "./report.js";
import { executeNotebookCommand, executionOptions, executionOptionsHelp, outputTarget, prepareNotebook } from "./run.js";

export const bundleOption = { name: "bundle", short: "b", arity: 1 } as const;
export const storeOption = { name: "store", arity: 1 } as const;

/** `--store all` keeps every task result; without it, results cheaper to recompute than to store and load are left out. */
export function storeAllFrom(command: string, args: ParsedArgs): boolean {
  const value = args.values.get("store");
  if (value === undefined) return false;
  if (value !== "all") throw new InputError(`${command}: --store takes only 'all' (store every task result), got '${value}'`);
  return true;
}

export const storeHelp = `      --store all           store every task result; by default a result that
                            is cheaper to recompute (its measured compute
                            time) than to store and load (its size at the
                            store's measured bandwidth) is left out and
                            recorded as such, except what the notebook
                            receives (a graph's outputs, a future's result)`;

async function audit(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("audit", argv, [...executionOptions, bundleOption, storeOption, trustOption, noWaitOption, reportOption]);
  const storeAll = storeAllFrom("audit", args);
  const prepared = await prepareNotebook("audit", args);
  const quiet = args.flags.has("quiet");
  const log = (line: string) => void (quiet ? undefined : io.stderr.write(line + "\n"));
  const bundleDir = bundleDirFrom(args, prepared.path);
  // Before any kernel starts: a bad nbrewind.yaml or an unwritable cache.dir is exit 2 at once.
  const taskSettings = await TaskSettings.load(prepared.path, prepared.notebook, bundleDir);
  await requireWritable("audit", [bundleTarget(bundleDir), outputTarget(args, prepared.path)]);
  return withBundleRunLock(bundleDir, { command: "audit", wait: !args.flags.has("no-wait"), log, signal: io.signal }, async () => {
    const { bundle, signer } = await openTrustedBundle("audit", bundleDir, prepared.path, { trust: args.flags.has("trust"), log });
    await adoptRecordedCellIds(prepared, bundle);
    const records = await bundle.records();
    const plan = await planNotebook(prepared.notebook, records, true, undefined, prepared.path, taskSettings);
    timings.mark("bundle open + plan");
    try {
      return await executeNotebookCommand("audit", args, io, new CheckpointSession("audit", bundle, plan, prepared, records, { signer, storeAll, taskSettings }), prepared);
    } finally {
      if (args.flags.has("report")) await reportAfterRun(bundle.dir, prepared.path, (line) => io.stderr.write(line + "\n"));
    }
  });
}

export function bundleTarget(bundleDir: string) {
  return { dir: bundleDir, role: "the bundle", option: "--bundle DIR" };
}

export const noWaitOption = { name: "no-wait", arity: 0 } as const;

export const noWaitHelp = `      --no-wait             fail (exit 2) when another audit or repeat of the
                            same bundle is running, instead of waiting for it`;

export const auditCommand: Command = {
  name: "audit",
  summary: "run a notebook and record a checkpoint per cell in its bundle",
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
