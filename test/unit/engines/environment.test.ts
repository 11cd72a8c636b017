import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../../src/common/package-root.js";
import { basePython, findManagedEnv } from "../../../src/pyenv/managed-env.js";

/**
 * The shim names every installed distribution and its version from the header
 * block of its metadata only. Here, in the managed env with a few odd
 * distributions added to sys.path (a body that looks like headers, CRLF line
 * ends, an egg-info, a duplicate further down sys.path), the answer must be
 * exactly what importlib.metadata's full parse (dist.metadata, dist.version) gives.
 */
const CASES = String.raw`
import importlib.metadata, json, os, shutil, sys, tempfile
root, = sys.argv[1:]
sys.path.insert(0, os.path.join(root, "engines", "python"))
first, second = tempfile.mkdtemp(), tempfile.mkdtemp()
def dist(where, folder, filename, text):
    os.makedirs(os.path.join(where, folder))
    with open(os.path.join(where, folder, filename), "w", newline="") as f:
        f.write(text)
dist(first, "bodylike-1.0.dist-info", "METADATA", "Metadata-Version: 2.1\nName: bodylike\nVersion: 1.0\n\nName: not-this\nVersion: 9.9\n" + "long description\n" * 2000)
dist(first, "crlf_pkg-2.0.dist-info", "METADATA", "Metadata-Version: 2.1\r\nName: crlf-pkg\r\nVersion: 2.0\r\n\r\nbody\r\n")
dist(first, "eggy-3.0.egg-info", "PKG-INFO", "Metadata-Version: 1.1\nName: eggy\nVersion: 3.0\nSummary: x\n")
dist(first, "dup-1.0.dist-info", "METADATA", "Metadata-Version: 2.1\nName: dup\nVersion: 1.0\n")
dist(second, "dup-2.0.dist-info", "METADATA", "Metadata-Version: 2.1\nName: dup\nVersion: 2.0\n")
sys.path[1:1] = [first, second]
from nbrewind.environment import installed_packages
full = {}
for d in importlib.metadata.distributions():
    name = d.metadata.get("Name") if d.metadata else None
    if name and name not in full:
        full[name] = d.version
full = dict(sorted(full.items(), key=lambda kv: kv[0].lower()))
ours = installed_packages()
for d in (first, second):
    shutil.rmtree(d)
print(json.dumps({"ours": ours, "full": full}))
`;

describe("the kernel's environment description", () => {
  it("names the same distributions and versions as a full parse of their metadata", () => {
    const python = findManagedEnv()?.python ?? basePython();
    const r = spawnSync(python, ["-c", CASES, packageRoot()], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const { ours, full } = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(ours).toEqual(full);
    expect(ours).toMatchObject({ bodylike: "1.0", "crlf-pkg": "2.0", eggy: "3.0", dup: "1.0" });
    expect(Object.keys(ours).length).toBeGreaterThan(20);
  });
});
