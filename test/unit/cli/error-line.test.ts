import { describe, expect, it } from "vitest";
import { errorLine } from "../../../src/cli/error-line.js";

describe("the error line of a failed command", () => {
  it("names the command once, also when the message already starts with it", () => {
    expect(errorLine("repeat", "repeat: refusing to load values from /x")).toBe("nbrewind-engine repeat: refusing to load values from /x");
    expect(errorLine("pack", "cannot write /x")).toBe("nbrewind-engine pack: cannot write /x");
    // Another command's name is information (replay runs a repeat), not a repetition.
    expect(errorLine("replay", "repeat: the kernel died")).toBe("nbrewind-engine replay: repeat: the kernel died");
  });
});
