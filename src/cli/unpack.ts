import { resolve } from "node:path";
import { describeKey, KeyStore } from "../bundle/trust/keys.js";
import { unpackBundle } from "../bundle/unpack.js";
import { ExitCode, InputError } from "../common/errors.js";
import { requireWritable } from "../common/writable.js";
import { formatBytes } from "../planner/plan.js";
import { parseArgs } from "./args.js";
import { throttled } from "./bundle-target.js";
import type { Command, CommandIO } from "./command.js";

async function unpack(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("unpack", argv, [
    { name: "directory", short: "C", arity: 1 },
    { name: "json", arity: 0 },
    { name: "quiet", short: "q", arity: 0 },
  ]);
  if (args.positionals.length !== 1) throw new InputError(`expected one FILE argument, got ${args.positionals.length} (see 'nbrewind-engine unpack --help')`);
  const quiet = args.flags.has("quiet");
  const log = (line: string) => void (quiet ? undefined : io.stderr.write(line + "\n"));
  const progress = throttled(log);
  const targetDir = resolve(args.values.get("directory") ?? ".");
  await requireWritable("unpack", [{ dir: targetDir, role: "the unpacked notebook and bundle", option: "-C DIR" }]);
  const result = await unpackBundle({
    archive: resolve(args.positionals[0]!),
    targetDir,
    signal: io.signal,
    onProgress: (p) => progress(`unpacking: ${Math.floor((100 * p.bytesRead) / Math.max(1, p.bytesTotal))}% of ${formatBytes(p.bytesTotal)}`),
  });
  const trust = result.signer ? await new KeyStore().trustOf(result.signer.public_key) : undefined;
  if (args.flags.has("json")) {
    const { signer, ...rest } = result;
    io.stdout.write(JSON.stringify({ command: "unpack", ...rest, signer, signer_trusted: trust?.trusted ?? false }, null, 2) + "\n");
    return ExitCode.ok;
  }
  log(`unpacked ${result.notebook} and ${result.bundle_folder}/ (${result.files} files, ${formatBytes(result.bytes)}) into ${result.targetDir}; every digest matches`);
  if (!result.signer) log("not signed: repeat and replay will load its values only with --trust");
  else if (trust?.trusted) log(`signed by ${describeKey({ ...result.signer, name: trust.name ?? result.signer.name })}, ${trust.own ? "your own key" : "a key you trust"}`);
  else log(`signed by ${describeKey(result.signer)}, a key you do not trust yet: 'nbrewind-engine keys trust' it, or pass --trust to repeat / replay`);
  return ExitCode.ok;
}

export const unpackCommand: Command = {
  name: "unpack",
  help: `Usage: nbrewind-engine unpack FILE [-C DIR] [--json] [-q]

Unpack a file written by 'pack' into DIR (default: the current folder):
DIR/NAME.ipynb and DIR/NAME.nbrewind/. The file is treated as untrusted:
entries that are absolute or contain '..', links, devices, names seen twice
and anything outside NAME.ipynb / NAME.nbrewind/ are refused; a truncated or
corrupt file, a blob whose bytes do not match its name, an entry that does
not match the signed digest list or a signature that does not verify is an
error naming the entry. Everything is written into a staging folder inside
DIR first and moved into place only when all checks pass, so a failed
unpack leaves nothing behind, and nothing is ever written outside DIR.
Existing files are never replaced.

Unpacking loads nothing, so it does not require a trusted signer; it says
who signed. 'repeat' and 'replay' then load values only from a bundle
signed by a key you trust (or with --trust).

Options:
  -C, --directory DIR       where to unpack (created if missing)
      --json                print the result as JSON
                            (schemas/archive-summary.schema.json)
  -q, --quiet               no progress lines

Example:
  nbrewind-engine unpack analysis.nbrewind.tgz -C ~/replays/analysis`,
  run: unpack,
};
