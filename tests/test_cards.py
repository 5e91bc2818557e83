"""The method cards are the one declaration every path reads."""

from __future__ import annotations

import dataclasses

import pytest

import algorithms
from algorithms import cards
from algorithms.cards import CARDS, card


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_every_registered_algorithm_has_its_card_and_the_registry_reads_it(backend):
    assert algorithms.names(backend) == cards.names()
    for spec in algorithms.specs(backend):
        c = CARDS[spec.name]
        assert spec.needs == c.needs and spec.momentum == c.momentum and spec.compressor == c.compressor
        assert spec.paper == c.paper
        for key, default in c.options.items():
            assert spec.options[key] == default, (spec.name, key)
        if backend == "numpy":
            assert set(spec.options) == set(c.options)


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
