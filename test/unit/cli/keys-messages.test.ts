import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runMain } from "./run-main.js";

/** What a user sees when `keys trust` is given nothing to trust, or a file that is not there. */
describe("keys trust messages", () => {
  const before = process.env.NBREWIND_CONFIG_DIR;
  beforeEach(() => void (process.env.NBREWIND_CONFIG_DIR = mkdtempSync(join(tmpdir(), "nbrewind-keys-messages-"))));
  afterEach(() => void (before === undefined ? delete process.env.NBREWIND_CONFIG_DIR : (process.env.NBREWIND_CONFIG_DIR = before)));

  it("names the subcommand once and says plainly that a file does not exist", async () => {
    const none = await runMain(["keys", "trust"]);
    expect(none.code).toBe(2);
    expect(none.err).toBe("nbrewind-engine keys trust: give the key line ('nbrewind-ed25519 ...'), a file holding it, or - for stdin\n");
    const missing = join(tmpdir(), "nbrewind-no-such-key.pub");
    const absent = await runMain(["keys", "trust", missing]);
    expect(absent.code).toBe(2);
    expect(absent.err).toBe(`nbrewind-engine keys trust: cannot read ${missing}: it does not exist\n`);
  });
});
