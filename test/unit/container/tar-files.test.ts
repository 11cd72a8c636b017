import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { tarFiles } from "../../../src/container/tar-files.js";

function archiveOf(format: "gnu" | "pax" | "ustar"): { archive: Buffer; longName: string } {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-tar-test-"));
  const longName = `${"n".repeat(120)}.out.ipynb`;
  mkdirSync(join(dir, "out", "sub"), { recursive: true });
  writeFileSync(join(dir, "out", "summary.json"), '{"ok":true}\n');
  writeFileSync(join(dir, "out", "sub", "big.bin"), Buffer.alloc(70_000, 7));
  writeFileSync(join(dir, "out", "empty"), "");
  symlinkSync("summary.json", join(dir, "out", "link"));
  if (format !== "ustar") writeFileSync(join(dir, "out", longName), "long");
  const archive = execFileSync("tar", ["-c", "-f", "-", `--format=${format}`, "-C", dir, "out"]);
  return { archive, longName };
}

test.each(["gnu", "pax", "ustar"] as const)("reads the regular files of a %s archive, skipping folders and links", (format) => {
  const { archive, longName } = archiveOf(format);
  const files = tarFiles(archive);
  expect(files.get("out/summary.json")?.toString()).toBe('{"ok":true}\n');
  expect(files.get("out/sub/big.bin")?.equals(Buffer.alloc(70_000, 7))).toBe(true);
  expect(files.get("out/empty")?.length).toBe(0);
  expect(files.has("out/link")).toBe(false);
  expect(files.has("out/sub")).toBe(false);
  if (format !== "ustar") expect(files.get(`out/${longName}`)?.toString()).toBe("long");
});

test("a truncated archive is an error, not a short file", () => {
  const dir = mkdtempSync(join(tmpdir(), "nbrewind-tar-test-"));
  writeFileSync(join(dir, "big.bin"), Buffer.alloc(70_000, 1));
  const archive = execFileSync("tar", ["-c", "-f", "-", "-C", dir, "big.bin"]);
  expect(() => tarFiles(archive.subarray(0, 512 + 1000))).toThrow(/truncated tar archive: big.bin needs 70000 bytes/);
});
