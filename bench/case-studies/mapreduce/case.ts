import type { CaseStudy } from "../case.js";

/**
 * 16 map tasks (one per CSV), then a pairwise combine tree of 8 + 4 + 2 + 1
 * = 15 tasks: 31 tasks, all submitted by cell `map-combine`.
 */
export const mapreduce: CaseStudy = {
  name: "mapreduce",
  title: "Sales map-combine-reduce over CSV/JSON files",
  engine: "dask-distributed",
  output: "results/final_summary.json",
  edits: [
    {
      kind: "last-step",
      why: "rank the top 5 regions instead of the top 3 (TOP_N = 3 -> 5)",
      source: { cell: "rank", from: "TOP_N = 3", to: "TOP_N = 5" },
      ideal: { rank: 0, write: 0 },
      reasoning: "`rank` changed; `write` reads `top`, which `rank` makes. `stats` and everything above it are unchanged and no task is involved.",
    },
    {
      kind: "upstream",
      why: "drop orders under 20 instead of 5 (MIN_AMOUNT = 5.0 -> 20.0)",
      source: { cell: "map-combine", from: "MIN_AMOUNT = 5.0", to: "MIN_AMOUNT = 20.0" },
      ideal: { engine: 0, "map-combine": 31, stats: 0, rank: 0, write: 0 },
      reasoning: "every map task takes `min_amount` as an argument (16), and every combine task consumes their results (15); the cells below read `totals`. The cluster must run to dispatch them.",
    },
    {
      kind: "input-file",
      why: "one input file changes (data/sales/part-05.csv rewritten)",
      ideal: { engine: 0, "map-combine": 5, stats: 0, rank: 0, write: 0 },
      reasoning: "only the map task that opens part-05.csv reads it (1); its result feeds one combine task per tree level (4: pairs 4-5, 4-7, 0-7, 0-15); the other 26 tasks have the same code, arguments and inputs. `totals` changes, so the cells below run.",
    },
  ],
};
