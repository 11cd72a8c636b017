import type { Command } from "./command.js";
import { depsCommand } from "./deps.js";
import { auditCommand } from "./audit.js";
import { cacheCommand } from "./cache.js";
import { doctorCommand } from "./doctor.js";
import { planCommand } from "./plan.js";
import { repeatCommand } from "./repeat.js";
import { kernelCommand } from "./kernel.js";
import { keysCommand } from "./keys.js";
import { packCommand } from "./pack.js";
import { replayCommand } from "./replay.js";
import { reportCommand } from "./report.js";
import { run } from "./run.js";
import { unpackCommand } from "./unpack.js";
import { verifyCommand } from "./verify.js";

/** Every command, in the order `--help` lists them. */
export const commands: Command[] = [
  run,
  auditCommand,
  repeatCommand,
  planCommand,
  packCommand,
  unpackCommand,
  verifyCommand,
  replayCommand,
  reportCommand,
  keysCommand,
  kernelCommand,
  cacheCommand,
  doctorCommand,
  depsCommand,
];
