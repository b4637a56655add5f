#!/usr/bin/env python3
"""PyTorch speed peer for `npm run bench`: the same tasks as bench/ours.ts, on the same inputs.

Model: the MNIST ConvNet of src/engine/models/definitions/convnet.json
  conv3x3(1->32)+BN+ReLU+maxpool2, conv3x3(32->64)+BN+ReLU+maxpool2, FC(64*7*7 -> 10).
Tasks (each prints its samples/s):
  train-B   Adam step (lr 1e-3) on CE + mu * sum_i 1/p_i, 1/p_i = exp(logsumexp(z) - z_i), on real
            batches (the same step as the engine's trainer).
  infer     forward pass in eval mode, batch 256, no autograd.
  fim       exact lambda_max(G_x) and its unit eigenvector per sample: one backward pass over the batch
            tiled K times gives the logit Jacobian Z (K x N); then the K x K Gram reduction
            A = D^1/2 (I - 1p^T) Z Z^T (I - p1^T) D^1/2 in float64, eigh, v = M^T u / |M^T u|.
  ossa      one step along the top eigenvector, eta = sqrt(eps) * v (eps = squared l2 norm, 6), sign chosen
            by the larger cross-entropy of the two candidates; then the evaluation forward pass.
  pgd10     l-inf PGD (eps 0.3, 10 steps of eps/30, uniform random start, clip to [0, 1]) on the
            cross-entropy; then the evaluation forward pass.
  apgd-ce100, autoattack   APGD-CE (100 iterations) and AutoAttack's standard cascade at l-inf
            eps 0.1 on the first --test-samples MNIST test images, with the trained ConvNet of
            --checkpoint (bench/peer/torch_autoattack.py; the engine's side evaluates the same run).
The attack tasks also run the clean forward pass first, like the engine's runAttack.

Input: --data FILE written by bench/run.ts: uint32 header [n, 28, 28, 1], n*784 uint8 pixels (NHWC;
/255 gives the engine's [0, 1] inputs), n int32 labels: the first n MNIST training images.
Every task's measured window records the machine's CPU time (/proc/stat) and this process's own at
its start and end, as bench/load.ts reads them, so that bench/run.ts can tell whether other
processes ran meanwhile. The thread policy (OMP_WAIT_POLICY and the thread counts) is the
caller's: bench/run.ts gives the peer the engine's.

Output: one JSON object on stdout.  Run with Debian's interpreter: /usr/bin/python3.
"""
import argparse
import json
import os
import resource
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--tasks", default="train-32,train-128,infer,fim,ossa,pgd10")
ap.add_argument("--train-steps", type=int, default=40)
ap.add_argument("--samples", type=int, default=200, help="samples for fim and the attacks")
ap.add_argument("--mu", type=float, default=0.022)
ap.add_argument("--checkpoint", help="trained ConvNet for apgd-ce100 and autoattack (bench/peer/export_checkpoint.ts)")
ap.add_argument("--test-samples", type=int, default=1000)
a = ap.parse_args()
torch.set_num_threads(a.threads)
# One thread for inter-op work, like the engine's one JavaScript thread.
torch.set_num_interop_threads(1)
torch.manual_seed(0)

raw = np.fromfile(a.data, dtype=np.uint8)
n, h, w, c = (int(v) for v in np.frombuffer(raw[:16].tobytes(), dtype=np.uint32))
size = int(n * h * w * c)
pix = (raw[16:16 + size].astype(np.float32) / 255).reshape(int(n), int(h), int(w), int(c))
labels_all = torch.from_numpy(np.frombuffer(raw[16 + size:16 + size + 4 * int(n)].tobytes(), dtype=np.int32).astype(np.int64))
x_all = torch.from_numpy(pix.transpose(0, 3, 1, 2).copy())  # NCHW
K = 10


def make_net():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def cpu_sample():
    """Machine busy/steal CPU seconds, own CPU seconds, load average (bench/load.ts's CpuSample)."""
    try:
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:9]]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = v
    r = resource.getrusage(resource.RUSAGE_SELF)
    return {"t": time.monotonic(), "busy": (user + nice + system + irq + softirq) / 100.0, "steal": steal / 100.0,
            "own": r.ru_utime + r.ru_stime, "load1": os.getloadavg()[0]}


windows = {}
current = {"task": None}


def timed(f):
    before = cpu_sample()
    t = time.perf_counter()
    f()
    dt = time.perf_counter() - t
    after = cpu_sample()
    windows[current["task"]] = {"before": before, "after": after} if before and after else None
    return dt


def train(batch):
    net = make_net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    state = {"i": 0, "loss": 0.0}

    def step():
        i = state["i"] % (n // batch)
        state["i"] += 1
        x = x_all[i * batch:(i + 1) * batch]
        y = labels_all[i * batch:(i + 1) * batch]
        z = net(x)
        inv_p = torch.exp(torch.logsumexp(z, 1, keepdim=True) - z)
        loss = F.cross_entropy(z, y) + a.mu * inv_p.sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    steps = a.train_steps if batch >= 128 else a.train_steps * 2
    dt = timed(lambda: [step() for _ in range(steps)])
    return batch * steps / dt


def eval_net():
    net = make_net()
    net.eval()
    return net


def infer():
    net = eval_net()
    m = min(n, 2048)

    def run():
        with torch.no_grad():
            for s in range(0, m, 256):
                net(x_all[s:s + 256])

    run()
    return m / timed(run)


def top_eigen(net, x):
    """lambda_max(G_x) and unit eigenvectors for a batch x [b, 1, 28, 28] (rows of the tiled batch <= 320)."""
    b = x.shape[0]
    chunk = max(1, 320 // K)
    lams, vecs = [], []
    for s0 in range(0, b, chunk):
        xs = x[s0:s0 + chunk]
        nb = xs.shape[0]
        xt = xs.repeat(K, 1, 1, 1).requires_grad_(True)  # row c*nb + i is sample i
        z = net(xt)
        mask = torch.zeros(K * nb, K)
        mask[torch.arange(K * nb), torch.arange(K).repeat_interleave(nb)] = 1
        (g,) = torch.autograd.grad((z * mask).sum(), xt)
        Z = g.reshape(K, nb, -1).transpose(0, 1).double()  # [nb, K, N]
        p = torch.softmax(z[:nb].detach().double(), 1)  # [nb, K]
        C = torch.bmm(Z, Z.transpose(1, 2))  # Z Z^T
        r = torch.bmm(C, p.unsqueeze(2)).squeeze(2)  # C p
        q = (p * r).sum(1, keepdim=True)
        B = C - r.unsqueeze(2) - r.unsqueeze(1) + q.unsqueeze(2)
        sp = p.sqrt()
        A = sp.unsqueeze(2) * B * sp.unsqueeze(1)
        evals, evecs = torch.linalg.eigh(A)
        lam, u = evals[:, -1].clamp(min=0), evecs[:, :, -1]
        coef = sp * u
        coef = coef - p * coef.sum(1, keepdim=True)
        v = torch.bmm(coef.unsqueeze(1), Z).squeeze(1)
        v = v / v.norm(dim=1, keepdim=True).clamp(min=1e-300)
        lams.append(lam)
        vecs.append(v.float())
    return torch.cat(lams), torch.cat(vecs).reshape(x.shape)


def fim():
    net = eval_net()
    x = x_all[:a.samples]
    top_eigen(net, x[:32])  # warm-up on one full chunk, like the engine side
    return a.samples / timed(lambda: top_eigen(net, x))


def ce_rows(net, x, y):
    with torch.no_grad():
        return F.cross_entropy(net(x), y, reduction="none")


def ossa():
    net = eval_net()
    eps = 6.0

    def run(total=a.samples):
        for s0 in range(0, total, 100):
            e = min(s0 + 100, total)
            x, y = x_all[s0:e], labels_all[s0:e]
            with torch.no_grad():
                net(x)  # clean predictions
            _, v = top_eigen(net, x)
            plus, minus = x + eps ** 0.5 * v, x - eps ** 0.5 * v
            pick = (ce_rows(net, plus, y) >= ce_rows(net, minus, y)).float().reshape(-1, 1, 1, 1)
            adv = plus * pick + minus * (1 - pick)
            with torch.no_grad():
                net(adv).argmax(1)

    run(20)  # warm-up, like the engine side
    return a.samples / timed(run)


def pgd10():
    net = eval_net()
    eps, steps = 0.3, 10
    alpha = eps / 30

    def run(total=a.samples):
        for s0 in range(0, total, 100):
            e = min(s0 + 100, total)
            x, y = x_all[s0:e], labels_all[s0:e]
            with torch.no_grad():
                net(x)
            adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
            for _ in range(steps):
                adv.requires_grad_(True)
                (g,) = torch.autograd.grad(F.cross_entropy(net(adv), y), adv)
                adv = adv.detach() + alpha * g.sign()
                adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
            with torch.no_grad():
                net(adv).argmax(1)

    run(20)
    return a.samples / timed(run)


AA_EPS = 0.1


def trained_test():
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from convnet_checkpoint import load_convnet, mnist_test
    net, _ = load_convnet(a.checkpoint)
    x, y = mnist_test(a.test_samples)
    return net, x, y


def apgd_ce100():
    import torch_autoattack as ta
    net, x, y = trained_test()
    gen = torch.Generator().manual_seed(0)
    ta.apgd(net, x[:20], y[:20], AA_EPS, 0, gen)  # warm-up
    return len(y) / timed(lambda: [ta.apgd(net, x[s:s + 100], y[s:s + 100], AA_EPS, 0, gen) for s in range(0, len(y), 100)])


def autoattack():
    import torch_autoattack as ta
    net, x, y = trained_test()
    gen = torch.Generator().manual_seed(0)
    return len(y) / timed(lambda: ta.autoattack(net, x, y, AA_EPS, gen))


TASKS = {"train-32": lambda: train(32), "train-128": lambda: train(128), "infer": infer, "fim": fim,
         "ossa": ossa, "pgd10": pgd10, "apgd-ce100": apgd_ce100, "autoattack": autoattack}
POLICY = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")
out = {"peer": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
       "threadPolicy": {k: os.environ[k] for k in POLICY if k in os.environ}, "samplesPerSecond": {}, "windows": windows}
for t in a.tasks.split(","):
    current["task"] = t
    out["samplesPerSecond"][t] = round(TASKS[t](), 1)
out["peakRssMb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
print(json.dumps(out))
