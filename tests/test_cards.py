"""The method cards are the one declaration every path reads."""

from __future__ import annotations

import dataclasses

import pytest

import algorithms
from algorithms import cards
from algorithms.cards import CARDS, card


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_every_registered_algorithm_has_its_card_and_the_registry_reads_it(backend):
    from algorithms.torch._core import ENGINE_OPTIONS

    assert algorithms.names(backend) == cards.names()
    for spec in algorithms.specs(backend):
        c = CARDS[spec.name]
        assert spec.needs == c.needs and spec.momentum == c.momentum and spec.compressor == c.compressor
        assert spec.paper == c.paper and spec.summary.startswith(c.summary)
        for key, default in c.options.items():
            got = spec.options[key]
            assert got is default or (type(got) is type(default) and got == default), (spec.name, key)
        engine = set(ENGINE_OPTIONS) if backend == "torch" else set()
        assert set(spec.options) == set(c.options) | engine, spec.name


def test_the_sign_and_local_ef_tables_are_read_from_the_cards():
    from algorithms.torch import sign

    assert set(sign._METHODS) == set(cards.names("sign"))
    for name, (est, up, down, bound) in sign._METHODS.items():
        c = card(name)
        assert (est, up, down, bound) == (c.estimator, c.uplink, c.downlink, c.bound)


def test_a_registration_cannot_disagree_with_its_card():
    from algorithms.registry import spec_meta

    assert spec_meta("ef21")["options"] == dict(card("ef21").options)
    assert spec_meta("ef21", "torch", options={"seeds": 1})["options"]["seeds"] == 1     # engine options add
    with pytest.raises(RuntimeError, match="needs"):
        algorithms.register("ef21", needs=("grad_i", "hvp_i"))
    with pytest.raises(RuntimeError, match="init"):
        algorithms.register("ef21", options={"init": "gradient"})                     # the card says "zero"
    with pytest.raises(RuntimeError, match="sign_zero"):
        algorithms.register("signsgd", backend="torch", options={"sign_zero": 0.0})   # 0.0 is not the card's 0
    with pytest.raises(RuntimeError, match="card"):
        algorithms.register("ef21", step="x - g")


# A changed card, in a fresh interpreter (the backends register at import): every backend and
# every path of the method must change with it.
_PROPAGATION = r"""
import dataclasses, json, types
import numpy as np
import algorithms.cards as C

changed = {"econtrol": {"econtrol_eta": 0.3}, "signsgd": {"sign_zero": 1}, "ef": {"mu": 0.5},
           "mvsm-v1": {"shared_draw": True}}
new = dict(C.CARDS)
for name, opts in changed.items():
    new[name] = dataclasses.replace(new[name], options={**new[name].options, **opts})
C.CARDS = types.MappingProxyType(new)

import algorithms
from algorithms.torch import distributed, optim, sign
from eftheory.compressors import TopK
from eftheory.problems.sign import HeterogeneousSignProblem

out = {"specs": {}, "runs": {}, "optim": {}, "dist": {}}
for backend in ("numpy", "torch"):
    for name, opts in changed.items():
        spec = algorithms.get(name, backend)
        out["specs"][f"{name}/{backend}"] = {k: spec.options[k] for k in opts}
P = HeterogeneousSignProblem(d=6, n=3, seed=0)
x0 = np.linspace(-1, 1, 6)
for backend in ("numpy", "torch"):
    runs = {}
    for key, kw in {"default": {}, "old": {"econtrol_eta": 0.1}, "new": {"econtrol_eta": 0.3}}.items():
        r = algorithms.run("econtrol", P, TopK(2), x0, 5, stepsize=0.1, backend=backend, **kw)
        runs[key] = np.asarray(r.x).tolist()
    out["runs"][f"econtrol/{backend}"] = [runs["default"] == runs["new"], runs["default"] == runs["old"]]
    x = np.zeros(6)
    s = algorithms.run("signsgd", type("Z", (), {"n_clients": 1, "dim": 6, "f": lambda self, x: 0.0,
                                                  "grad_i": lambda self, i, x, xi=None: np.zeros(6),
                                                  "sample": lambda self, i, rng: None})(),
                       None, x, 1, stepsize=0.5, backend=backend)
    out["runs"][f"signsgd/{backend}"] = np.asarray(s.x)[-1].tolist()     # sign(0) = 1: x - 0.5
import torch
w = torch.nn.Parameter(torch.zeros(6, dtype=torch.float64))
out["optim"] = optim.for_name("econtrol")([w], stepsize=0.1, n_clients=2, compressor=TopK(2)).options["econtrol_eta"]
job = distributed.make_job("ef", lambda: P, TopK(2), x0, 2, stepsize=0.1, world_size=3)
out["dist"] = job.options["mu"]
print(json.dumps(out))
"""


def test_a_card_change_reaches_every_backend_and_path():
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", _PROPAGATION], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for backend in ("numpy", "torch"):
        assert out["specs"][f"econtrol/{backend}"] == {"econtrol_eta": 0.3}
        assert out["specs"][f"signsgd/{backend}"] == {"sign_zero": 1}
        assert out["specs"][f"ef/{backend}"] == {"mu": 0.5}
        assert out["specs"][f"mvsm-v1/{backend}"] == {"shared_draw": True}
        assert out["runs"][f"econtrol/{backend}"] == [True, False]      # the new default is what runs
        assert out["runs"][f"signsgd/{backend}"] == [-0.5] * 6
    assert out["optim"] == 0.3 and out["dist"] == 0.5


def test_engine_method_table_is_derived_from_the_cards():
    from algorithms.torch import ef21_family

    assert set(ef21_family._METHODS) == set(cards.names("ef21"))
    for name, (est, norm, init, extra, needs, mom) in ef21_family._METHODS.items():
        c = card(name)
        assert (est, norm, init, needs, mom) == (c.estimator, c.normalized, c.options["init"], c.needs, c.momentum)
        assert est in ef21_family.ESTIMATORS
        assert set(extra) | set(ef21_family.COMMON) == set(c.options)


def test_every_card_has_an_optimizer_and_a_distributed_path():
    from algorithms.torch import distributed, optim

    assert sorted(optim.OPTIMIZERS) == cards.names()
    assert sorted(distributed.NAMES) == cards.names()


def test_cards_are_frozen_and_validate_options():
    c = card("ef21-rhm-norm")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.estimator = "mvr"
    with pytest.raises(TypeError):
        c.options["init"] = "zero"
    assert c.defaults(rhm_same_sample=True)["rhm_same_sample"] is True
    with pytest.raises(ValueError, match="allowed"):
        c.defaults(same_sample=True)
    with pytest.raises(ValueError, match="init"):
        c.defaults(init="nope")
    with pytest.raises(ValueError, match="name"):
        card("ef42")


def test_registering_a_name_without_a_card_is_refused():
    with pytest.raises(RuntimeError, match="card"):
        algorithms.register("no-such-method")(lambda *a, **k: None)
