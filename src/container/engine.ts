import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { cacheRoot } from "../common/cache-dir.js";
import { InfrastructureError } from "../common/errors.js";

/** A Docker-compatible engine that answered, and where. */
export interface Engine {
  docker: Docker;
  /** For messages: `unix:///run/docker.sock`, `tcp://host:2376` ... */
  where: string;
  /** For messages: `Docker Engine 27.1.1`, `Podman Engine 4.3.1` ... */
  version: string;
}

const PING_TIMEOUT_MS = 5_000;

export const ENGINE_FIX =
  "start one: 'bash scripts/container-engine.sh' (in the nbrewind-engine package) installs podman and runc if needed and starts podman's Docker-compatible API service on a socket of its own, or set DOCKER_HOST to an engine you have (for example unix:///var/run/docker.sock)";

/** The socket scripts/container-engine.sh starts podman's API service on (same rule as the script). */
export function projectPodmanSocket(): string {
  return join(process.env.NBREWIND_PODMAN_DIR ?? join(cacheRoot(), "podman"), "podman.sock");
}

/**
 * Where to look, in order: DOCKER_HOST when it is set (and only there: the
 * user chose it), else Docker's default socket, podman's usual sockets, and
 * the one our script starts.
 */
export function engineCandidates(): string[] {
  if (process.env.DOCKER_HOST) return [process.env.DOCKER_HOST];
  const sockets = ["/var/run/docker.sock", process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, "podman", "podman.sock") : "", "/run/podman/podman.sock", projectPodmanSocket()];
  return [...new Set(sockets.filter(Boolean))].map((s) => `unix://${s}`);
}

function clientFor(where: string): Docker {
  // For DOCKER_HOST, docker-modem reads the variable itself (tcp, ssh, TLS settings).
  if (where === process.env.DOCKER_HOST) return new Docker();
  return new Docker({ socketPath: where.slice("unix://".length) });
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function probe(where: string): Promise<Engine> {
  if (where.startsWith("unix://") && !isSocket(where.slice("unix://".length))) {
    throw new Error(existsSync(where.slice("unix://".length)) ? "not a socket" : "no such socket");
  }
  const docker = clientFor(where);
  await withTimeout(docker.ping(), PING_TIMEOUT_MS, "ping");
  const info = (await withTimeout(docker.version(), PING_TIMEOUT_MS, "version")) as { Version?: string; Components?: { Name?: string; Version?: string }[] };
  const component = info.Components?.[0];
  const version = component?.Name ? `${component.Name} ${component.Version ?? ""}`.trim() : `engine ${info.Version ?? "?"}`;
  return { docker, where, version };
}

export type EngineProbe = { ok: true; engine: Engine } | { ok: false; tried: string[] };

/** Try every candidate; never throws. */
export async function findEngine(): Promise<EngineProbe> {
  const tried: string[] = [];
  for (const where of engineCandidates()) {
    try {
      return { ok: true, engine: await probe(where) };
    } catch (err) {
      tried.push(`${where}: ${(err as Error).message}`);
    }
  }
  return { ok: false, tried };
}

/** The engine to use, or an InfrastructureError that says what was tried and what to do. */
export async function connectEngine(): Promise<Engine> {
  const found = await findEngine();
  if (found.ok) return found.engine;
  const which = process.env.DOCKER_HOST ? `DOCKER_HOST (${process.env.DOCKER_HOST}) does not answer` : "no Docker-compatible container engine answers";
  throw new InfrastructureError(`${which}: container replay needs one`, [...found.tried.map((t) => `tried ${t}`), `fix: ${process.env.DOCKER_HOST ? "start that engine, or unset DOCKER_HOST to use a local one; or " : ""}${ENGINE_FIX}`]);
}
