import type { CellReport, ExecutableCell, ExecutionEvents } from "../jupyter/notebook-executor.js";
import { sourceText } from "../jupyter/notebook-executor.js";
import { cellLabel, cellNumber } from "../notebook/cell-label.js";

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/**
 * Progress for long runs. On a terminal: one live line for the running cell
 * (`[4/19]`: cell 4 of the notebook's 19 cells, by the number every other
 * message uses, see notebook/cell-label.ts; its label, elapsed time, a live
 * count of outputs), and a permanent line per finished cell. Elsewhere (CI
 * logs, pipes): plain lines.
 */
export class ProgressReporter implements ExecutionEvents {
  private readonly live: boolean;
  private current: { ordinal: number; total: number; title: string; started: number; outputs: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private liveShown = false;

  constructor(
    private readonly out: Stream,
    private readonly enabled = true,
    /** How many cells the notebook has, markdown included (the N of `[n/N]`); the code-cell count when not given. */
    private readonly totalCells?: number,
  ) {
    this.live = enabled && Boolean(out.isTTY);
  }

  info(line: string): void {
    if (!this.enabled) return;
    this.clearLive();
    this.out.write(`${line}\n`);
    this.drawLive();
  }

  cellStarted(cell: ExecutableCell, index: number, _ordinal: number, total: number): void {
    this.current = { ordinal: cellNumber(index), total: this.totalCells ?? total, title: cellLabel(sourceText(cell)), started: Date.now(), outputs: 0 };
    if (!this.enabled) return;
    if (this.live) {
      this.drawLive();
      this.timer ??= setInterval(() => this.drawLive(), 250);
      this.timer.unref();
    } else {
      this.out.write(`[${this.current.ordinal}/${this.current.total}] running: ${this.current.title}\n`);
    }
  }

  cellOutput(_index: number, outputs: number): void {
    if (this.current) this.current.outputs = outputs;
  }

  cellFinished(report: CellReport, _ordinal: number, codeCells: number, cell: ExecutableCell): void {
    const title = this.current?.title ?? cellLabel(sourceText(cell));
    const ordinal = cellNumber(report.index);
    const total = this.totalCells ?? codeCells;
    this.current = undefined;
    if (!this.enabled) return;
    this.clearLive();
    const mark = report.status === "ok" ? "ran" : report.status;
    const outputs = report.outputs === 1 ? "1 output" : `${report.outputs} outputs`;
    const error = report.error ? `  ${report.error.ename}: ${truncate(report.error.evalue, 80)}` : "";
    this.out.write(`[${ordinal}/${total}] ${mark.padEnd(6)} ${formatSeconds(report.durationMs).padStart(7)}  ${outputs.padEnd(10)} ${title}${error}\n`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearLive();
  }

  private drawLive(): void {
    if (!this.live || !this.current) return;
    const c = this.current;
    const elapsed = formatSeconds(Date.now() - c.started);
    const outputs = c.outputs === 1 ? "1 output" : `${c.outputs} outputs`;
    const width = (this.out.columns ?? 100) - 1;
    const line = `[${c.ordinal}/${c.total}] ${elapsed} · ${outputs} · ${c.title}`;
    this.out.write(`\r\x1b[2K${truncate(line, width)}`);
    this.liveShown = true;
  }

  private clearLive(): void {
    if (this.live && this.liveShown) this.out.write("\r\x1b[2K");
    this.liveShown = false;
  }
}

export function formatSeconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + "…";
}
