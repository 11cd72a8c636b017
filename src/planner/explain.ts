import { cellName } from "../notebook/cell-label.js";
import { formatBytes, type Plan } from "./plan.js";

/** The plan as lines a user reads: one per code cell, decision first, then why. */
export function explainPlan(plan: Plan, firstLines: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const cell of plan.cells) {
    const head = `cell ${String(cell.number).padStart(3)} [${cell.id}] ${cell.decision.padEnd(5)} ${firstLines.get(cell.id) ?? ""}`;
    lines.push(head.trimEnd());
    for (const reason of cell.reasons) lines.push(`      because ${reason}`);
    for (const r of cell.restores) {
      const unchanged = r.unchangedBy?.length ? `; ${r.unchangedBy.map(cellName).join(", ")} left it unchanged when recorded (same digest), though the analysis could not tell` : "";
      lines.push(`      restores \`${r.name}\` (${formatBytes(r.size)}) recorded by ${cellName(r.fromIndex)}${unchanged}`);
    }
    const tasks = cell.decision === "run" ? cell.previous?.tasks : undefined;
    if (tasks?.length) {
      const engines = [...new Set(tasks.map((t) => t.engine))].join(", ");
      lines.push(`      submitted ${tasks.length} ${engines} task(s) when recorded: each is served from the bundle unless its code or arguments changed`);
    }
  }
  const c = plan.counts;
  lines.push(`plan: ${c.reuse} reused, ${c.run} to run, ${c.restores} value(s) to restore (${formatBytes(c.restoreBytes)})${c.skip ? `, ${c.skip} empty` : ""}`);
  return lines;
}

/** A plan as JSON for tools (schemas/plan.schema.json). */
export function planToJson(plan: Plan): unknown {
  return {
    counts: { reuse: plan.counts.reuse, run: plan.counts.run, skip: plan.counts.skip, restores: plan.counts.restores, restore_bytes: plan.counts.restoreBytes },
    cells: plan.cells.map((c) => ({
      index: c.index,
      number: c.number,
      id: c.id,
      fingerprint: c.identity.fingerprint,
      decision: c.decision,
      reasons: c.reasons,
      restores: c.restores.map((r) => ({ name: r.name, digest: r.digest, size: r.size, from_cell_id: r.fromCellId })),
    })),
  };
}
