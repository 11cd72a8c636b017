import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../common/package-root.js";

/**
 * The engine versions nbrewind memoizes: engines/python/nbrewind/engine_support.json
 * (schemas/engine-support.schema.json), the one file the kernel's adapter
 * guard (engine_guard.py) and this side (doctor -k, the README's table) both
 * read. The comparison below is the guard's, in TypeScript: release numbers,
 * calendar (2024.12.1) or semantic (2.40.0), compared part by part.
 */
export interface VersionRange {
  /** Inclusive. */
  min: string;
  /** Exclusive; null: no upper bound. */
  below: string | null;
}

export interface EngineSupport {
  requires: Record<string, VersionRange>;
  /** Distributions that may be absent (distributed, for Dask's local schedulers). */
  optional: string[];
  boundary: string;
  tested: string[];
  memoized: string;
}

export interface SupportFile {
  engines: Record<string, EngineSupport>;
  kernel: { requires: Record<string, VersionRange>; python: string };
}

let cached: SupportFile | undefined;

export function engineSupport(): SupportFile {
  cached ??= JSON.parse(readFileSync(join(packageRoot(), "engines", "python", "nbrewind", "engine_support.json"), "utf8")) as SupportFile;
  return cached;
}

/** "2024.12.1" -> [2024, 12, 1]; "2.40.0rc1" -> [2, 40]; trailing zeros dropped (2.40 == 2.40.0). */
export function versionTuple(version: string): number[] {
  const parts: number[] = [];
  for (const piece of version.split(".")) {
    const m = /^\d+/.exec(piece);
    if (!m) break;
    parts.push(Number(m[0]));
    if (m[0].length !== piece.length) break;
  }
  while (parts.length > 0 && parts[parts.length - 1] === 0) parts.pop();
  return parts;
}

export function compareVersions(a: string, b: string): number {
  const x = versionTuple(a);
  const y = versionTuple(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function rangeText(range: VersionRange): string {
  return `>=${range.min}${range.below ? `,<${range.below}` : ""}`;
}

/** undefined when every required distribution is installed within its range, else why not (the guard's words). */
export function versionProblem(requires: Record<string, VersionRange>, installed: Record<string, string | null | undefined>, optional: string[] = []): string | undefined {
  for (const [name, range] of Object.entries(requires)) {
    const have = installed[name];
    if (!have) {
      if (optional.includes(name)) continue;
      return `${name} is not installed`;
    }
    if (compareVersions(have, range.min) < 0 || (range.below && compareVersions(have, range.below) >= 0)) {
      return `${name} ${have} is outside the supported range ${rangeText(range)}`;
    }
  }
  return undefined;
}
