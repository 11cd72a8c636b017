import { basename, dirname, join, resolve } from "node:path";
import { packBundle } from "../bundle/pack.js";
import { withBundleRunLock } from "../bundle/run-lock.js";
import { describeKey } from "../bundle/trust/keys.js";
import { describeVouch } from "../bundle/trust/vouch.js";
import { ExitCode, InputError } from "../common/errors.js";
import { requireWritable } from "../common/writable.js";
import { formatBytes } from "../planner/plan.js";
import { parseArgs } from "./args.js";
import { resolveBundleTarget, throttled } from "./bundle-target.js";
import { vouchForPack } from "./bundle-trust.js";
import type { Command, CommandIO } from "./command.js";

async function pack(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("pack", argv, [
    { name: "output", short: "o", arity: 1 },
    { name: "bundle", short: "b", arity: 1 },
    { name: "no-sign", arity: 0 },
    { name: "trust", arity: 0 },
    { name: "level", arity: 1 },
    { name: "json", arity: 0 },
    { name: "quiet", short: "q", arity: 0 },
    { name: "inputs", arity: 0 },
    { name: "no-wait", arity: 0 },
  ]);
  if (args.positionals.length !== 1) throw new InputError(`expected one NOTEBOOK or BUNDLE argument, got ${args.positionals.length} (see 'nbrewind-engine pack --help')`);
  const level = args.values.has("level") ? Number(args.values.get("level")) : undefined;
  if (level !== undefined && !(Number.isInteger(level) && level >= 1 && level <= 9)) throw new InputError(`--level must be 1..9, got '${args.values.get("level")}'`);
  const quiet = args.flags.has("quiet");
  const log = (line: string) => void (quiet ? undefined : io.stderr.write(line + "\n"));
  const target = await resolveBundleTarget("pack", args.positionals[0]!, args.values.get("bundle"));
  const stem = basename(target.notebookPath, ".ipynb");
  const output = resolve(args.values.get("output") ?? join(dirname(target.notebookPath), `${stem}.nbrewind.tgz`));
  await requireWritable("pack", [{ dir: dirname(output), role: "the packed file", option: "-o FILE", mustExist: true }]);
  if (args.flags.has("no-sign") && args.flags.has("trust")) throw new InputError("--trust vouches for what you sign; with --no-sign nothing is signed");
  // Under the run lock: an audit or repeat writing the bundle finishes first, and none starts while we read it.
  const lock = { command: "pack", wait: !args.flags.has("no-wait"), log, signal: io.signal } as const;
  const { result, signing } = await withBundleRunLock(target.bundleDir, lock, async () => {
    const signing = args.flags.has("no-sign") ? undefined : await vouchForPack(target.bundleDir, { trust: args.flags.has("trust"), log });
    const progress = throttled(log);
    const result = await packBundle({
      notebookPath: target.notebookPath,
      bundleDir: target.bundleDir,
      output,
      ...(signing ? { key: signing.key, ...(signing.vouch ? { vouch: signing.vouch } : {}) } : {}),
      ...(level !== undefined ? { level } : {}),
      signal: io.signal,
      ...(args.flags.has("inputs") ? { inputs: true } : {}),
      onProgress: (p) => progress(`packing: ${Math.floor((100 * p.bytesDone) / Math.max(1, p.bytesTotal))}% (${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)}, ${p.files}/${p.filesTotal} files)`),
    });
    return { signing, result };
  });
  if (args.flags.has("json")) {
    io.stdout.write(JSON.stringify({ command: "pack", ...result }, null, 2) + "\n");
    return ExitCode.ok;
  }
  log(`packed ${result.notebook} and ${result.bundle_folder}/ (${result.files} files, ${result.blobs} blobs, ${formatBytes(result.bytes_in)} -> ${formatBytes(result.bytes_out)}) into ${result.output}`);
  log(result.signer ? `signed by ${describeKey(result.signer)}: ${describeVouch(signing?.vouch)}` : "not signed (--no-sign): whoever loads it must pass --trust");
  if (result.relativised_paths > 0) log(`replaced ${result.relativised_paths} absolute path(s) of this site by relative ones`);
  for (const o of result.omitted) log(`left out ${o} (an absolute path of this site)`);
  if (result.inputs) {
    log(`packed ${result.inputs.packed.length} input file(s) the notebook read in its folder${result.inputs.packed.length ? `: ${result.inputs.packed.join(", ")}` : ""}`);
    if (result.inputs.absent.length) log(`recorded inputs not on disk, not packed: ${result.inputs.absent.join(", ")}`);
  }
  return ExitCode.ok;
}

export const packCommand: Command = {
  name: "pack",
  help: `Usage: nbrewind-engine pack NOTEBOOK|BUNDLE [-o FILE] [--bundle DIR] [--inputs] [--no-sign | --trust] [--no-wait] [--level N] [--json] [-q]

Write the notebook and its bundle folder into one file for another site:
a tar stream (NAME.ipynb, NAME.nbrewind/...), gzip-compressed on every core
(readable by 'tar -xzf' too), streamed from disk, so memory stays flat for a
bundle of any size. Every file is hashed as it is packed; a blob whose bytes
do not match its name stops the pack. The last entry,
NAME.nbrewind/digests.json, lists every file with its size and sha256 and is
signed with your Ed25519 key (created on first use; see 'nbrewind-engine keys').

Your signature tells everyone who trusts your key that the bundle's pickled
values are safe to load, so pack signs only a bundle you could load
yourself: your own (audited here, or accepted here before), or one signed
by a key you trust with every record still as signed. The signature records
which (verify shows it). Anything else (an unpacked bundle from a key you do
not trust, an unsigned one, one changed after signing) is refused, unless
you pass --trust, which vouches for it in your name and says so in the
signature; or --no-sign, which leaves the decision to the receiver.

Nothing about this site travels: absolute paths in the manifest, records,
logs and notebook are made relative (the notebook's folder becomes '.', your
home '~'), the Python executable's path is left out of environment.json, and
the owner mark and lock of the bundle are not packed.

An audit or repeat of the bundle that is running is waited for, with a
message, so a bundle is never packed half written; none starts while pack
reads it (they wait in turn). --no-wait fails (exit 2) instead.

Options:
  -o, --output FILE         the packed file (default: NAME.nbrewind.tgz beside
                            the notebook)
  -b, --bundle DIR          the bundle folder, when NOTEBOOK's is not
                            NAME.nbrewind beside it
      --no-sign             do not sign: the receiver must pass --trust
      --trust               sign a bundle that nobody you trust vouches for;
                            the signature records that you accepted it this way
      --inputs              also pack the files the notebook read inside its
                            folder (data files), as NAME.nbrewind/inputs/...;
                            'verify' checks them and 'replay' puts them in
                            place where the other site has no such file
      --no-wait             fail (exit 2) when an audit or repeat of the bundle
                            is running, instead of waiting for it to finish
      --level N             gzip level 1..9 (default 6, like 'tar -z')
      --json                print the result as JSON
                            (schemas/archive-summary.schema.json)
  -q, --quiet               no progress lines

Then, at the other site:
  nbrewind-engine verify analysis.nbrewind.tgz
  nbrewind-engine replay analysis.nbrewind.tgz --check

Example:
  nbrewind-engine pack analysis.ipynb -o /tmp/analysis.nbrewind.tgz`,
  run: pack,
};
