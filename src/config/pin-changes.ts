import type { TaskRecord } from "../common/task-record.js";
import { pinFor, type ResolvedPin } from "./pin-match.js";

const CONFIG_PIN = "nbrewind.yaml: ";

export interface PinChange {
  /** Names the pin, for --explain: "pin `pipeline.skim*` is at version v4 now; its tasks were recorded at v3". */
  reason: string;
  /** Mixed into the cell's fingerprint, so the cell and everything downstream of it run again. */
  salt: string;
}

/**
 * Whether nbrewind.yaml's pins changed for the tasks a cell recorded: a pin
 * whose version differs from the one a recorded task was keyed with, or a
 * pin removed from a task that was keyed by it. Such a cell runs again even
 * though its source did not change. A pin newly added to a task keyed by its
 * code is no change: its recorded result was computed from that code.
 * Decorator pins live in the source, which the fingerprint already covers.
 */
export function pinChange(pins: readonly ResolvedPin[], tasks: readonly TaskRecord[]): PinChange | undefined {
  const reasons = new Map<string, string>();
  for (const t of tasks) {
    if (t.key === null || (t.status !== "dispatched" && t.status !== "hit")) continue;
    const current = pinFor(pins, t.function, t.cell_id);
    const recorded = t.pin?.by.startsWith(CONFIG_PIN) || (current && t.pin) ? t.pin : undefined;
    if (current && recorded && recorded.version !== current.version) {
      reasons.set(`${current.selector}@${current.version}`, `pin \`${current.selector}\` is at version ${current.version} now; its tasks were recorded at version ${recorded.version}`);
    } else if (!current && recorded && recorded.by.startsWith(CONFIG_PIN)) {
      const selector = recorded.by.slice(CONFIG_PIN.length);
      reasons.set(`-${selector}@${recorded.version}`, `pin \`${selector}\` (version ${recorded.version}) was removed from nbrewind.yaml`);
    }
  }
  if (reasons.size === 0) return undefined;
  const salts = [...reasons.keys()].sort();
  return { reason: [...reasons.values()].join("; "), salt: salts.join("\n") };
}
