import type { Command } from "./command.js";
import { depsCommand } from "./deps.js";
import { auditCommand } from "./audit.js";
import { doctorCommand } from "./doctor.js";
import { planCommand } from "./plan.js";
import { repeatCommand } from "./repeat.js";
import { run } from "./run.js";

/** Every command, in the order `--help` lists them. */
export const commands: Command[] = [run, auditCommand, repeatCommand, planCommand, doctorCommand, depsCommand];
