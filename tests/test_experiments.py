"""The real-data experiment harness: client split, one-epoch smoke runs, the paired-CI verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

from eftheory import experiments as ex  # noqa: E402


def test_split_label_half_goes_to_its_client_and_sizes_add_up():
    from sklearn.datasets import load_digits

    y = load_digits().target
    split = ex.split_clients(y, 10, seed=0)
    assert len(split) == 10
    every = np.concatenate([np.concatenate([tr, te]) for tr, te in split])
    assert every.size == y.size and np.unique(every).size == y.size          # a partition of the data
    rng = np.random.default_rng([0, 0xC11E])
    label_half = rng.permutation(y.size)[: int(round(0.5 * y.size))]      # the draw split_clients makes
    owner = np.empty(y.size, dtype=int)
    for i, (tr, te) in enumerate(split):
        owner[tr] = i
        owner[te] = i
    assert np.all(owner[label_half] == y[label_half] % 10)                  # label c -> client c
    for tr, te in split:
        total = tr.size + te.size
        assert te.size == max(1, int(round(0.1 * total)))                   # per-client 90/10 split
        assert np.intersect1d(tr, te).size == 0
    sizes = [tr.size + te.size for tr, te in split]
    assert min(sizes) > 0.8 * y.size / 10 and max(sizes) < 1.2 * y.size / 10


def test_split_of_a_two_class_set_deals_the_label_half_to_two_clients():
    from sklearn.datasets import load_breast_cancer

    y = load_breast_cancer().target
    split = ex.split_clients(y, 10, seed=0)
    sizes = np.array([tr.size + te.size for tr, te in split])
    assert sizes.sum() == y.size and sizes[:2].min() > sizes[2:].max()


@pytest.fixture(scope="module")
def fed():
    return ex.make_federation("digits", 10, seed=0)


@pytest.mark.parametrize("method,hp", [
    ("ef21-sgdm-norm", {"lr": 0.3}),
    ("ef21-hm-norm", {"lr": 0.3}),
    ("ef21-sgd", {"lr": 0.1}),
    ("saef", {"lr": 0.03, "mu": 0.9, "p": 5}),
    ("smm", {"lr": 3e-3, "beta": 0.1}),
    ("mvsm-v1", {"lr": 3e-3, "beta": 0.1, "G": 1.0}),
    ("adamw", {"lr": 3e-3}),
])
def test_one_epoch_smoke_run_on_the_mlp(fed, method, hp):
    rec = ex.run(method, hp, arch="mlp", epochs=1, seed=0, fed=fed, batch=64)
    for key in ("train_loss", "test_acc", "grad_norm", "grad_norm_l1", "wall", "grad_calls"):
        assert rec[key].shape == (2,) and np.all(np.isfinite(rec[key]))
    assert rec["train_loss"][1] < rec["train_loss"][0]
    spe = int(rec["steps_per_epoch"])
    assert rec["grad_calls"][1] >= 10 * spe                               # every client, every step
    if method == "ef21-hm-norm":
        assert rec["hvp_calls"][1] == 10 * spe


def test_cnn_builds_on_images_only(fed):
    model = ex.make_model("cnn", fed, seed=0)
    assert model(fed.train[0][0][:3]).shape == (3, 10)
    flat = ex.make_federation("breast_cancer", 10)
    with pytest.raises(ValueError, match="image"):
        ex.make_model("cnn", flat)


def test_paired_ordering_sees_a_clear_difference_and_not_a_tie():
    rng = np.random.default_rng(0)
    b = 1.0 + 0.05 * rng.standard_normal(6)
    a = b - 0.3 + 0.01 * rng.standard_normal(6)
    r = ex.paired_ordering(a, b)
    assert r["verdict"] == "PASS" and r["holds"] and r["hi"] < 0
    assert ex.paired_ordering(b, a)["verdict"] == "FAIL"
    same = ex.paired_ordering(b, b.copy())
    assert same["verdict"] == "INCONCLUSIVE" and not same["holds"]
    noisy = ex.paired_ordering(b, b + 0.05 * rng.standard_normal(6))
    assert not noisy["holds"] or noisy["hi"] < 0


def test_paired_ordering_ranks_diverged_runs():
    a = np.array([0.1, 0.2, 0.3])
    assert ex.paired_ordering(a, np.array([math.inf] * 3))["verdict"] == "PASS"
    assert ex.paired_ordering(np.array([math.inf] * 3), a)["verdict"] == "FAIL"
    with pytest.raises(ValueError):
        ex.paired_ordering(a, a[:2])


def test_late_phase_and_loss_at_time():
    assert ex.late_phase([9.0, 4.0, 3.0, 2.0, 1.0]) == 1.0
    assert ex.late_phase(np.arange(9.0)) == pytest.approx(7.5)
    assert ex.loss_at_time([0.0, 1.0, 2.0], [3.0, 2.0, 1.0], 1.5) == pytest.approx(1.5)
    assert ex.loss_at_time([0.0, 1.0], [3.0, 2.0], 5.0) == 2.0


def test_only_a_non_finite_value_counts_as_divergence(fed, monkeypatch):
    """A step that overflows marks the run diverged; any other error of a step is raised, not hidden."""
    rec = ex.run("ef21-sgd", {"lr": 1e200}, arch="mlp", epochs=2, seed=0, fed=fed, batch=64)
    assert rec["diverged"][-1] == 1.0 and rec["train_loss"][-1] == np.inf
    from algorithms.torch.optim import _steps

    def broken(*a, **kw):
        raise ValueError("a defect that is not divergence")

    monkeypatch.setattr(_steps, "ef21_step", broken)
    with pytest.raises(ValueError, match="not divergence"):
        ex.run("ef21-sgd", {"lr": 0.1}, arch="mlp", epochs=1, seed=0, fed=fed, batch=64)
