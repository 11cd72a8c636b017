/**
 * Where nbrewind-engine keeps per-user settings (the signing key, the keys
 * the user trusts): NBREWIND_CONFIG_DIR if set (tests, several identities),
 * else $XDG_CONFIG_HOME/nbrewind-engine, else ~/.config/nbrewind-engine.
 */
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NBREWIND_CONFIG_DIR) return env.NBREWIND_CONFIG_DIR;
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".config"), "nbrewind-engine");
}
