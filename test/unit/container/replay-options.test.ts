import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { Bundle } from "../../../src/bundle/index.js";
import { InfrastructureError, InputError } from "../../../src/common/errors.js";
import { connectEngine, engineCandidates, replayInContainer } from "../../../src/container/index.js";
import { minorVersion, recordedPins } from "../../../src/container/wheelhouse.js";

const savedDockerHost = process.env.DOCKER_HOST;
afterEach(() => {
  if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = savedDockerHost;
});

async function errorOf(fn: () => Promise<unknown>): Promise<Error & { exitCode?: number; details?: string[] }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { exitCode?: number; details?: string[] };
  }
  throw new Error("expected an error, got none");
}

function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-container-options-"));
  writeFileSync(join(dir, "nb.ipynb"), "{}");
  return dir;
}

const base = { notebook: "nb.ipynb", repeatArgs: [] as string[], onProgress: () => {} };

test("options the replay sets itself are refused, naming the option", async () => {
  for (const arg of ["-o", "--output", "--json", "--server-url", "--token"]) {
    const err = await errorOf(() => replayInContainer({ ...base, workDir: workDir(), repeatArgs: ["-p", "n", "3", arg, "x"] }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`repeat option ${arg} cannot be given`);
  }
});

test("a notebook outside the work dir, or missing, is bad input", async () => {
  const dir = workDir();
  expect((await errorOf(() => replayInContainer({ ...base, workDir: dir, notebook: "../nb.ipynb" }))).message).toMatch(/not a file inside the work dir/);
  expect((await errorOf(() => replayInContainer({ ...base, workDir: dir, notebook: "/etc/passwd" }))).message).toMatch(/relative to the work dir/);
  expect((await errorOf(() => replayInContainer({ ...base, workDir: dir, notebook: "other.ipynb" }))).message).toMatch(/not a file inside/);
});

test("a bundle without a recorded environment is bad input, named by its file", async () => {
  const dir = workDir();
  await Bundle.create(join(dir, "nb.nbrewind"), { sourceNotebook: "nb.ipynb" });
  const err = await errorOf(() => replayInContainer({ ...base, workDir: dir }));
  expect(err).toBeInstanceOf(InputError);
  expect(err.message).toContain(join(dir, "nb.nbrewind", "environment.json"));
});

test("DOCKER_HOST, when set, is the only engine tried; a dead one is an infrastructure error with the fix", async () => {
  process.env.DOCKER_HOST = "unix:///nonexistent/nbrewind/dead.sock";
  expect(engineCandidates()).toEqual(["unix:///nonexistent/nbrewind/dead.sock"]);
  const err = await errorOf(() => connectEngine());
  expect(err).toBeInstanceOf(InfrastructureError);
  expect(err.exitCode).toBe(3);
  expect(err.message).toContain("DOCKER_HOST (unix:///nonexistent/nbrewind/dead.sock) does not answer");
  expect(err.details?.join("\n")).toContain("bash scripts/container-engine.sh");
});

test("without DOCKER_HOST, Docker's socket, podman's and ours are tried", () => {
  delete process.env.DOCKER_HOST;
  const candidates = engineCandidates();
  expect(candidates[0]).toBe("unix:///var/run/docker.sock");
  expect(candidates.at(-1)).toMatch(/nbrewind-engine\/podman\/podman\.sock$/);
});

test("the recorded packages become exact pins; the Python version its minor", () => {
  const env = { packages: { numpy: "2.4.6", Jinja2: "3.1.6", anyio: "4.16.0" }, python: { version: "3.11.7" } };
  expect(recordedPins(env as never)).toEqual(["anyio==4.16.0", "Jinja2==3.1.6", "numpy==2.4.6"]);
  expect(minorVersion("3.11.7")).toBe("3.11");
  expect(minorVersion("3.12.0rc1")).toBe("3.12");
  expect(() => minorVersion("eleven")).toThrow(InputError);
});
