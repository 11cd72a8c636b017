import { resolve } from "node:path";
import { ExitCode, InputError } from "../common/errors.js";
import { DEFAULT_DISPLAY_NAME, DEFAULT_NAME, findKernelSpecs, installKernelSpec, kernelsDir, uninstallKernelSpec, type Scope } from "../kernel/kernelspec.js";
import { ensureManagedEnv } from "../pyenv/managed-env.js";
import { parseArgs, type ParsedArgs } from "./args.js";
import type { Command, CommandIO } from "./command.js";

function scopeFrom(args: ParsedArgs): Scope {
  const chosen = [args.flags.has("user") && "--user", args.flags.has("sys-prefix") && "--sys-prefix", args.values.has("prefix") && "--prefix"].filter(Boolean);
  if (chosen.length > 1) throw new InputError(`kernel: ${chosen.join(" and ")} cannot be combined; choose one place`);
  if (args.values.has("prefix")) return { kind: "prefix", dir: resolve(args.values.get("prefix")!) };
  if (args.flags.has("sys-prefix")) return { kind: "sys-prefix" };
  return { kind: "user" };
}

async function pythonFrom(args: ParsedArgs, io: CommandIO): Promise<string> {
  const given = args.values.get("python");
  if (given) return resolve(given);
  const env = await ensureManagedEnv((line) => io.stderr.write(`  ${line}\n`));
  return env.python;
}

async function kernel(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("kernel", argv, [
    { name: "user", arity: 0 },
    { name: "sys-prefix", arity: 0 },
    { name: "prefix", arity: 1 },
    { name: "name", arity: 1 },
    { name: "display-name", arity: 1 },
    { name: "python", arity: 1 },
    { name: "json", arity: 0 },
  ]);
  const [sub, ...rest] = args.positionals;
  if (rest.length > 0) throw new InputError(`kernel ${sub ?? ""}: unexpected argument '${rest[0]}'`);
  const name = args.values.get("name") ?? DEFAULT_NAME;
  switch (sub) {
    case "install": {
      const python = await pythonFrom(args, io);
      const dir = await installKernelSpec({ scope: scopeFrom(args), name, displayName: args.values.get("display-name") ?? DEFAULT_DISPLAY_NAME, python });
      if (args.flags.has("json")) io.stdout.write(JSON.stringify({ name, dir, python }) + "\n");
      else io.stdout.write(`installed kernelspec '${name}' in ${dir}\n  its ipykernel runs on ${python}\n  pick "${args.values.get("display-name") ?? DEFAULT_DISPLAY_NAME}" in JupyterLab, then put %audit on (record) or %audit off (reuse) in the first cell\n`);
      return ExitCode.ok;
    }
    case "list": {
      const python = await pythonFrom(args, io);
      const extra = args.values.has("prefix") ? [kernelsDir(scopeFrom(args), python)] : [];
      const specs = findKernelSpecs(python, extra);
      if (args.flags.has("json")) {
        io.stdout.write(JSON.stringify(specs.map((s) => ({ name: s.name, dir: s.dir, display_name: s.spec.display_name, python: s.spec.metadata?.nbrewind?.python ?? null, version: s.spec.metadata?.nbrewind?.version ?? null })), null, 2) + "\n");
      } else if (specs.length === 0) {
        io.stdout.write("no NBRewind kernelspec installed (nbrewind-engine kernel install)\n");
      } else {
        for (const s of specs) io.stdout.write(`${s.name.padEnd(16)} ${s.spec.display_name}  ${s.dir}\n`);
      }
      return ExitCode.ok;
    }
    case "uninstall": {
      const python = args.values.get("python") ?? (args.flags.has("sys-prefix") ? (await pythonFrom(args, io)) : process.execPath);
      const dir = await uninstallKernelSpec({ scope: scopeFrom(args), name, python });
      io.stdout.write(`removed kernelspec '${name}' from ${dir}\n`);
      return ExitCode.ok;
    }
    default:
      throw new InputError(`kernel: expected install, list or uninstall${sub ? `, not '${sub}'` : ""} (see 'nbrewind-engine kernel --help')`);
  }
}

export const kernelCommand: Command = {
  name: "kernel",
  help: `Usage: nbrewind-engine kernel install [--user | --sys-prefix | --prefix DIR] [--name nbrewind] [--display-name NAME] [--python PATH]
       nbrewind-engine kernel list [--prefix DIR] [--json]
       nbrewind-engine kernel uninstall [--user | --sys-prefix | --prefix DIR] [--name nbrewind]

The NBRewind kernel is a Jupyter kernel, "${DEFAULT_DISPLAY_NAME}", for JupyterLab,
Notebook 7, VS Code, papermill and any other Jupyter frontend. It runs a real
ipykernel (with the nbrewind shim loaded) and forwards everything to it, so
completion, widgets, Dask's dashboard and stdin behave as usual. Its magics,
at the top of a cell:

  %audit on       record every cell you run, and every Dask/Parsl/Ray task,
                  in NAME.nbrewind/ beside the notebook
  %audit off      reuse: a cell whose source and inputs (from this kernel's
                  execution history) were recorded shows its recorded
                  outputs at once without running; a cell that runs gets
                  its tasks served from the bundle where their keys match
  %nbrewind audit|repeat|off|status|explain|bundle PATH   the full spelling

The bundle is the one the CLI's audit and repeat use: either side continues
what the other recorded.

install writes the kernelspec (default: for this user, in Jupyter's data dir;
--sys-prefix: into the --python environment's prefix; --prefix DIR: into
DIR/share/jupyter/kernels). The inner ipykernel runs on --python (default:
nbrewind-engine's managed Python environment, created if missing; any Python
with ipykernel and the shim's needs works). list shows the NBRewind
kernelspecs Jupyter sees; uninstall removes one (never a kernelspec that is
not an NBRewind one).

Options:
  --user | --sys-prefix | --prefix DIR   where (default --user)
  --name NAME             kernelspec name (default ${DEFAULT_NAME})
  --display-name NAME     the name frontends show (default "${DEFAULT_DISPLAY_NAME}")
  --python PATH           the inner ipykernel's interpreter
  --json                  machine-readable output (install, list)

Example:
  nbrewind-engine kernel install --user
  jupyter lab      # then pick "${DEFAULT_DISPLAY_NAME}" and run %audit on`,
  run: kernel,
};
