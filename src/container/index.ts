/**
 * Replay inside a container built from the recorded environment, through
 * dockerode against any Docker-compatible engine (DOCKER_HOST, Docker's
 * socket, podman's, or the one scripts/container-engine.sh starts).
 *
 * Where the repeat writes: the work dir is mounted read-only; inside, the
 * entry point stages a writable copy of it in the container's own layer, with
 * every file copied but the bundle's blobs, which are symlinks into the mount
 * (stage-work-dir.ts). The repeat inside updates that copy (new records,
 * logs, new blobs) as it would on the host, with no change to the bundle
 * code; when the container is gone so are those writes: what comes back is
 * the output notebook and the run summary. The host's work dir is never
 * written by the container, and the host writes only NAME.out.ipynb beside
 * the notebook, like a repeat on the host.
 */
import { existsSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { Bundle, defaultBundleDir } from "../bundle/index.js";
import { ExitCode, InfrastructureError, InputError, NbrewindError } from "../common/errors.js";
import { chooseBaseImage } from "./base-image.js";
import { connectEngine } from "./engine.js";
import { SUMMARY_FILE } from "./paths.js";
import { ensureReplayImage } from "./replay-image.js";
import { runReplayContainer } from "./run-container.js";

export { BASE_IMAGE_ENV, chooseBaseImage, defaultBaseImage, imageId } from "./base-image.js";
export { connectEngine, ENGINE_FIX, engineCandidates, findEngine, projectPodmanSocket, type Engine } from "./engine.js";

export interface ContainerReplayOptions {
  /** The unpacked notebook and its NOTEBOOK.nbrewind bundle. */
  workDir: string;
  /** Path of the notebook, relative to workDir. */
  notebook: string;
  /** Options for the repeat inside, e.g. ["-p", "n", "3", "--trust"]; paths in them (--bundle, -y) relative to workDir; not -o or --json, which the container sets. */
  repeatArgs: string[];
  /** Default: $NBREWIND_CONTAINER_BASE_IMAGE, else the local nbrewind-base image. */
  baseImage?: string;
  /** Give the container network access (default: none). */
  network?: boolean;
  /** Image build and repeat progress, line by line. */
  onProgress: (line: string) => void;
  signal?: AbortSignal;
}

export interface ContainerReplayResult {
  /** The exit code of the repeat inside (0 ok, 1 a cell failed, ...). */
  exitCode: number;
  /** Absolute host path of the executed notebook: NAME.out.ipynb beside the notebook in workDir. */
  outputNotebook: string;
  /** The run-summary JSON of the repeat inside (repeat --json; its paths are the container's), or null if it wrote none. */
  summary: unknown;
}

const RESERVED = new Set(["-o", "--output", "--json", "--server-url", "--token"]);

export async function replayInContainer(options: ContainerReplayOptions): Promise<ContainerReplayResult> {
  const { workDir, notebook } = checkOptions(options);
  const bundleArg = options.repeatArgs.indexOf("--bundle");
  const bundleDir = bundleArg >= 0 ? resolve(workDir, options.repeatArgs[bundleArg + 1] ?? "") : defaultBundleDir(join(workDir, notebook));
  const environment = await (await Bundle.open(bundleDir)).readEnvironment();
  if (!environment) {
    throw new InputError(`${join(bundleDir, "environment.json")} is missing: the bundle records no environment to build the replay image from (audit the notebook first)`);
  }
  const engine = await connectEngine();
  options.onProgress(`container engine: ${engine.version} at ${engine.where}`);
  const image = await ensureReplayImage(engine, { environment, baseImage: chooseBaseImage(options.baseImage), onProgress: options.onProgress, signal: options.signal });
  options.onProgress(`container: running the repeat in ${image} (${options.network ? "with" : "without"} network, as a non-root user, work dir read-only)`);
  const run = await runReplayContainer(engine, {
    image,
    workDir,
    args: [notebook, ...options.repeatArgs],
    network: options.network ?? false,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  const outName = `${basename(notebook, extname(notebook))}.out.ipynb`;
  const outputNotebook = join(workDir, dirname(notebook), outName);
  const executed = run.files.get(outName);
  // Like a repeat on the host, an interrupted replay still leaves its partial notebook.
  if (executed) await writeFile(outputNotebook, executed);
  if (run.interrupted) {
    throw new NbrewindError("interrupted: the replay container was stopped and removed", ExitCode.interrupted, executed ? [`partial notebook: ${outputNotebook}`] : []);
  }
  if (!executed) {
    const message = `the repeat in the container exited with code ${run.exitCode} and wrote no output notebook`;
    if (run.exitCode === 0) throw new InfrastructureError(message, run.tail);
    throw new NbrewindError(message, (run.exitCode > 0 && run.exitCode <= 3 ? run.exitCode : ExitCode.infrastructure) as ExitCode, run.tail.slice(-8));
  }
  return { exitCode: run.exitCode, outputNotebook, summary: parseSummary(run.files.get(SUMMARY_FILE)) };
}

function checkOptions(options: ContainerReplayOptions): { workDir: string; notebook: string } {
  const workDir = resolve(options.workDir);
  if (!existsSync(workDir) || !statSync(workDir).isDirectory()) throw new InputError(`work dir ${workDir} is not a folder`);
  if (isAbsolute(options.notebook)) throw new InputError(`notebook ${options.notebook} must be a path relative to the work dir ${workDir}`);
  const notebook = relative(workDir, resolve(workDir, options.notebook));
  if (notebook.startsWith("..") || !existsSync(join(workDir, notebook))) throw new InputError(`notebook ${options.notebook} is not a file inside the work dir ${workDir}`);
  const reserved = options.repeatArgs.find((a) => RESERVED.has(a.split("=")[0] ?? a));
  if (reserved) throw new InputError(`repeat option ${reserved} cannot be given to a container replay: the replay sets where the repeat reads and writes`);
  return { workDir, notebook };
}

function parseSummary(data: Buffer | undefined): unknown {
  if (!data || data.length === 0) return null;
  try {
    return JSON.parse(data.toString("utf8")) as unknown;
  } catch {
    return null;
  }
}
