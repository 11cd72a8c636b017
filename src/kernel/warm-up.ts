/**
 * What the first `%audit on|off` would otherwise wait for: the analysis
 * parser (and the first use of the bundle's and the shim's validators, which
 * are precompiled: see scripts/validators.ts). The kernel loads them while its
 * inner ipykernel starts, when it has nothing else to do.
 */
import { loadPythonParser } from "../analysis/index.js";
import { schemaProblems, type BundleSchema } from "../bundle/schemas.js";
import { replyValidators } from "../jupyter/shim-client.js";

const BUNDLE_SCHEMAS: BundleSchema[] = ["bundle-manifest", "cell-record", "run-log-event", "environment", "bundle-digests", "bundle-owner"];

export async function warmUp(log: (line: string) => void): Promise<void> {
  try {
    await loadPythonParser();
    for (const name of BUNDLE_SCHEMAS) schemaProblems(name, {});
    replyValidators();
  } catch (err) {
    // Only a head start: whatever failed here fails again, with its context, where it is needed.
    log(`warm-up: ${(err as Error).message}`);
  }
}
