/**
 * Ed25519 keys (node:crypto): the user's own signing key and the public keys
 * they trust, kept in the config dir (see common/config-dir.ts):
 *
 *   signing-key.pem     the private key, PKCS#8 PEM, mode 0600
 *   signing-key.pub     its public key line (what `keys export` prints)
 *   trusted-keys.json   public keys of others (schemas/trusted-keys.schema.json)
 *
 * A public key travels as one line, easy to paste into a chat or an e-mail:
 *   nbrewind-ed25519 <base64 of the 32 raw bytes> <name>
 * Its id is the first 16 hex digits of the sha256 of the raw bytes.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { chmod, link, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { configDir } from "../../common/config-dir.js";
import { InputError } from "../../common/errors.js";
import { tempPathFor, writeJsonAtomic } from "../../common/atomic-file.js";
import { assertValid } from "../schemas.js";

export const KEY_LINE_PREFIX = "nbrewind-ed25519";
const PRIVATE_FILE = "signing-key.pem";
const PUBLIC_FILE = "signing-key.pub";
const TRUSTED_FILE = "trusted-keys.json";

export interface PublicKeyInfo {
  key_id: string;
  /** base64 of the 32 raw bytes. */
  public_key: string;
  name: string;
}

export interface TrustedKey extends PublicKeyInfo {
  added_at: string;
}

interface TrustedKeysFile {
  format: "nbrewind-trusted-keys";
  format_version: 1;
  keys: TrustedKey[];
}

export interface SigningKey {
  info: PublicKeyInfo;
  sign(data: Buffer): Buffer;
}

export function keyIdOf(publicKeyBase64: string): string {
  return createHash("sha256").update(Buffer.from(publicKeyBase64, "base64")).digest("hex").slice(0, 16);
}

export function formatKeyLine(info: PublicKeyInfo): string {
  return `${KEY_LINE_PREFIX} ${info.public_key} ${info.name}`;
}

/** One shell word, quoted only when it must be: what a message tells the user to paste. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `ed25519:<id> (name)`, how keys appear in messages. */
export function describeKey(info: { key_id: string; name?: string }): string {
  return `ed25519:${info.key_id}${info.name ? ` (${info.name})` : ""}`;
}

/** Parse a public key line; `shown` names where it came from in errors. */
export function parseKeyLine(text: string, shown: string): PublicKeyInfo {
  const line = text.trim().split("\n").find((l) => l.trim() !== "" && !l.trim().startsWith("#"))?.trim() ?? "";
  const [prefix, key, ...rest] = line.split(/\s+/);
  if (prefix !== KEY_LINE_PREFIX || !key) {
    throw new InputError(`${shown}: not an nbrewind public key (expected a line '${KEY_LINE_PREFIX} <base64 key> <name>', as 'nbrewind-engine keys export' prints)`);
  }
  const raw = Buffer.from(key, "base64");
  if (raw.length !== 32 || raw.toString("base64") !== key) throw new InputError(`${shown}: the key is not 32 bytes of base64 (an Ed25519 public key); was it cut when copied?`);
  return { key_id: keyIdOf(key), public_key: key, name: rest.join(" ") || "unnamed" };
}

export function publicKeyObject(publicKeyBase64: string): KeyObject {
  const x = Buffer.from(publicKeyBase64, "base64").toString("base64url");
  return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" });
}

export function verifySignature(publicKeyBase64: string, data: Buffer, signatureBase64: string): boolean {
  try {
    return verify(null, data, publicKeyObject(publicKeyBase64), Buffer.from(signatureBase64, "base64"));
  } catch {
    return false;
  }
}

function rawPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  return Buffer.from(jwk.x as string, "base64url").toString("base64");
}

function defaultName(): string {
  let user = "user";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers): keep the generic name
  }
  return `${user}@${hostname()}`;
}

export class KeyStore {
  constructor(readonly dir: string = configDir()) {}

  get privateKeyFile(): string {
    return join(this.dir, PRIVATE_FILE);
  }

  /** The user's signing key, or undefined when none was created yet. */
  async ownKey(): Promise<SigningKey | undefined> {
    let pem: string;
    try {
      pem = await readFile(this.privateKeyFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new InputError(`cannot read your signing key ${this.privateKeyFile}: ${(err as Error).message}`);
    }
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(pem);
    } catch (err) {
      throw new InputError(`${this.privateKeyFile} is not a valid private key (${(err as Error).message}); move it away and run 'nbrewind-engine keys init'`);
    }
    if (privateKey.asymmetricKeyType !== "ed25519") throw new InputError(`${this.privateKeyFile} is a ${privateKey.asymmetricKeyType} key, not Ed25519`);
    const publicKey = rawPublicKey(createPublicKey(privateKey));
    let name = defaultName();
    try {
      name = parseKeyLine(await readFile(join(this.dir, PUBLIC_FILE), "utf8"), join(this.dir, PUBLIC_FILE)).name;
    } catch {
      // the .pub file is only a convenience: the private key is the truth
    }
    return { info: { key_id: keyIdOf(publicKey), public_key: publicKey, name }, sign: (data) => sign(null, data, privateKey) };
  }

  /**
   * Create the signing key. Refuses to replace one unless `force`: a new key
   * makes every bundle signed with the old one untrusted by those who trust it.
   */
  async init(options: { force?: boolean; name?: string } = {}): Promise<{ key: SigningKey; created: boolean }> {
    const existing = await this.ownKey();
    if (existing && !options.force) return { key: existing, created: false };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }) as string;
    const info: PublicKeyInfo = { key_id: "", public_key: rawPublicKey(publicKey), name: options.name ?? defaultName() };
    info.key_id = keyIdOf(info.public_key);
    // Written to a temp file and linked into place: two processes creating
    // the key at once end up with one key, never a half-written file.
    const temp = tempPathFor(this.privateKeyFile);
    await writeFile(temp, pem, { mode: 0o600, flag: "wx" });
    try {
      if (options.force) await rm(this.privateKeyFile, { force: true });
      await link(temp, this.privateKeyFile);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      await rm(temp, { force: true });
      return { key: (await this.ownKey())!, created: false };
    }
    await rm(temp, { force: true });
    await chmod(this.privateKeyFile, 0o600);
    await writeFile(join(this.dir, PUBLIC_FILE), formatKeyLine(info) + "\n", { mode: 0o644 });
    return { key: (await this.ownKey())!, created: true };
  }

  /** The signing key, created on first use; `onCreate` is told where, so the user is never surprised. */
  async ensureOwnKey(onCreate: (line: string) => void): Promise<SigningKey> {
    const { key, created } = await this.init();
    if (created) onCreate(`created your signing key ${describeKey(key.info)} in ${this.dir} ('nbrewind-engine keys export' prints it for others to trust)`);
    return key;
  }

  async trusted(): Promise<TrustedKey[]> {
    const file = join(this.dir, TRUSTED_FILE);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new InputError(`${file} is not valid JSON (${(err as Error).message})`);
    }
    return assertValid<TrustedKeysFile>("trusted-keys", raw, file).keys;
  }

  /** Add a key to the trusted ones; false when it was already there. */
  async trust(info: PublicKeyInfo): Promise<boolean> {
    const keys = await this.trusted();
    if (keys.some((k) => k.public_key === info.public_key)) return false;
    keys.push({ ...info, added_at: new Date().toISOString() });
    await this.writeTrusted(keys);
    return true;
  }

  /** Remove the trusted key(s) whose id starts with `idPrefix`; returns what was removed. */
  async untrust(idPrefix: string): Promise<TrustedKey[]> {
    const id = idPrefix.replace(/^ed25519:/, "");
    const keys = await this.trusted();
    const removed = keys.filter((k) => k.key_id.startsWith(id));
    if (removed.length > 1) throw new InputError(`'${idPrefix}' matches ${removed.length} trusted keys; give more of the id`);
    if (removed.length === 1) await this.writeTrusted(keys.filter((k) => k !== removed[0]));
    return removed;
  }

  /** Whether a signer is trusted: the user's own key, or one of the trusted keys. */
  async trustOf(publicKeyBase64: string): Promise<{ trusted: boolean; own: boolean; name?: string }> {
    const own = await this.ownKey();
    if (own?.info.public_key === publicKeyBase64) return { trusted: true, own: true, name: own.info.name };
    const hit = (await this.trusted()).find((k) => k.public_key === publicKeyBase64);
    return hit ? { trusted: true, own: false, name: hit.name } : { trusted: false, own: false };
  }

  private async writeTrusted(keys: TrustedKey[]): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file: TrustedKeysFile = { format: "nbrewind-trusted-keys", format_version: 1, keys };
    await writeJsonAtomic(join(this.dir, TRUSTED_FILE), file);
  }
}
