import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processesMarkedWith } from "../../src/jupyter/process-sweep.js";
import { outputText, readJson, runCli, tempDir, writeNotebookFile } from "./cli-harness.js";

/**
 * The embedded server as a local attacker and a big output see it: its token
 * is never on a command line, every secret file is the user's alone, a killed
 * run's runtime folder is swept by the next run, and a 50 MB output arrives
 * whole (no IOPub rate-limit notice in its place) in the output notebook and
 * in the bundle.
 */
const dir = tempDir("nbrewind-server-hardening-");
const config = { NBREWIND_CONFIG_DIR: join(dir, "config") };

/** The runtime folder of the embedded server whose processes carry PROBE=id, once a kernel runs in it. */
async function runtimeDirOf(probe: string): Promise<string> {
  for (;;) {
    for (const pid of processesMarkedWith("PROBE", probe)) {
      let environ: string;
      try {
        environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      } catch {
        continue;
      }
      const runtime = environ.split("\0").find((p) => p.startsWith("JUPYTER_RUNTIME_DIR="))?.slice("JUPYTER_RUNTIME_DIR=".length);
      if (runtime && existsSync(runtime) && readdirSync(runtime).some((f) => /^kernel-.*\.json$/.test(f))) return runtime;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("the embedded server", () => {
  it("keeps its token off every command line during an audit and its secrets 0600; a killed run's folder is swept by the next run, which keeps a 50 MB output whole", async () => {
    const slow = writeNotebookFile(dir, "slow.ipynb", [{ source: "import time\nfor _ in range(600):\n    time.sleep(0.1)" }]);
    const probe = randomUUID();
    let runtime = "";
    let checked: Promise<void> | undefined;
    const killed = await runCli(["audit", slow, "-q"], {
      env: { ...config, PROBE: probe },
      onSpawn: (child) => {
        checked = (async () => {
          runtime = await runtimeDirOf(probe);
          const token = readFileSync(join(runtime, "token"), "utf8");
          expect(token).toMatch(/^[0-9a-f]{48}$/);
          const commandLines = execFileSync("ps", ["-eo", "args"], { encoding: "utf8", maxBuffer: 64 << 20 });
          expect(commandLines).toContain("nbrewind.jupyter_server_launcher");
          expect(commandLines).not.toContain(token);
          // Nor any other secret: the cookie secret, the kernel's HMAC key.
          const cookie = readFileSync(join(runtime, "jupyter_cookie_secret"), "utf8").trim();
          const connection = readdirSync(runtime).find((f) => /^kernel-.*\.json$/.test(f))!;
          const hmacKey = (JSON.parse(readFileSync(join(runtime, connection), "utf8")) as { key: string }).key;
          expect(cookie.length).toBeGreaterThan(20);
          expect(hmacKey.length).toBeGreaterThan(20);
          expect(commandLines).not.toContain(cookie);
          expect(commandLines).not.toContain(hmacKey);
          expect(statSync(runtime).mode & 0o777).toBe(0o700);
          const files = readdirSync(runtime).filter((f) => statSync(join(runtime, f)).isFile());
          expect(files).toEqual(expect.arrayContaining(["token", "jupyter_cookie_secret", expect.stringMatching(/^kernel-.*\.json$/)]));
          for (const f of files) expect([f, (statSync(join(runtime, f)).mode & 0o777).toString(8)]).toEqual([f, "600"]);
        })().finally(() => child.kill("SIGKILL"));
      },
    });
    expect(checked).toBeDefined();
    await checked;
    expect(killed.signal).toBe("SIGKILL");
    expect(runtime).not.toBe("");
    // SIGKILL leaves no chance to clean up: the folder with the cookie secret is still there...
    expect(existsSync(runtime)).toBe(true);

    // ...until the next run starts, which also records 50 MB of output faithfully.
    const size = 50_000_000;
    const big = writeNotebookFile(dir, "big.ipynb", [{ source: `import sys\nsys.stdout.write("0123456789" * ${size / 10})\nprint("|end")` }]);
    const audit = await runCli(["audit", big, "-q"], { env: config });
    expect(audit.code, audit.stderr).toBe(0);
    expect(existsSync(runtime)).toBe(false);
    const out = readJson(join(dir, "big.out.ipynb"));
    const text = outputText(out.cells[0]);
    expect(text.length).toBe(size + "|end\n".length);
    expect(text.startsWith("0123456789".repeat(100))).toBe(true);
    expect(text.endsWith("0123456789|end\n")).toBe(true);
    expect(text).not.toContain("IOPub");
    const recorded = readJson(join(dir, "big.nbrewind", "notebook.ipynb"));
    expect(outputText(recorded.cells[0])).toBe(text);
    const record = readdirSync(join(dir, "big.nbrewind", "cells")).map((f) => readJson(join(dir, "big.nbrewind", "cells", f)))[0];
    expect(outputText(record)).toBe(text);
  });
});
