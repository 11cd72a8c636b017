import type { CaseEdit, EditKind } from "../case.js";
import type { Step } from "../runs.js";

/** What one peer did on one case, in the same run as nbrewind. */
export interface PeerResult {
  peer: "kishu" | "parsl-checkpoint" | "graphchain";
  /** False when the peer could not run the case; `why` then says what failed, as measured. */
  ok: boolean;
  why?: string;
  /** How the peer was applied to the notebook, in words. */
  how: string;
  /** Its recording run: the notebook run with the peer on, from nothing. */
  record?: { seconds: number; cpuSeconds?: number };
  /** Bytes the peer stored for that run. */
  storageBytes?: number;
  /** Bytes it holds after the edits' runs (a peer may store again what it re-runs). */
  storageAfterEditsBytes?: number;
  /** After each edit the peer was measured on. */
  edits: PeerEdit[];
}

export interface PeerEdit {
  kind: EditKind;
  ok: boolean;
  seconds: number;
  /** Tasks the engine executed (where the peer's logs tell), against the ideal's total. */
  executed?: number;
  idealTasks: number;
  /** The result file equals the fresh run's. */
  equalFresh: boolean;
  note?: string;
}

export function idealTasks(ideal: Record<string, number>): number {
  return Object.values(ideal).reduce((a, b) => a + b, 0);
}

/** A peer's run after an edit: its step, the result file it left, and what its logs say it executed. */
export function editResult(edit: CaseEdit, run: Step, got: string | undefined, fresh: string | undefined, executed: number | undefined, note: string): PeerEdit {
  return {
    kind: edit.kind,
    ok: run.ok,
    seconds: run.seconds,
    ...(executed !== undefined ? { executed } : {}),
    idealTasks: idealTasks(edit.ideal),
    equalFresh: run.ok && got !== undefined && got === fresh,
    note: run.ok ? note : (run.failure ?? "failed"),
  };
}

/** The peer ran the case when every edit's run succeeded; else why not, from the first failure. */
export function settle(result: PeerResult): PeerResult {
  result.ok = result.edits.every((e) => e.ok);
  if (!result.ok) result.why = result.edits.find((e) => !e.ok)?.note;
  return result;
}
