import { copyFile, mkdir, mkdtemp, rmdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { Writable } from "node:stream";
import { Bundle } from "../bundle/bundle.js";
import { checkInputs, placePackedInputs, recordedInputs } from "../bundle/inputs.js";
import { KeyStore } from "../bundle/trust/keys.js";
import { assessTrust } from "../bundle/trust/trust.js";
import { unpackBundle, type UnpackResult } from "../bundle/unpack.js";
import { ExitCode, InfrastructureError, InputError, NbrewindError } from "../common/errors.js";
import { writeJsonAtomic } from "../common/atomic-file.js";
import { requireWritable } from "../common/writable.js";
import { packageVersion } from "../common/package-root.js";
import { replayInContainer } from "../container/index.js";
import { compareOutputs, type OutputComparison } from "../notebook/compare-outputs.js";
import { injectedCellOf, placeInjectedCell } from "../notebook/parameters.js";
import { readNotebook } from "../notebook/read.js";
import type { Notebook } from "../notebook/types.js";
import { writeNotebook } from "../notebook/write.js";
import { formatBytes } from "../planner/plan.js";
import { formatDifference } from "../report/output-diff.js";
import { parseArgs, type ParsedArgs } from "./args.js";
import { throttled } from "./bundle-target.js";
import { trustHelp, trustOption } from "./bundle-trust.js";
import type { Command, CommandIO } from "./command.js";
import { repeatCommand } from "./repeat.js";
import { reportAfterRun, reportHelp, reportOption } from "./report.js";
import { executionOptions } from "./run.js";

export interface ReplaySummary {
  command: "replay";
  nbrewind_version: string;
  archive: string;
  work_dir: string;
  notebook: string;
  output: string;
  container: boolean;
  trust: { how: string; detail: string; signer: { key_id: string; name: string } | null };
  cells: { total: number; reused: number; run: number; not_run: number };
  tasks: { total: number; reused: number; run: number };
  outputs: OutputComparison;
  repeat_exit_code: number;
  exit_code: number;
  /** The run summary of the repeat (schemas/run-summary.schema.json). */
  repeat: unknown;
  /** Input files the notebook read in its folder: packed ones put in place, recorded ones missing or different here. */
  inputs: { placed: string[]; missing: string[]; different: string[] };
}

/** Task entries of a record (issue 5's task graph) whose status says they were answered from the bundle. */

async function replay(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("replay", argv, [
    { name: "directory", short: "C", arity: 1 },
    { name: "check", arity: 0 },
    trustOption,
    { name: "container", arity: 0 },
    { name: "base-image", arity: 1 },
    { name: "network", arity: 0 },
    // run's options, but where the output goes (replay decides) and which server (a fresh one in the work directory).
    ...executionOptions.filter((o) => !["output", "server-url", "token"].includes(o.name)),
    { name: "explain", arity: 0 },
    reportOption,
  ]);
  if (args.positionals.length !== 1) throw new InputError(`expected one FILE argument, got ${args.positionals.length} (see 'nbrewind-engine replay --help')`);
  if (!args.flags.has("container") && (args.values.has("base-image") || args.flags.has("network"))) {
    throw new InputError("--base-image and --network apply to --container only");
  }
  const archive = resolve(args.positionals[0]!);
  const quiet = args.flags.has("quiet");
  const log = (line: string) => void (quiet ? undefined : io.stderr.write(line + "\n"));

  // 1. Unpack into the work directory, deciding trust on the staged copy: a refused bundle leaves nothing.
  const { workDir, created } = await workDirectory(args, archive);
  const keys = new KeyStore();
  let trust: ReplaySummary["trust"] = { how: "", detail: "", signer: null };
  const progress = throttled(log);
  let unpacked: UnpackResult;
  try {
    unpacked = await unpackBundle({
      archive,
      targetDir: workDir,
      signal: io.signal,
      onProgress: (p) => progress(`unpacking: ${Math.floor((100 * p.bytesRead) / Math.max(1, p.bytesTotal))}% of ${formatBytes(p.bytesTotal)}`),
      beforeCommit: async (ex) => {
        const verdict = await assessTrust(join(ex.stagingDir, ex.bundle_folder), keys, { trustFlag: args.flags.has("trust") });
        if (!verdict.trusted) {
          throw new InputError(`refusing ${archive}: ${verdict.reason}. Replaying loads its pickled values, which runs code; nothing was unpacked.`, verdict.fix);
        }
        trust = { how: verdict.how, detail: verdict.detail, signer: verdict.signer ? { key_id: verdict.signer.key_id, name: verdict.signer.name } : null };
      },
    });
  } catch (err) {
    if (created) await rmdir(workDir).catch(() => {}); // only if still empty: never remove what others put there
    throw err;
  }
  log(`unpacked ${unpacked.notebook} and ${unpacked.bundle_folder}/ into ${workDir} (${trust.detail})`);

  // 2. What was recorded, read before the repeat updates the bundle.
  const recorded = await Bundle.open(unpacked.bundleDir)
    .then((b) => b.readNotebook())
    .catch((err: Error) => {
      throw new InputError(`the bundle holds no recorded notebook to compare with (${err.message}); was it packed before any run finished?`);
    });
  const stem = basename(unpacked.notebook, ".ipynb");
  const inputs = await preflightInputs(unpacked.bundleDir, workDir, log);
  const input = await replayInput(args, unpacked, recorded, stem);
  const outputName = `${stem}.replayed.ipynb`;
  const parameterFiles = await copyParameterFiles(args, workDir);
  // In a container the user's keys are not there: the trust decided above is handed on as --trust.
  // Where it writes its notebook and summary is the container's business (no -o, no --json).
  const repeatArgs = repeatArguments(args, unpacked.bundle_folder, parameterFiles, (rel) => rel, true);

  // 3. The repeat, here or in a container.
  let repeatExit: number;
  let repeatSummary: unknown;
  let outputPath: string;
  if (args.flags.has("container")) {
    const result = await replayInContainer({
      workDir,
      notebook: input,
      repeatArgs,
      ...(args.values.has("base-image") ? { baseImage: args.values.get("base-image")! } : {}),
      network: args.flags.has("network"),
      onProgress: log,
      signal: io.signal,
    });
    repeatExit = result.exitCode;
    repeatSummary = result.summary;
    outputPath = result.outputNotebook;
  } else {
    const local = [join(workDir, input), "-o", join(workDir, outputName), "--json", ...repeatArguments(args, unpacked.bundle_folder, parameterFiles, (rel) => join(workDir, rel), args.flags.has("trust"))];
    let captured = "";
    const stdout = new Writable({
      write(chunk: Buffer, _enc, done) {
        captured += chunk.toString();
        done();
      },
    });
    repeatExit = await repeatCommand.run(local, { stdout, stderr: io.stderr, signal: io.signal }).catch((err: unknown) => {
      throw asReplayError(err);
    });
    try {
      repeatSummary = JSON.parse(captured) as unknown;
    } catch {
      throw new InfrastructureError(`the repeat did not print its summary (exit code ${repeatExit})`);
    }
    outputPath = join(workDir, outputName);
  }

  // 4. Compare with the recorded outputs, count what was reused.
  const replayed = await readNotebook(outputPath);
  const comparison = compareOutputs(recorded, replayed);
  const counts = await countReuse(replayed, unpacked.bundleDir);
  const mismatch = args.flags.has("check") && !comparison.matched;
  const exitCode = repeatExit !== ExitCode.ok ? repeatExit : mismatch ? ExitCode.cellFailed : ExitCode.ok;
  const summary: ReplaySummary = {
    command: "replay",
    nbrewind_version: packageVersion(),
    archive,
    work_dir: workDir,
    notebook: join(workDir, input),
    output: outputPath,
    container: args.flags.has("container"),
    trust,
    cells: counts.cells,
    tasks: counts.tasks,
    outputs: comparison,
    repeat_exit_code: repeatExit,
    exit_code: exitCode,
    repeat: repeatSummary,
    inputs,
  };
  // Kept beside the replayed notebook: what 'report' shows as the outputs that differ.
  await writeJsonAtomic(join(workDir, `${stem}.replay-summary.json`), summary);
  if (args.flags.has("json")) io.stdout.write(JSON.stringify(summary, null, 2) + "\n");
  else io.stderr.write(humanSummary(summary, args.flags.has("check")).join("\n") + "\n");
  if (args.flags.has("report")) await reportAfterRun(unpacked.bundleDir, join(workDir, input), log);
  return exitCode;
}

/**
 * Before any cell runs: the input files packed with `pack --inputs` are put
 * in place where this site has none, and every recorded input that is
 * missing or different here is listed (the cells reading them will run).
 */
async function preflightInputs(bundleDir: string, workDir: string, log: (line: string) => void): Promise<ReplaySummary["inputs"]> {
  const recordedReads = await recordedInputs(await Bundle.open(bundleDir));
  const placed = await placePackedInputs(bundleDir, recordedReads, workDir);
  if (placed.length > 0) log(`put ${placed.length} packed input file(s) in place: ${placed.join(", ")}`);
  const off = await checkInputs(recordedReads, workDir);
  if (off.length > 0) {
    log(`${off.length} recorded input file(s) are missing or different here; the cells that read them will run:`);
    for (const o of off) log(`  ${o.path}: ${o.state === "missing" ? "missing" : `different (recorded ${o.recorded.size} bytes, sha256 ${o.recorded.sha256.slice(0, 12)}…)`}`);
  }
  return { placed, missing: off.filter((o) => o.state === "missing").map((o) => o.path), different: off.filter((o) => o.state === "different").map((o) => o.path) };
}

async function workDirectory(args: ParsedArgs, archive: string): Promise<{ workDir: string; created: boolean }> {
  const given = args.values.get("directory");
  await requireWritable("replay", [{ dir: resolve(given ?? "."), role: "the replay's work directory", option: "-C DIR" }]);
  if (given) {
    const dir = resolve(given);
    await mkdir(dir, { recursive: true });
    return { workDir: dir, created: false };
  }
  const stem = basename(archive).replace(/(\.nbrewind)?\.(tgz|tar\.gz)$/, "");
  return { workDir: await mkdtemp(resolve(`${stem}.replay-`)), created: true };
}

/**
 * The notebook to repeat. Without parameters on the command line the
 * recorded run's parameters are meant: its injected-parameters cell is put
 * back exactly as it was (a copy rebuilt from values could differ by a
 * float's `.0`, and so by its fingerprint) into NAME.replay-input.ipynb; the
 * packed NAME.ipynb stays as it came. With -p / -r / -y, the packed notebook
 * is repeated with those, as papermill would.
 */
async function replayInput(args: ParsedArgs, unpacked: UnpackResult, recorded: Notebook, stem: string): Promise<string> {
  const given = ["parameters", "parameters-raw", "parameters-file"].some((n) => args.lists.has(n));
  const injected = injectedCellOf(recorded);
  if (given || !injected) return unpacked.notebook;
  const source = await readNotebook(unpacked.notebookPath);
  const name = `${stem}.replay-input.ipynb`;
  await writeNotebook(join(unpacked.targetDir, name), placeInjectedCell(source, { ...structuredClone(injected), outputs: [], execution_count: null }));
  return name;
}

/** -y files are copied into the work directory: a container sees only that folder. */
async function copyParameterFiles(args: ParsedArgs, workDir: string): Promise<string[]> {
  const copies: string[] = [];
  for (const [file] of args.lists.get("parameters-file") ?? []) {
    const copy = `replay-parameters-${copies.length + 1}.yaml`;
    await copyFile(resolve(file!), join(workDir, copy)).catch((err: Error) => {
      throw new InputError(`cannot read the parameters file ${resolve(file!)}: ${err.message}`);
    });
    copies.push(copy);
  }
  return copies;
}

/** repeat's options; `path` turns a name relative to the work directory into what the repeat should see. */
function repeatArguments(args: ParsedArgs, bundleFolder: string, parameterFiles: string[], path: (rel: string) => string, trust: boolean): string[] {
  const out = ["--bundle", path(bundleFolder), ...(trust ? ["--trust"] : [])];
  for (const file of parameterFiles) out.push("-y", path(file));
  for (const [name, value] of args.lists.get("parameters") ?? []) out.push("-p", name!, value!);
  for (const [name, value] of args.lists.get("parameters-raw") ?? []) out.push("-r", name!, value!);
  if (args.values.has("kernel")) out.push("-k", args.values.get("kernel")!);
  if (args.values.has("cell-timeout")) out.push("--cell-timeout", args.values.get("cell-timeout")!);
  if (args.flags.has("allow-errors")) out.push("--allow-errors");
  if (args.flags.has("explain")) out.push("--explain");
  if (args.flags.has("quiet")) out.push("-q");
  return out;
}

/**
 * Cells and tasks from the replayed notebook's own account: a cell that ran
 * says in its metadata how many of its tasks were served and dispatched
 * (metadata.nbrewind.tasks); a reused cell dispatched nothing, and its
 * recorded task graph says how many tasks it stands for.
 */
async function countReuse(nb: Notebook, bundleDir: string): Promise<{ cells: ReplaySummary["cells"]; tasks: ReplaySummary["tasks"] }> {
  const cells = { total: 0, reused: 0, run: 0, not_run: 0 };
  const tasks = { total: 0, reused: 0, run: 0 };
  const bundle = await Bundle.open(bundleDir).catch(() => undefined);
  for (const cell of nb.cells) {
    if (cell.cell_type !== "code") continue;
    cells.total++;
    const meta = (cell.metadata.nbrewind ?? {}) as { decision?: string; fingerprint?: string; tasks?: { served?: number; dispatched?: number } };
    if (meta.decision === "run") {
      cells.run++;
      const served = meta.tasks?.served ?? 0;
      const dispatched = meta.tasks?.dispatched ?? 0;
      tasks.total += served + dispatched;
      tasks.reused += served;
      tasks.run += dispatched;
      continue;
    }
    if (meta.decision !== "reused") {
      cells.not_run++;
      continue;
    }
    cells.reused++;
    if (!bundle || !meta.fingerprint) continue;
    const record = await bundle.record(meta.fingerprint).catch(() => undefined);
    const recorded = record?.tasks?.length ?? 0;
    tasks.total += recorded;
    tasks.reused += recorded;
  }
  return { cells, tasks };
}

function humanSummary(s: ReplaySummary, check: boolean): string[] {
  const lines = [
    `replay: ${s.cells.reused} of ${s.cells.total} cell(s) reused, ${s.cells.run} ran${s.cells.not_run > 0 ? `, ${s.cells.not_run} not run` : ""}; ` +
      `${s.tasks.reused} of ${s.tasks.total} task(s) reused, ${s.tasks.run} ran`,
  ];
  const o = s.outputs;
  const addresses = o.addresses_only.length > 0 ? `; ${o.addresses_only.length} output(s) differ only in the memory address of an object made again here (\`<… at 0x…>\`), not counted` : "";
  if (o.matched) lines.push(`outputs: all ${o.cells_compared} cell(s) match the recorded ones${addresses}`);
  else {
    lines.push(`outputs: ${o.cells_differing} cell(s) differ from the recorded ones${check ? "" : " (--check makes this an error)"}${addresses}:`);
    for (const d of o.differences.slice(0, 20)) lines.push(...formatDifference(d).map((l) => `  ${l}`));
    if (o.differences.length > 20) lines.push(`  … and ${o.differences.length - 20} more difference(s) (--json lists them all)`);
  }
  lines.push(`replayed notebook: ${s.output}`, `work directory: ${s.work_dir}`);
  return lines;
}

/**
 * The repeat a replay runs is part of the replay: its errors are shown as
 * the replay's (`nbrewind-engine replay: --cell-timeout needs …`), not with
 * the inner command's name after the outer one (`replay: repeat: …`).
 */
function asReplayError(err: unknown): unknown {
  const own = "repeat: ";
  if (err instanceof NbrewindError && err.message.startsWith(own)) err.message = err.message.slice(own.length);
  return err;
}

export const replayCommand: Command = {
  name: "replay",
  help: `Usage: nbrewind-engine replay FILE [-C DIR] [--check] [--trust] [-p NAME VALUE]... [--json]
                              [--container [--base-image IMAGE] [--network]]

Reproduce a packed bundle (from 'pack') at this site: unpack it into a work
directory, repeat the notebook there against its bundle, and compare every
code cell's outputs with the recorded ones.

The bundle must be signed by a key you trust ('nbrewind-engine keys trust'),
or you pass --trust: the repeat loads its pickled values, and unpickling runs
code. The check happens before anything is unpacked; a refused bundle leaves
nothing behind.

Without -p/-r/-y the recorded run's parameters are used: its
injected-parameters cell is put back as it was (in NAME.replay-input.ipynb;
NAME.ipynb stays as packed), so every recorded cell and task can be reused.
With -p/-r/-y the packed notebook runs with those parameters instead (as
papermill: the recorded ones are replaced, not merged).

Outputs match when each cell shows the same streams (name and text), the
same data for every MIME type (text/plain, text/html, image/png, ...) with
the same output metadata, and the same errors (name and value). Execution
counts, display ids, timings and tracebacks are not compared.

Input files: the data files the notebook read in its folder travel when the
file was packed with 'pack --inputs'; they are put in place where the work
directory has no such file (never over one). Before any cell runs, replay
lists every recorded input that is missing or different here; the cells that
read them run. Files the reused cells wrote are written back from the bundle.

The work directory keeps everything: NAME.ipynb, NAME.nbrewind/ (updated by
the repeat and marked as yours, so you can go on with 'repeat' there without
--trust), NAME.replayed.ipynb, and NAME.replay-summary.json (the summary
that --json prints; 'nbrewind-engine report' shows its output differences).

Options:
  -C, --directory DIR       the work directory (default: a new folder
                            FILE-STEM.replay-XXXXXX in the current one)
      --check               exit 1 when an output differs, showing each
                            difference (cell id, output index, expected -
                            against got +)
${trustHelp}
      --container           repeat inside a container built from the recorded
                            environment (Docker-compatible engine: DOCKER_HOST
                            or the default socket)
      --base-image IMAGE    the container's base image
      --network             let the container use the network (default: none)
  -p, --parameters NAME VALUE, -r, --parameters-raw NAME VALUE,
  -y, --parameters-file FILE
                            run with these parameters instead of the recorded ones
  -k, --kernel NAME, --cell-timeout SECONDS, --allow-errors, --explain
                            as for 'repeat'
      --json                the summary as JSON (schemas/replay-summary.schema.json)
${reportHelp}
  -q, --quiet               no progress lines

Exit codes: 0 replayed (and, with --check, every output matches), 1 a cell
failed or (--check) an output differs, 2 bad input (a corrupt or untrusted
file), 3 infrastructure failure.

Example:
  nbrewind-engine keys trust alice.pub
  nbrewind-engine replay analysis.nbrewind.tgz --check`,
  run: replay,
};
