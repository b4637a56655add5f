#!/usr/bin/env python3
"""The published AutoAttack (fra31/auto-attack) on a run's checkpoint, for comparison with
`fim eval autoattack` on the same model and samples.

The reference code is not part of this repository: check it out anywhere (MIT licence) and pass
its directory (the one holding the `autoattack` package) with --autoattack. The model is the
built-in ConvNet with the run's weights (bench/peer/export_checkpoint.ts writes them); the samples
are the first --samples MNIST test images, as `fim eval autoattack --samples N` uses.

  node --import tsx bench/peer/export_checkpoint.ts --run DIR --samples 1000 --out /tmp/ckpt.json
  /usr/bin/python3 bench/peer/autoattack_reference.py /tmp/ckpt.json --autoattack /tmp/auto-attack \
      --norm Linf --eps 0.1 --samples 1000 [--ours DIR/evals/autoattack-linf.json]

Prints one JSON object: clean and robust accuracy, the robust accuracy after each attack (from the
reference's log), per-sample robustness, the wall time, and, with --ours, the agreement with the
engine's evaluation sample by sample.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from convnet_checkpoint import check_same_model, load_convnet, mnist_test  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('checkpoint')
    ap.add_argument('--autoattack', required=True, help='directory holding the reference `autoattack` package')
    ap.add_argument('--norm', choices=['Linf', 'L2'], required=True)
    ap.add_argument('--eps', type=float, required=True)
    ap.add_argument('--samples', type=int, default=1000)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--bs', type=int, default=250)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--ours', help="the engine's evaluation JSON on the same samples, to compare per sample")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sys.path.insert(0, a.autoattack)
    from autoattack import AutoAttack  # the reference implementation

    model, ck = load_convnet(a.checkpoint)
    x, y = mnist_test(a.samples)
    max_diff, pred_diff = check_same_model(model, ck, x)
    log = tempfile.NamedTemporaryFile(suffix='.log', delete=False).name
    adversary = AutoAttack(model, norm=a.norm, eps=a.eps, version='standard', device='cpu', seed=a.seed, log_path=log)
    t0 = time.time()
    x_adv = adversary.run_standard_evaluation(x, y, bs=a.bs)
    wall = time.time() - t0
    with torch.no_grad():
        clean = model(x).argmax(1) == y
        robust = model(x_adv).argmax(1) == y
    after = {}
    for line in open(log):
        m = re.match(r'robust accuracy after (\S+): ([\d.]+)%', line)
        if m:
            after[m.group(1).lower()] = float(m.group(2)) / 100
    os.unlink(log)
    out = {
        'reference': 'fra31/auto-attack (standard version)',
        'checkpoint': ck['runDir'] + '/' + ck['checkpoint'],
        'norm': a.norm,
        'epsilon': a.eps,
        'samples': a.samples,
        'sameModel': {'maxLogitDifference': max_diff, 'predictionsDiffering': pred_diff},
        'cleanAccuracy': clean.float().mean().item(),
        'robustAccuracy': robust.float().mean().item(),
        'robustAfter': after,
        'wallSeconds': round(wall, 1),
        'threads': a.threads,
        'robust': robust.int().tolist(),
    }
    if a.ours:
        ours = json.load(open(a.ours))
        mine = [1 if s['brokenBy'] is None and s['predicted'] == s['label'] else 0 for s in ours['perSample']]
        n = min(len(mine), a.samples)
        both = sum(1 for i in range(n) if mine[i] and out['robust'][i])
        only_ours = sum(1 for i in range(n) if mine[i] and not out['robust'][i])
        only_ref = sum(1 for i in range(n) if not mine[i] and out['robust'][i])
        out['comparison'] = {
            'ours': ours['robustAccuracy'],
            'oursCi': ours['robustAccuracyCi'],
            'robustInBoth': both,
            'robustOnlyOurs': only_ours,
            'robustOnlyReference': only_ref,
            'samples': n,
        }
    print(json.dumps(out))


if __name__ == '__main__':
    main()
