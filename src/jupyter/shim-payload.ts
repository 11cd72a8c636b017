import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { deflateSync } from "node:zlib";
import { packageRoot } from "../common/package-root.js";

/**
 * The kernel-side shim as code to run in the kernel: its source travels in
 * the execute request, so it works wherever the kernel runs (another host
 * behind --server-url, a container), not only where this package's files are.
 * engines/python/shim_bootstrap.py writes it into a folder of the kernel's
 * user, checked by digest, and loads it.
 */
export interface ShimPayload {
  /** sha256 over the sorted relative paths and texts: what the kernel checks. */
  digest: string;
  /** Python code for the kernel's shell: binds the payload and runs the bootstrap. */
  code: string;
  /**
   * The bootstrap without the payload (a few KB instead of ~130 KB): loads the
   * copy already installed in the kernel's file system, checked against the
   * digest, or fails with NbrewindShimNotInstalled (then send `code`).
   */
  installedCode: string;
  files: number;
}

/** The folders shipped, relative to the package root: the shim package and the engine adapters. */
const SHIPPED = ["engines/python/nbrewind", "engines/dask", "engines/parsl", "engines/ray", "engines/taskvine"];

let cached: ShimPayload | undefined;

export function shimPayload(): ShimPayload {
  if (cached) return cached;
  const root = packageRoot();
  const files = new Map<string, string>();
  for (const folder of SHIPPED) collect(join(root, folder), root, files);
  const paths = [...files.keys()].sort();
  const hash = createHash("sha256");
  for (const p of paths) hash.update(Buffer.concat([Buffer.from(p), Buffer.from([0]), Buffer.from(files.get(p)!), Buffer.from([0])]));
  const digest = hash.digest("hex");
  const payload = deflateSync(Buffer.from(JSON.stringify(Object.fromEntries(paths.map((p) => [p, files.get(p)!]))))).toString("base64");
  const bootstrap = readFileSync(join(root, "engines", "python", "shim_bootstrap.py"), "utf8");
  // A throwaway namespace: nothing is bound in the user's.
  const run = (bound: string) => `exec(compile(${JSON.stringify(bootstrap)}, "<nbrewind shim bootstrap>", "exec"), {${bound}, "DIGEST": ${JSON.stringify(digest)}})`;
  const code = run(`"PAYLOAD": ${JSON.stringify(payload)}, "PATHS": None`);
  const installedCode = run(`"PAYLOAD": None, "PATHS": ${JSON.stringify(paths)}`);
  return (cached = { digest, code, installedCode, files: paths.length });
}

function collect(dir: string, root: string, into: Map<string, string>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") collect(path, root, into);
    } else if (/\.(py|json|c)$/.test(entry.name)) {
      into.set(relative(root, path).split(sep).join("/"), readFileSync(path, "utf8"));
    }
  }
}
