#!/usr/bin/env python3
"""The reference for `distillery-bench bench-allreduce`: torch.distributed all_reduce (SUM) with the
gloo backend, RANKS processes on loopback, the same buffer, pattern, check and timing.

    Scripts/bench_gloo.py [--ranks 2] [--count 1048576] [--warmup 5] [--iterations 30] [--port P]

Spawns RANKS processes (this script with --rank), each with torch.set_num_threads(1). Rank r
contributes (r + 1) + (i mod 1024) / 1024; every partial sum is exact in float32, so each
result is compared bit for bit with R(R+1)/2 + R·(i mod 1024)/1024. Only the all_reduce call
is timed (the refill before it is not). Every rank prints one JSON line with the fields of
bench-allreduce; the parent exits non-zero if any rank fails or does not finish in time.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time


def percentile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default), as bench-allreduce."""
    x = q * (len(sorted_values) - 1)
    i = int(x)
    f = x - i
    return sorted_values[i] + (sorted_values[i + 1] - sorted_values[i]) * f if i + 1 < len(sorted_values) else sorted_values[i]


def worker(args):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{args.port}", rank=args.rank,
                            world_size=args.ranks, timeout=__import__("datetime").timedelta(seconds=60))
    r, n, count = args.rank, args.ranks, args.count
    pattern = torch.arange(count, dtype=torch.int64).remainder(1024).to(torch.float32) / 1024
    mine = pattern + float(r + 1)
    expected = pattern * float(n) + float(n * (n + 1) // 2)
    buf = torch.empty(count, dtype=torch.float32)
    times = []
    for i in range(args.warmup + args.iterations):
        buf.copy_(mine)
        start = time.perf_counter()
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        elapsed = time.perf_counter() - start
        if not torch.equal(buf, expected):
            bad = int((buf != expected).nonzero()[0])
            sys.exit(f"gloo all-reduce {i + 1} on rank {r}: element {bad} is {buf[bad].item()}, expected {expected[bad].item()}")
        if i >= args.warmup:
            times.append(elapsed * 1000)
    dist.destroy_process_group()
    times.sort()
    median = statistics.median(times)
    print(json.dumps({"side": "gloo", "rank": r, "ranks": n, "count": count, "bytes": count * 4,
                      "warmup": args.warmup, "iterations": args.iterations,
                      "median_ms": round(median, 3), "p10_ms": round(percentile(times, 0.1), 3),
                      "p90_ms": round(percentile(times, 0.9), 3),
                      "algbw_gb_s": round(count * 4 / (median / 1000) / 1e9, 3), "verified": True,
                      "torch": torch.__version__}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--count", type=int, default=1_048_576)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--port", type=int, default=0, help="rendezvous port (default: random in 40000-60000)")
    p.add_argument("--timeout", type=float, default=120, help="seconds before the ranks are killed")
    p.add_argument("--rank", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rank is not None:
        worker(args)
        return
    port = args.port or random.randint(40000, 60000)
    env = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, __file__, "--rank", str(r), "--ranks", str(args.ranks),
                               "--count", str(args.count), "--warmup", str(args.warmup),
                               "--iterations", str(args.iterations), "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, text=True)
             for r in range(args.ranks)]
    deadline = time.monotonic() + args.timeout
    failed = False
    outputs = []
    for r, proc in enumerate(procs):
        try:
            out, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            out, _ = proc.communicate()
            print(f"bench_gloo: rank {r} did not finish within {args.timeout:g} s", file=sys.stderr)
            failed = True
        if proc.returncode != 0:
            failed = True
        outputs.append(out)
    for out in outputs:
        sys.stdout.write(out)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
