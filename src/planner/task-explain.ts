import { servableHere } from "./moved-folder.js";
import type { RecordedTask } from "./recorded.js";

/**
 * Why a task went to the engine instead of being served from the bundle.
 * Task keys are Merkle hashes, so a key differs from every recorded one
 * because the function's identity or an argument differs. The kernel only
 * reports keys, not what they were made of; we find, among the tasks the
 * same cell recorded last time, the one of the same function that agrees
 * on the most argument positions, and name the positions that differ.
 */

export interface TaskCounts {
  total: number;
  /** Hits: answered from the bundle without dispatching. */
  served: number;
  /** Sent to the engine (misses, uncacheable tasks and failures included). */
  dispatched: number;
  uncached: number;
  failed: number;
}

export function countTasks(tasks: readonly RecordedTask[]): TaskCounts {
  const c: TaskCounts = { total: tasks.length, served: 0, dispatched: 0, uncached: 0, failed: 0 };
  for (const t of tasks) {
    if (t.status === "hit") c.served++;
    else c.dispatched++;
    if (t.status === "uncached") c.uncached++;
    if (t.status === "failed") c.failed++;
  }
  return c;
}

export interface DispatchReason {
  function: string;
  count: number;
  reason: string;
}

/** How many recorded tasks sharing one argument key are compared, at most: keeps big maps linear. */
const BUCKET_LIMIT = 64;

/**
 * Reasons for every task of `tasks` that was not served, grouped by function
 * and reason, most frequent first. `previous` are the tasks the same cell
 * recorded in an earlier run, in the folder `previousFolder` (its record's `folder`, when it
 * has one); `folder` is this run's (a real path).
 */
export function explainDispatched(tasks: readonly RecordedTask[], previous: readonly RecordedTask[], previousFolder?: string, folder?: string): DispatchReason[] {
  const index = new PreviousTasks(previous);
  const groups = new Map<string, DispatchReason>();
  for (const task of tasks) {
    if (task.status === "hit") continue;
    const reason = whyDispatched(task, index, previousFolder, folder);
    const id = `${task.function}\0${reason}`;
    const group = groups.get(id);
    if (group) group.count++;
    else groups.set(id, { function: task.function, count: 1, reason });
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.function.localeCompare(b.function) || a.reason.localeCompare(b.reason));
}

function whyDispatched(task: RecordedTask, index: PreviousTasks, previousFolder: string | undefined, folder: string | undefined): string {
  if (task.key === null) return `not cacheable: ${task.reason ?? "no reason given"}`;
  const sameKey = index.byKey.get(task.key);
  if (sameKey) {
    // Each submission is a task of its own: it is matched with the recorded occurrence of the same rank.
    const same = sameKey.find((t) => (t.occurrence ?? 0) === (task.occurrence ?? 0));
    if (!same) return `submission ${(task.occurrence ?? 0) + 1} of this task, recorded only ${sameKey.length} time(s): every submission is computed, and only recorded ones are served`;
    if (task.recomputed) return task.recomputed;
    if (same.status === "failed") return "it failed when it was recorded: failures are never cached";
    if (same.not_stored) return `its result was left out of the bundle when recorded, ${same.reason?.replace(/^not stored: /, "") ?? "being cheaper to recompute"}`;
    if (same.status === "uncached") return `recorded, but not cached then: ${same.reason ?? "no reason given"}`;
    const changed = changedRead(same, task);
    if (changed) return `it reads \`${changed}\`, which changed`;
    if (!servableHere(same, previousFolder, folder)) return "its recorded result holds a path into the folder it was recorded in, not this one";
    return "recorded with the same key, but its stored result is not in the store any more";
  }
  const match = index.closest(task);
  if (!match) return `new: the cell recorded no task of ${shortName(task.function)}`;
  const differing = task.arg_keys.flatMap((k, i) => (match.arg_keys[i] === k ? [] : [i]));
  if (task.arg_keys.length !== match.arg_keys.length) return `called with ${task.arg_keys.length} argument(s), recorded with ${match.arg_keys.length}`;
  if (differing.length === 0 && task.pin?.version !== match.pin?.version) {
    return task.pin && match.pin ? `its pin \`${pinSelector(task.pin.by)}\` is at version ${task.pin.version} now (recorded at ${match.pin.version})` : task.pin ? `it is pinned now (${pinSelector(task.pin.by)} at version ${task.pin.version}): its key is the pin's, not its code's` : `it is not pinned any more (was at version ${match.pin!.version})`;
  }
  if (differing.length === 0) return `the code of ${shortName(task.function)} changed (its body, defaults, closure, or a global or function it uses)`;
  const upstream = new Set(task.upstream);
  const words = differing.map((i) => (upstream.has(task.arg_keys[i]!) ? `argument ${i + 1} (the result of a task that re-ran)` : `argument ${i + 1}`));
  return `${words.join(", ")} changed`;
}

function pinSelector(by: string): string {
  return by.replace(/^nbrewind\.yaml: /, "");
}

/** A file the recorded task read that the new run found different (or did not read at all: it is gone). */
function changedRead(recorded: RecordedTask, now: RecordedTask): string | undefined {
  const current = new Map((now.files?.read ?? []).map((r) => [r.path, r.sha256]));
  return recorded.files?.read.find((r) => current.get(r.path) !== r.sha256)?.path;
}

/** A function name as users wrote it: `__main__.` is the notebook itself. */
export function shortName(qualified: string): string {
  return qualified.replace(/^__main__\./, "");
}

class PreviousTasks {
  /** Every recorded occurrence of a key, by key. */
  readonly byKey = new Map<string, RecordedTask[]>();
  private readonly byFunction = new Map<string, RecordedTask[]>();
  private readonly byEngineKey = new Map<string, RecordedTask>();
  private readonly byArgument = new Map<string, RecordedTask[]>();

  constructor(previous: readonly RecordedTask[]) {
    for (const t of previous) {
      if (t.key === null) continue;
      push(this.byKey, t.key, t);
      push(this.byFunction, t.function, t);
      this.byEngineKey.set(`${t.function}\0${t.engine_key}`, t);
      for (const [i, k] of t.arg_keys.entries()) push(this.byArgument, `${t.function}\0${i}\0${k}`, t);
    }
  }

  /** The recorded task of the same function most like `task`: same engine key, else most equal argument positions. */
  closest(task: RecordedTask): RecordedTask | undefined {
    const sameEngineKey = this.byEngineKey.get(`${task.function}\0${task.engine_key}`);
    if (sameEngineKey && sameEngineKey.arg_keys.length === task.arg_keys.length) return sameEngineKey;
    const score = new Map<RecordedTask, number>();
    for (const [i, k] of task.arg_keys.entries()) {
      for (const t of (this.byArgument.get(`${task.function}\0${i}\0${k}`) ?? []).slice(0, BUCKET_LIMIT)) {
        if (t.arg_keys.length === task.arg_keys.length) score.set(t, (score.get(t) ?? 0) + 1);
      }
    }
    let best: RecordedTask | undefined;
    let bestScore = -1;
    for (const [t, s] of score) {
      if (s > bestScore) [best, bestScore] = [t, s];
    }
    if (best) return best;
    const candidates = this.byFunction.get(task.function) ?? [];
    return candidates.find((t) => t.arg_keys.length === task.arg_keys.length) ?? candidates[0];
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
