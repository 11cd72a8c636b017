import { describe, expect, it } from "vitest";
import { AdapterStatuses } from "../../../src/jupyter/adapter-statuses.js";

describe("engine adapter statuses reported by the shim", () => {
  it("warns once per engine that runs unmemoized, and lists the last status of each engine", () => {
    const warnings: string[] = [];
    const statuses = new AdapterStatuses((line) => warnings.push(line));
    statuses.note([{ engine: "ray", status: "memoized", versions: { ray: "2.40.0" } }]);
    const off = { engine: "dask", status: "unmemoized" as const, versions: { dask: "2024.8.0" }, reason: "dask 2024.8.0 is outside the supported range >=2024.12.0" };
    statuses.note([off, { engine: "ray", status: "memoized", versions: { ray: "2.40.0" } }]);
    statuses.note([off]);
    statuses.note(undefined); // a shim that predates the field
    expect(warnings).toEqual(["warning: dask runs unmemoized: dask 2024.8.0 is outside the supported range >=2024.12.0; its tasks run as without nbrewind-engine, cell checkpoints still work"]);
    expect(statuses.list().map((s) => `${s.engine}:${s.status}`)).toEqual(["dask:unmemoized", "ray:memoized"]);
  });
});
