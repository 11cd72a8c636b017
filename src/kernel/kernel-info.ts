import { type Signer, WireMessage } from "../jupyter/wire.js";

/** JEP 91's name for kernel subshells in a kernel_info_reply's supported_features. */
export const SUBSHELLS_FEATURE = "kernel subshells";

/**
 * The inner ipykernel's kernel_info_reply, without kernel subshells.
 *
 * A frontend that sees the feature (JupyterLab's services, with its default
 * comms-over-subshells) sends comm messages on a subshell, and ipykernel then
 * runs their handlers in another thread while a cell runs. The NBRewind kernel
 * snapshots and pickles the namespace at each cell's end: a handler mutating it
 * concurrently would race the checkpoint, so every request must reach the main
 * shell, in order with the cells. Not advertised, the frontend sends them there.
 * Any other message is returned as it came.
 */
export function withoutSubshells(msg: WireMessage, signer: Signer): WireMessage {
  if (msg.msgType !== "kernel_info_reply") return msg;
  const content = msg.content;
  const features = content.supported_features;
  if (!Array.isArray(features) || !features.includes(SUBSHELLS_FEATURE)) return msg;
  const rewritten = Buffer.from(JSON.stringify({ ...content, supported_features: features.filter((f) => f !== SUBSHELLS_FEATURE) }), "utf8");
  const [, header, parent, metadata] = msg.parts;
  const signature = signer.sign([header, parent, metadata, rewritten]);
  return new WireMessage(msg.identities, [signature, header, parent, metadata, rewritten], msg.buffers);
}
