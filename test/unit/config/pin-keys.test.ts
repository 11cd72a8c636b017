import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * The kernel side of pins, in a plain Python process (no kernel): the task
 * key of a pinned function ignores its code and follows its version and its
 * arguments; the record says which pin keyed it and what the code was.
 */
const SCRIPT = String.raw`
import json
from nbrewind import pin
from nbrewind.tasks import Keyer
from nbrewind.tasks import pins

cell = ["c1"]
key = lambda fn, *args: Keyer().task_key("dask", fn, [Keyer().value_key(a) for a in args], {})
out = {}

def skim(x):
    return x + 1
a = key(skim, 1)
skim_v1 = skim
def skim(x):
    return x + 2   # an edit
out["unpinned_edit_changes_key"] = key(skim, 1) != a

pins.configure([{"function": "skim", "version": "v1", "selector": "skim"}], lambda: cell[0])
k1 = key(skim_v1, 1)
rec = [{"key": k1}]
pins.annotate(rec)
out["record_pin"] = rec[0]["pin"]["version"], rec[0]["pin"]["by"]
out["pinned_edit_keeps_key"] = key(skim, 1) == k1
pins.annotate(rec)
out["record_code_follows_the_code"] = rec[0]["pin"]["code"] != pins.annotate([{"key": key(skim_v1, 1)}])[0]["pin"]["code"]
out["pinned_args_still_keyed"] = key(skim, 2) != k1
pins.configure([{"function": "skim", "version": "v2", "selector": "skim"}], lambda: cell[0])
out["bump_changes_key"] = key(skim, 1) != k1
pins.configure([{"function": "skim", "version": "v1", "selector": "skim in cell c9", "cells": ["c9"]}], lambda: cell[0])
out["other_cell_not_pinned"] = key(skim, 1) != k1

pins.configure([], lambda: None)
@pin(version="v3")
def fit(x):
    return x * 2
d1 = key(fit, 1)
@pin(version="v3")
def fit(x):
    return x * 3
out["decorator_edit_keeps_key"] = key(fit, 1) == d1
@pin(version="v4")
def fit(x):
    return x * 3
out["decorator_bump_changes_key"] = key(fit, 1) != d1
pins.configure([{"function": "fit", "version": "v3", "selector": "fit"}], lambda: None)
r = [{"key": key(fit, 1)}]
pins.annotate(r)
out["config_wins"] = r[0]["pin"]["by"]
try:
    pin(version="")
except ValueError as e:
    out["empty_version"] = str(e)
print(json.dumps(out))
`;

describe("pins in the kernel shim: task keys", () => {
  it("a pinned function's key follows its version and arguments, not its code; the decorator does the same; nbrewind.yaml wins", () => {
    const python = findManagedEnv()?.python ?? basePython();
    const r = spawnSync(python, ["-c", SCRIPT], { cwd: join(packageRoot(), "engines", "python"), encoding: "utf8", env: { ...process.env, PYTHONPATH: join(packageRoot(), "engines", "python") } });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      unpinned_edit_changes_key: true,
      pinned_edit_keeps_key: true,
      pinned_args_still_keyed: true,
      record_pin: ["v1", "nbrewind.yaml: skim"],
      record_code_follows_the_code: true,
      bump_changes_key: true,
      other_cell_not_pinned: true,
      decorator_edit_keeps_key: true,
      decorator_bump_changes_key: true,
      config_wins: "nbrewind.yaml: fit",
      empty_version: "pin(version=...) needs a non-empty string, got ''",
    });
  });
});
