import { quietLibraryConsole } from "./library-console.js";
import { guardLibraryRejections } from "./library-rejections.js";
import { main } from "./main.js";

// Process wiring lives here so main() stays callable from tests.
quietLibraryConsole();
guardLibraryRejections(process.stderr);
const controller = new AbortController();
let signals = 0;
const onSignal = (sig: NodeJS.Signals) => {
  signals++;
  if (signals > 1) {
    process.stderr.write(`\nnbrewind-engine: second ${sig}, exiting now\n`);
    process.exit(130);
  }
  process.stderr.write(`\nnbrewind-engine: ${sig} received, interrupting and cleaning up (press again to force)\n`);
  controller.abort(new Error(sig));
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
// An unhandled rejection reported during the run keeps its exit code 3.
if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = code;
