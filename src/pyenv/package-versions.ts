import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { packageRoot } from "../common/package-root.js";

const run = promisify(execFile);

/** The top-level pins of engines/python/requirements.txt: name -> version. */
export function topLevelPins(): Map<string, string> {
  const text = readFileSync(join(packageRoot(), "engines", "python", "requirements.txt"), "utf8");
  const pins = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/#.*/, "").trim();
    const m = /^([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)/.exec(line);
    if (m) pins.set(m[1]!, m[2]!);
  }
  return pins;
}

/** Installed versions, by distribution name, as the interpreter itself reports them (null: not installed). */
export async function installedVersions(python: string, names: string[]): Promise<Map<string, string | null>> {
  const script = [
    "import json, sys, importlib.metadata as md",
    "out = {}",
    "for n in json.loads(sys.argv[1]):",
    "    try: out[n] = md.version(n)",
    "    except md.PackageNotFoundError: out[n] = None",
    "print(json.dumps(out))",
  ].join("\n");
  const { stdout } = await run(python, ["-c", script, JSON.stringify(names)], { timeout: 30_000 });
  return new Map(Object.entries(JSON.parse(stdout) as Record<string, string | null>));
}
