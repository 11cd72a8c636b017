/**
 * Files as inputs and outputs of cells: a recorded cell is reused only while
 * the files it read are still what it read.
 *
 * The rule, cell by cell in notebook order:
 * * a file read by a cell is compared with what this run will have put there
 *   by then: the content an earlier reused cell restores, "unknown" when an
 *   earlier cell that writes it runs (then the reader runs, and the session
 *   may still reuse it once the writer's real output is known), or else what
 *   it held before the run;
 * * what a file held before the run is what is on disk now, unless the disk
 *   holds exactly what the latest run left there (its last writer's recorded
 *   content, or its removal): then the file was not touched since, and the
 *   reader is judged against what it read then. Without this, a cell that
 *   reads a file a later cell overwrites would find the later cell's output
 *   on disk and run on every repeat (and a counter kept in a file would move
 *   at every repeat);
 * * on disk, `stat` (size and mtime_ns) first: equal means unchanged; a
 *   different stat is settled by the sha256 of the content;
 * * a cell that runs because of a file makes every reused cell that reads a
 *   value from it run too (its values may differ; the session reuses them
 *   again when they turn out identical);
 * * a record whose values hold a path into the folder it was recorded in is
 *   not reused in another folder (moved-folder.ts), with the same effect on
 *   the cells that read its values;
 * * a file a cell only appended to (a log) is never an input and never
 *   restored, so a log that every cell appends to changes no decision;
 * * a written file recorded by digest only (over the size limit) that is not
 *   on disk as recorded makes its cell run: it cannot be put back.
 */
import { statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { allFiles, isDeletion, type FileRead, type FileWritten } from "../common/file-record.js";
import { hashFile } from "../store/digest.js";
import { realFolder, whyMoved } from "./moved-folder.js";
import type { CellPlan } from "./plan.js";
import type { RecordedCell } from "./recorded.js";

/** A file as it is on disk now. */
export type DiskState = { exists: false } | { exists: true; size: number; mtimeNs: string; sha256?: string };

/** What a path holds at a point of the planned run. */
type Expected = { kind: "content"; sha256: string } | { kind: "deleted" } | { kind: "unknown"; writer: CellPlan };

export type FileVerdict = { same: true } | { same: false; why: string };

/**
 * A file's content digest as of its stat at plan time, for the kernel: a file
 * it opens whose stat is still exactly this one (inode, size, mtime, ctime,
 * device: any write moves the ctime) is recorded without hashing it again.
 */
export interface DigestSeed {
  /** `ino:size:mtime_ns:ctime_ns:dev`, as the kernel's `os.stat` gives them. */
  stamp: string;
  sha256: string;
}

/**
 * The files of the notebook's folder as this run sees them: disk (probed once,
 * before planning) overlaid with what the run wrote or restored so far.
 */
export class FileView {
  private readonly overlay = new Map<string, { kind: "content"; sha256: string } | { kind: "deleted" }>();

  /** What the latest run left in each file it wrote: its last writer's entry (see `compareUnwritten`). */
  private readonly leftByLastRun = new Map<string, FileWritten>();

  /** The folder's real path, as records name the folder they ran in (moved-folder.ts). */
  readonly realDir: string;

  /** `lastRun`: the latest run's records in notebook order (the bundle manifest's `cells`). */
  constructor(
    readonly notebookDir: string,
    private readonly disk: Map<string, DiskState>,
    lastRun: Iterable<RecordedCell> = [],
    private readonly seeds: Map<string, DigestSeed> = new Map(),
  ) {
    for (const rec of lastRun) for (const w of allFiles(rec).written) this.leftByLastRun.set(w.path, w);
    this.realDir = realFolder(notebookDir);
  }

  /**
   * Stat every file the records name; hash one only when its stat differs from
   * some recorded stat of it (a changed file, or a copy at another site).
   */
  static async probe(notebookDir: string, records: Iterable<RecordedCell>, lastRun: Iterable<RecordedCell> = []): Promise<FileView> {
    // path -> recorded `size:mtime_ns` -> the sha256 recorded with it (null: records disagree)
    const stamps = new Map<string, Map<string, string | null>>();
    const add = (path: string, stamp: string, sha256: string) => {
      let seen = stamps.get(path);
      if (!seen) stamps.set(path, (seen = new Map()));
      const had = seen.get(stamp);
      seen.set(stamp, had === undefined || had === sha256 ? sha256 : null);
    };
    for (const rec of records) {
      const files = allFiles(rec);
      for (const r of files.read) add(r.path, `${r.size}:${r.mtime_ns}`, r.sha256);
      for (const w of files.written) {
        if (!isDeletion(w)) add(w.path, `${w.size}:${w.mtime_ns}`, w.sha256);
        else if (!stamps.has(w.path)) stamps.set(w.path, new Map());
      }
    }
    const seeds = new Map<string, DigestSeed>();
    // One synchronous stat per file: a promise per stat (the libuv pool) costs ten times the syscall, and a
    // cell that read 10,000 files made the plan wait over a second.
    const disk = new Map<string, DiskState>();
    const toHash: [string, string, string][] = [];
    for (const [path, recorded] of stamps) {
      const full = resolveIn(notebookDir, path);
      let st;
      try {
        st = statSync(full, { bigint: true, throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st?.isFile()) {
        disk.set(path, { exists: false });
        continue;
      }
      const state: DiskState = { exists: true, size: Number(st.size), mtimeNs: st.mtimeNs.toString() };
      disk.set(path, state);
      const stamp = `${state.size}:${state.mtimeNs}`;
      const kernelStamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.dev}`;
      if (recorded.size > 1 || (recorded.size === 1 && !recorded.has(stamp))) toHash.push([path, full, kernelStamp]);
      else {
        // The stat settles it as the record has it: the kernel need not hash it either.
        const sha256 = recorded.get(stamp);
        if (sha256) seeds.set(path, { stamp: kernelStamp, sha256 });
      }
    }
    // Hash only what a stat does not settle (a changed file, or a copy at another site).
    await Promise.all(
      toHash.map(async ([path, full, kernelStamp]) => {
        const state = disk.get(path) as DiskState & { exists: true };
        try {
          state.sha256 = (await hashFile(full)).digest;
          // Hashed as of that stat only if the stat did not move while it was read.
          const after = statSync(full, { bigint: true, throwIfNoEntry: false });
          if (after && `${after.ino}:${after.size}:${after.mtimeNs}:${after.ctimeNs}:${after.dev}` === kernelStamp) seeds.set(path, { stamp: kernelStamp, sha256: state.sha256 });
        } catch {
          disk.set(path, { exists: false });
        }
      }),
    );
    return new FileView(notebookDir, disk, lastRun, seeds);
  }

  /**
   * For the kernel's file observer (observe_files' `seed_digests`): the digest of
   * every recorded file as of its stat now, by its recorded name. A fresh kernel
   * then hashes a file its cell reads only when the file changed since the plan,
   * instead of every file at its first sight (a repeat reading gigabytes of
   * unchanged data hashed them all again).
   */
  digestSeeds(): Record<string, DigestSeed> {
    return Object.fromEntries(this.seeds);
  }

  /** This run wrote (or restored) `path` with this content, or removed it. */
  noteWritten(w: FileWritten): void {
    this.overlay.set(w.path, isDeletion(w) ? { kind: "deleted" } : { kind: "content", sha256: w.sha256 });
  }

  /** Is the file as the record has it, at this point of the run? */
  compare(read: { path: string; size: number; mtime_ns: string; sha256: string }): FileVerdict {
    const seen = this.overlay.get(read.path);
    if (seen) {
      if (seen.kind === "deleted") return { same: false, why: `reads \`${read.path}\`, which an earlier cell removed in this run` };
      return seen.sha256 === read.sha256 ? { same: true } : { same: false, why: `reads \`${read.path}\`, which an earlier cell wrote differently in this run` };
    }
    return this.compareUnwritten(read);
  }

  /**
   * A read no earlier cell of this run writes: judged against what the file
   * held before the run. The disk holds that, unless it holds exactly what
   * the latest run left there: then a later cell of that run overwrote (or
   * removed, or appended to) what this cell read, nobody touched the file
   * since, and the file's state before the run is the one the record read.
   */
  compareUnwritten(read: { path: string; size: number; mtime_ns: string; sha256: string }): FileVerdict {
    const verdict = this.compareDisk(read);
    if (verdict.same) return verdict;
    const left = this.leftByLastRun.get(read.path);
    if (!left) return verdict;
    const untouched = isDeletion(left) ? !this.disk.get(read.path)?.exists : this.compareDisk(left).same;
    return untouched ? { same: true } : verdict;
  }

  compareDisk(read: { path: string; size: number; mtime_ns: string; sha256: string }): FileVerdict {
    const d = this.disk.get(read.path);
    if (!d?.exists) return { same: false, why: `reads \`${read.path}\`, which is missing` };
    if (d.size === read.size && d.mtimeNs === read.mtime_ns) return { same: true };
    if (d.sha256 === read.sha256) return { same: true };
    return { same: false, why: `reads \`${read.path}\`, which changed since it was recorded` };
  }

  /** Whether the file on disk already holds what a written entry records (nothing to restore). */
  holds(w: FileWritten): boolean {
    const seen = this.overlay.get(w.path);
    if (isDeletion(w)) return seen ? seen.kind === "deleted" : !this.disk.get(w.path)?.exists;
    if (seen) return seen.kind === "content" && seen.sha256 === w.sha256;
    return this.compareDisk(w).same;
  }
}

/**
 * Every recorded file of the records the plan reuses, checked in notebook
 * order against what the run will have put there. Turns reused cells into
 * running ones, with the reason; returns the ids of the cells it turned.
 */
export function planFiles(cells: CellPlan[], view: FileView, label: (id: string) => string): Set<string> {
  const expected = new Map<string, Expected>();
  /** Cells turned to run, with the names their record wrote (the values that may now differ) and why they run. */
  const turned = new Map<string, Turned>();
  for (const cell of cells) {
    if (cell.decision === "skip") continue;
    if (cell.decision === "reuse" && cell.record) {
      const moved = whyMoved(cell.record, view.realDir);
      const files = moved ? undefined : whyFilesDiffer(cell.record, expected, view);
      const upstream = moved || files ? undefined : valueChanged(cell, turned, label);
      const why = moved ?? files ?? upstream?.why;
      if (why) {
        const because = moved ? "it holds a path into the folder it was recorded in" : (upstream?.because ?? "a file it reads changed");
        turned.set(cell.id, { names: new Set(cell.record.writes.map((w) => w.name)), because });
        cell.decision = "run";
        cell.reasons = [why];
        cell.record = undefined;
      }
    }
    const rec = cell.decision === "reuse" ? cell.record : (cell.record ?? cell.previous);
    for (const w of rec ? allFiles(rec).written : []) {
      if (!isDeletion(w) && w.appended) continue;
      if (cell.decision !== "reuse") expected.set(w.path, { kind: "unknown", writer: cell });
      else expected.set(w.path, isDeletion(w) ? { kind: "deleted" } : { kind: "content", sha256: w.sha256 });
    }
  }
  return new Set(turned.keys());
}

function whyFilesDiffer(record: RecordedCell, expected: Map<string, Expected>, view: FileView): string | undefined {
  const files = allFiles(record);
  for (const read of files.read) {
    const e = expected.get(read.path);
    if (e?.kind === "unknown") return `reads \`${read.path}\`, which cell ${e.writer.number} writes and which runs`;
    if (e?.kind === "deleted") return `reads \`${read.path}\`, which an earlier cell removes`;
    if (e?.kind === "content") {
      if (e.sha256 !== read.sha256) return `reads \`${read.path}\`, which an earlier cell writes differently`;
      continue;
    }
    const v = view.compareUnwritten(read);
    if (!v.same) return v.why;
  }
  for (const w of files.written) {
    if (isDeletion(w) || w.blob || w.appended) continue;
    if (!view.compareDisk(w).same) return `wrote \`${w.path}\` (${w.size} bytes, over the size limit: recorded by digest only), which is not on disk as recorded and cannot be put back`;
  }
  return undefined;
}

/**
 * A value read from a cell that now runs because of a file (or of a moved folder). Only names that
 * cell really wrote count: the analysis also lists names it may have touched
 * (a builtin such as `open` whose result a method is called on), which a
 * re-run cannot change.
 */
function valueChanged(cell: CellPlan, turned: Map<string, Turned>, label: (id: string) => string): { why: string; because: string } | undefined {
  const read = cell.identity.reads.find((r) => {
    const names = turned.get(r.producer_cell_id)?.names;
    return names !== undefined && (r.name === "*" || names.has(r.name));
  });
  if (!read) return undefined;
  const because = turned.get(read.producer_cell_id)!.because;
  return { why: `reads \`${read.name}\` from ${label(read.producer_cell_id)}, which runs because ${because}`, because };
}

/** A reused cell the files (or the folder) turned to run: the names its record wrote, and the root cause in words. */
interface Turned {
  names: Set<string>;
  because: string;
}

/** Does a record's file reads still hold at this point of the run (the session's value-level reuse)? */
export function filesStillMatch(record: RecordedCell, view: FileView): FileVerdict {
  const moved = whyMoved(record, view.realDir);
  if (moved) return { same: false, why: moved };
  const files = allFiles(record);
  for (const read of files.read) {
    const v = view.compare(read);
    if (!v.same) return v;
  }
  for (const w of files.written) {
    if (isDeletion(w) || w.blob || w.appended) continue;
    if (!view.holds(w)) return { same: false, why: `wrote \`${w.path}\`, recorded by digest only, which cannot be put back` };
  }
  return { same: true };
}

/**
 * The reads a cell declares with a pragma line, `# nbrewind: reads data/*.h5 other.nc`:
 * files its C libraries open where Python's audit hooks cannot see them.
 */
export function declaredReads(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(/^[ \t]*#[ \t]*nbrewind:[ \t]*reads[ \t]+(.+)$/gm)) out.push(...m[1]!.split(/[\s,]+/).filter(Boolean));
  return out;
}

export function resolveIn(notebookDir: string, path: string): string {
  return isAbsolute(path) ? path : join(notebookDir, path);
}


export type { FileRead };
