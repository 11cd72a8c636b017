import { shortName } from "../planner/task-explain.js";

/** Recorded nbformat outputs sent back as the IOPub messages that made them, and the lines the kernel adds to a cell. */

type Json = Record<string, unknown>;

/** nbformat stores multi-line text as a list of lines; a frontend wants one string. */
function joinedMime(data: unknown): Json {
  const out: Json = {};
  for (const [mime, value] of Object.entries((data ?? {}) as Json)) {
    out[mime] = Array.isArray(value) && !mime.endsWith("json") && value.every((v) => typeof v === "string") ? value.join("") : value;
  }
  return out;
}

function text(value: unknown): string {
  return Array.isArray(value) ? value.join("") : String(value ?? "");
}

/** The IOPub message for one recorded output, with the execution count the reused cell gets now. */
export function recordedOutputToIopub(output: unknown, executionCount: number | null): { msgType: string; content: Json } | undefined {
  const out = output as Json;
  switch (out.output_type) {
    case "stream":
      return { msgType: "stream", content: { name: out.name === "stderr" ? "stderr" : "stdout", text: text(out.text) } };
    case "display_data":
      return { msgType: "display_data", content: { data: joinedMime(out.data), metadata: out.metadata ?? {}, transient: {} } };
    case "execute_result":
      return { msgType: "execute_result", content: { data: joinedMime(out.data), metadata: out.metadata ?? {}, execution_count: executionCount } };
    case "error":
      return { msgType: "error", content: { ename: out.ename, evalue: out.evalue, traceback: out.traceback ?? [] } };
    default:
      return undefined;
  }
}

interface Because {
  function: string;
  count: number;
  reason: string;
}

/** One line on a cell's engine tasks: how many were served from the bundle, how many dispatched and why. */
export function taskLine(tasks: Record<string, unknown>): string {
  const served = Number(tasks.served ?? 0);
  const dispatched = Number(tasks.dispatched ?? 0);
  const because = (tasks.dispatched_because as Because[] | undefined) ?? [];
  const why = because.length ? `: ${because.map((b) => `${b.count} × ${shortName(b.function)} because ${b.reason}`).join("; ")}` : "";
  return `[nbrewind] ${Number(tasks.total ?? 0)} task(s): ${served} served from the bundle, ${dispatched} dispatched${why}`;
}
