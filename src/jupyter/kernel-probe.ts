import { InfrastructureError } from "../common/errors.js";
import { KernelSession } from "./kernel-session.js";
import type { ServerEndpoint } from "./server-endpoint.js";

/** What a kernel's own environment holds, as the kernel itself reports it. */
export interface KernelEnvironment {
  python: string;
  executable: string;
  /** Distribution name -> installed version, null when absent. */
  packages: Record<string, string | null>;
}

const PROBE = [
  "import json as _j, sys as _s, importlib.metadata as _md",
  "def _v(n):",
  "    try: return _md.version(n)",
  "    except _md.PackageNotFoundError: return None",
  "print(_j.dumps({'python': _s.version.split()[0], 'executable': _s.executable, 'packages': {n: _v(n) for n in NAMES}}))",
].join("\n");

/**
 * Start the kernelspec on the server, ask it for its Python and package
 * versions, and shut it down. Asking the kernel (not reading its argv) works
 * for every kind of kernelspec: a venv, conda run, a wrapper script, a
 * kernel on another host behind --server-url.
 */
export async function probeKernelEnvironment(endpoint: ServerEndpoint, kernelName: string, names: string[], timeoutMs = 120_000): Promise<KernelEnvironment> {
  const session = new KernelSession(endpoint);
  try {
    await session.start(kernelName, timeoutMs);
    const code = `NAMES = ${JSON.stringify(names)}\n${PROBE}`;
    let out = "";
    let failure = "";
    const execution = session.execute(
      { code, silent: false, store_history: false, allow_stdin: false, stop_on_error: true },
      {
        onIopub(msg) {
          const content = msg.content as { name?: string; text?: string; ename?: string; evalue?: string };
          if (msg.header.msg_type === "stream" && content.name === "stdout") out += content.text ?? "";
          if (msg.header.msg_type === "error") failure = `${content.ename}: ${content.evalue}`;
        },
      },
    );
    await Promise.race([execution.done, session.died]).finally(() => execution.dispose());
    const line = out.trim().split("\n").pop() ?? "";
    try {
      return JSON.parse(line) as KernelEnvironment;
    } catch {
      throw new InfrastructureError(`kernel '${kernelName}' did not answer the environment probe${failure ? `: ${failure}` : ""}`);
    }
  } finally {
    await session.shutdown();
  }
}
