"""Daily temperature series of 24 stations for the climate trend case: one CSV per station.

    python make_data.py DIR [--quick] [--alter]

Each series has a seasonal cycle, a warming trend that grows with latitude,
noise, gaps and a few sensor errors (readings of 99.9), from a fixed seed.
--alter rewrites one station (data/stations/station-07.csv) from another
seed: the "one input file changed" edit.
"""
import json, os, sys
import numpy as np

STATIONS = 24
ALTERED = 7


def write_station(path, seed, years, lat):
    rng = np.random.default_rng(seed)
    days = np.arange(int(years * 365.25))
    t = 12 - 0.25 * abs(lat) / 3 + 10 * np.sin(2 * np.pi * days / 365.25) + (0.01 + 0.0004 * abs(lat)) * days / 365.25 + rng.normal(0, 3, len(days))
    t[rng.random(len(days)) < 0.01] = 99.9
    t = np.round(t, 1).astype(object)
    t[rng.random(len(days)) < 0.02] = ""
    start = np.datetime64("1990-01-01")
    with open(path, "w") as f:
        f.write("date,tmean\n")
        f.write("\n".join(f"{start + d},{v}" for d, v in zip(days, t)))
        f.write("\n")


def main(out, quick, alter):
    years = 3 if quick else 30
    folder = os.path.join(out, "data", "stations")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(5)
    lats = np.round(rng.uniform(-60, 70, STATIONS), 2)
    if alter:
        write_station(os.path.join(folder, f"station-{ALTERED:02d}.csv"), 10_000 + ALTERED, years, lats[ALTERED])
        return
    for s in range(STATIONS):
        write_station(os.path.join(folder, f"station-{s:02d}.csv"), s, years, lats[s])
    with open(os.path.join(out, "data", "stations.json"), "w") as f:
        json.dump({f"station-{s:02d}": {"lat": float(lats[s])} for s in range(STATIONS)}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], "--quick" in sys.argv, "--alter" in sys.argv)
