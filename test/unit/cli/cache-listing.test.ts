import { describe, expect, it } from "vitest";
import { itemJson, itemJsonText } from "../../../src/cli/cache-listing.js";
import type { InventoryItem } from "../../../src/store/cache-inventory.js";

const who = { bundle: "/work/a.nbrewind", notebook: "/work/a.ipynb" };
const base: InventoryItem = {
  entry: { format_version: 1, key: "a".repeat(64), engine: "dask", function: '__main__.skim "quoted" \\ ünï', digest: "b".repeat(64), size: 7, created_at: "2026-11-01T00:00:00.000Z", producer: who },
  hits: 0,
  neededBy: [],
};

describe("cache ls --json on a long listing", () => {
  it("writes each entry exactly as JSON.stringify of the entry's JSON object would: plain, pinned, used, needed by two bundles", () => {
    const items: InventoryItem[] = [
      base,
      { ...base, entry: { ...base.entry, pin: { version: "v3", by: "nbrewind.yaml: skim", keep: true } }, hits: 4, lastUsed: "2026-11-02T10:00:00.000Z" },
      { ...base, entry: { ...base.entry, pin: { version: "v1", by: "@pin" } }, neededBy: [who, { bundle: "/b.nbrewind", notebook: "/b.ipynb" }] },
      { ...base, neededBy: [who] },
    ];
    for (const item of items) expect(itemJsonText(item)).toBe(JSON.stringify(itemJson(item)));
  });
});
