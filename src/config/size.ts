/** Sizes as people write them: `20GB`, `500 MB`, `1.5GiB`, `4096` (bytes). Units are powers of 1024. */
const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

export function parseSize(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isFinite(text) && text >= 0 ? Math.floor(text) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kKmMgGtT])i?[bB]?|([bB]))?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = (m[2] ?? m[3] ?? "").toLowerCase();
  return Math.floor(Number(m[1]) * UNITS[unit]!);
}

/** Durations for --older-than: `30d`, `12h`, `45m`, `90s`, `2w`. Returns milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$/.exec(text);
  if (!m) return undefined;
  const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[m[2] as "s" | "m" | "h" | "d" | "w"];
  return Number(m[1]) * unit;
}
