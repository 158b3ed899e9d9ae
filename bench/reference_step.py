#!/usr/bin/env python3
"""reference_step.py — times the reference PyTorch EBM code's two hot loops.

The networks are imported unchanged from the reference checkout's nets.py
(ToyNet for 2D, VanillaNet for images); the loops below restate the reference's
train_toy.py / train_data.py iteration without its file output, plotting or
checkpointing, so only the arithmetic is timed:

  rings: one training iteration of config_locker/rings_nonconvergent.json (the
         setup of configs/rings.json): M = 100 rings data points, M chains from
         N(0, 2²), K = 100 Langevin steps (epsilon = 0.01) on ToyNet, then the
         loss f(x⁺).mean() - f(x⁻).mean() scaled by 2/ε², backward, Adam(1e-4).
  image: one Langevin step of VanillaNet (n_c = 3, n_f = 32) on a batch of
         M = 100 images 3x32x32, float32, from uniform noise as the reference's
         shortrun_init = uniform: f' = ∂/∂x Σ f(x), x += -f' + ε ξ.

Usage: reference_step.py REF_DIR {rings|image} [--work N] [--repeats R] [--threads T]
Prints JSON: {"mode", "ms_median", "ms_min", "ms": [per repeat], "cpu_ms_median"
(process CPU time), "threads", "torch"}; ms are per iteration (rings) or per step (image).
"""
import argparse
import json
import math
import sys
import time

import numpy as np
import torch as t


def rings_sample(n, groups=4, sd=0.15, radius=1.0):
    # The reference ToyDataset.sample_toy_data for toy_type = rings: a multinomial
    # split over the rings, radius r_i + sd·N(0,1), angle uniform. [n, 2, 1, 1]
    sizes = np.random.multinomial(n, np.ones(groups) / groups)
    parts = []
    for i, m in enumerate(sizes):
        r = radius * (i + 1) + sd * np.random.randn(m)
        a = 2 * np.pi * np.random.random(m)
        parts.append(np.stack([r * np.cos(a), r * np.sin(a)], axis=1))
    return t.Tensor(np.concatenate(parts, axis=0).reshape(-1, 2, 1, 1))


def rings_iteration(f, optim, M=100, K=100, eps=0.01, init=2.0):
    x_q = rings_sample(M)
    x = t.autograd.Variable(init * t.randn([M, 2, 1, 1]), requires_grad=True)
    r = t.zeros(1)
    for _ in range(K):
        g = t.autograd.grad(f(x).sum(), [x])[0]
        x.data += -g + eps * t.randn_like(x)
        r += g.view(g.shape[0], -1).norm(dim=1).mean()
    x_s = x.detach()
    d = (f(x_q).mean() - f(x_s).mean()) * (2 / eps ** 2)
    optim.zero_grad()
    d.backward()
    optim.step()
    return float(d.detach())


def image_steps(f, x, steps, eps=0.01):
    r = t.zeros(1)
    for _ in range(steps):
        g = t.autograd.grad(f(x).sum(), [x])[0]
        x.data += -g + eps * t.randn_like(x)
        r += g.view(g.shape[0], -1).norm(dim=1).mean()
    return x


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ref_dir")
    p.add_argument("mode", choices=["rings", "image"])
    p.add_argument("--work", type=int, default=0,
                   help="iterations (rings, default 20) or steps (image, default 5) per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    sys.path.insert(0, a.ref_dir)
    from nets import ToyNet, VanillaNet  # the reference's own network definitions

    t.set_num_threads(a.threads)
    t.manual_seed(123)
    np.random.seed(123)
    if a.mode == "rings":
        work = a.work or 20
        f = ToyNet()
        optim = t.optim.Adam(f.parameters(), lr=1e-4)
        run = lambda: [rings_iteration(f, optim) for _ in range(work)]
    else:
        work = a.work or 5
        f = VanillaNet(n_c=3, n_f=32)
        x = t.autograd.Variable(2 * t.rand([100, 3, 32, 32]) - 1, requires_grad=True)
        run = lambda: image_steps(f, x, work)
    run()  # warm-up (one repeat's worth)
    ms, cpu_ms = [], []
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        run()
        ms.append((time.perf_counter() - t0) * 1e3 / work)
        cpu_ms.append((time.process_time() - c0) * 1e3 / work)
    median = lambda v: sorted(v)[len(v) // 2]
    print(json.dumps({"mode": a.mode, "ms_median": median(ms), "ms_min": min(ms), "ms": ms,
                      "cpu_ms_median": median(cpu_ms), "work_per_repeat": work,
                      "threads": t.get_num_threads(), "torch": t.__version__}))


if __name__ == "__main__":
    main()
