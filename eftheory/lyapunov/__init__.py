"""Lyapunov functions of the proofs and their one-step inequalities, evaluated along a trajectory.

* :mod:`eftheory.lyapunov.ef21` -- the EF21 family ([000], 001, 004);
* :mod:`eftheory.lyapunov.saef` -- local and step-ahead error feedback ([002]);
* :mod:`eftheory.lyapunov.sign` -- sign methods with momentum ([003]).
"""

from .ef21 import *  # noqa: F401,F403
from .saef import *  # noqa: F401,F403
from .sign import *  # noqa: F401,F403
