/**
 * Child process for the cross-process test: appends `count` runs named
 * `<prefix><i>` to the bundle at `dir`, then finishes each.
 * Usage: node --import tsx manifest-writer.ts DIR PREFIX COUNT
 */
import { Bundle } from "../../../src/bundle/index.js";

const [dir, prefix, count] = process.argv.slice(2) as [string, string, string];
const bundle = await Bundle.open(dir);
for (let i = 0; i < Number(count); i++) {
  const id = `${prefix}${i}`;
  await bundle.beginRun({ run_id: id, command: "repeat", started_at: new Date().toISOString(), finished_at: null, status: "running", kernel: "python3", parameters: {}, cells: { reused: 0, restored: 0, run: 0 } });
  await bundle.finishRun(id, { status: "ok" });
}
