"""A synthetic corpus and queries for the BM25 retrieval case: 8 JSON-lines shards.

    python make_data.py DIR [--quick] [--alter]

Documents are drawn from a Zipf-like vocabulary around a topic each; every
query is built from the words of one known document (its answer), so recall
can be measured. --alter rewrites one shard (data/corpus/shard-03.jsonl)
from another seed, keeping its document ids: the "one input file changed" edit.
"""
import json, os, sys
import numpy as np

SHARDS, VOCAB, TOPICS = 8, 5000, 40
ALTERED = 3


def words():
    rng = np.random.default_rng(7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, rng.integers(2, 9))) for _ in range(VOCAB)]


def documents(shard, seed, per_shard, vocab):
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, VOCAB + 1)
    docs = []
    for i in range(per_shard):
        topic = rng.integers(0, TOPICS)
        p = np.roll(zipf, topic * (VOCAB // TOPICS))
        p = p / p.sum()
        n = int(rng.integers(40, 160))
        docs.append({"id": f"d{shard:02d}-{i:05d}", "text": " ".join(vocab[j] for j in rng.choice(VOCAB, n, p=p))})
    return docs


def write_shard(out, shard, seed, per_shard, vocab):
    with open(os.path.join(out, "data", "corpus", f"shard-{shard:02d}.jsonl"), "w") as f:
        for d in documents(shard, seed, per_shard, vocab):
            f.write(json.dumps(d) + "\n")


def main(out, quick, alter):
    per_shard = 60 if quick else 2000
    vocab = words()
    os.makedirs(os.path.join(out, "data", "corpus"), exist_ok=True)
    if alter:
        write_shard(out, ALTERED, 10_000 + ALTERED, per_shard, vocab)
        return
    for s in range(SHARDS):
        write_shard(out, s, s, per_shard, vocab)
    rng = np.random.default_rng(123)
    queries = []
    for q in range(40 if not quick else 10):
        shard = int(rng.integers(0, SHARDS))
        doc = documents(shard, shard, per_shard, vocab)[int(rng.integers(0, per_shard))]
        terms = doc["text"].split()
        queries.append({"id": f"q{q:02d}", "text": " ".join(rng.choice(terms, 6, replace=False)), "answer": doc["id"]})
    with open(os.path.join(out, "data", "queries.json"), "w") as f:
        json.dump(queries, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], "--quick" in sys.argv, "--alter" in sys.argv)
