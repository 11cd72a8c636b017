import { planToJson } from "../planner/explain.js";
import { ExitCode } from "../common/errors.js";
import { bundleOption } from "./checkpoint-options.js";
import { parseArgs } from "./args.js";
import { adoptRecordedCellIds, firstLinesOf, openBundle, planNotebook } from "../session/checkpoint-session.js";
import { bundleDirFrom } from "./checkpoint-bundle.js";
import type { Command, CommandIO } from "./command.js";
import { explainPlan } from "../planner/explain.js";
import { prepareNotebook } from "./run.js";
import { forceHelp, forceOptions, forceRequest } from "./force-options.js";
import { resolveForced } from "../planner/forced.js";
import { TaskSettings } from "../session/task-settings.js";

async function plan(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("plan", argv, [
    bundleOption,
    { name: "parameters", short: "p", arity: 2, repeatable: true },
    { name: "parameters-raw", short: "r", arity: 2, repeatable: true },
    { name: "parameters-file", short: "y", arity: 1, repeatable: true },
    { name: "json", arity: 0 },
    ...forceOptions,
  ]);
  const prepared = await prepareNotebook("plan", args);
  const force = forceRequest(args);
  if (force) resolveForced(force, prepared.notebook.cells);
  const dir = bundleDirFrom(args, prepared.path);
  const bundle = await openBundle("plan", dir, prepared.path);
  await adoptRecordedCellIds(prepared, bundle);
  const settings = await TaskSettings.load(prepared.path, prepared.notebook, dir, { probeCache: false });
  const result = await planNotebook(prepared.notebook, await bundle.records(), false, force, prepared.path, settings, bundle.manifest.cells);
  if (args.flags.has("json")) {
    io.stdout.write(JSON.stringify({ notebook: prepared.path, bundle: dir, ...(planToJson(result) as object) }, null, 2) + "\n");
  } else {
    io.stdout.write(explainPlan(result, firstLinesOf(prepared.notebook)).join("\n") + "\n");
  }
  return ExitCode.ok;
}

export const planCommand: Command = {
  name: "plan",
  help: `Usage: nbrewind-engine plan NOTEBOOK [--bundle DIR] [-p NAME VALUE]... [--run CELL[,CELL]] [--from CELL] [--json]

Compare NOTEBOOK (with the given parameters) with its bundle and print, for
every code cell, the decision 'repeat' would take — reuse, run or skip — with
its exact reason, and the values that would be restored from the bundle
before each running cell. Nothing is executed; no kernel is started.

Options:
  -b, --bundle DIR          the bundle folder (default: NAME.nbrewind)
  -p, --parameters NAME VALUE, -r, --parameters-raw NAME VALUE,
  -y, --parameters-file FILE
                            parameters, as for 'run'
${forceHelp}
      --json                the plan as JSON (schemas/plan.schema.json)

Example:
  nbrewind-engine plan analysis.ipynb -p n_samples 2000`,
  run: plan,
};
