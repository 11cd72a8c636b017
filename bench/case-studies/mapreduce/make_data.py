"""Sales records for the map-combine-reduce case: 16 CSV files and a JSON of regions.

    python make_data.py DIR [--quick] [--alter]

Fixed seeds: the same size always gives the same bytes. --alter rewrites one
input file (data/sales/part-05.csv) from another seed: the "one input file
changed" edit.
"""
import json, os, sys
import numpy as np

FILES, REGIONS = 16, 8
ALTERED = 5


def write_part(path, seed, rows):
    rng = np.random.default_rng(seed)
    region = rng.integers(0, REGIONS, rows)
    amount = np.round(rng.lognormal(3.0, 1.0, rows), 2)
    qty = rng.integers(1, 20, rows)
    day = rng.integers(0, 365, rows)
    with open(path, "w") as f:
        f.write("day,region,qty,amount\n")
        f.write("\n".join(f"{d},R{r},{q},{a}" for d, r, q, a in zip(day, region, qty, amount)))
        f.write("\n")


def main(out, quick, alter):
    rows = 2_000 if quick else 250_000
    os.makedirs(os.path.join(out, "data", "sales"), exist_ok=True)
    if alter:
        write_part(os.path.join(out, "data", "sales", f"part-{ALTERED:02d}.csv"), 10_000 + ALTERED, rows)
        return
    for i in range(FILES):
        write_part(os.path.join(out, "data", "sales", f"part-{i:02d}.csv"), i, rows)
    rng = np.random.default_rng(99)
    regions = {f"R{r}": {"population": int(rng.integers(50_000, 2_000_000))} for r in range(REGIONS)}
    with open(os.path.join(out, "data", "regions.json"), "w") as f:
        json.dump(regions, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1], "--quick" in sys.argv, "--alter" in sys.argv)
