/**
 * Jupyter connection files: the one a frontend gives a kernel (the NBRewind
 * kernel reads it), and the one we write for an ipykernel we launch ourselves
 * (the CLI's kernel, the NBRewind kernel's inner one).
 */
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { InputError } from "../common/errors.js";

export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  shell_port: number;
  control_port: number;
  stdin_port: number;
  iopub_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export type Channel = "shell" | "control" | "stdin" | "iopub" | "hb";
export const CHANNELS: Channel[] = ["shell", "control", "stdin", "iopub", "hb"];

/** Read and check a connection file; a bad one is named with the field at fault. */
export async function readConnectionFile(path: string): Promise<ConnectionInfo> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new InputError(`${path}: cannot read the connection file: ${(err as Error).message}`);
  }
  const info = raw as Partial<ConnectionInfo>;
  const transport = info.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") throw new InputError(`${path}: transport must be "tcp" or "ipc", not ${JSON.stringify(transport)}`);
  if (typeof info.ip !== "string") throw new InputError(`${path}: ip must be a string`);
  for (const ch of CHANNELS) {
    const port = info[`${ch}_port`];
    if (typeof port !== "number" || !Number.isInteger(port) || port < 0) throw new InputError(`${path}: ${ch}_port must be a port number`);
  }
  if (typeof info.key !== "string") throw new InputError(`${path}: key must be a string`);
  return { ...(info as ConnectionInfo), transport, signature_scheme: info.signature_scheme ?? "hmac-sha256" };
}

export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port`];
  return info.transport === "ipc" ? `ipc://${info.ip}-${port}` : `tcp://${info.ip}:${port}`;
}

/** A connection for a kernel we launch: loopback TCP, fresh ports, the given key; the file is the user's alone (0600). */
export async function writeLoopbackConnectionFile(path: string, key: string, signatureScheme: string): Promise<ConnectionInfo> {
  const ports: number[] = [];
  while (ports.length < CHANNELS.length) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const info: ConnectionInfo = {
    transport: "tcp",
    ip: "127.0.0.1",
    shell_port: ports[0]!,
    control_port: ports[1]!,
    stdin_port: ports[2]!,
    iopub_port: ports[3]!,
    hb_port: ports[4]!,
    key,
    signature_scheme: signatureScheme,
  };
  await writeFile(path, JSON.stringify(info, null, 2), { mode: 0o600, flag: "wx" });
  return info;
}

/** A loopback port the OS says is free now (the embedded server and every kernel we launch take theirs this way). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
