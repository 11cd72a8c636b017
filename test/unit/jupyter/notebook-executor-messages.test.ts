import { describe, expect, it } from "vitest";
import { executeNotebook } from "../../../src/jupyter/notebook-executor.js";

describe("the notebook executor's messages", () => {
  it("number a cell as every other message does (1-based among all cells), also in an internal error", async () => {
    const nb = { cells: [{ cell_type: "markdown", source: "# title", metadata: {} }, { cell_type: "code", source: "x = 1", metadata: {} }] };
    // A cell that must run without a kernel is a planning bug; the message must still point at the right cell.
    await expect(executeNotebook(nb, undefined)).rejects.toThrow("internal: cell 2 must run but no kernel was started");
  });
});
