import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, link, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { EnvironmentRecord } from "../bundle/index.js";
import { cacheRoot } from "../common/cache-dir.js";
import { InfrastructureError } from "../common/errors.js";
import { packageRoot } from "../common/package-root.js";
import { appDigest, requireBuiltApp, stageApp } from "./app-files.js";
import { ensureBaseImage, imageId } from "./base-image.js";
import type { Engine } from "./engine.js";
import { linkTree } from "./link-tree.js";
import { REPLAY_LABEL } from "./paths.js";
import { followStream } from "./progress-stream.js";
import { ensureWheelhouse, minorVersion, recordedPins } from "./wheelhouse.js";

export interface ReplayImageOptions {
  environment: EnvironmentRecord;
  baseImage: string;
  onProgress: (line: string) => void;
  signal?: AbortSignal;
}

const TEMPLATES = ["replay.Dockerfile", "install-python-env.sh"] as const;

let nodeDigest: Promise<string> | undefined;

/** The host's Node binary goes into the image; its content is part of the image's name. */
function hostNodeDigest(): Promise<string> {
  nodeDigest ??= new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(process.execPath)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
  return nodeDigest;
}

/**
 * The image a replay runs in, built from containers/replay.Dockerfile, the
 * base image and the recorded environment. Its tag is a digest of every
 * input (base image id, pins, Python version, Node binary, nbrewind-engine's
 * files, the templates), so an image with that tag is exactly what a build
 * would give, and a second replay reuses it without building.
 */
export async function ensureReplayImage(engine: Engine, options: ReplayImageOptions): Promise<string> {
  const { environment, baseImage, onProgress, signal } = options;
  requireMajorNode();
  const baseId = await ensureBaseImage(engine, baseImage, onProgress, signal);
  const pins = recordedPins(environment);
  const python = environment.python.version;
  minorVersion(python);
  const [dockerfile, installScript] = await Promise.all(TEMPLATES.map((t) => readFile(join(packageRoot(), "containers", t), "utf8"))) as [string, string];
  const templates = [dockerfile, installScript];
  const inputs = { baseId, pins, python, node: await hostNodeDigest(), app: await appDigest(), templates };
  const tag = `nbrewind-replay:${createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 16)}`;
  // The same recorded environment on the same base: an image for it made by another nbrewind-engine build is superseded.
  const environmentKey = createHash("sha256").update(JSON.stringify({ baseId, pins, python })).digest("hex").slice(0, 16);
  if (await imageId(engine, tag)) {
    onProgress(`image: ${tag} (already built for these inputs)`);
    return tag;
  }
  requireBuiltApp();
  onProgress(`image: building ${tag} from ${baseImage} with Python ${python} and ${pins.length} recorded package(s)`);
  const wheels = await ensureWheelhouse(pins, python, onProgress, signal);
  const context = join(cacheRoot(), "container", `context-${tag.split(":")[1]}-${process.pid}`);
  await rm(context, { recursive: true, force: true });
  try {
    await mkdir(context, { recursive: true });
    await writeFile(join(context, "Dockerfile"), dockerfile);
    await writeFile(join(context, "install-python-env.sh"), installScript);
    await writeFile(join(context, "requirements.txt"), pins.join("\n") + "\n");
    await linkTree(join(wheels, "wheels"), join(context, "wheels"));
    await link(process.execPath, join(context, "node")).catch(() => copyFile(process.execPath, join(context, "node")));
    await stageApp(join(context, "app"), onProgress, signal);
    await build(engine, context, tag, { BASE_IMAGE: baseImage, RECORDED_PYTHON: python }, { [REPLAY_LABEL]: "image", [ENVIRONMENT_LABEL]: environmentKey }, onProgress, signal);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  await removeSuperseded(engine, tag, environmentKey, onProgress);
  return tag;
}

const ENVIRONMENT_LABEL = "nbrewind.environment";

/**
 * Every change to nbrewind-engine makes a new replay image; the ones it
 * replaces (same environment, older build) would only take disk space. Their
 * layers shared with the new image stay. An image still in use is left alone.
 */
async function removeSuperseded(engine: Engine, tag: string, environmentKey: string, onProgress: (line: string) => void): Promise<void> {
  const images = await engine.docker.listImages({ filters: { label: [`${ENVIRONMENT_LABEL}=${environmentKey}`] } }).catch(() => []);
  for (const image of images) {
    const tags = image.RepoTags ?? [];
    if (tags.some((t) => t === tag || t.endsWith(`/${tag}`))) continue;
    for (const old of tags.length > 0 ? tags : [image.Id]) {
      await engine.docker
        .getImage(old)
        .remove()
        .then(() => onProgress(`image: removed the superseded ${old}`))
        .catch(() => {});
    }
  }
}

function requireMajorNode(): void {
  if (Number(process.versions.node.split(".")[0]) < 20) {
    throw new InfrastructureError(`the replay image carries this machine's Node.js, v${process.versions.node}; nbrewind-engine needs 20 or newer`, ["fix: run nbrewind-engine with Node.js 20+"]);
  }
}

async function build(engine: Engine, context: string, tag: string, buildargs: Record<string, string>, labels: Record<string, string>, onProgress: (line: string) => void, signal?: AbortSignal): Promise<void> {
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 25) tail.shift();
    onProgress(`image: ${line}`);
  };
  try {
    const size = await contextSize(context);
    onProgress(`image: sending a ${(size / 1e6).toFixed(0)} MB build context to ${engine.version} at ${engine.where}`);
    const stream = await engine.docker.buildImage(
      packContext(context),
      { t: tag, dockerfile: "Dockerfile", buildargs, labels, networkmode: "none", rm: true, forcerm: true, abortSignal: signal },
    );
    await followStream(engine.docker, stream, onLine);
  } catch (err) {
    if (signal?.aborted) throw err;
    const own = tail.filter((l) => l.includes("nbrewind:"));
    throw new InfrastructureError(`the replay image ${tag} could not be built: ${(err as Error).message}`, [
      ...(own.length > 0 ? own : tail.slice(-12)),
      "fix: see the lines above; a base image needs python3 with venv and the recorded Python minor version (--base-image IMAGE), and the engine needs room for the image",
    ]);
  }
}

/**
 * The context as an uncompressed tar stream, from the system's tar: dockerode's
 * own packing gzips it in this process, which took 16-22 s for 281 MB on two
 * cores, to send it over a local socket where compression buys nothing.
 */
function packContext(dir: string): NodeJS.ReadableStream {
  const tar = spawn("tar", ["-c", "-f", "-", "-C", dir, "."], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  tar.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  tar.on("error", (err) => tar.stdout.destroy(new InfrastructureError(`cannot run tar to pack the image build context: ${err.message}`)));
  tar.on("close", (code) => {
    if (code !== 0) tar.stdout.destroy(new InfrastructureError(`tar could not pack the image build context ${dir} (exit code ${code}): ${stderr.trim()}`));
  });
  return tar.stdout;
}

async function contextSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}
