/**
 * Python floats in a JavaScript world.
 *
 * A JS number does not say whether it was written `1` or `1.0`; Python (and
 * therefore nbformat's JSON writer and papermill's parameter translator) does.
 * Two mechanisms keep the difference where it matters:
 *
 * - `PyFloat` wraps a float whose value is integral (or any float you want to
 *   force), for parameter values: `-p x 1.0` must reach the kernel as `1.0`.
 * - float marks (`markFloat`/`isMarkedFloat`) remember, per container and
 *   key, that a JSON number read from a file was written as a float
 *   (`"duration": 2.0`), so writing the notebook back reproduces it.
 *   Marks live in a WeakMap keyed by the container object: they survive as long
 *   as that object does (a copy of the container loses them, which only means
 *   `2.0` is written as `2`).
 */

export class PyFloat {
  constructor(readonly value: number) {}
  /** JSON.stringify and friends see the plain number. */
  toJSON(): number {
    return this.value;
  }
}

const floatMarks = new WeakMap<object, Set<string | number>>();

export function markFloat(container: object, key: string | number): void {
  let keys = floatMarks.get(container);
  if (!keys) floatMarks.set(container, (keys = new Set()));
  keys.add(key);
}

export function isMarkedFloat(container: object, key: string | number): boolean {
  return floatMarks.get(container)?.has(key) ?? false;
}

/**
 * `repr(float)` as CPython prints it: the shortest digits that round-trip
 * (the same digits JavaScript picks), fixed notation when the decimal exponent
 * is in [-4, 16), otherwise `d.ddde+XX`; always a `.0` on integral fixed values.
 * Non-finite values come out as `inf`, `-inf`, `nan` (Python's repr); callers
 * that need source code or JSON handle those themselves.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa = "", exp = "0"] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const e = Number(exp);
  const decpt = e + 1; // value = 0.<digits> * 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const absExp = Math.abs(e);
  return `${sign}${m}e${e < 0 ? "-" : "+"}${absExp < 10 ? "0" : ""}${absExp}`;
}

/** `str(int)` for an integral JS number, without JavaScript's exponent form above 1e21. */
export function pythonIntRepr(x: number): string {
  return Math.abs(x) < 1e21 ? String(x === 0 ? 0 : x) : BigInt(x).toString();
}

/** `copy` with the float marks of `source` (for shallow copies of containers). */
export function withFloatMarks<T extends object>(source: object, copy: T): T {
  const keys = floatMarks.get(source);
  if (keys) floatMarks.set(copy, new Set(keys));
  return copy;
}
