import { describe, expect, it } from "vitest";
import { commands } from "../../../src/cli/registry.js";
import { runMain } from "./run-main.js";

describe("the command registry", () => {
  it("lists every command with its summary, and each entry loads the command of that name with its help", async () => {
    const { code, out } = await runMain(["--help"]);
    expect(code).toBe(0);
    for (const entry of commands) {
      expect(out).toMatch(new RegExp(`^  ${entry.name} +${entry.summary.replace(/[()]/g, "\\$&")}$`, "m"));
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.help).toMatch(/^Usage: nbrewind-engine /);
    }
  });

  it("shows a command's help through 'help NAME' and 'NAME --help' alike", async () => {
    const a = await runMain(["help", "cache"]);
    const b = await runMain(["cache", "--help"]);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/^Usage: nbrewind-engine cache SUBCOMMAND/);
    expect(b.out).toBe(a.out);
  });

  it("names an unknown command, lists the real ones and exits 2", async () => {
    const r = await runMain(["nosuch"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'nosuch'");
    expect(r.err).toContain("  cache ");
  });
});
