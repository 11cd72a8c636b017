import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MessageFactory, Signer, WireMessage } from "../../../src/jupyter/wire.js";

describe("the Jupyter wire format", () => {
  const signer = new Signer("secret-key");
  const factory = new MessageFactory(signer);

  it("signs header, parent, metadata and content with HMAC-SHA256 of the connection key, as jupyter_client does", () => {
    const msg = factory.make("execute_reply", { status: "ok" }, { parent: { msg_id: "p1" }, identities: [Buffer.from("peer")] });
    const frames = msg.frames();
    expect(frames[0]!.toString()).toBe("peer");
    expect(frames[1]!.toString()).toBe("<IDS|MSG>");
    const mac = createHmac("sha256", "secret-key");
    for (const f of frames.slice(3, 7)) mac.update(f);
    expect(frames[2]!.toString()).toBe(mac.digest("hex"));
    expect(signer.verify(WireMessage.fromFrames(frames))).toBe(true);
  });

  it("rejects a message whose content was changed or that another key signed", () => {
    const frames = factory.make("execute_request", { code: "1" }).frames();
    const tampered = [...frames];
    tampered[5] = Buffer.from(JSON.stringify({ code: "import os; os.system('x')" }));
    expect(signer.verify(WireMessage.fromFrames(tampered))).toBe(false);
    expect(new Signer("other").verify(WireMessage.fromFrames(frames))).toBe(false);
    expect(new Signer("").verify(WireMessage.fromFrames(tampered))).toBe(true); // an empty key means unsigned, as in Jupyter
  });

  it("keeps routing frames and binary buffers when a message is forwarded", () => {
    const frames = [Buffer.from("a"), Buffer.from("b"), ...factory.make("comm_msg", { data: {} }).frames(), Buffer.from([1, 2, 3])];
    const msg = WireMessage.fromFrames(frames);
    expect(msg.identities.map(String)).toEqual(["a", "b"]);
    expect(msg.buffers).toEqual([Buffer.from([1, 2, 3])]);
    expect(msg.frames()).toEqual(frames);
    expect(() => WireMessage.fromFrames([Buffer.from("x")])).toThrow(/not a Jupyter message/);
  });
});
