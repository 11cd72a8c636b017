import { describe, expect, it } from "vitest";
import { runCli } from "./cli-harness.js";

describe("nbrewind-engine doctor", () => {
  it("reports Node, Python, the pinned env, every pinned package, a server that starts and its kernelspecs", async () => {
    const res = await runCli(["doctor", "--json"]);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.survivors).toEqual([]);
    const report = JSON.parse(res.stdout);
    expect(report.ok).toBe(true);
    const names = report.checks.map((c: any) => c.name);
    for (const name of ["Node.js", "Python (base)", "Managed Python env", "jupyter_server", "ipykernel", "dask", "parsl", "ray", "cloudpickle", "Jupyter server", "Kernelspecs"]) expect(names).toContain(name);
    // TaskVine is optional: reported, found or not, and never fails doctor
    expect(report.checks.find((c: any) => c.name === "TaskVine").optional).toBe(true);
    // This machine (and CI's) has gcc and Python's headers: the kernels observe files through the C hook.
    expect(report.checks.find((c: any) => c.name === "File observation hook")).toMatchObject({ ok: true, optional: true, found: "C audit hook" });
    expect(report.checks.find((c: any) => c.name === "Kernelspecs").found).toContain("python3");
    // The NBRewind kernel is optional: reported, with the command that installs it, never failing doctor.
    expect(report.checks.find((c: any) => c.name === "NBRewind kernelspec")).toMatchObject({ optional: true });
  });

  it("names what is missing and the fix, with exit code 3", async () => {
    const res = await runCli(["doctor"], { env: { NBREWIND_PYTHON: "/nonexistent/python3" } });
    expect(res.code).toBe(3);
    expect(res.stdout).toMatch(/MISSING\s+Python \(base\)/);
    expect(res.stdout).toContain("fix: install CPython 3.11");
  });
});
