import type { AdapterStatus } from "./shim-protocol.js";

/**
 * What the run learned about the engine adapters, from the post_cell replies:
 * the last status of each engine, and one warning the first time an engine
 * turns out to run unmemoized (a version outside the supported range, or an
 * adapter that failed and turned itself off). The run summary lists them as
 * `engines`.
 */
export class AdapterStatuses {
  private readonly byEngine = new Map<string, AdapterStatus>();
  private readonly warned = new Set<string>();

  constructor(private readonly warn: (line: string) => void) {}

  note(reported: AdapterStatus[] | undefined): void {
    for (const status of reported ?? []) {
      this.byEngine.set(status.engine, status);
      if (status.status === "unmemoized" && !this.warned.has(status.engine)) {
        this.warned.add(status.engine);
        this.warn(`warning: ${status.engine} runs unmemoized: ${status.reason ?? "its adapter is off"}; its tasks run as without nbrewind-engine, cell checkpoints still work`);
      }
    }
  }

  /** For the run summary: engine, status, versions, reason. */
  list(): AdapterStatus[] {
    return [...this.byEngine.values()].sort((a, b) => a.engine.localeCompare(b.engine));
  }

  /** One line per engine for the human summary. */
  lines(): string[] {
    return this.list().map((s) => `engine ${s.engine} ${Object.values(s.versions).join("/") || ""}: ${s.status}${s.reason ? ` (${s.reason})` : ""}`);
  }
}
