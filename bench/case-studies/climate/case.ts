import type { CaseStudy } from "../case.js";

/** 24 stations: 24 `annual_means` tasks (cell `annual`) and 24 `trend` tasks (cell `trend`). */
export const climate: CaseStudy = {
  name: "climate",
  title: "Climate trend analysis of station time series",
  engine: "ray",
  output: "results/final_summary.json",
  edits: [
    {
      kind: "last-step",
      why: "split the latitude bands at 45 degrees instead of 35 (BAND_EDGE = 35.0 -> 45.0)",
      source: { cell: "bands", from: "BAND_EDGE = 35.0", to: "BAND_EDGE = 45.0" },
      ideal: { bands: 0, write: 0 },
      reasoning: "`bands` changed; `write` reads `high`, `low` and `contrast`. No task is involved.",
    },
    {
      kind: "upstream",
      why: "a stricter quality control (QC_MAX_ABS = 50.0 -> 30.0: the hottest days now count as errors)",
      source: { cell: "annual", from: "QC_MAX_ABS = 50.0", to: "QC_MAX_ABS = 30.0" },
      ideal: { engine: 0, annual: 24, trend: 24, bands: 0, write: 0 },
      reasoning: "every annual-means task takes the threshold (24); every trend task consumes one station's annual means (24); the cells below read `table`.",
    },
    {
      kind: "input-file",
      why: "one station's series changes (data/stations/station-07.csv rewritten)",
      ideal: { engine: 0, annual: 1, trend: 1, bands: 0, write: 0 },
      reasoning: "only station 07's annual-means task opens the file (1) and only its trend task consumes that result (1); the table changes, so the cells below run.",
    },
  ],
};
