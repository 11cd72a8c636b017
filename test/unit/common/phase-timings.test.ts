import { describe, expect, it } from "vitest";
import { PhaseTimings } from "../../../src/common/phase-timings.js";

/** A clock the test moves: `at(wall, cpu)` sets the next readings. */
function fakeClock() {
  let wall = 0;
  let cpu = 0;
  return { wallMs: () => wall, cpuMs: () => cpu, at: (w: number, c: number) => ((wall = w), (cpu = c)) };
}

describe("PhaseTimings (--timings)", () => {
  it("files the time since the previous mark under each name, accumulating repeated names, in first-seen order", () => {
    const clock = fakeClock();
    const t = new PhaseTimings(clock);
    clock.at(300, 250);
    t.begin("start-up");
    clock.at(400, 300);
    t.mark("plan");
    clock.at(1400, 320);
    t.mark("cells");
    clock.at(1500, 400);
    t.mark("restores");
    clock.at(2500, 420);
    t.mark("cells");
    expect(t.list()).toEqual([
      { name: "start-up", wallMs: 300, cpuMs: 250 },
      { name: "plan", wallMs: 100, cpuMs: 50 },
      { name: "cells", wallMs: 2000, cpuMs: 40 },
      { name: "restores", wallMs: 100, cpuMs: 80 },
    ]);
  });

  it("prints the phases and their total, then, apart, the spans measured inside them", async () => {
    const clock = fakeClock();
    const t = new PhaseTimings(clock);
    clock.at(500, 400);
    t.begin();
    await t.timeSpan("server start", async () => clock.at(1700, 410));
    clock.at(2000, 420);
    t.mark("wait for server + kernel");
    expect(t.table()).toEqual([
      "timings (wall; CPU of this process, without the server's and kernel's):",
      "  phase                             wall        cpu",
      "  node start + module loading    0.500 s    0.400 s",
      "  wait for server + kernel       1.500 s    0.020 s",
      "  total                          2.000 s    0.420 s",
      "measured inside those phases (may overlap them):",
      "  server start                   1.200 s",
    ]);
  });

  it("a second command in the same process starts its clock at begin(), not at the process's start", () => {
    const clock = fakeClock();
    const t = new PhaseTimings(clock);
    clock.at(100, 90);
    t.begin();
    clock.at(5000, 1000);
    t.mark("first command");
    clock.at(6000, 1100);
    t.begin();
    clock.at(6250, 1120);
    t.mark("second");
    expect(t.list()).toEqual([{ name: "second", wallMs: 250, cpuMs: 20 }]);
  });
});
