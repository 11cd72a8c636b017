import { InputError } from "../common/errors.js";

/**
 * A small argument parser: node's util.parseArgs cannot take options with two
 * values (papermill's `-p name value`), and we want errors phrased for users.
 */
export interface OptionSpec {
  /** Long name without dashes, e.g. "cell-timeout". */
  name: string;
  short?: string;
  /** How many values follow the flag: 0 for a boolean switch. */
  arity: 0 | 1 | 2;
  repeatable?: boolean;
  /** Environment variable used when the option is not given. */
  env?: string;
}

export interface ParsedArgs {
  positionals: string[];
  /** Switches: true when present. */
  flags: Set<string>;
  /** Single-valued options (last one wins unless repeatable). */
  values: Map<string, string>;
  /** Repeatable options: every occurrence, each as the list of its values. */
  lists: Map<string, string[][]>;
}

export function parseArgs(command: string, argv: string[], specs: OptionSpec[]): ParsedArgs {
  const byName = new Map<string, OptionSpec>();
  for (const spec of specs) {
    byName.set(`--${spec.name}`, spec);
    if (spec.short) byName.set(`-${spec.short}`, spec);
  }
  const out: ParsedArgs = { positionals: [], flags: new Set(), values: new Map(), lists: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      out.positionals.push(arg);
      continue;
    }
    let flag = arg;
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      flag = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    }
    const spec = byName.get(flag);
    if (!spec) throw new InputError(`${command}: unknown option '${flag}' (see 'nbrewind-engine ${command} --help')`);
    if (spec.arity === 0) {
      if (inline !== undefined) throw new InputError(`${command}: option '${flag}' takes no value`);
      out.flags.add(spec.name);
      continue;
    }
    const vals: string[] = [];
    if (inline !== undefined) vals.push(inline);
    while (vals.length < spec.arity) {
      const next = argv[++i];
      if (next === undefined) {
        const what = spec.arity === 2 ? "a name and a value" : "a value";
        throw new InputError(`${command}: option '${flag}' needs ${what}`);
      }
      vals.push(next);
    }
    if (spec.repeatable) {
      const list = out.lists.get(spec.name) ?? [];
      list.push(vals);
      out.lists.set(spec.name, list);
    } else {
      out.values.set(spec.name, vals[0]!);
    }
  }
  for (const spec of specs) {
    if (spec.env && spec.arity === 1 && !out.values.has(spec.name)) {
      const fromEnv = process.env[spec.env];
      if (fromEnv) out.values.set(spec.name, fromEnv);
    }
  }
  return out;
}

export function numberOption(command: string, args: ParsedArgs, name: string): number | undefined {
  const raw = args.values.get(name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new InputError(`${command}: --${name} needs a positive number of seconds, got '${raw}'`);
  return value;
}
