import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";

const root = tempDir("nbrewind-safety-");
const counter = new KernelCounter(root);

const cells: CellSpec[] = [
  { id: "a", source: "# cell:a\na = 1" },
  { id: "b", source: "# cell:b\nb = a + 1" },
  { id: "c", source: "# cell:c\nimport os, time\nif os.path.exists('crash.flag'): os._exit(1)\nif os.path.exists('hang.flag'): time.sleep(600)\nc = b + 1" },
  { id: "d", source: "# cell:d\nprint(a, b, c)" },
];

function blobFiles(bundle: string): string[] {
  const out: string[] = [];
  const base = join(bundle, "blobs", "sha256");
  for (const prefix of readdirSync(base)) for (const rest of readdirSync(join(base, prefix))) out.push(join(base, prefix, rest));
  return out;
}

describe("a crash loses nothing already recorded", () => {
  it("kernel killed mid-audit: repeat reuses the completed cells and runs the rest", async () => {
    const dir = join(root, "kernel-crash");
    const nb = writeNotebookFile(mkdir(dir), "nb.ipynb", cells);
    writeFileSync(join(dir, "crash.flag"), "");
    const audit = await runCli(["audit", nb, "-q"], { env: counter.env });
    expect(audit.code).toBe(3);
    expect(audit.stderr).toMatch(/kernel died/i);
    expect(audit.survivors).toEqual([]);
    rmSync(join(dir, "crash.flag"));
    counter.reset();
    const repeat = await runCli(["repeat", nb, "-o", join(dir, "out.ipynb"), "-q"], { env: counter.env });
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(counter.executed()).toEqual(["# cell:c", "# cell:d"]);
    expect(outputText(readJson(join(dir, "out.ipynb")).cells[3])).toBe("1 2 3\n");
  });

  it("nbrewind-engine itself killed (SIGKILL) mid-audit: no process survives, and repeat reuses the completed cells", async () => {
    const dir = join(root, "process-crash");
    const nb = writeNotebookFile(mkdir(dir), "nb.ipynb", cells);
    writeFileSync(join(dir, "hang.flag"), "");
    const audit = await runCli(["audit", nb], {
      env: counter.env,
      onSpawn: (child, output) => {
        const poll = setInterval(() => {
          if (output.stderr().includes("[3/4] running")) {
            clearInterval(poll);
            setTimeout(() => child.kill("SIGKILL"), 500);
          }
        }, 100);
      },
    });
    expect(audit.signal).toBe("SIGKILL");
    expect(audit.survivors).toEqual([]);
    rmSync(join(dir, "hang.flag"));
    counter.reset();
    const repeat = await runCli(["repeat", nb, "-q"], { env: counter.env });
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(counter.executed()).toEqual(["# cell:c", "# cell:d"]);
  });
});

describe("an invalid or tampered bundle gives a clear error, never a wrong value", () => {
  async function audited(name: string): Promise<{ dir: string; nb: string; bundle: string }> {
    const dir = mkdir(join(root, name));
    const nb = writeNotebookFile(dir, "nb.ipynb", cells);
    const res = await runCli(["audit", nb, "-q"]);
    expect(res.code, res.stderr).toBe(0);
    // Edit the last cell: repeat must restore a, b and c from their blobs.
    writeNotebookFile(dir, "nb.ipynb", [...cells.slice(0, 3), { id: "d", source: "# cell:d\nprint(a + b + c)" }]);
    return { dir, nb, bundle: join(dir, "nb.nbrewind") };
  }

  it("a record that fails its schema is named, with the field", async () => {
    const { nb, bundle } = await audited("schema");
    const recordFile = readdirSync(join(bundle, "cells"))[0]!;
    const record = JSON.parse(readFileSync(join(bundle, "cells", recordFile), "utf8"));
    record.status = "maybe";
    writeFileSync(join(bundle, "cells", recordFile), JSON.stringify(record));
    const res = await runCli(["repeat", nb, "-q"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(recordFile);
    expect(res.stderr).toContain("status");
  });

  it("a missing blob is reported by name and digest", async () => {
    const { nb, bundle } = await audited("missing");
    for (const file of blobFiles(bundle)) rmSync(file);
    const res = await runCli(["repeat", nb, "-q"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/missing/);
    expect(res.survivors).toEqual([]);
  });

  it("a flipped byte in a blob is caught by its digest", async () => {
    const { dir, nb, bundle } = await audited("flipped");
    for (const file of blobFiles(bundle)) {
      const bytes = readFileSync(file);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0x01, bytes.length - 1);
      writeFileSync(file, bytes);
    }
    const out = join(dir, "out.ipynb");
    const res = await runCli(["repeat", nb, "-o", out, "-q"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/corrupt/);
    // Whatever was written, no cell shows a value computed from the corrupt blob.
    if (existsSync(out)) expect(outputText(readJson(out).cells[3])).toBe("");
  });

  it("repeat without a bundle says to audit first", async () => {
    const dir = mkdir(join(root, "none"));
    const nb = writeNotebookFile(dir, "nb.ipynb", cells);
    const res = await runCli(["repeat", nb]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("nbrewind-engine audit");
  });
});

describe("plan and --explain say why", () => {
  it("prints every cell's decision and reason without running anything", async () => {
    const dir = mkdir(join(root, "plan"));
    const nb = writeNotebookFile(dir, "nb.ipynb", cells);
    expect((await runCli(["audit", nb, "-q"])).code).toBe(0);
    writeNotebookFile(dir, "nb.ipynb", [cells[0]!, { id: "b", source: "# cell:b\nb = a + 10" }, cells[2]!, cells[3]!]);
    counter.reset();
    const res = await runCli(["plan", nb], { env: counter.env });
    expect(res.code).toBe(0);
    expect(counter.executed()).toEqual([]);
    expect(res.stdout).toMatch(/cell\s+1 \[a\] reuse/);
    expect(res.stdout).toMatch(/cell\s+2 \[b\] run\s+b = a \+ 10\n\s+because source changed/);
    expect(res.stdout).toMatch(/cell\s+2 \[b\] run[^\n]*\n\s+because source changed\n\s+restores `a` \(\d+ B\) recorded by cell 1/);
    expect(res.stdout).toMatch(/cell\s+3 \[c\] run[^\n]*\n\s+because reads `b` from cell 2, which runs/);
    expect(res.stdout).toContain("plan: 1 reused, 3 to run");
    const json = JSON.parse((await runCli(["plan", nb, "--json"])).stdout);
    expect(json.cells.map((c: any) => c.decision)).toEqual(["reuse", "run", "run", "run"]);
  });
});

function mkdir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}
