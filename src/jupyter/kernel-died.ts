import { InfrastructureError } from "../common/errors.js";

/**
 * Why a kernel stopped being usable mid-run. In a file of its own so that a
 * command can test for it without loading the Jupyter client library, which
 * a run that needs no kernel never loads (see cli/run.ts).
 */
export class KernelDiedError extends InfrastructureError {}
