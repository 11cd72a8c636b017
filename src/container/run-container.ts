import { Writable } from "node:stream";
import type Docker from "dockerode";
import { ExitCode, InfrastructureError, NbrewindError } from "../common/errors.js";
import type { Engine } from "./engine.js";
import { CONTAINER_USER, MOUNT_DIR, OUT_DIR, REPLAY_LABEL } from "./paths.js";
import { tarFiles } from "./tar-files.js";

export interface ContainerRunOptions {
  image: string;
  /** Host folder mounted read-only at MOUNT_DIR. */
  workDir: string;
  /** Arguments of the image's entry point (inside-entry.ts). */
  args: string[];
  network: boolean;
  onProgress: (line: string) => void;
  signal?: AbortSignal;
}

export interface ContainerRun {
  exitCode: number;
  /** The files of OUT_DIR, by name relative to it. */
  files: Map<string, Buffer>;
  /** The last lines the container printed, for error messages. */
  tail: string[];
  /** Stopped through `signal`: the files are what the repeat had written by then. */
  interrupted: boolean;
}

/** How long a replay gets to stop its kernel after SIGTERM before it is killed. */
const STOP_GRACE_MS = 15_000;

/**
 * Run the replay container: the work dir mounted read-only, no network unless
 * asked, as uid 1000, every capability dropped; its output streamed line by
 * line; OUT_DIR copied out once it exits. The container is removed in every
 * case: success, failure, abort (SIGINT / SIGTERM reach us as `signal`).
 */
export async function runReplayContainer(engine: Engine, options: ContainerRunOptions): Promise<ContainerRun> {
  const { docker } = engine;
  const { signal, onProgress } = options;
  if (signal?.aborted) throw new NbrewindError("interrupted before the replay container started", ExitCode.interrupted);
  const tail: string[] = [];
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    onProgress(line);
  };
  let container: Docker.Container;
  try {
    container = await docker.createContainer({
      Image: options.image,
      Cmd: options.args,
      User: CONTAINER_USER,
      Labels: { [REPLAY_LABEL]: "container", "nbrewind.host-pid": String(process.pid) },
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      HostConfig: {
        Mounts: [{ Type: "bind", Source: options.workDir, Target: MOUNT_DIR, ReadOnly: true }],
        NetworkMode: options.network ? "bridge" : "none",
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        AutoRemove: false,
      },
    });
  } catch (err) {
    throw new InfrastructureError(`the container engine at ${engine.where} could not create the replay container: ${(err as Error).message}`, [
      "fix: the engine must be able to bind-mount the work dir from this machine (a local engine, not a remote DOCKER_HOST)",
    ]);
  }
  let stopping: NodeJS.Timeout | undefined;
  const onAbort = () => {
    onProgress("container: interrupted, stopping the replay (its kernel is shut down first)");
    container.kill({ signal: "SIGTERM" }).catch(() => {});
    stopping = setTimeout(() => container.kill({ signal: "SIGKILL" }).catch(() => {}), STOP_GRACE_MS);
  };
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const out = lineWriter(onLine);
    const err = lineWriter(onLine);
    docker.modem.demuxStream(stream, out, err);
    const ended = new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("close", resolve);
      stream.on("error", () => resolve());
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    await container.start();
    const waited = (await container.wait()) as { StatusCode: number };
    // The attach stream may still hold the last lines; wait for it briefly.
    await Promise.race([ended, new Promise((r) => setTimeout(r, 2_000))]);
    out.end();
    err.end();
    const files = await copyOut(container);
    return { exitCode: waited.StatusCode, files, tail, interrupted: signal?.aborted ?? false };
  } finally {
    signal?.removeEventListener("abort", onAbort);
    clearTimeout(stopping);
    await container.remove({ force: true }).catch(() => {});
  }
}

async function copyOut(container: Docker.Container): Promise<Map<string, Buffer>> {
  let archive: NodeJS.ReadableStream;
  try {
    archive = await container.getArchive({ path: OUT_DIR });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return new Map();
    throw new InfrastructureError(`could not copy the results out of the replay container: ${(err as Error).message}`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  const files = new Map<string, Buffer>();
  // The archive holds the folder itself: out/summary.json, ...
  for (const [name, data] of tarFiles(Buffer.concat(chunks))) files.set(name.split("/").slice(1).join("/"), data);
  return files;
}

/** A stream that calls onLine for every complete line written to it (and the rest at the end). */
function lineWriter(onLine: (line: string) => void): Writable {
  let pending = "";
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString("utf8");
      const lines = pending.split(/\r?\n/);
      pending = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) onLine(line);
      done();
    },
    final(done) {
      if (pending.trim()) onLine(pending);
      pending = "";
      done();
    },
  });
}
