/**
 * Before anything runs, check that every folder a command will write is
 * writable: a run must not execute every cell and then fail on the first
 * write. The probe creates and removes a file, which is what the run will
 * do (a permission check alone says nothing about a read-only mount or a
 * full disk with no inode left); a folder that does not exist yet is checked
 * through the nearest one that does, where it would be created.
 */
import { constants } from "node:fs";
import { open, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { InputError } from "./errors.js";
import { describeDiskProblem, DISK_ERROR_CODES } from "./disk-errors.js";

export interface WriteTarget {
  /** The folder that will be written (or created). */
  dir: string;
  /** What goes there, for the message: "the output notebook", "the bundle". */
  role: string;
  /** How to choose another place: "-o FILE", "--bundle DIR". */
  option?: string;
  /** The folder is written into, never created (a file's folder). */
  mustExist?: boolean;
}

export async function requireWritable(command: string, targets: WriteTarget[]): Promise<void> {
  const seen = new Set<string>();
  for (const target of targets) {
    const existing = await nearestExisting(target.dir);
    if (target.mustExist && existing !== target.dir) {
      throw new InputError(`${command}: cannot write ${target.role}: its folder ${target.dir} does not exist${target.option ? ` (${target.option})` : ""}. Nothing was run.`);
    }
    if (seen.has(existing)) continue;
    seen.add(existing);
    const probe = join(existing, `.nbrewind-write-probe-${process.pid}`);
    try {
      const handle = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      await handle.close();
      await unlink(probe);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (!DISK_ERROR_CODES.includes(code)) throw err;
      const created = existing === target.dir ? "" : ` (where ${target.dir} would be created)`;
      throw new InputError(
        `${command}: cannot write ${target.role} in ${existing}${created}: ${describeDiskProblem(code, undefined).replace(/; every cell.*$/, "")}${target.option ? ` (${target.option})` : ""}. Nothing was run.`,
      );
    }
  }
}

async function nearestExisting(dir: string): Promise<string> {
  for (let d = dir; ; d = dirname(d)) {
    const s = await stat(d).catch(() => undefined);
    if (s?.isDirectory()) return d;
    if (dirname(d) === d) return d;
  }
}
