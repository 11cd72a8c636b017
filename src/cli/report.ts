import { spawn } from "node:child_process";
import { basename, dirname, join, resolve } from "node:path";
import { ExitCode, InputError } from "../common/errors.js";
import { collectReport, renderReportHtml, ReportTargetError, type ReportData } from "../report/index.js";
import { writeFileAtomic } from "../common/atomic-file.js";
import { parseArgs } from "./args.js";
import { resolveBundleTarget } from "./bundle-target.js";
import type { Command, CommandIO } from "./command.js";

export { reportHelp, reportOption } from "./checkpoint-options.js";

/** The report's default file: beside the notebook, named after it. */
export function defaultReportPath(notebookPath: string): string {
  return join(dirname(notebookPath), `${basename(notebookPath, ".ipynb")}.report.html`);
}


/**
 * Write the report of a bundle after a run and say where it is. A report is a
 * by-product: a problem writing it is said, never turned into the run's failure.
 */
export async function reportAfterRun(bundleDir: string, notebookPath: string, log: (line: string) => void): Promise<void> {
  const out = defaultReportPath(notebookPath);
  try {
    const data = await collectReport(bundleDir);
    await writeFileAtomic(out, renderReportHtml(data));
    log(`report: ${out}${data.problems.length ? ` (${data.problems.length} problem(s) in the bundle, named on the page)` : ""}`);
  } catch (err) {
    log(`report: not written (${(err as Error).message})`);
  }
}

async function report(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("report", argv, [
    { name: "output", short: "o", arity: 1 },
    { name: "bundle", short: "b", arity: 1 },
    { name: "run", arity: 1 },
    { name: "open", arity: 0 },
    { name: "json", arity: 0 },
    { name: "verify", arity: 0 },
  ]);
  if (args.positionals.length !== 1) throw new InputError(`expected one NOTEBOOK or BUNDLE argument, got ${args.positionals.length} (see 'nbrewind-engine report --help')`);
  const { notebookPath, bundleDir } = await resolveBundleTarget("report", args.positionals[0]!, args.values.get("bundle"));
  let data: ReportData;
  try {
    data = await collectReport(bundleDir, { runId: args.values.get("run"), hashContent: args.flags.has("verify") });
  } catch (err) {
    if (err instanceof ReportTargetError) throw new InputError(err.message);
    throw err;
  }
  const json = args.flags.has("json");
  const output = args.values.get("output");
  if (json) io.stdout.write(JSON.stringify(data, null, 2) + "\n");
  if (!json || output) {
    const out = resolve(output ?? defaultReportPath(notebookPath));
    await writeFileAtomic(out, renderReportHtml(data));
    io.stderr.write(`report: ${out}\n`);
    if (args.flags.has("open")) openInBrowser(out, io);
  }
  for (const p of data.problems) io.stderr.write(`problem: ${p.file}: ${p.message}\n`);
  // A bundle that is not whole is worth a non-zero exit for scripts, though the page was written.
  return data.problems.length > 0 ? ExitCode.cellFailed : ExitCode.ok;
}

function openInBrowser(file: string, io: CommandIO): void {
  const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  const child = spawn(opener, [file], { stdio: "ignore", detached: true });
  child.on("error", () => io.stderr.write(`report: could not start '${opener}' to open it; open ${file} in a browser\n`));
  child.unref();
}

export const reportCommand: Command = {
  name: "report",
  help: `Usage: nbrewind-engine report NOTEBOOK|BUNDLE [-o FILE.html] [--run ID] [--open] [--json] [--verify]

Write one self-contained HTML page (inline styles and pictures, no network
when viewed: it opens from a bundle's folder or an email attachment) that
shows a run recorded in the bundle:
  - a timeline, one bar per cell: reused, restored (reused, and its values
    loaded for a cell that ran), ran or failed, with its time, the recorded
    time a reuse saved, and the bytes restored and checkpointed;
  - the cells' data-flow graph (the names each cell reads and from where),
    the cells that ran highlighted, the reason on hover;
  - per cell, its tasks by function: submitted, served, dispatched, not
    cacheable, failed; why tasks were dispatched; the task graph (one node
    per function for cells with too many tasks to draw one by one);
  - a comparison of any two runs: which cells changed decision and why;
  - after 'replay', the outputs that differ, recorded and replayed side by
    side (from NAME.replay-summary.json beside the notebook);
  - the captured environment, the signer, and whether the bundle checks out.

A bundle with a missing or corrupt file still gets its page: the problems are
listed at its top, and the exit code is 1.

Options:
  -o, --output FILE.html    where to write it (default: NAME.report.html
                            beside the notebook)
  -b, --bundle DIR          the bundle folder of NOTEBOOK, when not NAME.nbrewind
      --run ID              the run to show (default: the latest); the ids are
                            in 'report --json' (runs[].run_id)
      --open                open the page in the desktop's browser
      --json                print the report's data on stdout instead
                            (schemas/report.schema.json); with -o the page is
                            written too
      --verify              hash every blob, as 'verify' does (default: check
                            only that referenced blobs are present)

Exit codes: 0 written, 1 written but the bundle has problems (named on the
page and on stderr), 2 no bundle or bad usage.

Examples:
  nbrewind-engine report analysis.ipynb --open
  nbrewind-engine repeat analysis.ipynb -p n 20 --report
  nbrewind-engine report analysis.nbrewind --json | jq '.cells[] | select(.outcome == "ran")'`,
  run: report,
};
