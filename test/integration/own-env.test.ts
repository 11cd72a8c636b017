import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputText, readJson, runCli, tempDir, writeNotebookFile } from "./cli-harness.js";
import { TaskCounter } from "./task-counter.js";
import { kernelspecFor, MATRIX, matrixEnvs } from "./version-matrix-envs.js";

/**
 * Bring your own environment: the user's kernel runs in a venv of theirs
 * (here the version matrix's rows, version-matrix-envs.ts), registered as a
 * kernelspec or served by a Jupyter server of their own.
 */

const root = tempDir("nbrewind-own-env-");
const jupyterPath = join(root, "jupyter");
const counter = new TaskCounter(root);
const oldest = MATRIX.find((r) => r.label === "oldest")!;
const unsupported = MATRIX.find((r) => !r.supported)!;
let pythonOf: Record<string, string> = {};

beforeAll(async () => {
  const envs = await matrixEnvs((line) => process.stderr.write(`[matrix env] ${line}\n`));
  pythonOf = Object.fromEntries(MATRIX.map((row, i) => [row.label, envs[i]!.python]));
  for (const row of MATRIX) kernelspecFor(jupyterPath, `user-${row.label}`, pythonOf[row.label]!);
}, 3_600_000);

describe("doctor -k: what a user's kernel environment gets", () => {
  it("in range: every engine memoized, with the versions found; out of range: runs unmemoized, naming version and range", async () => {
    const good = await runCli(["doctor", "-k", "user-oldest", "--json"], { env: { JUPYTER_PATH: jupyterPath } });
    const goodReport = JSON.parse(good.stdout);
    expect(goodReport.kernel).toBe("user-oldest");
    // TaskVine is optional and not in this venv: its entry says so; the three engines in the venv are memoized.
    expect(goodReport.engines.filter((e: any) => ["dask", "parsl", "ray"].includes(e.engine))).toEqual([
      { engine: "dask", status: "memoized", versions: { dask: oldest.versions.dask, distributed: oldest.versions.dask } },
      { engine: "parsl", status: "memoized", versions: { parsl: oldest.versions.parsl } },
      { engine: "ray", status: "memoized", versions: { ray: oldest.versions.ray } },
    ]);
    // The kernel's own cloudpickle (the managed env's pins are listed before it).
    expect(goodReport.checks.filter((c: any) => c.name === "cloudpickle").at(-1)).toMatchObject({ ok: true, found: expect.stringMatching(/^3\.1\.0 /) });

    const bad = await runCli(["doctor", "-k", "user-unsupported"], { env: { JUPYTER_PATH: jupyterPath } });
    expect(bad.stdout).toMatch(new RegExp(`warn +Dask +runs unmemoized \\(dask ${unsupported.versions.dask} is outside the supported range >=2024\\.12\\.0\\)`));
    expect(bad.stdout).toMatch(new RegExp(`warn +Parsl +runs unmemoized \\(parsl ${unsupported.versions.parsl} is outside the supported range >=2024\\.12\\.2\\)`));
    expect(bad.stdout).toMatch(new RegExp(`warn +Ray +runs unmemoized \\(ray ${unsupported.versions.ray} is outside the supported range >=2\\.40\\.0,<3\\)`));
    // Unmemoized is a warning, not a broken setup.
    expect(bad.code).toBe(good.code);

  }, 300_000);
});

/** A Jupyter server of the user's: their venv's jupyter_server, started in a folder of theirs. */
class UsersServer {
  private child: ChildProcess | undefined;
  readonly token = randomBytes(16).toString("hex");
  url = "";

  async start(python: string, folder: string, env: Record<string, string>): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}/`;
    this.child = spawn(python, ["-m", "jupyter_server", `--ServerApp.port=${port}`, "--ServerApp.ip=127.0.0.1", `--IdentityProvider.token=${this.token}`, "--ServerApp.open_browser=False", "--ServerApp.allow_root=True"], {
      cwd: folder,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    this.child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    for (let i = 0; i < 240; i++) {
      try {
        const res = await fetch(new URL("api/status", this.url), { headers: { Authorization: `token ${this.token}` } });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the user's Jupyter server did not answer at ${this.url}:\n${log}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

describe("the user's own Jupyter server, in another folder, with another Python environment", () => {
  const server = new UsersServer();
  const folder = tempDir("nbrewind-users-server-");
  beforeAll(async () => {
    await server.start(pythonOf.oldest!, folder, counter.env);
  }, 120_000);
  afterAll(async () => {
    await server.stop();
  });

  it("dask[distributed] 2024.12.1: audit, a parameter edit and repeat memoize through --server-url, with the shim shipped to the kernel", async () => {
    const cells = [
      { id: "params", source: "n = 4", tags: ["parameters"] },
      { id: "counter", source: [...TaskCounter.preamble, "def square(x):", "    note(f'square-{x}')", "    return x * x", "def total(xs):", "    note('total')", "    return sum(xs)"].join("\n") },
      {
        id: "reduce",
        source: [
          "import sys",
          "from distributed import Client",
          "client = Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None)",
          "print('total', client.submit(total, client.map(square, range(n))).result())",
          "client.close()",
          "print('shim from', sys.modules['nbrewind'].__file__)",
        ].join("\n"),
      },
    ];
    const dir = tempDir("nbrewind-users-notebook-");
    const nb = writeNotebookFile(dir, "map-reduce.ipynb", cells);
    const remote = ["--server-url", server.url, "--token", server.token, "-k", "python3"];

    counter.reset();
    const audit = await runCli(["audit", nb, ...remote, "-o", join(dir, "audit.ipynb")]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(counter.ran()).toEqual(["square-0", "square-1", "square-2", "square-3", "total"]);
    const printed = outputText(readJson(join(dir, "audit.ipynb")).cells.find((c: any) => c.id === "reduce"));
    expect(printed).toContain("total 14");
    // The kernel imported the shim from what the driver shipped, not from this package's folder.
    expect(printed).toMatch(/shim from .*nbrewind-engine\/shim\/[0-9a-f]{24}\/engines\/python\/nbrewind\/__init__\.py/);
    expect(printed).not.toContain(join(import.meta.dirname, "..", "..", "engines"));

    counter.reset();
    const repeat = await runCli(["repeat", nb, ...remote, "-p", "n", "5", "--json", "-o", join(dir, "repeat.ipynb")]);
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(counter.ran()).toEqual(["square-4", "total"]);
    expect(outputText(readJson(join(dir, "repeat.ipynb")).cells.find((c: any) => c.id === "reduce"))).toContain("total 30");
    expect(JSON.parse(repeat.stdout).engines).toEqual([{ engine: "dask", status: "memoized", versions: { dask: "2024.12.1", distributed: "2024.12.1" } }]);
  }, 300_000);
});

describe("an adapter that fails turns itself off, and the notebook runs as without nbrewind-engine", () => {
  it("a graph rewrite that raises (a changed Dask internal): tasks run, results right, engines[] says why", async () => {
    const dir = tempDir("nbrewind-broken-adapter-");
    const nb = writeNotebookFile(dir, "broken.ipynb", [
      { id: "counter", source: [...TaskCounter.preamble, "def square(x):", "    note(f'square-{x}')", "    return x * x"].join("\n") },
      // Stands in for a Dask release whose internals the adapter does not know.
      { id: "break", source: "import nbrewind_dask\ndef _changed(dsk):\n    raise KeyError('an internal that moved')\nnbrewind_dask._materialise = _changed" },
      { id: "compute", source: "import dask\nprint(sum(dask.compute(*[dask.delayed(square)(i) for i in range(3)], scheduler='sync')))" },
      { id: "again", source: "print(sum(dask.compute(*[dask.delayed(square)(i) for i in range(3)], scheduler='sync')))" },
    ]);
    counter.reset();
    const audit = await runCli(["audit", nb, "--json", "-o", join(dir, "out.ipynb")], { env: counter.env });
    expect(audit.code, audit.stderr).toBe(0);
    const out = readJson(join(dir, "out.ipynb"));
    expect(outputText(out.cells.find((c: any) => c.id === "compute"))).toBe("5\n");
    expect(outputText(out.cells.find((c: any) => c.id === "again"))).toBe("5\n");
    expect(counter.ran()).toEqual(["square-0", "square-0", "square-1", "square-1", "square-2", "square-2"]);
    const summary = JSON.parse(audit.stdout);
    expect(summary.engines).toHaveLength(1);
    expect(summary.engines[0]).toMatchObject({ engine: "dask", status: "unmemoized", reason: expect.stringContaining("rewriting a Dask graph failed (KeyError: 'an internal that moved'") });
    // Nothing half-recorded: the failed submission left no task records.
    expect(summary.counts.tasks.total).toBe(0);
    expect(audit.stderr.split("\n").filter((l) => l.startsWith("warning: dask runs unmemoized"))).toHaveLength(1);
  }, 180_000);
});
