import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { processesMarkedWith } from "../../../src/jupyter/process-sweep.js";
import { runCli, tempDir } from "../cli-harness.js";

/**
 * A private Jupyter world for kernel tests: the NBRewind kernelspec installed
 * into a temporary prefix (never the user's Jupyter dirs), data and runtime
 * dirs of its own, and a marker every process it starts inherits, to find any
 * kernel process that outlived its test.
 */
export class KernelWorld {
  readonly dir = tempDir("nbrewind-kernel-test-");
  readonly prefix = join(this.dir, "prefix");
  readonly marker = randomUUID();
  readonly python = process.env.NBREWIND_TEST_PYTHON!;

  get env(): Record<string, string> {
    return {
      JUPYTER_PATH: join(this.prefix, "share", "jupyter"),
      JUPYTER_DATA_DIR: join(this.dir, "data"),
      JUPYTER_RUNTIME_DIR: join(this.dir, "runtime"),
      JUPYTER_CONFIG_DIR: join(this.dir, "config"),
      NBREWIND_TEST_MARK: this.marker,
    };
  }

  async install(): Promise<string> {
    mkdirSync(join(this.dir, "runtime"), { recursive: true });
    const res = await runCli(["kernel", "install", "--prefix", this.prefix, "--json"], { env: this.env });
    if (res.code !== 0) throw new Error(`kernel install failed: ${res.stderr}`);
    return (JSON.parse(res.stdout) as { dir: string }).dir;
  }

  /** `jupyter kernelspec list --json` as Jupyter itself sees it with this world's paths. */
  jupyterKernelspecs(): Record<string, { resource_dir: string; spec: { display_name: string; argv: string[] } }> {
    const out = execFileSync(this.python, ["-m", "jupyter", "kernelspec", "list", "--json"], { env: { ...process.env, ...this.env }, encoding: "utf8" });
    return (JSON.parse(out) as { kernelspecs: Record<string, { resource_dir: string; spec: { display_name: string; argv: string[] } }> }).kernelspecs;
  }

  /** Kernel processes (ours or the ipykernel inside) started in this world and still alive, after a grace period. */
  async survivingKernels(): Promise<string[]> {
    const find = () =>
      processesMarkedWith("NBREWIND_TEST_MARK", this.marker)
        .map((pid) => {
          try {
            return `${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()}`;
          } catch {
            return "";
          }
        })
        .filter((line) => /kernel\/main\.js|ipykernel_launcher/.test(line));
    let alive = find();
    for (let i = 0; i < 40 && alive.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      alive = find();
    }
    return alive;
  }
}
