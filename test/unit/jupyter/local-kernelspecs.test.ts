import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findLocalKernelSpecs, kernelSearchDirs, launchCommand, specEnvironment, batchKernelCommand } from "../../../src/jupyter/local-kernelspecs.js";

const root = mkdtempSync(join(tmpdir(), "nbrewind-kernelspecs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A venv-shaped interpreter folder: ROOT/NAME/bin/python and its pyvenv.cfg. */
function venv(name: string): string {
  mkdirSync(join(root, name, "bin"), { recursive: true });
  writeFileSync(join(root, name, "pyvenv.cfg"), "home = /usr/bin\n");
  writeFileSync(join(root, name, "bin", "python"), "");
  return join(root, name, "bin", "python");
}

function spec(dataDir: string, name: string, json: unknown): void {
  mkdirSync(join(dataDir, "kernels", name), { recursive: true });
  writeFileSync(join(dataDir, "kernels", name, "kernel.json"), typeof json === "string" ? json : JSON.stringify(json));
}

describe("the kernelspecs a directly launched kernel is chosen from", () => {
  const python = venv("env");
  const user = join(root, "user");
  const extra = join(root, "extra");
  const env = { JUPYTER_DATA_DIR: user, JUPYTER_PATH: extra };

  it("are searched as jupyter_core does for a venv: JUPYTER_PATH, the env's prefix, the user's folder, the system's", () => {
    expect(kernelSearchDirs(python, env).slice(0, 3)).toEqual([join(extra, "kernels"), join(root, "env", "share", "jupyter", "kernels"), join(user, "kernels")]);
    expect(kernelSearchDirs(python, { ...env, JUPYTER_PREFER_ENV_PATH: "0" }).slice(1, 3)).toEqual([join(user, "kernels"), join(root, "env", "share", "jupyter", "kernels")]);
  });

  it("list the first spec of each name, and python3 on the managed interpreter when none is installed", () => {
    spec(extra, "Dask-Env", { argv: ["/opt/dask/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"], display_name: "Dask", language: "python", interrupt_mode: "message", env: { OMP_NUM_THREADS: "1", PATH: "/opt/dask/bin:${PATH}" } });
    spec(user, "dask-env", { argv: ["shadowed"], display_name: "never", language: "python" });
    const specs = findLocalKernelSpecs(python, env);
    expect(specs.map((s) => s.name)).toEqual(["dask-env", "python3"]);
    expect(specs[0]).toMatchObject({ displayName: "Dask", interruptMode: "message", dir: join(extra, "kernels", "Dask-Env") });
    expect(specs[1]).toMatchObject({ argv: [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"], interruptMode: "signal", dir: undefined });
  });

  it("build the command line and environment as jupyter_client does", () => {
    const [dask, python3] = findLocalKernelSpecs(python, env);
    expect(launchCommand(dask!, python, "/run/k.json")).toEqual(["/opt/dask/bin/python", "-m", "ipykernel_launcher", "-f", "/run/k.json"]);
    // A bare `python` in a kernelspec is the interpreter the server would run on: the managed one.
    expect(launchCommand({ ...python3!, argv: ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}", "--dir={resource_dir}"], dir: "/specs/p" }, python, "/run/k.json")).toEqual([python, "-m", "ipykernel_launcher", "-f", "/run/k.json", "--dir=/specs/p"]);
    expect(specEnvironment(dask!, { PATH: "/usr/bin", HOME: "/h" })).toEqual({ PATH: "/opt/dask/bin:/usr/bin", HOME: "/h", OMP_NUM_THREADS: "1" });
  });

  it("run ipykernel's launcher module without its debugger and with the quick exit, and leave any other command line as it is", () => {
    const batch = batchKernelCommand(["/env/bin/python", "-m", "ipykernel_launcher", "-f", "/run/k.json"]);
    expect(batch.slice(0, 2)).toEqual(["/env/bin/python", "-c"]);
    expect(batch[2]).toContain("sys.modules['debugpy'] = None");
    // Registered before ipykernel and IPython register theirs: it runs after them.
    expect(batch[2]!.indexOf("atexit.register(_nbrewind_last_at_exit)")).toBeLessThan(batch[2]!.indexOf("runpy.run_module"));
    expect(batch[2]).toContain("runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)");
    expect(batch.slice(3)).toEqual(["-f", "/run/k.json"]);
    for (const other of [
      ["/env/bin/python", "-m", "other_kernel", "-f", "/run/k.json"],
      ["/env/bin/python", "-X", "frozen_modules=off", "-m", "ipykernel_launcher", "-f", "/run/k.json"],
      ["/opt/wrapper.sh", "-f", "/run/k.json"],
    ]) {
      expect(batchKernelCommand(other)).toEqual(other);
    }
  });

  it("keep a broken kernelspec in the list with its problem, naming the file and the field (an error only if it is chosen)", () => {
    const broken = join(root, "broken");
    const problemOf = () => findLocalKernelSpecs(python, { JUPYTER_DATA_DIR: user, JUPYTER_PATH: broken }).find((s) => s.name === "bad")?.problem;
    spec(broken, "bad", { argv: [], display_name: "Bad" });
    expect(problemOf()).toBe(`${join(broken, "kernels", "bad", "kernel.json")}: argv must be a non-empty list of strings`);
    spec(broken, "bad", { argv: ["x"], interrupt_mode: "sometimes" });
    expect(problemOf()).toMatch(/kernel\.json: interrupt_mode must be "signal" or "message", not "sometimes"$/);
    spec(broken, "bad", "{ not json");
    expect(problemOf()).toMatch(/kernel\.json: cannot read the kernelspec: /);
  });
});
