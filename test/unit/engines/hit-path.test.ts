import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * The hit path of the engine adapters, on the real engines in a plain Python
 * process (no Jupyter: the kernel's task runtime over a temporary store, as
 * the shim drives it). Each script audits a small workflow, then repeats it
 * with the memo table a bundle would give, and reports what the engine's own
 * side saw: the graphs the Dask scheduler was handed (a scheduler plugin, a
 * local-scheduler callback), the tasks the Parsl DFK launched on its executor
 * (the executor's submit, counted), and what the task functions really ran.
 */
function runScript(name: string): any {
  const python = findManagedEnv()?.python ?? basePython();
  const script = join(packageRoot(), "test", "unit", "engines", "hit-path", name);
  const r = spawnSync(python, [script, packageRoot()], { encoding: "utf8", timeout: 240_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe("the hit path", () => {
  it("Dask: an all-hit graph is answered without the scheduler; a partly hit one sends it exactly its misses; samples replay in order", { timeout: 240_000 }, () => {
    const out = runScript("dask_hits.py");
    expect(out.audit_ran).toHaveLength(13);
    expect(out.threads_all_hit).toEqual({ same_value: true, engine_ran: [], scheduler_graphs: [], records: { hit: 32 }, samples_replayed_in_order: true });
    // Served before Dask builds and optimises the graph (what an empty task costs most on threads),
    // with containers, plain values and .compute() handed back as Dask would.
    expect(out.threads_before_optimising).toEqual({ graph_optimised: 0, shapes_same: true, shapes_ran: [], shapes_optimised: 0 });
    // leaf 3 changed: it, its pair and the total run; the hits it reads are literal data, not tasks.
    expect(out.threads_partial).toEqual({ right_value: true, engine_ran: ["leaf", "pair", "total"], scheduler_graphs: [["leaf", "pair", "total"]], records: { dispatched: 3, hit: 10 } });
    expect(out.distributed_all_hit).toEqual({ same_value: true, engine_ran: [], graphs_sent: 0, records: { hit: 13 } });
    expect(out.distributed_partial).toEqual({ right_value: true, engine_ran: ["leaf", "pair", "total"], scheduler_computed: ["leaf", "pair", "total"], records: { dispatched: 3, hit: 10 } });
    // Futures stay futures (engine-bound): the scheduler holds them, their tasks served.
    expect(out.distributed_futures).toEqual({ same_value: true, engine_ran: [], is_future: "Future" });
    expect(out.persisted_then_computed).toEqual([0, 2, 4]);
  });

  it("Parsl: all-hit AppFutures complete at once without a launch; a hit whose input still runs waits for it through the DFK", { timeout: 240_000 }, () => {
    const out = runScript("parsl_hits.py");
    expect(out.all_hit).toEqual({ done_at_once: true, same_values: true, executor_handed: [], ids_count_up: true, memo_done_counted: 6, records: { hit: 6 } });
    expect(out.pending_input).toEqual({ waited: true, same_value: true, executor_handed: ["slow"], records: { dispatched: 1, hit: 1 } });
  });

  it("Ray: small one-return hits get real ObjectRefs made in batches (one actor call, many returns), not one ray.put each; large and multi-return hits are put; a damaged result is never served", { timeout: 240_000 }, () => {
    const out = runScript("ray_hits.py");
    expect(out.all_hit).toEqual({
      same_values: true,
      refs: ["ObjectRef"],
      wait_all_ready: [40, 0],
      awaited: true,
      // hits read by tasks that run: 9 + 1, and 36 + 49 from a list of refs
      downstream: [10, 85],
      // the pair's two returns and the 64 KiB result: every other hit came from a batch
      put_by_the_adapter: ["bytes", "int", "int"],
      // the first 16 small results, then the cell's other 27 (up to 64 could go in the second)
      batches: 2,
      // the two tasks reading hits that are not recorded run
      records: { hit: 44, dispatched: 2 },
    });
    // Three hits: one batch of the cell's first 16 small results, 13 prepared and never asked for.
    expect(out.few_hits).toEqual({ values: [0, 1, 4], batches: 1, ready: 13, records: { hit: 3 } });
    // Both CPUs held by the user's 4 s tasks: the batch does not wait for them.
    expect(out.busy).toEqual({ value: 25, fast: true });
    // ray.init in a run with recorded results starts the batch actor (not recorded as the user's): no hit is put.
    expect(out.after_init).toEqual({ started: true, same_values: true, puts: 0, batches: 2, records: { hit: 40 } });
    expect(out.damaged).toEqual({ same_values: true, records: { dispatched: 40 } });
  });

  it("the runtime's bookkeeping: a dispatch the adapter forgot is never reported; a recorded task whose read changed is a miss after one look at its reads", () => {
    const out = runScript("runtime_bookkeeping.py");
    expect(out.forgotten_reported).toEqual([]);
    expect(out.changed_read).toEqual({ hit: false, reason: expect.stringMatching(/^it reads `.*part1\.csv`, which changed$/), reads_checked: 1 });
  });

  it("function identities are kept between submissions only while every part of them provably holds", () => {
    expect(runScript("identities.py")).toEqual({
      unchanged_not_hashed_again: true,
      global_rebound: true,
      global_back: true,
      helper_redefined: true,
      kwdefault_changed_in_place: true,
      defaults_changed: true,
      list_mutated: true,
      closure_rebound: true,
      recursive_stable: true,
      attribute_names_not_globals: true,
      loads_in_nested_code_counted: { M: true, P: true, Q: true },
      dynamic_reads_uncacheable: {
        by_eval: "function by_eval calls eval(): the globals it reads cannot be known from its code",
        by_globals: "function by_globals calls globals(): the globals it reads cannot be known from its code",
        by_exec: "function by_exec calls exec(): the globals it reads cannot be known from its code",
        calls_dynamic: "function by_globals calls globals(): the globals it reads cannot be known from its code",
      },
    });
  });
});
