/**
 * Benchmark of `nbrewind-engine run` against papermill (issue "Foundation").
 *
 *   npm run bench:run [-- --reps 3 --cells 50]
 *
 * Both tools execute the same generated notebook of trivial cells, end to end
 * as a user runs them, on the same kernelspec of the managed Python env:
 *
 *   node bin/nbrewind-engine.js run nb.ipynb -o out.ipynb -q --json
 *   python -m papermill nb.ipynb out.ipynb -k python3
 *
 * Per-cell overhead = (wall with N cells - wall with 1 cell) / (N - 1), which
 * takes start-up (process, server, kernel, shutdown) out of the comparison.
 * Medians over --reps repetitions. Besides, from one run each: nbrewind with
 * the Nagle fix turned off (NBREWIND_TCP_NODELAY=0), jupyter_client straight
 * over ZeroMQ as the floor, papermill with its notebook saves timed, and where
 * start-up goes for both tools.
 *
 * Kernel-clock figures are computed the same way for every tool from the
 * kernel's own timestamps (cell.metadata.execution, as nbclient writes them):
 * busy -> idle is the kernel's work; idle -> next busy is everything the client
 * side adds between two cells (transport both ways, bookkeeping, saves).
 *
 * It measures; it asserts nothing, and exits 0 whether or not the target is met.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";
import { BENCH, KERNEL, ROOT, buildCli, check, cleanEnv, median, ms, option, phases, printTable, runTimed, sec, signed, writeCodeNotebook, writeResults } from "./lib/harness.js";

/** Target from the issue: nbrewind's per-cell overhead no larger than papermill's. */
const TARGET_RATIO = 1.0;
/** The ZeroMQ floor is cheap (no start-up per pass): several passes in one kernel, median taken. */
const FLOOR_PASSES = 5;

// ---------------------------------------------------------------- notebooks

/** Trivial cells: an assignment, and every fifth cell a print, so outputs flow too. */
function cellSource(i: number): string {
  return i % 5 === 4 ? `x_${i} = ${i}\nprint("cell", x_${i})` : `x_${i} = ${i}`;
}

function writeNotebook(path: string, cells: number): void {
  writeCodeNotebook(path, Array.from({ length: cells }, (_, i) => cellSource(i)));
}

// ---------------------------------------------------------------- kernel clock

/** Kernel timestamps are ISO with microseconds; Date.parse would drop them. */
function isoMicros(s: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) throw new Error(`unexpected timestamp ${s}`);
  const frac = (m[2] ?? "").padEnd(6, "0").slice(0, 6);
  return Date.parse(m[1]! + m[3]!) * 1000 + Number(frac);
}

interface KernelClock {
  /** Median kernel busy -> idle per cell, ms. */
  busyMs: number;
  /** Median idle of one cell -> busy of the next, ms: what the client side adds. */
  gapMs: number;
  /** (busy of last - busy of first) / (cells - 1), ms: the per-cell period as the kernel saw it. */
  periodMs: number;
}

function kernelClock(timings: Record<string, string>[]): KernelClock {
  const busy = timings.map((t) => isoMicros(t["iopub.status.busy"]!) / 1000);
  const idle = timings.map((t) => isoMicros(t["iopub.status.idle"]!) / 1000);
  const gaps = busy.slice(1).map((b, i) => b - idle[i]!);
  return {
    busyMs: median(busy.map((b, i) => idle[i]! - b)),
    gapMs: median(gaps),
    periodMs: (busy[busy.length - 1]! - busy[0]!) / (busy.length - 1),
  };
}

function clockOf(cs: KernelClock[], k: keyof KernelClock): number {
  return median(cs.map((c) => c[k]));
}

function notebookTimings(path: string): { timings: Record<string, string>[]; papermillS: number[] } {
  const nb = JSON.parse(readFileSync(path, "utf8")) as { cells: { cell_type: string; metadata: any }[] };
  const code = nb.cells.filter((c) => c.cell_type === "code");
  return {
    timings: code.map((c) => c.metadata.execution as Record<string, string>),
    papermillS: code.map((c) => Number(c.metadata.papermill?.duration ?? NaN)),
  };
}

// ---------------------------------------------------------------- main

interface ToolRuns {
  wall1: number[];
  wallN: number[];
  /** Kernel clock of each N-cell run. */
  clocks: KernelClock[];
  /** Per-cell durations the tool itself reports, of each N-cell run, ms. */
  reported: number[][];
}

async function main(): Promise<void> {
  const benchStarted = performance.now();
  // 5, not 3: on a shared 2-core machine start-up jitter is of the order of the
  // whole 49-cell difference, and the median needs enough runs to settle.
  const reps = option("reps", 5);
  const cells = option("cells", 50);
  if (cells < 2) throw new Error("--cells must be at least 2");
  const env = await ensureManagedEnv((line) => console.error(`  [python env] ${line}`));

  const cli = buildCli();
  console.error(`  measuring ${cli.source}`);

  const versions = JSON.parse(
    spawnSync(env.python, ["-c", "import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in ['jupyter_server', 'jupyter_client', 'ipykernel', 'papermill', 'nbclient', 'pyzmq']}))"], {
      encoding: "utf8",
    }).stdout,
  ) as Record<string, string>;
  const wsVersion = (JSON.parse(readFileSync(join(ROOT, "node_modules", "@jupyterlab", "services", "package.json"), "utf8")) as { version: string }).version;

  const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-run-"));
  const baseEnv = cleanEnv();
  const nagleEnv = { ...baseEnv, NBREWIND_TCP_NODELAY: "0" };
  const nbPath = (n: number) => join(dir, `nb-${n}.ipynb`);
  writeNotebook(nbPath(1), 1);
  writeNotebook(nbPath(cells), cells);

  const nbrewind = (n: number, runEnv = baseEnv, quiet = true) =>
    runTimed(process.execPath, [cli.entry, "run", nbPath(n), "-o", join(dir, `nbrewind-${n}.out.ipynb`), ...(quiet ? ["-q", "--json"] : [])], runEnv, dir);
  const papermill = (n: number, extra: string[] = []) =>
    runTimed(env.python, ["-m", "papermill", nbPath(n), join(dir, `papermill-${n}.out.ipynb`), "-k", KERNEL, ...extra], baseEnv, dir);

  console.log(
    `run vs papermill: ${cells} trivial cells, kernelspec ${KERNEL} of the managed env, ${reps} reps, ${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? "?"})`,
  );
  console.log(`  nbrewind-engine built from ${cli.source}`);
  console.log(
    `  jupyter_server ${versions.jupyter_server}, @jupyterlab/services ${wsVersion}, papermill ${versions.papermill} (nbclient ${versions.nbclient}), jupyter_client ${versions.jupyter_client}, ipykernel ${versions.ipykernel}, pyzmq ${versions.pyzmq}, node ${process.versions.node}`,
  );

  try {
    // Warm the page cache and .pyc files once for each tool; not counted.
    check("nbrewind warm-up", await nbrewind(1));
    check("papermill warm-up", await papermill(1));

    const ours: ToolRuns = { wall1: [], wallN: [], clocks: [], reported: [] };
    const theirs: ToolRuns = { wall1: [], wallN: [], clocks: [], reported: [] };
    for (let r = 0; r < reps; r++) {
      // Alternate which tool goes first, so drift on a shared machine hits both alike.
      const order = r % 2 === 0 ? ["nbrewind", "papermill"] : ["papermill", "nbrewind"];
      for (const tool of order) {
        if (tool === "nbrewind") {
          ours.wall1.push(check("nbrewind run (1 cell)", await nbrewind(1)).wallMs);
          const big = check(`nbrewind run (${cells} cells)`, await nbrewind(cells));
          ours.wallN.push(big.wallMs);
          ours.clocks.push(kernelClock(notebookTimings(join(dir, `nbrewind-${cells}.out.ipynb`)).timings));
          const summary = JSON.parse(big.stdout) as { cells: { duration_s: number }[] };
          ours.reported.push(summary.cells.map((c) => c.duration_s * 1000));
        } else {
          theirs.wall1.push(check("papermill (1 cell)", await papermill(1)).wallMs);
          theirs.wallN.push(check(`papermill (${cells} cells)`, await papermill(cells)).wallMs);
          const t = notebookTimings(join(dir, `papermill-${cells}.out.ipynb`));
          theirs.clocks.push(kernelClock(t.timings));
          theirs.reported.push(t.papermillS.map((s) => s * 1000));
        }
      }
      console.error(`  rep ${r + 1}/${reps} done`);
    }

    // One run each: Nagle back on, the ZeroMQ floor, papermill's saves, start-up phases.
    const nagle = check("nbrewind run with NBREWIND_TCP_NODELAY=0", await nbrewind(cells, nagleEnv));
    const nagleClock = kernelClock(notebookTimings(join(dir, `nbrewind-${cells}.out.ipynb`)).timings);
    const floorRun = check("zmq floor", await runTimed(env.python, [join(BENCH, "zmq_floor.py"), nbPath(cells), KERNEL, String(FLOOR_PASSES)], baseEnv, dir));
    const floor = JSON.parse(floorRun.stdout) as { kernel_start_s: number; cell_ms: number[][]; timing: Record<string, string>[][] };
    const floorClocks = floor.timing.map(kernelClock);
    const floorClock: KernelClock = { busyMs: clockOf(floorClocks, "busyMs"), gapMs: clockOf(floorClocks, "gapMs"), periodMs: clockOf(floorClocks, "periodMs") };
    const floorRoundTrip = median(floor.cell_ms.flat());
    const statsPath = join(dir, "papermill-saves.json");
    check("papermill profile", await runTimed(env.python, [join(BENCH, "papermill_profile.py"), statsPath, nbPath(cells), join(dir, "papermill-profile.out.ipynb"), "-k", KERNEL], baseEnv, dir));
    const saves = JSON.parse(readFileSync(statsPath, "utf8")) as { saves: number; total_ms: number; first_ms: number; last_ms: number };
    const oursPhases = phases(check("nbrewind phases", await nbrewind(1, baseEnv, false)), [
      ["node, CLI, env check", /starting an embedded Jupyter server/],
      ["Jupyter server start", /starting kernel/],
      ["kernel start + connect", /^running /],
      // The finished-cell line: "[1/1] ok ..." or "[1/1] ran ...", never "[1/1] running:".
      ["execute 1 cell", /^\[1\/1\] (?!running:)/],
    ], "write, shutdown, exit");
    const theirsPhases = phases(check("papermill phases", await papermill(1, ["--log-output", "--no-progress-bar"])), [
      ["python, papermill import", /Input Notebook/],
      ["read, kernel start", /Executing Cell 1-/],
      ["execute 1 cell", /Ending Cell 1-/],
    ], "write, shutdown, exit");

    // ------------------------------------------------------------ report
    const perCell = (t: ToolRuns) => (median(t.wallN) - median(t.wall1)) / (cells - 1);
    const startUp = (t: ToolRuns) => median(t.wall1) - perCell(t);
    const spread = (t: ToolRuns) => {
      const each = t.wallN.map((w, i) => (w - t.wall1[i]!) / (cells - 1));
      return `${Math.min(...each).toFixed(1)}-${Math.max(...each).toFixed(1)}`;
    };
    const reportedOf = (t: ToolRuns) => median(t.reported.map((r) => median(r)));
    const ourPerCell = perCell(ours);
    const theirPerCell = perCell(theirs);
    const naglePerCell = (nagle.wallMs - median(ours.wall1)) / (cells - 1);
    const ratio = ourPerCell / theirPerCell;
    // The same quantity measured without start-up in it: the kernel's busy-to-busy period.
    const ourPeriod = clockOf(ours.clocks, "periodMs");
    const theirPeriod = clockOf(theirs.clocks, "periodMs");
    const periodRatio = ourPeriod / theirPeriod;
    // The wall estimate divides a difference of ~0.5 s by 49. When start-up alone
    // varied across reps by more than that whole difference (a busy shared
    // machine), or the difference came out at or below zero, the wall ratio is
    // noise: the verdict then rests on the kernel clock, and the output says so.
    const jitterMs = Math.max(...ours.wall1, ...theirs.wall1) - Math.min(...ours.wall1, ...theirs.wall1);
    const signalMs = (cells - 1) * Math.min(ourPerCell, theirPerCell);
    const wallUsable = ourPerCell > 0 && theirPerCell > 0 && jitterMs < signalMs;
    const met = (wallUsable ? ratio : periodRatio) <= TARGET_RATIO;

    const rows: string[][] = [
      ["", "wall 1 cell", `wall ${cells} cells`, "start-up", "per cell", "(per rep)", "reported/cell", "busy->idle", "idle->busy", "period"],
      [
        "nbrewind run",
        sec(median(ours.wall1)),
        sec(median(ours.wallN)),
        sec(startUp(ours)),
        ms(ourPerCell),
        spread(ours),
        ms(reportedOf(ours)),
        ms(clockOf(ours.clocks, "busyMs")),
        ms(clockOf(ours.clocks, "gapMs")),
        ms(clockOf(ours.clocks, "periodMs")),
      ],
      [
        "papermill",
        sec(median(theirs.wall1)),
        sec(median(theirs.wallN)),
        sec(startUp(theirs)),
        ms(theirPerCell),
        spread(theirs),
        ms(reportedOf(theirs)),
        ms(clockOf(theirs.clocks, "busyMs")),
        ms(clockOf(theirs.clocks, "gapMs")),
        ms(clockOf(theirs.clocks, "periodMs")),
      ],
      ["nbrewind, Nagle on (1 run)†", "", sec(nagle.wallMs), "", ms(naglePerCell), "", "", ms(nagleClock.busyMs), ms(nagleClock.gapMs), ms(nagleClock.periodMs)],
      [
        `jupyter_client/ZMQ (${FLOOR_PASSES} passes)`,
        "",
        "",
        `${floor.kernel_start_s.toFixed(2)} s*`,
        ms(floorRoundTrip),
        "",
        "",
        ms(floorClock.busyMs),
        ms(floorClock.gapMs),
        ms(floorClock.periodMs),
      ],
    ];
    console.log("");
    printTable(rows);
    console.log("");
    console.log("  per cell      = (wall N cells - wall 1 cell) / (N - 1), medians over reps; ZMQ: median execute_interactive round trip");
    console.log("  †             = one N-cell run against the median 1-cell wall above: a single run, so trust its kernel clock more");
    console.log("  reported/cell = median per-cell duration the tool reports (nbrewind --json duration_s: request -> reply+idle;");
    console.log("                  papermill metadata.papermill.duration: cell start -> complete, includes one notebook save)");
    console.log("  busy->idle, idle->busy (next cell), period = kernel-clock medians from cell.metadata.execution, same code for all");
    console.log("  * ZMQ start-up is kernel start only (no server, no notebook, no shutdown)");
    console.log("");
    console.log(`  start-up, nbrewind:  ${oursPhases.map(([n, d]) => `${n} ${sec(d)}`).join(" | ")}`);
    console.log(`  start-up, papermill: ${theirsPhases.map(([n, d]) => `${n} ${sec(d)}`).join(" | ")}`);
    console.log(
      `  papermill notebook saves (${cells} cells, 1 run): ${saves.saves} saves, ${saves.total_ms.toFixed(0)} ms in all = ${ms(saves.total_ms / cells)} per cell; ` +
        `one save ${ms(saves.first_ms)} at the start, ${ms(saves.last_ms)} at the end (grows with the notebook)`,
    );
    console.log(
      `  Nagle fix (NBREWIND_TCP_NODELAY=0 -> default): kernel-clock period ${ms(nagleClock.periodMs)} -> ${ms(clockOf(ours.clocks, "periodMs"))} per cell ` +
        `(idle->next busy ${ms(nagleClock.gapMs)} -> ${ms(clockOf(ours.clocks, "gapMs"))}); wall estimate ${ms(naglePerCell)} -> ${ms(ourPerCell)}`,
    );
    console.log(
      `  residual vs ZeroMQ floor: kernel-clock period ${ms(clockOf(ours.clocks, "periodMs"))} vs ${ms(floorClock.periodMs)} ` +
        `(${signed(clockOf(ours.clocks, "periodMs") - floorClock.periodMs)}); client round trip per cell ${ms(reportedOf(ours))} vs ${ms(floorRoundTrip)} (${signed(reportedOf(ours) - floorRoundTrip)})`,
    );
    console.log("");
    console.log(`cross-check, kernel clock (no start-up in it): nbrewind ${ms(ourPeriod)}, papermill ${ms(theirPeriod)} per cell -> ratio ${periodRatio.toFixed(2)}`);
    const verdict =
      `target <= ${TARGET_RATIO.toFixed(1)}: ${met ? "met" : "NOT met"}` +
      (wallUsable ? "" : `; start-up varied by ${sec(jitterMs)} across reps, more than the ${cells - 1}-cell difference, so the verdict is from the kernel clock`);
    console.log(`per-cell overhead: nbrewind ${ms(ourPerCell)}, papermill ${ms(theirPerCell)} -> ratio ${ratio.toFixed(2)} (${verdict})`);
    console.log(`(bench took ${sec(performance.now() - benchStarted)})`);

    const results = {
      generated_at: new Date().toISOString(),
      cells,
      reps,
      source: cli.source,
      cores: availableParallelism(),
      versions: { ...versions, "@jupyterlab/services": wsVersion, node: process.versions.node },
      target_ratio: TARGET_RATIO,
      ratio,
      kernel_clock_ratio: periodRatio,
      start_up_jitter_ms: jitterMs,
      verdict_from: wallUsable ? "wall" : "kernel_clock",
      target_met: met,
      nbrewind: summarise(ours, ourPerCell, startUp(ours), oursPhases),
      papermill: { ...summarise(theirs, theirPerCell, startUp(theirs), theirsPhases), saves },
      nbrewind_nagle_on: { wall_n_ms: nagle.wallMs, per_cell_ms: naglePerCell, kernel_clock: nagleClock },
      zmq_floor: { kernel_start_s: floor.kernel_start_s, passes: FLOOR_PASSES, round_trip_ms: floorRoundTrip, cell_ms: floor.cell_ms, kernel_clock: floorClock },
    };
    const resultsPath = writeResults("run-vs-papermill.json", results);
    console.log(`(numbers written to ${resultsPath})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarise(t: ToolRuns, perCellMs: number, startUpMs: number, phaseList: [string, number][]) {
  return {
    wall_1_ms: t.wall1,
    wall_n_ms: t.wallN,
    per_cell_ms: perCellMs,
    start_up_ms: startUpMs,
    reported_cell_ms_median: t.reported.map((r) => median(r)),
    kernel_clock: t.clocks,
    start_up_phases_ms: Object.fromEntries(phaseList),
  };
}

await main();
