import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describeKey, formatKeyLine, KEY_LINE_PREFIX, KeyStore, parseKeyLine } from "../bundle/trust/keys.js";
import { ExitCode, InputError } from "../common/errors.js";
import { parseArgs } from "./args.js";
import type { Command, CommandIO } from "./command.js";

const SUBCOMMANDS = ["init", "export", "trust", "untrust", "list"] as const;

async function keys(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs("keys", argv, [
    { name: "force", arity: 0 },
    { name: "name", arity: 1 },
    { name: "output", short: "o", arity: 1 },
    { name: "json", arity: 0 },
  ]);
  const [sub, ...rest] = args.positionals;
  const store = new KeyStore();
  const say = (line: string) => io.stderr.write(line + "\n");
  switch (sub) {
    case "init": {
      const before = await store.ownKey();
      if (before && !args.flags.has("force")) {
        say(`you already have a signing key, ${describeKey(before.info)}, in ${store.dir} (--force replaces it; bundles signed with the old key then stop being trusted by those who trust it)`);
        return ExitCode.ok;
      }
      const { key } = await store.init({ force: args.flags.has("force"), ...(args.values.has("name") ? { name: args.values.get("name")! } : {}) });
      say(`created your signing key ${describeKey(key.info)} in ${store.dir}`);
      io.stdout.write(formatKeyLine(key.info) + "\n");
      return ExitCode.ok;
    }
    case "export": {
      const key = await store.ensureOwnKey(say);
      const line = formatKeyLine(key.info) + "\n";
      const out = args.values.get("output");
      if (out) {
        await writeFile(resolve(out), line);
        say(`wrote your public key ${describeKey(key.info)} to ${resolve(out)}`);
      } else io.stdout.write(line);
      return ExitCode.ok;
    }
    case "trust": {
      if (rest.length < 1) throw new InputError(`keys trust: give the key line ('${KEY_LINE_PREFIX} ...'), a file holding it, or - for stdin`);
      const arg = rest.join(" ");
      const text = arg.startsWith(KEY_LINE_PREFIX) ? arg : arg === "-" ? await readStdin() : await readFile(resolve(arg), "utf8").catch((err: NodeJS.ErrnoException) => {
        throw new InputError(`keys trust: cannot read ${resolve(arg)}: ${err.code === "ENOENT" ? "it does not exist" : err.message}`);
      });
      const info = parseKeyLine(text, arg.startsWith(KEY_LINE_PREFIX) ? "the key line" : arg);
      if (args.values.has("name")) info.name = args.values.get("name")!;
      const own = await store.ownKey();
      if (own?.info.public_key === info.public_key) {
        say(`${describeKey(own.info)} is your own key: it is always trusted`);
        return ExitCode.ok;
      }
      const added = await store.trust(info);
      say(added ? `now trusting ${describeKey(info)}: bundles it signs load without --trust` : `${describeKey(info)} was already trusted`);
      return ExitCode.ok;
    }
    case "untrust": {
      if (rest.length !== 1) throw new InputError("keys untrust: give the id of the key (as 'keys list' shows it)");
      const removed = await store.untrust(rest[0]!);
      if (removed.length === 0) throw new InputError(`keys untrust: no trusted key has the id ${rest[0]}`);
      say(`no longer trusting ${describeKey(removed[0]!)}`);
      return ExitCode.ok;
    }
    case "list": {
      const own = await store.ownKey();
      const trusted = await store.trusted();
      if (args.flags.has("json")) {
        io.stdout.write(JSON.stringify({ config_dir: store.dir, own: own?.info ?? null, trusted }, null, 2) + "\n");
        return ExitCode.ok;
      }
      io.stdout.write(`your key:  ${own ? describeKey(own.info) : "none yet ('nbrewind-engine keys init', or created by the first audit or pack)"}\n`);
      io.stdout.write(trusted.length === 0 ? "trusted:   none\n" : trusted.map((k) => `trusted:   ${describeKey(k)}, since ${k.added_at}`).join("\n") + "\n");
      return ExitCode.ok;
    }
    default:
      throw new InputError(`expected one of ${SUBCOMMANDS.join(", ")}${sub ? `, got '${sub}'` : ""} (see 'nbrewind-engine keys --help')`);
  }
}

async function readStdin(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  return text;
}

export const keysCommand: Command = {
  name: "keys",
  help: `Usage: nbrewind-engine keys init [--name NAME] [--force]
       nbrewind-engine keys export [-o FILE]
       nbrewind-engine keys trust KEY_LINE|FILE|- [--name NAME]
       nbrewind-engine keys untrust KEY_ID
       nbrewind-engine keys list [--json]

A bundle's values are pickles, and unpickling runs code. So 'pack' signs a
bundle's digest list with your Ed25519 key, and 'repeat' and 'replay' load
values only from a bundle that is yours or signed by a key you trust (or
when you pass --trust).

  init      create your signing key (the first audit or pack does it for
            you); --force replaces it
  export    print your public key as one line, for others to trust:
              nbrewind-ed25519 <base64 key> <name>
  trust     trust the key in that line (pasted, in a FILE, or on stdin);
            check with its owner that the line is theirs first
  untrust   stop trusting a key (by id, or the start of it)
  list      your key and the keys you trust

Keys live in $NBREWIND_CONFIG_DIR, else $XDG_CONFIG_HOME/nbrewind-engine,
else ~/.config/nbrewind-engine: signing-key.pem (private, mode 0600),
signing-key.pub, trusted-keys.json (schemas/trusted-keys.schema.json).

A bundle you audit is yours: audit marks the folder with your key and every
run re-signs its digest list, so repeat needs no --trust there.

Example:
  alice$ nbrewind-engine keys export > alice.pub      # send alice.pub to bob
  bob$   nbrewind-engine keys trust alice.pub
  bob$   nbrewind-engine replay analysis.nbrewind.tgz --check`,
  run: keys,
};
