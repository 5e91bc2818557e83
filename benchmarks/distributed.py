"""Loopback gloo: per-iteration time and bytes on the wire, dense all-reduce vs compressed payloads.

For n ranks in {2, 4, 8} and d in {10^3, 10^5, 10^6}, one message exchange per iteration of

* ``dense``  -- ``all_reduce`` of the float32 d-vector (what DDP does by default);
* ``top1%``  -- Top-K with k = d/100: selection (the engine's kernel) + ``all_gather`` of
  (int32 indices, float32 values) + their sum
  (:class:`algorithms.torch.distributed.WireAggregate`, the runner's exchange);
* ``sign``   -- signs packed 8 per byte + the zero flag + ``all_gather`` + the vote counted from
  the packed bits.

Two byte counts per rank and iteration: ``payload`` (the bytes of the tensors a rank hands to the
collective) and ``wire`` (the growth of the loopback interface's transmit counter in
``/proc/net/dev`` over the timed iterations, divided by n and the iteration count: what gloo
actually put on the wire, TCP framing included; other traffic on ``lo`` during the run inflates
it). Ratios are dense / compressed within the same run.

    .venv/bin/python -m benchmarks.distributed            # the full grid (a few minutes on 2 cores)
    .venv/bin/python -m benchmarks.distributed --quick    # n in {2, 4}, d in {10^3, 10^5}

``--skip n,d`` leaves out grid points (default: none; ``--skip 8,1000000`` on a small machine).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time

import torch

METHODS = ("dense", "top1%", "sign")


def _lo_tx_bytes() -> int | None:
    try:
        with open("/proc/net/dev") as fh:
            for line in fh:
                if line.strip().startswith("lo:"):
                    return int(line.split(":", 1)[1].split()[8])
    except OSError:
        return None
    return None


def _worker(rank, n, port, dims, reps, skip, out):
    import torch.distributed as dist

    from algorithms.torch._kernels import compress_sparse
    from algorithms.torch.distributed import WireAggregate
    from eftheory.compressors import TopK

    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=n,
                            timeout=datetime.timedelta(seconds=300))
    rows = []
    gen = torch.Generator().manual_seed(rank)
    for d in dims:
        if (n, d) in skip:
            continue
        v = torch.randn(d, generator=gen, dtype=torch.float32)
        agg = WireAggregate(dist, rank, n, d, torch.device("cpu"), torch.float32)
        C = TopK(max(1, d // 100))
        R = reps if d <= 10**5 else max(3, reps // 4)

        def dense():
            t = v.clone()
            dist.all_reduce(t)
            return 4 * d

        def topk():                                     # payload: the bytes the runner meters
            agg.meter.reset()
            c, idx, vals = compress_sparse(C, v.unsqueeze(0))
            agg.message_sum(c, idx, vals, C)
            return agg.meter.bytes["up"]

        def sign():                                     # + the zero flag (one control byte)
            agg.meter.reset()
            agg.vote(torch.sign(v))
            return agg.meter.bytes["up"] + 1

        for name, fn in zip(METHODS, (dense, topk, sign)):
            fn()                                         # warm-up
            dist.barrier()
            tx0, t0 = _lo_tx_bytes(), time.perf_counter()
            for _ in range(R):
                payload = fn()
            dist.barrier()
            sec, tx1 = (time.perf_counter() - t0) / R, _lo_tx_bytes()
            wire = None if tx0 is None else (tx1 - tx0) / R / n
            rows.append((n, d, name, sec, payload, wire))
    dist.barrier()
    dist.destroy_process_group()
    if rank == 0:
        torch.save(rows, out)


def run(ns, dims, reps, skip) -> list:
    import torch.multiprocessing as mp

    from algorithms.torch.distributed import _free_port

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in ns:
            out = os.path.join(folder, f"n{n}.pt")
            t0 = time.time()
            mp.spawn(_worker, args=(n, _free_port(), dims, reps, skip, out), nprocs=n, join=True)
            rows += torch.load(out)
            print(f"  n={n}: {time.time() - t0:.0f} s (process start included)", file=sys.stderr)
    return rows


def table(rows) -> str:
    by = {(n, d, m): (s, p, w) for n, d, m, s, p, w in rows}
    lines = ["| n | d | method | ms / iter | payload B / rank | wire B / rank / iter | time ratio dense/x | "
             "payload ratio | wire ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for n, d, m, s, p, w in rows:
        ds, dp, dw = by[(n, d, "dense")]
        wire = "n/a" if w is None else f"{w:,.0f}"
        wr = "n/a" if (w is None or not w) else f"{dw / w:.1f}"
        lines.append(f"| {n} | {d:,} | {m} | {1e3 * s:.2f} | {p:,} | {wire} | {ds / s:.2f} | {dp / p:.1f} | {wr} |")
    return "\n".join(lines)


def _ints(flag: str, text: str, *, low: int, length: int | None = None) -> tuple:
    """Comma-separated integers >= ``low`` (``length`` of them if given); ValueError naming the flag."""
    try:
        out = tuple(int(a) for a in text.split(","))
    except ValueError:
        out = ()
    if not out or any(v < low for v in out) or (length is not None and len(out) != length):
        what = f"{length} comma-separated integers" if length else "comma-separated integers"
        raise ValueError(f"{flag} must be {what} >= {low}; got {text!r}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--skip", action="append", default=[], help="n,d grid points to leave out")
    ap.add_argument("--ns", default=None, help="comma-separated numbers of ranks (default 2,4,8)")
    ap.add_argument("--dims", default=None, help="comma-separated dimensions (default 1000,100000,1000000)")
    args = ap.parse_args(argv)
    ns = (2, 4) if args.quick else (2, 4, 8)
    dims = (10**3, 10**5) if args.quick else (10**3, 10**5, 10**6)
    try:
        if args.reps < 1:
            raise ValueError(f"--reps must be an integer >= 1; got {args.reps}")
        if args.ns:
            ns = _ints("--ns", args.ns, low=1)
        if args.dims:
            dims = _ints("--dims", args.dims, low=1)
        skip = {_ints("--skip", s, low=1, length=2) for s in args.skip}
    except ValueError as err:
        ap.error(str(err))
    t0 = time.time()
    rows = run(ns, dims, args.reps, skip)
    print(table(rows))
    if skip:
        print(f"\nskipped: {sorted(skip)}")
    print(f"\ntotal {time.time() - t0:.0f} s on {os.cpu_count()} CPU cores (loopback gloo, float32 payloads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
