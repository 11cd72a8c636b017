/**
 * `%audit on|off` (the seed's spelling) and `%nbrewind audit|repeat|off|
 * status|explain|bundle PATH`: lines at the top of a cell, handled by the
 * NBRewind kernel itself; the rest of the cell runs as usual under the mode
 * they set. `%audit off` is the seed's repeat: stop recording and reuse what
 * was recorded.
 */
export type MagicCommand =
  | { kind: "mode"; mode: "audit" | "repeat" | "off"; trust: boolean; storeAll: boolean }
  | { kind: "status" }
  | { kind: "explain" }
  | { kind: "bundle"; path: string }
  | { kind: "help" };

export interface ParsedCell {
  commands: MagicCommand[];
  /** The cell without its magic lines (empty when it held nothing else). */
  rest: string;
  /** A line that looked like ours but was not understood: shown to the user, nothing else happens. */
  error?: string;
}

const MAGIC_LINE = /^\s*%(audit|nbrewind)(?:\s+(.*?))?\s*$/;

export const MAGIC_HELP = [
  "%audit on                 record every cell you run (and its engine tasks) in the bundle",
  "%audit off                reuse: a cell whose inputs did not change is answered from the bundle",
  "%nbrewind audit|repeat    the same, full spelling; add --trust to accept a bundle from elsewhere,",
  "                          --store all to keep every task result (even those cheaper to recompute)",
  "%nbrewind off             a plain Python kernel again (cells are neither recorded nor reused)",
  "%nbrewind status          mode, bundle and counts",
  "%nbrewind explain         why each cell was reused or ran",
  "%nbrewind bundle PATH     use this bundle (a folder, or NOTEBOOK.ipynb for NOTEBOOK.nbrewind/)",
];

export function parseMagics(code: string): ParsedCell {
  const lines = code.split("\n");
  const commands: MagicCommand[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const m = MAGIC_LINE.exec(line);
    if (!m) break;
    const parsed = parseOne(m[1]!, (m[2] ?? "").trim());
    if (typeof parsed === "string") return { commands: [], rest: code, error: parsed };
    commands.push(parsed);
  }
  if (commands.length === 0) return { commands, rest: code };
  return { commands, rest: lines.slice(i).join("\n") };
}

function parseOne(magic: string, args: string): MagicCommand | string {
  const words = args.split(/\s+/).filter(Boolean);
  const trust = words.includes("--trust");
  // `--store all` (or --store=all), as the CLI's audit and repeat take it; the default stores what is worth storing.
  const store = words.indexOf("--store");
  const storeValue = words.find((w) => w.startsWith("--store="))?.slice("--store=".length) ?? (store >= 0 ? words[store + 1] : undefined);
  if ((store >= 0 || storeValue !== undefined) && storeValue !== "all") return `--store takes 'all', not '${storeValue ?? ""}'`;
  const storeAll = storeValue === "all";
  const [verb, ...more] = words.filter((w, i) => w !== "--trust" && !w.startsWith("--store=") && !(store >= 0 && (i === store || i === store + 1)));
  if (magic === "audit") {
    if (verb === "on" && more.length === 0) return { kind: "mode", mode: "audit", trust, storeAll };
    if (verb === "off" && more.length === 0) return { kind: "mode", mode: "repeat", trust, storeAll };
    return `%audit takes 'on' or 'off', not '${args}'`;
  }
  switch (verb) {
    case "audit":
    case "repeat":
    case "off":
      if (more.length === 0) return { kind: "mode", mode: verb, trust, storeAll };
      break;
    case "status":
    case "explain":
      if (more.length === 0) return { kind: verb };
      break;
    case "bundle":
      if (more.length > 0) return { kind: "bundle", path: args.replace(/^bundle\s+/, "").replace(/^(["'])(.*)\1$/, "$2") };
      return "%nbrewind bundle needs a PATH";
    case undefined:
    case "help":
      return { kind: "help" };
  }
  return `%nbrewind does not understand '${args}'`;
}
