import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { KernelManager, SessionManager, type Kernel, type KernelMessage, type Session } from "@jupyterlab/services";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedServer } from "../../src/jupyter/embedded-server.js";
import { serverSettings } from "../../src/jupyter/kernel-session.js";
import type { ServerEndpoint } from "../../src/jupyter/server-endpoint.js";
import { runCli } from "./cli-harness.js";
import { KernelCounter } from "./kernel-counter.js";
import { KernelWorld } from "./kernel/harness.js";

/** The notebook, as JupyterLab holds it: cell ids and sources. */
const CELLS = {
  setup: "import dask, os\nLOG = os.environ['TASK_LOG']\ndef leaf(i):\n    with open(LOG, 'a') as f:\n        f.write(f'leaf {i}\\n')\n    return i * i",
  params: "n = 6",
  data: "squares = dask.compute(*[dask.delayed(leaf)(i) for i in range(n)], scheduler='threads')",
  total: "total = sum(squares)\nprint('total', total)",
  label: "label = 'sum of squares'",
};
type CellId = keyof typeof CELLS;
const ORDER: CellId[] = ["setup", "params", "data", "total", "label"];

interface Executed {
  status: string;
  text: string;
  outputs: KernelMessage.IIOPubMessage[];
  executionCount: number | null;
}

/** Execute as JupyterLab does: the cell's id in the request's metadata. */
async function execute(kernel: Kernel.IKernelConnection, code: string, cellId: string): Promise<Executed> {
  const future = kernel.requestExecute({ code, stop_on_error: true }, false, { cellId });
  const outputs: KernelMessage.IIOPubMessage[] = [];
  future.onIOPub = (msg) => {
    if (["stream", "execute_result", "display_data", "error"].includes(msg.header.msg_type)) outputs.push(msg);
  };
  const reply = await future.done;
  future.dispose();
  const text = outputs
    .map((m) => {
      const c = m.content as { text?: string; data?: Record<string, string>; ename?: string; evalue?: string };
      return c.text ?? c.data?.["text/plain"] ?? `${c.ename}: ${c.evalue}`;
    })
    .join("");
  const content = reply.content as { status: string; execution_count?: number };
  return { status: content.status, text, outputs, executionCount: content.execution_count ?? null };
}

describe("the NBRewind kernel behind a real Jupyter server, driven by @jupyterlab/services", () => {
  const world = new KernelWorld();
  const lab = join(world.dir, "lab");
  const counter = new KernelCounter(join(world.dir, "count"));
  // The test's side channel, not the notebook's input: hidden from the shim's file observation (NBREWIND_IGNORE_FILES),
  // which records it as read by the cell whose tasks append to it; deleting it between kernels would make that cell run.
  const taskLog = join(world.dir, "tasks.log");
  let server: EmbeddedServer;
  let endpoint: ServerEndpoint;
  let sessions: SessionManager;

  const tasks = () => (existsSync(taskLog) ? readFileSync(taskLog, "utf8").split("\n").filter(Boolean).sort() : []);
  const reset = () => {
    counter.reset();
    rmSync(taskLog, { force: true });
  };
  /** First lines of the cells the inner kernel executed since the last reset. */
  const executed = () => counter.executed();

  async function open(): Promise<Session.ISessionConnection> {
    return sessions.startNew({ path: "analysis.ipynb", type: "notebook", name: "analysis.ipynb", kernel: { name: "nbrewind" } });
  }

  beforeAll(async () => {
    await world.install();
    mkdirSync(lab, { recursive: true });
    server = new EmbeddedServer({ python: world.python, rootDir: lab, env: { ...world.env, ...counter.env, TASK_LOG: taskLog, NBREWIND_IGNORE_FILES: taskLog } });
    endpoint = await server.start();
    const settings = serverSettings(endpoint);
    sessions = new SessionManager({ serverSettings: settings, kernelManager: new KernelManager({ serverSettings: settings }) });
    await sessions.ready;
  });

  afterAll(async () => {
    sessions?.dispose();
    const alive = await world.survivingKernels();
    await server?.stop();
    rmSync(world.dir, { recursive: true, force: true });
    expect(alive).toEqual([]);
  });

  it("audits in one kernel; in the next, reuses, restores lazily, runs only what an edit touched, from this kernel's history; widgets and a Dask Client render", async () => {
    // Kernel 1: %audit on, run all. Everything executes and is recorded.
    const first = await open();
    const k1 = first.kernel!;
    const info = await k1.info;
    expect(info.language_info.name).toBe("python");
    // ipykernel 7 offers subshells; the NBRewind kernel does not, so JupyterLab keeps comm messages on the main shell, in order with the cells.
    expect((info as { supported_features?: string[] }).supported_features ?? []).not.toContain("kernel subshells");
    reset();
    expect((await execute(k1, "%audit on", "mode")).text).toContain("analysis.nbrewind");
    for (const id of ORDER) expect((await execute(k1, CELLS[id], id)).status).toBe("ok");
    expect(executed()).toHaveLength(5);
    expect(tasks()).toEqual(["leaf 0", "leaf 1", "leaf 2", "leaf 3", "leaf 4", "leaf 5"]);
    await first.shutdown();
    first.dispose();
    expect(existsSync(join(lab, "analysis.nbrewind", "manifest.json"))).toBe(true);

    // Kernel 2: %audit off, run all: answered from the bundle, nothing executes.
    const second = await open();
    const k2 = second.kernel!;
    reset();
    await execute(k2, "%audit off", "mode");
    const runAll = [];
    for (const id of ORDER) runAll.push(await execute(k2, CELLS[id], id));
    expect(executed()).toEqual([]);
    expect(tasks()).toEqual([]);
    expect(runAll[3]!.text).toContain("total 55");
    expect(runAll[3]!.text).toMatch(/reused from the bundle: not executed, saved/);

    // A cell edited to read `total`: it runs, alone; `total` comes from the bundle, not from re-running its producers.
    reset();
    const labelled = await execute(k2, "label = f'sum of squares: {total}'\nprint(label)", "label");
    expect(labelled.text).toContain("sum of squares: 55");
    expect(executed()).toEqual(["label = f'sum of squares: {total}'"]);
    expect(tasks()).toEqual([]);

    // Edit params, re-run it and its downstream: only they execute, and only the two new tasks are dispatched.
    reset();
    await execute(k2, "n = 8", "params");
    await execute(k2, CELLS.data, "data");
    const total = await execute(k2, CELLS.total, "total");
    expect(executed()).toEqual(["n = 8", CELLS.data.split("\n")[0], "total = sum(squares)"]);
    expect(tasks()).toEqual(["leaf 6", "leaf 7"]);
    expect(total.text).toContain("total 140");
    const dataRun = await execute(k2, "%nbrewind explain", "explain");
    expect(dataRun.text).toMatch(/ran because/);

    // Re-run the upstream cell after its downstream: recorded as is, so reused; the downstream cell
    // that read the older `total` must run again, never be reused on its stale input.
    reset();
    expect((await execute(k2, "n = 8", "params")).text).toMatch(/reused from the bundle/);
    const relabelled = await execute(k2, "label = f'sum of squares: {total}'\nprint(label)", "label");
    expect(relabelled.text).toContain("sum of squares: 140");
    expect(executed()).toEqual(["label = f'sum of squares: {total}'"]);
    expect(tasks()).toEqual([]);

    // An ipywidgets output and its comm, both ways, through the proxy.
    const comms: Kernel.IComm[] = [];
    k2.registerCommTarget("jupyter.widget", (comm) => void comms.push(comm));
    const widget = await execute(k2, "import ipywidgets as w\nslider = w.IntSlider(value=3)\nslider", "widget");
    expect(widget.status).toBe("ok");
    const view = widget.outputs.find((m) => "data" in m.content && (m.content.data as Record<string, unknown>)["application/vnd.jupyter.widget-view+json"]);
    expect(view).toBeDefined();
    const modelId = ((view!.content as { data: Record<string, { model_id: string }> }).data["application/vnd.jupyter.widget-view+json"]!).model_id;
    const comm = comms.find((c) => c.commId === modelId);
    expect(comm).toBeDefined();
    await comm!.send({ method: "update", state: { value: 7 }, buffer_paths: [] }).done;
    expect((await execute(k2, "print('slider at', slider.value)", "widget-read")).text).toContain("slider at 7");

    // A Dask Client's HTML repr; the kernel closes it when it shuts down.
    const client = await execute(k2, "from dask.distributed import Client\nclient = Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=':0')\nclient", "client");
    const html = client.outputs.map((m) => (m.content as { data?: Record<string, string> }).data?.["text/html"] ?? "").join("");
    expect(html).toContain("Client");

    // Interrupt: the running cell stops with KeyboardInterrupt, the kernel and its mode carry on.
    const sleeping = execute(k2, "import time\ntime.sleep(120)", "sleep");
    await new Promise((r) => setTimeout(r, 1500));
    await k2.interrupt();
    const interrupted = await sleeping;
    expect(interrupted.status).toBe("error");
    expect(interrupted.text).toContain("KeyboardInterrupt");
    expect((await execute(k2, "print('still here with n =', n)", "after")).text).toContain("still here with n = 8");

    // Restart: a fresh NBRewind kernel, mode off, the notebook's cells run as in a plain kernel.
    await k2.restart();
    reset();
    expect((await execute(k2, "x = 41 + 1\nprint(x)", "fresh")).text).toContain("42");
    expect(executed()).toEqual(["x = 41 + 1"]);
    await second.shutdown();
    second.dispose();

    // What the kernels left in the bundle is consistent: every record and blob checks out.
    const verify = await runCli(["verify", join(lab, "analysis.nbrewind"), "--json"], { env: world.env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
