import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeCell } from "../../src/jupyter/cell-executor.js";
import { JupyterRuntime } from "../../src/jupyter/jupyter-runtime.js";
import { DisplayRegistry } from "../../src/jupyter/output-collector.js";
import { kernelChannel, ShimBlobError, ShimClient, ShimError, type PostCellReply, type WriteEntry } from "../../src/jupyter/shim-client.js";
import { shimPayload } from "../../src/jupyter/shim-payload.js";
import { outputText, tempDir } from "./cli-harness.js";

// The kernel-side shim against a real server and ipykernel: values go from
// the kernel straight into a blob store on disk, and come back in a fresh kernel.

const python = process.env.NBREWIND_TEST_PYTHON!;
const dir = tempDir("nbrewind-shim-");
const blobsDir = join(dir, "store", "blobs");
let runtime: JupyterRuntime;
let shim: ShimClient;
const registry = new DisplayRegistry();

function blobPath(root: string, digest: string): string {
  return join(root, "sha256", digest.slice(0, 2), digest.slice(2));
}

async function run(rt: JupyterRuntime, code: string): Promise<{ text: string; count: number | null }> {
  const result = await executeCell(rt.session, code, { registry });
  expect(result.status, outputText(result)).toBe("ok");
  return { text: outputText(result), count: result.executionCount };
}

/** One audited cell: pre_cell, execute, post_cell, as the audit command does it. */
async function cell(code: string, candidates: string[] = [], opaque = false, client = shim, rt = runtime): Promise<PostCellReply> {
  const id = `cell-${Math.random().toString(36).slice(2)}`;
  await client.preCell(id);
  await run(rt, code);
  return client.postCell(id, candidates, opaque);
}

function entry(reply: PostCellReply, name: string): WriteEntry {
  const e = reply.names[name];
  if (!e) throw new Error(`post_cell did not report \`${name}\`: ${JSON.stringify(reply.names)}`);
  return e;
}

function digestOf(e: WriteEntry): string {
  if (e.status !== "stored" && e.status !== "unchanged") throw new Error(`no digest: ${JSON.stringify(e)}`);
  return e.digest;
}

describe("the nbrewind kernel shim", () => {
  beforeAll(async () => {
    runtime = await JupyterRuntime.open({ python, rootDir: dir });
    shim = await ShimClient.attach(runtime.session, { blobsDir });
  });
  afterAll(async () => {
    shim?.close();
    await runtime?.close();
  });

  it("loads silently: the user's first cell is still [1], and no name is added to the namespace", async () => {
    // A second attach loads again (idempotent) and re-opens the comm.
    const again = await ShimClient.attach(runtime.session, { blobsDir });
    again.close();
    const first = await run(runtime, "print(sorted(n for n in globals() if not n.startswith('_')))");
    expect(first.count).toBe(1);
    expect(first.text).not.toMatch(/'sys'|nbrewind/);
    expect(shim.hello).toMatchObject({ protocol_version: 2, python: "3.11.7", task_key_scheme: 3 });
    expect(shim.hello!.pid).toBeGreaterThan(0);
  });

  it("ships the shim's source only when the kernel's file system has no intact copy of it", async () => {
    // A cache and temp folder of its own, so that no copy installed by another test counts.
    const cache = tempDir("nbrewind-shim-cache-");
    const tmp = tempDir("nbrewind-shim-tmp-");
    /** Attach to a fresh kernel; the sizes of the loaders sent, in order. */
    const attach = async (): Promise<number[]> => {
      // PYTHONDONTWRITEBYTECODE, as many container images set it: the shim's bytecode is written all the same.
      const rt = await JupyterRuntime.open({ python, rootDir: dir, env: { XDG_CACHE_HOME: cache, TMPDIR: tmp, PYTHONDONTWRITEBYTECODE: "1" } });
      const sent: number[] = [];
      try {
        const channel = kernelChannel(rt.session, 60_000);
        const client = await ShimClient.connect({ ...channel, loadShim: (code) => (sent.push(code.length), channel.loadShim(code)) }, { blobsDir });
        expect(client.hello?.pid).toBeGreaterThan(0);
        client.close();
      } finally {
        await rt.close();
      }
      return sent;
    };
    const { digest, code, installedCode } = shimPayload();
    expect(installedCode.length).toBeLessThan(code.length / 10);
    const installed = join(cache, "nbrewind-engine", "shim", digest.slice(0, 24));
    // Nothing installed: the small loader fails, the payload follows and is installed.
    expect(await attach()).toEqual([installedCode.length, code.length]);
    expect(existsSync(installed)).toBe(true);
    // Compiled once there, so that later kernels do not compile its modules at every load.
    const bytecode = join(installed, "engines", "python", "nbrewind", "__pycache__");
    expect(readdirSync(bytecode).filter((f) => /^kernel_shim\.cpython-\d+\.pyc$/.test(f))).toHaveLength(1);
    // Installed and intact: no payload.
    expect(await attach()).toEqual([installedCode.length]);
    // Changed on disk: the digest check refuses it, the payload follows and the copy is written again.
    const file = join(installed, "engines", "python", "nbrewind", "__init__.py");
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original + "\nraise SystemExit('tampered')\n");
    expect(await attach()).toEqual([installedCode.length, code.length]);
    expect(readFileSync(file, "utf8")).toBe(original);
  });

  it("describes the kernel's environment", async () => {
    const env = await shim.environment();
    expect(env.python.version).toBe("3.11.7");
    expect(env.python.executable).toContain(dirname(dirname(python)));
    expect(env.packages).toHaveProperty("ipykernel");
    expect(env.packages).toHaveProperty("numpy");
    expect(env.engines.dask).toMatch(/^\d+\./);
    expect(env.platform.system).toBe("Linux");
  });

  it("stores what a cell binds, content-addressed, and reports unchanged, mutated and deleted names", async () => {
    const bound = await cell("x = 1\ny = [1, 2]", ["x", "y"]);
    const x = entry(bound, "x");
    const y = entry(bound, "y");
    expect(x).toMatchObject({ status: "stored", type: "builtins.int" });
    expect(y).toMatchObject({ status: "stored", type: "builtins.list" });
    for (const digest of [digestOf(x), digestOf(y)]) {
      const file = blobPath(blobsDir, digest);
      expect(createHash("sha256").update(readFileSync(file)).digest("hex")).toBe(digest);
    }

    const appended = await cell("y.append(3)", ["y"]);
    expect(entry(appended, "y").status).toBe("stored");
    expect(digestOf(entry(appended, "y"))).not.toBe(digestOf(y));

    const read = await cell("print(x)", ["x"]);
    expect(entry(read, "x")).toEqual({ status: "unchanged", digest: digestOf(x), size: (x as { size: number }).size, type: "builtins.int", reaches_engines: [] });

    const deleted = await cell("del x", ["x"]);
    expect(deleted.names).toEqual({ x: { status: "deleted" } });

    // A candidate that never existed (and still does not) is not reported.
    const never = await cell("pass", ["never_bound"]);
    expect(never.names).toEqual({});
  });

  it("catches a binding the static facts missed (runtime net), and examines everything for an opaque cell", async () => {
    const dynamic = await cell("globals()['z'] = 5", []);
    expect(entry(dynamic, "z")).toMatchObject({ status: "stored", type: "builtins.int" });
    const opaque = await cell("pass", [], true);
    expect(Object.keys(opaque.names).sort()).toEqual(["y", "z"]);
    expect(entry(opaque, "z").status).toBe("unchanged");
  });

  it("answers a request sent while a cell runs only after that cell finished (shell channel order)", async () => {
    await shim.preCell("slow");
    const running = executeCell(runtime.session, "import time\ntime.sleep(0.5)\nlate = 'after the sleep'", { registry });
    const reply = await shim.postCell("slow", ["late"], false);
    expect(entry(reply, "late")).toMatchObject({ status: "stored", type: "builtins.str" });
    expect((await running).status).toBe("ok");
  });

  it("records live handles as unserialisable, with the reason", async () => {
    const handles = await cell(
      ["import threading", `f = open(${JSON.stringify(join(dir, "open.txt"))}, "w")`, "lock = threading.Lock()", "gen = (i for i in range(3))", "class Unpicklable:", "    def __reduce__(self): raise TypeError('no, thanks')", "u = Unpicklable()"].join("\n"),
      ["f", "lock", "gen", "u"],
    );
    expect(entry(handles, "f")).toEqual({ status: "unserialisable", type: "_io.TextIOWrapper", reason: "_io.TextIOWrapper: an open file" });
    expect(entry(handles, "lock")).toMatchObject({ status: "unserialisable", type: "_thread.lock", reason: expect.stringMatching(/thread synchronisation/) });
    expect(entry(handles, "gen")).toMatchObject({ status: "unserialisable", reason: expect.stringMatching(/generator/) });
    expect(entry(handles, "u")).toMatchObject({ status: "unserialisable", reason: expect.stringMatching(/TypeError: no, thanks/) });
    // A module is pickled by reference: restoring it re-imports it.
    expect(entry(handles, "threading")).toMatchObject({ status: "stored", type: "builtins.module" });
    await run(runtime, "f.close()");
  });

  it("says which engines a stored value reaches: a lazy collection or a function calling an engine does, gathered results do not", async () => {
    const values = await cell("import dask\nlazy = dask.delayed(sum)([1, 2])\ngathered = {'totals': [3.0, 4.0], 'label': 'x'}\ndef go():\n    return dask.compute(lazy)", ["lazy", "gathered", "go"]);
    expect(entry(values, "lazy")).toMatchObject({ status: "stored", reaches_engines: ["dask"] });
    expect(entry(values, "go")).toMatchObject({ status: "stored", reaches_engines: ["dask"] });
    expect(entry(values, "gathered")).toMatchObject({ status: "stored", reaches_engines: [] });
  });

  it("records a Dask Client as unserialisable", async () => {
    const dask = await cell(
      "from dask.distributed import Client, LocalCluster\nc = Client(LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None))",
      ["c", "Client", "LocalCluster"],
    );
    try {
      expect(entry(dask, "c")).toMatchObject({ status: "unserialisable", type: "distributed.client.Client", reason: expect.stringMatching(/Client: holds live connections to a scheduler/) });
      expect(entry(dask, "Client").status).toBe("stored"); // the class itself, by reference
    } finally {
      await run(runtime, "c.close(); c.cluster.close()");
    }
  });

  it("round-trips a 50 MB array and a DataFrame into a fresh kernel, zero-copy and verified", async () => {
    const made = await cell(
      [
        "import hashlib, numpy as np, pandas as pd",
        "a = np.random.default_rng(0).random(50 * 2**20 // 8)",
        "df = pd.DataFrame({'k': ['a', 'b', 'c'], 'v': [1.5, 2.5, None]})",
        "print(hashlib.sha256(a.tobytes()).hexdigest(), df.to_json())",
      ].join("\n"),
      ["a", "df", "hashlib", "np", "pd"],
    );
    const fingerprint = (await run(runtime, "print(hashlib.sha256(a.tobytes()).hexdigest(), df.to_json())")).text;
    const a = entry(made, "a");
    expect(a).toMatchObject({ status: "stored", type: "numpy.ndarray" });
    expect((a as { size: number }).size).toBeGreaterThan(50 * 2 ** 20);
    const storeS = (a as { serialise_s: number }).serialise_s;
    console.log(`shim: stored a 50 MB float64 array in ${(storeS * 1000).toFixed(1)} ms (post_cell total ${(made.elapsed_s * 1000).toFixed(1)} ms)`);
    // Reported for the run log (its speed is a bench's business, not a test's: shared machines are noisy).
    expect(storeS).toBeGreaterThan(0);
    expect(storeS).toBeLessThanOrEqual(made.elapsed_s);
    const unchanged = await cell("print(a.shape)", ["a"]);
    expect(entry(unchanged, "a")).toMatchObject({ status: "unchanged", digest: digestOf(a) });

    // The fresh kernel reads from another store, the way a moved bundle would be.
    const otherBlobs = join(dir, "elsewhere", "blobs");
    for (const d of [digestOf(a), digestOf(entry(made, "df"))]) {
      mkdirSync(dirname(blobPath(otherBlobs, d)), { recursive: true });
      copyFileSync(blobPath(blobsDir, d), blobPath(otherBlobs, d));
    }
    const fresh = await JupyterRuntime.open({ python, rootDir: dir });
    const client = await ShimClient.attach(fresh.session, { blobsDir: otherBlobs });
    try {
      const restored = await client.restore({ a: digestOf(a), df: digestOf(entry(made, "df")) });
      expect(Object.keys(restored.restored).sort()).toEqual(["a", "df"]);
      console.log(`shim: restored the 50 MB array in ${(restored.restored.a!.load_s * 1000).toFixed(1)} ms`);
      expect((await run(fresh, "import hashlib\nprint(hashlib.sha256(a.tobytes()).hexdigest(), df.to_json())")).text).toBe(fingerprint);
      // Restored arrays are writable views of the blob read into memory, not read-only copies.
      expect((await run(fresh, "print(a.flags.writeable, a.base is not None)")).text).toBe("True True\n");
      // The restored digest is the baseline: untouched means unchanged, nothing written.
      const after = await cell("print(len(a))", ["a", "df"], false, client, fresh);
      expect(entry(after, "a")).toMatchObject({ status: "unchanged", digest: digestOf(a) });
      expect(entry(after, "df").status).toBe("unchanged");

      // One flipped byte in a blob: refused, naming the value, the digest and the file.
      const y = digestOf(entry(await cell("y = list(range(1000))", ["y"]), "y"));
      const bytes = readFileSync(blobPath(blobsDir, y));
      const at = bytes.length - 5;
      bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
      mkdirSync(dirname(blobPath(otherBlobs, y)), { recursive: true });
      writeFileSync(blobPath(otherBlobs, y), bytes);
      const corrupt = client.restore({ y });
      await expect(corrupt).rejects.toBeInstanceOf(ShimBlobError);
      await expect(corrupt).rejects.toThrow(`blob ${y} for \`y\` is corrupt (sha256 mismatch): ${blobPath(otherBlobs, y)}`);
      const gone = "0".repeat(64);
      await expect(client.restore({ w: gone })).rejects.toThrow(`blob ${gone} for \`w\` is missing: ${blobPath(otherBlobs, gone)}`);
      expect((await run(fresh, "print('y' in globals(), 'w' in globals())")).text).toBe("False False\n");
    } finally {
      client.close();
      await fresh.close();
    }
  });

  it("answers a protocol mistake with a ShimError, and keeps serving", async () => {
    await expect(shim.postCell("no-such-cell", [], false)).rejects.toBeInstanceOf(ShimError);
    await expect(shim.postCell("no-such-cell", [], false)).rejects.toThrow(/without a pre_cell/);
    expect(existsSync(join(blobsDir, "tmp"))).toBe(true);
    // A client of another protocol version is refused by name.
    const mismatch = await run(
      runtime,
      "from nbrewind.kernel_shim import _session as _s\nprint(_s.handle({'type': 'hello', 'request_id': 'r', 'protocol_version': 3, 'blobs_dir': '/tmp', 'hashing_scheme': 1})['error']['message'])",
    );
    expect(mismatch.text).toMatch(/protocol version mismatch: the client speaks 3, this nbrewind shim \(.*\) speaks 2/);
    const env = await shim.environment();
    expect(env.engines.distributed).toMatch(/^\d+\./);
  });
});
