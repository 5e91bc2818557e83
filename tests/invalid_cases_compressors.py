"""Invalid inputs of eftheory.compressors: each raises a one-line ValueError naming the parameter."""

import numpy as np

from eftheory import compressors as cp
from invalid_inputs import InvalidCase


def _torch_randk_without_generator():
    import torch

    return cp.RandK(1).torch(torch.zeros(3, dtype=torch.float64))


CASES = [
    InvalidCase("topk-k-zero", lambda: cp.TopK(0), ("k", "[1")),
    InvalidCase("topk-k-negative", lambda: cp.TopK(-2), ("k", "[1")),
    InvalidCase("topk-k-not-integer", lambda: cp.TopK(2.5), ("k", "integer")),
    InvalidCase("topk-k-string", lambda: cp.TopK("3"), ("k", "integer")),
    InvalidCase("topk-k-bool", lambda: cp.TopK(True), ("k", "integer")),
    InvalidCase("topk-k-above-d-validate", lambda: cp.TopK(12).validate(10), ("k", "[1, d=10]", "12")),
    InvalidCase("topk-k-above-d-call", lambda: cp.TopK(12)(np.ones(10)), ("k", "[1, d=10]")),
    InvalidCase("topk-from-ratio-zero", lambda: cp.TopK.from_ratio(0.0, 10), ("ratio", "(0")),
    InvalidCase("topk-from-ratio-above-one", lambda: cp.TopK.from_ratio(1.5, 10), ("ratio", "1]")),
    InvalidCase("topk-from-ratio-bad-d", lambda: cp.TopK.from_ratio(0.5, 0), ("d", "[1")),
    InvalidCase("randk-k-zero", lambda: cp.RandK(0), ("k", "[1")),
    InvalidCase("randk-k-above-d", lambda: cp.RandK(4)(np.ones(3), np.random.default_rng(0)), ("k", "[1, d=3]")),
    InvalidCase("randk-needs-rng", lambda: cp.RandK(1)(np.ones(3)), ("rng", "Generator")),
    InvalidCase("randk-legacy-rng", lambda: cp.RandK(1)(np.ones(3), np.random.RandomState(0)), ("rng", "Generator")),
    InvalidCase("randk-shared-seed-not-bool", lambda: cp.RandK(1, shared_seed="yes"), ("shared_seed", "True or False")),
    InvalidCase("randk-u-wrong-shape", lambda: cp.RandK(1).apply(np.ones(3), np.zeros(4)), ("u", "shape")),
    InvalidCase("randk-u-missing", lambda: cp.RandK(1).apply(np.ones(3)), ("u", "[0, 1)")),
    InvalidCase("randk-torch-needs-generator", _torch_randk_without_generator, ("generator", "torch.Generator")),
    InvalidCase("scaled-randk-k-nan", lambda: cp.ScaledRandK(float("nan")), ("k", "integer")),
    InvalidCase("scaled-randk-alpha-not-contractive", lambda: cp.ScaledRandK(2).alpha(10), ("alpha", "k > d/2")),
    InvalidCase("topk-omega-biased", lambda: cp.TopK(1).omega(3), ("omega", "unbiased")),
    InvalidCase("sign-alpha-not-contractive", lambda: cp.Sign().alpha(3), ("alpha", "not a contractive")),
    InvalidCase("unbiased-sign-R-zero", lambda: cp.UnbiasedSign(0.0), ("R", "(0")),
    InvalidCase("unbiased-sign-R-negative", lambda: cp.UnbiasedSign(-1.0), ("R", "(0")),
    InvalidCase("unbiased-sign-R-nan", lambda: cp.UnbiasedSign(float("nan")), ("R", "finite")),
    InvalidCase("unbiased-sign-bad-on-violation", lambda: cp.UnbiasedSign(1.0, on_violation="ignore"),
                ("on_violation", "'raise'", "'clip'")),
    InvalidCase("unbiased-sign-violation-raise",
                lambda: cp.UnbiasedSign(1.0)(np.array([0.5, -3.0]), np.random.default_rng(0)),
                ("R", "max |v_j| = 3")),
    InvalidCase("unbiased-sign-nan-raise",
                lambda: cp.UnbiasedSign(1.0).apply(np.array([0.5, np.nan]), np.zeros(2)), ("R", "nan")),
    InvalidCase("unbiased-sign-alpha", lambda: cp.UnbiasedSign(1.0).alpha(3), ("alpha", "not a contractive")),
    InvalidCase("bits-unknown-convention", lambda: cp.TopK(1).bits(10, convention="bytes"),
                ("convention", "'values'", "'values+indices'")),
    InvalidCase("bits-k-above-d", lambda: cp.TopK(5).bits(3), ("k", "[1, d=3]")),
    InvalidCase("identity-d-zero", lambda: cp.Identity().alpha(0), ("d", "[1")),
    InvalidCase("compress-scalar", lambda: cp.Sign()(3.0), ("v", "axis")),
    InvalidCase("blockwise-size-zero", lambda: cp.Blockwise(cp.Sign(), [2, 0]), ("sizes", "[1")),
    InvalidCase("blockwise-sizes-empty", lambda: cp.Blockwise(cp.Sign(), []), ("sizes", "non-empty")),
    InvalidCase("blockwise-k-above-block", lambda: cp.Blockwise(cp.TopK(3), [4, 2]), ("k", "[1, d=2]")),
    InvalidCase("blockwise-wrong-count", lambda: cp.Blockwise([cp.Sign()], [2, 2]), ("compressor", "2 Compressors")),
    InvalidCase("blockwise-d-mismatch", lambda: cp.Blockwise(cp.Sign(), [2, 2])(np.ones(5)), ("d", "sum(sizes)=4")),
    InvalidCase("contraction-ratio-zero-v", lambda: cp.contraction_ratio(cp.TopK(1), np.zeros(3)), ("v", "nonzero")),
    InvalidCase("enumerate-not-randk", lambda: cp.enumerate_randk_moments(cp.TopK(1), np.ones(3)), ("C", "RandK")),
    InvalidCase("enumerate-too-large", lambda: cp.enumerate_randk_moments(cp.RandK(15), np.ones(30)), ("v", "C(d, k)")),
    InvalidCase("sign-law-bad-grid", lambda: cp.sign_law(np.zeros(2), 1.0, grid=1), ("grid", "[2")),
    InvalidCase("sign-mc-bad-confidence",
                lambda: cp.sign_monte_carlo(np.zeros(2), 1.0, np.random.default_rng(0), confidence=1.0),
                ("confidence", "(0, 1)")),
]
