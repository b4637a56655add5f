"""PyTorch peer of the engine's AutoAttack for `npm run bench` (bench/peer/torch_tasks.py runs it):
the same steps as src/engine/attacks/apgd.ts, fab.ts, square.ts and src/engine/eval/autoattack.ts,
written for PyTorch, on the same trained ConvNet (bench/peer/export_checkpoint.ts) and the same
first MNIST test images.

  APGD (l-inf): random start on the eps-sphere, step 2 eps, momentum 0.75, the step-size checkpoints
    (first window 0.22 n, shrinking by 0.03 n down to 0.06 n), halving on oscillation (rho 0.75) or a
    stalled best loss after an unreduced step, restart from the best point; a sample leaves at its
    first adversarial iterate. Losses: cross-entropy, targeted DLR over the 9 classes with the largest
    clean logits after the predicted one.
  FAB-T (l-inf): the linearised boundary to each target, the box-constrained projections of the iterate
    and of the input, the convex step with alpha <= 0.1, extrapolation 1.05, backward step 0.9 once
    adversarial; a sample leaves once it has an adversarial within eps.
  Square (l-inf): vertical stripes, then one random window per query re-drawn to +-eps per channel,
    kept when the margin falls; 5,000 queries from p = 0.8 on the unstretched schedule.
  AutoAttack: APGD-CE -> APGD-T -> FAB-T -> Square, each on the samples still robust.

This is a speed peer, not the reference: the published implementation is fra31/auto-attack
(bench/peer/autoattack_reference.py runs it for the accuracy comparison).
"""
import math

import torch
import torch.nn.functional as F


def _pred(model, x):
    with torch.no_grad():
        return model(x).argmax(1)


def _loss(z, y, loss, t=None):
    if loss == 'ce':
        return F.cross_entropy(z, y, reduction='none')
    s = z.sort(1, descending=True)[0]
    u = torch.arange(z.shape[0])
    return -(z[u, y] - z[u, t]) / (s[:, 0] - 0.5 * (s[:, 2] + s[:, 3]) + 1e-12)


def _project(v, x0, eps):
    return torch.min(torch.max(v, x0 - eps), x0 + eps).clamp(0, 1)


def apgd_run(model, x0, y, eps, loss='ce', t=None, steps=100, rho=0.75, gen=None):
    """One APGD run; returns (adversarial flags, adversarial inputs)."""
    n = x0.shape[0]
    u = torch.rand(x0.shape, generator=gen) * 2 - 1
    x = (x0 + eps * u / u.abs().flatten(1).max(1)[0].view(-1, 1, 1, 1)).clamp(0, 1)
    x_prev = x.clone()
    x_best = x.clone()
    adv = x0.clone()
    success = torch.zeros(n, dtype=torch.bool)
    hist = torch.zeros(steps + 1, n)
    eta = torch.full((n, 1, 1, 1), 2 * eps)
    reduced_last = torch.ones(n, dtype=torch.bool)
    active = torch.arange(n)

    def evaluate(it):
        nonlocal active
        xa = x[active].clone().requires_grad_(True)
        z = model(xa)
        val = _loss(z, y[active], loss, None if t is None else t[active])
        g, = torch.autograd.grad(val.sum(), xa)
        val = val.detach()
        hist[it, active] = val
        if it == 0:
            lb[active] = val
            lbl[active] = val
            gb[active] = g
        else:
            better = val > lb[active]
            idx = active[better]
            lb[idx] = val[better]
            x_best[idx] = x[idx]
            gb[idx] = g[better]
        grad[active] = g
        cand = z.detach().argmax(1) != y[active]
        if cand.any():
            ci = active[cand]
            ok = _pred(model, x[ci]) != y[ci]
            hit = ci[ok]
            success[hit] = True
            adv[hit] = x[hit]
            active = active[~torch.isin(active, hit)]

    grad = torch.zeros_like(x0)
    gb = torch.zeros_like(x0)
    lb = torch.zeros(n)
    lbl = torch.zeros(n)
    evaluate(0)
    window, win_min, decr = max(int(0.22 * steps), 1), max(int(0.06 * steps), 1), max(int(0.03 * steps), 1)
    counter = 0
    for i in range(steps):
        if len(active) == 0:
            break
        a = 0.75 if i > 0 else 1.0
        xa, x0a = x[active], x0[active]
        z1 = _project(xa + eta[active] * grad[active].sign(), x0a, eps)
        nx = _project(xa + a * (z1 - xa) + (1 - a) * (xa - x_prev[active]), x0a, eps)
        x_prev[active] = xa
        x[active] = nx
        evaluate(i + 1)
        counter += 1
        if counter == window:
            rose = (hist[i + 2 - window:i + 2] > hist[i + 1 - window:i + 1]).sum(0)[active]
            osc = rose <= window * rho
            stall = (~reduced_last[active]) & (lbl[active] >= lb[active])
            red = osc | stall
            reduced_last[active] = red
            lbl[active] = lb[active]
            ri = active[red]
            eta[ri] /= 2
            x[ri] = x_best[ri]
            grad[ri] = gb[ri]
            window = max(window - decr, win_min)
            counter = 0
    return success, adv


def apgd(model, x, y, eps, targets=0, gen=None):
    """APGD-CE (targets = 0) or APGD-T over `targets` classes; returns adversarial flags."""
    broken = torch.zeros(x.shape[0], dtype=torch.bool)
    if targets == 0:
        s, _ = apgd_run(model, x, y, eps, 'ce', gen=gen)
        return s
    with torch.no_grad():
        order = model(x).argsort(1, descending=True)
    for c in range(1, targets + 1):
        rows = (~broken).nonzero().squeeze(1)
        if len(rows) == 0:
            break
        s, _ = apgd_run(model, x[rows], y[rows], eps, 'dlr-t', order[rows, c], gen=gen)
        broken[rows[s]] = True
    return broken


def box_step(x, w, b):
    """l-inf: the smallest step d with w.(x + d) = b and x + d in [0, 1] per row (the closest corner when out of reach)."""
    c = b - (w * x).sum(1)
    flip = torch.where(c < 0, -1.0, 1.0)
    c = c.abs()
    wf = w * flip.unsqueeze(1)
    aw = wf.abs()
    cap = torch.where(wf > 0, 1 - x, x).clamp(min=0)
    valid = aw > 0
    bp = torch.where(valid, cap, torch.full_like(cap, float('inf')))
    bps, idx = bp.sort(1)
    aw_s, cap_s = aw.gather(1, idx), cap.gather(1, idx)
    capped = (aw_s * cap_s).cumsum(1)
    slope_after = aw_s.sum(1, keepdim=True) - aw_s.cumsum(1)
    gain = torch.where(bps.isinf(), capped, capped + bps.nan_to_num(posinf=0) * slope_after)
    reach = gain >= c.unsqueeze(1)
    reached = reach.any(1)
    j = reach.float().argmax(1)
    prev = (j - 1).clamp(min=0).unsqueeze(1)
    below = torch.where(j > 0, capped.gather(1, prev).squeeze(1), torch.zeros_like(c))
    slope = torch.where(j > 0, slope_after.gather(1, prev).squeeze(1), aw_s.sum(1))
    t = torch.where(reached, (c - below) / slope.clamp(min=1e-30), torch.full_like(c, float('inf')))
    d = torch.sign(wf) * torch.min(t.unsqueeze(1), cap)
    return torch.where(valid, d, torch.zeros_like(d)) * (c > 0).float().unsqueeze(1)


def fab_t(model, x, y, eps, steps=100, targets=9, alpha_max=0.1, eta=1.05, beta=0.9):
    """FAB-T (l-inf): adversarial flags within eps."""
    n = x.shape[0]
    broken = torch.zeros(n, dtype=torch.bool)
    with torch.no_grad():
        order = model(x).argsort(1, descending=True)
    for c in range(1, targets + 1):
        rows = (~broken).nonzero().squeeze(1)
        if len(rows) == 0:
            break
        x0 = x[rows].flatten(1)
        x1 = x0.clone()
        yy, tt = y[rows], order[rows, c]
        best = torch.full((len(rows),), float('inf'))
        active = torch.arange(len(rows))
        for _ in range(steps):
            if len(active) == 0:
                break
            xa = x1[active].clone().view(-1, *x.shape[1:]).requires_grad_(True)
            z = model(xa)
            u = torch.arange(len(active))
            f = z[u, tt[active]] - z[u, yy[active]]
            g, = torch.autograd.grad(f.sum(), xa)
            g = g.flatten(1)
            f = f.detach()
            xf = xa.detach().flatten(1)
            b = (g * xf).sum(1) - f
            d = box_step(torch.cat((xf, x0[active])), torch.cat((g, g)), torch.cat((b, b)))
            d1, d2 = d[:len(active)], d[len(active):]
            a1 = d1.abs().max(1)[0].clamp(min=1e-8)
            a2 = d2.abs().max(1)[0].clamp(min=1e-8)
            alpha = (a1 / (a1 + a2)).clamp(0, alpha_max).unsqueeze(1)
            nx = ((xf + eta * d1) * (1 - alpha) + (x0[active] + eta * d2) * alpha).clamp(0, 1)
            x1[active] = nx
            adv = _pred(model, nx.view(-1, *x.shape[1:])) != yy[active]
            if adv.any():
                ai = active[adv]
                norm = (x1[ai] - x0[ai]).abs().max(1)[0]
                best[ai] = torch.min(best[ai], norm)
                x1[ai] = x0[ai] + (x1[ai] - x0[ai]) * beta
            active = active[best[active] > eps]
        broken[rows[best <= eps]] = True
    return broken


def square_linf(model, x, y, eps, queries=5000, p_init=0.8, gen=None):
    """Square Attack (l-inf), AutoAttack's settings: adversarial flags."""
    n, c, h, w = x.shape
    signs = torch.where(torch.rand((n, c, 1, w), generator=gen) < 0.5, -1.0, 1.0)
    best = (x + eps * signs).clamp(0, 1)

    def margin(xs, ys):
        with torch.no_grad():
            z = model(xs)
        u = torch.arange(len(ys))
        zy = z[u, ys].clone()
        z[u, ys] = -float('inf')
        return zy - z.max(1)[0]

    m = margin(best, y)
    active = (m > 0).nonzero().squeeze(1)
    ys_, xs_ = torch.arange(h).view(1, 1, h, 1), torch.arange(w).view(1, 1, 1, w)
    for it in range(1, queries):
        if len(active) == 0:
            break
        i = it
        p = p_init
        for cut in (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000):
            if i > cut:
                p /= 2
        side = min(max(round(math.sqrt(p * h * w)), 1), max(1, h - 1))
        k = len(active)
        y0 = torch.randint(0, h - side + 1, (k, 1, 1, 1), generator=gen)
        x0 = torch.randint(0, w - side + 1, (k, 1, 1, 1), generator=gen)
        win = (ys_ >= y0) & (ys_ < y0 + side) & (xs_ >= x0) & (xs_ < x0 + side)
        sg = torch.where(torch.rand((k, c, 1, 1), generator=gen) < 0.5, -1.0, 1.0)
        cand = torch.where(win, (x[active] + eps * sg).clamp(0, 1), best[active])
        mc = margin(cand, y[active])
        keep = mc < m[active]
        ki = active[keep]
        best[ki] = cand[keep]
        m[ki] = mc[keep]
        active = active[m[active] > 0]
    return m <= 0


def autoattack(model, x, y, eps, gen=None):
    """The standard cascade on the samples still robust: robust flags (over all samples)."""
    robust = _pred(model, x) == y
    for attack in ('apgd-ce', 'apgd-t', 'fab-t', 'square'):
        rows = robust.nonzero().squeeze(1)
        if len(rows) == 0:
            break
        for s0 in range(0, len(rows), 100):
            r = rows[s0:s0 + 100]
            xr, yr = x[r], y[r]
            if attack == 'apgd-ce':
                b = apgd(model, xr, yr, eps, 0, gen)
            elif attack == 'apgd-t':
                b = apgd(model, xr, yr, eps, 9, gen)
            elif attack == 'fab-t':
                b = fab_t(model, xr, yr, eps)
            else:
                b = square_linf(model, xr, yr, eps, gen=gen)
            robust[r[b]] = False
    return robust
