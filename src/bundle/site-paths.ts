/**
 * Absolute paths of the auditing site must not travel in a packed bundle:
 * they say nothing useful elsewhere and tell the world how the sender's disk
 * is laid out. Before packing, the text of every JSON file (manifest,
 * records, logs, notebook, environment) has the notebook's folder replaced by
 * `.`, the bundle folder by its packed name and the home folder by `~`; the
 * environment loses the facts that are only paths (the Python executable).
 */
import { homedir } from "node:os";
import { isAbsolute } from "node:path";

export interface SiteRoot {
  /** An absolute folder, without trailing separator. */
  path: string;
  replacement: string;
}

/** Roots, longest first, so that the notebook folder wins over a home folder that contains it. */
export function siteRoots(roots: SiteRoot[], home: string = homedir()): SiteRoot[] {
  const all = [...roots, { path: home, replacement: "~" }].filter((r) => r.path.length > 1 && isAbsolute(r.path));
  const seen = new Set<string>();
  return all
    .map((r) => ({ ...r, path: r.path.replace(/[\\/]+$/, "") }))
    .filter((r) => (seen.has(r.path) ? false : (seen.add(r.path), true)))
    .sort((a, b) => b.path.length - a.path.length);
}

/**
 * Replace each root where it appears as a whole path component inside JSON
 * text (so /data/x is not touched by a root /data/xy). The roots are matched
 * in their JSON-escaped form; the text stays valid JSON. Returns the count.
 */
export function relativiseJsonText(text: string, roots: SiteRoot[]): { text: string; replaced: number } {
  let replaced = 0;
  let out = text;
  for (const root of roots) {
    const needle = JSON.stringify(root.path).slice(1, -1);
    const replacement = JSON.stringify(root.replacement).slice(1, -1);
    const pattern = new RegExp(escapeRegExp(needle) + String.raw`(?=[/"'\s:),;\]}]|\\\\|\\[nrt"]|$)`, "g");
    out = out.replace(pattern, () => {
      replaced++;
      return replacement;
    });
  }
  return { text: out, replaced };
}

/**
 * The environment record without facts that are only absolute paths (the
 * Python executable, a prefix): omitted rather than rewritten, since a
 * relative form would be wrong. Returns the names of what was dropped.
 */
export function withoutPathFacts(env: Record<string, unknown>): { env: Record<string, unknown>; omitted: string[] } {
  const omitted: string[] = [];
  const copy = structuredClone(env);
  for (const group of ["python", "platform"]) {
    const facts = copy[group];
    if (!facts || typeof facts !== "object") continue;
    for (const [key, value] of Object.entries(facts as Record<string, unknown>)) {
      if (typeof value === "string" && looksAbsolute(value)) {
        delete (facts as Record<string, unknown>)[key];
        omitted.push(`${group}.${key}`);
      }
    }
  }
  return { env: copy, omitted };
}

function looksAbsolute(value: string): boolean {
  return value.startsWith("/") || /^[A-Za-z]:[\\/]/.test(value) || value.startsWith("\\\\");
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
