"""Invalid inputs of the claims ledger: eftheory.rates, checks.runner, checks.catalog, checks.claim."""

from checks import catalog
from checks.claim import Claim, Outcome
from checks.runner import check_device, verify
from eftheory import rates
from invalid_inputs import InvalidCase

CASES = [
    InvalidCase("verify-unknown-claim", lambda: verify(["NOPE-1"], out="/nonexistent-eftheory"), ("claim id", "catalog")),
    InvalidCase("verify-jobs-zero", lambda: verify(jobs=0, out="/nonexistent-eftheory"), ("jobs", "[1")),
    InvalidCase("verify-bad-tier", lambda: verify(tier="medium", out="/nonexistent-eftheory"), ("tier", "'quick'")),
    InvalidCase("verify-bad-backend", lambda: verify(backend="jax", out="/nonexistent-eftheory"), ("backend", "'numpy'")),
    InvalidCase("verify-bad-device", lambda: verify(device="tpu", out="/nonexistent-eftheory"), ("device", "'cpu'")),
    InvalidCase("device-bad-name", lambda: check_device("gpu"), ("device", "'cuda'")),
    InvalidCase("catalog-unknown-id", lambda: catalog.get("S999-T9"), ("claim id",)),
    InvalidCase("outcome-bad-verdict", lambda: Outcome("S000-T1", "MAYBE"), ("verdict", "PASS")),
    InvalidCase("claim-bad-kind", lambda: Claim("X", "000", "T", "Z", "s"), ("kind", "S")),
    InvalidCase("claim-bad-paper", lambda: Claim("X", "007", "T", "S", "s"), ("paper", "000")),
    InvalidCase("claim-bad-quantity", lambda: Claim("X", "000", "T", "S", "s", quantity="m_7"), ("quantity", "m_1")),
    InvalidCase("rates-grid-too-dense", lambda: rates.log_grid(1, 3, 10), ("m must",)),
    InvalidCase("rates-grid-bad-lo", lambda: rates.log_grid(0, 3, 2), ("lo", "[1")),
    InvalidCase("rates-one-seed", lambda: rates.bootstrap_counts(1), ("n_seeds", "[2")),
    InvalidCase("rates-bad-level", lambda: rates.bootstrap_fit([1, 2], rates.mean_stat([[1.0, 2.0], [1.0, 2.0]]), 2,
                                                               level=1.5), ("level", "(0")),
    InvalidCase("rates-short-grid", lambda: rates.bootstrap_fit([1], rates.mean_stat([[1.0], [1.0]]), 2), ("x must",)),
    InvalidCase("rates-gamma-length", lambda: rates.weighted_average([1.0, 1.0], [1.0]), ("gamma", "length")),
    InvalidCase("rates-direction", lambda: rates.threshold_verdict(
        rates.Fit(0.0, 0.0, 0.0, 0.95, 2, 10, (1.0, 2.0), (1.0, 1.0), 0.0), 0.0, direction="up"), ("direction", "'le'")),
]
