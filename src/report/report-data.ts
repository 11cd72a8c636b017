/**
 * What the report shows, as data: the one model behind both the HTML page
 * and `report --json` (schemas/report.schema.json; keep the two in step).
 * Everything is read from the bundle; nothing here runs a kernel.
 */

export const REPORT_FORMAT = "nbrewind-report";
export const REPORT_FORMAT_VERSION = 1;

/** How a cell fared in a run, as the timeline colours it. */
export type CellOutcome = "reused" | "ran" | "restored" | "failed" | "not-run";

export interface ReportProblem {
  /** Relative to the bundle (cells/<fingerprint>.json, logs/<run>.jsonl), or the file named. */
  file: string;
  message: string;
}

export interface FunctionTasks {
  /** module.qualname of the task function. */
  function: string;
  submitted: number;
  served: number;
  dispatched: number;
  uncached: number;
  failed: number;
}

export interface DispatchReasonCount {
  function: string;
  count: number;
  reason: string;
}

export interface CellTasks {
  total: number;
  served: number;
  dispatched: number;
  uncached: number;
  failed: number;
  by_function: FunctionTasks[];
  dispatched_because: DispatchReasonCount[];
}

export interface ReportCell {
  /** Index in notebook.cells. */
  index: number;
  /** 1-based position among all cells, as Jupyter shows them. */
  number: number;
  id: string;
  label: string;
  fingerprint: string | null;
  outcome: CellOutcome;
  /** Why it ran, or why it was reused, in the planner's words. */
  reason: string;
  /** Wall time of this run (for a reused cell, the time copying its record took: 0). */
  duration_s: number;
  /** What the cell took when it was recorded: for a reused cell, the time the reuse saved. */
  recorded_s: number | null;
  restored_bytes: number;
  restored_values: string[];
  checkpoint_bytes: number;
  tasks: CellTasks | null;
}

export interface ReportRun {
  run_id: string;
  command: string;
  started_at: string;
  finished_at: string | null;
  status: string;
  parameters: Record<string, unknown>;
  counts: { reused: number; restored: number; run: number };
}

/** A cell's decision in each run that planned it: what the comparison picks from. */
export interface RunDecisions {
  run_id: string;
  /** cell id -> [outcome, reason]. */
  cells: Record<string, [CellOutcome, string]>;
}

export interface GraphNode {
  id: string;
  label: string;
  /** Shown on hover. */
  title: string;
  kind: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  label: string;
  /** Polyline points, start to end. */
  points: Array<[number, number]>;
}

export interface LaidOutGraph {
  width: number;
  height: number;
  /** "elk" for a layered layout, "order" for notebook order (large graphs). */
  layout: "elk" | "order";
  nodes: GraphNode[];
  edges: GraphEdge[];
}

export interface CellTaskGraph {
  cell_id: string;
  /** "tasks": one node per task; "functions": one node per function, for cells with too many tasks to draw. */
  granularity: "tasks" | "functions";
  task_count: number;
  graph: LaidOutGraph;
}

export interface ReplayDifferences {
  /** The replay summary file the differences come from. */
  source: string;
  matched: boolean;
  differences: Array<{ cell_id: string; cell_index: number; what: string; expected: string; got: string }>;
}

export interface ReportEnvironment {
  python: string;
  platform: string;
  kernel: string;
  engines: Record<string, string | null>;
  packages: Record<string, string>;
  captured_at: string;
  nbrewind_version: string;
}

export interface ReportIntegrity {
  /** "ok": schemas, records and referenced blobs check out; "problems": see `problems`. */
  status: "ok" | "problems";
  /** Whether every blob's content was hashed (report --verify) or only its presence checked. */
  content_hashed: boolean;
  signature: { state: string; signer: string | null; trusted: boolean; own: boolean };
}

export interface ReportData {
  format: typeof REPORT_FORMAT;
  format_version: typeof REPORT_FORMAT_VERSION;
  generated_at: string;
  nbrewind_version: string;
  bundle: { dir: string; notebook: string; created_at: string; updated_at: string };
  runs: ReportRun[];
  /** The run the timeline, the graph and the tasks show. */
  run: ReportRun | null;
  cells: ReportCell[];
  decisions: RunDecisions[];
  cell_graph: LaidOutGraph;
  task_graphs: CellTaskGraph[];
  replay: ReplayDifferences | null;
  environment: ReportEnvironment | null;
  integrity: ReportIntegrity;
  problems: ReportProblem[];
}
