import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InfrastructureError } from "../common/errors.js";
import { packageRoot } from "../common/package-root.js";
import type { Engine } from "./engine.js";
import { followStream } from "./progress-stream.js";

export const BASE_IMAGE_ENV = "NBREWIND_CONTAINER_BASE_IMAGE";

/**
 * nbrewind-base:<first 12 hex of sha256(containers/base-image.conf)>: the
 * image scripts/container-engine.sh builds locally (same rule), so a changed
 * recipe means a new tag, never a stale image under the old one.
 */
export function defaultBaseImage(): string {
  const recipe = readFileSync(join(packageRoot(), "containers", "base-image.conf"));
  return `nbrewind-base:${createHash("sha256").update(recipe).digest("hex").slice(0, 12)}`;
}

/** The option, else $NBREWIND_CONTAINER_BASE_IMAGE, else our local base image. */
export function chooseBaseImage(option?: string): string {
  return option || process.env[BASE_IMAGE_ENV] || defaultBaseImage();
}

/**
 * The base image's id. Our local image must have been built by the script (no
 * registry has it); any other image is pulled when the engine lacks it, for
 * users whose engine reaches a registry.
 */
export async function ensureBaseImage(engine: Engine, image: string, onProgress: (line: string) => void, signal?: AbortSignal): Promise<string> {
  const id = await imageId(engine, image);
  if (id) return id;
  if (image === defaultBaseImage()) {
    throw new InfrastructureError(`the base image ${image} is not in the container engine at ${engine.where}`, [
      "fix: build it with 'bash scripts/container-engine.sh' (a Debian rootfs with python3, made with mmdebstrap; no registry needed),",
      `     or choose an image with python3 and its venv module: --base-image IMAGE or ${BASE_IMAGE_ENV}=IMAGE (for example python:3.11-slim)`,
    ]);
  }
  onProgress(`pulling base image ${image}`);
  try {
    const stream = await engine.docker.pull(image, { abortSignal: signal });
    await followStream(engine.docker, stream, (line) => onProgress(`pull: ${line}`));
  } catch (err) {
    throw new InfrastructureError(`the base image ${image} is not in the container engine at ${engine.where} and could not be pulled: ${(err as Error).message}`, [
      `fix: load it into the engine (docker pull / docker load), or choose another with --base-image IMAGE or ${BASE_IMAGE_ENV}; 'bash scripts/container-engine.sh' builds a local one without a registry`,
    ]);
  }
  const pulled = await imageId(engine, image);
  if (!pulled) throw new InfrastructureError(`the engine reported pulling ${image}, but does not have it`);
  return pulled;
}

export async function imageId(engine: Engine, image: string): Promise<string | undefined> {
  try {
    const info = (await engine.docker.getImage(image).inspect()) as { Id: string };
    return info.Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return undefined;
    throw new InfrastructureError(`the container engine at ${engine.where} failed to inspect image ${image}: ${(err as Error).message}`);
  }
}
