import { describe, expect, it } from "vitest";
import { SUBSHELLS_FEATURE, withoutSubshells } from "../../../src/kernel/kernel-info.js";
import { MessageFactory, Signer, WireMessage } from "../../../src/jupyter/wire.js";

const signer = new Signer("secret");
const factory = new MessageFactory(signer);

function reply(type: string, content: Record<string, unknown>): WireMessage {
  return WireMessage.fromFrames(factory.make(type, content, { identities: [Buffer.from("peer")] }).frames());
}

describe("the NBRewind kernel's kernel_info_reply", () => {
  it("drops kernel subshells from supported_features, keeps everything else, and is signed again", () => {
    const inner = reply("kernel_info_reply", { status: "ok", protocol_version: "5.4", supported_features: [SUBSHELLS_FEATURE, "debugger"], implementation: "ipython" });
    const out = withoutSubshells(inner, signer);
    expect(out.content).toEqual({ status: "ok", protocol_version: "5.4", supported_features: ["debugger"], implementation: "ipython" });
    expect(out.header).toEqual(inner.header);
    expect(out.identities.map(String)).toEqual(["peer"]);
    expect(signer.verify(out)).toBe(true);
    expect(signer.verify(new WireMessage(out.identities, [inner.parts[0], ...out.parts.slice(1)] as WireMessage["parts"], out.buffers))).toBe(false);
  });

  it("passes any other message, and a reply without the feature, through untouched", () => {
    const other = reply("comm_info_reply", { status: "ok", comms: {} });
    expect(withoutSubshells(other, signer)).toBe(other);
    const plain = reply("kernel_info_reply", { status: "ok", supported_features: ["debugger"] });
    expect(withoutSubshells(plain, signer)).toBe(plain);
  });
});
