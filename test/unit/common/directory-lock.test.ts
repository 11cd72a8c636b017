import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { withDirectoryLock } from "../../../src/common/directory-lock.js";

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function fresh(): string {
  root = mkdtempSync(join(tmpdir(), "nbrewind-lock-"));
  return join(root, "x.lock");
}

/** A pid that certainly belongs to no running process: a child that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r.stdout);
}

describe("the directory lock", () => {
  test("holds the folder with the holder's pid while the body runs, and removes it after", async () => {
    const lock = fresh();
    const seen = await withDirectoryLock(lock, () => {}, async () => readdirSync(lock));
    expect(seen).toEqual(["pid"]);
    expect(existsSync(lock)).toBe(false);
  });

  test("with wait: false, a live holder makes it fail at once, naming the holder's pid", async () => {
    const lock = fresh();
    const lines: string[] = [];
    await withDirectoryLock(lock, () => {}, async () => {
      const second = withDirectoryLock(lock, (l) => lines.push(l), async () => "ran", { wait: false, busy: (pid) => new Error(`busy: ${pid}`) });
      await expect(second).rejects.toThrow(`busy: ${process.pid}`);
    });
    expect(lines).toEqual([]);
    // Free again: the same call now gets it.
    expect(await withDirectoryLock(lock, () => {}, async () => "ran", { wait: false })).toBe("ran");
  });

  test("a wait stops when its signal is aborted (Ctrl-C), without running the body", async () => {
    const lock = fresh();
    await withDirectoryLock(lock, () => {}, async () => {
      const controller = new AbortController();
      let ran = false;
      const waiting = withDirectoryLock(lock, () => controller.abort(), async () => (ran = true), { signal: controller.signal, interrupted: () => new Error("interrupted") });
      await expect(waiting).rejects.toThrow("interrupted");
      expect(ran).toBe(false);
    });
  });

  test("takes over a lock left by a process that died, without waiting", async () => {
    const lock = fresh();
    mkdirSync(lock);
    writeFileSync(join(lock, "pid"), String(deadPid()));
    const waits: string[] = [];
    expect(await withDirectoryLock(lock, (l) => waits.push(l), async () => "ran")).toBe("ran");
    expect(waits).toEqual([]);
    expect(readdirSync(root)).toEqual([]); // the stale folder set aside is gone too
  });

  test("waits for a folder whose holder has not written its pid yet, rather than stealing it", async () => {
    const lock = fresh();
    mkdirSync(lock); // a holder between mkdir and its pid rename
    const waits: string[] = [];
    let ran = false;
    const pending = withDirectoryLock(lock, (l) => waits.push(l), async () => (ran = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(ran).toBe(false);
    expect(waits[0]).toMatch(/waiting for another process that holds .*x\.lock/);
    rmSync(lock, { recursive: true }); // the holder finishes
    await pending;
    expect(ran).toBe(true);
  });

  test("takes over a folder that stayed without a pid for long (its creator died before writing it)", async () => {
    const lock = fresh();
    mkdirSync(lock);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(await withDirectoryLock(lock, () => {}, async () => "ran")).toBe("ran");
  });

  test("serialises bodies across processes: two writers never overlap", async () => {
    const lock = fresh();
    const journal = join(root, "journal");
    const writer = `
      const { appendFileSync } = require("node:fs");
      import(${JSON.stringify(new URL("../../../src/common/directory-lock.ts", import.meta.url).href)}).then(async ({ withDirectoryLock }) => {
        for (let i = 0; i < 5; i++) await withDirectoryLock(process.argv[1], () => {}, async () => {
          appendFileSync(process.argv[2], "enter\\n");
          await new Promise((r) => setTimeout(r, 5));
          appendFileSync(process.argv[2], "leave\\n");
        });
      });`;
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const run = () => promisify(execFile)(process.execPath, ["--import", "tsx", "-e", writer, lock, journal]);
    await Promise.all([run(), run()]);
    const { readFileSync } = await import("node:fs");
    const lines = readFileSync(journal, "utf8").trim().split("\n");
    expect(lines).toHaveLength(20);
    lines.forEach((l, i) => expect(l).toBe(i % 2 === 0 ? "enter" : "leave"));
  }, 60_000);
});
