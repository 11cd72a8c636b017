import type { CellRecord, EnvironmentRecord, RunEntry } from "../../../src/bundle/index.js";
import { sha256 } from "../store/helpers.js";

export { errorOf, putBlob, sha256, tempDir } from "../store/helpers.js";

export function runEntry(runId: string, overrides: Partial<RunEntry> = {}): RunEntry {
  return {
    run_id: runId,
    command: "audit",
    started_at: new Date().toISOString(),
    finished_at: null,
    status: "running",
    kernel: "python3",
    parameters: {},
    cells: { reused: 0, restored: 0, run: 0 },
    ...overrides,
  };
}

export function cellRecord(source: string, overrides: Partial<CellRecord> = {}): CellRecord {
  return {
    format_version: 1,
    fingerprint: sha256("fp:" + source),
    cell_id: "cell-1",
    index: 0,
    source_hash: sha256(source),
    status: "ok",
    reads: [],
    writes: [],
    opaque: false,
    outputs: [{ output_type: "stream", name: "stdout", text: ["hi\n"] }],
    execution_count: 1,
    duration_s: 0.5,
    checkpoint_s: 0.01,
    checkpoint_bytes: 0,
    recorded_at: new Date().toISOString(),
    value_key: "0".repeat(64),
    run_id: "run-1",
    ...overrides,
  };
}

export function environment(): EnvironmentRecord {
  return {
    captured_at: new Date().toISOString(),
    python: { version: "3.11.9", implementation: "CPython" },
    platform: { system: "Linux", release: "6.1", machine: "x86_64" },
    hostname: "host",
    kernel: "python3",
    packages: { numpy: "2.1.0" },
    engines: { dask: "2024.8.0", parsl: null, ray: null },
    nbrewind_version: "0.1.0",
  };
}
