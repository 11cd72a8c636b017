import { describe, expect, it } from "vitest";
import { numberOption, parseArgs, type OptionSpec } from "../../../src/cli/args.js";
import { InputError } from "../../../src/common/errors.js";

const specs: OptionSpec[] = [
  { name: "output", short: "o", arity: 1 },
  { name: "parameters", short: "p", arity: 2, repeatable: true },
  { name: "json", arity: 0 },
  { name: "token", arity: 1, env: "NBREWIND_TEST_TOKEN" },
  { name: "cell-timeout", arity: 1 },
];

describe("parseArgs", () => {
  it("takes positionals, switches, values and repeated two-value options in any order", () => {
    const a = parseArgs("run", ["nb.ipynb", "-p", "n", "5", "--json", "-o", "out.ipynb", "-p", "name", "two words", "--cell-timeout=3"], specs);
    expect(a.positionals).toEqual(["nb.ipynb"]);
    expect(a.flags.has("json")).toBe(true);
    expect(a.values.get("output")).toBe("out.ipynb");
    expect(a.values.get("cell-timeout")).toBe("3");
    expect(a.lists.get("parameters")).toEqual([["n", "5"], ["name", "two words"]]);
  });

  it("treats everything after -- as positionals", () => {
    expect(parseArgs("run", ["--", "--json"], specs).positionals).toEqual(["--json"]);
  });

  it("falls back to the environment for options that name one", () => {
    process.env.NBREWIND_TEST_TOKEN = "from-env";
    try {
      expect(parseArgs("run", [], specs).values.get("token")).toBe("from-env");
      expect(parseArgs("run", ["--token", "flag"], specs).values.get("token")).toBe("flag");
    } finally {
      delete process.env.NBREWIND_TEST_TOKEN;
    }
  });

  it("says which option is unknown or short of values", () => {
    expect(() => parseArgs("run", ["--nope"], specs)).toThrow(/unknown option '--nope'/);
    expect(() => parseArgs("run", ["-p", "n"], specs)).toThrow(/'-p' needs a name and a value/);
    expect(() => parseArgs("run", ["-o"], specs)).toThrow(/'-o' needs a value/);
    expect(() => parseArgs("run", ["--json=1"], specs)).toThrow(InputError);
  });

  it("numberOption accepts positive numbers only", () => {
    expect(numberOption("run", parseArgs("run", ["--cell-timeout", "2.5"], specs), "cell-timeout")).toBe(2.5);
    expect(numberOption("run", parseArgs("run", [], specs), "cell-timeout")).toBeUndefined();
    expect(() => numberOption("run", parseArgs("run", ["--cell-timeout", "0"], specs), "cell-timeout")).toThrow(/--cell-timeout/);
  });
});
