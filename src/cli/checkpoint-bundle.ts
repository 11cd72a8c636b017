/**
 * Which bundle an audit, repeat or plan works on, the trust gate in front
 * of it, and the run the two commands share: command-line concerns (the
 * --bundle option, the CLI's trust wording, the run lock), kept out of
 * session/ so that the kernel can settle them its own way.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Bundle } from "../bundle/bundle.js";
import { MANIFEST_FILE } from "../bundle/paths.js";
import { withBundleRunLock } from "../bundle/run-lock.js";
import type { SigningKey } from "../bundle/trust/keys.js";
import { timings } from "../common/phase-timings.js";
import { requireWritable, type WriteTarget } from "../common/writable.js";
import { kernelSurelyNeeded } from "../session/kernel-forecast.js";
import type { ForceRequest } from "../planner/forced.js";
import { adoptRecordedCellIds, CheckpointSession, openBundle, planNotebook, type CheckpointCommand } from "../session/checkpoint-session.js";
import type { Prepared } from "../session/run-extension.js";
import { TaskSettings } from "../session/task-settings.js";
import type { ParsedArgs } from "./args.js";
import { claimNewBundle, requireTrustedBundle } from "./bundle-trust.js";
import type { CommandIO } from "./command.js";
import { reportAfterRun } from "./report.js";
import { bundleDirFrom } from "./checkpoint-options.js";
import type { FirstKernel } from "./kernel-start.js";
import { discardRuntime, executeNotebookCommand, openRuntime, outputTarget } from "./run.js";

export { bundleDirFrom };

/**
 * Open the bundle of an audit or repeat and settle trust before anything is
 * loaded from it: a bundle audit creates is the user's; an existing one must
 * pass the trust gate (bundle-trust.ts). Returns the key that signs the run.
 */
export async function openTrustedBundle(
  command: CheckpointCommand,
  dir: string,
  notebookPath: string,
  options: { trust: boolean; log: (line: string) => void },
): Promise<{ bundle: Bundle; signer: SigningKey }> {
  const existed = await stat(join(dir, MANIFEST_FILE)).then(
    () => true,
    () => false,
  );
  const bundle = await openBundle(command, dir, notebookPath);
  const signer = existed ? await requireTrustedBundle(command, bundle, options) : await claimNewBundle(bundle, options.log);
  return { bundle, signer };
}

export function bundleTarget(bundleDir: string): WriteTarget {
  return { dir: bundleDir, role: "the bundle", option: "--bundle DIR" };
}

export interface CheckpointRunOptions {
  /** `--store all` (audit.ts, storeAllFrom). */
  storeAll: boolean;
  /** Cells the user makes run (repeat's --run/--from). */
  force?: ForceRequest;
  /** repeat --explain: why each task that was not served was dispatched. */
  explainTasks?: boolean;
  /** Called with the planned session before anything runs (repeat prints its --explain plan here). */
  beforeRun?: (session: CheckpointSession) => void;
  /** A kernel the command started first thing (kernel-start.ts); runCheckpointCommand owns it from the call on. */
  first?: FirstKernel;
}


/**
 * The body audit and repeat share: settings and writability checked before
 * any kernel starts (a bad nbrewind.yaml, an unwritable folder: exit 2 at
 * once), then, under the bundle's run lock, the trust gate, the plan against
 * the records as the lock holder before us left them, the run, and the
 * `--report` page whatever the run's outcome.
 */
export async function runCheckpointCommand(command: CheckpointCommand, args: ParsedArgs, io: CommandIO, prepared: Prepared, options: CheckpointRunOptions): Promise<number> {
  const quiet = args.flags.has("quiet");
  const log = (line: string) => void (quiet ? undefined : io.stderr.write(line + "\n"));
  const bundleDir = bundleDirFrom(args, prepared.path);
  let early = options.first?.runtime;
  // The kernel is owned here until executeNotebookCommand takes it; closed once otherwise.
  let handedOver = false;
  let dropped: Promise<void> | undefined;
  const discardEarly = async () => {
    if (!handedOver) {
      handedOver = true;
      await discardRuntime(early);
    }
    await dropped;
  };
  // Waiting for another run of this bundle, which usually records what this one
  // would run: a kernel started first thing is shut down rather than kept idle;
  // the forecast after the records starts one again if a cell still must run.
  const onWait = () => {
    if (!early || handedOver) return;
    dropped = discardRuntime(early);
    early = undefined;
  };
  try {
    const taskSettings = await TaskSettings.load(prepared.path, prepared.notebook, bundleDir);
    await requireWritable(command, [bundleTarget(bundleDir), outputTarget(args, prepared.path)]);
    timings.mark("settings, writability");
    return await withBundleRunLock(bundleDir, { command, wait: !args.flags.has("no-wait"), log, signal: io.signal, onWait }, async () => {
      timings.mark("bundle lock");
      const { bundle, signer } = await openTrustedBundle(command, bundleDir, prepared.path, { trust: args.flags.has("trust"), log });
      timings.mark("bundle open + trust");
      await adoptRecordedCellIds(prepared, bundle);
      const records = await bundle.records();
      timings.mark("bundle records");
      // Trust is settled: when a cell surely runs (every cell at audit), the
      // server and kernel start while the plan is made (see kernel-forecast.ts),
      // unless the command started them first thing already (kernel-start.ts).
      const surelyRuns = command === "audit" || options.force !== undefined;
      if (!early && kernelSurelyNeeded(prepared.notebook, records, surelyRuns)) {
        early = openRuntime(args, io.signal, prepared.path, prepared.notebook.metadata.kernelspec?.name, log);
        early.catch(() => {}); // a failed start is reported where the runtime is awaited
      }
      try {
        const plan = await planNotebook(prepared.notebook, records, command === "audit", options.force, prepared.path, taskSettings, bundle.manifest.cells);
        timings.mark("plan");
        // A reused cell whose large output (a blob) is gone cannot be shown: exit 2 before any cell runs.
        for (const cell of plan.cells) {
          const missing = cell.decision === "reuse" && cell.record ? await bundle.missingOutputBlob(cell.record, cell.number) : undefined;
          if (missing) throw missing;
        }
        const session = new CheckpointSession(command, bundle, plan, prepared, records, {
          ...(options.explainTasks ? { explainTasks: true } : {}),
          signer,
          storeAll: options.storeAll,
          taskSettings,
        });
        options.beforeRun?.(session);
        handedOver = true;
        if (options.first && early === options.first.runtime) options.first.showLog();
        return await executeNotebookCommand(command, args, io, session, prepared, early);
      } finally {
        await discardEarly();
        if (args.flags.has("report")) await reportAfterRun(bundle.dir, prepared.path, (line) => io.stderr.write(line + "\n"));
      }
    });
  } finally {
    await discardEarly();
  }
}
