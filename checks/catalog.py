"""Every claim of the ledger with its metadata; a claim module attaches the executable check.

The catalog holds one row per checkable claim of the five papers (55 rows). A module
``checks/claims_<area>.py`` defines ``CLAIMS`` -- a list of :class:`checks.claim.Claim` -- usually
built with :func:`claim` (the catalog row plus a ``run`` callable and any refinements). A row no
module makes executable is reported as PENDING with the reason given here (or a default one).
"""

from __future__ import annotations

from dataclasses import replace

from .claim import Claim

__all__ = ["CATALOG", "ids", "get", "claim"]


def _c(id, paper, theorem, kind, statement, *, quantity="", stated=None, reconstructed=False,
       pending="", algorithm="", problem="", schedule=""):
    return Claim(id=id, paper=paper, theorem=theorem, kind=kind, statement=statement, quantity=quantity,
                 stated=stated, reconstructed=reconstructed, pending=pending, algorithm=algorithm,
                 problem=problem, schedule=schedule)


_DL = "needs deep-network training on an image data set; not run by the ledger"

_ROWS = [
    # ---------------------------------------------------------------- compressors and invariants
    _c("C-TOPK", "000/001/004", "compressor definition", "P",
       "Top-K keeps at least a K/d share of the squared norm (alpha = K/d)."),
    _c("C-RANDK", "000", "compressor definition", "P",
       "Rand-K is K/d-contractive; scaled by d/K it is unbiased with variance factor d/K - 1."),
    _c("C-SSIGN", "002", "compressor definition", "P",
       "Scaled sign loses at most 1 - ||v||_1^2/(d||v||^2) of the squared norm, so alpha >= 1/d."),
    _c("C-SR", "003", "stochastic sign S_R", "P",
       "The stochastic sign S_R has mean v/R and per-coordinate variance 1 - v_k^2/R^2.", reconstructed=True),
    _c("EF21-INV", "000/001/004", "Algorithm 1 (004)", "I",
       "The server's aggregate equals the mean of the client memories at every step."),
    _c("EF21-T1", "004", "EF21 theorem (baseline)", "B",
       "EF21 with its theory stepsize: the uniform random iterate's squared gradient norm is O(1/T).",
       quantity="other: uniform random iterate, squared norm"),
    # ---------------------------------------------------------------- 004 / 001: normalized EF21
    _c("S004-L2", "004", "Lemma 2", "P", "The (L0,L1)-smoothness inequalities hold pointwise."),
    _c("S004-L3", "004", "Lemma 3", "P",
       "The mean local gradient norm is bounded by 8L1(f - f_inf) + 8L1 delta_inf + L0/L1."),
    _c("S004-L4", "004", "Lemma 4", "P", "A normalized step decreases f up to the error and curvature terms."),
    _c("S004-L5", "004", "Lemma 5", "P", "The sequence lemma holds on synthetic sequences meeting its hypotheses."),
    _c("S004-L6", "004", "Lemma 6", "P", "Each client's error-feedback distance obeys its one-step recursion."),
    _c("S004-L7", "004", "Lemma 7", "P", "The Lyapunov function decreases by the stated amount each step."),
    _c("S004-T1", "004", "Theorem 1", "S",
       "Normalized EF21 with gamma0/sqrt(K+1) drives min_k ||grad f|| down like K^(-1/2).",
       quantity="m_1", stated={"exponent": 0.5}, algorithm="ef21-norm",
       problem="logistic (n=20, d=10, lambda=0.1); polynomial (d=4, L1=4)",
       schedule="gamma_k = gamma0/sqrt(K+1), fixed horizon"),
    _c("S004-C1", "004", "Corollary 1", "B",
       "With gamma0 = 1/(8cL1) the min gradient norm is below (32cL1V0 + L0/L1 + 2L1 delta_inf)/sqrt(K+1).",
       quantity="m_1"),
    _c("S004-C2", "004", "Corollary (L-smooth)", "B",
       "For L-smooth f the normalized EF21 bound is at most 2*sqrt(2) times EF21's.", quantity="m_1"),
    _c("S001-T3", "001", "Theorem 3", "B",
       "Single node with a constant step: the average gradient norm reaches its floor at rate 1/K.",
       quantity="other: average over k", reconstructed=True),
    _c("S001-T2", "001", "Theorem 2", "S",
       "Normalized EF21-SGDM with eta = (K+1)^(-1/2), gamma = (K+1)^(-3/4) reaches rate K^(-1/4).",
       quantity="other: beta_k-weighted average (beta_k = 1 when L1 = 0), >= m_1",
       stated={"exponent": 0.25}, algorithm="ef21-sgdm-norm", problem="Q (eps_std = 3)",
       schedule="eta = (K+1)^(-1/2), gamma = (K+1)^(-3/4), fixed horizon"),
    _c("S001-EQ5", "001", "eq. (5) and Theorem 2", "S",
       "With n clients the noise term of the rate shrinks like sigma/sqrt(n): the K-average of ||grad f|| and the "
       "averaged momentum error stay below Theorem 2's bound with its sigma/sqrt(n) term evaluated, for every n.",
       quantity="other: K-average of E||grad f(x^k)|| and of E||g^k - grad f(x^k)|| at fixed K, versus n",
       stated={"n_exponent": -0.5, "form": "bound with a sigma/sqrt(n) term"}, algorithm="ef21-sgdm-norm"),
    _c("S001-L7", "001", "Lemma 7", "P", "The descent inequality with the split error holds along a run."),
    _c("S001-L8", "001", "Lemma 8", "P", "The client error recursion for momentum targets holds.", reconstructed=True),
    _c("S001-L9", "001", "Lemma 9", "P", "The averaged momentum error obeys its decay-plus-noise bound.",
       reconstructed=True),
    # ---------------------------------------------------------------- 000: momentum variants
    _c("S000-L2", "000", "Lemma 2", "P", "Normalized descent inequality with L-smoothness holds along a run.",
       reconstructed=True),
    _c("S000-L3", "000", "Lemma 3", "P", "The EF21 memory tracks the momentum with contraction sqrt(1-alpha)."),
    _c("S000-L4", "000", "Lemma 4", "P", "The weighted schedule sum is O(gamma_T/eta_T) for the three schedules."),
    _c("S000-T1", "000", "Theorem 1", "S",
       "Normalized EF21 with Polyak momentum reaches O~(K^(-1/4)) without tuning to problem constants.",
       quantity="W_K", stated={"exponent": 0.25}, algorithm="ef21-sgdm-norm", problem="Q",
       schedule="gamma_k = (2/(k+2))^(3/4), eta_k = (2/(k+2))^(1/2)"),
    _c("S000-T2", "000", "Theorem 2", "S",
       "Normalized EF21 with implicit gradient transport reaches O~(K^(-2/7)).",
       quantity="W_K", stated={"exponent": 2 / 7}, algorithm="ef21-igt-norm", problem="Q4",
       schedule="gamma_k = (2/(k+2))^(5/7), eta_k = (2/(k+2))^(4/7)"),
    _c("S000-T3", "000", "Theorem 3", "S",
       "Normalized EF21 with randomized Hessian momentum reaches O~(K^(-1/3)).",
       quantity="W_K", stated={"exponent": 1 / 3}, algorithm="ef21-rhm-norm", problem="Q",
       schedule="gamma_k = (2/(k+2))^(2/3), eta_k = (2/(k+2))^(2/3)"),
    _c("S000-T4", "000", "Theorem 4", "S",
       "Normalized EF21 with Hessian momentum reaches O~(K^(-1/3)).",
       quantity="W_K", stated={"exponent": 1 / 3}, algorithm="ef21-hm-norm", problem="Q4",
       schedule="gamma_k = (2/(k+2))^(2/3), eta_k = (2/(k+2))^(2/3)"),
    _c("S000-T5", "000", "Theorem 5", "S",
       "Normalized EF21 with STORM-type momentum reaches O~(K^(-1/3)) with two gradients per step.",
       quantity="W_K", stated={"exponent": 1 / 3}, algorithm="ef21-mvr-norm", problem="Q",
       schedule="gamma_k = (2/(k+2))^(2/3), eta_k = (2/(k+2))^(2/3)"),
    _c("S000-RED", "000", "Section 5", "I",
       "Without compression and with one client each variant is its centralized normalized method."),
    _c("S000-Q", "000", "Section 7 experiments", "Q",
       "The normalized momentum variants train faster per epoch than EF21-SGD / EF21-SGDM / EControl; HM is best "
       "per epoch and IGT per wall-clock (paper: ResNet-18 / CIFAR-10; here: bundled digits, small CNN / MLP).",
       pending="needs ResNet-18/CIFAR-10 training"),
    # ---------------------------------------------------------------- 002: SAEF
    _c("S002-AUX", "002", "eq. (3)", "I",
       "The auxiliary sequence moves by the averaged momentum for EF and SAEF alike."),
    _c("S002-Z", "002", "proof of Theorem 3", "I",
       "The momentum virtual sequence moves by the averaged stochastic gradient."),
    _c("S002-MIS", "002", "eqs. (9)-(11)", "P", "The gradient-mismatch bounds of EF and SAEF hold in expectation."),
    _c("S002-P1", "002", "Proposition 1", "P",
       "SAEF's mismatch bound is below EF's when the error variance is below its squared mean."),
    _c("S002-AL1", "002", "Lemma A.1", "P", "The momentum's second moment is at most (M^2+sigma^2)/(1-mu)^2."),
    _c("S002-AL2", "002", "Lemma A.2", "P", "The local error's second moment obeys the (corrected) compression bound."),
    _c("S002-AL5", "002", "Lemma A.5 / Lemma 1", "P",
       "The SAEF mismatch term obeys its bound (gated on the corrected constant)."),
    _c("S002-T1", "002", "Theorem 1", "B", "SAEF-SGD: the auxiliary iterate's min squared gradient obeys bound (16).",
       quantity="m_sq"),
    _c("S002-T2", "002", "Theorem 2", "B", "SAEF-SGD: the model iterate's min squared gradient obeys bound (17).",
       quantity="m_sq"),
    _c("S002-C1", "002", "Corollary 1", "P", "SAEF's compression term is smaller than that of plain EF-SGD."),
    _c("S002-C2", "002", "Corollary 2", "S",
       "SAEF-SGD with eta proportional to sqrt(n/T) reaches min squared gradient O(1/sqrt(nT)).",
       quantity="m_sq", stated={"exponent": 0.5}, algorithm="saef"),
    _c("S002-T3", "002", "Theorem 3", "B", "SAEF-SGDM: the min squared gradient obeys bounds (21)-(22).",
       quantity="m_sq"),
    _c("S002-C3", "002", "Corollary 3", "S",
       "SAEF-SGDM with eta proportional to sqrt(n/T) reaches min squared gradient O(1/sqrt(nT)).",
       quantity="m_sq", stated={"exponent": 0.5}, algorithm="saef"),
    _c("S002-Q", "002", "Section 5 experiments", "Q",
       "SAEF trains faster than EF and than uncompressed SGDM per epoch, more so with sparser compression and "
       "shorter averaging periods (paper: ResNet-56 / CIFAR-100; here: bundled digits, small CNN / MLP).",
       pending="needs ResNet-56/CIFAR-100 training"),
    # ---------------------------------------------------------------- 003: sign methods
    _c("S003-L1", "003", "Lemma 1", "P", "Separable smoothness implies l_inf-smoothness with constant ||L||_1."),
    _c("S003-T1", "003", "Theorem 1", "S",
       "The sign momentum method reaches an l1 gradient average of O(sqrt(d) T^(-1/4)).",
       quantity="A_1", stated={"exponent": 0.25, "d_exponent": 0.5}, algorithm="smm", reconstructed=True,
       schedule="beta = T^(-1/2), eta = d^(-1/2) T^(-3/4), fixed horizon"),
    _c("S003-T2", "003", "Theorem 2", "B",
       "Under l_inf-smoothness and separable noise the sign momentum method reaches A_1 = O(T^(-1/4)).",
       quantity="A_1", reconstructed=True),
    _c("S003-T3", "003", "Theorem 3", "S",
       "Majority-vote sign momentum (v1) reaches A_1 = O(d T^(-1/2) + d n^(-1/2)).",
       quantity="A_1", stated={"exponent": 0.5, "n_floor_exponent": -0.5}, algorithm="mvsm-v1",
       reconstructed=True),
    _c("S003-T4", "003", "Theorem 4", "S",
       "With eta = (dT)^(-1/2), majority-vote sign momentum (v1) reaches A_1 = O(sqrt(d) T^(-1/2) + d n^(-1/2)).",
       quantity="A_1", stated={"exponent": 0.5, "n_floor_exponent": -0.5}, algorithm="mvsm-v1",
       reconstructed=True),
    _c("S003-T5", "003", "Theorem 5", "S",
       "Majority-vote sign momentum with an unbiased server sign (v2) drives A_2 to zero at rate T^(-1/4) for T <= d^3.",
       quantity="A_2", stated={"exponent": 0.25}, algorithm="mvsm-v2", reconstructed=True),
    _c("S003-Q", "003", "Section 6 experiments", "Q",
       "SMM beats signSGD, SGDM and AdamW; MVSM (v1, v2) beats sto-signSGD, majority-vote signSGD and Signum (paper: "
       "ResNet-18 / CIFAR-10, ResNet-50 / CIFAR-100; here: bundled digits and breast_cancer, small CNN / MLP).",
       pending="needs ResNet-18/CIFAR-10 and ResNet-50/CIFAR-100 training"),
    # ---------------------------------------------------------------- experiment problems
    _c("E-LOGREG", "004", "Section 4.1 / App. E", "P",
       "The logistic problem's smoothness constants are valid and it is nonconvex for large lambda."),
    _c("E-POLY", "004", "App. F.1", "P",
       "The polynomial's (L0,L1) and box-L constants are valid and it is nonconvex."),
    _c("E-FIG", "004", "Figures (polynomial)", "Q",
       "Normalized EF21 reaches ||grad f||^2 < 1e-4 before EF21; EF21 with a step from L0 diverges."),
]

CATALOG: dict[str, Claim] = {c.id: c for c in _ROWS}
assert len(CATALOG) == len(_ROWS) == 55


def ids() -> list[str]:
    return list(CATALOG)


def get(claim_id: str) -> Claim:
    if claim_id not in CATALOG:
        raise ValueError(f"claim id must be one of the {len(CATALOG)} catalog ids (see `eftheory list`); got {claim_id!r}")
    return CATALOG[claim_id]


def claim(claim_id: str, run, **overrides) -> Claim:
    """The catalog row ``claim_id`` with an executable ``run`` and refined metadata."""
    return replace(get(claim_id), run=run, pending="", **overrides)
