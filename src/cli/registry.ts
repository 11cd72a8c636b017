import type { Command } from "./command.js";
import { depsCommand } from "./deps.js";
import { doctorCommand } from "./doctor.js";
import { run } from "./run.js";

/** Every command, in the order `--help` lists them. */
export const commands: Command[] = [run, doctorCommand, depsCommand];
