/**
 * The replay container's entry point (see containers/replay.Dockerfile):
 *
 *   inside-entry NOTEBOOK [repeat options...]
 *
 * NOTEBOOK is relative to the read-only mount. Stages a writable work dir
 * (stage-work-dir.ts), runs `nbrewind-engine repeat` there with its progress
 * on stderr (streamed to the host), the output notebook and the --json
 * summary into OUT_DIR, which the host copies back once the container
 * exits. SIGTERM / SIGINT are passed on, so the repeat stops its kernel and
 * writes what it has.
 */
import { spawn } from "node:child_process";
import { openSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { packageRoot } from "../common/package-root.js";
import { MOUNT_DIR, OUT_DIR, STAGED_DIR, SUMMARY_FILE } from "./paths.js";
import { stageWorkDir } from "./stage-work-dir.js";

const [notebook, ...repeatArgs] = process.argv.slice(2);
if (!notebook) {
  process.stderr.write("usage: inside-entry NOTEBOOK [repeat options...]\n");
  process.exit(2);
}

const counts = await stageWorkDir(MOUNT_DIR, STAGED_DIR);
process.stderr.write(`container: work dir staged (${counts.copied} file(s) copied, ${counts.linked} blob(s) linked read-only)\n`);
await mkdir(OUT_DIR, { recursive: true });

const notebookPath = join(STAGED_DIR, notebook);
const output = join(OUT_DIR, `${basename(notebook, extname(notebook))}.out.ipynb`);
const summary = openSync(join(OUT_DIR, SUMMARY_FILE), "w");
const child = spawn(process.execPath, [join(packageRoot(), "bin", "nbrewind-engine.js"), "repeat", notebookPath, "-o", output, "--json", ...repeatArgs], {
  cwd: dirname(notebookPath),
  stdio: ["ignore", summary, "inherit"],
});
for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => child.kill(sig));
child.on("close", (code, signal) => process.exit(code ?? (signal === "SIGKILL" ? 137 : 130)));
