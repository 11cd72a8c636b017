/**
 * Execute requests, one at a time in the order they arrive (a frontend's
 * "Run All" sends them all at once): each is forwarded as is (mode off),
 * answered by the NBRewind kernel itself (a magic, a reused cell), or run in
 * the inner kernel with the checkpoint session around it (audit, repeat).
 * A run's reply and final idle are held until its checkpoint is written, so
 * a frontend that waits for idle sees the cell, and its record, complete.
 */
import { InputError } from "../common/errors.js";
import type { CellRun } from "../jupyter/cell-executor.js";
import { CellOutputs, DisplayRegistry } from "../jupyter/output-collector.js";
import { cellKey } from "../session/execution-history.js";
import { reusedLine, type ExecuteOutcome } from "../session/interactive-session.js";
import type { InnerKernel } from "./inner-kernel.js";
import { parseMagics } from "./magics.js";
import type { Modes } from "./modes.js";
import { recordedOutputToIopub, taskLine } from "./outputs.js";
import type { Header, MessageFactory, Signer, WireMessage } from "../jupyter/wire.js";
import { WireMessage as Wire } from "../jupyter/wire.js";

export interface KernelIO {
  factory: MessageFactory;
  signer: Signer;
  inner: InnerKernel;
  publish(msg: WireMessage): void;
  reply(msg: WireMessage): void;
  log(line: string): void;
}

/** A cell running in the inner kernel for a frontend request, its reply and idle held until its checkpoint is written. */
interface VisibleRun {
  request: WireMessage;
  collector: CellOutputs;
  started: number;
  timing: Record<string, string>;
  sawInput: boolean;
  reply?: WireMessage;
  idle?: WireMessage;
  resolve: (result: { run: CellRun; outputs: unknown[] }) => void;
}

const STREAM = "stderr";

export class ExecuteHandler {
  private chain: Promise<void> = Promise.resolve();
  private readonly runs = new Map<string, VisibleRun>();
  private received = 0;
  private abortThrough = 0;
  private readonly registry = new DisplayRegistry();
  /** The request being handled and the lines the session logged for it before its outputs began. */
  private current: { request: WireMessage; started: boolean; pending: string[] } | undefined;
  /** The inner kernel's execution count as of the last execute reply we saw, and the forwarded executes still unanswered. */
  private lastCount = 0;
  private readonly inflight = new Set<string>();
  /** An interrupt that arrived while the shim was working for a cell (a restore, a checkpoint): sent once the cell itself runs. */
  private heldInterrupt: (() => void) | undefined;

  constructor(
    private readonly io: KernelIO,
    private readonly modes: Modes,
  ) {
    modes.log = (line) => this.say(line.startsWith("[nbrewind]") ? line : `[nbrewind] ${line}`);
  }

  enqueue(msg: WireMessage): void {
    const seq = ++this.received;
    this.chain = this.chain.then(() => this.handle(msg, seq)).catch((err: unknown) => this.io.log(`execute: ${(err as Error).stack ?? String(err)}`));
  }

  /** Wait until every execute request received so far is answered. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async handle(msg: WireMessage, seq: number): Promise<void> {
    const content = msg.content;
    const code = String(content.code ?? "");
    // Tools' silent executions (variable inspectors, completers) are not cells.
    if (content.silent === true || content.store_history === false) return this.forward(msg);
    if (seq <= this.abortThrough) return this.answerAborted(msg);
    const parsed = parseMagics(code);
    const cellId = msg.metadata.cellId;
    if (parsed.commands.length === 0 && !parsed.error && this.modes.mode === "off") {
      this.modes.history.addUntracked(cellKey(cellId, code), code);
      this.inflight.add(msg.header.msg_id);
      return this.forward(msg);
    }
    this.current = { request: msg, started: false, pending: [] };
    try {
      if (parsed.error) return await this.answerLocally(msg, code, { error: { ename: "UsageError", evalue: parsed.error } });
      for (const command of parsed.commands) {
        try {
          for (const line of await this.modes.apply(command)) this.say(line);
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          return await this.answerLocally(msg, code, { error: { ename: "NBRewindError", evalue: err.message + (err.details.length ? `\n${err.details.join("\n")}` : "") } });
        }
      }
      const rest = parsed.rest;
      if (!rest.trim()) return await this.answerLocally(msg, code, {});
      const key = cellKey(cellId, rest);
      const session = this.modes.session;
      if (!session) {
        this.modes.history.addUntracked(key, rest);
        const { run } = await this.runVisible(msg, rest);
        return this.release(msg, run, []);
      }
      await this.runInSession(msg, code, key, rest);
    } finally {
      this.current = undefined;
      // The cell that was to be interrupted never ran in the inner kernel (reused, or the session failed): nothing left to stop.
      this.heldInterrupt = undefined;
    }
  }

  /**
   * Interrupt what the user sees running. The shim's work around a cell
   * (restoring values, checkpointing) is not interruptible: a KeyboardInterrupt
   * there would leave its request unanswered. So while it works, the interrupt
   * waits and goes to the cell as soon as the cell starts.
   */
  interrupt(send: () => void): void {
    const cellRunning = [...this.runs.values()].some((r) => !r.reply);
    if (!this.current || cellRunning) return send();
    this.heldInterrupt = send;
  }

  private async runInSession(msg: WireMessage, code: string, key: string, rest: string): Promise<void> {
    const session = this.modes.session!;
    let outcome: ExecuteOutcome | undefined;
    let failure: unknown;
    try {
      outcome = await session.execute(key, rest, (source, _plan, visible) => (visible ? this.runVisible(msg, source) : this.runHidden(source)));
    } catch (err) {
      failure = err;
    }
    const visible = this.runs.get(msg.header.msg_id);
    if (outcome?.decision === "reused") {
      return this.answerLocally(msg, code, { outputs: outcome.outputs, lines: [reusedLine(outcome.record)], metadata: { nbrewind: { decision: "reused", why: outcome.why, fingerprint: outcome.plan.identity.fingerprint } } });
    }
    const problem = failure ? [`[nbrewind] ${failure instanceof Error ? failure.message : String(failure)}`] : [];
    if (!visible) {
      // The session failed before the cell ran: say so, and run nothing behind the user's back.
      return this.answerLocally(msg, code, { error: { ename: "NBRewindError", evalue: problem.join("\n") || "the cell could not run" } });
    }
    const lines = [...(outcome?.decision === "run" && outcome.tasks ? [taskLine(outcome.tasks)] : []), ...problem];
    const metadata = outcome?.decision === "run" ? { nbrewind: { decision: "run", why: outcome.plan.reasons[0] ?? "", fingerprint: outcome.plan.identity.fingerprint, ...(outcome.tasks ? { tasks: outcome.tasks } : {}) } } : undefined;
    this.release(msg, undefined, lines, metadata);
  }

  /** Forward the cell to the inner kernel and collect its outputs; resolves when its reply and idle arrived (both held). */
  private runVisible(msg: WireMessage, source: string): Promise<{ run: CellRun; outputs: unknown[] }> {
    const toSend = source === msg.content.code ? msg : this.rebuild(msg, { content: { ...msg.content, code: source } });
    return new Promise((resolve) => {
      const run: VisibleRun = { request: msg, collector: new CellOutputs(this.registry), started: performance.now(), timing: {}, sawInput: false, resolve };
      this.runs.set(msg.header.msg_id, run);
      void this.io.inner.forward("shell", toSend).then(() => {
        const held = this.heldInterrupt;
        this.heldInterrupt = undefined;
        held?.();
      });
    });
  }

  /** Run an earlier cell again, its outputs kept from the frontend (it recreates a value a running cell needs). */
  private async runHidden(source: string): Promise<{ run: CellRun; outputs: unknown[] }> {
    const collector = new CellOutputs(new DisplayRegistry());
    const started = performance.now();
    let reply: Record<string, unknown> = { status: "aborted" };
    await this.io.inner.request(
      "shell",
      "execute_request",
      { code: source, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      { onReply: (m) => (reply = m.content), onIopub: (m) => void collector.handle(m) },
    );
    return { run: cellRun(reply, collector, started, {}), outputs: collector.outputs };
  }

  /** Messages of the inner kernel for a held run; false when the message is not ours to hold. */
  takeShellReply(msg: WireMessage): boolean {
    if (msg.msgType === "execute_reply") this.noteCount(msg);
    const run = this.runs.get(String(msg.parentHeader.msg_id ?? ""));
    if (!run || msg.msgType !== "execute_reply") return false;
    run.reply = msg;
    run.timing["shell.execute_reply"] = msg.header.date;
    this.settle(run);
    return true;
  }

  takeIopub(msg: WireMessage): boolean {
    const run = this.runs.get(String(msg.parentHeader.msg_id ?? ""));
    if (!run) return false;
    const type = msg.msgType;
    if (type === "status") {
      const state = msg.content.execution_state;
      run.timing[`iopub.status.${String(state)}`] = msg.header.date;
      if (state === "idle") {
        run.idle = msg;
        this.settle(run);
        return true;
      }
    } else if (type === "execute_input") {
      run.timing["iopub.execute_input"] = msg.header.date;
      this.io.publish(msg);
      this.beginOutputs();
      return true;
    } else {
      run.collector.handle(msg);
    }
    this.io.publish(msg);
    return true;
  }

  private settle(run: VisibleRun): void {
    if (!run.reply || !run.idle) return;
    run.resolve({ run: cellRun(run.reply.content, run.collector, run.started, run.timing), outputs: run.collector.outputs });
  }

  /** Let a held run's reply and idle go, after the lines the checkpoint added. */
  private release(msg: WireMessage, _run: CellRun | undefined, lines: string[], metadata?: Record<string, unknown>): void {
    const run = this.runs.get(msg.header.msg_id);
    if (!run?.reply || !run.idle) return;
    this.runs.delete(msg.header.msg_id);
    this.beginOutputs();
    for (const line of lines) this.say(line);
    const reply = metadata ? this.rebuild(run.reply, { metadata: { ...run.reply.metadata, ...metadata } }) : run.reply;
    if (reply.content.status !== "ok" && msg.content.stop_on_error !== false) this.abortThrough = this.received;
    this.io.reply(reply);
    this.io.publish(run.idle);
  }

  /**
   * Answer a request without running it in the inner kernel (a magic, a
   * reused cell): busy, the input with its execution count, the outputs,
   * the reply, idle. The inner kernel still counts the cell and keeps its
   * source in its history, so counts and %history stay as the user expects.
   */
  private async answerLocally(msg: WireMessage, code: string, what: { outputs?: unknown[]; lines?: string[]; error?: { ename: string; evalue: string }; metadata?: Record<string, unknown> }): Promise<void> {
    const parent = msg.header;
    this.io.publish(this.io.factory.iopub("status", { execution_state: "busy" }, parent));
    const count = await this.countCell(code);
    this.io.publish(this.io.factory.iopub("execute_input", { code, execution_count: count }, parent));
    this.beginOutputs();
    for (const out of what.outputs ?? []) {
      const iopub = recordedOutputToIopub(out, count);
      if (iopub) this.io.publish(this.io.factory.iopub(iopub.msgType, iopub.content, parent));
    }
    for (const line of what.lines ?? []) this.say(line);
    let content: Record<string, unknown> = { status: "ok", execution_count: count, user_expressions: {}, payload: [] };
    if (what.error) {
      const traceback = [`${what.error.ename}: ${what.error.evalue}`];
      this.io.publish(this.io.factory.iopub("error", { ...what.error, traceback }, parent));
      content = { status: "error", execution_count: count, ...what.error, traceback };
      if (msg.content.stop_on_error !== false) this.abortThrough = this.received;
    }
    this.io.reply(this.io.factory.make("execute_reply", content, { parent, identities: msg.identities, metadata: what.metadata ?? {} }));
    this.io.publish(this.io.factory.iopub("status", { execution_state: "idle" }, parent));
  }

  /** A request queued behind a failed cell: aborted, as ipykernel does with stop_on_error. */
  private answerAborted(msg: WireMessage): void {
    const parent = msg.header;
    this.io.publish(this.io.factory.iopub("status", { execution_state: "busy" }, parent));
    this.io.reply(this.io.factory.make("execute_reply", { status: "aborted", execution_count: null }, { parent, identities: msg.identities }));
    this.io.publish(this.io.factory.iopub("status", { execution_state: "idle" }, parent));
  }

  private noteCount(reply: WireMessage): void {
    this.inflight.delete(String(reply.parentHeader.msg_id ?? ""));
    const n = reply.content.execution_count;
    if (typeof n === "number") this.lastCount = Math.max(this.lastCount, n);
  }

  /**
   * Give the cell its execution count in the inner kernel, and its source to
   * the kernel's history. The count is known here when no forwarded execute
   * is unanswered: then the bump is sent without waiting (it runs in order on
   * the inner shell), which keeps a reused cell free of a round trip.
   */
  private async countCell(code: string): Promise<number | null> {
    if (this.inflight.size === 0) {
      const n = ++this.lastCount;
      void this.io.inner.runSilently(bumpCode(code));
      return n;
    }
    return this.countCellWaiting(code);
  }

  private async countCellWaiting(code: string): Promise<number | null> {
    const reply = await this.io.inner.runSilently(bumpCode(code), { n: "get_ipython().execution_count" });
    const value = (reply.user_expressions as Record<string, { data?: Record<string, string> }> | undefined)?.n?.data?.["text/plain"];
    const n = Number(value);
    if (!Number.isFinite(n)) return null;
    this.lastCount = Math.max(this.lastCount, n - 1);
    return n - 1;
  }

  private forward(msg: WireMessage): void {
    void this.io.inner.forward("shell", msg);
  }

  /** A line of ours in the cell being handled: held until its input is shown, so it appears under it. */
  private say(line: string): void {
    const current = this.current;
    if (!current) return this.io.log(line);
    if (!current.started) {
      current.pending.push(line);
      return;
    }
    this.io.publish(this.io.factory.iopub("stream", { name: STREAM, text: line + "\n" }, current.request.header));
  }

  private beginOutputs(): void {
    const current = this.current;
    if (!current || current.started) return;
    current.started = true;
    for (const line of current.pending.splice(0)) this.say(line);
  }

  /** The same message with other content or metadata, signed again (both connections share the key). */
  private rebuild(msg: WireMessage, patch: { content?: Record<string, unknown>; metadata?: Record<string, unknown> }): WireMessage {
    const json = (v: unknown) => Buffer.from(JSON.stringify(v), "utf8");
    const header = msg.parts[1];
    const parent = msg.parts[2];
    const metadata = patch.metadata ? json(patch.metadata) : msg.parts[3];
    const content = patch.content ? json(patch.content) : msg.parts[4];
    const sig = this.io.signer.sign([header, parent, metadata, content]);
    return new Wire(msg.identities, [sig, header, parent, metadata, content], msg.buffers);
  }
}

/** Silent code that counts a cell the inner kernel did not run and keeps its source in the kernel's history. */
function bumpCode(code: string): string {
  const bump = ["from IPython import get_ipython as _g", "_ip = _g()", "_ip.history_manager.store_inputs(_ip.execution_count, SRC)", "_ip.execution_count += 1"].join("\n");
  return `exec(${JSON.stringify(bump)}, {"SRC": ${JSON.stringify(code)}})`;
}

function cellRun(reply: Record<string, unknown>, collector: CellOutputs, started: number, timing: Record<string, string>): CellRun {
  const status = reply.status === "ok" ? "ok" : "error";
  const run: CellRun = { status, executionCount: typeof reply.execution_count === "number" ? reply.execution_count : null, outputs: collector.outputs, durationMs: performance.now() - started, timing };
  if (status === "error") run.error = { ename: String(reply.ename ?? "Error"), evalue: String(reply.evalue ?? "") };
  return run;
}

export type { Header };
