import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where nbrewind-engine keeps what it builds once per machine and reuses (the
 * managed Python env, container images' inputs, the podman service socket):
 * `$XDG_CACHE_HOME/nbrewind-engine`, by default `~/.cache/nbrewind-engine`.
 * scripts/container-engine.sh follows the same rule.
 */
export function cacheRoot(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "nbrewind-engine");
}
