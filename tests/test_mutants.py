"""The mutant catalogue: every mutant changes what it claims to change, on both backends, and nothing after.

For each mutant and each algorithm it touches (one parity case of ``tests/test_torch_parity.py``
per algorithm): under the mutant the NumPy reference's iterates differ from the unmutated ones,
the engine still replays the mutated reference to 1e-10 (so both backends carry the same
defect), and on exit the reference is bit-identical to the unmutated run again.
"""

from __future__ import annotations

import numpy as np
import pytest

import algorithms
from algorithms.torch.replay import record_draws
from checks.mutants import MUTANTS, applied, get
from checks.mutation import kill_matrix
from test_torch_parity import CASES, ITERS, SEEDS, assert_same

#: a case per (mutant, algorithm): the first parity case of the algorithm whose setting exercises the mechanism
_NEEDS = {
    "topk-k-minus-1": lambda case: isinstance(case[3], __import__("eftheory.compressors").compressors.TopK),
    "momentum-ema": lambda case: case[4].get("mu", 0.0) > 0,
    "schedule-shifted": lambda case: case[4].get("momentum") is not None,
    "local-error-dropped": lambda case: True,
}


#: option overrides where the parity case's setting makes the mechanism invisible (beta = 1/2 weighs both alike)
_KW = {"smm-convention-swapped": {"momentum": 0.2}}


def _cases_of(m):
    out, seen = [], set()
    for case in CASES:
        name = case[1]
        if name in seen or not m.touches(name, getattr(case[3], "name", None)):
            continue
        if m.name in _NEEDS and not _NEEDS[m.name](case):
            continue
        if m.compressors is not None and not any(k in repr(case[3]).lower() for k in m.compressors):
            continue
        seen.add(name)
        out.append((*case[:4], {**case[4], **_KW.get(m.name, {})}))
    return out


def _reference(case):
    _, name, make, C, kw = case
    problem = make()
    x0 = np.linspace(-0.8, 1.1, problem.dim)
    return [algorithms.run(name, problem, C, x0, ITERS, seed=s, **kw) for s in SEEDS]


@pytest.mark.parametrize("mutant", [m.name for m in MUTANTS.values() if m.algorithms != ()])
def test_mutant_changes_both_backends_alike_and_is_undone(mutant):
    changed = []
    for case in _cases_of(get(mutant)):
        before = _reference(case)
        with applied(mutant):
            mutated = _reference(case)
            _, name, make, C, kw = case
            problem = make()
            x0 = np.linspace(-0.8, 1.1, problem.dim)
            draws, refs = record_draws(name, problem, C, x0, ITERS, seeds=SEEDS, **kw)
            eng = algorithms.run(name, problem, C, x0, ITERS, backend="torch", seeds=len(SEEDS), draws=draws, **kw)
            assert_same(refs, eng, where=f"{mutant} on {case[0]}: ")
        if any(not np.array_equal(a.x, b.x) for a, b in zip(before, mutated)):
            changed.append(name)
        after = _reference(case)
        for a, b in zip(before, after):
            np.testing.assert_array_equal(a.x, b.x)
    assert changed, f"{mutant} changed no run of {[c[1] for c in _cases_of(get(mutant))]}"
    UNCHANGED.update({(mutant, c[1]) for c in _cases_of(get(mutant)) if c[1] not in changed})


#: (mutant, algorithm) pairs a mutant leaves unchanged in its parity case (filled by the test above)
UNCHANGED: set = set()


def test_mean_without_1_over_n_is_equivalent_for_normalized_methods_started_at_zero():
    """g^k = sum_i g_i^k = n * (the true mirror) when every g_i starts at 0: the normalized step cannot see it."""
    case = next(c for c in CASES if c[0] == "ef21-sgdm-norm-randk-q4")
    before = _reference(case)
    with applied("mean-without-1/n"):
        mutated = _reference(case)
    for a, b in zip(before, mutated):
        np.testing.assert_allclose(a.x, b.x, rtol=1e-12, atol=1e-12)
    gradient_init = (case[0], case[1], case[2], case[3], {**case[4], "init": "gradient"})
    before = _reference(gradient_init)
    with applied("mean-without-1/n"):
        mutated = _reference(gradient_init)
    assert not np.allclose(before[0].x, mutated[0].x)


def test_every_mutant_with_algorithms_has_a_case():
    for m in MUTANTS.values():
        if m.algorithms != ():
            assert _cases_of(m), m.name


def test_randk_scale_mutant_breaks_unbiasedness():
    from eftheory.compressors import ScaledRandK, enumerate_randk_moments

    v = np.array([1.0, -2.0, 3.0, 0.5])
    C = ScaledRandK(1)
    np.testing.assert_allclose(enumerate_randk_moments(C, v)["mean"][0], v)
    with applied("randk-scale-inverted"):
        assert not np.allclose(enumerate_randk_moments(C, v)["mean"][0], v)
    np.testing.assert_allclose(enumerate_randk_moments(C, v)["mean"][0], v)


def test_unknown_mutant_is_rejected():
    with pytest.raises(ValueError, match="mutant must be one of"):
        get("no-such-mutant")


def test_kill_matrix_counts_differing_verdicts():
    import dataclasses

    everywhere = dataclasses.replace(get("rhm-q-flipped"), equivalent={"*": "a reason"})
    ms = [get("polyak-swapped"), everywhere]
    base = {"S000-T1": "PASS", "S001-T2": "PASS", "S000-RED": "PASS"}
    res = {"polyak-swapped": {"S000-T1": {"verdict": "FAIL"}, "S001-T2": {"verdict": "PASS"},
                              "S000-RED": {"verdict": "FAIL"}},
           "rhm-q-flipped": {"S000-T1": {"verdict": "PASS"}}}
    km = kill_matrix(base, res, ms, {"S000-T1": "S", "S001-T2": "S", "S000-RED": "I"})
    assert km["mutants"]["polyak-swapped"]["killers"] == ["S000-T1", "S000-RED"]
    assert km["mutants"]["polyak-swapped"]["rate_or_bound_killers"] == ["S000-T1"]
    assert not km["mutants"]["polyak-swapped"]["survives"]
    assert km["mutants"]["rhm-q-flipped"]["killers"] == [] and not km["mutants"]["rhm-q-flipped"]["survives"]
    alone = kill_matrix(base, {"rhm-q-flipped": {"S000-T1": {"verdict": "PASS"}}}, [get("rhm-q-flipped")])
    assert alone["mutants"]["rhm-q-flipped"]["survives"]          # no killer and not equivalent everywhere
    assert km["claims"] == {"S000-T1": 1, "S001-T2": 0, "S000-RED": 1}


def test_code_mutation_score_counts_untested_mutants_as_surviving():
    from checks.code_mutation import score

    assert score({"killed": 90, "survived": 5, "no_tests": 5, "timeout": 0}) == 0.9
    assert score({"killed": 3, "survived": 1}) == 0.75
    assert np.isnan(score({}))


def test_code_mutation_sample_is_a_seeded_prefix_and_its_interval_is_exact():
    from scipy.stats import beta

    from checks.code_mutation import sample_of, score_interval, main

    names = [f"m.x_f__mutmut_{i}" for i in range(50)]
    small, large = sample_of(names, 10, 3), sample_of(reversed(names), 20, 3)
    assert large[:10] == small and len(set(large)) == 20                   # order-free, extends
    assert sample_of(names, 10, 4) != small and sample_of(names, 99, 0) == sample_of(names, 50, 0)
    lo, hi = score_interval(90, 100)
    assert (lo, hi) == pytest.approx((beta.ppf(0.025, 90, 11), beta.ppf(0.975, 91, 10)))
    assert lo < 0.9 < hi and np.isnan(score_interval(0, 0)[0])
    assert main(["--sample", "0"]) == 2


def test_code_mutation_reports_a_failing_mutmut_in_one_line(monkeypatch, capsys, tmp_path):
    """When mutmut cannot list the mutants (a broken configuration, say), the sample ends with
    one line naming it and exit 2, not a traceback."""
    import subprocess

    from checks import code_mutation as cm

    def broken(*args, **kw):
        raise subprocess.CalledProcessError(1, ["mutmut"], stderr="Traceback ...\nKeyError: 'source_paths'\n")

    monkeypatch.setattr(cm, "_generate", broken)
    monkeypatch.setattr(cm.Path, "exists", lambda self: True)       # as if mutmut were installed
    assert cm.main(["--sample", "5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mutation: error: mutmut could not list the mutants (exit 1: KeyError: 'source_paths')"]


def test_every_test_a_survivor_reason_names_exists():
    """A reason "killed now by tests/F.py::test_x" names a test that is there (renaming a test
    would leave the survivors page pointing at nothing)."""
    import re

    from checks.code_mutation import REASONS, reasons

    named = {m for why in reasons().values() for m in re.findall(r"(tests/\w+\.py)::(\w+)", why)}
    root = REASONS.parent.parent
    missing = [f"{f}::{t}" for f, t in sorted(named) if f"def {t}(" not in (root / f).read_text()]
    assert named and not missing


def test_every_survivor_has_one_reason():
    """The reasons file names each mutant once (a second line would silently replace the first)."""
    from checks.code_mutation import REASONS

    names = [line.partition("\t")[0].strip() for line in REASONS.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert names and len(names) == len(set(names))


def test_code_mutation_page_states_the_sample_and_its_interval():
    from checks.code_mutation import survivors_page

    doc = {"killed": 9, "survived": 1, "total": 1000, "sample": 10, "seed": 0, "score": 0.9,
           "score_ci95": [0.555, 0.9975]}
    page = survivors_page([("a.x_f__mutmut_1", "survived")], doc, {"a.x_f__mutmut_1": "equivalent: x"})
    assert "uniform sample of 10 of the 1000 generated mutants (seed 0)" in page
    assert "[55.5%, 99.8%]" in page and "| `a.x_f__mutmut_1` | survived | equivalent: x |" in page
    unfinished = survivors_page([], {**doc, "killed": 6, "not_checked": 3}, {})
    assert "3 of the sample are not judged yet" in unfinished and "between 60.0%" in unfinished
    assert "and 90.0% (every one killed)" in unfinished and "95 %" not in unfinished


def _optimizer_cases_of(m):
    """One optimizer case (tests/test_torch_optim.py) per algorithm the mutant touches, in the mutant's setting."""
    from test_torch_optim import CASES as OPT_CASES

    out, seen = [], set()
    for case in OPT_CASES:
        name, kw, C = case[1], case[2], case[3]
        if name in seen or not m.touches(name, getattr(C, "name", None)):
            continue
        if m.compressors is not None and not any(k in repr(C).lower() for k in m.compressors):
            continue
        if m.name == "topk-k-minus-1" and type(C).__name__ != "TopK":
            continue
        if m.name == "momentum-ema" and not kw.get("mu", 0.0) > 0:
            continue
        if m.name == "schedule-shifted" and not any(callable(kw.get(k)) for k in ("stepsize", "momentum")):
            continue                         # a constant schedule read one step late is the same schedule
        seen.add(name)
        out.append(case)
    return out


@pytest.mark.parametrize("mutant", [m.name for m in MUTANTS.values() if m.algorithms != ()])
def test_mutant_reaches_the_optimizers(mutant):
    """The torch.optim optimizers run the engine's steps, so a mutant of a step changes them too (and
    nothing stays changed afterwards): a claim checked through an optimizer sees the same defect."""
    import test_torch_optim as T

    cases = _optimizer_cases_of(get(mutant))
    if not cases:
        pytest.skip(f"{mutant}: no optimizer case exercises its setting")
    changed = []
    for case in cases:
        _, name, kw, C, exact, per_iter = case
        problem = T.MLPProblem(batch=None if exact else T.BATCH)
        opts = {**kw, **_KW.get(mutant, {}), "n_clients": T.N}
        run = lambda: T.run_optimizer(name, opts, problem, compressor=C, per_iter=per_iter)
        before = run()
        with applied(mutant):
            during = run()
        after = run()
        np.testing.assert_array_equal(after, before)
        changed.append(name if not np.array_equal(during, before) else None)
    assert any(changed), f"{mutant} changes none of the optimizers of {[c[1] for c in cases]}"


def test_pytest_column_runs_each_mutant_once_and_reuses_its_stored_verdict(tmp_path, monkeypatch):
    """``pytest_column`` stores one verdict per mutant with the version of sources and tests: a second
    call runs nothing; a changed version runs again."""
    import checks.mutation as mu

    calls = []

    def fake(name, timeout=1800.0):
        calls.append(name)
        return {"killed": name != "rhm-q-flipped", "test": "tests/x.py::t", "rc": 1}

    monkeypatch.setattr(mu, "_pytest_kills", fake)
    names = ["ef-buffer-dropped", "mean-without-1/n", "rhm-q-flipped"]
    first = mu.pytest_column(names, tmp_path, jobs=2)
    assert sorted(calls) == sorted(names) and list(first) == names
    assert [first[n]["killed"] for n in names] == [True, True, False]
    assert (tmp_path / "mutants" / "pytest" / "mean-without-1_n.json").exists()
    assert mu.pytest_column(names, tmp_path, jobs=1) == first and len(calls) == 3
    monkeypatch.setattr(mu, "tests_version", lambda: "another")
    mu.pytest_column(names[:1], tmp_path)
    assert calls[3:] == names[:1]
