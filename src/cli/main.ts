import { diskErrorFrom } from "../common/disk-errors.js";
import { ExitCode, NbrewindError } from "../common/errors.js";
import { packageVersion } from "../common/package-root.js";
import type { CommandIO } from "./command.js";
import { timings } from "../common/phase-timings.js";
import { errorLine } from "./error-line.js";
import { commands } from "./registry.js";

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "nbrewind-engine — audit, repeat and replay notebooks that drive Dask, Parsl or Ray",
    "",
    "Usage: nbrewind-engine COMMAND [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run 'nbrewind-engine COMMAND --help' for a command's options and examples.",
  ].join("\n");
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  timings.begin();
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" && rest[0] ? commands.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write((target ? (await target.load()).help : overview()) + "\n");
    return ExitCode.ok;
  }
  if (name === "--version" || name === "-V") {
    io.stdout.write(packageVersion() + "\n");
    return ExitCode.ok;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`nbrewind-engine: unknown command '${name}'\n\n${overview()}\n`);
    return ExitCode.badInput;
  }
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout.write(command.help + "\n");
    return ExitCode.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const known = err instanceof NbrewindError ? err : diskErrorFrom(err);
    if (known) {
      io.stderr.write(errorLine(command.name, known.message) + "\n");
      for (const line of known.details) io.stderr.write(`  ${line}\n`);
      return known.exitCode;
    }
    io.stderr.write(`nbrewind-engine ${command.name}: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.infrastructure;
  }
}
