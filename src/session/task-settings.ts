/**
 * nbrewind.yaml in an audit or repeat: the pins and task caches the kernel
 * shim uses, the planner's view of changed pins, what the records and
 * --explain say about pinned tasks, and publishing results into the shared
 * cache. Loaded before any kernel starts, so a bad nbrewind.yaml or a
 * cache.dir that cannot be written fails fast (exit 2) and costs nothing.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Bundle } from "../bundle/bundle.js";
import { writeJsonAtomic } from "../common/atomic-file.js";
import { InputError } from "../common/errors.js";
import type { TaskRecord } from "../common/task-record.js";
import { loadConfigFor, parseBundlePins, pinChange, resolvePins, type NbrewindConfig, type PinRule, type ResolvedPin } from "../config/index.js";
import type { ShimClient } from "../jupyter/shim-client.js";
import type { Notebook } from "../notebook/types.js";
import { TaskCache, type TaskCacheEntry } from "../store/task-cache.js";

/** The pins a run used, kept in the bundle so they travel with `pack` and `replay` honours them. */
export const BUNDLE_PINS_FILE = "pins.json";

export const PIN_CODE_CHANGED = "its code changed since it was recorded (bump the version to recompute)";

interface BundlePins {
  format_version: 1;
  /** Where they came from when they were recorded (the path at that site, for people). */
  source: string;
  pins: PinRule[];
}

export class TaskSettings {
  private constructor(
    readonly config: NbrewindConfig,
    readonly pins: ResolvedPin[],
    /** "nbrewind.yaml" or "the bundle's pins.json": what --explain names. */
    readonly pinSource: string,
    readonly shared: TaskCache | undefined,
  ) {}

  /**
   * The settings for a notebook: its nbrewind.yaml (found upward from its
   * folder), else the pins recorded in its bundle (a replay elsewhere). A
   * cache.dir is created if needed and must be writable.
   */
  static async load(notebookPath: string, notebook: Notebook, bundleDir: string, options: { probeCache?: boolean } = {}): Promise<TaskSettings> {
    const config = loadConfigFor(dirname(notebookPath));
    let rules = config.pins;
    let source = config.file ?? "";
    if (!config.file) {
      const recorded = await readBundlePins(bundleDir);
      if (recorded) {
        rules = recorded;
        source = join(bundleDir, BUNDLE_PINS_FILE);
      }
    }
    const cells = notebook.cells.filter((c) => c.cell_type === "code").map((c) => ({ id: c.id, tags: Array.isArray(c.metadata.tags) ? (c.metadata.tags as string[]) : [] }));
    const shared = config.cache.dir ? new TaskCache(config.cache.dir) : undefined;
    if (shared && options.probeCache !== false) {
      try {
        await shared.probeWritable();
      } catch (err) {
        throw new InputError(`${config.file}: cache.dir ${config.cache.dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): fix its permissions, or point cache.dir at a folder you can write (a cache you may only read belongs in cache.read)`);
      }
    }
    return new TaskSettings(config, resolvePins(rules, cells), source, shared);
  }

  /** For the planner: a record whose tasks a changed pin selects runs again, and the reason names the pin. */
  readonly staleRecord = (record: { tasks?: TaskRecord[] }) => pinChange(this.pins, record.tasks ?? []);

  /** Tell the shim (after hello, before any cell). */
  async sendTo(shim: ShimClient, log: (line: string) => void): Promise<void> {
    // Sent even when empty: a kernel that served an earlier client must not keep its pins or caches.
    const caches = [...(this.shared ? [this.shared.root] : []), ...this.config.cache.read];
    await shim.taskSettings({
      pins: this.pins.map((p) => ({ function: p.function, version: p.version, selector: p.selector, ...(p.cells ? { cells: p.cells } : {}) })),
      caches,
    });
    if (this.pins.length) log(`${this.pins.length} pin(s) from ${this.pinSource}: ${this.pins.map((p) => `${p.selector} @ ${p.version}`).join(", ")}`);
    if (caches.length) log(`task caches consulted after the bundle: ${caches.join(", ")}`);
  }

  /**
   * Say, in each pinned task's record, whether its code changed under the pin
   * since the cell recorded it: "served: pinned at version v3; its code
   * changed since it was recorded (bump the version to recompute)". Returns
   * those lines for --explain, grouped by function.
   */
  annotate(tasks: TaskRecord[], previous: readonly TaskRecord[]): string[] {
    const recordedCode = new Map<string, string | null | undefined>();
    for (const t of previous) if (t.key && t.pin) recordedCode.set(t.key, t.pin.code);
    const lines = new Map<string, number>();
    for (const t of tasks) {
      if (!t.pin || !t.key) continue;
      const before = recordedCode.get(t.key);
      const changed = recordedCode.has(t.key) && before !== t.pin.code;
      const what = t.status === "hit" ? "served" : t.status;
      t.pin.note = `${what}: pinned at version ${t.pin.version}${changed ? `; ${PIN_CODE_CHANGED}` : ""}`;
      if (changed) lines.set(`${t.function}\0${t.pin.note}`, (lines.get(`${t.function}\0${t.pin.note}`) ?? 0) + 1);
    }
    return [...lines].map(([k, n]) => {
      const [fn, note] = k.split("\0");
      return `${n} × ${fn!.replace(/^__main__\./, "")} ${note}`;
    });
  }

  /** Publish the results this cell's tasks computed into cache.dir (a no-op without one). */
  async publish(tasks: readonly TaskRecord[], bundle: Bundle, notebookPath: string): Promise<number> {
    if (!this.shared) return 0;
    const now = new Date().toISOString();
    const entries: TaskCacheEntry[] = [];
    for (const t of tasks) {
      if (t.key === null || t.status !== "dispatched" || t.result_digest === undefined || t.result_size === undefined) continue;
      // A result naming this notebook's folder is right in this folder only; a shared cache serves any notebook, anywhere.
      if (t.holds_path) continue;
      const pin = t.pin ? { version: t.pin.version, by: t.pin.by, ...(this.keeps(t) ? { keep: true } : {}) } : undefined;
      entries.push({
        format_version: 1,
        key: t.key,
        engine: t.engine,
        function: t.function,
        digest: t.result_digest,
        size: t.result_size,
        ...(t.result_blobs?.length ? { blobs: t.result_blobs } : {}),
        ...(t.result_pack ? { pack: t.result_pack } : {}),
        ...(pin ? { pin } : {}),
        created_at: now,
        producer: { bundle: bundle.dir, notebook: notebookPath },
      });
    }
    return this.shared.publish(entries, bundle.blobs);
  }

  private keeps(t: TaskRecord): boolean {
    return this.pins.some((p) => p.keep && t.pin?.by === `nbrewind.yaml: ${p.selector}` && p.version === t.pin.version);
  }

  /**
   * At the end of a run: the bundle records its pins (so they travel), and the
   * shared cache learns what this bundle's latest run needs (gc keeps it) and
   * which of its entries were served.
   */
  async finishRun(bundle: Bundle, notebookPath: string, runId: string, latestTasks: readonly TaskRecord[], servedThisRun: readonly string[]): Promise<void> {
    if (this.pins.length > 0 || (await readBundlePins(bundle.dir))) {
      const file: BundlePins = { format_version: 1, source: this.pinSource, pins: this.pins.map(({ function: f, cell, version, keep }) => ({ function: f, version, keep, ...(cell ? { cell } : {}) })) };
      await writeJsonAtomic(join(bundle.dir, BUNDLE_PINS_FILE), file);
    }
    if (!this.shared) return;
    const keys = latestTasks.flatMap((t) => (t.key !== null && t.result_digest !== undefined ? [t.key] : []));
    await this.shared.writeRef(bundle.dir, notebookPath, keys);
    await this.shared.noteUses(runId, [...servedThisRun]);
  }
}

async function readBundlePins(bundleDir: string): Promise<PinRule[] | undefined> {
  const file = join(bundleDir, BUNDLE_PINS_FILE);
  const text = await readFile(file, "utf8").catch(() => undefined);
  return text === undefined ? undefined : parseBundlePins(text, file);
}
