import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { compareVersions, engineSupport, versionProblem, versionTuple } from "../../../src/engines/support.js";

const repo = join(import.meta.dirname, "..", "..", "..");

describe("engine support ranges", () => {
  it("engine_support.json follows its schema and names Dask, Parsl, Ray and TaskVine", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(JSON.parse(readFileSync(join(repo, "schemas", "engine-support.schema.json"), "utf8")) as object);
    const data = JSON.parse(readFileSync(join(repo, "engines", "python", "nbrewind", "engine_support.json"), "utf8"));
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
    expect(Object.keys(engineSupport().engines).sort()).toEqual(["dask", "parsl", "ray", "taskvine"]);
  });

  it("compares calendar and semantic releases part by part, pre-releases as their release", () => {
    expect(versionTuple("2024.12.1")).toEqual([2024, 12, 1]);
    expect(versionTuple("2.40.0rc1")).toEqual([2, 40]);
    expect(compareVersions("2.40", "2.40.0")).toBe(0);
    expect(compareVersions("2024.8.0", "2024.12.0")).toBe(-1);
    expect(compareVersions("2024.12.1", "2024.12")).toBe(1);
    expect(compareVersions("2.9.3", "2.40.0")).toBe(-1);
  });

  it("says which version is outside which range, and lets an optional distribution be absent", () => {
    const dask = engineSupport().engines.dask!;
    expect(versionProblem(dask.requires, { dask: "2024.12.1", distributed: "2024.12.1" }, dask.optional)).toBeUndefined();
    expect(versionProblem(dask.requires, { dask: "2025.7.0", distributed: null }, dask.optional)).toBeUndefined();
    expect(versionProblem(dask.requires, { dask: "2024.8.0", distributed: "2024.8.0" }, dask.optional)).toBe("dask 2024.8.0 is outside the supported range >=2024.12.0");
    const ray = engineSupport().engines.ray!;
    expect(versionProblem(ray.requires, { ray: "3.0.0" })).toBe("ray 3.0.0 is outside the supported range >=2.40.0,<3");
    expect(versionProblem(ray.requires, {})).toBe("ray is not installed");
  });
});
