import type { CaseStudy } from "../case.js";

/**
 * 12 event chunks: 12 `select` tasks (cell `select`), then 12 `histogram`
 * tasks and one `add` (cell `histogram`), on Dask's threaded scheduler: no
 * engine set-up cell.
 */
export const physics: CaseStudy = {
  name: "physics",
  title: "CMS-like dimuon histogramming of event arrays",
  engine: "dask-delayed",
  output: "results/final_summary.json",
  edits: [
    {
      kind: "last-step",
      why: "fit the Z peak in 84-98 GeV instead of 81-101 GeV (FIT_WINDOW)",
      source: { cell: "fit", from: "FIT_WINDOW = (81.0, 101.0)", to: "FIT_WINDOW = (84.0, 98.0)" },
      ideal: { fit: 0, write: 0 },
      reasoning: "`fit` changed; `write` reads `peak`, `width` and `FIT_WINDOW`. No task is involved.",
    },
    {
      kind: "upstream",
      why: "a harder muon cut (PT_MIN = 20.0 -> 25.0)",
      source: { cell: "select", from: "PT_MIN = 20.0", to: "PT_MIN = 25.0" },
      ideal: { select: 12, histogram: 13, fit: 0, write: 0 },
      reasoning: "every selection task takes `pt_min` (12); every chunk's masses change, so its histogram (12) and the sum (1) run; the cells below read `counts`.",
    },
    {
      kind: "input-file",
      why: "one chunk of events changes (data/events/chunk-04.npz rewritten)",
      ideal: { select: 1, histogram: 2, fit: 0, write: 0 },
      reasoning: "only chunk 04's selection opens the file (1); only its masses change, so one histogram and the sum run (2); the other 11 histograms have the same arguments.",
    },
  ],
};
