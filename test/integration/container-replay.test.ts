import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfrastructureError } from "../../src/common/errors.js";
import { replayInContainer } from "../../src/container/index.js";
import { outputText, readJson, runCli, tempDir, writeNotebookFile, type CellSpec } from "./cli-harness.js";

/**
 * Replay inside a container, against a real engine: podman's Docker-compatible
 * API service and the local base image, both set up (or reused) by the
 * project's own script, since CI starts on a machine with neither and no
 * image registry. The first run builds the replay image (a few minutes: the
 * recorded pins are installed); later runs reuse it.
 */
const SCRIPT = join(import.meta.dirname, "..", "..", "scripts", "container-engine.sh");
const DEAD = "unix:///nonexistent/nbrewind/dead.sock";

const cells: CellSpec[] = [
  { id: "params", source: "n = 3", tags: ["parameters"] },
  { id: "squares", source: "squares = [i * i for i in range(n)]\nprint(squares)" },
  // Where the cell ran: who, and which network interfaces it saw.
  { id: "where", source: "import os, socket\nprint('uid', os.getuid(), 'interfaces', sorted(name for _, name in socket.if_nameindex()))\nn * 10" },
];

const root = tempDir("nbrewind-container-");
const siteA = join(root, "site-a");
const siteB = join(root, "elsewhere", "site-b");
const savedDockerHost = process.env.DOCKER_HOST;
let startedService = false;

function progressSink(lines: string[]): (line: string) => void {
  return (line) => {
    lines.push(line);
    if (!/^image: (Processing|Successfully installed)/.test(line)) process.stderr.write(`[container] ${line}\n`);
  };
}

beforeAll(async () => {
  const out = execFileSync("bash", [SCRIPT, "up"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const vars = Object.fromEntries(out.trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
  startedService = vars.SERVICE === "started";
  expect(vars.DOCKER_HOST).toMatch(/^unix:\/\//);
  process.env.DOCKER_HOST = vars.DOCKER_HOST;

  mkdirSync(siteA, { recursive: true });
  const nb = writeNotebookFile(siteA, "nb.ipynb", cells);
  const res = await runCli(["audit", nb, "-q"]);
  expect(res.code, res.stderr).toBe(0);
  // The other site gets the notebook and its bundle under another path.
  mkdirSync(siteB, { recursive: true });
  cpSync(join(siteA, "nb.ipynb"), join(siteB, "nb.ipynb"));
  cpSync(join(siteA, "nb.nbrewind"), join(siteB, "nb.nbrewind"), { recursive: true });
});

afterAll(() => {
  if (savedDockerHost === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = savedDockerHost;
  if (startedService) execFileSync("bash", [SCRIPT, "stop"], { stdio: ["ignore", "ignore", "inherit"] });
});

describe("replay in a container", () => {
  it("reuses every cell inside the container and brings back the same output notebook", async () => {
    const lines: string[] = [];
    // Trust is decided outside (replay checks the signature; the user's keys are not in the container).
    const result = await replayInContainer({ workDir: siteB, notebook: "nb.ipynb", repeatArgs: ["--trust"], onProgress: progressSink(lines) });
    expect(result.exitCode, lines.slice(-20).join("\n")).toBe(0);
    expect(result.outputNotebook).toBe(join(siteB, "nb.out.ipynb"));
    const summary = result.summary as { status: string; counts: { reused: number; run: number } };
    expect(summary.status).toBe("ok");
    expect(summary.counts).toMatchObject({ reused: 3, run: 0 });
    expect(lines).toContain("every cell of nb.ipynb is reused: no kernel needed");

    const replayed = readJson(result.outputNotebook);
    const audited = readJson(join(siteA, "nb.out.ipynb"));
    expect(replayed.cells.map((c: any) => c.outputs)).toEqual(audited.cells.map((c: any) => c.outputs));
    expect(outputText(replayed.cells[1])).toBe("[0, 1, 4]\n");
  }, 900_000);

  it("replay --container takes a packed file end to end: unpacked here, repeated inside, every output matches", async () => {
    const packed = join(root, "nb.tgz");
    const pack = await runCli(["pack", join(siteA, "nb.ipynb"), "-o", packed]);
    expect(pack.code, pack.stderr).toBe(0);
    const work = join(root, "replay-work");
    const res = await runCli(["replay", packed, "-C", work, "--container", "--check", "--json"]);
    expect(res.code, res.stderr.split("\n").slice(-15).join("\n")).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(summary.container).toBe(true);
    expect(summary.cells).toMatchObject({ total: 3, reused: 3, run: 0 });
    expect(summary.outputs.matched).toBe(true);
    expect(res.stderr).toMatch(/container: running the repeat in nbrewind-replay:/);
  }, 900_000);

  it("runs the cells a new parameter touches on a kernel inside: as a non-root user, without network", async () => {
    const lines: string[] = [];
    const result = await replayInContainer({ workDir: siteB, notebook: "nb.ipynb", repeatArgs: ["-p", "n", "4", "--trust"], onProgress: progressSink(lines) });
    expect(result.exitCode, lines.slice(-20).join("\n")).toBe(0);
    const summary = result.summary as { counts: { reused: number; run: number } };
    // The parameters cell is reused; the injected one and both cells reading n run.
    expect(summary.counts).toMatchObject({ reused: 1, run: 3 });
    const replayed = readJson(result.outputNotebook);
    const texts = replayed.cells.map(outputText);
    expect(texts).toContain("[0, 1, 4, 9]\n");
    expect(texts.join("")).toContain("uid 1000 interfaces ['lo']");
    expect(texts.join("")).toContain("40");
  }, 600_000);

  it("leaves no container behind", async () => {
    const docker = new Docker();
    expect(await docker.listContainers({ all: true, filters: { label: ["nbrewind.replay"] } })).toEqual([]);
  });

  it("without an engine: a clear error saying what to do; doctor reports it without failing", async () => {
    const liveHost = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = DEAD;
    try {
      const err = await replayInContainer({ workDir: siteB, notebook: "nb.ipynb", repeatArgs: [], onProgress: () => {} }).then(
        () => undefined,
        (e: InfrastructureError) => e,
      );
      expect(err).toBeInstanceOf(InfrastructureError);
      expect(err?.exitCode).toBe(3);
      expect(err?.message).toBe(`DOCKER_HOST (${DEAD}) does not answer: container replay needs one`);
      expect(err?.details.join("\n")).toContain("bash scripts/container-engine.sh");
    } finally {
      process.env.DOCKER_HOST = liveHost;
    }

    const dead = await runCli(["doctor", "--json"], { env: { DOCKER_HOST: DEAD } });
    expect(dead.code, dead.stdout + dead.stderr).toBe(0);
    const engine = JSON.parse(dead.stdout).checks.find((c: any) => c.name === "Container engine");
    expect(engine).toMatchObject({ ok: false, optional: true });
    expect(engine.fix).toContain("bash scripts/container-engine.sh");

    const live = await runCli(["doctor", "--json"]);
    const checks = JSON.parse(live.stdout).checks;
    expect(checks.find((c: any) => c.name === "Container engine")).toMatchObject({ ok: true });
    expect(checks.find((c: any) => c.name === "base image")).toMatchObject({ ok: true });
  }, 120_000);
});
