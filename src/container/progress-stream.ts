import type Docker from "dockerode";

interface ProgressEvent {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/**
 * Follow an engine's JSON progress stream (image build or pull): every
 * non-empty line of output goes to onLine; an error event rejects with its
 * message, so a failed build is never mistaken for a finished one.
 */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    docker.modem.followProgress(
      stream,
      (err: Error | null) => {
        if (err) reject(err);
        else if (failure) reject(new Error(failure));
        else resolve();
      },
      (event: ProgressEvent) => {
        if (event.error || event.errorDetail?.message) failure = event.errorDetail?.message ?? event.error;
        const text = event.stream ?? event.error ?? (event.status ? [event.status, event.id, event.progress].filter(Boolean).join(" ") : "");
        for (const line of text.split(/\r?\n/)) if (line.trim()) onLine(line.trimEnd());
      },
    );
  });
}
