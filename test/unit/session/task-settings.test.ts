import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Notebook } from "../../../src/notebook/types.js";
import { BUNDLE_PINS_FILE, TaskSettings } from "../../../src/session/task-settings.js";

const notebook: Notebook = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [{ cell_type: "code", id: "load", metadata: { tags: ["heavy"] }, source: "x = 1", outputs: [], execution_count: null }],
} as unknown as Notebook;

describe("task settings: where pins come from", () => {
  it("without an nbrewind.yaml (a replay elsewhere), the pins recorded in the bundle apply; with one, the file wins", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nbrewind-settings-"));
    const bundle = join(dir, "nb.nbrewind");
    mkdirSync(bundle);
    writeFileSync(join(bundle, BUNDLE_PINS_FILE), JSON.stringify({ format_version: 1, source: "/site-a/nbrewind.yaml", pins: [{ function: "skim", cell: "heavy", version: "v3", keep: true }] }));
    const fromBundle = await TaskSettings.load(join(dir, "nb.ipynb"), notebook, bundle);
    expect(fromBundle.pinSource).toBe(join(bundle, BUNDLE_PINS_FILE));
    expect(fromBundle.pins).toEqual([{ function: "skim", cell: "heavy", version: "v3", keep: true, selector: "skim in cell heavy", cells: ["load"] }]);

    writeFileSync(join(dir, "nbrewind.yaml"), "pins:\n  - function: skim\n    version: v4\n");
    const fromFile = await TaskSettings.load(join(dir, "nb.ipynb"), notebook, bundle);
    expect(fromFile.pins.map((p) => p.version)).toEqual(["v4"]);
  });

  it("a damaged pins.json is exit 2 naming the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nbrewind-settings-"));
    const bundle = join(dir, "nb.nbrewind");
    mkdirSync(bundle);
    writeFileSync(join(bundle, BUNDLE_PINS_FILE), JSON.stringify({ format_version: 1, source: "x", pins: [{ function: "skim" }] }));
    await expect(TaskSettings.load(join(dir, "nb.ipynb"), notebook, bundle)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(`${join(bundle, BUNDLE_PINS_FILE)}: \`pins[0]\` needs \`version\``) });
  });
});
