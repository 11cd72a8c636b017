import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { FileDigest } from "../planner/fingerprint.js";

/**
 * Files a cell names (`%run prep.py`), read from `folder`: the notebook's
 * folder, where the kernel starts (the CLI's plan and the NBRewind kernel,
 * whose working folder it is). Undefined for a file that cannot be read.
 */
export function filesIn(folder: string): FileDigest {
  return (path) => {
    try {
      return createHash("sha256").update(readFileSync(resolve(folder, path))).digest("hex");
    } catch {
      return undefined;
    }
  };
}
