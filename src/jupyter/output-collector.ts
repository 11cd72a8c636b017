import type { JupyterMessage } from "./kernel-client.js";

/**
 * nbformat v4 outputs as the executor builds them: multiline strings are kept
 * joined in memory; the notebook writer splits them the way nbformat stores them.
 */
export type MimeBundle = Record<string, unknown>;
export type CellOutput =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: string }
  | { output_type: "display_data"; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: "execute_result"; data: MimeBundle; metadata: Record<string, unknown>; execution_count: number | null }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

/** Where outputs carrying a display_id live, across cells: update_display_data reaches back. */
export class DisplayRegistry {
  private readonly targets = new Map<string, Set<CellOutputs>>();

  register(displayId: string, cell: CellOutputs): void {
    let set = this.targets.get(displayId);
    if (!set) this.targets.set(displayId, (set = new Set()));
    set.add(cell);
  }

  update(displayId: string, data: MimeBundle, metadata: Record<string, unknown>): void {
    for (const cell of this.targets.get(displayId) ?? []) cell.applyDisplayUpdate(displayId, data, metadata);
  }
}

/**
 * The outputs of one cell, built from the kernel's IOPub messages exactly as
 * Jupyter front ends do: consecutive stream chunks merge, carriage returns
 * overwrite their line, clear_output (also with wait=true) clears,
 * update_display_data rewrites every output with that display_id.
 */
export class CellOutputs {
  readonly outputs: CellOutput[] = [];
  private readonly displayIds = new Map<number, string>();
  private clearPending = false;
  /** Set when the server said it dropped some of this cell's output (see droppedOutputNotice). */
  dropped: string | undefined;

  constructor(private readonly registry: DisplayRegistry) {}

  /** Apply one IOPub message; returns true when the visible outputs changed. */
  handle(msg: Pick<JupyterMessage, "header" | "content">): boolean {
    const content = msg.content;
    switch (msg.header.msg_type) {
      case "stream": {
        const text = String(content.text ?? "");
        const notice = content.name === "stderr" ? droppedOutputNotice(text) : undefined;
        if (notice) {
          // What follows the notice never reaches us: the outputs are incomplete, and must not be recorded as the cell's.
          this.dropped ??= notice;
          this.addError("OutputDroppedError", `the Jupyter server dropped part of this cell's output (${notice}); the outputs shown are incomplete`);
          return true;
        }
        return this.add({ output_type: "stream", name: content.name === "stderr" ? "stderr" : "stdout", text });
      }
      case "display_data":
        return this.add(
          { output_type: "display_data", data: bundle(content.data), metadata: bundle(content.metadata) },
          displayIdOf(content),
        );
      case "execute_result":
        return this.add(
          {
            output_type: "execute_result",
            data: bundle(content.data),
            metadata: bundle(content.metadata),
            execution_count: typeof content.execution_count === "number" ? content.execution_count : null,
          },
          displayIdOf(content),
        );
      case "error":
        return this.add({
          output_type: "error",
          ename: String(content.ename ?? ""),
          evalue: String(content.evalue ?? ""),
          traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
        });
      case "update_display_data": {
        const id = displayIdOf(content);
        if (id) this.registry.update(id, bundle(content.data), bundle(content.metadata));
        return Boolean(id);
      }
      case "clear_output":
        if (content.wait) {
          this.clearPending = true;
          return false;
        }
        return this.clear();
      default:
        return false;
    }
  }

  /** An error we add ourselves (timeout, interruption), in the kernel's own error shape. */
  addError(ename: string, evalue: string, traceback: string[] = [`${ename}: ${evalue}`]): void {
    this.add({ output_type: "error", ename, evalue, traceback });
  }

  /** Drop kernel errors of a given name, e.g. the KeyboardInterrupt our own timeout caused. */
  removeErrors(ename: string): void {
    for (let i = this.outputs.length - 1; i >= 0; i--) {
      const out = this.outputs[i]!;
      if (out.output_type === "error" && out.ename === ename) this.outputs.splice(i, 1);
    }
  }

  applyDisplayUpdate(displayId: string, data: MimeBundle, metadata: Record<string, unknown>): void {
    for (const [index, id] of this.displayIds) {
      const out = this.outputs[index];
      if (id !== displayId || !out || (out.output_type !== "display_data" && out.output_type !== "execute_result")) continue;
      out.data = data;
      out.metadata = metadata;
    }
  }

  private clear(): boolean {
    const changed = this.outputs.length > 0;
    this.outputs.length = 0;
    this.displayIds.clear();
    this.clearPending = false;
    return changed;
  }

  private add(output: CellOutput, displayId?: string): boolean {
    if (this.clearPending) this.clear();
    const last = this.outputs[this.outputs.length - 1];
    if (output.output_type === "stream" && last?.output_type === "stream" && last.name === output.name) {
      last.text = collapseCarriageReturns(last.text + output.text);
      return true;
    }
    if (output.output_type === "stream") output.text = collapseCarriageReturns(output.text);
    this.outputs.push(output);
    if (displayId) {
      this.displayIds.set(this.outputs.length - 1, displayId);
      this.registry.register(displayId, this);
    }
    return true;
  }
}

/**
 * Jupyter Server's rate limiter (ZMQChannelsWebsocketConnection.limit_rate)
 * replaces output it will not forward by one stderr stream of its own. The
 * embedded server runs with the limiter off; an existing server may not, and
 * then a cell's output is silently cut. Returns the notice's first line.
 */
export function droppedOutputNotice(text: string): string | undefined {
  const m = /^(IOPub (?:data|message) rate exceeded\.)\nThe Jupyter server will temporarily stop sending output/.exec(text);
  return m?.[1];
}

/**
 * A carriage return moves back to the start of the line: the text before it
 * on that line is overwritten (progress bars). A trailing "\r" is kept until
 * the next chunk says what overwrites it.
 */
export function collapseCarriageReturns(text: string): string {
  if (!text.includes("\r")) return text;
  return text
    .replace(/\r+\n/g, "\n")
    .split("\n")
    .map((line) => line.replace(/^.*\r(?=[^\r])/s, ""))
    .join("\n");
}

function bundle(value: unknown): MimeBundle {
  return value && typeof value === "object" && !Array.isArray(value) ? { ...(value as MimeBundle) } : {};
}

function displayIdOf(content: Record<string, unknown>): string | undefined {
  const transient = content.transient as { display_id?: unknown } | undefined;
  return typeof transient?.display_id === "string" ? transient.display_id : undefined;
}
