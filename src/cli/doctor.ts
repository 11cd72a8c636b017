import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode, InputError } from "../common/errors.js";
import { packageRoot } from "../common/package-root.js";
import { BASE_IMAGE_ENV, chooseBaseImage, defaultBaseImage, ENGINE_FIX, findEngine, imageId } from "../container/index.js";
import { installedAdapters } from "../engines/catalog.js";
import { engineSupport, rangeText } from "../engines/support.js";
import { findTaskVine } from "../engines/taskvine-install.js";
import { EmbeddedServer } from "../jupyter/embedded-server.js";
import { probeKernelEnvironment } from "../jupyter/kernel-probe.js";
import { chooseKernelSpec, listKernelSpecs } from "../jupyter/kernel-session.js";
import { normaliseServerUrl, type ServerEndpoint } from "../jupyter/server-endpoint.js";
import { findKernelSpecs } from "../kernel/kernelspec.js";
import { basePython, ensureManagedEnv, findManagedEnv, lockDigest, managedEnvDir } from "../pyenv/managed-env.js";
import { installedVersions, topLevelPins } from "../pyenv/package-versions.js";
import { parseArgs } from "./args.js";
import type { Command, CommandIO } from "./command.js";
import { type EngineVerdict, kernelChecks, probedDistributions } from "./kernel-support.js";

interface Check {
  name: string;
  ok: boolean;
  found: string;
  fix?: string;
  /** Needed only by some commands (a container engine, for replay --container): reported, but does not fail doctor. */
  optional?: boolean;
  /** Works, with a caveat worth reading (an engine that runs unmemoized). */
  warn?: boolean;
}

async function doctor(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("doctor", argv, [
    { name: "fix", arity: 0 },
    { name: "json", arity: 0 },
    { name: "kernel", short: "k", arity: 1 },
    { name: "server-url", arity: 1, env: "JUPYTER_SERVER_URL" },
    { name: "token", arity: 1, env: "JUPYTER_TOKEN" },
  ]);
  const kernel = args.values.get("kernel");
  const serverUrl = args.values.get("server-url");
  let engines: EngineVerdict[] | undefined;
  const checks: Check[] = [];
  const nodeMajor = Number(process.versions.node.split(".")[0]);
  checks.push({ name: "Node.js", ok: nodeMajor >= 20, found: `v${process.versions.node}`, fix: "install Node.js 20 or newer" });

  const python = basePython();
  const probe = spawnSync(python, ["-c", "import sys, venv; print(sys.version.split()[0], sys.executable)"], { encoding: "utf8" });
  const pythonOk = probe.status === 0;
  checks.push({
    name: "Python (base)",
    ok: pythonOk,
    found: pythonOk ? probe.stdout.trim() : `'${python}' not usable: ${(probe.stderr || String(probe.error?.message ?? "")).trim().split("\n").pop()}`,
    fix: "install CPython 3.11 with venv (apt-get install python3 python3-venv), or set NBREWIND_PYTHON",
  });

  let env = pythonOk ? findManagedEnv() : undefined;
  if (pythonOk && !env && args.flags.has("fix")) env = await ensureManagedEnv((l) => io.stderr.write(`  ${l}\n`));
  if (pythonOk) {
    const dir = managedEnvDir(lockDigest(python));
    checks.push({
      name: "Managed Python env",
      ok: Boolean(env),
      found: env ? `${env.dir} (pins ${env.lockDigest.slice(0, 12)})` : `missing: ${dir}`,
      fix: "nbrewind-engine doctor --fix   (or just run a notebook: it is created on first use)",
    });
  }

  const kernelspecs: string[] = [];
  if (kernel && serverUrl) {
    const token = args.values.get("token");
    if (!token) throw new InputError("--server-url needs --token (or JUPYTER_TOKEN)");
    engines = await kernelEnvironmentChecks({ baseUrl: normaliseServerUrl(serverUrl), token, embedded: false }, kernel, checks);
  }
  if (env) {
    const pins = topLevelPins();
    const installed = await installedVersions(env.python, [...pins.keys()]);
    for (const [name, want] of pins) {
      const have = installed.get(name) ?? null;
      checks.push({ name: `  ${name}`, ok: have === want, found: have ? `${have}${have === want ? "" : ` (pinned ${want})`}` : `not installed (pinned ${want})`, fix: "nbrewind-engine doctor --fix after removing the env folder" });
    }
    checks.push(fileHookCheck(env.python));
    const server = new EmbeddedServer({ python: env.python, rootDir: tmpdir() });
    const t0 = performance.now();
    try {
      const endpoint = await server.start();
      const startMs = performance.now() - t0;
      const specs = await listKernelSpecs(endpoint);
      kernelspecs.push(...specs.specs.map((s) => `${s.name} (${s.displayName})`));
      checks.push({ name: "Jupyter server", ok: true, found: `started on 127.0.0.1 and answered in ${(startMs / 1000).toFixed(1)} s` });
      checks.push({ name: "Kernelspecs", ok: specs.specs.length > 0, found: kernelspecs.join(", ") || "none", fix: "the managed env's ipykernel provides python3; check JUPYTER_PATH" });
      checks.push(nbrewindKernelCheck(env.python, new Set(specs.specs.map((s) => s.name))));
      if (kernel && !serverUrl) engines = await kernelEnvironmentChecks(endpoint, kernel, checks);
    } catch (err) {
      if (err instanceof InputError) throw err;
      checks.push({ name: "Jupyter server", ok: false, found: (err as Error).message, fix: "see the server log lines above; NBREWIND_DEBUG=1 shows more" });
    } finally {
      await server.stop();
    }
  }

  for (const { engine, path, present } of installedAdapters()) {
    const range = Object.entries(engineSupport().engines[engine.name]?.requires ?? {})
      .map(([name, r]) => `${name}${rangeText(r)}`)
      .join(", ");
    checks.push({ name: `${engine.title} task adapter`, ok: present, found: present ? `memoizes ${engine.intercepts} (${range})` : `missing: ${path}`, fix: "reinstall nbrewind-engine: its engines/ folder is incomplete" });
  }

  checks.push(taskVineCheck());
  checks.push(...(await containerChecks()));

  const ok = checks.every((c) => c.ok || c.optional);
  if (args.flags.has("json")) {
    io.stdout.write(JSON.stringify({ ok, checks: checks.map((c) => ({ ...c, name: c.name.trim() })), ...(engines ? { kernel, engines } : {}) }, null, 2) + "\n");
  } else {
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      io.stdout.write(`${c.warn ? "warn   " : c.ok ? "ok     " : c.optional ? "absent " : "MISSING"}  ${c.name.padEnd(width)}  ${c.found}\n`);
      if ((!c.ok || c.warn) && c.fix) io.stdout.write(`         ${"".padEnd(width)}  fix: ${c.fix}\n`);
    }
    const optionalAbsent = checks.some((c) => c.optional && !c.ok);
    io.stdout.write(!ok ? "\nSome parts are missing; see the fixes above.\n" : optionalAbsent ? "\nEverything nbrewind-engine needs is here; optional parts are absent (see above).\n" : "\nEverything nbrewind-engine needs is here.\n");
  }
  return ok ? ExitCode.ok : ExitCode.infrastructure;
}

/** The NBRewind kernel for JupyterLab (optional: the CLI works without it). */
function nbrewindKernelCheck(python: string, served: Set<string>): Check {
  const ours = findKernelSpecs(python).filter((s) => served.has(s.name));
  return ours.length > 0
    ? { name: "NBRewind kernelspec", ok: true, optional: true, found: ours.map((s) => `${s.name} (${s.spec.display_name}) in ${s.dir}`).join(", ") }
    : { name: "NBRewind kernelspec", ok: false, optional: true, found: "not installed (needed only to audit and repeat inside JupyterLab)", fix: "nbrewind-engine kernel install --user" };
}

/**
 * doctor -k: start the user's kernelspec, ask it what its environment holds,
 * and say what nbrewind-engine can do there. An unknown kernelspec is bad
 * input (exit 2); a kernel that does not start is a failed check.
 */
async function kernelEnvironmentChecks(endpoint: ServerEndpoint, kernel: string, checks: Check[]): Promise<EngineVerdict[] | undefined> {
  const { specs } = await listKernelSpecs(endpoint);
  chooseKernelSpec(specs, kernel, undefined);
  try {
    const env = await probeKernelEnvironment(endpoint, kernel, probedDistributions());
    const result = kernelChecks(kernel, env);
    checks.push(...result.checks);
    return result.engines;
  } catch (err) {
    checks.push({ name: `Kernel '${kernel}'`, ok: false, found: `does not start or answer: ${(err as Error).message}`, fix: "check the kernelspec's argv (jupyter kernelspec list) and that its environment has ipykernel" });
    return undefined;
  }
}

/**
 * Which audit hook observes files in the managed env's kernels: the C one
 * (built here on first use, as a kernel would) or the Python one, which
 * records the same files at a higher cost per `open`.
 */
function fileHookCheck(python: string): Check {
  const code = "import sys; sys.path.insert(0, sys.argv[1]); from nbrewind import native_hook; native_hook.load(True); print(native_hook.status())";
  const r = spawnSync(python, ["-c", code, join(packageRoot(), "engines", "python")], { encoding: "utf8", timeout: 180_000 });
  const status = r.status === 0 ? r.stdout.trim() : `unknown: ${(r.stderr || r.error?.message || "").trim().split("\n").pop()}`;
  return {
    name: "File observation hook",
    ok: status === "native",
    optional: true,
    found: status === "native" ? "C audit hook" : status,
    fix: "a C compiler and Python's headers for the kernel's Python (Debian: gcc, python3-dev); without them the Python hook records the same files, a little slower",
  };
}

/** TaskVine is optional: its adapter is active only in a kernel that imports ndcctools.taskvine. */
function taskVineCheck(): Check {
  const tv = findTaskVine();
  if (!tv.found) return { name: "TaskVine", ok: false, optional: true, found: tv.where, fix: "conda install -c conda-forge ndcctools, or scripts/taskvine.sh (a source build of cctools)" };
  const found = tv.builtPrefix
    ? `source build at ${tv.builtPrefix} (the kernel needs ${tv.builtPrefix}/bin on PATH and its lib/python3.X/site-packages on PYTHONPATH)`
    : `vine_worker in ${tv.where}`;
  // DaskVine is a separate matter: at cctools f4e3b63 it fails with dask 2026.8 before any task runs.
  const daskVine = "DaskVine is not memoized (at cctools f4e3b63 it fails with dask 2026.8.0: '_HLGExprSequence' object has no attribute 'items')";
  return { name: "TaskVine", ok: true, optional: true, found: `${found}; ${daskVine}` };
}

/** The container engine and base image that replay --container uses (optional). */
async function containerChecks(): Promise<Check[]> {
  const found = await findEngine();
  const need = " (needed only for replay --container)";
  if (!found.ok) {
    return [{ name: "Container engine", ok: false, optional: true, found: `none answers: ${found.tried.join("; ")}`, fix: ENGINE_FIX + need }];
  }
  const engine = found.engine;
  const checks: Check[] = [{ name: "Container engine", ok: true, optional: true, found: `${engine.version} at ${engine.where}` }];
  const base = chooseBaseImage();
  const id = await imageId(engine, base).catch(() => undefined);
  checks.push({
    name: "  base image",
    ok: Boolean(id),
    optional: true,
    found: id ? `${base} (${id.replace(/^sha256:/, "").slice(0, 12)})` : `${base} is not in the engine`,
    fix: base === defaultBaseImage() ? `bash scripts/container-engine.sh builds it${need}` : `pull or load ${base} into the engine, or unset ${BASE_IMAGE_ENV}${need}`,
  });
  return checks;
}

export const doctorCommand: Command = {
  name: "doctor",
  help: `Usage: nbrewind-engine doctor [--fix] [--json] [-k KERNEL [--server-url URL --token T]]

Print what nbrewind-engine found on this machine and what is missing, with
the fix for each: Node.js, the base Python, the managed Python environment
(pinned by engines/python/requirements.lock), every pinned package's
installed version, whether an embedded Jupyter server starts, the
kernelspecs it offers, and the engine adapters (task memoization) shipped;
and, for replay --container only (shown as 'absent', not failing the check),
whether a Docker-compatible container engine answers (DOCKER_HOST, Docker's
socket, podman's, or the one 'bash scripts/container-engine.sh' starts) and
has the base image.

With -k, also start that kernelspec (the one 'audit -k KERNEL' would use,
on the embedded server or on --server-url) and ask it what its environment
holds: the Python and packages the shim needs there (Python 3.10+,
ipykernel, cloudpickle), and per engine whether its tasks are memoized,
run unmemoized (a version outside the supported range, named), or the
engine is not installed. Unmemoized is a warning, not a failure: the
notebook runs exactly as without nbrewind-engine and cells are still
checkpointed.

Options:
  --fix                create the managed Python environment if it is missing
  --json               machine-readable result on stdout (with -k: engines[])
  -k, --kernel NAME    inspect this kernelspec's environment
  --server-url URL     the server that runs it (default: an embedded one)
  --token TOKEN        its token (env JUPYTER_TOKEN)

Exit code 0 when everything is in place, 2 for an unknown kernelspec, 3 otherwise.`,
  run: doctor,
};
