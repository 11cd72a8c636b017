/** nbrewind.yaml as the rest of the program uses it: paths absolute, sizes in bytes. */

/** One pin: tasks whose function (and optionally cell) it selects are keyed by `version` instead of their code. */
export interface PinRule {
  /** Glob on the task function's qualified name (`module.qualname`). */
  function: string;
  /** A cell id or a cell tag: only tasks that cell submitted. */
  cell?: string;
  version: string;
  /** Never garbage-collect the results it selects. */
  keep: boolean;
}

export interface CacheSettings {
  /** The shared, writable task cache (absolute), if any. */
  dir?: string;
  /** Read-only task caches (absolute), consulted in this order after the local ones. */
  read: string[];
}

export interface GcSettings {
  maxSizeBytes?: number;
  keepRuns?: number;
}

export interface NbrewindConfig {
  /** The nbrewind.yaml this came from; undefined when none was found (every default applies). */
  file?: string;
  pins: PinRule[];
  cache: CacheSettings;
  gc: GcSettings;
}

export const CONFIG_FILE_NAME = "nbrewind.yaml";

export function emptyConfig(): NbrewindConfig {
  return { pins: [], cache: { read: [] }, gc: {} };
}
