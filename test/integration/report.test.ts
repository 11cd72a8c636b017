import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schemaProblems } from "../../src/bundle/schemas.js";
import { makeReportBundle } from "../../bench/lib/report-bundle.js";
import { readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";

/**
 * The report of a real Dask run, looked at in a real browser: a notebook is
 * audited, a parameter changed, and the repeat writes its report (--report).
 * Headless Chromium (Debian's, installed by scripts/browser.sh) opens the
 * page from disk, and the test reads the page as a person would see it:
 * every code cell with the decision the run made, the task counts the
 * bundle's records hold, one graph node per code cell. A screenshot is kept
 * under test-output/report/ (the README's picture comes from it).
 */
const repoRoot = join(import.meta.dirname, "..", "..");
const outDir = join(repoRoot, "test-output", "report");
const work = tempDir("nbrewind-report-");
const env = { NBREWIND_CONFIG_DIR: join(work, "config") };

const cells: CellSpec[] = [
  { id: "intro", type: "markdown", source: "# Pairwise sums\nA small map-reduce on Dask's threaded scheduler." },
  { id: "params", source: "scale = 3\nn = 40", tags: ["parameters"] },
  { id: "imports", source: "import dask\nfrom dask import delayed" },
  {
    id: "funcs",
    source: ["def leaf(i, s):", "    return i * s", "def pair(a, b):", "    return a + b", "def total(xs):", "    return sum(xs)"].join("\n"),
  },
  { id: "offset", source: "offset = 1000" },
  {
    id: "compute",
    source: [
      "leaves = [delayed(leaf)(i, scale) for i in range(n)]",
      "pairs = [delayed(pair)(leaves[2 * k], leaves[2 * k + 1]) for k in range(n // 2)]",
      "(result,) = dask.compute(delayed(total)(pairs), scheduler='threads')",
    ].join("\n"),
  },
  { id: "show", source: "print('result', result + offset)" },
];

let browser: Browser;
let page: Page;
let nbPath: string;
let outputNb: any;
let bundleDir: string;

function chromium(): string {
  return execFileSync("bash", [join(repoRoot, "scripts", "browser.sh")], { encoding: "utf8" }).trim();
}

async function openPage(file: string): Promise<Page> {
  const p = await browser.newPage();
  await p.setViewport({ width: 1280, height: 900 });
  await p.goto(`file://${file}`, { waitUntil: "load" });
  return p;
}

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  nbPath = writeNotebookFile(work, "pairs.ipynb", cells);
  const audit = await runCli(["audit", nbPath, "-q"], { cwd: work, env });
  expect(audit.code, audit.stderr).toBe(0);
  const repeat = await runCli(["repeat", nbPath, "-q", "-p", "scale", "4", "--report"], { cwd: work, env });
  expect(repeat.code, repeat.stderr).toBe(0);
  expect(repeat.stderr).toContain(`report: ${join(work, "pairs.report.html")}`);
  outputNb = readJson(join(work, "pairs.out.ipynb"));
  bundleDir = join(work, "pairs.nbrewind");
  browser = await puppeteer.launch({ executablePath: chromium(), headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
  page = await openPage(join(work, "pairs.report.html"));
});

afterAll(async () => {
  await browser?.close();
});

describe("report of a Dask notebook after a repeat", () => {
  it("shows every code cell with the decision the repeat made", async () => {
    const rows = await page.$$eval("table.timeline tr.cell", (trs) => trs.map((tr) => ({ id: tr.getAttribute("data-cell-id"), outcome: tr.getAttribute("data-outcome") })));
    const codeCells = outputNb.cells.filter((c: any) => c.cell_type === "code");
    expect(rows.map((r) => r.id)).toEqual(codeCells.map((c: any) => c.id));
    for (const c of codeCells) {
      const row = rows.find((r) => r.id === c.id)!;
      const decision = c.metadata.nbrewind.decision;
      // "restored" is a reused cell whose values a running cell loaded.
      expect(decision === "reused" ? ["reused", "restored"] : ["ran"], `cell ${c.id}`).toContain(row.outcome);
    }
    // The parameter change reaches exactly the compute cell and what reads its result.
    const outcome = Object.fromEntries(rows.map((r) => [r.id, r.outcome]));
    expect(outcome.compute).toBe("ran");
    expect(outcome.show).toBe("ran");
    expect(["reused", "restored"]).toContain(outcome.funcs);
    expect(["reused", "restored"]).toContain(outcome.offset);
  });

  it("counts tasks as the bundle's records hold them", async () => {
    const compute = outputNb.cells.find((c: any) => c.id === "compute");
    const record = readJson(join(bundleDir, "cells", `${compute.metadata.nbrewind.fingerprint}.json`));
    const own = record.tasks.filter((t: any) => !t.cell_id || t.cell_id === "compute");
    const served = own.filter((t: any) => t.status === "hit").length;
    const shown = await page.$eval(`.taskcell[data-cell-id="compute"]`, (el) => ({
      total: Number(el.getAttribute("data-tasks-total")),
      served: Number(el.getAttribute("data-tasks-served")),
      dispatched: Number(el.getAttribute("data-tasks-dispatched")),
    }));
    expect(shown).toEqual({ total: own.length, served, dispatched: own.length - served });
    // scale changed: every leaf, pair and the total ran again; nothing could be served.
    expect(shown.total).toBe(40 + 20 + 1);
    // The table by function is built from the page's embedded data when the cell's <details> is open (a short run's are).
    await page.waitForSelector(`.taskcell[data-cell-id="compute"] tr[data-function]`);
    const functions = await page.$$eval(`.taskcell[data-cell-id="compute"] tr[data-function]`, (trs) =>
      trs.map((tr) => [tr.getAttribute("data-function")?.split(".").pop(), [...tr.children].slice(1).map((td) => Number(td.textContent))]),
    );
    // submitted, served, dispatched, uncached, failed per function, as the record's tasks say.
    const expected = Object.fromEntries(
      ["leaf", "pair", "total"].map((fn) => {
        const mine = own.filter((t: any) => t.function.split(".").pop() === fn);
        const count = (status: string) => mine.filter((t: any) => t.status === status).length;
        return [fn, [mine.length, count("hit"), mine.length - count("hit"), count("uncached"), count("failed")]];
      }),
    );
    expect(Object.fromEntries(functions)).toEqual(expected);
    expect(expected.leaf![0]).toBe(40);
    expect(await page.$eval(`.taskcell[data-cell-id="compute"] tr.because`, (el) => el.textContent)).toMatch(/leaf/);
    // The task graph comes with it: one node per task of the cell.
    await page.click(`.taskcell[data-cell-id="compute"] details.picture > summary`);
    expect(await page.$$eval(`.taskcell[data-cell-id="compute"] svg.task-graph g.node`, (gs) => gs.length)).toBe(own.length);
  });

  it("draws the data-flow graph with one node per code cell", async () => {
    const nodes = await page.$$eval("svg.cell-graph g.node", (gs) => gs.map((g) => g.getAttribute("data-node-id")));
    const codeIds = outputNb.cells.filter((c: any) => c.cell_type === "code").map((c: any) => c.id);
    expect(nodes.sort()).toEqual([...codeIds].sort());
    // compute reads n from the parameters cell and scale from the cell `-p` injected after it: the edges say so.
    const injected = outputNb.cells.find((c: any) => c.metadata.tags?.includes("injected-parameters"));
    const edgeLabel = (from: string) => page.$eval(`svg.cell-graph g.edge[data-to="compute"][data-from="${from}"] title`, (t) => t.textContent);
    expect(await edgeLabel("params")).toBe("n");
    expect(await edgeLabel(injected.id)).toBe("scale");
  });

  it("compares the two runs: which cells changed decision", async () => {
    const changed = await page.$$eval("#compare-rows tr[data-cell-id]", (trs) => trs.map((tr) => [tr.getAttribute("data-cell-id"), tr.children[1]!.textContent, tr.children[2]!.textContent]));
    // The audit ran everything; the repeat reused the cells the parameter does not reach.
    expect(changed.map(([id]) => id)).toContain("funcs");
    for (const [id, before, after] of changed) {
      if (id === "compute" || id === "show") throw new Error(`${id} ran in both runs, but is listed as changed`);
      // The injected parameters cell is new in the repeat; every other change is ran -> reused.
      expect([before, after], String(id)).toEqual(before === "absent" ? ["absent", "ran"] : ["ran", expect.stringMatching(/reused|restored/)]);
    }
    // The README's picture is the top of the page (opening the task graph above scrolled it).
    await page.evaluate("window.scrollTo(0, 0)");
    await page.screenshot({ path: join(outDir, "report.png"), fullPage: false });
    expect(existsSync(join(outDir, "report.png"))).toBe(true);
  });

  it("gives the same data as JSON, valid against its schema", async () => {
    const res = await runCli(["report", nbPath, "--json"], { cwd: work, env });
    expect(res.code, res.stderr).toBe(0);
    const data = JSON.parse(res.stdout);
    expect(schemaProblems("report", data)).toEqual([]);
    expect(data.cells.map((c: any) => c.id)).toEqual(outputNb.cells.filter((c: any) => c.cell_type === "code").map((c: any) => c.id));
    expect(data.run.parameters).toEqual({ scale: 4 });
  });

  it("names a corrupt or missing record on the page and exits 1, without crashing", async () => {
    const copy = join(work, "broken");
    mkdirSync(copy);
    cpSync(nbPath, join(copy, "pairs.ipynb"));
    cpSync(bundleDir, join(copy, "pairs.nbrewind"), { recursive: true });
    const compute = outputNb.cells.find((c: any) => c.id === "compute");
    const corrupt = join(copy, "pairs.nbrewind", "cells", `${compute.metadata.nbrewind.fingerprint}.json`);
    writeFileSync(corrupt, readFileSync(corrupt, "utf8").slice(0, 100));
    const funcs = outputNb.cells.find((c: any) => c.id === "funcs");
    const missing = `${funcs.metadata.nbrewind.fingerprint}.json`;
    execFileSync("rm", [join(copy, "pairs.nbrewind", "cells", missing)]);
    const res = await runCli(["report", join(copy, "pairs.ipynb")], { cwd: copy, env });
    expect(res.code).toBe(1);
    expect(res.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    const broken = await openPage(join(copy, "pairs.report.html"));
    const problems = await broken.$eval("#problems", (el) => el.textContent ?? "");
    expect(problems).toContain(`cells/${compute.metadata.nbrewind.fingerprint}.json`);
    expect(problems).toContain("not valid JSON");
    expect(problems).toContain(`cells/${missing}`);
    // The rest of the page is still there: every code cell has its row.
    const codeCells = outputNb.cells.filter((c: any) => c.cell_type === "code").length;
    expect(await broken.$$eval("table.timeline tr.cell", (trs) => trs.length)).toBe(codeCells);
    await broken.close();
    expect(readdirSync(copy).sort()).toEqual(["pairs.ipynb", "pairs.nbrewind", "pairs.report.html"]);
  });
});

describe("report of a run too large to show whole at once", () => {
  // 250 cells, 10 tasks each: more than one timeline table, task tables closed until opened, a cell graph laid out in order.
  const big = tempDir("nbrewind-report-big-");
  let bigPage: Page;
  let bigBundle: string;
  let records: Map<string, any>;

  beforeAll(async () => {
    bigBundle = await makeReportBundle(big, 250, 2500);
    const res = await runCli(["report", join(big, "big.ipynb")], { cwd: big, env });
    expect(res.code, res.stderr).toBe(0);
    records = new Map(
      readdirSync(join(bigBundle, "cells")).map((f) => {
        const r = readJson(join(bigBundle, "cells", f));
        return [r.cell_id, r];
      }),
    );
    bigPage = await openPage(join(big, "big.report.html"));
  });

  it("shows every code cell with the decision its run logged", async () => {
    const logged = readFileSync(join(bigBundle, "logs", "run-repeat.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const expected = logged.filter((e) => e.event === "cell_recorded" || e.event === "cell_reused").map((e) => [e.cell_id, e.event === "cell_recorded" ? "ran" : "reused"]);
    const rows = await bigPage.$$eval("table.timeline tr.cell", (trs) => trs.map((tr) => [tr.getAttribute("data-cell-id"), tr.getAttribute("data-outcome")]));
    expect(expected).toHaveLength(250);
    expect(rows).toEqual(expected);
  });

  it("counts every cell's tasks as its record holds them, and builds a cell's table when it is opened", async () => {
    const shown = await bigPage.$$eval("details.taskcell", (ds) =>
      ds.map((d) => [d.getAttribute("data-cell-id"), Number(d.getAttribute("data-tasks-total")), Number(d.getAttribute("data-tasks-served")), d.hasAttribute("open"), d.querySelectorAll("tr").length]),
    );
    expect(shown.map(([id]) => id)).toEqual([...records.values()].sort((a, b) => a.index - b.index).map((r) => r.cell_id));
    for (const [id, total, served, open, rows] of shown) {
      const tasks = records.get(id as string).tasks;
      expect([total, served, open, rows], String(id)).toEqual([tasks.length, tasks.filter((t: any) => t.status === "hit").length, false, 0]);
    }
    const last = `details.taskcell[data-cell-id="cell-249"]`;
    // As a reader would: scroll to it (below the sticky navigation bar), then open it.
    await bigPage.$eval(last, (d) => d.scrollIntoView({ block: "center" }));
    await bigPage.click(`${last} > summary`);
    await bigPage.waitForSelector(`${last} tr[data-function]`);
    const byFunction = await bigPage.$$eval(`${last} tr[data-function]`, (trs) => trs.map((tr) => [tr.getAttribute("data-function"), Number(tr.children[1]!.textContent), Number(tr.children[2]!.textContent)]));
    const tasks = records.get("cell-249").tasks;
    const count = (fn: string, status?: string) => tasks.filter((t: any) => t.function === fn && (!status || t.status === status)).length;
    expect(Object.fromEntries(byFunction.map(([fn, n, hit]) => [fn, [n, hit]]))).toEqual(Object.fromEntries(["pipeline.load", "pipeline.transform", "pipeline.combine"].map((fn) => [fn, [count(fn), count(fn, "hit")]])));
  });

  it("draws the data-flow graph with one node per code cell", async () => {
    const nodes = await bigPage.$$eval("svg.cell-graph g.node", (gs) => gs.map((g) => g.getAttribute("data-node-id")));
    expect(nodes.sort()).toEqual([...records.keys()].sort());
    expect(await bigPage.$eval("svg.cell-graph", (s) => s.getAttribute("data-layout"))).toBe("order");
  });
});
