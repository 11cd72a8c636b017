import { describe, expect, it } from "vitest";
import { errorLine } from "../../../src/cli/error-line.js";

describe("the error line of a failed command", () => {
  it("names the command once, also when the message already starts with it", () => {
    expect(errorLine("repeat", "repeat: refusing to load values from /x")).toBe("nbrewind-engine repeat: refusing to load values from /x");
    expect(errorLine("pack", "cannot write /x")).toBe("nbrewind-engine pack: cannot write /x");
    // Another command's name is information (replay runs a repeat), not a repetition.
    expect(errorLine("replay", "repeat: the kernel died")).toBe("nbrewind-engine replay: repeat: the kernel died");
  });

  it("names a subcommand once: 'keys trust: …' from the keys command is not shown after a second prefix", () => {
    expect(errorLine("keys", "keys trust: give the key line")).toBe("nbrewind-engine keys trust: give the key line");
    expect(errorLine("cache", "cache gc: --keep-runs \"0\" must be a whole number of runs, at least 1")).toBe('nbrewind-engine cache gc: --keep-runs "0" must be a whole number of runs, at least 1');
    expect(errorLine("kernel", "kernel install: unexpected argument 'x'")).toBe("nbrewind-engine kernel install: unexpected argument 'x'");
    // Not a subcommand: a message that merely starts with the command's name and a word.
    expect(errorLine("cache", "cache dir /x: is not a folder")).toBe("nbrewind-engine cache: cache dir /x: is not a folder");
  });
});
