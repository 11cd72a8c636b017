/**
 * @jupyterlab/services logs its connection chatter ("Starting WebSocket",
 * "Kernel: dead") through console.*, which in Node writes to stdout and
 * would corrupt --json output. Route it to stderr only when debugging.
 */
export function quietLibraryConsole(): void {
  const debug = Boolean(process.env.NBREWIND_DEBUG);
  const sink = (...args: unknown[]) => {
    if (debug) process.stderr.write(`[debug] ${args.map(String).join(" ")}\n`);
  };
  console.log = sink;
  console.info = sink;
  console.debug = sink;
  console.warn = sink;
}
