import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CellSpec } from "./cli-harness.js";

/**
 * A Parsl map-reduce with diamonds, as a notebook, and the engine-side
 * counter it keeps: every app appends one line naming itself to a log file
 * as it runs (in the worker, not in our shim), so the tests count what Parsl
 * really executed rather than what nbrewind says it did.
 *
 *   prepare ─┬─ leaf 0..199 ── group 0..19 ── total ─┬─ spread ─┬─ final
 *            └──────────────────────────────────────┴─ level  ─┘
 *
 * 1 + 200 + 20 + 1 + 2 + 1 = 225 tasks. `factor` weighs the first 20 leaves
 * (10%): changing it re-runs those leaves, groups 0 and 1, and everything
 * from total down. `helper` is called by `level` only.
 */
export const LEAVES = 200;
export const GROUP = 10;
export const AFFECTED_LEAVES = 20;

export type Executor = "threads" | "htex";

export interface WorkflowOptions {
  factor?: number;
  helperBody?: string;
  /** Seconds each app sleeps, as a stand-in for real work (benchmarks). */
  work?: number;
  /** Parsl's own memoization instead of ours: apps with cache=True, results checkpointed at task exit and loaded from every earlier run. */
  parslCheckpoint?: boolean;
}

export function setupSource(executor: Executor, runDir: string, parslCheckpoint = false): string {
  const lines = ["import parsl", "from parsl.config import Config"];
  let extra = "";
  if (parslCheckpoint) {
    lines.push("from parsl.dataflow.memoization import BasicMemoizer", "from parsl.utils import get_all_checkpoints");
    extra = `, memoizer=BasicMemoizer(checkpoint_mode="task_exit", checkpoint_files=get_all_checkpoints(${JSON.stringify(runDir)}))`;
  }
  if (executor === "threads") {
    lines.push("from parsl.executors import ThreadPoolExecutor", `parsl.load(Config(executors=[ThreadPoolExecutor(label="threads", max_threads=4)], run_dir=${JSON.stringify(runDir)}${extra}))`);
  } else {
    lines.push(
      "from parsl.executors import HighThroughputExecutor",
      "from parsl.providers import LocalProvider",
      "parsl.load(Config(",
      '    executors=[HighThroughputExecutor(label="htex", max_workers_per_node=2, cores_per_worker=1,',
      "                                      provider=LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1))],",
      `    run_dir=${JSON.stringify(runDir)}${extra},`,
      "))",
    );
  }
  return lines.join("\n");
}

/** The workflow's cells; apps take the log path as a default argument, as HTEX workers do not see the notebook's globals. */
export function workflowCells(executor: Executor, runDir: string, log: string, options: WorkflowOptions = {}): CellSpec[] {
  const factor = options.factor ?? 1;
  const helperBody = options.helperBody ?? "return x + 1";
  const work = options.work ? `\n    __import__("time").sleep(${options.work})` : "";
  const mark = (what: string) => `    with open(log, "a") as f:\n        f.write(${what} + "\\n")${work}`;
  const app = options.parslCheckpoint ? "@parsl.python_app(cache=True)" : "@parsl.python_app";
  return [
    { id: "setup", source: setupSource(executor, runDir, options.parslCheckpoint) },
    { id: "params", source: `factor = ${factor}`, tags: ["parameters"] },
    { id: "helpers", source: `def helper(x):\n    ${helperBody}` },
    {
      id: "apps",
      source: [
        `LOG = ${JSON.stringify(log)}`,
        "",
        app,
        "def prepare(n, log=LOG):",
        mark('"prepare"'),
        "    return [i * 3 % 11 for i in range(n)]",
        "",
        app,
        "def leaf(base, i, w, log=LOG):",
        mark('f"leaf {i}"'),
        "    return base[i] * w + i",
        "",
        app,
        "def group(j, inputs=(), log=LOG):",
        mark('f"group {j}"'),
        "    return sum(inputs)",
        "",
        app,
        "def total(inputs=(), log=LOG):",
        mark('"total"'),
        "    return sum(inputs)",
        "",
        app,
        "def spread(t, log=LOG):",
        mark('"spread"'),
        "    return t % 97",
        "",
        app,
        "def level(t, log=LOG):",
        mark('"level"'),
        ...(executor === "threads" ? ["    return helper(t)"] : ["    return t // 3"]),
        "",
        app,
        "def final(a, b, log=LOG):",
        mark('"final"'),
        "    return a * 1000 + b",
      ].join("\n"),
    },
    {
      id: "run",
      source: [
        `base = prepare(${LEAVES})`,
        `leaves = [leaf(base, i, factor if i < ${AFFECTED_LEAVES} else 1) for i in range(${LEAVES})]`,
        `groups = [group(j, inputs=leaves[j * ${GROUP}:(j + 1) * ${GROUP}]) for j in range(${LEAVES / GROUP})]`,
        "t = total(inputs=groups)",
        "result = final(spread(t), level(t)).result()",
        "print('result', result)",
      ].join("\n"),
    },
  ];
}

/** Every line of the engine-side log, sorted, then the log is emptied for the next run. */
export function takeLog(log: string): string[] {
  let lines: string[];
  try {
    lines = readFileSync(log, "utf8").split("\n").filter(Boolean);
  } catch {
    lines = [];
  }
  rmSync(log, { force: true });
  return lines.sort();
}

export function allTasks(): string[] {
  const names = ["prepare", "total", "spread", "level", "final"];
  for (let i = 0; i < LEAVES; i++) names.push(`leaf ${i}`);
  for (let j = 0; j < LEAVES / GROUP; j++) names.push(`group ${j}`);
  return names.sort();
}

/** What must run again after `factor` changed: the weighted leaves, their groups, and all below total. */
export function afterFactorChange(): string[] {
  const names = ["total", "spread", "level", "final"];
  for (let i = 0; i < AFFECTED_LEAVES; i++) names.push(`leaf ${i}`);
  for (let j = 0; j < AFFECTED_LEAVES / GROUP; j++) names.push(`group ${j}`);
  return names.sort();
}

export function parslLog(runDir: string): string {
  // Parsl numbers its runs 000, 001, ... under run_dir; each kernel that loads it makes one.
  const out: string[] = [];
  for (let i = 0; i < 10; i++) {
    try {
      out.push(readFileSync(join(runDir, String(i).padStart(3, "0"), "parsl.log"), "utf8"));
    } catch {
      break;
    }
  }
  return out.join("\n");
}
