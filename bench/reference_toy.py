#!/usr/bin/env python3
"""reference_toy.py — sample quality of the reference PyTorch EBM code on the 2D toys.

Trains the reference's short-run toy EBM (ToyNet imported unchanged from the reference
checkout's nets.py; the iteration of its train_toy.py with config_locker/
{rings,gmm}_nonconvergent.json, restated in reference_step.py without file output)
for --iterations iterations, then draws --chains fresh short-run chains exactly as in
training (K Langevin steps x += -∇E + σξ from noise_init_factor·N(0, I)) and scores them
with anila's sample TV: a B×B histogram over the evaluation box against the exact data
density (its fine-grid cell masses summed per bin), points outside the box counted as
missing mass: TV = ½ Σ |count/n − p_bin| + ½ outside/n. It also prints the floor: the
same TV of an exact data sample of the same size.

  rings: 4 rings of radii 1..4, sd 0.15, chains from N(0, 2²), box [−5, 5]²
  gmm:   8 Gaussians on the unit circle, sd 0.15, chains from N(0, 1), box [−3, 3]²
  both:  K = 100, M = 100, σ = 0.01, Adam 1e-4, loss (mean E(data) − mean E(chains))·2/σ²

Usage: reference_toy.py REF {rings|gmm} [--iterations N] [--seed S] [--chains N]
                        [--resolution R] [--bins B] [--threads T] [--save FILE.npy]
Prints JSON: {"toy", "iterations", "seed", "sample_tv", "sample_tv_floor", "bins",
"seconds", "torch"}. REF is a checkout of the reference or its git directory.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch as t

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_step import rings_sample  # noqa: E402  (the reference's rings sampler, restated)

TOYS = {
    "rings": {"init": 2.0, "box": (-5.0, 5.0)},
    "gmm": {"init": 1.0, "box": (-3.0, 3.0)},
}
SD = 0.15


def gmm_sample(n, groups=8, radius=1.0):
    # The reference ToyDataset.sample_toy_data for toy_type = gmm: a multinomial split over
    # `groups` equal-weight Gaussians (sd 0.15) centred on the circle of radius `radius`.
    sizes = np.random.multinomial(n, np.ones(groups) / groups)
    angles = 2 * np.pi * np.arange(groups) / groups
    parts = [radius * np.array([np.cos(a), np.sin(a)]) + SD * np.random.randn(m, 2)
             for a, m in zip(angles, sizes)]
    return t.Tensor(np.concatenate(parts, axis=0).reshape(-1, 2, 1, 1))


def sample(toy, n):
    return rings_sample(n) if toy == "rings" else gmm_sample(n)


def density(toy, x, y):
    # The exact data density at the points (x, y).
    if toy == "rings":
        r = np.maximum(np.hypot(x, y), 1e-12)
        radial = sum(np.exp(-0.5 * ((r - k) / SD) ** 2) for k in range(1, 5))
        return radial / (4 * SD * math.sqrt(2 * math.pi)) / (2 * math.pi * r)
    angles = 2 * np.pi * np.arange(8) / 8
    total = sum(np.exp(-0.5 * ((x - math.cos(a)) ** 2 + (y - math.sin(a)) ** 2) / SD ** 2)
                for a in angles)
    return total / (8 * 2 * math.pi * SD ** 2)


def sample_tv(toy, points, resolution, bins):
    lo, hi = TOYS[toy]["box"]
    b = max(d for d in range(1, min(bins, resolution) + 1) if resolution % d == 0)
    w = resolution // b
    centres = lo + (np.arange(resolution) + 0.5) * (hi - lo) / resolution
    gx, gy = np.meshgrid(centres, centres)  # [iy, ix]
    ref = density(toy, gx, gy).reshape(b, w, b, w).sum(axis=(1, 3))
    ref /= ref.sum()
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    n = p.shape[0]
    inside = np.all(np.isfinite(p), axis=1) & (p[:, 0] >= lo) & (p[:, 0] <= hi) & \
        (p[:, 1] >= lo) & (p[:, 1] <= hi)
    q = p[inside]
    ix = np.minimum(b - 1, ((q[:, 0] - lo) * b / (hi - lo)).astype(np.int64))
    iy = np.minimum(b - 1, ((q[:, 1] - lo) * b / (hi - lo)).astype(np.int64))
    counts = np.bincount(iy * b + ix, minlength=b * b).reshape(b, b)
    return 0.5 * np.abs(counts / n - ref).sum() + 0.5 * (n - inside.sum()) / n, b


def shortrun(f, n, init, K=100, eps=0.01):
    x = t.autograd.Variable(init * t.randn([n, 2, 1, 1]), requires_grad=True)
    for _ in range(K):
        g = t.autograd.grad(f(x).sum(), [x])[0]
        x.data += -g + eps * t.randn_like(x)
    return x.detach()


def train(f, optim, toy, iterations, M=100, eps=0.01):
    for _ in range(iterations):
        x_q = sample(toy, M)
        x_s = shortrun(f, M, TOYS[toy]["init"], eps=eps)
        d = (f(x_q).mean() - f(x_s).mean()) * (2 / eps ** 2)
        optim.zero_grad()
        d.backward()
        optim.step()


def reference_folder(ref):
    # A checkout of the reference (a folder with nets.py), or a git repository of it: then its
    # nets.py is taken from HEAD into a scratch folder.
    if os.path.isfile(os.path.join(ref, "nets.py")):
        return ref
    import subprocess
    import tempfile
    if os.path.isdir(os.path.join(ref, ".git")):
        ref = os.path.join(ref, ".git")
    out = tempfile.mkdtemp(prefix="reference_toy.")
    text = subprocess.run(["git", "--git-dir", ref, "show", "HEAD:nets.py"], check=True,
                          capture_output=True, text=True).stdout
    with open(os.path.join(out, "nets.py"), "w") as fh:
        fh.write(text)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref_dir")
    p.add_argument("toy", choices=sorted(TOYS))
    p.add_argument("--iterations", type=int, default=10000)
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--chains", type=int, default=10000)
    p.add_argument("--resolution", type=int, default=200)
    p.add_argument("--bins", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--save", default="", help="write the final chains here (.npy, [n, 2])")
    a = p.parse_args()
    sys.path.insert(0, reference_folder(a.ref_dir))
    from nets import ToyNet  # the reference's own network definition

    t.set_num_threads(a.threads)
    t.manual_seed(a.seed)
    np.random.seed(a.seed)
    start = time.perf_counter()
    f = ToyNet()
    optim = t.optim.Adam(f.parameters(), lr=1e-4)
    train(f, optim, a.toy, a.iterations)
    x = shortrun(f, a.chains, TOYS[a.toy]["init"]).reshape(-1, 2).numpy()
    seconds = time.perf_counter() - start
    if a.save:
        np.save(a.save, x.astype(np.float32))
    tv, b = sample_tv(a.toy, x, a.resolution, a.bins)
    floor, _ = sample_tv(a.toy, sample(a.toy, a.chains).reshape(-1, 2).numpy(), a.resolution,
                         a.bins)
    print(json.dumps({"toy": a.toy, "iterations": a.iterations, "seed": a.seed,
                      "sample_tv": round(float(tv), 4), "sample_tv_floor": round(float(floor), 4),
                      "bins": b, "chains": a.chains, "seconds": round(seconds, 1),
                      "torch": t.__version__}))


if __name__ == "__main__":
    main()
