/**
 * The options audit and repeat add to run's, and their help: constants kept
 * apart from the commands' code so that the commands can parse their
 * arguments and start the kernel (kernel-start.ts) before loading the rest
 * (the bundle, the planner, the validators: ~0.1 s).
 */
import { resolve } from "node:path";
import { defaultBundleDir } from "../bundle/paths.js";
import { InputError } from "../common/errors.js";
import type { OptionSpec, ParsedArgs } from "./args.js";

export const bundleOption = { name: "bundle", short: "b", arity: 1 } as const;
export const storeOption = { name: "store", arity: 1 } as const;

/** `--store all` keeps every task result; without it, results cheaper to recompute than to store and load are left out. */
export function storeAllFrom(command: string, args: ParsedArgs): boolean {
  const value = args.values.get("store");
  if (value === undefined) return false;
  if (value !== "all") throw new InputError(`${command}: --store takes only 'all' (store every task result), got '${value}'`);
  return true;
}

export const storeHelp = `      --store all           store every task result; by default a result that
                            is cheaper to recompute (its measured compute
                            time) than to store and load (its size at the
                            store's measured bandwidth) is left out and
                            recorded as such, except what the notebook
                            receives (a graph's outputs, a future's result)`;

export const noWaitOption = { name: "no-wait", arity: 0 } as const;

export const noWaitHelp = `      --no-wait             fail (exit 2) when another audit or repeat of the
                            same bundle is running, instead of waiting for it`;

export const trustOption = { name: "trust", arity: 0 } as const;

export const trustHelp = `      --trust               load pickled values from this bundle even though
                            it is not signed by you or a key you trust
                            (unpickling runs code: only for a bundle whose
                            origin you know)`;

/** `--report [FILE]` of audit, repeat and replay. */
export const reportOption: OptionSpec = { name: "report", arity: 0 };
export const reportHelp = `      --report              also write the HTML report of the run
                            (NAME.report.html beside the notebook; see
                            'nbrewind-engine report --help') and print its path`;

export function bundleDirFrom(args: ParsedArgs, notebookPath: string): string {
  return resolve(args.values.get("bundle") ?? defaultBundleDir(notebookPath));
}
