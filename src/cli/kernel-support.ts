import { engineSupport, rangeText, versionProblem } from "../engines/support.js";
import { ENGINES } from "../engines/catalog.js";
import type { KernelEnvironment } from "../jupyter/kernel-probe.js";

/** One line of doctor -k: what a user's kernel environment gets from nbrewind-engine. */
export interface KernelCheck {
  name: string;
  ok: boolean;
  found: string;
  fix?: string;
  /** Shown as a warning: works, but without memoization for this engine. */
  warn?: boolean;
}

export interface EngineVerdict {
  engine: string;
  status: "memoized" | "unmemoized" | "not-installed";
  versions: Record<string, string>;
  reason?: string;
}

/** Every distribution the probe must ask the kernel about. */
export function probedDistributions(): string[] {
  const support = engineSupport();
  const names = new Set<string>(Object.keys(support.kernel.requires));
  for (const engine of Object.values(support.engines)) for (const name of Object.keys(engine.requires)) names.add(name);
  return [...names];
}

/** Per engine: memoized, runs unmemoized (version X outside range Y), or not installed. */
export function engineVerdicts(env: KernelEnvironment): EngineVerdict[] {
  const support = engineSupport();
  return Object.entries(support.engines).map(([engine, spec]) => {
    const versions: Record<string, string> = {};
    for (const name of Object.keys(spec.requires)) {
      const v = env.packages[name];
      if (v) versions[name] = v;
    }
    const main = Object.keys(spec.requires).find((n) => !spec.optional.includes(n))!;
    if (!versions[main]) return { engine, status: "not-installed", versions };
    const problem = versionProblem(spec.requires, env.packages, spec.optional);
    return problem ? { engine, status: "unmemoized", versions, reason: problem } : { engine, status: "memoized", versions };
  });
}

/** doctor -k's lines for one kernel: what the shim needs, then each engine's verdict. */
export function kernelChecks(kernel: string, env: KernelEnvironment): { checks: KernelCheck[]; engines: EngineVerdict[] } {
  const support = engineSupport();
  const checks: KernelCheck[] = [];
  const pyOk = versionProblem({ python: { min: support.kernel.python, below: null } }, { python: env.python }) === undefined;
  checks.push({ name: `Kernel '${kernel}'`, ok: pyOk, found: `Python ${env.python} at ${env.executable}`, fix: `the shim needs Python ${support.kernel.python} or newer in the kernel's environment` });
  for (const [name, range] of Object.entries(support.kernel.requires)) {
    const problem = versionProblem({ [name]: range }, env.packages);
    checks.push({
      name: `  ${name}`,
      ok: !problem,
      found: problem ?? `${env.packages[name]} (needs ${rangeText(range)})`,
      fix: `install it in the kernel's environment: ${env.executable} -m pip install '${name}${rangeText(range)}'`,
    });
  }
  const engines = engineVerdicts(env);
  for (const verdict of engines) {
    const title = ENGINES.find((e) => e.name === verdict.engine)?.title ?? verdict.engine;
    const have = Object.entries(verdict.versions).map(([n, v]) => `${n} ${v}`).join(", ");
    const found =
      verdict.status === "memoized"
        ? `memoized (${have})`
        : verdict.status === "unmemoized"
          ? `runs unmemoized (${verdict.reason}): its tasks run exactly as without nbrewind-engine, cell checkpoints still work`
          : "not installed: nothing to memoize";
    const range = Object.entries(support.engines[verdict.engine]!.requires).map(([n, r]) => `${n}${rangeText(r)}`).join(", ");
    checks.push({ name: `  ${title}`, ok: true, warn: verdict.status === "unmemoized", found, ...(verdict.status === "unmemoized" ? { fix: `install a supported version (${range}) for task memoization` } : {}) });
  }
  return { checks, engines };
}
