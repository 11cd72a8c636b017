import type { Socket } from "zeromq";

/**
 * A zeromq socket takes one send at a time: sends from concurrent handlers
 * are chained, in call order, so no frame of one message interleaves another.
 */
export class SerialSender {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly socket: Socket & { send(frames: Buffer[]): Promise<void> }) {}

  send(frames: Buffer[]): Promise<void> {
    const next = this.tail.then(() => this.socket.send(frames));
    // A failed send (the socket closed at shutdown) must not block later ones.
    this.tail = next.catch(() => {});
    return next;
  }
}

/** Read every message of a socket until it closes, handing each to `handle`; a handler's error never stops the loop. */
export async function receiveLoop(socket: AsyncIterable<Buffer[]>, handle: (frames: Buffer[]) => void | Promise<void>, onError: (err: unknown) => void): Promise<void> {
  try {
    for await (const frames of socket) {
      try {
        await handle(frames);
      } catch (err) {
        onError(err);
      }
    }
  } catch (err) {
    // A socket closed while waiting ends the loop; anything else is reported.
    if ((err as { code?: string }).code !== "EAGAIN" && !/closed|terminated/i.test((err as Error).message)) onError(err);
  }
}
