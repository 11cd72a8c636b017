import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A kernel-side execution counter that owes nothing to our own plan: an
 * IPython startup file (through IPYTHONDIR, which the server passes on to its
 * kernels) registers a pre_run_cell hook that appends the first line of every
 * cell the kernel really executes to a log file. Silent executions (our shim's
 * loader) do not fire pre_run_cell.
 */
export class KernelCounter {
  readonly ipythonDir: string;
  readonly logFile: string;

  constructor(dir: string) {
    this.ipythonDir = join(dir, "ipython");
    this.logFile = join(dir, "executed.log");
    const startup = join(this.ipythonDir, "profile_default", "startup");
    mkdirSync(startup, { recursive: true });
    writeFileSync(
      join(startup, "00-count-executions.py"),
      [
        "def _nbrewind_test_count(info, _path=" + JSON.stringify(this.logFile) + "):",
        "    first = (info.raw_cell.strip().splitlines() or [''])[0]",
        "    with open(_path, 'a') as f:",
        "        f.write(first + '\\n')",
        "get_ipython().events.register('pre_run_cell', _nbrewind_test_count)",
        "del _nbrewind_test_count",
        "",
      ].join("\n"),
    );
  }

  get env(): Record<string, string> {
    return { IPYTHONDIR: this.ipythonDir };
  }

  reset(): void {
    rmSync(this.logFile, { force: true });
  }

  /** First lines of the cells the kernel executed since the last reset, in order. */
  executed(): string[] {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }
}
