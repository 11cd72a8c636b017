import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedServer } from "../../src/jupyter/embedded-server.js";
import type { ServerEndpoint } from "../../src/jupyter/server-endpoint.js";
import { outputText, readJson, runCli, tempDir, writeNotebookFile } from "./cli-harness.js";

const dir = tempDir();
let server: EmbeddedServer;
let endpoint: ServerEndpoint;

async function runningKernels(): Promise<unknown[]> {
  const res = await fetch(new URL("api/kernels", endpoint.baseUrl), { headers: { Authorization: `token ${endpoint.token}` } });
  return (await res.json()) as unknown[];
}

describe("nbrewind-engine run against an existing Jupyter server", () => {
  beforeAll(async () => {
    // Stands in for a server the user already runs (JupyterLab, a hub's single-user server).
    server = new EmbeddedServer({ python: process.env.NBREWIND_TEST_PYTHON!, rootDir: dir });
    endpoint = await server.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("runs there with --server-url/--token, and shuts down only the kernel it started", async () => {
    const nb = writeNotebookFile(dir, "remote.ipynb", [{ source: "import os\nprint(os.environ.get('NBREWIND_RUN_ID') is not None)" }]);
    const out = join(dir, "remote.out.ipynb");
    const res = await runCli(["run", nb, "-o", out, "--server-url", endpoint.baseUrl, "--token", endpoint.token, "--json", "-q"]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).server).toBe(endpoint.baseUrl);
    expect(outputText(readJson(out).cells[0])).toBe("True\n");
    expect(await runningKernels()).toEqual([]);
    const status = await fetch(new URL("api/status", endpoint.baseUrl), { headers: { Authorization: `token ${endpoint.token}` } });
    expect(status.ok).toBe(true);
  });

  it("takes the server from JUPYTER_SERVER_URL / JUPYTER_TOKEN", async () => {
    const nb = writeNotebookFile(dir, "env.ipynb", [{ source: "1 + 1" }]);
    const res = await runCli(["run", nb, "-q", "--json"], { env: { JUPYTER_SERVER_URL: endpoint.baseUrl, JUPYTER_TOKEN: endpoint.token } });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).server).toBe(endpoint.baseUrl);
  });

  it("says when the token is wrong (exit 2) or nothing answers (exit 3)", async () => {
    const nb = writeNotebookFile(dir, "x.ipynb", [{ source: "1" }]);
    const wrongToken = await runCli(["run", nb, "--server-url", endpoint.baseUrl, "--token", "wrong"]);
    expect(wrongToken.code).toBe(2);
    expect(wrongToken.stderr).toMatch(/rejected the token/);
    const nobody = await runCli(["run", nb, "--server-url", "http://127.0.0.1:9", "--token", "t"]);
    expect(nobody.code).toBe(3);
    expect(nobody.stderr).toMatch(/no Jupyter server answers at http:\/\/127\.0\.0\.1:9\//);
  });

  it("refuses a --kernel the server does not offer and lists the ones it does", async () => {
    const nb = writeNotebookFile(dir, "k.ipynb", [{ source: "1" }]);
    const res = await runCli(["run", nb, "--server-url", endpoint.baseUrl, "--token", endpoint.token, "--kernel", "julia-9"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("julia-9");
    expect(res.stderr).toContain("python3");
    expect(await runningKernels()).toEqual([]);
  });
});
