"""Shared pytest configuration: hypothesis profiles, the gpu marker and common fixtures."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# ci: derandomized and bounded, so the fast tier is reproducible and quick.
settings.register_profile(
    "ci", derandomize=True, max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# thorough: many examples, fresh randomness each run.
settings.register_profile(
    "thorough", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_MUTANT = None


def pytest_configure(config):
    """With ``EFTHEORY_MUTANT=<name>`` the whole session runs under that mutant of ``checks.mutants``
    (``eftheory mutants --pytest`` uses it to ask whether the fast tier kills the mutant)."""
    global _MUTANT
    from checks.mutants import ENV, applied

    name = os.environ.get(ENV)
    if name:
        _MUTANT = applied(name)
        _MUTANT.__enter__()


def _deselect_mutant_catalogue_tests(config, items):
    """Under a session mutant the catalogue's own tests (tests/test_mutants.py, which compare mutated with
    unmutated runs) are deselected: they test the mutation mechanism, not the code under the mutant."""
    if _MUTANT is None:
        return
    keep = [it for it in items if not it.nodeid.startswith("tests/test_mutants.py")]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[it for it in items if it not in keep])
        items[:] = keep


def pytest_unconfigure(config):
    if _MUTANT is not None:
        _MUTANT.__exit__(None, None, None)


def pytest_report_header(config):
    name = os.environ.get("EFTHEORY_MUTANT")
    return f"running under the mutant {name!r}" if name else None


@pytest.fixture(scope="module")
def logistic():
    """The synthetic logistic problem (n = 20 clients, d = 10) of the EF21 reference tests."""
    from eftheory.problems import synthetic_logistic

    return synthetic_logistic(20, 10, seed=0)


@pytest.fixture(scope="module")
def x0():
    """A standard-normal starting point in R^10 for :func:`logistic`."""
    return np.random.default_rng(1).standard_normal(10)


@pytest.fixture
def world_of_one():
    """A gloo process group of one rank in this process (``torch.distributed``), left afterwards."""
    import torch.distributed as dist

    from algorithms.torch.distributed import _free_port

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        yield dist
    finally:
        dist.destroy_process_group()


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    _deselect_mutant_catalogue_tests(config, items)
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
