import type { ForceRequest } from "../planner/forced.js";
import type { OptionSpec, ParsedArgs } from "./args.js";

/** `--run CELL[,CELL]` and `--from CELL`, shared by repeat and plan. */
export const forceOptions: OptionSpec[] = [
  { name: "run", arity: 1, repeatable: true },
  { name: "from", arity: 1 },
];

export const forceHelp = `      --run CELL[,CELL]     run these cells whatever their records say (reason
                            'forced'); repeatable. CELL is the number 'plan'
                            shows (the 1-based position among all cells,
                            markdown included) or the cell's id
      --from CELL           run CELL and every code cell after it (forced)`;

export function forceRequest(args: ParsedArgs): ForceRequest | undefined {
  const run = (args.lists.get("run") ?? []).map((v) => v[0]!);
  const from = args.values.get("from");
  if (run.length === 0 && from === undefined) return undefined;
  return { run, ...(from !== undefined ? { from } : {}) };
}
