"""The claims ledger: one Claim per theorem / lemma of the five papers, run by ``eftheory verify``.

* :mod:`checks.claim` -- the :class:`~checks.claim.Claim` record and the :class:`~checks.claim.Outcome` of its check.
* :mod:`checks.catalog` -- the 55 catalog rows; :func:`checks.catalog.claim` attaches a check to a row.
* :mod:`checks.registry` -- collects ``CLAIMS`` from every ``checks/paper_*.py`` module: one per paper
  (``paper_000`` ... ``paper_004``) and ``paper_cross`` for the claims several papers share.
* :mod:`checks.verdicts` -- the shared verdict helpers (rules, figures, controls, rate rules, seeds);
  :mod:`checks.instances` -- the shared problem instances and runs; :mod:`checks.experiment_protocol` --
  the protocol of the experiment claims.
* :mod:`checks.context` / :mod:`checks.simulate` / :mod:`checks.cache` -- runs described as data, executed on
  the torch engine (or the NumPy reference) and cached per unit (run x seed batch) for resumption.
* :mod:`checks.runner` / :mod:`checks.report` / :mod:`checks.cli` -- ``eftheory verify`` and ``eftheory list``.

A claim module defines ``CLAIMS = [claim("ID", run, ...)]`` where ``run(ctx) -> Outcome`` measures
the claim's quantity and runs its negative controls under the same rule.
"""
