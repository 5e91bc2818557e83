"""The `eftheory` command line: listing, one-line errors, reports, exit codes and resumption."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from checks import cli, runner
from checks.catalog import CATALOG, claim
from checks.claim import FAIL, PASS, Outcome
from checks.context import FAIL_AFTER_ENV, Context, TestInterrupt
from checks.simulate import RunSpec


def _run(*args, capsys):
    rc = cli.main(list(args))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_list_names_every_catalog_claim(capsys):
    rc, out, _ = _run("list", capsys=capsys)
    assert rc == 0
    ids = [line.split()[0] for line in out.splitlines()]
    assert ids == list(CATALOG) and len(ids) == 55
    assert "PENDING" in out and "[R]" in out


@pytest.mark.parametrize("args, words", [
    (["verify", "--claims", "NOPE-1"], ["claim id"]),
    (["verify", "--jobs", "0"], ["jobs"]),
    (["verify", "--jobs", "two"], ["jobs"]),
    (["verify", "--tier", "medium"], ["tier"]),
    (["verify", "--backend", "jax"], ["backend"]),
    (["verify", "--device", "tpu"], ["device"]),
    (["verify", "--bogus-flag"], ["unrecognized"]),
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
    rc, out, err = _run("verify", "--claims", "C-TOPK", "S000-Q", "--out", str(tmp_path), "--quiet", capsys=capsys)
    led = json.loads((tmp_path / "ledger.json").read_text())
    rows = {r["id"]: r for r in led["claims"]}
    assert set(rows) == {"C-TOPK", "S000-Q"}
    assert rows["S000-Q"]["verdict"] == "PENDING" and "ResNet-18/CIFAR-10" in rows["S000-Q"]["notes"]
    for key in ("verdict", "stated", "measured", "controls", "controls_rejected", "plots", "reconstructed"):
        assert key in rows["C-TOPK"]
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "report.html").read_text()
    assert "C-TOPK" in md and "Summary:" in md and "<table>" in html
    assert rc == (1 if rows["C-TOPK"]["verdict"] == FAIL else 0)


def test_exit_code_counts_only_non_reconstructed_failures():
    a, r = CATALOG["S000-T1"], CATALOG["S003-T5"]
    assert not a.reconstructed and r.reconstructed
    assert runner.exit_code([a, r], [Outcome(a.id, PASS), Outcome(r.id, FAIL)]) == 0
    assert runner.exit_code([a, r], [Outcome(a.id, FAIL), Outcome(r.id, PASS)]) == 1


# ------------------------------------------------------------------------------- resumption

def _tiny_specs():
    prob = {"kind": "sign-hetero", "d": 4, "n": 2, "seed": 0, "shift": 0.0}
    return [RunSpec("saef", prob, "topk:1", {"rule": "around_opt", "scale": 1.0, "seed": 0}, 20 + k, ("const", 0.05),
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
