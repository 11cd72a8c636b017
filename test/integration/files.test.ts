import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";

/**
 * Files are inputs and outputs, with the libraries users read and write them
 * with: a one-byte change to a data file re-runs exactly the cells that read
 * it (counted kernel-side), and files written by reused cells come back.
 */
const cells: CellSpec[] = [
  { id: "open", source: "# cell:open\nwith open('data/in.txt') as f:\n    text = f.read()\nwith open('run.log', 'a') as log:\n    log.write('open\\n')" },
  {
    id: "pathlib",
    source: "# cell:pathlib\nimport pathlib\nwords = pathlib.Path('data/words.txt').read_text().split()\npathlib.Path('results').mkdir(exist_ok=True)\npathlib.Path('results/words.txt').write_text(' '.join(sorted(words)))",
  },
  { id: "pandas", source: "# cell:pandas\nimport pandas as pd\ndf = pd.read_csv('data/table.csv')\ndf.assign(c=df.a * 2).to_csv('results/table2.csv', index=False)" },
  { id: "numpy", source: "# cell:numpy\nimport numpy as np\narr = np.load('data/arr.npy')\nnp.save('results/double.npy', arr * 2)" },
  {
    id: "matplotlib",
    source:
      "# cell:matplotlib\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot(arr)\nfig.savefig('results/plot.png', metadata={'Software': None})\nplt.close(fig)\nprint('plotted', len(arr))",
  },
  { id: "later", source: "# cell:later\nimport pandas as pd\nprint('c sum', pd.read_csv('results/table2.csv').c.sum())\nwith open('run.log', 'a') as trail:\n    trail.write('later\\n')" },
  { id: "text", source: "# cell:text\nprint('text', repr(text))" },
  { id: "h5", source: "# cell:h5\n# nbrewind: reads data/*.h5\nimport h5py\nwith h5py.File('data/m.h5', 'r') as h5:\n    total = float(h5['x'][()].sum())\nprint('h5 total', total)" },
];

const root = tempDir("nbrewind-files-");
const template = join(root, "template");
const counter = new KernelCounter(root);
const python = () => process.env.NBREWIND_TEST_PYTHON!;

function writeData(dir: string): void {
  execFileSync(python(), [
    "-c",
    [
      "import os, sys, numpy as np, h5py",
      "d = os.path.join(sys.argv[1], 'data'); os.makedirs(d, exist_ok=True)",
      "open(os.path.join(d, 'in.txt'), 'w').write('hello')",
      "open(os.path.join(d, 'words.txt'), 'w').write('pear apple fig')",
      "open(os.path.join(d, 'table.csv'), 'w').write('a,b\\n1,2\\n3,4\\n')",
      "np.save(os.path.join(d, 'arr.npy'), np.arange(5))",
      "f = h5py.File(os.path.join(d, 'm.h5'), 'w'); f['x'] = np.arange(4.0); f.close()",
    ].join("\n"),
    dir,
  ]);
}

/** Change one byte of a file, as an editor would (same size). */
function flipByte(path: string, offset = -1): void {
  const data = readFileSync(path);
  const i = offset < 0 ? data.length + offset : offset;
  data[i] = data[i]! ^ 0x01;
  writeFileSync(path, data);
}

function resultFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, "results")).sort()) out[name] = readFileSync(join(dir, "results", name)).toString("base64");
  return out;
}

async function repeat(dir: string, extra: string[] = []): Promise<{ executed: string[]; summary: any; stderr: string }> {
  counter.reset();
  const res = await runCli(["repeat", join(dir, "nb.ipynb"), "-o", join(dir, "repeat.ipynb"), "--json", "--explain", "--trust", ...extra], { env: counter.env });
  expect(res.code, res.stderr).toBe(0);
  expect(res.survivors).toEqual([]);
  return { executed: counter.executed().map((l) => l.replace(/^# cell:/, "")), summary: JSON.parse(res.stdout), stderr: res.stderr };
}

function copyOfTemplate(name: string): string {
  const dir = join(root, name);
  cpSync(template, dir, { recursive: true });
  return dir;
}

let audited: Record<string, string>;

beforeAll(async () => {
  writeData(template);
  writeNotebookFile(template, "nb.ipynb", cells);
  const res = await runCli(["audit", join(template, "nb.ipynb"), "-q"], { env: counter.env });
  expect(res.code, res.stderr).toBe(0);
  audited = resultFiles(template);
});

describe("files as inputs", () => {
  it("records what each cell read and wrote, relative to the notebook's folder, with declared reads", () => {
    const records = readdirSync(join(template, "nb.nbrewind", "cells")).map((f) => readJson(join(template, "nb.nbrewind", "cells", f)));
    const byId = new Map(records.map((r: any) => [r.cell_id, r.files]));
    const paths = (id: string, kind: "read" | "written") => byId.get(id)[kind].map((f: any) => f.path);
    expect(paths("open", "read")).toEqual(["data/in.txt"]);
    expect(byId.get("open").written).toEqual([expect.objectContaining({ path: "run.log", appended: true })]);
    expect(paths("pathlib", "read")).toEqual(["data/words.txt"]);
    expect(paths("pathlib", "written")).toEqual(["results/words.txt"]);
    expect(paths("pandas", "read")).toEqual(["data/table.csv"]);
    expect(paths("pandas", "written")).toEqual(["results/table2.csv"]);
    expect(paths("numpy", "read")).toEqual(["data/arr.npy"]);
    expect(paths("numpy", "written")).toEqual(["results/double.npy"]);
    expect(paths("matplotlib", "written")).toEqual(["results/plot.png"]);
    expect(paths("later", "read")).toEqual(["results/table2.csv"]);
    // h5py opens the file from C, unseen by the audit hook: the pragma declares it.
    expect(byId.get("h5").read).toEqual([expect.objectContaining({ path: "data/m.h5", declared: true })]);
    const written = byId.get("pandas").written[0];
    expect(written).toMatchObject({ blob: true, size: expect.any(Number), mtime_ns: expect.stringMatching(/^\d+$/), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });

  it("a one-byte change re-runs exactly the cells that read the file, each in turn, and the outputs equal a fresh run", async () => {
    const dir = copyOfTemplate("chain");
    const logBefore = readFileSync(join(dir, "run.log"), "utf8");

    // Nothing changed: every cell is reused, although two of them append to a log.
    expect((await repeat(dir)).executed).toEqual([]);
    expect(readFileSync(join(dir, "run.log"), "utf8")).toBe(logBefore);

    flipByte(join(dir, "data", "in.txt"));
    const first = await repeat(dir);
    // `text` reads the value the re-run cell made.
    expect(first.executed).toEqual(["open", "text"]);
    expect(first.stderr).toContain("reads `data/in.txt`, which changed since it was recorded");
    const meta = readJson(join(dir, "repeat.ipynb")).cells[0].metadata.nbrewind;
    expect(meta.reason).toBe("reads `data/in.txt`, which changed since it was recorded");
    // The log the re-run cell appended to is not rewound by the reused cells after it.
    expect(readFileSync(join(dir, "run.log"), "utf8")).toBe(logBefore + "open\n");

    flipByte(join(dir, "data", "table.csv"), 4);
    // `later` reads what `pandas` writes in this run, not what was on disk.
    expect((await repeat(dir)).executed).toEqual(["pandas", "later"]);

    flipByte(join(dir, "data", "arr.npy"));
    expect((await repeat(dir)).executed).toEqual(["numpy", "matplotlib"]);

    execFileSync(python(), ["-c", "import h5py, numpy as np, sys\nf = h5py.File(sys.argv[1], 'r+'); f['x'][0] = 10.0; f.close()", join(dir, "data", "m.h5")]);
    expect((await repeat(dir)).executed).toEqual(["h5"]);

    const fresh = copyOfTemplate("fresh");
    for (const f of ["in.txt", "table.csv", "arr.npy", "m.h5"]) cpSync(join(dir, "data", f), join(fresh, "data", f));
    rmSync(join(fresh, "results"), { recursive: true });
    const full = await runCli(["run", join(fresh, "nb.ipynb"), "-o", join(fresh, "full.ipynb"), "-q"]);
    expect(full.code, full.stderr).toBe(0);
    const text = (p: string) => readJson(p).cells.map((c: any) => [c.id, outputText(c)]);
    expect(text(join(dir, "repeat.ipynb"))).toEqual(text(join(fresh, "full.ipynb")));
    expect(resultFiles(dir)).toEqual(resultFiles(fresh));
  }, 360_000); // six CLI runs in a row: over the default 180 s on a loaded machine

  it("a read file that is missing makes its cell run, with its own reason", async () => {
    const dir = copyOfTemplate("missing");
    rmSync(join(dir, "data", "words.txt"));
    const res = await runCli(["plan", join(dir, "nb.ipynb"), "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const plan = JSON.parse(res.stdout);
    const cell = plan.cells.find((c: any) => c.id === "pathlib");
    expect(cell.decision).toBe("run");
    expect(cell.reasons[0]).toBe("reads `data/words.txt`, which is missing");
    expect(plan.cells.filter((c: any) => c.decision === "run").map((c: any) => c.id)).toEqual(["pathlib"]);
  });
});

describe("a file read before a later cell overwrites it", () => {
  // `load` reads a state file that `save`, later, overwrites from the value `load` read (a counter, a cache
  // refreshed in place); `stamp` overwrites a file `peek` read before it, from nothing `peek` computed; `after`
  // reads the state file once `save` wrote it.
  const stateCells: CellSpec[] = [
    { id: "load", source: "# cell:load\nstate = int(open('state.txt').read())\npeek = open('stamp.txt').read()\nprint('state', state, peek)" },
    { id: "save", source: "# cell:save\nwith open('state.txt', 'w') as f:\n    f.write(str(state + 1))" },
    { id: "stamp", source: "# cell:stamp\nwith open('stamp.txt', 'w') as f:\n    f.write('v1')" },
    { id: "after", source: "# cell:after\nprint('after', open('state.txt').read())" },
  ];
  let dir: string;
  const read = (name: string) => readFileSync(join(dir, name), "utf8");
  const printed = () => readJson(join(dir, "repeat.ipynb")).cells.map((c: any) => outputText(c).trim());

  beforeAll(async () => {
    dir = join(root, "overwritten");
    mkdirSync(dir);
    writeNotebookFile(dir, "nb.ipynb", stateCells);
    writeFileSync(join(dir, "state.txt"), "0");
    writeFileSync(join(dir, "stamp.txt"), "v0");
    const res = await runCli(["audit", join(dir, "nb.ipynb"), "-q"], { env: counter.env });
    expect(res.code, res.stderr).toBe(0);
    expect([read("state.txt"), read("stamp.txt")]).toEqual(["1", "v1"]);
  });

  it("is judged by what it held before the run: repeating an unchanged notebook reuses every cell, again and again", async () => {
    for (let i = 0; i < 2; i++) {
      expect((await repeat(dir)).executed).toEqual([]);
      expect([read("state.txt"), read("stamp.txt")]).toEqual(["1", "v1"]);
      expect(printed()).toEqual(["state 0 v0", "", "", "after 1"]);
    }
  });

  it("a change by the user between runs re-runs the reader and what depends on it, and the next repeat reuses them", async () => {
    writeFileSync(join(dir, "state.txt"), "5");
    const { executed, stderr } = await repeat(dir);
    // `stamp` does not depend on `load`: reused, and the file it wrote is put back over the recorded one.
    expect(executed).toEqual(["load", "save", "after"]);
    expect(stderr).toContain("reads `state.txt`, which changed since it was recorded");
    expect([read("state.txt"), read("stamp.txt")]).toEqual(["6", "v1"]);
    expect(printed()).toEqual(["state 5 v1", "", "", "after 6"]);
    expect((await repeat(dir)).executed).toEqual([]);
    expect(read("state.txt")).toBe("6");
  });
});

describe("files as outputs", () => {
  it("files written by reused cells are put back, with the recorded content, without running anything", async () => {
    const dir = copyOfTemplate("restore");
    rmSync(join(dir, "results"), { recursive: true });
    writeFileSync(join(dir, "data", "unrelated.txt"), "x");
    const { executed, summary } = await repeat(dir);
    expect(executed).toEqual([]);
    expect(summary.counts.restored_files).toBe(4);
    expect(resultFiles(dir)).toEqual(audited);
  });

  for (const bad of ["../x", "/etc/x"]) {
    it(`a record naming \`${bad}\` as written is refused, and nothing is written outside the folder`, async () => {
      const dir = copyOfTemplate(`bad-${bad.replace(/\W/g, "")}`);
      const cellsDir = join(dir, "nb.nbrewind", "cells");
      const file = readdirSync(cellsDir).map((f) => join(cellsDir, f)).find((p) => readJson(p).cell_id === "pandas")!;
      const record = readJson(file);
      record.files.written[0].path = bad;
      writeFileSync(file, JSON.stringify(record));
      rmSync(join(dir, "results"), { recursive: true });
      const res = await runCli(["repeat", join(dir, "nb.ipynb"), "--trust", "-q"]);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(`files.written[0].path \`${bad}\``);
      expect(res.stderr).toContain(file.slice(dir.length + "/nb.nbrewind/".length));
      expect(existsSync(join(root, "x"))).toBe(false);
      expect(existsSync(join(dir, "results"))).toBe(false);
    });
  }
});

describe("files at another site", () => {
  let withInputs: string;
  let withoutInputs: string;

  beforeAll(async () => {
    withInputs = join(root, "with-inputs.tgz");
    withoutInputs = join(root, "without-inputs.tgz");
    const a = await runCli(["pack", join(template, "nb.ipynb"), "-o", withInputs, "--inputs", "--json"]);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).inputs).toEqual({ packed: ["data/arr.npy", "data/in.txt", "data/m.h5", "data/table.csv", "data/words.txt"], absent: [] });
    const b = await runCli(["pack", join(template, "nb.ipynb"), "-o", withoutInputs, "-q"]);
    expect(b.code, b.stderr).toBe(0);
  });

  it("pack --inputs carries the data files; verify checks them; replay elsewhere reuses every cell and writes back every written file", async () => {
    const verify = await runCli(["verify", withInputs]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const b = join(root, "site-b");
    const res = await runCli(["replay", withInputs, "-C", b, "--check", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(summary.cells).toMatchObject({ total: cells.length, reused: cells.length, run: 0 });
    expect(summary.inputs).toEqual({ placed: ["data/arr.npy", "data/in.txt", "data/m.h5", "data/table.csv", "data/words.txt"], missing: [], different: [] });
    expect(resultFiles(b)).toEqual(audited);
  });

  it("with --inputs, an input that differs at the new site is reported before any cell runs, and the cells reading it run", async () => {
    const b = join(root, "site-b-changed");
    writeData(b);
    flipByte(join(b, "data", "in.txt"));
    counter.reset();
    const res = await runCli(["replay", withInputs, "-C", b, "--json"], { env: counter.env });
    expect(res.code, res.stderr).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(summary.inputs).toEqual({ placed: [], missing: [], different: ["data/in.txt"] });
    expect(res.stderr).toMatch(/data\/in\.txt: different/);
    expect(res.stderr.indexOf("data/in.txt: different")).toBeLessThan(res.stderr.indexOf("running"));
    expect(counter.executed().map((l) => l.replace(/^# cell:/, ""))).toEqual(["open", "text"]);
  });

  it("without --inputs, replay lists the recorded inputs missing at the new site before any cell runs", async () => {
    const b = join(root, "site-b-bare");
    const res = await runCli(["replay", withoutInputs, "-C", b, "--json"]);
    const summary = JSON.parse(res.stdout);
    expect(summary.inputs.missing).toEqual(["data/arr.npy", "data/in.txt", "data/m.h5", "data/table.csv", "data/words.txt"]);
    expect(res.stderr).toContain("5 recorded input file(s) are missing or different here");
    expect(res.stderr.indexOf("data/words.txt: missing")).toBeLessThan(res.stderr.indexOf("running"));
  });
});
