"""Runs claims (in worker processes with ``jobs > 1``) and writes the ledger and the reports."""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from eftheory.validation import check_choice, check_int

from .claim import FAIL, INCONCLUSIVE, PASS, PENDING, SKIPPED, Claim, Outcome
from .context import BACKENDS, DEVICES, TIERS, Context
from .registry import module_errors, resolve_ids

__all__ = ["run_claim", "verify", "check_device", "exit_code", "settle", "pool_map"]


def check_device(device: str) -> str:
    check_choice("device", device, DEVICES)
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' needs CUDA, which is not available here (allowed: 'cpu')")
    return device


def run_claim(claim: Claim, ctx: Context) -> Outcome:
    """Run one claim's check; a pending claim gives PENDING, a missing dependency SKIPPED."""
    if not claim.executable:
        return Outcome(claim.id, PENDING, stated=claim.stated, notes=claim.pending)
    from .mutants import applied

    ctx.claim_id = claim.id
    t0 = time.perf_counter()
    try:
        with applied(ctx.mutant):
            out = settle(claim.run(ctx))
    except ImportError as exc:
        out = Outcome(claim.id, SKIPPED, stated=claim.stated, notes=f"needs a missing component: {exc}")
    except Exception as exc:  # an error in a check is reported as a failure of that check
        tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
        out = Outcome(claim.id, FAIL, stated=claim.stated,
                      notes=f"the check raised {type(exc).__name__}: {exc} ({tb})", measured={"error": str(exc)})
    out.seconds = round(time.perf_counter() - t0, 2)
    out.units_computed, out.units_cached = ctx.computed, ctx.cached
    return out


def settle(out: Outcome) -> Outcome:
    """The verdict semantics: PASS needs the main rule to hold *and* every negative control to be
    rejected by that rule; a PASS with a control that is not rejected, or with no control at all,
    is INCONCLUSIVE, and the reason is added to the notes."""
    if out.verdict != PASS:
        return out
    kept = [c.name for c in out.controls if not c.rejected]
    if not out.controls:
        reason = "no negative control ran"
    elif kept:
        reason = f"negative control(s) not rejected by the claim's rule: {', '.join(kept)}"
    else:
        return out
    out.verdict = INCONCLUSIVE
    out.notes = f"{out.notes}; INCONCLUSIVE: {reason}" if out.notes else f"INCONCLUSIVE: {reason}"
    return out


def _worker(claim_id: str, settings: dict) -> Outcome:
    import torch

    torch.set_num_threads(1)
    from .registry import get_claim

    return run_claim(get_claim(claim_id), Context(**settings))


def verify(ids=None, *, tier: str = "quick", backend: str = "torch", device: str = "cpu", jobs: int = 1,
           out="results", progress: bool = True, write: bool = True) -> list[Outcome]:
    """Run the named claims (all if ``ids`` is empty) and write ledger.json, report.md/html."""
    check_choice("tier", tier, TIERS)
    check_choice("backend", backend, BACKENDS)
    check_device(device)
    jobs = check_int("jobs", jobs, low=1)
    claims = resolve_ids(ids)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from .cache import Cache

    Cache(out / "cache").clean_orphans()
    settings = dict(tier=tier, backend=backend, device=device, out=str(out))
    outcomes: dict[str, Outcome] = {}
    runnable = [c for c in claims if c.executable]
    for c in claims:
        if not c.executable:
            outcomes[c.id] = run_claim(c, Context(**settings))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(runnable), desc="claims", unit="claim")
    t0 = time.perf_counter()
    try:
        with _terminate_raises_interrupt():
            if jobs == 1 or len(runnable) <= 1:
                for c in runnable:
                    if bar is not None:
                        bar.set_postfix_str(c.id)
                    outcomes[c.id] = run_claim(c, Context(**settings, progress=progress))
                    if bar is not None:
                        bar.update(1)
            else:
                _run_pool(runnable, settings, jobs, outcomes, bar)
    finally:
        if bar is not None:
            bar.close()
    result = [outcomes[c.id] for c in claims]
    if write:
        from .report import write_reports

        write_reports(out, claims, result, settings={**settings, "jobs": jobs,
                                                     "seconds": round(time.perf_counter() - t0, 1)},
                      module_errors=module_errors())
    return result


def pool_map(fn, tasks: dict, jobs: int, on_result) -> None:
    """Call ``fn(*args)`` for every ``tasks[key] = args`` in ``jobs`` spawned worker processes and
    ``on_result(key, value)`` in the main process as each finishes.

    On an interrupt (Ctrl-C, SIGTERM, an error) every worker is stopped at once: what was finished
    is already stored by ``on_result`` (and the cache), a unit being written is discarded whole.
    """
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_ignore_sigint)
    try:
        with _terminate_raises_interrupt():
            futs = {pool.submit(fn, *args): key for key, args in tasks.items()}
            for f in as_completed(futs):
                on_result(futs[f], f.result())
    except BaseException:
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=2)
            if p.is_alive():
                p.kill()
        raise
    pool.shutdown(wait=True)


def _run_pool(runnable, settings, jobs, outcomes, bar) -> None:
    def done(cid, outcome):
        outcomes[cid] = outcome
        if bar is not None:
            bar.set_postfix_str(cid)
            bar.update(1)

    order = sorted(runnable, key=lambda c: -c.cost)
    pool_map(_worker, {c.id: (c.id, settings) for c in order}, jobs, done)


def _ignore_sigint() -> None:
    # a terminal's Ctrl-C reaches the whole process group; the main process decides and stops workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _terminate_raises_interrupt:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread (as Ctrl-C does)."""

    def __enter__(self):
        self._old = None
        try:
            self._old = signal.signal(signal.SIGTERM, self._handler)
        except ValueError:          # not the main thread: leave signals alone
            self._old = None
        return self

    @staticmethod
    def _handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
        return False


def exit_code(claims: list[Claim], outcomes: list[Outcome]) -> int:
    """1 if a claim that is not reconstructed ([R]) FAILs, else 0."""
    by_id = {c.id: c for c in claims}
    return int(any(o.verdict == FAIL and not by_id[o.claim_id].reconstructed for o in outcomes))
