/**
 * Do a repeat's results equal a fresh run's? Outputs are compared as `replay
 * --check` compares them (src/notebook/compare-outputs.ts: streams, every
 * MIME type, errors by name and message), after masking what differs between
 * two plain runs of the same code: timings, addresses, object ids, ports,
 * the state a future happened to be in when it was printed. In the cells the
 * corpus marks as showing random samples, numbers (and images) are masked
 * too: a fresh run draws new samples, while a repeat serves the recorded
 * ones. Every mask is listed here, so what is ignored is never a surprise.
 */
import { outputViews } from "../../src/notebook/compare-outputs.js";
import type { Cell, Notebook } from "../../src/notebook/types.js";

/** [what it hides, pattern, replacement]: applied to every output, in order. */
const VOLATILE: [string, RegExp, string][] = [
  ["%time / %%time lines", /^(CPU times|Wall time):.*$/gm, "<timing>"],
  ["durations printed by the notebook", /\b\d+(\.\d+)?(e-?\d+)?\s*(s|sec|seconds|ms|µs|us)\b/g, "<duration>"],
  ["memory addresses", /0x[0-9a-f]+/gi, "0x<addr>"],
  ["uuids", /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<uuid>"],
  ["object ids, random task tokens", /\b(?=[0-9]*[a-f])[0-9a-f]{16,}\b/gi, "<hex>"],
  ["network addresses and ports", /\b(tcp|inproc|ws|http|https):\/\/[^\s'"<>)]+|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?/g, "<address>"],
  ["the state a future was in when printed", /\b(status|state)(:\s*|=)(pending|running|finished|lost|error|cancelled)\b/gi, "$1$2<state>"],
  ["Dask's cluster widget", /<div[\s\S]*<\/div>/g, "<html widget>"],
];

/** In cells showing random samples: their numbers, their states, their pictures. */
const RANDOM: [string, RegExp, string][] = [
  ["numbers", /-?\d+(\.\d+)?(e[-+]?\d+)?/gi, "<n>"],
  ["future states", /\b(finished|error|pending|lost|cancelled)\b/g, "<state>"],
  ["the alignment of numbers", /\s+/g, ""],
];

/** Warnings on stderr that depend on the machine's state, not the code: an output made only of them is left out. */
const NOISE: [string, RegExp][] = [
  ["Dask's 'port 8787 is already in use' warning", /^(\s*(Perhaps you already have a cluster running\?|Hosting the HTTP server on port \d+ instead|Port \d+ is already in use\.?|warnings\.warn\(|.*UserWarning: Port \d+ is already in use\.?)\s*)+$/],
];

type View = ReturnType<typeof outputViews>[number];

function isNoise(view: View): boolean {
  if (view.kind !== "stream stderr") return false;
  const text = view.parts.get("stream stderr") ?? "";
  return NOISE.some(([, re]) => text.split("\n").every((line) => line.trim() === "" || re.test(line)));
}

/** What is masked or left out, in words, for the runner's output. */
export const MASKS: string[] = [...NOISE.map(([what]) => `left out: ${what}`), ...VOLATILE.map(([what]) => what), ...RANDOM.map(([what]) => `in random cells: ${what}`)];

export interface Difference {
  cell: number;
  what: string;
  expected: string;
  got: string;
}

/** A pattern the corpus masks in one notebook's outputs, with why (see notebooks.ts). */
export type ExtraMask = [RegExp, string];

function mask(text: string, random: boolean, extra: ExtraMask[]): string {
  let out = text;
  for (const [re, to] of extra) out = out.replace(re, to);
  for (const [, re, to] of VOLATILE) out = out.replace(re, to);
  if (random) for (const [, re, to] of RANDOM) out = out.replace(re, to);
  return out;
}

function codeCells(nb: Notebook): Cell[] {
  return nb.cells.filter((c) => c.cell_type === "code");
}

function cellText(cell: Cell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : String(cell.source);
}

/**
 * Compare code cells by position (both notebooks are the same edited
 * notebook). `randomCells` are snippets of the cells that show random samples
 * (`^source$` for a cell whose whole source is that).
 */
export function compareResults(expected: Notebook, got: Notebook, randomCells: string[], extra: ExtraMask[] = []): Difference[] {
  const a = codeCells(expected);
  const b = codeCells(got);
  const out: Difference[] = [];
  if (a.length !== b.length) return [{ cell: 0, what: "code cell count", expected: String(a.length), got: String(b.length) }];
  for (let i = 0; i < a.length; i++) {
    const text = cellText(a[i]!);
    const random = randomCells.some((s) => (s.startsWith("^") && s.endsWith("$") ? text.trim() === s.slice(1, -1) : text.includes(s)));
    // A stream that a notebook's own mask empties is as good as absent.
    const kept = (v: View) => !isNoise(v) && !(v.kind.startsWith("stream") && mask(v.parts.get(v.kind) ?? "", false, extra) === "");
    const x = outputViews(a[i]!).filter(kept);
    const y = outputViews(b[i]!).filter(kept);
    const n = Math.max(x.length, y.length);
    for (let k = 0; k < n; k++) {
      const ex = x[k];
      const gy = y[k];
      if (!ex || !gy || ex.kind !== gy.kind) {
        out.push({ cell: i + 1, what: `output ${k + 1}`, expected: ex?.kind ?? "(none)", got: gy?.kind ?? "(none)" });
        continue;
      }
      for (const key of new Set([...ex.parts.keys(), ...gy.parts.keys()])) {
        const image = key.startsWith("image/");
        const e = image && random ? "<image>" : mask(ex.parts.get(key) ?? "(absent)", random, extra);
        const g = image && random ? "<image>" : mask(gy.parts.get(key) ?? "(absent)", random, extra);
        if (e !== g) out.push({ cell: i + 1, what: key, expected: e, got: g });
      }
    }
  }
  return out;
}
