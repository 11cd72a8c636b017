import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { outputText, readJson, runCli, runtimeDirOf, tempDir, writeNotebookFile } from "./cli-harness.js";

/**
 * The kernel a command launches itself (the default: no Jupyter server). Its
 * connection file and HMAC key are the user's alone and on no command line,
 * and gone afterwards; a kernelspec from JUPYTER_PATH is launched with its own
 * env and interrupted the way it asks (interrupt_mode "message": over the
 * control channel); a kernel that cannot start is reported with what it said.
 * The embedded-server path stays reachable and records the same bundle.
 */
const python = process.env.NBREWIND_TEST_PYTHON!;
const dir = tempDir("nbrewind-direct-kernel-");
const jupyterPath = join(dir, "jupyter");

function kernelspec(name: string, spec: Record<string, unknown>): void {
  mkdirSync(join(jupyterPath, "kernels", name), { recursive: true });
  writeFileSync(join(jupyterPath, "kernels", name, "kernel.json"), JSON.stringify({ display_name: name, language: "python", ...spec }));
}

describe("a kernel launched directly", () => {
  it("keeps its connection file 0600 in a 0700 folder, its key off every command line, starts no server, and leaves nothing behind", async () => {
    const go = join(dir, "go");
    // The cell waits until the test has looked at the running kernel.
    const nb = writeNotebookFile(dir, "wait.ipynb", [{ source: `import os, time\nwhile not os.path.exists(${JSON.stringify(go)}):\n    time.sleep(0.05)\nprint('went')` }]);
    const probe = randomUUID();
    let runtime = "";
    let checked: Promise<void> | undefined;
    const res = await runCli(["run", nb, "-q", "--json"], {
      env: { PROBE: probe },
      onSpawn: () => {
        checked = (async () => {
          runtime = await runtimeDirOf(probe);
          const connection = readdirSync(runtime).find((f) => /^kernel-.*\.json$/.test(f))!;
          const info = JSON.parse(readFileSync(join(runtime, connection), "utf8")) as { key: string; ip: string; signature_scheme: string };
          expect(info).toMatchObject({ ip: "127.0.0.1", signature_scheme: "hmac-sha256" });
          expect(info.key.length).toBeGreaterThanOrEqual(32);
          expect(statSync(runtime).mode & 0o777).toBe(0o700);
          expect((statSync(join(runtime, connection)).mode & 0o777).toString(8)).toBe("600");
          const commandLines = execFileSync("ps", ["-eo", "args"], { encoding: "utf8", maxBuffer: 64 << 20 });
          expect(commandLines).toContain(join(runtime, connection));
          expect(commandLines).not.toContain(info.key);
          // Nothing of this run is a Jupyter server.
          const ours = execFileSync("sh", ["-c", `grep -l ${probe} /proc/[0-9]*/environ 2>/dev/null | sed 's#/environ#/cmdline#' | xargs -r cat | tr '\\0' ' '`], { encoding: "utf8" });
          expect(ours).toContain("ipykernel_launcher");
          expect(ours).not.toContain("jupyter_server");
        })().finally(() => writeFileSync(go, ""));
      },
    });
    await checked;
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ server: "none", kernel: "python3", status: "ok" });
    expect(res.survivors).toEqual([]);
    expect(existsSync(runtime)).toBe(false);
  });

  it("starts ipykernel without its debugger (a batch run attaches none); a cell can still import debugpy, and the kernel is otherwise the usual one", async () => {
    // The same launcher module, started as given (an option before -m keeps our command line off it).
    kernelspec("as-given", { argv: [python, "-u", "-m", "ipykernel_launcher", "-f", "{connection_file}"] });
    const nb = writeNotebookFile(dir, "debugger.ipynb", [
      { source: "import sys\nprint('debugpy loaded at start:', 'debugpy' in sys.modules)\nprint(sys.path[:3], sys.argv[1:2], __name__)" },
      { source: "import debugpy, ipykernel.debugger\nprint('import works:', debugpy.__name__, '| ipykernel debugger:', ipykernel.debugger._is_debugpy_available)" },
      { source: "def f(x):\n    return x + 1\nimport cloudpickle\nprint('pickled by value:', f.__module__, cloudpickle.loads(cloudpickle.dumps(f))(1))" },
    ]);
    const run = async (kernel: string) => {
      const out = join(dir, `debugger.${kernel}.ipynb`);
      const res = await runCli(["run", nb, "-o", out, "-k", kernel, "-q"], { env: { JUPYTER_PATH: jupyterPath } });
      expect(res.code, res.stderr).toBe(0);
      return readJson(out).cells.map((c: any) => outputText(c).split("\n"));
    };
    const batch = await run("python3");
    const usual = await run("as-given");
    expect(batch[0][0]).toBe("debugpy loaded at start: False");
    expect(usual[0][0]).toBe("debugpy loaded at start: True");
    expect(batch[0][1]).toBe(usual[0][1]);
    expect(batch[1][0]).toBe("import works: debugpy | ipykernel debugger: False");
    expect(batch[2]).toEqual(usual[2]);
    expect(batch[2][0]).toBe("pickled by value: __main__ 2");
  });

  it("exits as a usual kernel does, only sooner: an unclosed file, a file held in a reference cycle and the user's atexit handler are all written", async () => {
    kernelspec("usual", { argv: [python, "-u", "-m", "ipykernel_launcher", "-f", "{connection_file}"] });
    const written = async (kernel: string) => {
      const folder = join(dir, `exit-${kernel}`);
      mkdirSync(folder, { recursive: true });
      const at = (name: string) => JSON.stringify(join(folder, name));
      const nb = writeNotebookFile(folder, "exit.ipynb", [
        { source: `f = open(${at("plain.txt")}, "w")\nf.write("plain")` },
        { source: `class Holder:\n    pass\nh = Holder()\nh.me = h\nh.f = open(${at("cycle.txt")}, "w")\nh.f.write("in a cycle")` },
        { source: `import atexit\natexit.register(lambda: open(${at("atexit.txt")}, "w").write("at exit"))` },
      ]);
      const res = await runCli(["run", nb, "-k", kernel, "-q"], { env: { JUPYTER_PATH: jupyterPath } });
      expect(res.code, res.stderr).toBe(0);
      expect(res.survivors).toEqual([]);
      return Object.fromEntries(["plain.txt", "cycle.txt", "atexit.txt"].map((n) => [n, existsSync(join(folder, n)) ? readFileSync(join(folder, n), "utf8") : null]));
    };
    const expected = { "plain.txt": "plain", "cycle.txt": "in a cycle", "atexit.txt": "at exit" };
    expect(await written("usual")).toEqual(expected);
    expect(await written("python3")).toEqual(expected);
  });

  it("starts a JUPYTER_PATH kernelspec with its env, and interrupts it over the control channel when it asks for interrupt_mode 'message'", async () => {
    kernelspec("by-message", {
      argv: [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      interrupt_mode: "message",
      env: { SPEC_SAYS: "from the spec, HOME=${HOME}" },
    });
    const nb = writeNotebookFile(dir, "interrupt.ipynb", [{ source: "import os\nprint(os.environ['SPEC_SAYS'])" }, { source: "import time\ntime.sleep(120)" }]);
    const out = join(dir, "interrupt.out.ipynb");
    const res = await runCli(["run", nb, "-o", out, "-k", "by-message", "--cell-timeout", "3", "-q"], { env: { JUPYTER_PATH: jupyterPath } });
    expect(res.code, res.stderr).toBe(1);
    expect(res.survivors).toEqual([]);
    const written = readJson(out);
    expect(outputText(written.cells[0])).toBe(`from the spec, HOME=${process.env.HOME}\n`);
    expect(written.cells[1].outputs.at(-1)).toMatchObject({ output_type: "error", ename: "CellTimeoutError" });
  });

  it("that cannot start is an infrastructure failure (exit 3) that shows what the kernel printed", async () => {
    kernelspec("broken", { argv: [python, "-c", "import sys; print('no kernel in here', file=sys.stderr); sys.exit(7)"] });
    const nb = writeNotebookFile(dir, "broken.ipynb", [{ source: "print(1)" }]);
    const res = await runCli(["run", nb, "-k", "broken"], { env: { JUPYTER_PATH: jupyterPath } });
    expect(res.code).toBe(3);
    expect(res.stderr).toContain("kernel 'broken' exited while starting");
    expect(res.stderr).toContain("no kernel in here");
    expect(res.survivors).toEqual([]);
  });
});

describe("--kernel-transport server", () => {
  it("still audits on an embedded Jupyter server, and a repeat on a directly launched kernel reuses what it recorded", async () => {
    const nb = writeNotebookFile(dir, "both.ipynb", [
      { id: "a", source: "a = [i * i for i in range(5)]" },
      { id: "b", source: "print(sum(a))" },
    ]);
    const audit = await runCli(["audit", nb, "--kernel-transport", "server", "--json"]);
    expect(audit.code, audit.stderr).toBe(0);
    expect(audit.stderr).toContain("starting an embedded Jupyter server");
    expect(JSON.parse(audit.stdout)).toMatchObject({ server: "embedded" });
    expect(audit.survivors).toEqual([]);

    writeNotebookFile(dir, "both.ipynb", [
      { id: "a", source: "a = [i * i for i in range(5)]" },
      { id: "b", source: "print(sum(a), 'squared')" },
    ]);
    const out = join(dir, "both.repeat.ipynb");
    const repeat = await runCli(["repeat", nb, "-o", out, "--json"]);
    expect(repeat.code, repeat.stderr).toBe(0);
    expect(repeat.stderr).not.toContain("embedded Jupyter server");
    expect(JSON.parse(repeat.stdout)).toMatchObject({ server: "none", counts: { reused: 1, run: 1 } });
    expect(outputText(readJson(out).cells[1])).toBe("30 squared\n");
    expect(repeat.survivors).toEqual([]);
  });
});
