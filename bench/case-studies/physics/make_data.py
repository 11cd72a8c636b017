"""Collision events for the CMS-like histogramming case: 12 chunks of muon-pair arrays (.npz).

    python make_data.py DIR [--quick] [--alter]

Each event has two leading muons (pt, eta, phi, charge); a fraction are
Z -> mu mu decays (invariant mass near 91 GeV), the rest a falling
background, from a fixed seed. --alter rewrites one chunk
(data/events/chunk-04.npz) from another seed: the "one input file changed" edit.
"""
import os, sys
import numpy as np

CHUNKS = 12
ALTERED = 4


def write_chunk(path, seed, n):
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.3
    mass = np.where(z, rng.normal(91.19, 2.5, n), 40 + rng.exponential(40, n))
    eta = rng.uniform(-2.8, 2.8, (n, 2))
    phi = rng.uniform(-np.pi, np.pi, (n, 2))
    # Share the pair's mass between the two muons: m^2 = 2 pt1 pt2 (cosh(deta) - cos(dphi)).
    share = rng.uniform(0.3, 0.7, n)
    denom = 2 * (np.cosh(eta[:, 0] - eta[:, 1]) - np.cos(phi[:, 0] - phi[:, 1]))
    prod = mass ** 2 / denom
    pt1 = np.sqrt(prod * share / (1 - share))
    pt = np.stack([pt1, prod / pt1], axis=1)
    charge = np.where(rng.random((n, 2)) < 0.5, -1, 1)
    charge[z, 1] = -charge[z, 0]
    np.savez(path, pt=pt.astype(np.float32), eta=eta.astype(np.float32), phi=phi.astype(np.float32), charge=charge.astype(np.int8))


def main(out, quick, alter):
    n = 5_000 if quick else 800_000
    folder = os.path.join(out, "data", "events")
    os.makedirs(folder, exist_ok=True)
    if alter:
        write_chunk(os.path.join(folder, f"chunk-{ALTERED:02d}.npz"), 10_000 + ALTERED, n)
        return
    for i in range(CHUNKS):
        write_chunk(os.path.join(folder, f"chunk-{i:02d}.npz"), i, n)


if __name__ == "__main__":
    main(sys.argv[1], "--quick" in sys.argv, "--alter" in sys.argv)
