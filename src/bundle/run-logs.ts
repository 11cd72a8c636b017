/**
 * logs/<run_id>.jsonl: one RunLogEvent per line, appended as the run goes.
 * Each event is one small write with O_APPEND, so lines from concurrent
 * writers do not interleave; a process killed mid-write can leave a torn last
 * line without a newline, which readers skip (it is the only line that can
 * be torn, and losing one event loses no recorded value).
 */
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { checkRunId, logFile, LOGS_DIR } from "./paths.js";
import type { BundleProblem, RunLogEvent } from "./records.js";
import { invalidFileError, schemaProblems } from "./schemas.js";

export async function appendLogEvent(dir: string, event: RunLogEvent): Promise<void> {
  const problems = schemaProblems("run-log-event", event);
  if (problems.length > 0) {
    throw new Error(`refusing to log an invalid event (a bug): ` + problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  }
  await mkdir(join(dir, LOGS_DIR), { recursive: true });
  await appendFile(join(dir, logFile(event.run_id)), JSON.stringify(event) + "\n", { flag: "a" });
}

/** Events of a log file's text, and the problems of its lines (`path` is `line N` or `line N: field`). */
export function parseLog(text: string, file: string, runId: string): { events: RunLogEvent[]; problems: BundleProblem[] } {
  const events: RunLogEvent[] = [];
  const problems: BundleProblem[] = [];
  const lines = text.split("\n");
  lines.pop(); // "" after a final newline; otherwise a torn last line, skipped
  lines.forEach((line, k) => {
    const where = `line ${k + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      problems.push({ file, path: where, message: `not valid JSON (${(err as Error).message})` });
      return;
    }
    const bad = schemaProblems("run-log-event", raw);
    for (const p of bad) problems.push({ file, path: `${where}: ${p.path}`, message: p.message });
    if (bad.length > 0) return;
    const event = raw as RunLogEvent;
    if (event.run_id !== runId) problems.push({ file, path: `${where}: run_id`, message: `is ${JSON.stringify(event.run_id)} in the log of run ${runId}` });
    else events.push(event);
  });
  return { events, problems };
}

/** The events of one run; [] if it logged nothing. A bad line is an InputError naming file and line. */
export async function readLogEvents(dir: string, runId: string): Promise<RunLogEvent[]> {
  checkRunId(runId);
  const file = logFile(runId);
  let text: string;
  try {
    text = await readFile(join(dir, file), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const { events, problems } = parseLog(text, file, runId);
  if (problems.length > 0) throw invalidFileError(join(dir, file), problems.map((p) => ({ path: p.path ?? "", message: p.message })));
  return events;
}
