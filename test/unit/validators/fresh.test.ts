import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateValidators, ROOT } from "../../../scripts/validators.js";

// The validators every command uses are generated from schemas/ and checked
// in (src/validators/generated/). A schema edited without running
// `npm run validators` would leave the code checking the old one.
describe("precompiled validators", () => {
  it("are what scripts/validators.ts generates from schemas/ now", () => {
    for (const m of generateValidators()) {
      let onDisk: string | undefined;
      try {
        onDisk = readFileSync(join(ROOT, m.path), "utf8");
      } catch {
        onDisk = undefined;
      }
      expect(onDisk === m.text, `${m.path} is stale or missing: run 'npm run validators'`).toBe(true);
    }
  });
});
