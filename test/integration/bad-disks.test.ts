import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CliResult } from "./cli-harness.js";

/**
 * Disks that say no, on small tmpfs mounts: a read-only notebook folder and
 * a disk that fills up mid-run. Every case is a sentence naming the folder or
 * file, exit 2, no stack trace; a read-only folder is found before any cell
 * runs; after a full disk the cells completed before it stay reusable and
 * the partial notebook is written. pack and unpack onto a full disk leave
 * nothing behind. (Needs root for mount.)
 */
const root = tempDir("nbrewind-disks-");
const config = { NBREWIND_CONFIG_DIR: join(root, "config") };
const mounts: string[] = [];
const isRoot = process.getuid?.() === 0;

function tmpfs(name: string, size: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0755`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

function expectClearDiskError(res: CliResult, command: string, message: RegExp): void {
  expect(res.code, res.stderr).toBe(2);
  expect(res.stderr).toMatch(new RegExp(`^nbrewind-engine ${command}: `, "m"));
  expect(res.stderr).toMatch(message);
  expect(res.stderr).not.toMatch(/internal error|^\s+at |Traceback/m);
}

afterAll(() => {
  for (const dir of mounts.reverse()) execFileSync("umount", [dir]);
});

describe.skipIf(!isRoot)("bad disks", () => {
  const ran = join(root, "ran-marker");
  let readOnly = "";
  beforeAll(() => {
    readOnly = tmpfs("read-only", "4m");
    writeNotebookFile(readOnly, "nb.ipynb", [{ source: `open(${JSON.stringify(ran)}, "w").write("ran")` }]);
    execFileSync("mount", ["-o", "remount,ro", readOnly]);
  });

  it("a read-only notebook folder is refused before any cell runs, naming the folder", async () => {
    const nb = join(readOnly, "nb.ipynb");
    const run = await runCli(["run", nb], { env: config });
    expectClearDiskError(run, "run", new RegExp(`cannot write the output notebook in ${readOnly}: the file system is read-only \\(EROFS\\).*\\(-o FILE\\)\\. Nothing was run\\.`));
    const audit = await runCli(["audit", nb], { env: config });
    expectClearDiskError(audit, "audit", new RegExp(`cannot write the bundle in ${readOnly} \\(where ${readOnly}/nb\\.nbrewind would be created\\): the file system is read-only`));
    // The bundle elsewhere is not enough: the output notebook would still go beside the input.
    const elsewhere = await runCli(["audit", nb, "--bundle", join(root, "elsewhere.nbrewind")], { env: config });
    expectClearDiskError(elsewhere, "audit", /cannot write the output notebook in .*read-only/);
    expect(existsSync(ran)).toBe(false);
    // With -o and --bundle on a writable disk the same notebook runs.
    const ok = await runCli(["audit", nb, "--bundle", join(root, "elsewhere.nbrewind"), "-o", join(root, "out.ipynb"), "-q"], { env: config });
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(ran)).toBe(true);
  });

  it("a disk that fills up mid-run: exit 2 naming the path, the partial notebook written, completed cells reused after; pack and unpack onto a full disk leave nothing", async () => {
    const full = tmpfs("full", "2m");
    const nb = writeNotebookFile(full, "nb.ipynb", [
      { id: "small", source: "small = list(range(10))\nprint('small done')" },
      { id: "big", source: "import os\nbig = os.urandom(3_000_000)\nprint('big done')" },
    ]);
    const audit = await runCli(["audit", nb], { env: config });
    expectClearDiskError(audit, "audit", new RegExp(`no space left on the device writing ${full}/nb\\.nbrewind/\\S+ \\(ENOSPC\\): free some space there`));
    expect(audit.stderr).toContain(`the partial notebook was written to ${full}/nb.out.ipynb`);
    const partial = readJson(join(full, "nb.out.ipynb"));
    expect(outputText(partial.cells[0])).toBe("small done\n");

    execFileSync("mount", ["-o", "remount,size=16m", full]);
    const repeat = await runCli(["repeat", nb, "--json"], { env: config });
    expect(repeat.code, repeat.stderr).toBe(0);
    const summary = JSON.parse(repeat.stdout);
    expect(summary.plan.cells.map((c: { decision: string }) => c.decision)).toEqual(["reuse", "run"]);
    expect((await runCli(["verify", nb], { env: config })).code).toBe(0);

    const tiny = tmpfs("tiny", "1m");
    const pack = await runCli(["pack", nb, "-o", join(tiny, "nb.tgz")], { env: config });
    expectClearDiskError(pack, "pack", new RegExp(`no space left on the device writing ${tiny}/nb\\.tgz \\(ENOSPC\\)`));
    expect(readdirSync(tiny)).toEqual([]);
    const packed = join(root, "nb.tgz");
    expect((await runCli(["pack", nb, "-o", packed, "-q"], { env: config })).code).toBe(0);
    const unpack = await runCli(["unpack", packed, "-C", tiny], { env: config });
    expectClearDiskError(unpack, "unpack", new RegExp(`no space left on the device writing ${tiny}\\S* \\(ENOSPC\\)`));
    expect(readdirSync(tiny)).toEqual([]);
  });
});
