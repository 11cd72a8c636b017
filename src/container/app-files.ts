import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { cacheRoot } from "../common/cache-dir.js";
import { InfrastructureError } from "../common/errors.js";
import { packageRoot } from "../common/package-root.js";
import { linkTree, treeDigest, type PathFilter } from "./link-tree.js";

/**
 * nbrewind-engine as the replay image carries it: what `npm pack` would ship
 * (package.json and its "files": bin, dist, engines, schemas, containers,
 * scripts), and the production node_modules, installed once per lock file
 * with the host's npm and cache.
 */
function shippedEntries(root: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { files?: string[] };
  return ["package.json", ...(manifest.files ?? [])].filter((entry) => existsSync(join(root, entry)));
}

const skipBuildLitter: PathFilter = (rel) => !/(^|\/)(__pycache__|node_modules)(\/|$)|\.pyc$/.test(rel);

export function requireBuiltApp(): void {
  if (!existsSync(join(packageRoot(), "dist", "container", "inside-entry.js"))) {
    throw new InfrastructureError(`nbrewind-engine is not built: ${join(packageRoot(), "dist")} lacks container/inside-entry.js`, ["fix: run 'npm run build' in " + packageRoot()]);
  }
}

/** Changes whenever a shipped file or the dependency lock changes. */
export async function appDigest(): Promise<string> {
  const root = packageRoot();
  const hash = createHash("sha256");
  for (const entry of shippedEntries(root)) hash.update(entry + "\0" + (await treeDigest(join(root, entry), skipBuildLitter)) + "\0");
  hash.update(dependencyDigest(root));
  return hash.digest("hex");
}

function dependencyDigest(root: string): string {
  const lock = join(root, "package-lock.json");
  const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  return createHash("sha256")
    .update(JSON.stringify(manifest.dependencies ?? {}))
    .update(existsSync(lock) ? readFileSync(lock) : "")
    .digest("hex");
}

/** Stage the app into `dest` (a build-context folder). */
export async function stageApp(dest: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<void> {
  requireBuiltApp();
  const root = packageRoot();
  for (const entry of shippedEntries(root)) await linkTree(join(root, entry), join(dest, entry), skipBuildLitter);
  await linkTree(await productionNodeModules(root, onProgress, signal), join(dest, "node_modules"));
}

async function productionNodeModules(root: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const dir = join(cacheRoot(), "container", "node-modules", dependencyDigest(root).slice(0, 16));
  if (existsSync(join(dir, "node_modules"))) return join(dir, "node_modules");
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const hasLock = existsSync(join(root, "package-lock.json"));
  for (const file of ["package.json", ...(hasLock ? ["package-lock.json"] : [])]) await copyFile(join(root, file), join(partial, basename(file)));
  onProgress("node modules: installing nbrewind-engine's production dependencies for the image (once per lock file)");
  const args = [hasLock ? "ci" : "install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"];
  const installed = new Promise<void>((resolve, reject) => {
    const child = spawn("npm", args, { cwd: partial, stdio: ["ignore", "pipe", "pipe"], signal });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", (err) => reject(err.name === "AbortError" ? err : new InfrastructureError(`cannot run npm: ${err.message}`, ["fix: install npm (it comes with Node.js)"])));
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new InfrastructureError(`'npm ${args.join(" ")}' failed with exit code ${code}`, output.trim().split("\n").slice(-15))),
    );
  });
  await installed.catch(async (err: unknown) => {
    await rm(partial, { recursive: true, force: true });
    throw err;
  });
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  return join(dir, "node_modules");
}
