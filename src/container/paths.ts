/**
 * The replay container's layout, shared by the host side (which mounts and
 * copies) and inside-entry.ts (which runs in the container).
 *
 *   /replay/in         the host's work dir (notebook + bundle), mounted read-only
 *   /replay/work/in    a writable copy of it in which the repeat runs: every file
 *                      copied except the bundle's blobs, which are symlinks into
 *                      /replay/in (so a large bundle costs no copy)
 *   /replay/work/out   the output notebook and summary.json, copied back to the host
 */
export const MOUNT_DIR = "/replay/in";
export const STAGED_DIR = "/replay/work/in";
export const OUT_DIR = "/replay/work/out";
export const SUMMARY_FILE = "summary.json";
/** Not root: uid/gid 1000, created by containers/replay.Dockerfile. */
export const CONTAINER_USER = "1000:1000";
/** Every image and container we make carries it (cleanup, `podman ps --filter label=...`). */
export const REPLAY_LABEL = "nbrewind.replay";
