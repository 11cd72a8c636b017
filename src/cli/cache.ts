import { resolve } from "node:path";
import { checkImportedBlobs, exportCacheFile, importCacheFile, looksLikeArchive, publishImported } from "../bundle/cache-archive.js";
import { ExitCode, InputError } from "../common/errors.js";
import { CONFIG_FILE_NAME, editConfigFile, findConfigFile, functionMatcher, loadConfigFor, parseDuration, parseSize, pinHolds, pinsAsRecorded, removePin, setPin, type NbrewindConfig } from "../config/index.js";
import { formatBytes } from "../planner/plan.js";
import { collectCache } from "../session/cache-gc.js";
import { isPinned, takeInventory } from "../store/cache-inventory.js";
import { verifyCache } from "../store/cache-verify.js";
import { TaskCache } from "../store/task-cache.js";
import { parseArgs, type ParsedArgs } from "./args.js";
import { itemJson, itemJsonText, lsTable, writeInPieces } from "./cache-listing.js";
import type { Command, CommandIO } from "./command.js";

const SUBCOMMANDS = ["ls", "du", "pin", "unpin", "gc", "verify", "export", "import"] as const;

async function cache(argv: string[], io: CommandIO): Promise<number> {
  const switches = ["json", "pinned", "keep", "dry-run", "all", "replace"];
  const valued = ["cache", "function", "version", "cell", "max-size", "older-than", "keep-runs"];
  const args = parseArgs("cache", argv, [...switches.map((name) => ({ name, arity: 0 as const })), ...valued.map((name) => ({ name, arity: 1 as const }))]);
  const [sub, ...rest] = args.positionals;
  const json = args.flags.has("json");
  // Indented for people reading small outputs; a listing of thousands of entries is for scripts.
  const out = (value: unknown, lines: () => string[], big = false) => io.stdout.write(json ? JSON.stringify(value, null, big ? undefined : 2) + "\n" : lines().join("\n") + "\n");
  const say = (line: string) => io.stderr.write(line + "\n");
  switch (sub) {
    case "ls": {
      const dir = cacheDir(args);
      const glob = args.values.get("function");
      // The index alone (no reconciling listing): ls is the quick look; gc and verify see every entry file.
      const matches = glob ? functionMatcher(glob) : undefined;
      const items = takeInventory(new TaskCache(dir), { reconcile: false }).items.filter((i) => (!args.flags.has("pinned") || isPinned(i)) && (!matches || matches(i.entry.function)));
      const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      items.sort((a, b) => order(a.entry.function, b.entry.function) || order(a.entry.created_at, b.entry.created_at));
      if (json && items.length > 1000) writeInPieces(io.stdout, `{"cache":${JSON.stringify(dir)},"entries":[`, items, itemJsonText, ",", "]}\n");
      else if (json) out({ cache: dir, entries: items.map(itemJson) }, () => []);
      else writeInPieces(io.stdout, "", lsTable(items), (line) => line, "\n", "\n");
      return ExitCode.ok;
    }
    case "du": {
      const dir = cacheDir(args);
      const inv = takeInventory(new TaskCache(dir), { blobs: true });
      let total = 0;
      for (const s of inv.blobSizes.values()) total += s;
      const byFunction = new Map<string, { entries: number; bytes: number; pinned: number }>();
      for (const i of inv.items) {
        const f = byFunction.get(i.entry.function) ?? { entries: 0, bytes: 0, pinned: 0 };
        f.entries++;
        f.bytes += i.entry.size;
        if (isPinned(i)) f.pinned++;
        byFunction.set(i.entry.function, f);
      }
      const pinnedBytes = inv.items.filter(isPinned).reduce((s, i) => s + i.entry.size, 0);
      const neededBytes = inv.items.filter((i) => i.neededBy.length > 0).reduce((s, i) => s + i.entry.size, 0);
      const functions = [...byFunction].sort((a, b) => b[1].bytes - a[1].bytes).map(([fn, f]) => ({ function: fn, ...f }));
      out({ cache: dir, entries: inv.items.length, blobs: inv.blobSizes.size, bytes: total, pinned_bytes: pinnedBytes, needed_bytes: neededBytes, bundles: inv.liveRefs.length, functions }, () => [
        `${dir}: ${formatBytes(total)} in ${inv.blobSizes.size} blob(s), ${inv.items.length} entr${inv.items.length === 1 ? "y" : "ies"}`,
        `  pinned: ${formatBytes(pinnedBytes)}; needed by the latest run of ${inv.liveRefs.length} bundle(s): ${formatBytes(neededBytes)}`,
        ...functions.slice(0, 20).map((f) => `  ${formatBytes(f.bytes).padStart(9)}  ${String(f.entries).padStart(7)} × ${f.function}${f.pinned ? ` (${f.pinned} pinned)` : ""}`),
      ]);
      return ExitCode.ok;
    }
    case "pin":
    case "unpin": {
      if (rest.length !== 1) throw new InputError(`cache ${sub}: give one SELECTOR, a glob on the task function's qualified name (see 'nbrewind-engine cache --help')`);
      const file = findConfigFile(process.cwd()) ?? resolve(CONFIG_FILE_NAME);
      const cell = args.values.get("cell");
      const sel = { function: rest[0]!, ...(cell ? { cell } : {}) };
      if (sub === "pin") {
        const version = args.values.get("version");
        if (!version) throw new InputError("cache pin: --version V is required (the version that stands for the function's code; bump it to recompute)");
        let updated = false;
        await editConfigFile(file, (text) => {
          const r = setPin(text, file, sel, version, args.flags.has("keep") ? true : undefined);
          updated = r.updated;
          return r.text;
        });
        out({ config: file, pin: { ...sel, version, keep: args.flags.has("keep") }, updated }, () => [`${updated ? "updated" : "added"} pin ${sel.function}${cell ? ` in cell ${cell}` : ""} at version ${version} in ${file}`]);
      } else {
        let removed = 0;
        await editConfigFile(file, (text) => {
          const r = removePin(text, file, sel);
          removed = r.removed;
          return r.text;
        });
        if (removed === 0) say(`no pin ${sel.function}${cell ? ` in cell ${cell}` : ""} in ${file}`);
        out({ config: file, removed }, () => [`removed ${removed} pin(s) from ${file}`]);
      }
      return ExitCode.ok;
    }
    case "gc": {
      const { dir, config } = cacheDirAndConfig(args);
      const maxSize = args.values.has("max-size") ? sizeOption(args.values.get("max-size")!) : config.gc.maxSizeBytes;
      const olderThan = args.values.has("older-than") ? durationOption(args.values.get("older-than")!) : undefined;
      const keepRunsText = args.values.get("keep-runs");
      const keepRuns = keepRunsText !== undefined ? positiveInt(keepRunsText) : config.gc.keepRuns;
      const report = await collectCache(new TaskCache(dir), { dryRun: args.flags.has("dry-run"), ...(maxSize !== undefined ? { maxSizeBytes: maxSize } : {}), ...(olderThan !== undefined ? { olderThanMs: olderThan } : {}), ...(keepRuns !== undefined ? { keepRuns } : {}), keptPins: pinsAsRecorded(config.pins.filter((p) => p.keep)), pinHolds: pinHolds(config) });
      const verb = report.dry_run ? "would free" : "freed";
      out({ cache: dir, ...report }, () => [
        `${verb} ${formatBytes(report.bytes_freed)} of ${formatBytes(report.bytes_before)}: ${report.entries_removed} entr${report.entries_removed === 1 ? "y" : "ies"}, ${report.blobs_removed} blob(s)`,
        `kept: ${report.kept_pinned} pinned, ${report.kept_needed} needed by the latest run of a known bundle`,
        ...(report.over_limit ? [`note: pinned and needed results alone exceed --max-size; they are never collected (unpin, or pass a larger size)`] : []),
        ...report.bundles.map((b) => `${b.bundle}: ${report.dry_run ? "would remove" : "removed"} ${b.records_removed} old record(s) and ${b.blobs_removed} blob(s), ${formatBytes(b.bytes_freed)}`),
      ], report.removed.length > 1000);
      return ExitCode.ok;
    }
    case "verify": {
      const dir = cacheDir(args);
      const result = await verifyCache(new TaskCache(dir), { signal: io.signal });
      out({ cache: dir, ok: result.problems.length === 0, ...result }, () => [
        ...result.problems.map((p) => `${p.where.length === 64 ? p.where.slice(0, 12) : p.where}: ${p.problem}`),
        `${result.problems.length === 0 ? "ok" : `${result.problems.length} problem(s)`}: ${result.entries} entr${result.entries === 1 ? "y" : "ies"}, ${result.blobs} blob(s), ${formatBytes(result.bytes)} checked in ${dir}`,
      ]);
      return result.problems.length === 0 ? ExitCode.ok : ExitCode.badInput;
    }
    case "export":
    case "import": {
      if (rest.length !== 1) throw new InputError(`cache ${sub}: give one DIR or FILE (see 'nbrewind-engine cache --help')`);
      const local = new TaskCache(cacheDir(args));
      const there = resolve(rest[0]!);
      const pinnedOnly = sub === "export" && !args.flags.has("all");
      const result = sub === "export" ? await exportTo(local, there, pinnedOnly) : await importFrom(local, there, args.flags.has("replace"));
      out(result, () => [
        `${sub === "export" ? "exported" : "imported"} ${result.entries} ${pinnedOnly ? "pinned " : ""}result(s) from ${result.from} to ${result.to}${result.skipped ? ` (${result.skipped} skipped: a blob was missing)` : ""}`,
        ...(result.present ? [`${result.present} result(s) were already there`] : []),
        ...(result.replaced ? [`${result.replaced} result(s) that differed were replaced (--replace)`] : []),
      ]);
      return ExitCode.ok;
    }
    default:
      throw new InputError(sub ? `cache: unknown subcommand '${sub}'; expected one of ${SUBCOMMANDS.join(", ")}` : `cache: give a subcommand, one of ${SUBCOMMANDS.join(", ")} (see 'nbrewind-engine cache --help')`);
  }
}

interface Transfer {
  from: string;
  to: string;
  entries: number;
  skipped: number;
  present?: number;
  replaced?: number;
}

/** Into a folder (a task cache others list under cache.read) or one file (a .tar, .tar.gz or .tgz, or an existing file). */
async function exportTo(local: TaskCache, there: string, pinnedOnly: boolean): Promise<Transfer> {
  const entries = local.scanEntries().entries.filter((e) => !pinnedOnly || e.pin !== undefined);
  if (await looksLikeArchive(there)) {
    const r = await exportCacheFile(local, entries, there);
    return { from: local.root, to: there, entries: r.entries, skipped: r.skipped };
  }
  const other = new TaskCache(there);
  await other.probeWritable().catch((err: Error) => {
    throw new InputError(`cache export: cannot write ${there} (${err.message})`);
  });
  const published = await other.publish(entries, local.blobs);
  return { from: local.root, to: there, entries: published, skipped: entries.length - published };
}

/** From a file written by export FILE, or a task cache folder: every result checked, none overwritten unless `replace`. */
async function importFrom(local: TaskCache, there: string, replace: boolean): Promise<Transfer> {
  if (await looksLikeArchive(there)) {
    const r = await importCacheFile(local, there, { replace });
    return { from: there, to: local.root, entries: r.entries, skipped: 0, present: r.present, replaced: r.replaced.length };
  }
  const other = new TaskCache(there);
  if (!(await other.hasTasks())) throw new InputError(`cache import: ${there} is not a task cache (no tasks/ folder), nor a file written by 'cache export FILE'`);
  const entries = other.scanEntries().entries;
  await checkImportedBlobs(entries, other.blobs, there);
  await local.probeWritable().catch((err: Error) => {
    throw new InputError(`cache import: cannot write ${local.root} (${err.message})`);
  });
  const r = await publishImported(local, entries, other.blobs, there, { replace });
  return { from: there, to: local.root, entries: r.entries, skipped: entries.length - r.entries - r.present, present: r.present, replaced: r.replaced.length };
}

function cacheDirAndConfig(args: ParsedArgs): { dir: string; config: NbrewindConfig } {
  const config = loadConfigFor(process.cwd());
  const given = args.values.get("cache");
  if (given) return { dir: resolve(given), config };
  if (config.cache.dir) return { dir: config.cache.dir, config };
  throw new InputError(`cache: no task cache to work on: pass --cache DIR, or set cache.dir in ${config.file ?? `a ${CONFIG_FILE_NAME} in this folder or a parent`}`);
}

function cacheDir(args: ParsedArgs): string {
  return cacheDirAndConfig(args).dir;
}

function sizeOption(text: string): number {
  const n = parseSize(text);
  if (n === undefined) throw new InputError(`cache gc: --max-size ${JSON.stringify(text)} is not a size (like 20GB, 500MB or a number of bytes)`);
  return n;
}

function durationOption(text: string): number {
  const n = parseDuration(text);
  if (n === undefined) throw new InputError(`cache gc: --older-than ${JSON.stringify(text)} is not a duration (like 30d, 12h, 2w)`);
  return n;
}

function positiveInt(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new InputError(`cache gc: --keep-runs ${JSON.stringify(text)} must be a whole number of runs, at least 1`);
  return Number(text);
}

export const cacheCommand: Command = {
  name: "cache",
  help: `Usage: nbrewind-engine cache SUBCOMMAND [options]

Task results live in each notebook's bundle and, when nbrewind.yaml sets
cache.dir, in a task cache shared by several notebooks (a team folder);
cache.read lists read-only caches a pipeline author publishes. These
commands look after a task cache: by default the cache.dir of the
nbrewind.yaml found in this folder or a parent; --cache DIR picks another.

  ls [--pinned] [--function GLOB]
        every result: its function, key prefix, size, when it was created
        and last served, how often it was served (hits), its pin, and the
        notebooks whose latest run needs it
  du    total size, what is pinned and what the latest runs need, the
        largest functions
  pin SELECTOR --version V [--cell ID-OR-TAG] [--keep]
        add (or re-version) a pin in nbrewind.yaml, keeping its comments.
        SELECTOR is a glob on the task function's qualified name
        (pipeline.skim*, or skim for a function defined in the notebook).
        A pinned task is keyed by V instead of its code: editing the
        function does not re-run it; bumping V does (the cells whose tasks
        it selects run again at the next repeat). --keep: never collected
  unpin SELECTOR [--cell ID-OR-TAG]
        remove that pin from nbrewind.yaml
  gc [--dry-run] [--max-size S] [--older-than D] [--keep-runs N]
        remove results nobody needs: never a pinned result, never one the
        latest run of a known bundle needs. --older-than 30d removes those
        not served for that long; --max-size 20GB then removes the least
        recently used until the cache fits; --keep-runs 3 also prunes each
        known bundle's records and blobs older than its last 3 runs (not
        those its latest run uses, not pinned ones). Defaults come from
        nbrewind.yaml's gc: section. Says what it freed (--dry-run: what it
        would free, removing nothing)
  verify
        check every entry: its blobs are there and hash to their names;
        exit 2 with one line per problem
  export DIR|FILE [--all]
        copy the pinned results (--all: every result) into DIR, a task
        cache others list under cache.read, or into one FILE (a name
        ending in .tar, or .tar.gz / .tgz for gzip) with every result's
        digest, to hand to someone who imports it
  import DIR|FILE [--replace]
        copy every result of a task cache DIR, or of a FILE written by
        export, into this one. Every result is checked against its digest
        first; a damaged or altered one stops the import (exit 2, naming
        its function and key) before anything is written. A result this
        cache already holds differently is never overwritten: the import
        stops and lists them, unless --replace

Options:
      --cache DIR      the task cache to work on (default: cache.dir)
      --json           machine-readable output on stdout

Example (nbrewind.yaml beside the notebooks):
  pins:
    - function: pipeline.skim*
      version: v3
      keep: true
  cache:
    dir: /team/nbrewind-cache

  nbrewind-engine cache ls --pinned
  nbrewind-engine cache pin 'pipeline.skim*' --version v4   # recompute at the next repeat
  nbrewind-engine cache gc --max-size 50GB --dry-run
  nbrewind-engine cache export /shared/published/skim-v3
  nbrewind-engine cache export skim-v3.tar.gz              # one file to hand over
  nbrewind-engine cache import skim-v3.tar.gz --cache ./cache`,
  run: cache,
};
