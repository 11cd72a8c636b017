import { HASHING_SCHEME } from "../common/hashing-scheme.js";
import { sha256 } from "./fingerprint.js";
import type { RecordedCell, RecordedWrite } from "./recorded.js";

/**
 * The user namespace as a repeat goes through the notebook, name by name:
 * what value each name holds (its identity: a blob digest, or for an
 * unserialisable value the fingerprint of the cell that made it) and where
 * that value is (live in the kernel, or only recorded in the bundle).
 *
 * Static fingerprints must be conservative: a cell that passes `x` to a
 * function may have mutated it. The shim tells, after a cell ran, whether it
 * really did. This state carries those run-time facts, so that a cell the
 * static plan runs "because `x` may have changed" is reused when the values
 * it reads turn out to be exactly the recorded ones.
 */
export type ValueLocation =
  | { where: "live" }
  | { where: "recorded"; digest: string; size: number; fromCellId: string; fromIndex: number };

export interface NameState {
  identity: string;
  location: ValueLocation;
  /** Unserialisable and engine-bound values cannot be restored: only re-running their producer brings them back. */
  restorable: boolean;
}

export class ValueState {
  private readonly names = new Map<string, NameState>();

  /** A reused cell: the namespace now holds its recorded values, which are not in the kernel. */
  applyRecord(record: RecordedCell, index: number): void {
    for (const write of record.writes) this.apply(write, { fromCellId: record.cell_id, fromIndex: index, producerFingerprint: record.fingerprint, live: false });
  }

  /** A cell that ran: the shim's report of what it left in the kernel. */
  applyRun(writes: RecordedWrite[], producerFingerprint: string, cellId: string, index: number): void {
    for (const write of writes) this.apply(write, { fromCellId: cellId, fromIndex: index, producerFingerprint, live: true });
  }

  /** A value restored into the kernel. */
  markLive(name: string): void {
    const state = this.names.get(name);
    if (state) state.location = { where: "live" };
  }

  /** Names a failed cell may have changed: live, but of no known value (never matches a record). */
  markUnknown(names: Iterable<string>, runId: string): void {
    for (const name of names) this.names.set(name, { identity: `unknown:${runId}:${name}`, location: { where: "live" }, restorable: false });
  }

  get(name: string): NameState | undefined {
    return this.names.get(name);
  }

  allNames(): string[] {
    return [...this.names.keys()].sort();
  }

  /**
   * The key of a cell about to run: its source and the identities of the
   * values it reads right now. Equal keys mean the cell would compute from
   * exactly the recorded inputs.
   */
  valueKey(sourceHash: string, inputs: Iterable<string>): string {
    const identities = [...new Set(inputs)].sort().map((name) => [name, this.names.get(name)?.identity ?? "absent"]);
    return sha256(JSON.stringify({ scheme: HASHING_SCHEME, source: sourceHash, inputs: identities }));
  }

  private apply(write: RecordedWrite, origin: { fromCellId: string; fromIndex: number; producerFingerprint: string; live: boolean }): void {
    switch (write.status) {
      case "deleted":
        this.names.delete(write.name);
        return;
      case "unserialisable":
      case "engine-bound":
        this.names.set(write.name, {
          identity: `${write.status}:${origin.producerFingerprint}:${write.name}`,
          location: origin.live ? { where: "live" } : { where: "recorded", digest: "", size: 0, fromCellId: origin.fromCellId, fromIndex: origin.fromIndex },
          restorable: false,
        });
        return;
      default:
        this.names.set(write.name, {
          identity: `sha256:${write.digest}`,
          location: origin.live ? { where: "live" } : { where: "recorded", digest: write.digest, size: write.size, fromCellId: origin.fromCellId, fromIndex: origin.fromIndex },
          restorable: true,
        });
    }
  }
}
