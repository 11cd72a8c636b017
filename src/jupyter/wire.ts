/**
 * The Jupyter messaging protocol's wire format (5.3+): the identity frames,
 * the `<IDS|MSG>` delimiter, the HMAC signature, then header, parent header,
 * metadata and content as JSON, and any binary buffers.
 *
 * Shared by the NBRewind kernel's proxy, which forwards most messages
 * without parsing their content (it keeps the original frames and, as both
 * its connections share one key, their signature too), and by the CLI's
 * direct kernel client (direct-kernel.ts). Only what is read is decoded, and
 * only what we create is signed here.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const DELIMITER = "<IDS|MSG>";
export const PROTOCOL_VERSION = "5.3";
const DELIMITER_BYTES = Buffer.from(DELIMITER);

export interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
  subshell_id?: string | null;
  [key: string]: unknown;
}

/** A message as the frames it travels in; JSON parts are parsed on demand. */
export class WireMessage {
  private parsed: (unknown | undefined)[] = [];

  constructor(
    /** Routing frames before the delimiter (a ROUTER's peer identities, or an IOPub topic). */
    readonly identities: Buffer[],
    /** signature, header, parent_header, metadata, content */
    readonly parts: [Buffer, Buffer, Buffer, Buffer, Buffer],
    readonly buffers: Buffer[],
  ) {}

  static fromFrames(frames: Buffer[]): WireMessage {
    const at = frames.findIndex((f) => f.equals(DELIMITER_BYTES));
    if (at < 0 || frames.length < at + 6) throw new Error(`not a Jupyter message: ${frames.length} frame(s), ${at < 0 ? "no" : "a"} delimiter`);
    const [sig, header, parent, metadata, content] = frames.slice(at + 1, at + 6) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    return new WireMessage(frames.slice(0, at), [sig, header, parent, metadata, content], frames.slice(at + 6));
  }

  get header(): Header {
    return this.json(1) as Header;
  }

  get parentHeader(): Partial<Header> {
    return this.json(2) as Partial<Header>;
  }

  get metadata(): Record<string, unknown> {
    return this.json(3) as Record<string, unknown>;
  }

  get content(): Record<string, unknown> {
    return this.json(4) as Record<string, unknown>;
  }

  get msgType(): string {
    return this.header.msg_type;
  }

  /** The same message with other routing frames. */
  withIdentities(identities: Buffer[]): WireMessage {
    const copy = new WireMessage(identities, this.parts, this.buffers);
    copy.parsed = this.parsed;
    return copy;
  }

  frames(): Buffer[] {
    return [...this.identities, DELIMITER_BYTES, ...this.parts, ...this.buffers];
  }

  private json(i: number): unknown {
    if (this.parsed[i] === undefined) this.parsed[i] = JSON.parse(this.parts[i]!.toString("utf8")) as unknown;
    return this.parsed[i];
  }
}

/** Signs and checks messages with the connection's key (HMAC-SHA256; an empty key means no signing). */
export class Signer {
  private readonly key: Buffer;

  constructor(
    key: string,
    private readonly scheme = "hmac-sha256",
  ) {
    if (key && scheme !== "hmac-sha256") throw new Error(`unsupported signature_scheme ${scheme}: only hmac-sha256`);
    this.key = Buffer.from(key, "utf8");
  }

  sign(parts: Buffer[]): Buffer {
    if (this.key.length === 0) return Buffer.alloc(0);
    const mac = createHmac("sha256", this.key);
    for (const p of parts) mac.update(p);
    return Buffer.from(mac.digest("hex"), "ascii");
  }

  verify(msg: WireMessage): boolean {
    if (this.key.length === 0) return true;
    const expected = this.sign(msg.parts.slice(1));
    const got = msg.parts[0];
    return got.length === expected.length && timingSafeEqual(got, expected);
  }
}

/** Builds the messages we send ourselves (the proxy, the direct client), under one session id. */
export class MessageFactory {
  readonly session = randomUUID();

  constructor(private readonly signer: Signer) {}

  make(msgType: string, content: unknown, options: { parent?: Partial<Header>; identities?: Buffer[]; metadata?: unknown; subshellId?: string | null } = {}): WireMessage {
    const header: Header = { msg_id: randomUUID(), msg_type: msgType, session: this.session, username: "nbrewind", date: new Date().toISOString(), version: PROTOCOL_VERSION };
    if (options.subshellId) header.subshell_id = options.subshellId;
    const body = [header, options.parent ?? {}, options.metadata ?? {}, content].map((v) => Buffer.from(JSON.stringify(v), "utf8"));
    const sig = this.signer.sign(body);
    return new WireMessage(options.identities ?? [], [sig, body[0]!, body[1]!, body[2]!, body[3]!], []);
  }

  /** An IOPub message: its topic is the first routing frame, as ipykernel names it. */
  iopub(msgType: string, content: unknown, parent: Partial<Header>): WireMessage {
    return this.make(msgType, content, { parent, identities: [Buffer.from(`kernel.${this.session}.${msgType}`)] });
  }
}
