"""The optimizer contract of :class:`algorithms.torch.optim.CardOptimizer`, beyond the parity runs.

Per-group hyper-parameters act on their own slices of x, ``state_dict`` / ``load_state_dict``
keep and check what they document, the oracle differentiates what the closure returns, and the
constructor refuses what the card does not allow with one-line ValueErrors naming the argument.

Ground truths used here are independent of the optimizer: EF21 with ``Identity()`` and
``init="gradient"`` is gradient descent (:math:`g_i^k = \\nabla f_i(x^k)` for every k), and on a
coordinate-separable loss with ``Identity()`` every coordinate evolves on its own, so a run with
per-group values is the splice of the runs with each group's value everywhere.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import algorithms
from algorithms.torch import optim
from eftheory.compressors import Identity, RandK, TopK

N = 2
A = torch.tensor([[1.0, 2.0, 0.5, 1.5, 3.0], [2.0, 0.5, 1.0, 1.0, 0.25]], dtype=torch.float64)
C = torch.tensor([[0.5, -1.0, 2.0, 0.0, 1.0], [1.5, 1.0, -2.0, 0.5, -1.0]], dtype=torch.float64)


def params(sizes=(2, 3), seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64).requires_grad_(True) for s in sizes]


def flat(ps):
    return torch.cat([p.detach().reshape(-1) for p in ps]).clone()


def separable(ps):
    """f_i(w) = 1/2 sum_j a_ij (w_j - c_ij)^2 over the flattened w (coordinate-separable)."""
    def closure(i, fresh):
        w = torch.cat([p.reshape(-1) for p in ps])
        return 0.5 * (A[i] * (w - C[i]) ** 2).sum()
    return closure


def grad_separable(w):
    return np.mean([(A[i] * (w - C[i])).numpy() for i in range(N)], axis=0)


def gd(w0, gammas, steps):
    """Gradient descent with per-coordinate stepsizes ``gammas(k)`` (d,) on the separable loss."""
    w = w0.numpy().copy()
    for k in range(steps):
        w = w - gammas(k) * grad_separable(torch.from_numpy(w))
    return w


# ------------------------------------------------------------------ per-group hyper-parameters


@pytest.mark.parametrize("sizes,steps,per_coordinate", [
    ((2, 3), (0.1, 0.3), (0.1, 0.1, 0.3, 0.3, 0.3)),
    ((1, 2, 2), (0.1, 0.2, 0.3), (0.1, 0.2, 0.2, 0.3, 0.3)),        # three groups, their own slices
])
def test_per_group_stepsizes_act_on_their_slices(sizes, steps, per_coordinate):
    ps = params(sizes)
    w0 = flat(ps)
    opt = optim.EF21([{"params": [p], "stepsize": g} for p, g in zip(ps, steps)],
                     stepsize=1.0, n_clients=N, compressor=Identity(), init="gradient")
    for _ in range(4):
        opt.step(separable(ps))
    want = gd(w0, lambda k: np.array(per_coordinate), 4)
    np.testing.assert_allclose(flat(ps).numpy(), want, rtol=0, atol=1e-13)


def test_per_group_schedules_are_evaluated_at_the_step():
    ps = params()
    w0 = flat(ps)
    opt = optim.EF21([{"params": [ps[0]], "stepsize": lambda k: 0.2 / (k + 1)},
                      {"params": [ps[1]], "stepsize": 0.05}], stepsize=1.0, n_clients=N, compressor=Identity(),
                     init="gradient")
    for _ in range(3):
        opt.step(separable(ps))
    want = gd(w0, lambda k: np.array([0.2 / (k + 1)] * 2 + [0.05] * 3), 3)
    np.testing.assert_allclose(flat(ps).numpy(), want, rtol=0, atol=1e-13)


def test_groups_that_agree_equal_one_group():
    a, b = params(), params()
    opt_a = optim.EF21SGDM([{"params": [a[0]]}, {"params": [a[1]]}], stepsize=0.1, momentum=0.4, n_clients=N,
                           compressor=TopK(2))
    opt_b = optim.EF21SGDM(b, stepsize=0.1, momentum=0.4, n_clients=N, compressor=TopK(2))
    for _ in range(4):
        opt_a.step(separable(a))
        opt_b.step(separable(b))
    assert torch.equal(flat(a), flat(b))


@pytest.mark.parametrize("cls,kw", [(optim.EF21SGDM, {"stepsize": 0.1})])
def test_per_group_momentum_is_the_splice_of_uniform_runs(cls, kw):
    """On a separable loss with an identity map each coordinate runs alone: group values splice."""
    extra = {"compressor": Identity()}
    mixed, lo, hi = params(), params(), params()
    opt = cls([{"params": [mixed[0]], "momentum": 0.3}, {"params": [mixed[1]], "momentum": 0.8}],
              n_clients=N, momentum=0.5, **kw, **extra)
    opt_lo = cls(lo, n_clients=N, momentum=0.3, **kw, **extra)
    opt_hi = cls(hi, n_clients=N, momentum=0.8, **kw, **extra)
    for _ in range(5):
        opt.step(separable(mixed))
        opt_lo.step(separable(lo))
        opt_hi.step(separable(hi))
    got = flat(mixed)
    torch.testing.assert_close(got[:2], flat(lo)[:2], rtol=0, atol=1e-14)
    torch.testing.assert_close(got[2:], flat(hi)[2:], rtol=0, atol=1e-14)
    assert not torch.equal(flat(lo), flat(hi))


def test_momentum_schedule_bounded_by_one():
    ps = params()
    opt = optim.EF21SGDM(ps, stepsize=0.1, momentum=lambda k: 1.5, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match="momentum"):
        opt.step(separable(ps))


# ------------------------------------------------------------------ state


def test_state_holds_the_counters_load_state_dict_checks():
    ps = params()
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    for _ in range(3):
        opt.step(separable(ps))
    st = opt.state_dict()["state"]["ef"]
    assert (st["k"], st["n_clients"], st["dim"], st["method"]) == (3, N, 5, "ef21-norm")
    assert "generator" not in st


def test_state_dict_is_a_copy():
    ps = params()
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    opt.step(separable(ps))
    sd = opt.state_dict()
    before = {k: v.clone() for k, v in opt.state["ef"]["step"].items()
              if isinstance(v, torch.Tensor) and v.is_floating_point()}
    assert before
    for k in before:
        sd["state"]["ef"]["step"][k].add_(1.0)
    sd["state"]["ef"]["k"] = 99
    assert opt.state["ef"]["k"] == 1
    for k, v in before.items():
        assert torch.equal(opt.state["ef"]["step"][k], v)


def test_state_dict_saves_the_generator_state():
    ps = params()
    gen = torch.Generator().manual_seed(11)
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=RandK(2), generator=gen)
    opt.step(separable(ps))
    sd = opt.state_dict()
    assert torch.equal(sd["state"]["ef"]["generator"], gen.get_state())


def test_a_param_group_added_after_a_step_is_refused():
    ps = params()
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    opt.step(separable(ps))
    extra = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt.add_param_group({"params": [extra]})
    with pytest.raises(ValueError, match=r"params changed size since the first step \(d=5 -> 7\)"):
        opt.step(separable(ps))


def _saved(cls=optim.EF21Norm, n=N, sizes=(2, 3), steps=2, **kw):
    ps = params(sizes)
    kw = {"stepsize": 0.1, "compressor": TopK(2), **kw}
    opt = cls(ps, n_clients=n, **kw)
    for _ in range(steps):
        opt.step(lambda i, fresh: sum((p ** 2).sum() * (i + 1) for p in ps))
    return opt.state_dict()


def test_load_refuses_a_different_number_of_clients():
    opt = optim.EF21Norm(params(), stepsize=0.1, n_clients=3, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^n_clients must equal the saved n_clients=2; got 3$"):
        opt.load_state_dict(_saved())


def test_load_refuses_a_different_size():
    opt = optim.EF21Norm(params((2, 4)), stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^params must have the saved size d=5; got d=6$"):
        opt.load_state_dict(_saved())


def test_load_refuses_a_different_number_of_groups():
    ps = params()
    opt = optim.EF21Norm([{"params": [ps[0]]}, {"params": [ps[1]]}], stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^state_dict has 1 param groups; this optimizer has 2$"):
        opt.load_state_dict(_saved())


def test_load_wraps_torch_errors_in_one_line():
    """Same size and groups, another split into tensors: torch's own check, as one ValueError."""
    opt = optim.EF21Norm(params((5,)), stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^state_dict does not fit this EF21Norm: ") as err:
        opt.load_state_dict(_saved())
    assert "\n" not in str(err.value)


def test_load_refuses_a_generator_state_without_a_generator():
    saved = _saved(compressor=RandK(2), generator=torch.Generator().manual_seed(1))
    opt = optim.EF21Norm(params(), stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^generator must be a torch.Generator to restore a state saved with one"):
        opt.load_state_dict(saved)


def test_load_restores_the_generator_and_leaves_the_saved_dict_alone():
    gen = torch.Generator().manual_seed(1)
    saved = _saved(compressor=RandK(2), generator=gen)
    keep = copy.deepcopy(saved)
    g2 = torch.Generator().manual_seed(123)
    opt = optim.EF21Norm(params(), stepsize=0.1, n_clients=N, compressor=RandK(2), generator=g2)
    opt.load_state_dict(saved)
    assert torch.equal(g2.get_state(), gen.get_state())
    assert "generator" in saved["state"]["ef"]                  # the caller's dict is not consumed
    assert torch.equal(saved["state"]["ef"]["generator"], keep["state"]["ef"]["generator"])
    assert "generator" not in opt.state["ef"]


def test_load_refuses_a_tampered_method_in_the_state():
    saved = _saved()
    saved["state"]["ef"]["method"] = "ef21-sgd"
    opt = optim.EF21Norm(params(), stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^state_dict was saved by an optimizer of \['ef21-norm', 'ef21-sgd'\]"):
        opt.load_state_dict(saved)


@pytest.mark.parametrize("bad,msg", [
    ([], r"^state_dict must be a EF21Norm.state_dict\(\) \(keys 'state' and 'param_groups'\); got list$"),
    ({"state": {}}, r"got \['state'\]$"),
    ({"state": {}, "param_groups": "x"}, r"^state_dict\['param_groups'\] must be a list of dicts as EF21Norm"),
    ({"state": {}, "param_groups": [1]}, r"^state_dict\['param_groups'\] must be a list of dicts"),
    ({"state": [], "param_groups": [{"method": "ef21-norm"}]}, r"^state_dict\['state'\] must be a dict as EF21Norm"),
])
def test_malformed_state_dicts_name_what_is_wrong(bad, msg):
    opt = optim.EF21Norm(params(), stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=msg):
        opt.load_state_dict(bad)


def test_a_state_before_any_step_loads_and_runs_as_new():
    a, b = params(), params()
    fresh = optim.EF21Norm(params(), stepsize=0.1, n_clients=N, compressor=TopK(2)).state_dict()
    opt_a = optim.EF21Norm(a, stepsize=0.1, n_clients=N, compressor=TopK(2))
    opt_a.load_state_dict(fresh)
    opt_b = optim.EF21Norm(b, stepsize=0.1, n_clients=N, compressor=TopK(2))
    for _ in range(3):
        opt_a.step(separable(a))
        opt_b.step(separable(b))
    assert torch.equal(flat(a), flat(b))


def test_loaded_state_takes_the_parameters_dtype():
    """A float64 state loaded into a float32 model continues in float32 (the buffers are cast)."""
    saved = _saved()
    ps = [p.detach().float().requires_grad_(True) for p in params()]
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    opt.load_state_dict(saved)
    tensors = {k: v for k, v in opt.state["ef"]["step"].items()
               if isinstance(v, torch.Tensor) and saved["state"]["ef"]["step"][k].is_floating_point()}
    assert tensors and all(v.dtype == torch.float32 for v in tensors.values())
    for key, v in tensors.items():
        torch.testing.assert_close(v, saved["state"]["ef"]["step"][key].float())
    opt.step(lambda i, fresh: sum((p ** 2).sum() for p in ps))
    assert all(p.dtype == torch.float32 for p in ps) and opt.state["ef"]["k"] == 3


# ------------------------------------------------------------------ the oracle


def test_step_returns_the_mean_of_the_clients_losses_at_x():
    ps = params()
    w = flat(ps)
    want = np.mean([0.5 * float((A[i] * (w - C[i]) ** 2).sum()) for i in range(N)])
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    loss = opt.step(separable(ps))
    assert isinstance(loss, torch.Tensor) and not loss.requires_grad
    assert abs(float(loss) - want) < 1e-12


def test_closure_returning_a_number_is_refused():
    ps = params()
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^closure must return client i's loss as a torch.Tensor; got float$"):
        opt.step(lambda i, fresh: 1.0)


def test_closure_returning_a_constant_is_refused():
    ps = params()
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match="closure must return a loss that depends on the parameters"):
        opt.step(lambda i, fresh: torch.tensor(1.0))


@pytest.mark.parametrize("backward", [False, True])
def test_unused_parameters_get_a_zero_gradient(backward):
    """A parameter the loss does not use has gradient 0: gradient descent leaves it where it is."""
    ps = params((2, 3, 2))
    w0 = flat(ps)
    used = ps[:2]

    def closure(i, fresh):
        loss = separable(used)(i, fresh)
        if backward:
            loss.backward()
        return loss

    opt = optim.EF21(ps, stepsize=0.2, n_clients=N, compressor=Identity(), init="gradient")
    for _ in range(3):
        opt.step(closure)
    got = flat(ps)
    assert torch.equal(got[5:], w0[5:])
    want = gd(w0[:5], lambda k: 0.2, 3)
    np.testing.assert_allclose(got[:5].numpy(), want, rtol=0, atol=1e-13)
    assert all(p.grad is None for p in ps)          # the optimizer leaves no gradients behind


def test_backward_closure_equals_the_plain_closure_for_an_unused_tensor():
    a, b = params((2, 3, 2)), params((2, 3, 2))

    def back(i, fresh):
        loss = separable(b[:2])(i, fresh)
        loss.backward()
        return loss

    opt_a = optim.EF21Norm(a, stepsize=0.1, n_clients=N, compressor=TopK(2))
    opt_b = optim.EF21Norm(b, stepsize=0.1, n_clients=N, compressor=TopK(2))
    for _ in range(3):
        opt_a.step(separable(a[:2]))
        opt_b.step(back)
    assert torch.equal(flat(a), flat(b))


class LinearProblem:
    """f_i(x) = <c_i, x>: a zero Hessian (the optimizer's double backprop has nothing to differentiate)."""

    n_clients, dim = N, 5

    def grad_i(self, i, x, xi=None):
        return C[i].numpy().copy()

    def hvp_i(self, i, x, v, xi=None):
        return np.zeros(self.dim)

    def f_i(self, i, x):
        return float(C[i].numpy() @ x)

    def f(self, x):
        return float(np.mean([self.f_i(i, x) for i in range(N)]))

    def sample(self, i, rng):
        return None


def test_hvp_of_a_linear_loss_is_zero():
    ps = params((5,))
    x0 = flat(ps).numpy()
    opt = optim.EF21HMNorm(ps, stepsize=0.05, momentum=0.5, n_clients=N, compressor=TopK(2))
    for _ in range(4):
        opt.step(lambda i, fresh: (C[i] * ps[0]).sum())
    ref = algorithms.run("ef21-hm-norm", LinearProblem(), TopK(2), x0, 4, stepsize=0.05, momentum=0.5)
    np.testing.assert_allclose(flat(ps).numpy(), np.asarray(ref.x)[-1], rtol=0, atol=1e-12)


def test_hvp_of_an_unused_parameter_is_zero():
    """Double backprop through a model with a tensor the loss ignores: the ignored part stays still."""
    ps = params((5, 3))
    w1 = flat(ps)[5:]
    opt = optim.EF21HMNorm(ps, stepsize=0.05, momentum=0.5, n_clients=N, compressor=TopK(2), init="gradient",
                           normalize_scope="per_tensor")
    for _ in range(3):
        opt.step(lambda i, fresh: 0.5 * (A[i] * (ps[0] - C[i]) ** 2).sum())
    assert torch.equal(flat(ps)[5:], w1)


# ------------------------------------------------------------------ closures and the standard loop


@pytest.mark.parametrize("closure,msg", [
    (3, r"^closure must be a callable closure\(i, fresh\)"),
    (lambda: 0.0, r"^closure must take \(i, fresh\): pass closure\(i, fresh\)"),
    (lambda i, fresh, extra: 0.0, r"^closure must take \(i, fresh\)"),
])
def test_bad_closures_are_named(closure, msg):
    opt = optim.EF21Norm(params(), stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=msg):
        opt.step(closure)


def test_missing_closure_with_several_clients():
    ps = params()
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^step\(\) needs a closure here"):
        opt.step()


@pytest.mark.parametrize("cls,kw", [
    (optim.EF21IGTNorm, {"momentum": 0.5, "compressor": TopK(2)}),
    (optim.SAEF, {"compressor": TopK(2)}),
    (optim.EF21MVR, {"momentum": 0.5, "compressor": TopK(2)}),
])
def test_standard_loop_refused_where_other_points_are_needed(cls, kw):
    ps = params()
    opt = cls(ps, stepsize=0.1, n_clients=1, **kw)
    separable(ps)(0, True).backward()
    with pytest.raises(ValueError, match=r"^step\(\) needs a closure here"):
        opt.step()


def test_standard_loop_needs_every_gradient():
    ps = params()
    opt = optim.EF21(ps, stepsize=0.1, n_clients=1, compressor=TopK(2))
    (ps[0] ** 2).sum().backward()                  # ps[1].grad stays None
    with pytest.raises(ValueError, match=r"^step\(\) needs a closure here"):
        opt.step()


@pytest.mark.parametrize("cls,kw", [
    (optim.EF21, {"compressor": Identity(), "init": "gradient"}),
    (optim.EF21SGD, {"compressor": Identity(), "init": "gradient"}),
])
def test_standard_loop_is_gradient_descent_with_identity(cls, kw):
    ps = params()
    w0 = flat(ps)
    opt = cls(ps, stepsize=0.2, n_clients=1, **kw)
    for _ in range(3):
        opt.zero_grad()
        (0.5 * (A[0] * (torch.cat([p.reshape(-1) for p in ps]) - C[0]) ** 2).sum()).backward()
        assert opt.step() is None
    w = w0.numpy().copy()
    for _ in range(3):
        w = w - 0.2 * (A[0] * (torch.from_numpy(w) - C[0])).numpy()
    np.testing.assert_allclose(flat(ps).numpy(), w, rtol=0, atol=1e-13)


def test_standard_loop_casts_float32_gradients():
    ps = [p.detach().float().requires_grad_(True) for p in params()]
    opt = optim.EF21(ps, stepsize=0.2, n_clients=1, compressor=Identity(), init="gradient")
    (sum((p ** 2).sum() for p in ps)).backward()
    w0 = flat(ps)
    opt.step()
    torch.testing.assert_close(flat(ps), w0 * (1 - 0.2 * 2), rtol=0, atol=1e-6)
    assert all(p.dtype == torch.float32 for p in ps)


# ------------------------------------------------------------------ construction


def _ps():
    return params()


@pytest.mark.parametrize("build,msg", [
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), generator=5),
     r"^generator must be a torch.Generator or None; got int$"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), uniforms=3),
     r"^uniforms must be a callable \(shape, purpose\) -> tensor or None; got 3$"),
    (lambda: optim.EF21Norm([{"params": _ps(), "method": "ef"}], stepsize=0.1, n_clients=N, compressor=TopK(2)),
     r"^param group method must be 'ef21-norm'; got 'ef'$"),
    (lambda: optim.EF21Norm([torch.zeros(3, requires_grad=False)], stepsize=0.1, n_clients=N, compressor=TopK(2)),
     r"^params must all require gradients"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N),
     r"^compressor must be an eftheory.compressors object with a torch\(v, generator\) method; got None$"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor="TopK(2)"),
     r"^compressor must be an eftheory.compressors object"),
    (lambda: optim.SMM(_ps(), stepsize=0.1, momentum=0.5, n_clients=N, compressor=TopK(2)),
     r"^compressor must be None for 'smm' \(it sends signs\)"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=RandK(2)),
     r"^generator must be a torch.Generator for the random compressor RandK\(k=2\); got None$"),
    (lambda: optim.EF21RHMNorm(_ps(), stepsize=0.1, momentum=0.5, n_clients=N, compressor=TopK(2)),
     r"^generator must be a torch.Generator for 'ef21-rhm-norm''s random draws; got None$"),
    (lambda: optim.StoSignSGD(_ps(), stepsize=0.1, n_clients=N, B=1.0),
     r"^generator must be a torch.Generator for 'sto-signsgd''s random draws"),
    (lambda: optim.MVSMV2(_ps(), stepsize=0.1, momentum=0.5, n_clients=N, G=1.0),
     r"^generator must be a torch.Generator for 'mvsm-v2''s random draws"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), compress="blockwise"),
     r"compress"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(3), compress="per_tensor"), r"k"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(6)), r"k"),
    (lambda: optim.EF21Norm(_ps(), stepsize=None, n_clients=N, compressor=TopK(2)),
     r"^stepsize must be given for 'ef21-norm': a float or schedule > 0$"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=0, compressor=TopK(2)), r"n_clients"),
    (lambda: optim.EF21SGDM(_ps(), stepsize=0.1, momentum=1.5, n_clients=N, compressor=TopK(2)), r"momentum"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), bits="all"), r"^bits"),
    (lambda: optim.EF21Norm(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), normalize_scope="layer"),
     r"^normalize_scope"),
    (lambda: optim.EF21RHMNorm(_ps(), stepsize=0.1, momentum=0.5, n_clients=N, compressor=TopK(2),
                               generator=torch.Generator(), rhm_same_sample="yes"), r"rhm_same_sample"),
    (lambda: optim.EControl(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), econtrol_eta=1.5),
     r"econtrol_eta"),
    (lambda: optim.EControl(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), econtrol_step_uses="h"),
     r"^econtrol_step_uses"),
    (lambda: optim.EF(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), mu=1.0), r"^mu"),
    (lambda: optim.EF(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), p=0), r"\bp\b"),
    (lambda: optim.SAEF(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), double_way="no"), r"double_way"),
    (lambda: optim.EF(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), error_averaging="no"),
     r"error_averaging"),
    (lambda: optim.EF(_ps(), stepsize=0.1, n_clients=N, compressor=TopK(2), error_averaging=True),
     r"^p must be a finite integer in \[1, inf\) when error_averaging=True; got inf$"),
    (lambda: optim.MVSignSGD(_ps(), stepsize=0.1, n_clients=N, ties="minus"), r"^ties"),
    (lambda: optim.SMM(_ps(), stepsize=0.1, momentum=0.5, n_clients=N, momentum_convention="x"),
     r"^momentum_convention"),
    (lambda: optim.MVSMV1(_ps(), stepsize=0.1, momentum=0.5, n_clients=N, G=1.0, generator=torch.Generator(),
                          shared_draw="yes"), r"^shared_draw"),
])
def test_construction_refuses_what_the_card_does_not_allow(build, msg):
    with pytest.raises(ValueError, match=msg) as err:
        build()
    assert "\n" not in str(err.value)


def test_random_compressor_accepts_uniforms_instead_of_a_generator():
    calls = []

    def uniforms(shape, purpose):
        calls.append((tuple(shape), purpose))
        return torch.linspace(0.0, 0.9, int(np.prod(shape)), dtype=torch.float64).reshape(shape)

    ps = params()
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=RandK(2), uniforms=uniforms)
    opt.step(separable(ps))
    assert calls and all(p == "compress" for _, p in calls) and calls[0][0][-1] == 5


def test_per_tensor_compression_validates_each_tensor_and_runs_blockwise():
    from eftheory.compressors import Blockwise

    a, b = params(), params()
    opt_a = optim.EF21Norm(a, stepsize=0.1, n_clients=N, compressor=TopK(1), compress="per_tensor")
    opt_b = optim.EF21Norm(b, stepsize=0.1, n_clients=N, compressor=Blockwise(TopK(1), [2, 3]))
    for _ in range(3):
        opt_a.step(separable(a))
        opt_b.step(separable(b))
    assert torch.equal(flat(a), flat(b))
    assert isinstance(opt_a.compressor, TopK) and opt_a.compressor.k == 1      # the compressor as given


def test_per_tensor_normalization_uses_the_given_blocks():
    """``normalize_scope="per_tensor"`` with ``blocks`` normalizes those blocks, as the engine does."""
    ps = params((5,))
    x0 = flat(ps).numpy()
    opt = optim.EF21Norm(ps, stepsize=0.05, n_clients=N, compressor=TopK(2), normalize_scope="per_tensor",
                         blocks=[2, 3])
    for _ in range(3):
        opt.step(lambda i, fresh: (C[i] * ps[0]).sum())
    ref = algorithms.run("ef21-norm", LinearProblem(), TopK(2), x0, 3, stepsize=0.05,
                         normalize_scope="per_tensor", blocks=[2, 3])
    np.testing.assert_allclose(flat(ps).numpy(), np.asarray(ref.x)[-1], rtol=0, atol=1e-12)
    glob = algorithms.run("ef21-norm", LinearProblem(), TopK(2), x0, 3, stepsize=0.05)
    assert np.abs(np.asarray(glob.x)[-1] - np.asarray(ref.x)[-1]).max() > 1e-6
    with pytest.raises(ValueError, match="blocks"):
        bad = optim.EF21Norm(params((5,)), stepsize=0.05, n_clients=N, compressor=TopK(2),
                             normalize_scope="per_tensor", blocks=[2, 2])
        bad.step(lambda i, fresh: (C[i] * bad.param_groups[0]["params"][0]).sum())


def test_messages_of_the_oracle_and_the_state_in_full():
    ps = params()
    opt = optim.EF21HMNorm(ps, stepsize=0.1, momentum=0.5, n_clients=N, compressor=TopK(2))

    def back(i, fresh):
        loss = separable(ps)(i, fresh)
        loss.backward()
        return loss

    with pytest.raises(ValueError, match=r"^closure must return the loss without calling backward\(\) for EF21HMNorm "
                                         r"\(it needs Hessian-vector products by double backprop\)$"):
        opt.step(back)
    opt = optim.EF21Norm(ps, stepsize=0.1, n_clients=N, compressor=TopK(2))
    with pytest.raises(ValueError, match=r"^closure must return a loss that depends on the parameters "
                                         r"\(a tensor with requires_grad=True\)$"):
        opt.step(lambda i, fresh: torch.tensor(1.0))
    opt.step(separable(ps))
    opt.add_param_group({"params": [torch.zeros(1, dtype=torch.float64, requires_grad=True)]})
    with pytest.raises(ValueError, match=r"^params changed size since the first step \(d=5 -> 6\); "
                                         r"create a new optimizer$"):
        opt.step(separable(ps))


def test_state_dict_before_any_step_holds_the_generator():
    gen = torch.Generator().manual_seed(4)
    opt = optim.EF21Norm(params(), stepsize=0.1, n_clients=N, compressor=RandK(2), generator=gen)
    sd = opt.state_dict()
    assert torch.equal(sd["state"]["ef"]["generator"], gen.get_state())


@pytest.mark.parametrize("how", ["generator", "uniforms"])
def test_standard_loop_draws_as_the_closure_form(how):
    """One client, a random compressor: zero_grad / backward / step() draws what step(closure) draws."""
    def make(ps):
        if how == "generator":
            return optim.EF21(ps, stepsize=0.1, n_clients=1, compressor=RandK(2),
                              generator=torch.Generator().manual_seed(8))
        return optim.EF21(ps, stepsize=0.1, n_clients=1, compressor=RandK(2),
                          uniforms=lambda shape, purpose: torch.linspace(0, 0.9, int(np.prod(shape))).reshape(shape))

    a, b = params(), params()
    opt_a, opt_b = make(a), make(b)
    for _ in range(4):
        opt_a.zero_grad()
        separable(a)(0, True).backward()
        opt_a.step()
        opt_b.step(separable(b))
    assert torch.equal(flat(a), flat(b))
    assert not torch.equal(flat(a), flat(params()))
