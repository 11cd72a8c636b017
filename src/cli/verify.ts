import { stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join, resolve } from "node:path";
import { Bundle } from "../bundle/bundle.js";
import { listBundleFiles } from "../bundle/bundle-files.js";
import { formatProblem, recordDigests, type BundleProblem } from "../bundle/records.js";
import { checkFolderDigests, checkSigner, type SignatureReport } from "../bundle/trust/check-digests.js";
import { DIGESTS_FILE } from "../bundle/trust/digest-list.js";
import { describeKey, KeyStore } from "../bundle/trust/keys.js";
import { describeVouch } from "../bundle/trust/vouch.js";
import { inspectPacked } from "../bundle/unpack.js";
import { verifyBundle } from "../bundle/verify.js";
import { BlobStore } from "../store/blob-store.js";
import { ExitCode, InputError } from "../common/errors.js";
import { formatBytes } from "../planner/plan.js";
import { parseArgs } from "./args.js";
import { resolveBundleTarget } from "./bundle-target.js";
import type { Command, CommandIO } from "./command.js";

export interface VerifyResult {
  command: "verify";
  target: string;
  kind: "archive" | "bundle";
  ok: boolean;
  problems: BundleProblem[];
  signature: SignatureReport;
  counts: { files: number; blobs: number; bytes: number };
}

async function verify(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("verify", argv, [
    { name: "bundle", short: "b", arity: 1 },
    { name: "json", arity: 0 },
  ]);
  if (args.positionals.length !== 1) throw new InputError(`expected one FILE or BUNDLE argument, got ${args.positionals.length} (see 'nbrewind-engine verify --help')`);
  const target = resolve(args.positionals[0]!);
  const s = await stat(target).catch(() => undefined);
  if (!s) throw new InputError(`${target} does not exist`);
  const keys = new KeyStore();
  const result = s.isFile() && extname(target) !== ".ipynb" ? await verifyArchive(target, keys) : await verifyFolder(target, args.values.get("bundle"), keys);

  if (args.flags.has("json")) io.stdout.write(JSON.stringify(result, null, 2) + "\n");
  else {
    for (const p of result.problems) io.stdout.write(formatProblem(p) + "\n");
    const sig = result.signature;
    const who = sig.signer ? `signed by ${describeKey(sig.signer)}${sig.trusted ? (sig.own ? " (your key)" : " (trusted)") : ""}; ${describeVouch(sig.vouch ?? undefined)}` : "not signed";
    const what = `${result.counts.files} files, ${result.counts.blobs} blobs, ${formatBytes(result.counts.bytes)}`;
    io.stderr.write(result.ok ? `ok: ${target} (${what}; every digest matches; ${who})\n` : `${result.problems.length} problem(s) in ${target} (${what}; ${who})\n`);
  }
  return result.ok ? ExitCode.ok : ExitCode.badInput;
}

async function verifyArchive(archive: string, keys: KeyStore): Promise<VerifyResult> {
  return inspectPacked(archive, tmpdir(), async (ex) => {
    const problems: BundleProblem[] = ex.problems.map((p) => ({ file: p.entry || archive, message: p.message }));
    const signer = await checkSigner(ex.digestList, keys, `${ex.bundle_folder}/${DIGESTS_FILE}`);
    problems.push(...signer.problems);
    let counts = { files: ex.files, blobs: 0, bytes: ex.bytes };
    const complete = ex.digestList !== undefined;
    if (complete) {
      // Blobs were hashed on the way in; what is left is the records, the manifest, and what they reference.
      const dir = join(ex.stagingDir, ex.bundle_folder);
      for (const p of await verifyBundle(dir, new BlobStore(join(dir, "blobs")), { blobContent: false })) problems.push({ ...p, file: `${ex.bundle_folder}/${p.file}` });
      const files = await listBundleFiles(dir);
      counts = { files: ex.files, blobs: files.filter((f) => f.blobDigest).length, bytes: ex.bytes };
    }
    return { command: "verify", target: archive, kind: "archive", ok: problems.length === 0, problems, signature: signer.report, counts };
  });
}

async function verifyFolder(path: string, bundleOption: string | undefined, keys: KeyStore): Promise<VerifyResult> {
  const { bundleDir } = await resolveBundleTarget("verify", path, bundleOption);
  const bundle = await Bundle.open(bundleDir);
  const problems = await bundle.verify();
  // verifyBundle hashed every referenced blob; the digest check hashes only the others.
  const referenced = new Set<string>();
  for (const rec of (await bundle.records().catch(() => new Map())).values()) for (const d of recordDigests(rec)) referenced.add(d);
  const digests = await checkFolderDigests(bundleDir, bundle.blobs, keys, referenced);
  problems.push(...digests.problems);
  return {
    command: "verify",
    target: bundleDir,
    kind: "bundle",
    ok: problems.length === 0,
    problems,
    signature: digests.report,
    counts: { files: digests.files, blobs: digests.blobs, bytes: digests.bytes },
  };
}

export const verifyCommand: Command = {
  name: "verify",
  help: `Usage: nbrewind-engine verify FILE|BUNDLE|NOTEBOOK [--bundle DIR] [--json]

Check everything that can be checked without running anything:
  - every blob's content against its sha256 name (hashed on every core);
  - every record, the manifest, the environment and the run logs against
    their JSON Schemas (schemas/), and every blob a record refers to is there;
  - every file against the signed digest list (digests.json): same size and
    sha256, nothing missing, nothing added;
  - the Ed25519 signature of the list, and whether its signer is you or a key
    you trust ('nbrewind-engine keys'); and what the signer vouches for: that
    it ran the notebook itself, that it received the bundle signed by another
    key it trusts (named), or that it accepted it with --trust.
For a packed FILE this happens on a scratch copy in the temp folder, removed
afterwards; nothing is unpacked where you are. A truncated file, a link or an
entry escaping the folder is reported like any other problem.

Prints one line per problem (FILE: JSON path: what is wrong) and exits 2 if
there is any; exits 0, with a one-line summary on stderr, only when all hold.

Options:
  -b, --bundle DIR          the bundle folder of NOTEBOOK, when not NAME.nbrewind
      --json                the result as JSON (schemas/verify-result.schema.json)

Examples:
  nbrewind-engine verify analysis.nbrewind.tgz
  nbrewind-engine verify analysis.ipynb --json`,
  run: verify,
};
