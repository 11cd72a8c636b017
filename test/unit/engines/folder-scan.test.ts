import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * Which values the checkpointer flags as holding a path into the notebook's
 * folder (engines/python/nbrewind/folder_scan.py): run in a plain Python
 * process on real pickles of the values a notebook holds.
 */
describe("folder scan of stored values", () => {
  let out: Record<string, boolean>;
  beforeAll(() => {
    const python = findManagedEnv()?.python ?? basePython();
    const script = join(packageRoot(), "test", "unit", "engines", "folder-scan", "cases.py");
    const r = spawnSync(python, [script, packageRoot()], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    out = JSON.parse(r.stdout.trim().split("\n").pop()!);
  }, 120_000);

  it("finds the folder as a string, bytes, pathlib paths (also after a memoized part), in containers and a DataFrame, in either spelling of a symlinked folder", () => {
    for (const name of ["abspath_str", "given_spelling_str", "bytes_path", "pathlib_path", "pathlib_paths_in_list", "pathlib_after_same_word", "dict_of_paths", "dataframe_column", "blob_file"]) {
      expect([name, out[name]]).toEqual([name, true]);
    }
  });

  it("does not flag relative paths, other folders, plain data, or anything when no folder is set or the folder is /", () => {
    for (const name of ["relative_str", "relative_path", "other_folder", "array", "int", "unconfigured", "root_folder"]) {
      expect([name, out[name]]).toEqual([name, false]);
    }
    expect(out.not_a_blob).toBe(true);
  });
});
