import { sha256 } from "../../../src/planner/fingerprint.js";
import type { CellPlan } from "../../../src/planner/plan.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";

/**
 * The record an audit leaves for a planned cell: ok, every static output
 * stored under a digest of its own; `over` replaces any field.
 */
export function auditRecord(c: CellPlan, over: Partial<RecordedCell> = {}): RecordedCell {
  return {
    fingerprint: c.identity.fingerprint,
    cell_id: c.id,
    source_hash: c.identity.sourceHash,
    status: "ok",
    reads: c.identity.reads,
    writes: c.candidates.map((name) => ({ name, status: "stored" as const, digest: sha256(`${name}@${c.identity.fingerprint}`), size: 10, type: "int" })),
    outputs: [],
    execution_count: c.index + 1,
    duration_s: 1,
    recorded_at: "2026-11-24T00:00:00Z",
    value_key: sha256(`value:${c.identity.fingerprint}`),
    ...over,
  };
}
