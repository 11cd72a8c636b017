import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import type { FileRead } from "../../../src/common/file-record.js";
import { ShimClient, type ShimChannel } from "../../../src/jupyter/shim-client.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * A cell that reads the very files the previous one read, none changed, is
 * answered with the token of the read list the client already holds instead
 * of the whole list again (10,000 entries are 1.5 MB of JSON to encode in
 * the kernel). The client must still give the session the full, true list.
 * The shim's real comm handler and file observer run in a Python process
 * behind a channel of JSON lines (no Jupyter: the channel is the only stand-in).
 */
const dir = mkdtempSync(join(tmpdir(), "nbrewind-shim-reads-"));
const python = findManagedEnv()?.python ?? basePython();
const proc = spawn(python, [join(packageRoot(), "test", "unit", "jupyter", "shim-reads", "serve.py"), packageRoot()], { stdio: ["pipe", "pipe", "inherit"] });
const wire: Record<string, any>[] = [];
let client: ShimClient;

const files = ["a.txt", "b.txt", "c.txt"].map((f) => join(dir, "data", f));
const readCell = `for p in ${JSON.stringify(files)}:\n    open(p).read()\n`;

function truth(): FileRead[] {
  return files.map((p) => {
    const st = statSync(p, { bigint: true });
    return { path: `data/${p.split("/").pop()}`, size: Number(st.size), mtime_ns: String(st.mtimeNs), sha256: createHash("sha256").update(readFileSync(p)).digest("hex") };
  });
}

async function cell(id: string, code: string): Promise<FileRead[]> {
  await client.preCell(id);
  proc.stdin.write(JSON.stringify({ type: "_run", code }) + "\n");
  return (await client.postCell(id, [], false)).files!.read;
}

beforeAll(async () => {
  mkdirSync(join(dir, "data"));
  files.forEach((p, i) => writeFileSync(p, `file ${i}\n`));
  const channel: ShimChannel = {
    loadShim: async () => {},
    died: new Promise<never>(() => {}),
    openComm(_target, handlers) {
      createInterface({ input: proc.stdout }).on("line", (line) => {
        const data = JSON.parse(line) as Record<string, unknown>;
        wire.push(data);
        handlers.onMsg(data);
      });
      return { send: (data) => void proc.stdin.write(JSON.stringify(data) + "\n"), close: () => proc.stdin.end() };
    },
  };
  client = await ShimClient.connect(channel, { blobsDir: join(dir, "nb.nbrewind", "blobs") });
  await client.observeFiles({ notebook_dir: dir, exclude: [join(dir, "nb.nbrewind")] });
}, 60_000);

afterAll(() => {
  client?.close();
  proc.kill();
  rmSync(dir, { recursive: true, force: true });
});

const lastFiles = () => wire.filter((m) => m.type === "post_cell_reply").pop()!.files;

describe("post_cell's read list, sent once", () => {
  it("the same files read again, unchanged and watched: the shim sends the token, the session gets the full list", async () => {
    expect(await cell("c1", readCell)).toEqual(truth());
    expect(lastFiles().read).toHaveLength(3);
    // The second time sets up the files' watches (file_watch.py): its list is sent in full.
    expect(await cell("c2", readCell)).toEqual(truth());
    expect(lastFiles().read).toHaveLength(3);
    expect(await cell("c2b", readCell)).toEqual(truth());
    expect(lastFiles()).toEqual({ read_as: expect.any(String), written: [] });
  });

  it("a file changed since: the full list again, with the change; then the token of that new list", async () => {
    writeFileSync(files[1]!, "file 1, changed\n");
    const changed = await cell("c3", readCell);
    expect(changed).toEqual(truth());
    expect(changed[1]!.sha256).toBe(createHash("sha256").update("file 1, changed\n").digest("hex"));
    expect(lastFiles().read).toHaveLength(3);
    expect(await cell("c4", readCell)).toEqual(truth());
    expect(lastFiles().read_as).toEqual(expect.any(String));
  });

  it("other files: the full list", async () => {
    expect(await cell("c5", `open(${JSON.stringify(files[0])}).read()`)).toEqual([truth()[0]]);
    expect(lastFiles().read).toHaveLength(1);
  });
});
