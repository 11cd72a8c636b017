import { beforeAll, describe, expect, it } from "vitest";
import { buildGraph, loadPythonParser } from "../../../src/analysis/index.js";
import type { FileActivity } from "../../../src/common/file-record.js";
import { declaredReads, FileView, type DiskState } from "../../../src/planner/files.js";
import { sha256 } from "../../../src/planner/fingerprint.js";
import { makePlan, type Plan } from "../../../src/planner/plan.js";
import type { RecordedCell } from "../../../src/planner/recorded.js";
import { unsafeWrittenPath } from "../../../src/session/file-restore.js";

beforeAll(async () => {
  await loadPythonParser();
});

const BUILTINS = new Set(["open", "print", "len"]);

type Cells = { id: string; source: string; files?: FileActivity }[];

const read = (path: string, content: string, mtime = "100") => ({ path, size: content.length, mtime_ns: mtime, sha256: sha256(content) });
const wrote = (path: string, content: string, extra: { appended?: true; blob?: boolean } = {}) => ({ path, size: content.length, mtime_ns: "200", sha256: sha256(content), blob: extra.blob ?? true, ...(extra.appended ? { appended: true as const } : {}) });

/** Plan `cells` against an audit of `recorded` (default: the same cells) and the disk as given. */
function planWith(cells: Cells, disk: Record<string, { content: string; mtime?: string } | null>, recorded: Cells = cells, lastRun: Cells = recorded): Plan {
  const recordedIndexed = recorded.map((c, index) => ({ id: c.id, source: c.source, index }));
  const audit = makePlan({ cells: recordedIndexed, graph: buildGraph(recordedIndexed), records: new Map(), runAll: true });
  const indexed = cells.map((c, index) => ({ id: c.id, source: c.source, index }));
  const graph = buildGraph(indexed);
  const records = new Map<string, RecordedCell>();
  for (const [i, c] of audit.cells.entries()) {
    records.set(c.identity.fingerprint, {
      fingerprint: c.identity.fingerprint,
      cell_id: c.id,
      source_hash: c.identity.sourceHash,
      status: "ok",
      reads: c.identity.reads,
      // The shim reports the names a cell bound in the namespace: never a builtin the analysis lists as possibly touched.
      writes: c.candidates.filter((name) => !BUILTINS.has(name)).map((name) => ({ name, status: "stored", digest: sha256(name), size: 10, type: "int" })),
      outputs: [],
      execution_count: i + 1,
      duration_s: 1,
      recorded_at: "2026-11-24T00:00:00Z",
      value_key: sha256(`v:${c.id}`),
      ...(recorded[i]!.files ? { files: recorded[i]!.files } : {}),
    });
  }
  // What a probe would find: the stat, and the digest when the stat is not the recorded one.
  const state = new Map<string, DiskState>();
  for (const [path, d] of Object.entries(disk)) {
    state.set(path, d === null ? { exists: false } : { exists: true, size: d.content.length, mtimeNs: d.mtime ?? "100", sha256: sha256(d.content) });
  }
  // The latest run's records, in its order: what it left on disk.
  const byId = new Map([...records.values()].map((r) => [r.cell_id, r]));
  const left = lastRun.map((c) => ({ ...byId.get(c.id)!, ...(c.files ? { files: c.files } : {}) }));
  return makePlan({ cells: indexed, graph, records, files: new FileView("/nb", state, left) });
}

const decisions = (p: Plan) => Object.fromEntries(p.cells.map((c) => [c.id, c.decision]));
const reason = (p: Plan, id: string) => p.cells.find((c) => c.id === id)!.reasons[0];

describe("planning with files", () => {
  const cells: Cells = [
    { id: "load", source: "text = open('data/in.txt').read()", files: { read: [read("data/in.txt", "hello")], written: [] } },
    { id: "other", source: "words = open('data/words.txt').read()", files: { read: [read("data/words.txt", "a b")], written: [] } },
    { id: "use", source: "n = len(text)" },
    { id: "save", source: "open('out/r.csv', 'w').write(words)", files: { read: [], written: [wrote("out/r.csv", "a b")] } },
    { id: "after", source: "import pathlib\nprint(pathlib.Path('out/r.csv').read_text())", files: { read: [read("out/r.csv", "a b", "200")], written: [] } },
  ];
  const unchanged = { "data/in.txt": { content: "hello" }, "data/words.txt": { content: "a b" }, "out/r.csv": { content: "a b", mtime: "200" } };

  it("reuses everything while every file is as recorded (stat equal: no digest needed)", () => {
    expect(Object.values(decisions(planWith(cells, unchanged)))).toEqual(["reuse", "reuse", "reuse", "reuse", "reuse"]);
  });

  it("a changed file runs the cells that read it, and the cells that read their values; nothing else", () => {
    const p = planWith(cells, { ...unchanged, "data/in.txt": { content: "hellO", mtime: "300" } });
    expect(decisions(p)).toEqual({ load: "run", other: "reuse", use: "run", save: "reuse", after: "reuse" });
    expect(reason(p, "load")).toBe("reads `data/in.txt`, which changed since it was recorded");
    expect(reason(p, "use")).toBe("reads `text` from cell 1, which runs because a file it reads changed");
  });

  it("a file touched but not changed (other mtime, same content) changes nothing", () => {
    expect(decisions(planWith(cells, { ...unchanged, "data/in.txt": { content: "hello", mtime: "999" } })).load).toBe("reuse");
  });

  it("a missing file has its own reason", () => {
    const p = planWith(cells, { ...unchanged, "data/words.txt": null });
    expect(reason(p, "other")).toBe("reads `data/words.txt`, which is missing");
  });

  it("a file an earlier cell writes is compared with what that cell restores in this run, not with the disk", () => {
    // out/r.csv was deleted: the reused writer puts it back, so its reader is reused too.
    expect(decisions(planWith(cells, { ...unchanged, "out/r.csv": null })).after).toBe("reuse");
  });

  it("a reader of a file whose writer runs runs too (the session may reuse it once the written content is known)", () => {
    const edited = cells.map((c) => (c.id === "save" ? { ...c, source: "open('out/r.csv', 'w').write(words + '!')" } : c));
    const p = planWith(edited, unchanged, cells);
    expect(decisions(p).save).toBe("run");
    expect(decisions(p).after).toBe("run");
    expect(reason(p, "after")).toBe("reads `out/r.csv`, which cell 4 writes and which runs");
  });

  it("a log that every cell appends to is never an input: it changes no decision", () => {
    const log = (c: string) => wrote("run.log", c, { appended: true });
    const logged: Cells = [
      { id: "a", source: "x = 1", files: { read: [], written: [log("a\n")] } },
      { id: "b", source: "y = 2", files: { read: [], written: [log("a\nb\n")] } },
      { id: "c", source: "z = 3", files: { read: [], written: [log("a\nb\nc\n")] } },
    ];
    expect(Object.values(decisions(planWith(logged, { "run.log": { content: "a\nb\nc\nmore\n", mtime: "999" } })))).toEqual(["reuse", "reuse", "reuse"]);
  });

  describe("a file read before a later cell overwrites it", () => {
    const counter: Cells = [
      { id: "load", source: "n = int(open('state.txt').read())", files: { read: [read("state.txt", "0")], written: [] } },
      { id: "save", source: "open('state.txt', 'w').write(str(n + 1))", files: { read: [], written: [wrote("state.txt", "1")] } },
    ];

    it("is judged by what it held before the run: on disk is what the latest run left, so nothing runs", () => {
      expect(decisions(planWith(counter, { "state.txt": { content: "1", mtime: "200" } }))).toEqual({ load: "reuse", save: "reuse" });
      // Copied elsewhere (another mtime), the same content.
      expect(decisions(planWith(counter, { "state.txt": { content: "1", mtime: "777" } })).load).toBe("reuse");
    });

    it("changed by the user since: the reader runs, and the writer that uses its value", () => {
      const p = planWith(counter, { "state.txt": { content: "5", mtime: "300" } });
      expect(decisions(p)).toEqual({ load: "run", save: "run" });
      expect(reason(p, "load")).toBe("reads `state.txt`, which changed since it was recorded");
    });

    it("put back by the user as it was before the run: reused", () => {
      expect(decisions(planWith(counter, { "state.txt": { content: "0" } })).load).toBe("reuse");
    });

    it("removed: the reader runs, unless the latest run removed it itself", () => {
      expect(reason(planWith(counter, { "state.txt": null }), "load")).toBe("reads `state.txt`, which is missing");
      const removing: Cells = [counter[0]!, { id: "save", source: "import os\nos.remove('state.txt')", files: { read: [], written: [{ path: "state.txt", deleted: true }] } }];
      expect(decisions(planWith(removing, { "state.txt": null })).load).toBe("reuse");
    });

    it("only what the latest run left counts: a writer's older record whose content is on disk is no excuse", () => {
      // The latest run's `save` wrote "2"; the current source's record wrote "1", which the user put there by hand.
      const latest = counter.map((c) => (c.id === "save" ? { ...c, files: { read: [], written: [wrote("state.txt", "2")] } } : c));
      expect(decisions(planWith(counter, { "state.txt": { content: "2", mtime: "200" } }, counter, latest)).load).toBe("reuse");
      expect(decisions(planWith(counter, { "state.txt": { content: "1", mtime: "300" } }, counter, latest)).load).toBe("run");
    });
  });

  it("a written file recorded by digest only (over the size limit) that is not on disk as recorded makes its cell run", () => {
    const big: Cells = [{ id: "big", source: "x = 1", files: { read: [], written: [wrote("huge.bin", "xxxx", { blob: false })] } }];
    const p = planWith(big, { "huge.bin": null });
    expect(decisions(p).big).toBe("run");
    expect(reason(p, "big")).toContain("recorded by digest only");
  });

  it("a task's reads decide its cell's reuse", () => {
    const withTask: Cells = [{ id: "t", source: "x = 1" }];
    const indexed = withTask.map((c, index) => ({ ...c, index }));
    const graph = buildGraph(indexed);
    const audit = makePlan({ cells: indexed, graph, records: new Map(), runAll: true });
    const c = audit.cells[0]!;
    const task = { key: sha256("k"), engine: "dask", function: "f", arg_keys: [], upstream: [], engine_key: "f-1", status: "dispatched" as const, files: { read: [read("data/part1.csv", "1,2")], written: [] } };
    const record: RecordedCell = { fingerprint: c.identity.fingerprint, cell_id: "t", source_hash: c.identity.sourceHash, status: "ok", reads: [], writes: [], outputs: [], execution_count: 1, duration_s: 1, recorded_at: "2026-11-24T00:00:00Z", value_key: sha256("v"), tasks: [task] };
    const view = new FileView("/nb", new Map([["data/part1.csv", { exists: true, size: 3, mtimeNs: "5", sha256: sha256("1,3") }]]));
    const p = makePlan({ cells: indexed, graph, records: new Map([[record.fingerprint, record]]), files: view });
    expect(reason(p, "t")).toBe("reads `data/part1.csv`, which changed since it was recorded");
  });
});

describe("declarations and paths", () => {
  it("reads the pragma's globs", () => {
    expect(declaredReads("# nbrewind: reads data/*.h5 other.nc\nimport h5py\n  #nbrewind: reads a, b")).toEqual(["data/*.h5", "other.nc", "a", "b"]);
    expect(declaredReads("x = 1  # not a pragma: nbrewind: reads x")).toEqual([]);
  });

  it("refuses written paths that could leave the notebook's folder", () => {
    expect(unsafeWrittenPath("../x")).toBe("contains `..`");
    expect(unsafeWrittenPath("a/../../x")).toBe("contains `..`");
    expect(unsafeWrittenPath("/etc/x")).toBe("is an absolute path");
    expect(unsafeWrittenPath("results/out.csv")).toBeUndefined();
  });
});
