import { cpSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";

/**
 * A notebook whose values hold absolute paths into its folder, recorded in
 * folder A and repeated in a copy B (a moved project, an unpacked bundle):
 * restored in B, such a value would point back at A, and the cells after it
 * would read A's files and print A's numbers. Found by bench:corpus on
 * dask-examples' bag notebook (its data-file edit printed the old top-10).
 */
const cells: CellSpec[] = [
  { id: "where", source: "# cell:where\nimport os\ndata_path = os.path.abspath('data/in.txt')" },
  { id: "base", source: "# cell:base\nimport pathlib\nbase = pathlib.Path.cwd() / 'data'" },
  { id: "relative", source: "# cell:relative\nrel = 'data/in.txt'\nsize = len(rel)" },
  { id: "read", source: "# cell:read\nwith open(data_path) as f:\n    text = f.read()\nprint('text', text)" },
  { id: "listing", source: "# cell:listing\nprint('listing', sorted(p.name for p in base.iterdir()))" },
  {
    id: "tasks",
    source: [
      "# cell:tasks",
      "import dask",
      "@dask.delayed",
      "def out_file():",
      "    import os",
      "    return os.path.abspath('out.txt')",
      "@dask.delayed",
      "def count(n):",
      "    return n * 2",
      "out_path, doubled = dask.compute(out_file(), count(size), scheduler='threads')",
      "print('out', out_path, doubled)",
    ].join("\n"),
  },
];

const root = tempDir("nbrewind-moved-");
const folderA = join(root, "A");
const counter = new KernelCounter(root);

async function repeat(dir: string): Promise<{ executed: string[]; stderr: string; notebook: any }> {
  counter.reset();
  const res = await runCli(["repeat", join(dir, "nb.ipynb"), "-o", join(dir, "repeat.ipynb"), "--explain"], { env: counter.env });
  expect(res.code, res.stderr).toBe(0);
  return { executed: counter.executed().map((l) => l.replace(/^# cell:/, "")), stderr: res.stderr, notebook: readJson(join(dir, "repeat.ipynb")) };
}

const cellOf = (nb: any, id: string) => nb.cells.find((c: any) => c.id === id);

beforeAll(async () => {
  mkdirSync(join(folderA, "data"), { recursive: true });
  // A team cache above both folders: what it holds is served to any notebook, in any folder.
  writeFileSync(join(root, "nbrewind.yaml"), "cache:\n  dir: ./team-cache\n");
  writeFileSync(join(folderA, "data", "in.txt"), "alpha");
  writeNotebookFile(folderA, "nb.ipynb", cells);
  const res = await runCli(["audit", join(folderA, "nb.ipynb"), "-q"], { env: counter.env });
  expect(res.code, res.stderr).toBe(0);
});

describe("a notebook moved to another folder", () => {
  it("records which values and task results hold a path into the folder, and the folder", () => {
    const dir = join(folderA, "nb.nbrewind", "cells");
    const records = readdirSync(dir).map((f) => readJson(join(dir, f)));
    const byId = new Map(records.map((r: any) => [r.cell_id, r]));
    expect(byId.get("where").writes.find((w: any) => w.name === "data_path")).toMatchObject({ holds_path: true });
    expect(byId.get("where").folder).toBe(folderA);
    expect(byId.get("base").writes.find((w: any) => w.name === "base")).toMatchObject({ holds_path: true });
    // A relative path is right in any folder.
    expect(byId.get("relative").writes.some((w: any) => w.holds_path)).toBe(false);
    expect(byId.get("relative").folder).toBeUndefined();
    const tasks = byId.get("tasks").tasks;
    expect(tasks.filter((t: any) => t.holds_path).map((t: any) => t.function)).toEqual([expect.stringContaining("out_file")]);
  });

  it("does not publish a result holding the folder's path to a shared task cache", async () => {
    const ls = await runCli(["cache", "ls", "--json"], { cwd: root });
    expect(ls.code, ls.stderr).toBe(0);
    const functions = JSON.parse(ls.stdout).entries.map((e: any) => e.function);
    expect(functions).toEqual([expect.stringContaining("count")]);
  });

  it("in its own folder, nothing runs again", async () => {
    expect((await repeat(folderA)).executed).toEqual([]);
  });

  it("in a copy whose data changed, the cells holding the old folder's paths and their readers run, and print this folder's data", async () => {
    const folderB = join(root, "B");
    cpSync(folderA, folderB, { recursive: true });
    writeFileSync(join(folderB, "data", "in.txt"), "bravo");
    writeFileSync(join(folderB, "data", "extra.txt"), "new");

    const first = await repeat(folderB);
    expect(first.executed).toEqual(["where", "base", "read", "listing", "tasks"]);
    const reason = (id: string) => cellOf(first.notebook, id).metadata.nbrewind.reason;
    expect(reason("where")).toBe(`\`data_path\` holds a path into the folder it was recorded in (${folderA}), not this one`);
    expect(reason("read")).toBe("reads `data/in.txt`, which changed since it was recorded");
    expect(reason("listing")).toBe("reads `base` from cell 2, which runs because it holds a path into the folder it was recorded in");
    expect(cellOf(first.notebook, "relative").metadata.nbrewind.decision).toBe("reused");
    expect(first.stderr).toContain("1 × out_file dispatched because its recorded result holds a path into the folder it was recorded in, not this one");
    expect(outputText(cellOf(first.notebook, "read"))).toBe("text bravo\n");
    expect(outputText(cellOf(first.notebook, "listing"))).toBe("listing ['extra.txt', 'in.txt']\n");
    // The task that returned a path into A runs again; the other one is served.
    expect(outputText(cellOf(first.notebook, "tasks"))).toBe(`out ${join(folderB, "out.txt")} 22\n`);
    expect(cellOf(first.notebook, "tasks").metadata.nbrewind.tasks).toMatchObject({ total: 2, served: 1, dispatched: 1 });

    // Recorded again in B: B's own repeat reuses everything, and A is untouched.
    expect((await repeat(folderB)).executed).toEqual([]);
    expect((await repeat(folderA)).executed).toEqual([]);
  });
});
