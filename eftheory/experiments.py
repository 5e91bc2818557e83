r"""Real-data experiments of the papers on small real networks, runnable on a CPU.

The experiments of [000] (Section 7), [002] (Section 5) and [003] (Section 6) train image
networks on CIFAR; this module reproduces their protocol on data sets that ship with
scikit-learn (no download) and on networks small enough for a laptop:

* data: ``digits`` (1797 8x8 grey images, 10 classes) and ``breast_cancer`` (569 x 30
  features, 2 classes), features standardized;
* clients: n = 10 by default, with the heterogeneous split of [000]: a random half of the
  samples is dealt by label (label c -> client c mod n), the other half uniformly at random;
  each client keeps 10 % of its shard as its test set (:func:`split_clients`);
* networks: a small CNN (two 3x3 convolutions, images only) and an MLP (:func:`make_model`);
* methods: the ``torch.optim`` optimizers of :mod:`algorithms.torch.optim` (one optimizer holds
  the server and all n clients and calls ``closure(i, fresh)`` per client), plus the
  centralized baselines ``torch.optim.SGD`` (momentum) and ``torch.optim.AdamW``; the
  majority-vote baselines of [003] are MVSM with the momentum or the stochastic sign switched
  off (table :data:`METHODS`);
* schedules: ``schedule="iteration"`` indexes the decay schedules of the theory by the step
  counter k; ``"epoch"`` holds them constant within an epoch and indexes them by the epoch, as
  the published code of [000] does;
* every epoch end records the training loss :math:`f(x)=\frac1n\sum_i f_i(x)` (full client
  shards), the test accuracy (pooled client test sets), :math:`\|\nabla f(x)\|_2` and
  :math:`\|\nabla f(x)\|_1`, the cumulative training wall-clock (evaluation excluded) and the
  oracle calls (closure calls; an HM/RHM call with its Hessian-vector product counted apart);
* tuning (:func:`tune`): a grid over the stepsize (and the momentum where the method has a
  free one), the point with the lowest final training loss on separate tuning seeds;
* comparisons (:func:`paired_ordering`): a per-seed paired difference with its t-interval.

Command line (one method, a few seeds, a table and the curves)::

    python -m eftheory.experiments --method ef21-sgdm-norm --lr 0.5 --epochs 10 --seeds 3
    python -m eftheory.experiments --method saef --lr 0.05 --topk 0.01 --p 5 --arch cnn
    python -m eftheory.experiments --list
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DATASETS", "ARCHS", "METHODS", "Federation", "load_dataset", "split_clients",
           "make_federation", "make_model", "run", "tune", "paired_ordering", "late_phase",
           "loss_at_time", "plot_curves", "main"]

DATASETS = ("digits", "breast_cancer")
ARCHS = ("mlp", "cnn")
SCHEDULES = ("iteration", "epoch")


# ============================================================================ data

def load_dataset(name: str):
    """Features (float32, standardized), labels (int64), number of classes, image shape or None."""
    from sklearn import datasets

    if name == "digits":
        raw = datasets.load_digits()
        X = raw.data.astype(np.float32) / 16.0
        X = (X - X.mean()) / X.std()
        shape = (1, 8, 8)
    elif name == "breast_cancer":
        raw = datasets.load_breast_cancer()
        X = raw.data.astype(np.float32)
        X = (X - X.mean(axis=0)) / X.std(axis=0)
        shape = None
    else:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {name!r}")
    y = raw.target.astype(np.int64)
    return X, y, int(y.max()) + 1, shape


def split_clients(y, n_clients: int = 10, *, seed: int = 0, label_share: float = 0.5,
                  test_share: float = 0.1):
    """Heterogeneous split of [000]: per client (train indices, test indices).

    A random ``label_share`` of the samples goes by label (label c -> client c mod n), the rest
    uniformly at random (a random permutation cut into n near-equal parts); each client's shard
    is then split ``1 - test_share`` / ``test_share`` at random.
    """
    y = np.asarray(y)
    if n_clients < 1:
        raise ValueError(f"n_clients must be >= 1; got {n_clients}")
    rng = np.random.default_rng([seed, 0xC11E])
    perm = rng.permutation(y.size)
    cut = int(round(label_share * y.size))
    by_label, uniform = perm[:cut], perm[cut:]
    shards = [list(by_label[y[by_label] % n_clients == i]) for i in range(n_clients)]
    for i, part in enumerate(np.array_split(uniform, n_clients)):
        shards[i].extend(part.tolist())
    out = []
    for i in range(n_clients):
        idx = rng.permutation(np.asarray(shards[i], dtype=np.int64))
        n_test = max(1, int(round(test_share * idx.size))) if idx.size > 1 else 0
        out.append((np.sort(idx[n_test:]), np.sort(idx[:n_test])))
    return out


@dataclass
class Federation:
    """Client shards as tensors: ``train[i] = (X_i, y_i)``, ``test[i]`` likewise."""

    dataset: str
    train: list
    test: list
    n_classes: int
    shape: tuple | None
    n_features: int
    split: list = field(default_factory=list)

    @property
    def n_clients(self) -> int:
        return len(self.train)

    def mean_train_size(self) -> float:
        return float(np.mean([len(y) for _, y in self.train]))


def make_federation(dataset: str = "digits", n_clients: int = 10, *, seed: int = 0) -> Federation:
    import torch

    X, y, n_classes, shape = load_dataset(dataset)
    split = split_clients(y, n_clients, seed=seed)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    if shape is not None:
        Xt = Xt.reshape(-1, *shape)
    train = [(Xt[tr], yt[tr]) for tr, _ in split]
    test = [(Xt[te], yt[te]) for _, te in split]
    return Federation(dataset, train, test, n_classes, shape, X.shape[1], split)


# ============================================================================ models

def make_model(arch: str, fed: Federation, *, seed: int = 0, width: int = 32):
    """``mlp``: Linear-Tanh-Linear (hidden ``width``); ``cnn``: two 3x3 conv/ReLU/max-pool blocks
    (8 and 16 channels) and a linear head (images only). Initialised from ``seed``."""
    import torch
    from torch import nn

    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if arch == "mlp":
            return nn.Sequential(nn.Flatten(), nn.Linear(fed.n_features, width), nn.Tanh(),
                                 nn.Linear(width, fed.n_classes))
        if fed.shape is None:
            raise ValueError(f"arch 'cnn' needs an image data set; {fed.dataset!r} has flat features")
        c, h, w = fed.shape
        return nn.Sequential(nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(16 * (h // 4) * (w // 4), fed.n_classes))


# ============================================================================ methods

@dataclass(frozen=True)
class Method:
    """How to build a method's optimizer. ``family``: ``"client"`` (an optimizer of
    :mod:`algorithms.torch.optim`, ``step(closure(i, fresh))``) or ``"central"`` (a plain
    ``torch.optim`` optimizer on the mean client loss). ``hyper``: the tuned hyper-parameters
    (``lr`` always; ``eta`` / ``beta`` where the method has a free one)."""

    name: str
    family: str
    paper: str
    description: str
    hyper: tuple = ("lr",)
    compressed: bool = False


METHODS = {m.name: m for m in [
    Method("ef21-sgdm-norm", "client", "000", "‖EF21-SGDM‖: gamma0 (2/(k+2))^(3/4), eta (2/(k+2))^(1/2)",
           compressed=True),
    Method("ef21-igt-norm", "client", "000", "‖EF21-IGT‖: gamma0 (2/(k+2))^(5/7), eta (2/(k+2))^(4/7)",
           compressed=True),
    Method("ef21-rhm-norm", "client", "000", "‖EF21-RHM‖: gamma0 (2/(k+2))^(2/3), eta (2/(k+2))^(2/3)",
           compressed=True),
    Method("ef21-hm-norm", "client", "000", "‖EF21-HM‖: gamma0 (2/(k+2))^(2/3), eta (2/(k+2))^(2/3)",
           compressed=True),
    Method("ef21-mvr-norm", "client", "000", "‖EF21-MVR‖: gamma0 (2/(k+2))^(2/3), eta (2/(k+2))^(2/3)",
           compressed=True),
    Method("ef21-sgd", "client", "000", "EF21-SGD, constant stepsize", compressed=True),
    Method("ef21-sgdm", "client", "000", "EF21-SGDM, constant stepsize and momentum eta",
           hyper=("lr", "eta"), compressed=True),
    Method("econtrol", "client", "000", "EControl, constant stepsize, error weight eta = 0.1 ([000]'s code)",
           compressed=True),
    Method("ef", "client", "002", "EF with momentum mu = 0.9, double-way Top-K, no error averaging",
           compressed=True),
    Method("saef", "client", "002", "SAEF with momentum mu = 0.9, double-way Top-K, averaging period p",
           compressed=True),
    Method("sgdm-dist", "client", "002", "uncompressed distributed SGDM (EF with the identity compressor)"),
    Method("smm", "client", "003", "SMM: sign of the momentum of the mean gradient", hyper=("lr", "beta")),
    Method("signsgd", "client", "003", "signSGD: SMM with beta = 1"),
    Method("sgdm", "central", "003", "torch.optim.SGD, momentum 0.9, on the mean client loss"),
    Method("adamw", "central", "003", "torch.optim.AdamW (weight decay 0.01) on the mean client loss"),
    Method("mvsm-v1", "client", "003", "MVSM v1: stochastic node signs S_G(v), majority vote down",
           hyper=("lr", "beta")),
    Method("mvsm-v2", "client", "003", "MVSM v2: stochastic node signs S_G(v), stochastic server sign S_1",
           hyper=("lr", "beta")),
    Method("sto-signsgd", "client", "003", "sto-signSGD: stochastic node signs S_G(g) of the gradient, majority vote "
           "(MVSM v1 with beta = 1)"),
    Method("mv-signsgd", "client", "003", "majority-vote signSGD: node signs sign(g), majority vote"),
    Method("mv-signum", "client", "003", "majority-vote Signum: node signs sign(v) of the momentum, majority vote",
           hyper=("lr", "beta")),
]}

_VARIANT = {"ef21-sgdm-norm": "polyak", "ef21-igt-norm": "igt", "ef21-rhm-norm": "rhm",
            "ef21-hm-norm": "hm", "ef21-mvr-norm": "mvr"}


def _decay(scale: float, power: float, steps_per_epoch: int, schedule: str):
    """k -> scale (2/(t+2))^power with t = k (per iteration) or k // steps_per_epoch (per epoch)."""
    per_epoch = schedule == "epoch"

    def value(k):
        t = k // steps_per_epoch if per_epoch else k
        return scale * (2.0 / (t + 2.0)) ** power
    return value


def build_optimizer(method: str, params, hp: dict, *, n_clients: int, topk: float, dim: int,
                    steps_per_epoch: int, schedule: str = "iteration", generator=None,
                    normalize: str = "global", compress: str = "global"):
    """The optimizer of ``method`` with hyper-parameters ``hp`` (``lr``, ``eta``, ``beta``, ``p``,
    ``mu``, ``G`` as the method needs). Returns ``(optimizer, family)``.

    Client methods are the classes of :mod:`algorithms.torch.optim` (``for_name(card)``, built
    with their public constructor ``(params, stepsize, momentum, n_clients=..., compressor=...,
    generator=..., **card options)``)."""
    import torch

    from algorithms.torch.optim import for_name
    from eftheory.compressors import Identity, TopK
    from eftheory.validation import check_real

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    m = METHODS[method]
    params = list(params)
    lr = check_real("lr", hp["lr"], low=0.0, low_open=True)   # checked here: a ValueError in a step reads as divergence
    if method == "sgdm":
        return torch.optim.SGD(params, lr=lr, momentum=float(hp.get("mu", 0.9))), m.family
    if method == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=float(hp.get("weight_decay", 0.01))), m.family
    comp = TopK.from_ratio(topk, dim) if m.compressed else None
    card, stepsize, momentum, options = method, lr, None, {}
    if method in _VARIANT:
        from eftheory.derivations.momentum import schedule_exponents

        p, q = schedule_exponents(_VARIANT[method])
        stepsize = _decay(lr, p, steps_per_epoch, schedule)
        momentum = _decay(1.0, q, steps_per_epoch, schedule)
        options = {"init": "gradient", "normalize_scope": normalize}
    elif method == "ef21-sgdm":
        momentum = float(hp["eta"])
    elif method == "econtrol":
        options = {"econtrol_eta": float(hp.get("eta", 0.1))}
    elif method in ("ef", "saef", "sgdm-dist"):
        options = {"mu": float(hp.get("mu", 0.9))}
        if method == "sgdm-dist":
            card, comp = "ef", Identity()
        if method == "saef":
            p = hp.get("p", math.inf)
            options["p"] = math.inf if p in (None, "inf", math.inf) else int(p)
    elif method in ("smm", "mvsm-v1", "mvsm-v2", "mv-signum"):
        momentum = float(hp["beta"])
    if method in ("mvsm-v1", "mvsm-v2"):
        options["G"] = float(hp["G"])
    if method == "sto-signsgd":
        options["B"] = float(hp["G"])
    cls = for_name(card)
    kw = {"compressor": comp, "compress": compress} if comp is not None else {}
    return cls(params, stepsize, momentum, n_clients=n_clients, generator=generator, **kw, **options), m.family


# ============================================================================ training

def _full_metrics(model, fed: Federation):
    """Training loss f(x) = mean_i f_i(x), its gradient norms, pooled test accuracy."""
    import torch
    import torch.nn.functional as F

    params = [p for p in model.parameters()]
    total = 0.0
    grads = [torch.zeros_like(p) for p in params]
    for X, y in fed.train:
        loss = F.cross_entropy(model(X), y) / fed.n_clients
        g = torch.autograd.grad(loss, params)
        for acc, gi in zip(grads, g):
            acc.add_(gi)
        total += float(loss.detach())
    flat = torch.cat([g.reshape(-1) for g in grads])
    with torch.no_grad():
        correct = sum(int((model(X).argmax(1) == y).sum()) for X, y in fed.test)
        count = sum(len(y) for _, y in fed.test)
    return total, float(torch.linalg.vector_norm(flat)), float(flat.abs().sum()), correct / max(count, 1)


def run(method: str, hp: dict, *, dataset: str = "digits", arch: str = "mlp", epochs: int = 10,
        seed: int = 0, topk: float = 0.1, batch: int = 16, schedule: str = "iteration",
        n_clients: int = 10, split_seed: int = 0, fed: Federation | None = None,
        normalize: str = "global", compress: str = "global", max_loss: float = 1e6,
        threads: int | None = 1) -> dict:
    """Train ``method`` for ``epochs`` epochs; per-epoch-end arrays (index 0 = the initial point).

    An epoch is ``ceil(mean client train size / batch)`` steps; at every step each client draws
    a fresh minibatch of ``batch`` samples with replacement from its train shard. ``seed`` fixes
    the model's initialisation, the minibatches and the optimizer's randomness; ``split_seed``
    the client split. A run whose training loss is not finite or exceeds ``max_loss`` stops and
    keeps that value (``diverged`` = 1) for the remaining epochs. ``threads``: torch's intra-op
    threads during the run (1: these networks are too small to gain from more; None: unchanged).
    """
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _train(method, hp, dataset=dataset, arch=arch, epochs=epochs, seed=seed, topk=topk, batch=batch,
                      schedule=schedule, n_clients=n_clients, split_seed=split_seed, fed=fed, normalize=normalize,
                      compress=compress, max_loss=max_loss)
    finally:
        torch.set_num_threads(before)


def _train(method, hp, *, dataset, arch, epochs, seed, topk, batch, schedule, n_clients, split_seed, fed,
           normalize, compress, max_loss) -> dict:
    import torch
    import torch.nn.functional as F

    from eftheory.validation import NonFiniteError

    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
    fed = fed or make_federation(dataset, n_clients, seed=split_seed)
    n = fed.n_clients
    model = make_model(arch, fed, seed=seed)
    dim = sum(p.numel() for p in model.parameters())
    spe = int(math.ceil(fed.mean_train_size() / batch))
    gen = torch.Generator().manual_seed(int(seed) * 7919 + 17)
    opt, family = build_optimizer(method, model.parameters(), hp, n_clients=n, topk=topk, dim=dim,
                                  steps_per_epoch=spe, schedule=schedule, generator=gen, normalize=normalize,
                                  compress=compress)
    rngs = [torch.Generator().manual_seed(int(seed) * 1009 + i + 1) for i in range(n)]
    batches = [None] * n
    calls = {"grad": 0}

    def closure(i, fresh):
        X, y = fed.train[i]
        if fresh or batches[i] is None:
            batches[i] = torch.randint(0, len(y), (batch,), generator=rngs[i])
        calls["grad"] += 1
        idx = batches[i]
        return F.cross_entropy(model(X[idx]), y[idx])

    hvp_per_step = {"ef21-hm-norm": n, "ef21-rhm-norm": n}.get(method, 0)
    keys = ("train_loss", "grad_norm", "grad_norm_l1", "test_acc", "wall", "grad_calls", "hvp_calls", "diverged")
    rec = {k: np.zeros(epochs + 1) for k in keys}

    def record(e, wall):
        loss, g2, g1, acc = _full_metrics(model, fed)
        for k, v in zip(keys, (loss, g2, g1, acc, wall, calls["grad"], hvp_per_step * e * spe, 0.0)):
            rec[k][e] = v
        return loss

    record(0, 0.0)
    wall, diverged = 0.0, False
    for e in range(1, epochs + 1):
        if not diverged:
            t0 = time.perf_counter()
            try:
                for _ in range(spe):
                    if family == "client":
                        opt.step(closure)
                    else:
                        opt.zero_grad(set_to_none=True)
                        loss = sum(closure(i, True) for i in range(n)) / n
                        loss.backward()
                        opt.step()
            except NonFiniteError:  # a non-finite value reported by an optimizer; any other error is raised
                diverged = True
            wall += time.perf_counter() - t0
        if not diverged:
            loss = record(e, wall)
            diverged = not math.isfinite(loss) or loss > max_loss
        if diverged:            # keep the last finite record, mark the loss as diverged
            for k in keys:
                rec[k][e] = rec[k][e - 1]
            rec["train_loss"][e] = math.inf
            rec["diverged"][e] = 1.0
    rec["steps_per_epoch"] = np.array(spe)
    rec["dim"] = np.array(dim)
    return rec


def late_phase(curve, share: float = 0.25) -> float:
    """Mean of the last ``share`` of the epoch-end values (at least one), epoch 0 excluded."""
    c = np.asarray(curve, dtype=np.float64)[1:]
    m = max(1, int(round(share * c.size)))
    return float(np.mean(c[-m:]))


def loss_at_time(wall, loss, budget: float) -> float:
    """Training loss at wall-clock ``budget`` (linear interpolation of the epoch-end curve)."""
    wall, loss = np.asarray(wall, float), np.asarray(loss, float)
    if budget >= wall[-1]:
        return float(loss[-1])
    return float(np.interp(budget, wall, loss))


# ============================================================================ tuning and statistics

def _score(rec) -> float:
    v = float(rec["train_loss"][-1])
    return v if math.isfinite(v) and not rec["diverged"][-1] else math.inf


def tune(method: str, grid: list[dict], runner, seeds=(1000,)) -> dict:
    """The grid point with the lowest mean final training loss over the tuning ``seeds``.

    ``runner(method, hp, seed) -> record`` runs one setting (cached by the caller). Returns
    {"hp": chosen point, "grid": [{"hp": ..., "final_loss": ...}, ...]}.
    """
    table = []
    for hp in grid:
        scores = [_score(runner(method, hp, s)) for s in seeds]
        table.append({"hp": hp, "final_loss": float(np.mean(scores))})
    best = min(table, key=lambda r: r["final_loss"])
    return {"hp": best["hp"], "grid": table}


def paired_ordering(a, b, *, level: float = 0.95) -> dict:
    """Is ``a`` smaller than ``b``? Per-seed pairs, t-interval of the mean difference a - b.

    ``verdict``: ``"PASS"`` when the whole interval is below 0 (a < b holds at the stated
    confidence), ``"FAIL"`` when it is entirely above 0 (the reverse ordering holds), else
    ``"INCONCLUSIVE"``. ``holds`` is ``verdict == "PASS"``. Infinite values (diverged runs) are
    compared by rank: a finite a against an infinite b is a win.
    """
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"a and b must be 1-d arrays of equal length >= 2 (one value per seed); got {a.shape}, {b.shape}")
    finite = np.isfinite(a) & np.isfinite(b)
    out = {"mean_a": float(np.mean(a)), "mean_b": float(np.mean(b)), "seeds": int(a.size), "level": level}
    if not finite.all():
        wins = np.where(finite, a < b, np.isfinite(a) & ~np.isfinite(b))
        losses = np.where(finite, a > b, ~np.isfinite(a) & np.isfinite(b))
        verdict = "PASS" if wins.all() else "FAIL" if losses.all() else "INCONCLUSIVE"
        out.update({"diff": float("nan"), "lo": float("nan"), "hi": float("nan"),
                    "verdict": verdict, "holds": verdict == "PASS", "by": "rank (diverged runs)"})
        return out
    d = a - b
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, d.size - 1)) * sd / math.sqrt(d.size)
    lo, hi = mean - half, mean + half
    verdict = "PASS" if hi < 0 else "FAIL" if lo > 0 else "INCONCLUSIVE"
    out.update({"diff": mean, "lo": lo, "hi": hi, "verdict": verdict, "holds": verdict == "PASS",
                "by": f"paired t-interval ({level:.0%})"})
    return out


def seed_band(rows, level: float = 0.95):
    """Seed mean and t-interval per column of ``rows`` (seeds x points)."""
    from scipy import stats

    Y = np.asarray(rows, dtype=np.float64)
    m = Y.mean(axis=0)
    if Y.shape[0] < 2:
        return m, m, m
    half = stats.t.ppf(0.5 + level / 2, Y.shape[0] - 1) * Y.std(axis=0, ddof=1) / math.sqrt(Y.shape[0])
    return m, m - half, m + half


# ============================================================================ plots

def _save_curve_data(stem: Path, curves: dict, title, metrics, x_axes) -> None:
    """The curves behind a figure, as ``<stem>.data.json`` (``{"plot": "curves", "kwargs": ...}``), so that
    ``eftheory plot`` redraws it without rerunning; written atomically."""
    import os
    import tempfile

    keep = set(metrics) | {"wall"}
    plain = {label: [{k: np.asarray(rr[k], float).tolist() for k in keep if k in rr} for rr in recs]
             for label, recs in curves.items()}
    doc = {"plot": "curves", "kwargs": {"curves": plain, "title": title, "metrics": list(metrics),
                                        "x_axes": list(x_axes)}}
    fd, tmp = tempfile.mkstemp(dir=stem.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, allow_nan=True)
        os.replace(tmp, stem.parent / (stem.name + ".data.json"))
    except BaseException:       # a failed write leaves no temporary file behind
        os.unlink(tmp)
        raise


def plot_curves(path_stem, curves: dict, *, title: str = "", metrics=("train_loss", "test_acc", "grad_norm"),
                x_axes=("epoch", "wall")) -> list[str]:
    """Per-epoch and per-wall-clock curves (seed mean, t-band) of each method: one row per x axis,
    one column per metric. ``curves``: label -> list of per-seed records of :func:`run`.
    Writes ``<stem>.png`` and ``<stem>.pdf``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from checks import style      # the project's figure style (installed with the package)

    style.apply()
    names = {"train_loss": "training loss", "test_acc": "test accuracy", "grad_norm": r"$\|\nabla f\|$",
             "grad_norm_l1": r"$\|\nabla f\|_1$"}
    fig, axes = plt.subplots(len(x_axes), len(metrics), figsize=(4.0 * len(metrics), 3.1 * len(x_axes)),
                             squeeze=False)
    for r, xa in enumerate(x_axes):
        for c, metric in enumerate(metrics):
            ax = axes[r][c]
            for label, recs in curves.items():
                Y = np.stack([np.asarray(rr[metric], float) for rr in recs])
                Y = np.where(np.isfinite(Y), Y, np.nan)
                m, lo, hi = seed_band(Y)
                if xa == "epoch":
                    x = np.arange(Y.shape[1])
                else:
                    x = np.mean(np.stack([np.asarray(rr["wall"], float) for rr in recs]), axis=0)
                line, = ax.plot(x, m, lw=1.3, label=label)
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.18, lw=0)
            if metric in ("train_loss", "grad_norm", "grad_norm_l1"):
                ax.set_yscale("log")
            ax.set_xlabel("epoch" if xa == "epoch" else "training wall-clock [s]")
            ax.set_ylabel(names.get(metric, metric))
            ax.grid(True, alpha=0.3)
    axes[0][0].legend()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    _save_curve_data(stem, curves, title, metrics, x_axes)
    out = []
    for ext in ("png", "pdf"):
        p = stem.with_suffix("." + ext)
        fig.savefig(p)
        out.append(str(p))
    plt.close(fig)
    return out


# ============================================================================ command line

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eftheory.experiments",
                                 description="Train one method of the papers on a bundled real data set.")
    ap.add_argument("--list", action="store_true", help="list the methods and exit")
    ap.add_argument("--method", default="ef21-sgdm-norm", choices=sorted(METHODS))
    ap.add_argument("--dataset", default="digits", choices=DATASETS)
    ap.add_argument("--arch", default="mlp", choices=ARCHS)
    ap.add_argument("--lr", type=float, default=0.1, help="stepsize (gamma0 for the decaying schedules)")
    ap.add_argument("--eta", type=float, default=None, help="EF21-SGDM momentum / EControl error weight")
    ap.add_argument("--beta", type=float, default=0.1, help="sign momentum weight of the new gradient")
    ap.add_argument("--p", default="inf", help="SAEF error-averaging period")
    ap.add_argument("--G", type=float, default=None, help="MVSM sign scale (default: measured on a pilot)")
    ap.add_argument("--topk", type=float, default=0.1, help="Top-K share of coordinates kept")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--schedule", default="iteration", choices=SCHEDULES)
    ap.add_argument("--normalize", default="global", choices=("global", "per_tensor"))
    ap.add_argument("--out", default="results/experiments")
    args = ap.parse_args(argv)
    if args.list:
        for m in METHODS.values():
            print(f"{m.name:16s} [{m.paper}] {m.description}")
        return 0
    try:
        return _cli(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _cli(args) -> int:
    """The run of :func:`main` on parsed arguments (a bad value raises one ValueError naming it)."""
    from eftheory.validation import check_int, check_real

    check_int("--epochs", args.epochs, low=0)
    check_real("--topk", args.topk, low=0.0, high=1.0, low_open=True)
    check_int("--seeds", args.seeds, low=1)
    check_int("--batch", args.batch, low=1)
    check_int("--clients", args.clients, low=1)
    hp = {"lr": args.lr}
    if "beta" in METHODS[args.method].hyper:
        hp["beta"] = args.beta
    if args.method == "saef":
        try:
            hp["p"] = math.inf if args.p == "inf" else check_int("--p", int(args.p), low=1)
        except ValueError as exc:
            raise ValueError(f"--p must be 'inf' or an integer in [1, inf]; got {args.p!r}") from exc
    if args.method in ("ef", "saef", "sgdm-dist", "sgdm"):
        hp["mu"] = 0.9
    if args.eta is not None:
        hp["eta"] = args.eta
    elif args.method == "ef21-sgdm":
        hp["eta"] = 0.1
    if args.method in ("mvsm-v1", "mvsm-v2", "sto-signsgd", "mv-signsgd", "mv-signum"):
        hp["G"] = args.G if args.G is not None else pilot_gradient_bound(
            dataset=args.dataset, arch=args.arch, batch=args.batch, n_clients=args.clients)
    fed = make_federation(args.dataset, args.clients)
    recs = [run(args.method, hp, dataset=args.dataset, arch=args.arch, epochs=args.epochs, seed=s,
                topk=args.topk, batch=args.batch, schedule=args.schedule, fed=fed, normalize=args.normalize)
            for s in range(args.seeds)]
    print(f"{args.method} on {args.dataset}/{args.arch}, n = {args.clients}, hp = {hp}, {args.seeds} seeds")
    print(f"{'epoch':>5} {'train loss':>12} {'test acc':>9} {'||grad f||':>11} {'wall [s]':>9}")
    for e in range(args.epochs + 1):
        vals = [np.mean([r[k][e] for r in recs]) for k in ("train_loss", "test_acc", "grad_norm", "wall")]
        print(f"{e:5d} {vals[0]:12.5g} {vals[1]:9.4f} {vals[2]:11.4g} {vals[3]:9.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{args.method}-{args.dataset}-{args.arch}"
    paths = plot_curves(stem, {args.method: recs}, title=f"{args.method} ({args.dataset}, {args.arch})")
    (stem.with_suffix(".json")).write_text(json.dumps(
        {"method": args.method, "hp": hp, "args": vars(args),
         "records": [{k: np.asarray(v).tolist() for k, v in r.items()} for r in recs]}, indent=1))
    print("wrote", ", ".join(paths + [str(stem.with_suffix(".json"))]))
    return 0


def pilot_gradient_bound(*, dataset: str = "digits", arch: str = "mlp", batch: int = 16, n_clients: int = 10,
                         epochs: int = 2, lr: float = 0.05, seed: int = 12345, split_seed: int = 0) -> float:
    r"""A bound G on :math:`\|\nabla f_j(x;\xi)\|_\infty` measured on a separate pilot: the largest
    minibatch-gradient coordinate seen over ``epochs`` epochs of plain SGD from a pilot seed (not
    used by any compared run), over every client. MVSM's :math:`S_G` needs
    :math:`\|v\|_\infty\le G`; momentum averages gradients, so it stays below this bound when the
    trajectory stays in the region the pilot visited (larger values are clipped)."""
    import torch
    import torch.nn.functional as F

    fed = make_federation(dataset, n_clients, seed=split_seed)
    model = make_model(arch, fed, seed=seed)
    params = list(model.parameters())
    rngs = [torch.Generator().manual_seed(seed + i) for i in range(fed.n_clients)]
    spe = int(math.ceil(fed.mean_train_size() / batch))
    G = 0.0
    for _ in range(epochs * spe):
        total = [torch.zeros_like(p) for p in params]
        for i, (X, y) in enumerate(fed.train):
            idx = torch.randint(0, len(y), (batch,), generator=rngs[i])
            g = torch.autograd.grad(F.cross_entropy(model(X[idx]), y[idx]), params)
            G = max(G, max(float(t.abs().max()) for t in g))
            for acc, gi in zip(total, g):
                acc.add_(gi / fed.n_clients)
        with torch.no_grad():
            for p, g in zip(params, total):
                p.sub_(lr * g)
    return G


if __name__ == "__main__":
    raise SystemExit(main())
