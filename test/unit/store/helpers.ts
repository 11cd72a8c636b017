import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export function tempDir(prefix = "nbrewind-store-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Write a blob with the shared layout, the way the kernel shim does (not through BlobStore). */
export function putBlob(blobsRoot: string, data: string | Uint8Array): string {
  const digest = sha256(data);
  const path = join(blobsRoot, "sha256", digest.slice(0, 2), digest.slice(2));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return digest;
}

export async function errorOf(fn: () => unknown): Promise<Error & { exitCode?: number; details?: string[] }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { exitCode?: number; details?: string[] };
  }
  throw new Error("expected an error, got none");
}
