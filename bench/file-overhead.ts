/**
 * File observation overhead (issue 10).
 *
 *   npm run bench:files [-- --files 10000 --tasks 10000 --reps 5 --scheduler threads|distributed]
 *
 * Runs bench/file_overhead.py with the managed env's Python: (a) a cell
 * reading N small files, observed against unobserved; (b) a Dask audit of N
 * tasks each reading one small file, with file observation against the same
 * audit without it. Then (c), here: what those N recorded reads cost the
 * plan at the next repeat (FileView.probe: a stat per file). It measures and
 * prints; it asserts nothing.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FileRead } from "../src/common/file-record.js";
import { FileView } from "../src/planner/files.js";
import type { RecordedCell } from "../src/planner/recorded.js";
import { ensureManagedEnv } from "../src/pyenv/managed-env.js";

const here = dirname(fileURLToPath(import.meta.url));
const env = await ensureManagedEnv((line) => process.stderr.write(`[python env] ${line}\n`));
const res = spawnSync(env.python, [join(here, "file_overhead.py"), ...process.argv.slice(2)], { stdio: "inherit" });
if (res.status !== 0) process.exit(res.status ?? 1);

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const files = flag("files", 10000);
const reps = flag("reps", 5);
const dir = mkdtempSync(join(tmpdir(), "nbrewind-bench-probe-"));
try {
  const read: FileRead[] = [];
  for (let i = 0; i < files; i++) {
    const path = `f${String(i).padStart(5, "0")}.txt`;
    const data = `${i} `.repeat(30);
    writeFileSync(join(dir, path), data);
    const st = statSync(join(dir, path), { bigint: true });
    read.push({ path, size: Number(st.size), mtime_ns: st.mtimeNs.toString(), sha256: createHash("sha256").update(readFileSync(join(dir, path))).digest("hex") });
  }
  const record = { fingerprint: "bench", cell_id: "bench", files: { read, written: [] } } as unknown as RecordedCell;
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    const c = process.cpuUsage();
    await FileView.probe(dir, [record], [record]);
    const used = process.cpuUsage(c);
    walls.push(Number(process.hrtime.bigint() - t) / 1e6);
    cpus.push((used.user + used.system) / 1000);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`(c) the plan at the next repeat: probing ${files} recorded reads (a stat each), median of ${reps}:`);
  console.log(`    ${median(walls).toFixed(1)} ms wall, ${median(cpus).toFixed(1)} ms CPU  (load average ${loadavg()[0]!.toFixed(1)})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
