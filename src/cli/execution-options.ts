/**
 * The options of every command that executes a notebook (run, audit,
 * repeat), kept apart from run.ts so that those commands can parse their
 * arguments without loading what runs a notebook (see kernel-start.ts).
 */
import type { OptionSpec } from "./args.js";

/** Options shared by every command that executes a notebook (run, and later audit / repeat). */
export const executionOptions: OptionSpec[] = [
  { name: "output", short: "o", arity: 1 },
  { name: "parameters", short: "p", arity: 2, repeatable: true },
  { name: "parameters-raw", short: "r", arity: 2, repeatable: true },
  { name: "parameters-file", short: "y", arity: 1, repeatable: true },
  { name: "kernel", short: "k", arity: 1 },
  { name: "cell-timeout", arity: 1 },
  { name: "allow-errors", arity: 0 },
  { name: "kernel-transport", arity: 1, env: "NBREWIND_KERNEL_TRANSPORT" },
  { name: "server-url", arity: 1, env: "JUPYTER_SERVER_URL" },
  { name: "token", arity: 1, env: "JUPYTER_TOKEN" },
  { name: "json", arity: 0 },
  { name: "quiet", short: "q", arity: 0 },
  { name: "timings", arity: 0 },
];

export const executionOptionsHelp = `Options:
  -o, --output FILE         where to write the executed notebook
                            (default: NAME.out.ipynb beside the input)
  -p, --parameters NAME VALUE
                            set a parameter, papermill-style: a cell tagged
                            'injected-parameters' is inserted after the cell
                            tagged 'parameters'. VALUE is typed: 3, 0.5, True,
                            None, [1, 2], {a: 1}; anything else is a string
  -r, --parameters-raw NAME VALUE
                            set a parameter to VALUE as a string, untouched
  -y, --parameters-file FILE
                            parameters from a YAML mapping; -p/-r override it
  -k, --kernel NAME         kernelspec to start (default: the notebook's own
                            kernelspec if the server has it, else python3)
      --cell-timeout SECONDS
                            interrupt a cell that runs longer and record a
                            CellTimeoutError in its outputs
      --allow-errors        keep running after a cell raises (errors stay in
                            the outputs and the summary; the exit code is 0)
      --kernel-transport direct|server
                            how the kernel is started when there is no
                            --server-url (env NBREWIND_KERNEL_TRANSPORT):
                            'direct' (default) launches ipykernel from its
                            kernelspec and talks to it over ZeroMQ, as
                            nbclient does; 'server' starts an embedded Jupyter
                            server and a kernel on it (slower: one more
                            process to start and stop)
      --server-url URL      use this Jupyter server instead of starting a
                            kernel ourselves (env JUPYTER_SERVER_URL)
      --token TOKEN         its token (env JUPYTER_TOKEN; prefer the variable:
                            a command line is visible to every local user)
      --json                print a machine-readable summary on stdout
                            (schemas/run-summary.schema.json)
  -q, --quiet               no progress lines on stderr
      --timings             at the end, print on stderr where the wall time
                            went, phase by phase (node start-up, plan, server,
                            kernel, shim, restores, cells, writes, shutdown)

Exit codes: 0 success, 1 a cell failed or timed out, 2 bad usage or input,
3 infrastructure failure (server, kernel death), 130 interrupted (Ctrl-C).`;
