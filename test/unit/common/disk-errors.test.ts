import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DiskError, diskErrorAt, diskErrorFrom } from "../../../src/common/disk-errors.js";
import { requireWritable } from "../../../src/common/writable.js";

function errno(code: string, extra: Record<string, string> = {}): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: boom`), { code, ...extra });
}

describe("disk errors", () => {
  it("a full or read-only disk is a sentence naming the path, exit 2", () => {
    const full = diskErrorFrom(errno("ENOSPC", { syscall: "write", path: "/data/nb.nbrewind/cells/x.json" }));
    expect(full).toBeInstanceOf(DiskError);
    expect(full!.exitCode).toBe(2);
    expect(full!.message).toBe("no space left on the device writing /data/nb.nbrewind/cells/x.json (ENOSPC): free some space there, or choose another folder; every cell and record completed before it is kept");
    expect(diskErrorFrom(errno("EROFS", { syscall: "mkdir", path: "/ro/x" }))!.message).toMatch(/^the file system is read-only writing \/ro\/x \(EROFS\): choose a folder you can write/);
  });

  it("other errors stay what they are; a write through a handle gets the place it was writing", () => {
    expect(diskErrorFrom(errno("ENOENT", { syscall: "open" }))).toBeUndefined();
    expect(diskErrorFrom(errno("EPERM", { syscall: "kill" }))).toBeUndefined();
    expect((diskErrorAt(errno("ENOSPC", { syscall: "write" }), "/out/nb.tgz") as DiskError).path).toBe("/out/nb.tgz");
  });

  it("the pre-flight check passes a writable folder, and one that would be created inside it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nbrewind-writable-"));
    await expect(requireWritable("run", [{ dir, role: "the output notebook" }, { dir: join(dir, "new", "deeper"), role: "the bundle" }])).resolves.toBeUndefined();
  });

  it("a file's folder that does not exist is named before anything runs", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "nbrewind-writable-")), "missing");
    await expect(requireWritable("run", [{ dir, role: "the output notebook", option: "-o FILE", mustExist: true }])).rejects.toThrow(
      `run: cannot write the output notebook: its folder ${dir} does not exist (-o FILE). Nothing was run.`,
    );
  });
});
