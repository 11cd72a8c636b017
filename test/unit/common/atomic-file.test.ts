import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { isTempFileName, tempPathFor, writeFileAtomic, writeJsonAtomic } from "../../../src/common/atomic-file.js";
import { tempDir } from "../store/helpers.js";

test("writeFileAtomic replaces the file whole and leaves no temp file", async () => {
  const dir = tempDir();
  const target = join(dir, "m.json");
  writeFileSync(target, "old");
  await writeJsonAtomic(target, { a: 1 });
  expect(JSON.parse(readFileSync(target, "utf8"))).toEqual({ a: 1 });
  await Promise.all(Array.from({ length: 10 }, (_, i) => writeFileAtomic(target, `value ${i}`)));
  expect(readFileSync(target, "utf8")).toMatch(/^value \d$/);
  expect(readdirSync(dir)).toEqual(["m.json"]);
});

test("temp names are recognisable, so readers can skip leftovers", () => {
  const name = tempPathFor("/x/cells/abc.json").split("/").pop() as string;
  expect(isTempFileName(name)).toBe(true);
  expect(isTempFileName("abc.json")).toBe(false);
});
