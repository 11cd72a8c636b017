import { describe, expect, it } from "vitest";
import { chooseKernelSpec } from "../../../src/jupyter/kernel-session.js";

const specs = [
  { name: "python3", displayName: "Python 3", language: "python" },
  { name: "dask-env", displayName: "Dask", language: "python" },
];

describe("chooseKernelSpec", () => {
  it("uses an explicit --kernel, and refuses one the server lacks, listing what it has", () => {
    expect(chooseKernelSpec(specs, "dask-env", "python3")).toEqual({ name: "dask-env" });
    expect(() => chooseKernelSpec(specs, "julia", undefined)).toThrow(/kernel 'julia' is not available/);
  });
  it("prefers the notebook's own kernelspec, else python3 with a note", () => {
    expect(chooseKernelSpec(specs, undefined, "dask-env")).toEqual({ name: "dask-env" });
    expect(chooseKernelSpec(specs, undefined, "conda-old")).toEqual({ name: "python3", note: "the notebook's kernel 'conda-old' is not available here; using 'python3'" });
    expect(chooseKernelSpec(specs, undefined, undefined)).toEqual({ name: "python3" });
  });
});
