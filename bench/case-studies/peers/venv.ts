/**
 * The bench's own venv for the peers (Kishu, graphchain), created by the
 * bench under ~/.cache/nbrewind-engine/bench-peers-<digest>, never in the
 * managed env or its lock. It is a venv of the same interpreter whose
 * site-packages sees the managed env's through a .pth file: peers run on the
 * very Dask, Parsl, Ray, papermill and ipykernel versions nbrewind runs on,
 * and only the peers themselves are installed (constrained by the managed
 * lock, so nothing it pins is replaced). A kernelspec `nbrewind-bench-peers`
 * inside the venv starts its Python.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../../../src/common/cache-dir.js";
import { requirementsLockPath, type ManagedEnv } from "../../../src/pyenv/managed-env.js";
import { CASES_DIR } from "../workspace.js";

export const PEERS_KERNEL = "nbrewind-bench-peers";

export interface PeersEnv {
  dir: string;
  python: string;
  /** Per peer: installed, or why not (the installer's own words). */
  installed: Record<"kishu" | "graphchain", { ok: boolean; how: string }>;
}

const REQUIREMENTS = join(CASES_DIR, "peers", "requirements.txt");
const GRAPHCHAIN = join(CASES_DIR, "peers", "graphchain.txt");

function pip(python: string, dir: string, args: string[]): { ok: boolean; tail: string } {
  const r = spawnSync(python, ["-m", "pip", "install", "--disable-pip-version-check", "--prefix", dir, "-c", requirementsLockPath(), ...args], { encoding: "utf8" });
  const lines = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => l.trim());
  const errors = lines.filter((l) => /^ERROR/.test(l));
  return { ok: r.status === 0, tail: (errors.length ? errors : lines.slice(-2)).join(" | ").slice(0, 400) };
}

function pythonOf(dir: string): string {
  return join(dir, "bin", "python");
}

/** Create (once per pin set and managed env) and return the peers' venv. */
export function ensurePeersEnv(managed: ManagedEnv, log: (line: string) => void): PeersEnv {
  const digest = createHash("sha256").update(readFileSync(REQUIREMENTS)).update(readFileSync(GRAPHCHAIN)).update(managed.lockDigest).digest("hex").slice(0, 12);
  const dir = join(cacheRoot(), `bench-peers-${digest}`);
  const stamp = join(dir, "bench-peers.json");
  if (existsSync(stamp)) return { dir, python: pythonOf(dir), installed: (JSON.parse(readFileSync(stamp, "utf8")) as { installed: PeersEnv["installed"] }).installed };

  log(`creating the peers' venv ${dir} (once; Kishu and graphchain, pinned in bench/case-studies/peers/)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const venv = spawnSync(managed.python, ["-m", "venv", "--without-pip", dir], { encoding: "utf8" });
  if (venv.status !== 0) throw new Error(`cannot create the peers' venv ${dir}: ${venv.stderr}`);
  const site = spawnSync(managed.python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).stdout.trim();
  const ownSite = spawnSync(pythonOf(dir), ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).stdout.trim();
  writeFileSync(join(ownSite, "nbrewind-managed-env.pth"), site + "\n");

  const python = pythonOf(dir);
  const installed: PeersEnv["installed"] = { kishu: { ok: false, how: "" }, graphchain: { ok: false, how: "" } };
  const base = pip(python, dir, ["-r", REQUIREMENTS]);
  installed.kishu = { ok: base.ok, how: base.ok ? "kishu==0.3.4 as declared" : `pip refused: ${base.tail}` };
  const declared = pip(python, dir, ["-r", GRAPHCHAIN]);
  if (declared.ok) installed.graphchain = { ok: true, how: "graphchain==1.4.0 as declared" };
  else {
    const forced = pip(python, dir, ["--no-deps", "--ignore-requires-python", "-r", GRAPHCHAIN]);
    installed.graphchain = {
      ok: forced.ok,
      how: `as declared, pip refused: ${declared.tail}; ${forced.ok ? "installed with --no-deps --ignore-requires-python" : `forced install failed too: ${forced.tail}`}`,
    };
  }
  const kernels = join(dir, "share", "jupyter", "kernels", PEERS_KERNEL);
  mkdirSync(kernels, { recursive: true });
  writeFileSync(join(kernels, "kernel.json"), JSON.stringify({ argv: [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"], display_name: "Python 3 (nbrewind bench peers)", language: "python" }, null, 1) + "\n");
  writeFileSync(stamp, JSON.stringify({ installed, createdAt: new Date().toISOString() }, null, 1) + "\n");
  return { dir, python, installed };
}
