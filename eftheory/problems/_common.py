"""Small helpers shared by the built-in problems (argument checks, Hessian-based utilities)."""

from __future__ import annotations

import functools
import inspect

import numpy as np

from eftheory.validation import check_int

__all__ = ["check_client", "as_point", "as_direction", "sym_spectral_norm", "Parametrised"]


def check_client(i, n: int) -> int:
    """The client index ``i`` as an int in [0, n-1]; ValueError naming ``i`` otherwise."""
    return check_int("i", i, low=0, high=n - 1, high_label=f"n_clients-1={n - 1}")


def as_point(x, dim: int, name: str = "x") -> np.ndarray:
    """``x`` as a float64 vector of shape (dim,) (no copy when already one).

    Only the shape is enforced: a non-finite entry propagates, so that the algorithms' own
    divergence check reports it.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real vector of shape ({dim},); got {type(x).__name__}") from None
    if arr.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},); got {arr.shape}")
    return arr


def as_direction(v, dim: int) -> np.ndarray:
    """The direction ``v`` of a Hessian-vector product, shape (dim,)."""
    return as_point(v, dim, name="v")


def sym_spectral_norm(H: np.ndarray) -> float:
    """Spectral norm of a symmetric matrix: the largest |eigenvalue|."""
    w = np.linalg.eigvalsh(H)
    return float(max(abs(w[0]), abs(w[-1])))


def _recording(init):
    """``init`` that keeps its (bound, defaulted) arguments on the instance, for :meth:`Parametrised.params`."""
    sig = inspect.signature(init)

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        init(self, *args, **kwargs)
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        kept = {}
        for name, value in list(bound.arguments.items())[1:]:
            kind = sig.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                kept.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                kept[name] = tuple(value)
            else:
                kept[name] = value
        # the outermost constructor (the class's own) records last
        self._init_params = kept

    return wrapper


class Parametrised:
    """A problem that names itself by its class and its constructor arguments.

    Every ``__init__`` of a subclass records the arguments it was called with (defaults filled
    in); :meth:`params` returns them with the class's qualified name. Two instances built by the
    same call give equal parameters, so a run description (``checks.simulate.RunSpec``) can be
    keyed by them without a mini-language of problem names.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__dict__["__init__"])

    def params(self) -> dict:
        """``{"class": "module.QualName", <constructor argument>: value, ...}`` (arrays as given)."""
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}",
                **getattr(self, "_init_params", {})}
