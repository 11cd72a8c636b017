import { PassThrough } from "node:stream";
import { main } from "../../../src/cli/main.js";

/** The CLI in this process, for commands that start no kernel: exit code and what it wrote. */
export async function runMain(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await main(argv, { stdout, stderr, signal: new AbortController().signal });
  return { code, out, err };
}
