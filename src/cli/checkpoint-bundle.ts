/**
 * Which bundle an audit, repeat or plan works on, and the trust gate in front
 * of it: command-line concerns (the --bundle option, the CLI's trust wording),
 * kept out of session/ so that the kernel can settle both its own way.
 */
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Bundle } from "../bundle/bundle.js";
import { defaultBundleDir, MANIFEST_FILE } from "../bundle/paths.js";
import type { SigningKey } from "../bundle/trust/keys.js";
import { openBundle, type CheckpointCommand } from "../session/checkpoint-session.js";
import type { ParsedArgs } from "./args.js";
import { claimNewBundle, requireTrustedBundle } from "./bundle-trust.js";

export function bundleDirFrom(args: ParsedArgs, notebookPath: string): string {
  return resolve(args.values.get("bundle") ?? defaultBundleDir(notebookPath));
}
/**
 * Open the bundle of an audit or repeat and settle trust before anything is
 * loaded from it: a bundle audit creates is the user's; an existing one must
 * pass the trust gate (bundle-trust.ts). Returns the key that signs the run.
 */
export async function openTrustedBundle(
  command: CheckpointCommand,
  dir: string,
  notebookPath: string,
  options: { trust: boolean; log: (line: string) => void },
): Promise<{ bundle: Bundle; signer: SigningKey }> {
  const existed = await stat(join(dir, MANIFEST_FILE)).then(
    () => true,
    () => false,
  );
  const bundle = await openBundle(command, dir, notebookPath);
  const signer = existed ? await requireTrustedBundle(command, bundle, options) : await claimNewBundle(bundle, options.log);
  return { bundle, signer };
}
