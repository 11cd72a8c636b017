import type { CaseStudy } from "../case.js";

/**
 * Cell `index`: 8 index apps (one per shard), 8 per-shard statistics apps and a
 * merge tree of 4 + 2 + 1: 23 apps. Cell `score`: 8 scoring apps.
 */
export const retrieval: CaseStudy = {
  name: "retrieval",
  title: "RAG-lite: BM25 retrieval over a sharded synthetic corpus",
  engine: "parsl-htex",
  output: "results/final_summary.json",
  edits: [
    {
      kind: "last-step",
      why: "keep the top 10 documents per query instead of 5 (TOP_K = 5 -> 10)",
      source: { cell: "rank", from: "TOP_K = 5", to: "TOP_K = 10" },
      ideal: { rank: 0, write: 0 },
      reasoning: "`rank` changed (it merges the 50 candidates per shard that `score` already returned); `write` reads `ranked` and `recall`. No app is involved.",
    },
    {
      kind: "upstream",
      why: "drop tokens shorter than 4 characters instead of 3 (MIN_TOKEN_LEN = 3 -> 4)",
      source: { cell: "index", from: "MIN_TOKEN_LEN = 3", to: "MIN_TOKEN_LEN = 4" },
      ideal: { engine: 0, index: 23, score: 8, rank: 0, write: 0 },
      reasoning: "every index app takes `min_len` (8); the statistics and merge apps consume their results (15); every scoring app consumes an index and the merged statistics (8).",
    },
    {
      kind: "input-file",
      why: "one shard of the corpus changes (data/corpus/shard-03.jsonl rewritten)",
      ideal: { engine: 0, index: 5, score: 8, rank: 0, write: 0 },
      reasoning: "only the index app that opens shard-03 reads it (1), then its statistics app (1) and one merge per tree level (3: pairs 2-3, 0-3, 0-7); the merged statistics (document frequencies, lengths) feed every scoring app, so all 8 score again.",
    },
  ],
};
