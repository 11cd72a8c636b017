import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, runtimeDirOf, tempDir, writeNotebookFile } from "./cli-harness.js";

/**
 * The embedded server as a local attacker and a big output see it: its token
 * is never on a command line, every secret file is the user's alone, a killed
 * run's runtime folder is swept by the next run, and a 50 MB output arrives
 * whole (no IOPub rate-limit notice in its place) in the output notebook and
 * in the bundle, where the cell's record holds it as a blob (over 1 MiB), and
 * comes back whole from a repeat and from a replay of the packed file.
 */
const dir = tempDir("nbrewind-server-hardening-");
// The embedded server is the point here: the kernel starts on it, not directly. Runtime
// folders in a temp folder of this test's own: a run of another test file sweeps the killed
// run's folder from the shared one before this test can see it still there.
mkdirSync(join(dir, "tmp"));
const config = { NBREWIND_CONFIG_DIR: join(dir, "config"), NBREWIND_KERNEL_TRANSPORT: "server", TMPDIR: join(dir, "tmp") };
// Five copies of a 50 MB output: not left in the temp folder.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

describe("the embedded server", () => {
  it("keeps its token off every command line during an audit and its secrets 0600; a killed run's folder is swept by the next run, which keeps a 50 MB output whole through repeat, pack and replay", async () => {
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

    // The record keeps it as a blob (over 1 MiB): small to read at every plan, the output checked by its digest.
    const cells = join(dir, "big.nbrewind", "cells");
    const [recordName] = readdirSync(cells);
    expect(statSync(join(cells, recordName!)).size).toBeLessThan(64 * 1024);
    const record = readJson(join(cells, recordName!));
    expect(record.outputs).toEqual([{ output_type: "stream", blob: { digest: expect.stringMatching(/^[0-9a-f]{64}$/), size: expect.any(Number) } }]);
    const digest: string = record.outputs[0].blob.digest;
    const blobPath = (bundle: string) => join(bundle, "blobs", "sha256", digest.slice(0, 2), digest.slice(2));
    const blob = readFileSync(blobPath(join(dir, "big.nbrewind")));
    expect(sha256(blob)).toBe(digest);
    expect(sha256(outputText({ outputs: [JSON.parse(blob.toString("utf8"))] }))).toBe(sha256(text));

    // A repeat reuses the cell and writes the whole output; so does a replay of the packed file in another folder.
    const repeat = await runCli(["repeat", big, "-o", join(dir, "big.repeat.ipynb"), "--json"], { env: config });
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(JSON.parse(repeat.stdout).counts).toMatchObject({ reused: 1, run: 0 });
    // (Compared by digest: a failure prints two lines, not 50 MB.)
    const outputsDigest = (notebook: string) => sha256(JSON.stringify(readJson(notebook).cells[0].outputs));
    expect(outputsDigest(join(dir, "big.repeat.ipynb"))).toBe(outputsDigest(join(dir, "big.out.ipynb")));
    const packed = join(dir, "big.nbrewind.tgz");
    const pack = await runCli(["pack", big, "-o", packed, "-q"], { env: config });
    expect(pack.code, pack.stderr).toBe(0);
    const elsewhere = join(dir, "elsewhere");
    const replay = await runCli(["replay", packed, "-C", elsewhere, "--check", "--json"], { env: config });
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ cells: { reused: 1, run: 0 }, outputs: { matched: true } });
    expect(outputsDigest(join(elsewhere, "big.replayed.ipynb"))).toBe(outputsDigest(join(dir, "big.out.ipynb")));

    // Without its blob the output cannot be shown: repeat names the record and the blob, and nothing runs
    // (what verify says of it is in test/unit/bundle/output-blobs.test.ts).
    rmSync(blobPath(join(elsewhere, "big.nbrewind")));
    const broken = await runCli(["repeat", join(elsewhere, "big.ipynb")], { env: config });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`nbrewind-engine repeat: cell 1 cannot be reused: cells/${recordName}: outputs[0] (a stream output of ${record.outputs[0].blob.size} bytes) is stored in blob ${digest}, which is missing`);
    expect(broken.stderr).not.toMatch(/plan:|\n\s+at /);
  });
});
