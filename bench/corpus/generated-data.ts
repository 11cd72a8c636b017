/**
 * Data files some corpus notebooks read but their repositories do not hold
 * (downloaded, or left out of git), written instead as small synthetic files
 * of the same shape. The values come from a seeded generator: every run sees
 * the same files.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { rng } from "../prng.js";

const ORIGINS = ["EWR", "JFK", "LGA"];
const DESTS = ["ATL", "BOS", "ORD", "LAX", "SFO", "MIA", "DCA"];
const CARRIERS = ["AA", "DL", "UA", "US", "CO"];
const ROWS_PER_YEAR = 2000;

export type GeneratedData = "nycflights" | "ray-arrays" | "people-json" | "text-lines";

export function writeGeneratedData(kind: GeneratedData, notebookDir: string): void {
  if (kind === "nycflights") writeFlights(notebookDir);
  else if (kind === "ray-arrays") writeRayArrays(notebookDir);
  else if (kind === "people-json") writePeople(notebookDir);
  else writeLines(notebookDir);
}

/**
 * dask-examples' bag notebook writes data/*.json from `dask.datasets.make_people()`,
 * which needs mimesis (not installed here): ten JSON-lines files of 100 records
 * with the fields the notebook reads, written before the audit instead.
 */
function writePeople(notebookDir: string): void {
  const dir = join(notebookDir, "data");
  mkdirSync(dir, { recursive: true });
  const random = rng(1984);
  const jobs = ["Baker", "Nurse", "Pilot", "Teacher", "Welder", "Actor", "Chemist", "Judge", "Miner", "Tailor", "Clerk", "Dentist"];
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  for (let part = 0; part < 10; part++) {
    const lines: string[] = [];
    for (let i = 0; i < 100; i++) {
      const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join("");
      lines.push(
        JSON.stringify({
          age: 18 + Math.floor(random() * 60),
          name: [pick(["Ada", "Bo", "Cy", "Di", "Ed", "Flo"]), pick(["Lane", "Moss", "Nash", "Orr", "Page"])],
          occupation: pick(jobs),
          telephone: `+1-${digits(3)}-${digits(3)}-${digits(4)}`,
          address: { address: `${1 + Math.floor(random() * 999)} Main St`, city: pick(["Troy", "Ames", "Waco", "Gary"]) },
          "credit-card": { number: digits(16), "expiration-date": `${1 + Math.floor(random() * 12)}/${25 + Math.floor(random() * 6)}` },
        }),
      );
    }
    writeFileSync(join(dir, `${part}.json`), lines.join("\n") + "\n");
  }
}

/** ParslFest's dependencies notebook counts the lines of /etc/passwd: a local file of 40 lines instead (the machine's own changes under it). */
function writeLines(notebookDir: string): void {
  const dir = join(notebookDir, "data");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "lines.txt"), Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join("\n") + "\n");
}

/**
 * academy's 01-Ray-Tasks reads data/file_1.txt and data/file_2.txt, which
 * its repository does not hold: two 10 x 10 integer arrays, comma-separated.
 */
function writeRayArrays(notebookDir: string): void {
  const dir = join(notebookDir, "data");
  mkdirSync(dir, { recursive: true });
  const random = rng(2020);
  for (const name of ["file_1.txt", "file_2.txt"]) {
    const rows = Array.from({ length: 10 }, () => Array.from({ length: 10 }, () => Math.floor(random() * 100)).join(","));
    writeFileSync(join(dir, name), `# a 10 x 10 array for ${name}\n${rows.join("\n")}\n`);
  }
}

/**
 * dask-tutorial's `%run prep.py -d flights` downloads the NYC flights data
 * set. Instead: ten yearly CSV files with the columns the notebook reads, and
 * the archive prep.py checks for, so prep.py finds them and downloads nothing.
 */
function writeFlights(notebookDir: string): void {
  const data = join(notebookDir, "data");
  const dir = join(data, "nycflights");
  mkdirSync(dir, { recursive: true });
  const random = rng(1990);
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)]!;
  for (let year = 1990; year < 2000; year++) {
    const lines = ["Year,Month,DayofMonth,DayOfWeek,DepTime,CRSDepTime,UniqueCarrier,FlightNum,DepDelay,Origin,Dest,Distance,Cancelled,Diverted"];
    for (let i = 0; i < ROWS_PER_YEAR; i++) {
      const month = 1 + Math.floor(random() * 12);
      const day = 1 + Math.floor(random() * 28);
      const crs = 600 + Math.floor(random() * 16) * 100;
      const delay = Math.round(random() * random() * 90 - 10);
      lines.push([year, month, day, 1 + ((day + month) % 7), crs + Math.max(0, delay), crs, pick(CARRIERS), 100 + Math.floor(random() * 900), delay, pick(ORIGINS), pick(DESTS), 200 + Math.floor(random() * 2400), 0, 0].join(","));
    }
    writeFileSync(join(dir, `${year}.csv`), lines.join("\n") + "\n");
  }
  const tar = spawnSync("tar", ["-czf", join(data, "nycflights.tar.gz"), "-C", data, "nycflights"], { encoding: "utf8" });
  if (tar.status !== 0) throw new Error(`cannot write ${join(data, "nycflights.tar.gz")}: ${tar.stderr}`);
}
