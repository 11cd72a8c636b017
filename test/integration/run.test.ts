import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { validateNotebook } from "../../src/notebook/validate.js";
import { outputText, readJson, runCli, tempDir, writeNotebookFile } from "./cli-harness.js";

const dir = tempDir();

describe("nbrewind-engine run on a kernel it launches (no Jupyter server)", () => {
  it("records every output type the way nbformat 4.5 expects, and leaves no process behind", async () => {
    const nb = writeNotebookFile(dir, "outputs.ipynb", [
      { type: "markdown", source: "# title", id: "md" },
      { source: "print('one')\nprint('two')\nimport sys; print('warn', file=sys.stderr)", id: "streams" },
      { source: "from IPython.display import display, HTML\nh = display(HTML('<b>v1</b>'), display_id=True)", id: "display" },
      { source: "h.update(HTML('<b>v2</b>'))\n6 * 7", id: "result" },
      { source: "from IPython.display import clear_output\nprint('gone')\nclear_output(wait=True)\nprint('kept')", id: "clear" },
      { type: "raw", source: "raw text", id: "raw" },
      { source: "import time\nfor i in range(3):\n    print(f'\\r{i}', end='')\n    time.sleep(0.01)\nprint()", id: "carriage" },
    ]);
    const out = join(dir, "outputs.out.ipynb");
    const res = await runCli(["run", nb, "-o", out]);
    expect(res.stderr).toContain("done:");
    expect(res.code).toBe(0);
    expect(res.survivors).toEqual([]);

    const written = readJson(out);
    expect(validateNotebook(written)).toEqual([]);
    const [md, streams, display, result, clear, raw, carriage] = written.cells;
    expect(md.outputs).toBeUndefined();
    expect(raw.outputs).toBeUndefined();
    // consecutive stream chunks merge into one output per stream name
    expect(streams.outputs.map((o: any) => [o.output_type, o.name, o.text.join("")])).toEqual([
      ["stream", "stdout", "one\ntwo\n"],
      ["stream", "stderr", "warn\n"],
    ]);
    // update_display_data from a later cell rewrites the earlier display
    expect(display.outputs).toHaveLength(1);
    expect(display.outputs[0].output_type).toBe("display_data");
    expect(display.outputs[0].data["text/html"].join("")).toBe("<b>v2</b>");
    expect(display.outputs[0].transient).toBeUndefined();
    expect(result.outputs).toEqual([{ output_type: "execute_result", data: { "text/plain": ["42"] }, metadata: {}, execution_count: result.execution_count }]);
    expect(result.execution_count).toBe(3);
    expect(outputText(clear)).toBe("kept\n");
    expect(outputText(carriage)).toBe("2\n");
    // ids kept, timing recorded per cell
    expect(written.cells.map((c: any) => c.id)).toEqual(["md", "streams", "display", "result", "clear", "raw", "carriage"]);
    for (const cell of [streams, display, result, clear, carriage]) {
      expect(Object.keys(cell.metadata.execution).sort()).toEqual(["iopub.execute_input", "iopub.status.busy", "iopub.status.idle", "shell.execute_reply"]);
      expect(cell.metadata.nbrewind.duration_s).toBeGreaterThanOrEqual(0);
    }
  });

  it("gives cells of an nbformat 4.4 notebook ids and writes 4.5", async () => {
    const nb = writeNotebookFile(dir, "old.ipynb", [{ source: "x = 1" }, { source: "x + 1" }], 4);
    const out = join(dir, "old.out.ipynb");
    const res = await runCli(["run", nb, "-o", out, "-q"]);
    expect(res.code).toBe(0);
    const written = readJson(out);
    expect(written.nbformat_minor).toBe(5);
    const ids = written.cells.map((c: any) => c.id);
    expect(new Set(ids).size).toBe(2);
    expect(outputText(written.cells[1])).toBe("2");
  });

  it("injects typed papermill-style parameters after the cell tagged 'parameters'", async () => {
    const nb = writeNotebookFile(dir, "params.ipynb", [
      { source: "import json", id: "imports" },
      { source: "n = 1\nname = 'default'\nflag = False\nxs = []\nratio = 0.0", tags: ["parameters"], id: "params" },
      { source: "print(json.dumps([n, name, flag, xs, ratio, type(n).__name__, type(ratio).__name__]))", id: "show" },
    ]);
    const yamlFile = join(dir, "params.yaml");
    writeFileSync(yamlFile, "n: 3\nratio: 0.25\nname: from-yaml\n");
    const out = join(dir, "params.out.ipynb");
    const res = await runCli(["run", nb, "-o", out, "-y", yamlFile, "-p", "n", "5", "-p", "name", "two words", "-p", "flag", "True", "-p", "xs", "[1, 2]", "-q"]);
    expect(res.code).toBe(0);
    const written = readJson(out);
    expect(written.cells.map((c: any) => c.id)).toEqual(["imports", "params", "injected-parameters", "show"]);
    expect(written.cells[2].metadata.tags).toEqual(["injected-parameters"]);
    expect(JSON.parse(outputText(written.cells[3]))).toEqual([5, "two words", true, [1, 2], 0.25, "int", "float"]);
    expect(written.metadata.papermill.parameters).toMatchObject({ n: 5, name: "two words", flag: true, xs: [1, 2], ratio: 0.25 });
  });

  it("stops at a cell error, exits 1 and still writes the partial notebook", async () => {
    const nb = writeNotebookFile(dir, "error.ipynb", [{ source: "a = 1" }, { source: "raise ValueError('bad input')" }, { source: "print('never')" }]);
    const out = join(dir, "error.out.ipynb");
    const res = await runCli(["run", nb, "-o", out]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("ValueError: bad input");
    expect(res.survivors).toEqual([]);
    const written = readJson(out);
    const err = written.cells[1].outputs[0];
    expect([err.output_type, err.ename, err.evalue]).toEqual(["error", "ValueError", "bad input"]);
    expect(err.traceback.length).toBeGreaterThan(0);
    expect(written.cells[2].outputs).toEqual([]);
    expect(written.cells[2].execution_count).toBeNull();
  });

  it("with --allow-errors runs every cell, keeps the error in the outputs and exits 0", async () => {
    const nb = writeNotebookFile(dir, "allow.ipynb", [{ source: "1/0" }, { source: "print('after')" }]);
    const out = join(dir, "allow.out.ipynb");
    const res = await runCli(["run", nb, "-o", out, "--allow-errors", "--json", "-q"]);
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(summary.cells.map((c: any) => c.status)).toEqual(["error", "ok"]);
    expect(outputText(readJson(out).cells[1])).toBe("after\n");
  });

  it("interrupts a cell that exceeds --cell-timeout and records a timeout error", async () => {
    const nb = writeNotebookFile(dir, "timeout.ipynb", [{ source: "import time\nprint('start')\ntime.sleep(60)" }, { source: "print('never')" }]);
    const out = join(dir, "timeout.out.ipynb");
    const res = await runCli(["run", nb, "-o", out, "--cell-timeout", "2", "--json", "-q"]);
    expect(res.code).toBe(1);
    expect(res.survivors).toEqual([]);
    const summary = JSON.parse(res.stdout);
    expect(summary.status).toBe("timeout");
    expect(summary.cells.map((c: any) => c.status)).toEqual(["timeout", "not-run"]);
    const cell = readJson(out).cells[0];
    expect(outputText(cell)).toContain("start\n");
    expect(cell.outputs.at(-1)).toMatchObject({ output_type: "error", ename: "CellTimeoutError" });
    expect(cell.outputs.some((o: any) => o.ename === "KeyboardInterrupt")).toBe(false);
  });

  it("reports a kernel that dies mid-cell as an infrastructure failure (exit 3), with the partial notebook", async () => {
    const nb = writeNotebookFile(dir, "dies.ipynb", [{ source: "print('before', flush=True)" }, { source: "import os\nos._exit(1)" }, { source: "print('never')" }]);
    const out = join(dir, "dies.out.ipynb");
    const res = await runCli(["run", nb, "-o", out]);
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/kernel died/i);
    expect(res.survivors).toEqual([]);
    const written = readJson(out);
    expect(outputText(written.cells[0])).toBe("before\n");
    expect(written.cells[1].outputs.at(-1)).toMatchObject({ output_type: "error", ename: "DeadKernelError" });
    expect(written.cells[2].outputs).toEqual([]);
  });

  it("on Ctrl-C interrupts the kernel, writes the partial notebook and shuts everything down", async () => {
    const nb = writeNotebookFile(dir, "sigint.ipynb", [{ source: "print('first')" }, { source: "import time\nprint('sleeping', flush=True)\ntime.sleep(120)" }, { source: "print('never')" }]);
    const out = join(dir, "sigint.out.ipynb");
    const res = await runCli(["run", nb, "-o", out], {
      onSpawn: (child, output) => {
        const poll = setInterval(() => {
          if (output.stderr().includes("[2/3] running")) {
            clearInterval(poll);
            setTimeout(() => child.kill("SIGINT"), 500);
          }
        }, 100);
      },
    });
    expect(res.code).toBe(130);
    expect(res.survivors).toEqual([]);
    const written = readJson(out);
    expect(outputText(written.cells[0])).toBe("first\n");
    expect(outputText(written.cells[1])).toContain("sleeping");
    expect(written.cells[1].outputs.at(-1)).toMatchObject({ output_type: "error", ename: "KeyboardInterrupt" });
    expect(written.cells[2].outputs).toEqual([]);
  });

  it("prints a --json summary that follows its schema", async () => {
    const nb = writeNotebookFile(dir, "json.ipynb", [{ source: "x = 2" }, { source: "" }, { source: "x * 21" }]);
    const res = await runCli(["run", nb, "--json", "-q"]);
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout);
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "schemas", "run-summary.schema.json"), "utf8"));
    const validate = new Ajv({ strict: false }).compile(schema);
    expect(validate(summary), JSON.stringify(validate.errors)).toBe(true);
    expect(summary.cells.map((c: any) => c.status)).toEqual(["ok", "skipped", "ok"]);
    expect(summary.output).toBe(join(dir, "json.out.ipynb"));
    expect(existsSync(summary.output)).toBe(true);
  });
});
