import { readdirSync, readFileSync } from "node:fs";

/**
 * Processes whose environment holds NAME=VALUE. Every process an embedded
 * server or a kernel we launch directly starts (kernels, engine workers,
 * their children) inherits the run marker, even after it re-parents to init: this is how we find
 * the ones that escaped a polite shutdown. Linux only; elsewhere it finds none.
 */
export function processesMarkedWith(name: string, value: string): number[] {
  const needle = Buffer.from(`${name}=${value}\0`);
  const found: number[] = [];
  forEachEnvironment((pid, environ) => {
    if (environ.includes(needle)) found.push(pid);
  });
  return found;
}

/** Every JUPYTER_RUNTIME_DIR a live process has in its environment (what a runtime folder sweep must leave alone). */
export function runtimeDirsInUse(): Set<string> {
  const found = new Set<string>();
  forEachEnvironment((_pid, environ) => {
    for (const pair of environ.toString("utf8").split("\0")) {
      if (pair.startsWith("JUPYTER_RUNTIME_DIR=")) found.add(pair.slice("JUPYTER_RUNTIME_DIR=".length));
    }
  });
  return found;
}

/** The environment block of every other process we may read (Linux /proc; elsewhere none). */
function forEachEnvironment(visit: (pid: number, environ: Buffer) => void): void {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`/proc/${pid}/environ`);
    } catch {
      continue; // gone already, or not ours to read
    }
    visit(pid, environ);
  }
}

/** SIGTERM, a grace period, then SIGKILL for whatever still carries the marker. */
export async function killProcessesMarkedWith(name: string, value: string, graceMs = 3000): Promise<number> {
  let pids = processesMarkedWith(name, value);
  const initial = pids.length;
  if (initial === 0) return 0;
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    pids = processesMarkedWith(name, value);
    if (pids.length === 0) return initial;
  }
  for (const pid of pids) signal(pid, "SIGKILL");
  return initial;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Whether a process's exit (or any promise) settles within `ms`: the steps of a polite-then-forceful stop. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([p.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}
