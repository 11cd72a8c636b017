import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { withBundleRunLock } from "../../../src/bundle/run-lock.js";

describe("withBundleRunLock: onWait", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("is called once when the run must wait for another (a kernel started first thing is then shut down), never when the lock is free", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nbrewind-runlock-"));
    dirs.push(dir);
    const bundleDir = join(dir, "nb.nbrewind");
    const lines: string[] = [];
    const log = (line: string) => void lines.push(line);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const first = withBundleRunLock(bundleDir, { command: "repeat", wait: true, log }, async () => {
      entered();
      await held;
      return "first";
    });
    await inside;
    let waits = 0;
    const second = withBundleRunLock(bundleDir, { command: "repeat", wait: true, log, onWait: () => waits++ }, async () => "second");
    await new Promise((r) => setTimeout(r, 200));
    expect(waits).toBe(1);
    expect(lines.join("\n")).toMatch(/repeat: waiting for another audit or repeat/);
    release();
    expect(await Promise.all([first, second])).toEqual(["first", "second"]);
    expect(waits).toBe(1);

    await withBundleRunLock(bundleDir, { command: "repeat", wait: true, log, onWait: () => waits++ }, async () => undefined);
    expect(waits).toBe(1);
  });
});
