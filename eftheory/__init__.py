"""eftheory: the theory core shared by the reference algorithms, the torch engine and the claims ledger.

Submodules: :mod:`eftheory.compressors`, :mod:`eftheory.problems`, :mod:`eftheory.schedules`,
:mod:`eftheory.derivations`, :mod:`eftheory.lyapunov`, :mod:`eftheory.assumptions`,
:mod:`eftheory.rates`, :mod:`eftheory.validation`.
"""

__version__ = "0.1.0"
