import { PassThrough } from "node:stream";
import type { CommandIO } from "../../../src/cli/command.js";
import { main } from "../../../src/cli/main.js";

/** Streams a command writes to, kept as text: for running commands in this process. */
export function capturedIO(): { io: CommandIO; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  return { io: { stdout, stderr, signal: new AbortController().signal }, out: () => out, err: () => err };
}

/** The CLI in this process, for commands that start no kernel: exit code and what it wrote. */
export async function runMain(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const { io, out, err } = capturedIO();
  const code = await main(argv, io);
  return { code, out: out(), err: err() };
}
