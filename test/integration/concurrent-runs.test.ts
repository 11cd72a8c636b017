import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CliResult } from "./cli-harness.js";

/**
 * Four repeats of one notebook at once. The documented behaviour: one runs,
 * the others wait for it (saying so) and then reuse what it recorded; none
 * executes a cell twice, every output notebook is whole, the bundle
 * verifies; with --no-wait a run fails at once instead. The first repeat is
 * held inside its cell by a gate file until each of the others has either
 * said it waits or reached that cell itself, so the overlap is certain, not a
 * matter of timing. A pack started during a repeat waits for it the same way
 * and packs the finished bundle.
 */
const dir = tempDir("nbrewind-concurrent-");
const config = { NBREWIND_CONFIG_DIR: join(dir, "config") };
const gate = join(dir, "gate");
const nb = join(dir, "nb.ipynb");
const lockDir = join(dir, ".nb.nbrewind.run-lock");
// The progress line names a cell by its first line that is not an import (notebook/cell-label.ts).
const inGatedCell = /running: while not os\.path\.exists/;

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 50));
}

beforeAll(async () => {
  writeNotebookFile(dir, "nb.ipynb", [
    { id: "params", source: "n = 1", tags: ["parameters"] },
    { id: "gated", source: `import os, time\nwhile not os.path.exists(${JSON.stringify(gate)}):\n    time.sleep(0.05)\nresult = n * 10\nprint('result', result)` },
  ]);
  writeFileSync(gate, "");
  const audit = await runCli(["audit", nb, "-q"], { env: config, cwd: dir });
  expect(audit.code, audit.stderr).toBe(0);
  rmSync(gate);
});

describe("concurrent repeats of one bundle", () => {
  it("wait for each other and reuse the first one's work; --no-wait fails instead; the bundle verifies and every output is whole", async () => {
    const stderr: Array<() => string> = [];
    const start = (i: number) =>
      runCli(["repeat", nb, "-p", "n", "2", "-o", join(dir, `out-${i}.ipynb`), "--json"], {
        env: config,
        cwd: dir,
        onSpawn: (_child, output) => void stderr.push(output.stderr),
      });
    const first = start(0);
    await until(() => stderr.length === 1 && inGatedCell.test(stderr[0]!()));
    const others = [start(1), start(2), start(3)];
    await until(() => stderr.length === 4 && stderr.slice(1).every((s) => /waiting for another/.test(s()) || inGatedCell.test(s())));
    const busy = await runCli(["repeat", nb, "-p", "n", "2", "--no-wait"], { env: config, cwd: dir }).finally(() => writeFileSync(gate, ""));
    const results: CliResult[] = await Promise.all([first, ...others]);
    for (const s of stderr.slice(1)) expect(s()).toMatch(/repeat: waiting for another audit or repeat \(pid \d+\) of .*nb\.nbrewind to finish; what it records will be reused/);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/nbrewind-engine repeat: .*nb\.nbrewind is in use by another audit or repeat \(pid \d+\); not waiting \(--no-wait\)/);

    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const summaries = results.map((r) => JSON.parse(r.stdout));
    // The injected parameters and the gated cell ran once, in the first repeat; the three that waited reused them.
    expect(summaries.map((s) => s.counts.run)).toEqual([2, 0, 0, 0]);
    for (const s of summaries.slice(1)) expect(s.counts.reused).toBe(3);
    for (let i = 0; i < 4; i++) {
      const out = readJson(join(dir, `out-${i}.ipynb`));
      expect(outputText(out.cells.find((c: { id: string }) => c.id === "gated"))).toBe("result 20\n");
    }
    expect(existsSync(lockDir)).toBe(false);
    const verify = await runCli(["verify", nb], { env: config });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
  it("pack waits for a running repeat and packs what it finished; with --no-wait it fails instead", async () => {
    rmSync(gate, { force: true });
    let repeatErr: () => string = () => "";
    const running = runCli(["repeat", nb, "-p", "n", "3", "-o", join(dir, "out-packed.ipynb")], { env: config, cwd: dir, onSpawn: (_child, output) => void (repeatErr = output.stderr) });
    await until(() => inGatedCell.test(repeatErr()));
    const packed = join(dir, "nb-during-repeat.tgz");
    let packErr: () => string = () => "";
    let packDone = false;
    const waiting = runCli(["pack", nb, "-o", packed], { env: config, cwd: dir, onSpawn: (_child, output) => void (packErr = output.stderr) }).finally(() => (packDone = true));
    // (A pack that does not wait finishes here, mid-repeat, and the assertions below say so.)
    await until(() => /waiting for/.test(packErr()) || packDone);
    const busy = await runCli(["pack", nb, "-o", join(dir, "never.tgz"), "--no-wait"], { env: config, cwd: dir }).finally(() => writeFileSync(gate, ""));
    const [repeat, pack] = await Promise.all([running, waiting]);

    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/^nbrewind-engine pack: .*nb\.nbrewind is in use by another audit or repeat \(pid \d+\); not waiting \(--no-wait\)/);
    expect(existsSync(join(dir, "never.tgz"))).toBe(false);
    expect(packErr()).toMatch(/pack: waiting for another audit or repeat \(pid \d+\) of .*nb\.nbrewind to finish; a bundle is packed only when no run is writing it/);
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(pack.code, pack.stderr).toBe(0);
    // What was packed is the finished repeat: its notebook, its run closed, its signature; nothing half written.
    const verify = await runCli(["verify", packed], { env: config });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const elsewhere = join(dir, "unpacked");
    mkdirSync(elsewhere);
    execFileSync("tar", ["-xzf", packed, "-C", elsewhere]);
    const notebook = readJson(join(elsewhere, "nb.nbrewind", "notebook.ipynb"));
    expect(outputText(notebook.cells.find((c: { id: string }) => c.id === "gated"))).toBe("result 30\n");
    expect(readJson(join(elsewhere, "nb.nbrewind", "manifest.json")).runs.map((r: { status: string }) => r.status)).not.toContain("running");
    expect(existsSync(lockDir)).toBe(false);
  });
});
