import type { NbrewindConfig, PinRule } from "./types.js";

/**
 * Which pin applies to a task: the same rule as the kernel shim
 * (engines/python/nbrewind/tasks/pins.py, Python's fnmatch): `*` matches
 * any run of characters (dots too), `?` one character, `[abc]` / `[!abc]` a
 * set. A glob matches the qualified name `module.qualname`, or, for a
 * function defined in the notebook, the name without `__main__.`. The first
 * matching pin wins, as in the shim.
 */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) {
        out += "\\[";
        continue;
      }
      let set = glob.slice(i + 1, end).replace(/\\/g, "\\\\");
      if (set.startsWith("!")) set = "^" + set.slice(1);
      else if (set.startsWith("^")) set = "\\" + set;
      out += `[${set}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^(?:${out})$`, "s");
}

/** A matcher compiled once, for many names. */
export function functionMatcher(glob: string): (qualifiedName: string) => boolean {
  const re = globToRegExp(glob);
  return (name) => re.test(name) || (name.startsWith("__main__.") && re.test(name.slice(9)));
}

export function functionMatches(glob: string, qualifiedName: string): boolean {
  return functionMatcher(glob)(qualifiedName);
}

/** The pin rule that selects a task of `qualifiedName` submitted by `cellId` (cells: the ids each rule's `cell` selector names). */
export function pinFor(pins: readonly ResolvedPin[], qualifiedName: string, cellId: string | undefined): ResolvedPin | undefined {
  return pins.find((p) => functionMatches(p.function, qualifiedName) && (p.cells === undefined || (cellId !== undefined && p.cells.includes(cellId))));
}

/** A pin with its cell selector resolved against a notebook: the ids of the cells it names (by id or tag). */
export interface ResolvedPin extends PinRule {
  cells?: string[];
  /** How the author wrote it, for records and messages: `pipeline.skim*`, `pipeline.skim* in cell load`. */
  selector: string;
}

export function resolvePins(pins: readonly PinRule[], cells: readonly { id: string; tags: readonly string[] }[]): ResolvedPin[] {
  return pins.map((p) => {
    const selector = p.cell ? `${p.function} in cell ${p.cell}` : p.function;
    if (!p.cell) return { ...p, selector };
    const ids = cells.filter((c) => c.id === p.cell || c.tags.includes(p.cell!)).map((c) => c.id);
    return { ...p, selector, cells: ids };
  });
}

/** Pins as task records and cache entries name them (`by`, `version`). */
export function pinsAsRecorded(pins: readonly PinRule[]): { by: string; version: string }[] {
  return resolvePins(pins, []).map((p) => ({ by: `nbrewind.yaml: ${p.selector}`, version: p.version }));
}

/** A decorator pin lives in code we cannot see here: it holds. A config pin holds while nbrewind.yaml names that version. */
export function pinHolds(config: NbrewindConfig): (pin: { by: string; version: string }) => boolean {
  const current = pinsAsRecorded(config.pins);
  return (pin) => !pin.by.startsWith("nbrewind.yaml: ") || current.some((c) => c.by === pin.by && c.version === pin.version);
}
