import { createRequire } from "node:module";

type Yaml = typeof import("yaml");
let loaded: Yaml | undefined;

/**
 * The yaml package, loaded on first use: ~35 ms of CPU at start-up that a
 * command pays only when it reads nbrewind.yaml or YAML parameters. Required
 * (yaml ships the same API as CommonJS) so that callers stay synchronous.
 */
export function yamlLib(): Yaml {
  return (loaded ??= createRequire(import.meta.url)("yaml") as Yaml);
}
