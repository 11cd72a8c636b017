/**
 * Container replay: the interface `replay --container` calls. This build has
 * no container support; the implementation (image build from containers/
 * templates and the recorded environment, run through dockerode) replaces
 * this file.
 */
import { InfrastructureError } from "../common/errors.js";

export interface ContainerReplayOptions {
  /** The unpacked work directory on the host (holds the notebook and its bundle). */
  workDir: string;
  /** The notebook to repeat, relative to workDir. */
  notebook: string;
  /** Options for `nbrewind-engine repeat` after the notebook; every path in them is relative to workDir. */
  repeatArgs: string[];
  baseImage?: string;
  /** Allow network inside the container (default: none). */
  network?: boolean;
  onProgress: (line: string) => void;
  signal?: AbortSignal;
}

export interface ContainerReplayResult {
  exitCode: number;
  /** Absolute path on the host. */
  outputNotebook: string;
  /** The run-summary JSON of the repeat inside (schemas/run-summary.schema.json). */
  summary: unknown;
}

export function replayInContainer(_options: ContainerReplayOptions): Promise<ContainerReplayResult> {
  return Promise.reject(new InfrastructureError("container replay is not available in this build"));
}
