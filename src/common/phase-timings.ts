/**
 * Where a command's wall time went, phase by phase (`--timings`): each
 * `mark(name)` closes the stretch of time since the previous mark and files it
 * under `name` (a name marked again accumulates, so per-cell phases add up).
 * The phases therefore always sum to the command's wall time, from the
 * process's own start: node's start-up and module loading is the first phase.
 *
 * One recorder per process, because the phases are spread over layers that
 * should not pass a profiler through their signatures (the CLI, the session,
 * the Jupyter runtime). Recording is a few clock reads: it is always on, and
 * `--timings` only decides whether the table is printed.
 */

export interface PhaseTime {
  name: string;
  wallMs: number;
  /** CPU time of this process (user + system) in the phase: what the load of other processes barely moves. */
  cpuMs: number;
}

/** Where the time comes from: the process's clocks, or a test's. */
export interface PhaseClock {
  /** Milliseconds since the process started. */
  wallMs(): number;
  /** CPU milliseconds (user + system) this process used so far. */
  cpuMs(): number;
}

const processClock: PhaseClock = { wallMs: () => performance.now(), cpuMs };

export class PhaseTimings {
  private readonly phases = new Map<string, PhaseTime>();
  private readonly spans: { name: string; wallMs: number }[] = [];
  private lastWall = 0;
  private lastCpu = 0;
  private started = false;

  constructor(private readonly clock: PhaseClock = processClock) {}

  /**
   * Start recording a command. The first command of the process starts at
   * the process's start (performance's time origin), so node's own start-up
   * and the module loading are the first phase, `startup`; a later command
   * in the same process (tests call main() repeatedly) starts now.
   */
  begin(startup = "node start + module loading"): void {
    this.phases.clear();
    this.spans.length = 0;
    if (this.started) {
      this.lastWall = this.clock.wallMs();
      this.lastCpu = this.clock.cpuMs();
      return;
    }
    this.started = true;
    this.lastWall = 0;
    this.lastCpu = 0;
    this.mark(startup);
  }

  /** The time since the previous mark was spent on `name`. */
  mark(name: string): void {
    const wall = this.clock.wallMs();
    const cpu = this.clock.cpuMs();
    const entry = this.phases.get(name) ?? { name, wallMs: 0, cpuMs: 0 };
    entry.wallMs += wall - this.lastWall;
    entry.cpuMs += cpu - this.lastCpu;
    this.phases.set(name, entry);
    this.lastWall = wall;
    this.lastCpu = cpu;
  }

  /**
   * A stretch measured on its own, inside the phases (the server's start
   * while the plan is made, each half of the shutdown): printed below the
   * table, not added to it, since it may overlap other phases.
   */
  span(name: string, wallMs: number): void {
    this.spans.push({ name, wallMs });
  }

  /** Time `work` as a span. */
  async timeSpan<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = this.clock.wallMs();
    try {
      return await work();
    } finally {
      this.span(name, this.clock.wallMs() - started);
    }
  }

  /** The phases so far, in the order they first occurred. */
  list(): PhaseTime[] {
    return [...this.phases.values()].map((p) => ({ ...p }));
  }

  /** The table `--timings` prints on stderr: one line per phase, then the total. */
  table(): string[] {
    const phases = this.list();
    const width = Math.max(5, ...phases.map((p) => p.name.length));
    const row = (name: string, wall: string, cpu: string) => `  ${name.padEnd(width)}  ${wall.padStart(9)}  ${cpu.padStart(9)}`;
    const total = phases.reduce((sum, p) => ({ wall: sum.wall + p.wallMs, cpu: sum.cpu + p.cpuMs }), { wall: 0, cpu: 0 });
    return [
      "timings (wall; CPU of this process, without the server's and kernel's):",
      row("phase", "wall", "cpu"),
      ...phases.map((p) => row(p.name, seconds(p.wallMs), seconds(p.cpuMs))),
      row("total", seconds(total.wall), seconds(total.cpu)),
      ...(this.spans.length ? ["measured inside those phases (may overlap them):", ...this.spans.map((s) => row(s.name, seconds(s.wallMs), "").trimEnd())] : []),
    ];
  }
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

/** The process's recorder (see the module comment for why there is one). */
export const timings = new PhaseTimings();
