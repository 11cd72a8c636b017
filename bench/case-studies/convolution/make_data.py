"""A synthetic sky image for the convolution case, stored as a 4 x 4 grid of NumPy tiles.

    python make_data.py DIR [--quick] [--alter]

Stars (Gaussian spots) on a noisy background, from a fixed seed. --alter
rewrites one interior tile (data/image/tile-1-2.npy) from another seed: the
"one input file changed" edit.
"""
import json, os, sys
import numpy as np

GRID = 4
ALTERED = (1, 2)


def tile(seed, side):
    rng = np.random.default_rng(seed)
    img = rng.normal(0.1, 0.05, (side, side))
    yy, xx = np.mgrid[0:side, 0:side]
    for _ in range(side // 16):
        y, x = rng.integers(0, side, 2)
        w = rng.uniform(1.0, 3.0)
        h = rng.uniform(0.3, 1.0)
        y0, y1, x0, x1 = max(0, y - 10), min(side, y + 11), max(0, x - 10), min(side, x + 11)
        img[y0:y1, x0:x1] += h * np.exp(-((yy[y0:y1, x0:x1] - y) ** 2 + (xx[y0:y1, x0:x1] - x) ** 2) / (2 * w * w))
    return img.astype(np.float32)


def main(out, quick, alter):
    side = 64 if quick else 1024
    folder = os.path.join(out, "data", "image")
    os.makedirs(folder, exist_ok=True)
    if alter:
        r, c = ALTERED
        np.save(os.path.join(folder, f"tile-{r}-{c}.npy"), tile(10_000 + r * GRID + c, side))
        return
    for r in range(GRID):
        for c in range(GRID):
            np.save(os.path.join(folder, f"tile-{r}-{c}.npy"), tile(r * GRID + c, side))
    with open(os.path.join(folder, "grid.json"), "w") as f:
        json.dump({"rows": GRID, "cols": GRID, "tile": "data/image/tile-{r}-{c}.npy"}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], "--quick" in sys.argv, "--alter" in sys.argv)
