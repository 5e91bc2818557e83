"""The `eftheory` command line: listing, one-line errors, reports, exit codes and resumption."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from checks import cli, runner
from checks.catalog import CATALOG, claim
from checks.claim import FAIL, PASS, Outcome
from checks.context import FAIL_AFTER_ENV, Context, TestInterrupt
from checks.simulate import X0, RunSpec


def _run(*args, capsys):
    rc = cli.main(list(args))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_list_names_every_catalog_claim(capsys):
    rc, out, _ = _run("list", capsys=capsys)
    assert rc == 0
    ids = [line.split()[0] for line in out.splitlines()]
    assert ids == list(CATALOG) and len(ids) == 55
    from checks.registry import all_claims

    assert ("PENDING (" in out) == any(not c.executable for c in all_claims()) and "[R]" in out


@pytest.mark.parametrize("args, words", [
    (["verify", "--claims", "NOPE-1"], ["claim id"]),
    (["verify", "--jobs", "0"], ["jobs"]),
    (["verify", "--jobs", "two"], ["jobs"]),
    (["verify", "--tier", "medium"], ["tier"]),
    (["verify", "--backend", "jax"], ["backend"]),
    (["verify", "--device", "tpu"], ["device"]),
    (["verify", "--bogus-flag"], ["unrecognized"]),
    (["list", "--kind", "Z"], ["kind", "invalid choice", "'P'"]),
    (["frobnicate"], ["invalid choice"]),
    (["mutants", "--mutants", "no-such-mutant"], ["mutant must be one of"]),
    (["mutants", "--claims", "NOPE-1"], ["claim id"]),
    (["mutants", "--jobs", "0"], ["jobs"]),
    (["mutants", "--tier", "medium"], ["tier"]),
    (["verify", "--claims", "C-TOPK", "--out", "/etc/passwd/x", "--quiet"], ["out must be a writable folder"]),
    (["mutants", "--claims", "C-TOPK", "--out", "/etc/passwd", "--quiet"], ["out must be a writable folder"]),
])
def test_bad_input_is_one_line_without_traceback(args, words, capsys, tmp_path):
    rc, out, err = _run(*args, capsys=capsys)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eftheory: error: "), err
    assert all(w in lines[0] for w in words)
    assert "Traceback" not in err + out


def test_cuda_unavailable_is_one_line(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    rc, _, err = _run("verify", "--device", "cuda", "--claims", "C-TOPK", "--out", str(tmp_path), capsys=capsys)
    assert rc == 2 and err.count("\n") == 1 and "cuda" in err and err.startswith("eftheory: error:")


def test_console_script_subprocess_error(tmp_path):
    p = subprocess.run([sys.executable, "-m", "checks.cli", "verify", "--claims", "XX", "--out", str(tmp_path)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("eftheory: error:") and "Traceback" not in p.stderr


def test_verify_writes_ledger_and_reports(capsys, tmp_path):
    rc, out, err = _run("verify", "--claims", "C-TOPK", "EF21-INV", "--out", str(tmp_path), "--quiet", capsys=capsys)
    led = json.loads((tmp_path / "ledger.json").read_text())
    rows = {r["id"]: r for r in led["claims"]}
    assert set(rows) == {"C-TOPK", "EF21-INV"}
    for key in ("verdict", "stated", "measured", "controls", "controls_rejected", "plots", "reconstructed",
                "expected", "finding"):
        assert key in rows["C-TOPK"]
    assert rows["C-TOPK"]["expected"] == "PASS" and rows["C-TOPK"]["finding"] is None
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    assert "C-TOPK" in md and "EF21-INV" in md and "C-TOPK" in html and "<table" in html
    assert rc == (0 if all(r["verdict"] == PASS for r in rows.values()) else 1)


def test_exit_code_counts_only_non_reconstructed_failures():
    a, r = CATALOG["S000-T1"], CATALOG["S003-T5"]
    assert not a.reconstructed and r.reconstructed
    assert runner.exit_code([a, r], [Outcome(a.id, PASS), Outcome(r.id, FAIL)]) == 0
    assert runner.exit_code([a, r], [Outcome(a.id, FAIL), Outcome(r.id, PASS)]) == 1


# ------------------------------------------------------------------------------- resumption

def _tiny_specs():
    from eftheory.compressors import TopK
    from eftheory.problems import HeterogeneousSignProblem
    from eftheory.schedules import constant

    prob = HeterogeneousSignProblem(d=4, n=2, seed=0, shift=0.0)
    return [RunSpec("saef", prob, TopK(1), X0("around_opt", scale=1.0, seed=0), 20 + k, constant(0.05),
                    None, {}, extract="mean", label=f"tiny {k}") for k in range(3)]


def _tiny_claim(ctx) -> Outcome:
    arrs = ctx.runs(_tiny_specs(), 8)
    return Outcome("S002-C2", PASS, measured={"means": [float(a["mean"].mean()) for a in arrs]})


def test_interrupted_run_resumes_without_recomputing(tmp_path, monkeypatch):
    c = claim("S002-C2", _tiny_claim)
    settings = dict(out=tmp_path, backend="numpy", seed_batch=4)       # 3 specs x 2 batches = 6 units
    monkeypatch.setenv(FAIL_AFTER_ENV, "4")
    ctx1 = Context(**settings)
    with pytest.raises(TestInterrupt):
        runner.run_claim(c, ctx1)
    assert ctx1.computed == 4
    monkeypatch.delenv(FAIL_AFTER_ENV)
    ctx2 = Context(**settings)
    out2 = runner.run_claim(c, ctx2)
    assert (ctx2.cached, ctx2.computed) == (4, 2)
    assert not set(ctx1.computed_keys) & set(ctx2.computed_keys)
    ctx3 = Context(**settings)
    out3 = runner.run_claim(c, ctx3)
    assert (ctx3.cached, ctx3.computed) == (6, 0)
    assert out3.measured == out2.measured
    # a fresh, uncached computation gives the same figures (the cache stores exactly the results)
    fresh = runner.run_claim(c, Context(out=None, backend="numpy", seed_batch=4))
    np.testing.assert_allclose(fresh.measured["means"], out2.measured["means"], rtol=0, atol=0)


def test_cache_files_are_written_atomically(tmp_path):
    ctx = Context(out=tmp_path, backend="numpy", seed_batch=4)
    ctx.runs(_tiny_specs()[:1], 4)
    files = list((tmp_path / "cache").rglob("*"))
    assert not [f for f in files if f.suffix == ".tmp"]
    assert len([f for f in files if f.suffix == ".npz"]) == 1


def test_mutants_list_names_every_mutant(capsys):
    from checks.mutants import MUTANTS

    rc, out, _ = _run("mutants", "--list", capsys=capsys)
    assert rc == 0 and [line.split()[0] for line in out.splitlines()] == list(MUTANTS)


def test_mutants_writes_the_kill_matrix_and_resumes(capsys, tmp_path):
    """One mutant, two cheap claims: the kill matrix lands in mutants.json, mutants.md and report.md."""
    rc, _, _ = _run("verify", "--claims", "EF21-INV", "S004-L6", "--out", str(tmp_path), "--quiet", capsys=capsys)
    assert rc == 0
    rc, out, _ = _run("mutants", "--mutants", "ef-buffer-dropped", "--claims", "EF21-INV", "S004-L6",
                      "--out", str(tmp_path), "--quiet", capsys=capsys)
    doc = json.loads((tmp_path / "mutants.json").read_text())
    m = doc["mutants"]["ef-buffer-dropped"]
    assert doc["baseline"] == {"EF21-INV": "PASS", "S004-L6": "PASS"}
    assert "S004-L6" in m["killers"] and rc == 0
    assert "Kill matrix" in (tmp_path / "report.md").read_text()
    assert "kill-matrix" in (tmp_path / "report.html").read_text()
    assert "ef-buffer-dropped" in (tmp_path / "mutants.md").read_text()
    stored = sorted((tmp_path / "mutants" / "outcomes").glob("*.json"))
    assert len(stored) == 4                                    # 2 baseline + 2 mutated outcomes
    before = [p.stat().st_mtime_ns for p in stored]
    _run("mutants", "--mutants", "ef-buffer-dropped", "--claims", "EF21-INV", "S004-L6",
         "--out", str(tmp_path), "--quiet", capsys=capsys)
    assert [p.stat().st_mtime_ns for p in stored] == before    # resumed: nothing recomputed


def test_bound_claims_report_bound_over_measured_and_loose_bounds(tmp_path):
    from checks.report import LOOSE, bound_over_measured, write_reports

    assert bound_over_measured({"min_bound_over_measured": 440.4, "per_run": {"a": 1.0}}) == 440.4
    assert bound_over_measured({"bound / measured (min over T)": 3.01}) == 3.01
    assert bound_over_measured({"slope": {"value": -0.5}}) is None
    claims = [CATALOG["S004-C1"], CATALOG["EF21-T1"]]
    outs = [Outcome("S004-C1", PASS, measured={"min_bound_over_measured": 10 * LOOSE}),
            Outcome("EF21-T1", PASS, measured={"min_bound_over_measured": 2.28})]
    led = write_reports(tmp_path, claims, outs, settings={"tier": "quick", "backend": "torch", "out": str(tmp_path)})
    rows = {r["id"]: r for r in led["claims"]}
    assert rows["S004-C1"]["loose"] and not rows["EF21-T1"]["loose"]
    md = (tmp_path / "report.md").read_text()
    assert "bound/measured 1e+03 (loose: > 100x)" in md and "bound/measured 2.28;" in md


# ------------------------------------------------------------------------------- exit status of verify

def _one_line_error(rc, err, *words):
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("eftheory: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_recorded_findings_are_well_formed():
    from checks.claim import INCONCLUSIVE, PENDING
    from checks.expectations import FINDINGS, Finding, expected, measured_disagreements

    assert set(FINDINGS) <= set(CATALOG)
    for cid, f in FINDINGS.items():
        assert f.expected in (FAIL, INCONCLUSIVE, PENDING) and f.reason and f.where, cid
    assert expected("C-TOPK") == PASS
    assert set(measured_disagreements()) == {c for c, f in FINDINGS.items() if f.expected != PENDING}
    with pytest.raises(ValueError, match="expected verdict"):
        Finding(PASS, "r", "w")
    with pytest.raises(ValueError, match="reason"):
        Finding(FAIL, "", "w")


def test_claims_tests_read_their_xfail_marks_from_the_record():
    import test_claims
    from checks.expectations import measured_disagreements

    assert test_claims.MEASURED_FAILS == measured_disagreements()


@pytest.fixture
def record(monkeypatch):
    """A fixed table of findings (the project's own table changes as claims are reworked)."""
    from checks import expectations
    from checks.claim import INCONCLUSIVE, PENDING

    table = {"S001-EQ5": expectations.Finding(FAIL, "measured n-exponent -0.2", "docs/x.md#a"),
             "S003-T3": expectations.Finding(INCONCLUSIVE, "control not rejected", "docs/x.md#b"),
             "S000-Q": expectations.Finding(PENDING, "not run", "docs/x.md#c")}
    monkeypatch.setattr(expectations, "FINDINGS", table)
    return table


def test_exit_status_compares_verdicts_with_their_record(record):
    from checks.claim import INCONCLUSIVE, PENDING
    from checks.expectations import exit_status, mismatches

    matching = [Outcome("C-TOPK", PASS), Outcome("S001-EQ5", FAIL), Outcome("S003-T3", INCONCLUSIVE),
                Outcome("S000-Q", PENDING)]
    assert mismatches(matching) == [] and exit_status(matching) == 0
    assert exit_status(matching, strict=True) == 1                       # a recorded FAIL still fails --strict
    assert exit_status([Outcome("C-TOPK", PASS), Outcome("S000-Q", PENDING)], strict=True) == 0
    regressed = [Outcome("C-TOPK", FAIL), Outcome("S001-EQ5", FAIL)]
    assert exit_status(regressed) == 1
    assert mismatches(regressed) == [{"id": "C-TOPK", "verdict": FAIL, "expected": PASS, "kind": "regression"}]
    assert mismatches([Outcome("C-TOPK", INCONCLUSIVE)])[0]["kind"] == "regression"
    assert mismatches([Outcome("S003-T3", FAIL)])[0]["kind"] == "regression"
    assert exit_status([Outcome("S000-Q", FAIL)]) == 1                   # a pending claim that now runs and fails
    fixed = [Outcome("S001-EQ5", PASS)]
    assert exit_status(fixed) == 1 and mismatches(fixed)[0]["kind"] == "unexpected pass"
    # ledger rows are judged the same way as outcomes
    assert exit_status([{"id": "S001-EQ5", "verdict": FAIL}]) == 0
    assert exit_status([{"id": "S001-EQ5", "verdict": INCONCLUSIVE}]) == 1


@pytest.fixture
def fake_verify(monkeypatch):
    """`eftheory verify` with the ledger replaced by given verdicts (the reports are still written)."""
    verdicts = {}

    def fake(ids, *, tier, backend, device, jobs, out, progress):
        from checks.registry import resolve_ids
        from checks.report import write_reports

        claims = resolve_ids(ids)
        outs = [Outcome(c.id, verdicts[c.id]) for c in claims]
        write_reports(out, claims, outs, settings={"tier": tier, "backend": backend, "out": str(out)})
        return outs

    monkeypatch.setattr(runner, "verify", fake)
    return verdicts


def test_verify_exit_status_on_a_fake_ledger(fake_verify, record, capsys, tmp_path):
    from checks.claim import PENDING

    ids = ["C-TOPK", "S001-EQ5", "S000-Q"]
    args = ["verify", "--claims", *ids, "--out", str(tmp_path), "--quiet"]
    fake_verify.update({"C-TOPK": PASS, "S001-EQ5": FAIL, "S000-Q": PENDING})
    rc, out, err = _run(*args, capsys=capsys)
    assert rc == 0, out + err
    assert "every verdict matches its record" in out
    rows = {r["id"]: r for r in json.loads((tmp_path / "ledger.json").read_text())["claims"]}
    assert rows["S001-EQ5"]["expected"] == FAIL and rows["S001-EQ5"]["verdict"] == FAIL
    assert rows["S001-EQ5"]["finding"] == {"reason": "measured n-exponent -0.2", "where": "docs/x.md#a"}
    assert rows["S000-Q"]["expected"] == PENDING
    assert rows["C-TOPK"]["expected"] == PASS and rows["C-TOPK"]["finding"] is None

    rc, out, _ = _run(*args, "--strict", capsys=capsys)
    assert rc == 1 and "--strict" in out

    fake_verify["C-TOPK"] = FAIL                                        # a regression
    rc, out, _ = _run(*args, capsys=capsys)
    assert rc == 1 and "C-TOPK: FAIL, recorded PASS -- regression" in out

    fake_verify.update({"C-TOPK": PASS, "S001-EQ5": PASS})              # a finding that now passes
    rc, out, _ = _run(*args, "--json", capsys=capsys)
    doc = json.loads(out)
    assert rc == 1 and doc["exit"] == 1
    assert doc["differs_from_record"] == [{"id": "S001-EQ5", "verdict": PASS, "expected": FAIL,
                                           "kind": "unexpected pass"}]


# ------------------------------------------------------------------------------- list, --version, --help, signals

def test_list_json_parses_and_carries_the_record(capsys):
    rc, out, _ = _run("list", "--json", capsys=capsys)
    rows = json.loads(out)
    assert rc == 0 and [r["id"] for r in rows] == list(CATALOG)
    from checks.expectations import FINDINGS, expected

    by = {r["id"]: r for r in rows}
    for cid, r in by.items():
        assert r["expected"] == expected(cid)
        assert r["finding"] == (FINDINGS[cid].as_dict() if cid in FINDINGS else None)
    rc, out, _ = _run("list", "--kind", "S", "--json", capsys=capsys)
    assert rc == 0 and {r["kind"] for r in json.loads(out)} == {"S"}


def test_version(capsys):
    import eftheory

    rc, out, _ = _run("--version", capsys=capsys)
    assert rc == 0 and out.strip() == f"eftheory {eftheory.__version__}"


@pytest.mark.parametrize("command, shown", [
    ("verify", ["{quick,full}", "{numpy,torch}", "{cpu,cuda}", "--strict"]),
    ("list", ["{P,B,S,I,Q}", "--json"]),
    ("run", ["{numpy,torch}", "topk:K", "breast-cancer", "poly:G0:P"]),
    ("fit", ["{tight,bound}", "--window"]),
])
def test_help_shows_allowed_values(command, shown, capsys):
    rc, out, _ = _run(command, "--help", capsys=capsys)
    assert rc == 0
    flat = " ".join(out.split())
    for s in shown:
        assert s in flat, (s, out)


def test_ctrl_c_is_one_line_and_130(monkeypatch, capsys):
    from checks import commands

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "cmd_list", interrupted)
    rc, _, err = _run("list", capsys=capsys)
    assert rc == 130 and len(err.strip().splitlines()) == 1 and "interrupted" in err and "Traceback" not in err


def test_closed_pipe_ends_quietly():
    p = subprocess.Popen([sys.executable, "-m", "checks.cli", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()                       # the reader is gone before the first line is written
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
    assert p.returncode == 141


# ------------------------------------------------------------------------------- --out of every command

def _csv(path, rows, header=("seed", "K", "err")):
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _synthetic_rows(slope=-0.5, seeds=16, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    grid = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
    return [(s, K, 3.0 * K ** slope * np.exp(noise * rng.standard_normal())) for s in range(seeds) for K in grid]


def _out_commands(tmp_path):
    csv_file = _csv(tmp_path / "data.csv", _synthetic_rows(seeds=4))
    run_dir = tmp_path / "done"
    (run_dir / "plots").mkdir(parents=True)
    from checks.commands import save_plot_data

    save_plot_data(run_dir / "plots" / "X", {"title": "t", "xlabel": "K", "ylabel": "y",
                                             "series": [{"x": [1, 2, 4], "y": [1.0, 0.5, 0.25], "label": "s"}]})
    return {
        "verify": ["verify", "--claims", "C-TOPK", "--quiet"],
        "mutants": ["mutants", "--claims", "C-TOPK", "--quiet"],
        "run": ["run", "ef21", "--iters", "3", "--seeds", "1", "--quiet"],
        "fit": ["fit", str(csv_file), "--x", "K", "--y", "err"],
        "plot": ["plot", str(run_dir)],
    }


@pytest.mark.parametrize("form", ["existing-file", "file/sub", "/proc/x", "read-only", "empty"])
@pytest.mark.parametrize("command", ["verify", "mutants", "run", "fit", "plot"])
def test_out_that_cannot_be_written_is_one_line(command, form, capsys, tmp_path, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    if form == "read-only":
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        out = str(ro)
        if os.geteuid() == 0:              # permission bits do not stop root: refuse the write as a read-only mount does
            import tempfile

            real = tempfile.mkstemp

            def refuse(*a, dir=None, **k):
                if dir is not None and str(dir).startswith(out):
                    raise PermissionError(30, "Read-only file system", str(dir))
                return real(*a, dir=dir, **k)

            monkeypatch.setattr(tempfile, "mkstemp", refuse)
    else:
        out = {"existing-file": str(a_file), "file/sub": str(a_file / "sub"), "/proc/x": "/proc/x/y",
               "empty": ""}[form]
    args = _out_commands(tmp_path)[command]
    rc, out_text, err = _run(*args, "--out", out, capsys=capsys)
    _one_line_error(rc, err, "out must be a writable folder")
    assert not list(tmp_path.glob("**/*.npz"))            # nothing was computed


# ------------------------------------------------------------------------------- run and plot

@pytest.mark.parametrize("args, words", [
    (["run", "no-such-method"], ["name must be one of the registered algorithms", "no-such-method"]),
    (["run", "ef21", "--problem", "Qx"], ["problem must be one of", "Qx"]),
    (["run", "ef21", "--problem", "Q:d"], ["k=v"]),
    (["run", "ef21", "--problem", "Q:d=4,d=5"], ["twice"]),
    (["run", "ef21", "--problem", "Q:foo=1"], ["no parameter foo", "allowed:"]),
    (["run", "ef21", "--problem", "Q:d=0"], ["d must be"]),
    (["run", "ef21", "--compressor", "topk"], ["compressor must be one of"]),
    (["run", "ef21", "--compressor", "topk:x"], ["integer K"]),
    (["run", "ef21", "--compressor", "zip:3"], ["compressor must be one of"]),
    (["run", "ef21", "--compressor", "topk:50"], ["k must be"]),
    (["run", "ef21", "--compressor", "none"], ["compressor must be given"]),
    (["run", "signsgd", "--compressor", "topk:2"], ["compressor must be 'none'"]),
    (["run", "ef21", "--stepsize", "fast"], ["stepsize must be a number"]),
    (["run", "ef21", "--stepsize", "-1"], ["stepsize"]),
    (["run", "ef21-sgdm"], ["momentum must be given"]),
    (["run", "ef21", "--momentum", "0.5"], ["momentum must be None"]),
    (["run", "ef21", "--iters", "ten"], ["iters"]),
    (["run", "ef21", "--seeds", "0"], ["seeds"]),
    (["run", "ef21", "--option", "frobnicate=1"], ["not options of"]),
    (["run", "ef21", "--x0", "ones"], ["x0 must be"]),
    (["run", "ef21", "--backend", "jax"], ["invalid choice", "backend"]),
    (["run", "ef21", "--device", "tpu"], ["invalid choice", "device"]),
])
def test_run_bad_input_is_one_line(args, words, capsys, tmp_path):
    extra = [] if "--iters" in args else ["--iters", "5"]
    rc, _, err = _run(*args, *extra, "--quiet", "--out", str(tmp_path / "o"), capsys=capsys)
    _one_line_error(rc, err, *words)
    assert not (tmp_path / "o" / "trajectory.npz").exists()


def test_run_writes_the_trajectory_of_the_reference(capsys, tmp_path):
    import csv

    import algorithms
    from eftheory.compressors import TopK
    from eftheory.problems import problem_q
    from eftheory.schedules import polynomial

    out = tmp_path / "r"
    rc, text, err = _run("run", "ef21-sgdm-norm", "--problem", "Q:d=6,n=3", "--compressor", "topk:2",
                         "--iters", "40", "--seeds", "2", "--seed", "5", "--stepsize", "poly:0.5:0.75",
                         "--momentum", "poly:1:0.5", "--x0", "zeros", "--out", str(out), "--quiet", capsys=capsys)
    assert rc == 0, err
    for name in ("trajectory.npz", "trajectory.csv", "run.json", "plots/grad_norm.png", "plots/grad_norm.pdf"):
        assert (out / name).exists(), name
    with open(out / "trajectory.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["k", "seed", "grad_norm", "f", "bits"] and len(rows) == 2 * 41
    prob = problem_q(d=6, n=3)
    ref = algorithms.run("ef21-sgdm-norm", prob, TopK(2), np.zeros(6), 40, stepsize=polynomial(0.5, 0.75),
                         momentum=polynomial(1.0, 0.5), seed=6)
    mine = [r for r in rows if r["seed"] == "6"]
    np.testing.assert_array_equal([float(r["grad_norm"]) for r in mine], ref.grad_norm)
    np.testing.assert_array_equal([float(r["f"]) for r in mine], ref.f)
    bits = [float(r["bits"]) for r in mine]
    assert bits[0] == ref.init_bits_up and bits[-1] == pytest.approx(ref.init_bits_up + ref.bits_up.sum())
    with np.load(out / "trajectory.npz") as z:
        assert z["grad_norm"].shape == (2, 41) and list(z["seed"]) == [5, 6]
    assert json.loads((out / "run.json").read_text())["problem"] == {"name": "Q", "d": 6, "n": 3}


def test_run_then_plot_redraws_without_recomputing(capsys, tmp_path, monkeypatch):
    import algorithms

    out = tmp_path / "r"
    rc, _, err = _run("run", "ef21-norm", "--problem", "polynomial:d=3", "--iters", "30", "--seeds", "3",
                      "--stepsize", "0.05", "--out", str(out), "--quiet", capsys=capsys)
    assert rc == 0, err
    png = out / "plots" / "grad_norm.png"
    before = (out / "trajectory.npz").read_bytes()
    png.unlink()

    def no_runs(*a, **k):
        raise AssertionError("plot must not recompute")

    monkeypatch.setattr(algorithms, "run", no_runs)
    rc, text, err = _run("plot", str(out), capsys=capsys)
    assert rc == 0 and png.exists() and "1 plot(s) redrawn" in text, err
    assert (out / "trajectory.npz").read_bytes() == before
    rc, text, _ = _run("plot", str(out), "--out", str(tmp_path / "elsewhere"), "--json", capsys=capsys)
    assert rc == 0 and (tmp_path / "elsewhere" / "plots" / "grad_norm.png").exists()
    assert all(p.startswith(str(tmp_path / "elsewhere")) for p in json.loads(text)["files"])


def test_run_torch_backend_writes_every_seed(capsys, tmp_path):
    out = tmp_path / "t"
    rc, text, err = _run("run", "ef21-norm", "--backend", "torch", "--iters", "20", "--seeds", "3",
                         "--out", str(out), "--json", capsys=capsys)
    assert rc == 0, err
    doc = json.loads(text)
    assert doc["out"] == str(out) and math.isfinite(doc["final_grad_norm_mean"])
    with np.load(out / "trajectory.npz") as z:
        assert z["grad_norm"].shape == (3, 21) and z["bits"].shape == (3, 21)


def test_plot_redraws_saved_ledger_plot_data(capsys, tmp_path):
    """A rate claim of `verify` saves the arguments of its plot beside it; `plot` redraws from them."""
    from checks.commands import save_plot_data

    stem = tmp_path / "plots" / "S000-T9"
    x = np.array([10.0, 100.0, 1000.0])
    kw = {"title": "S000-T9", "xlabel": "K", "ylabel": "W_K",
          "series": [{"x": x, "y": 2 * x ** -0.5, "lo": 1.5 * x ** -0.5, "hi": np.array([0.7, np.nan, 0.07]),
                      "label": "W_K"}, {"x": x, "y": x ** -0.2, "lo": None, "hi": None, "label": "c", "dashed": True}],
          "fits": [{"x": x, "slope": -0.5, "intercept": math.log(2), "label": "fit"}],
          "refs": [{"x": x, "r": 0.5, "label": "K^-0.5"}]}
    path = save_plot_data(stem, kw)
    saved = json.loads(path.read_text())["kwargs"]
    assert saved["series"][0]["y"] == pytest.approx((2 * x ** -0.5).tolist()) and saved["series"][0]["hi"][1] is None
    rc, text, err = _run("plot", str(tmp_path), capsys=capsys)
    assert rc == 0, err
    assert stem.with_suffix(".png").exists() and stem.with_suffix(".pdf").exists()


def test_rate_claims_save_their_plot_data():
    """The one plotting call site of the rate claims stores the data `eftheory plot` redraws from."""
    import inspect

    from checks import verdicts

    src = inspect.getsource(verdicts._plot)
    assert "save_plot_data(" in src and src.index("save_plot_data(") < src.index("loglog_plot(")


@pytest.mark.parametrize("make, words", [
    (lambda p: p / "missing", ["DIR must be a folder"]),
    (lambda p: p, ["holds no saved results"]),
])
def test_plot_bad_dir(make, words, capsys, tmp_path):
    rc, _, err = _run("plot", str(make(tmp_path)), capsys=capsys)
    _one_line_error(rc, err, *words)


def test_plot_damaged_data_is_one_line(capsys, tmp_path):
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "A.data.json").write_text("{not json")
    rc, _, err = _run("plot", str(tmp_path), capsys=capsys)
    _one_line_error(rc, err, "not plot data")


# ------------------------------------------------------------------------------- fit

def test_fit_recovers_a_known_slope_and_decides_by_the_ledger_rule(capsys, tmp_path):
    f = _csv(tmp_path / "d.csv", _synthetic_rows())
    out = tmp_path / "fit"

    def fit(*extra):
        rc, text, err = _run("fit", str(f), "--x", "K", "--y", "err", "--out", str(out), "--json", *extra,
                             capsys=capsys)
        assert rc == 0, err
        return json.loads(text)

    doc = fit("--stated", "0.5")
    s = doc["slopes"]["all"]
    assert s["lo"] <= -0.5 <= s["hi"] and s["hi"] - s["lo"] < 0.05 and doc["seeds"] == 16 and doc["points"] == 9
    assert doc["verdict"] == "PASS"
    assert fit("--stated", "0.25")["verdict"] == "FAIL"             # decays faster than the stated rate
    assert fit("--stated", "0.25", "--rule", "bound")["verdict"] == "PASS"   # ... which an upper bound allows
    assert fit("--stated", "1.0", "--rule", "bound")["verdict"] == "FAIL"
    assert fit()["verdict"] is None
    assert (out / "plots" / "fit-d.png").exists() and (out / "plots" / "fit-d.data.json").exists()
    win = fit("--window", "100:1000")
    assert win["window"] == [100.0, 1000.0] and win["points"] == 4
    rc, text, _ = _run("fit", str(f), "--x", "K", "--y", "err", "--stated", "0.5", "--out", str(out), capsys=capsys)
    assert rc == 0 and "verdict: PASS" in text and "[" in text.splitlines()[0]


def test_fit_matches_eftheory_rates(capsys, tmp_path):
    """The command fits exactly what eftheory.rates fits on the seed x K matrix."""
    from eftheory import rates

    rows = _synthetic_rows(slope=-0.3, seeds=5, noise=0.2, seed=3)
    f = _csv(tmp_path / "d.csv", rows[::-1])                         # row order must not matter
    rc, text, _ = _run("fit", str(f), "--x", "K", "--y", "err", "--out", str(tmp_path / "o"), "--json", capsys=capsys)
    assert rc == 0
    grid = sorted({r[1] for r in rows})
    Y = np.array([[next(r[2] for r in rows if r[0] == s and r[1] == K) for K in grid] for s in range(5)])
    ref = rates.bootstrap_fit(np.array(grid, float), rates.mean_stat(Y), 5)
    got = json.loads(text)["slopes"]["all"]
    # the seeds enter the bootstrap in order of first appearance, reversed here: same slope, CI within resampling
    assert got["value"] == pytest.approx(ref.slope, abs=1e-12)
    assert abs(got["lo"] - ref.lo) < 0.05 and abs(got["hi"] - ref.hi) < 0.05


@pytest.mark.parametrize("rows, header, extra, words", [
    (None, ("seed", "K", "err"), ["--y", "loss"], ["column 'loss' is not in", "columns: seed, K, err"]),
    (None, ("run", "K", "err"), [], ["column 'seed' is not in"]),
    ([(0, 10, 1.0), (0, 20, "abc")], ("seed", "K", "err"), [], ["must hold numbers", "line 3", "abc"]),
    ([(0, 10, 1.0), (0, 20, "nan")], ("seed", "K", "err"), [], ["finite"]),
    ([(0, 10, 1.0), (0, 20, 0.5)], ("seed", "K", "err"), [], ["at least 2 seeds"]),
    ([(0, 10, 1.0), (0, 10, 0.5), (1, 10, 1.0)], ("seed", "K", "err"), [], ["two rows"]),
    ([(0, 10, 1.0), (1, 10, 1.1)], ("seed", "K", "err"), [], ["at least 2 values"]),
    ([(0, 0, 1.0), (0, 10, 1.0), (1, 0, 1.0), (1, 10, 1.0)], ("seed", "K", "err"), [], ["positive"]),
    ([(0, 1, -1.0), (0, 10, 1.0), (1, 1, -1.0), (1, 10, 1.0)], ("seed", "K", "err"), [], ["positive"]),
    ([], ("seed", "K", "err"), [], ["no data rows"]),
    (None, ("seed", "K", "err"), ["--window", "5"], ["window must be a:b"]),
    (None, ("seed", "K", "err"), ["--window", "9:1"], ["a <= b"]),
    (None, ("seed", "K", "err"), ["--stated", "x"], ["invalid float"]),
    (None, ("seed", "K", "err"), ["--rule", "loose"], ["invalid choice"]),
])
def test_fit_bad_input_is_one_line(rows, header, extra, words, capsys, tmp_path):
    rows = _synthetic_rows(seeds=3) if rows is None else rows
    f = _csv(tmp_path / "d.csv", rows, header)
    args = ["fit", str(f), "--x", "K", "--y", "err", "--out", str(tmp_path / "o")]
    if "--y" in extra:
        args = args[:4] + args[6:]
    rc, _, err = _run(*args, *extra, capsys=capsys)
    _one_line_error(rc, err, *words)


def test_fit_missing_or_empty_file(capsys, tmp_path):
    rc, _, err = _run("fit", str(tmp_path / "none.csv"), "--x", "K", "--y", "e", capsys=capsys)
    _one_line_error(rc, err, "readable CSV")
    (tmp_path / "empty.csv").write_text("")
    rc, _, err = _run("fit", str(tmp_path / "empty.csv"), "--x", "K", "--y", "e", capsys=capsys)
    _one_line_error(rc, err, "empty")


# ------------------------------------------------------------------------------- derive

def test_derive_lists_shows_latex_and_evaluates(capsys):
    from eftheory.derivations import all_derivations

    rc, out, _ = _run("derive", capsys=capsys)
    assert rc == 0 and [line.split()[0] for line in out.splitlines()] == [d.name for d in all_derivations()]
    rc, out, _ = _run("derive", "ef21", capsys=capsys)
    assert rc == 0 and all(line.startswith("ef21.") for line in out.splitlines())
    rc, out, _ = _run("derive", "ef21.theta", "--at", "alpha=0.19", capsys=capsys)
    assert rc == 0
    assert r"latex: \theta = 1 - \sqrt{1 - \alpha}" in out
    value = float(next(line for line in out.splitlines() if line.startswith("value")).split(":")[1])
    assert value == pytest.approx(0.1, abs=1e-12)                     # 1 - sqrt(0.81)
    rc, out, _ = _run("derive", "ef21.stepsize", "--json", capsys=capsys)
    doc = json.loads(out)
    assert rc == 0 and doc["value"] is None and doc["missing"] == ["L", "L_tilde", "alpha"] and "\\gamma" in doc["latex"]
    rc, out, _ = _run("derive", "ef21.stepsize", "--at", "L=1", "L_tilde=1", "alpha=1", "--json", capsys=capsys)
    assert json.loads(out)["value"] == pytest.approx(1.0)             # alpha = 1: gamma = 1/L
    rc, out, _ = _run("derive", "ef21.stepsize", "--at", "alpha=1", capsys=capsys)
    assert rc == 0 and "give --at L=... L_tilde=..." in out
    rc, out, _ = _run("derive", "momentum.exponents_polyak", "--json", capsys=capsys)
    assert json.loads(out)["value"] == [0.75, 0.5]


@pytest.mark.parametrize("args, words", [
    (["derive", "ef21.nothing"], ["derivation must be one of"]),
    (["derive", "ef21.theta", "--at", "beta=1"], ["beta is not a symbol", "allowed: alpha"]),
    (["derive", "ef21.theta", "--at", "alpha"], ["k=v"]),
    (["derive", "ef21.theta", "--at", "alpha=x"], ["must be a number"]),
    (["derive", "ef21.theta", "--at", "alpha=0.1", "alpha=0.2"], ["twice"]),
    (["derive", "--at", "alpha=0.1"], ["needs one derivation NAME"]),
])
def test_derive_bad_input_is_one_line(args, words, capsys):
    rc, _, err = _run(*args, capsys=capsys)
    _one_line_error(rc, err, *words)


def test_plot_redraws_the_experiment_curves(capsys, tmp_path):
    """An experiment claim's figure saves its curves beside it; `plot` redraws them without training."""
    from eftheory.experiments import plot_curves

    rng = np.random.default_rng(0)
    recs = [{"train_loss": np.exp(-0.3 * np.arange(5)) + 0.01 * rng.random(5), "test_acc": np.linspace(0.2, 0.9, 5),
             "grad_norm": np.linspace(2.0, 0.5, 5), "wall": np.linspace(0.0, 1.0, 5)} for _ in range(3)]
    plot_curves(tmp_path / "src" / "plots" / "S000-Q", {"a": recs, "b": recs}, title="S000-Q")
    saved = json.loads((tmp_path / "src" / "plots" / "S000-Q.data.json").read_text())
    assert saved["plot"] == "curves" and len(saved["kwargs"]["curves"]["a"]) == 3
    rc, text, err = _run("plot", str(tmp_path / "src"), "--out", str(tmp_path / "re"), capsys=capsys)
    assert rc == 0, err
    assert (tmp_path / "re" / "plots" / "S000-Q.png").exists() and (tmp_path / "re" / "plots" / "S000-Q.pdf").exists()


def test_fit_window_that_keeps_no_row_is_one_line(capsys, tmp_path):
    f = _csv(tmp_path / "d.csv", _synthetic_rows(seeds=3), ("seed", "K", "err"))
    rc, _, err = _run("fit", str(f), "--x", "K", "--y", "err", "--window", "1e9:2e9", "--out", str(tmp_path / "o"),
                      capsys=capsys)
    _one_line_error(rc, err, "no row", "window")


@pytest.mark.parametrize("text", ['{"plot": "nope", "kwargs": {}}', '{"plot": "loglog", "kwargs": {"x": "q"}}',
                                  '{"plot": "curves", "kwargs": {"curves": 5}}', '{"plot": "loglog", "kwargs": 3}'])
def test_plot_malformed_data_json_is_one_line(text, capsys, tmp_path):
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "x.data.json").write_text(text)
    rc, _, err = _run("plot", str(tmp_path), "--out", str(tmp_path / "re"), capsys=capsys)
    _one_line_error(rc, err, "is not plot data")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_derive_at_non_finite_is_one_line(value, capsys):
    rc, _, err = _run("derive", "ef21.theta", "--at", f"alpha={value}", capsys=capsys)
    _one_line_error(rc, err, "finite number")


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_fit_stated_non_finite_is_one_line(value, capsys, tmp_path):
    f = _csv(tmp_path / "d.csv", _synthetic_rows(seeds=3), ("seed", "K", "err"))
    rc, _, err = _run("fit", str(f), "--x", "K", "--y", "err", "--stated", value, "--out", str(tmp_path / "o"),
                      capsys=capsys)
    _one_line_error(rc, err, "stated must be a finite number")
