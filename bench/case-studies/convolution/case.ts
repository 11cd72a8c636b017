import type { CaseStudy } from "../case.js";

/** 16 smoothing tasks (cell `smooth`) and 16 detection tasks (cell `detect`) on a 4 x 4 grid of tiles. */
export const convolution: CaseStudy = {
  name: "convolution",
  title: "Distributed image convolution of a tiled NumPy image",
  engine: "dask-distributed",
  output: "results/final_summary.json",
  edits: [
    {
      kind: "last-step",
      why: "histogram the tiles' bright pixels in 12 bins instead of 8 (BINS = 8 -> 12)",
      source: { cell: "summary", from: "BINS = 8", to: "BINS = 12" },
      ideal: { summary: 0, write: 0 },
      reasoning: "`summary` changed; `write` reads `hist` and `edges`. No task is involved.",
    },
    {
      kind: "upstream",
      why: "a wider smoothing kernel (SIGMA = 2.0 -> 3.0)",
      source: { cell: "smooth", from: "SIGMA = 2.0", to: "SIGMA = 3.0" },
      ideal: { engine: 0, smooth: 16, detect: 16, summary: 0, write: 0 },
      reasoning: "every smoothing task takes `sigma` (16); every detection task consumes one smoothed tile (16); the cells below read `found`.",
    },
    {
      kind: "input-file",
      why: "one tile of the image changes (data/image/tile-1-2.npy rewritten)",
      ideal: { engine: 0, smooth: 9, detect: 9, summary: 0, write: 0 },
      reasoning: "tile (1, 2) is read by its own smoothing task and by those of its 8 neighbours (the halo): rows 0-2 x columns 1-3, 9 tasks; the 9 detection tasks on those tiles follow. The other 7 tiles and their detections are unchanged.",
    },
  ],
};
