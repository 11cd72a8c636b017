#!/usr/bin/env node
// Entry point: runs the compiled CLI (npm run build writes dist/).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/cli/entry.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("nbrewind-engine: not built yet; run 'npm run build' in " + fileURLToPath(new URL("..", import.meta.url)) + "\n");
  process.exit(3);
}
await import(entry.href);
