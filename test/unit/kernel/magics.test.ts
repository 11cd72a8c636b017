import { describe, expect, it } from "vitest";
import { parseMagics } from "../../../src/kernel/magics.js";

describe("the NBRewind kernel's magics", () => {
  it("reads %audit on|off as the seed does: on records, off reuses (repeat)", () => {
    expect(parseMagics("%audit on").commands).toEqual([{ kind: "mode", mode: "audit", trust: false, storeAll: false }]);
    expect(parseMagics("%audit off").commands).toEqual([{ kind: "mode", mode: "repeat", trust: false, storeAll: false }]);
  });

  it("takes the full spelling, leading lines only, and keeps the rest of the cell to run", () => {
    const parsed = parseMagics("\n%nbrewind bundle 'my nb.ipynb'\n%nbrewind repeat --trust\nx = 1\n%nbrewind status");
    expect(parsed.commands).toEqual([
      { kind: "bundle", path: "my nb.ipynb" },
      { kind: "mode", mode: "repeat", trust: true, storeAll: false },
    ]);
    expect(parsed.rest).toBe("x = 1\n%nbrewind status");
    for (const verb of ["status", "explain", "off"]) expect(parseMagics(`%nbrewind ${verb}`).commands[0]).toMatchObject({ kind: verb === "off" ? "mode" : verb });
  });

  it("takes --store all, as the CLI's audit and repeat do, and refuses another storage policy", () => {
    expect(parseMagics("%nbrewind audit --store all").commands).toEqual([{ kind: "mode", mode: "audit", trust: false, storeAll: true }]);
    expect(parseMagics("%audit off --trust --store=all").commands).toEqual([{ kind: "mode", mode: "repeat", trust: true, storeAll: true }]);
    expect(parseMagics("%nbrewind repeat --store some").error).toBe("--store takes 'all', not 'some'");
  });

  it("leaves other code and other magics alone, and names what it does not understand", () => {
    expect(parseMagics("%time x = 1")).toEqual({ commands: [], rest: "%time x = 1" });
    expect(parseMagics("%auditing on").commands).toEqual([]);
    expect(parseMagics("%audit maybe").error).toBe("%audit takes 'on' or 'off', not 'maybe'");
    expect(parseMagics("%nbrewind bundle").error).toBe("%nbrewind bundle needs a PATH");
    expect(parseMagics("%nbrewind frobnicate").error).toContain("does not understand 'frobnicate'");
  });
});
