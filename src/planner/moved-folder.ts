/**
 * A notebook replayed or repeated in another folder than the one it was
 * recorded in (an unpacked bundle at another site, a moved project, a
 * container's work dir): a recorded value that holds a path into the old
 * folder (`os.path.abspath("data.csv")`, `Path.cwd() / "out"`) points back at
 * it. Restored, it makes the cells after it read the old folder's files, or
 * none, and print numbers that are not this folder's. The shim flags such
 * values (`holds_path`, engines/python/nbrewind/folder_scan.py) and the record
 * keeps the folder it ran in; here such a record is not reused elsewhere, and
 * its task results that hold the path are not served (`servableHere`).
 *
 * Relative paths are the cure the README recommends: a value holding one is
 * right in any folder and is reused as any other.
 */
import { realpathSync } from "node:fs";
import type { TaskRecord } from "../common/task-record.js";
import type { RecordedCell } from "./recorded.js";

/** Why a record cannot be reused in `folder` (a real path), or undefined when it can. */
export function whyMoved(record: RecordedCell, folder: string): string | undefined {
  if (record.folder === undefined || record.folder === folder) return undefined;
  // Stored values only: an unchanged one is its producer's, which is judged (and turned) on its own.
  const held = record.writes.find((w) => w.status === "stored" && w.holds_path === true);
  if (!held) return undefined;
  // Pack writes the folder as `.` (bundle/site-paths.ts): its path does not travel.
  const where = record.folder === "." ? "the folder it was packed in" : `the folder it was recorded in (${record.folder})`;
  return `\`${held.name}\` holds a path into ${where}, not this one`;
}

/** Whether a recorded task's result may be served in `folder`: not when it names the folder it was recorded in. */
export function servableHere(task: TaskRecord, recordFolder: string | undefined, folder: string | undefined): boolean {
  return task.holds_path !== true || folder === undefined || recordFolder === undefined || recordFolder === folder;
}

/** The folder as records name it: its real path (a symlinked path to the same folder is the same folder). */
export function realFolder(folder: string): string {
  try {
    return realpathSync(folder);
  } catch {
    return folder;
  }
}
