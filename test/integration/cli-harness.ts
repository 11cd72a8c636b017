import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processesMarkedWith } from "../../src/jupyter/process-sweep.js";

const BIN = join(import.meta.dirname, "..", "..", "bin", "nbrewind-engine.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Processes still alive afterwards that descend from this CLI run (must be none). */
  survivors: number[];
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Called once the child is spawned, e.g. to send it a signal later. */
  onSpawn?: (child: ReturnType<typeof spawn>, output: { stderr: () => string }) => void;
}

/**
 * Run the built CLI as a user would. Every run carries a unique marker in its
 * environment, which every process it starts inherits (server, kernel, engine
 * workers), so afterwards we can ask /proc whether any of them survived.
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const marker = randomUUID();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env, NBREWIND_TEST_MARK: marker },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  options.onSpawn?.(child, { stderr: () => stderr });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on("close", (c, s) => resolve([c, s])));
  // The CLI has exited: anything it started must be gone too. Give the kernel's
  // parent-death watcher a moment, as the OS would.
  let survivors = processesMarkedWith("NBREWIND_TEST_MARK", marker);
  for (let i = 0; i < 20 && survivors.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 250));
    survivors = processesMarkedWith("NBREWIND_TEST_MARK", marker);
  }
  return { code, signal, stdout, stderr, survivors };
}

export function tempDir(prefix = "nbrewind-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface CellSpec {
  source: string;
  type?: "code" | "markdown" | "raw";
  tags?: string[];
  id?: string;
}

/** Write a small nbformat 4.5 notebook and return its path. */
export function writeNotebookFile(dir: string, name: string, cells: CellSpec[], minor = 5): string {
  const nb = {
    nbformat: 4,
    nbformat_minor: minor,
    metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" }, language_info: { name: "python" } },
    cells: cells.map((c, i) => {
      const type = c.type ?? "code";
      const cell: Record<string, unknown> = { cell_type: type, metadata: c.tags ? { tags: c.tags } : {}, source: c.source };
      if (minor >= 5) cell.id = c.id ?? `cell-${i}`;
      if (type === "code") {
        cell.outputs = [];
        cell.execution_count = null;
      }
      return cell;
    }),
  };
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(nb, null, 1));
  return path;
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

/** All text of a cell's outputs, for assertions that read like what a user sees. */
export function outputText(cell: any): string {
  return (cell.outputs ?? [])
    .map((o: any) => {
      const join = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v ?? ""));
      if (o.output_type === "stream") return join(o.text);
      if (o.output_type === "error") return `${o.ename}: ${o.evalue}`;
      return join(o.data?.["text/plain"]);
    })
    .join("");
}

/** The runtime folder (JUPYTER_RUNTIME_DIR) of the run whose processes carry PROBE=id, once a kernel's connection file is in it. */
export async function runtimeDirOf(probe: string): Promise<string> {
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
