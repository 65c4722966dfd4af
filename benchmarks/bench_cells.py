"""%%slurm cells: how soon a cell's outputs land, what the cluster-side worker costs to start, and
how many slurmctld RPCs a kernel watching a running cell causes, with many jobs of its user queued.

    .venv/bin/python -m benchmarks.bench_cells [--rounds 15] [--worker-runs 20] [--jobs 10000]
        [--seconds 60] [--ttl 3] [--code DIR] [--keep] [--submitit]
        [--dir /var/lib/slurm-lab/devcluster-bench] [--port-base 9817]

Runs on a dev cluster of its own (``--dir``, started if needed), never the tests' one; the kernel
runs as this user and ``--jobs`` held jobs of this user fill the queue for part 3 (and stay with
``--keep``, so the next run skips the filling).

1. Worker start: ``python worker.py RUN_DIR`` for ``1 + 1`` in a run folder laid out as
   cells/run.py lays it out, from launch until the process has written its result and exited;
   median of ``--worker-runs`` (after one warm-up).
2. In one real kernel, interleaved round by round, each after the same seeded random pause
   (0-1 s: slurmctld starts jobs on a 1 s tick, and back-to-back runs would phase-lock to it):
   raw polling (sbatch of ``true``, then ``scontrol show job`` every 20 ms until COMPLETED), the
   non-blocking ``%%slurm --out x`` / ``x = 1 + 1`` (from the magic's call until ``x`` is in the
   namespace), and ``%%slurm --wait`` (from the call until it returns). Once on the queue as
   found, and once more with the ``--jobs`` jobs queued.
3. slurmctld RPCs per minute (``sdiag`` before/after, by message type, less ``sdiag``'s own and
   less the cluster's background over an equal window without a kernel) while that kernel watches
   one running cell (``time.sleep``) for ``--seconds``, with ``--jobs`` other jobs of the same
   user queued (held).

``--code DIR`` runs the kernel and the worker from another checkout (e.g. the code before a
change); ``--ttl`` is the kernel's c.SlurmLab.cache_ttl (3, the default).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from slurm_lab.devcluster import DevCluster
from tests.helpers import ME
from tests.notebooks import execute, kernel_env, notebook, text_of

from .common import add_cluster_options, bench_cluster, clear_queue, fill_queue, queued, summary, timed

ROOT = Path(__file__).resolve().parents[1]
#: sdiag's own RPC, subtracted from every window.
OWN_RPCS = ("REQUEST_STATS_INFO",)


# --------------------------------------------------------------------- 1. worker start
def worker_start(code: Path, runs: int) -> list[float]:
    """Launch to exit of ``python worker.py RUN_DIR`` for ``1 + 1``, in ms (the first run is a warm-up)."""
    worker = code / "slurm_lab" / "cells" / "worker.py"
    samples = []
    with tempfile.TemporaryDirectory(prefix="slurm-lab-worker-") as folder:
        run_dir = Path(folder)
        (run_dir / "worker.py").write_bytes(worker.read_bytes())
        (run_dir / "cell.py").write_text("1 + 1\n")
        (run_dir / "inputs.pkl").write_bytes(pickle.dumps({}))
        (run_dir / "meta.json").write_text(json.dumps({"run_id": "bench", "out": []}))
        argv = [sys.executable, str(run_dir / "worker.py"), str(run_dir)]
        env = {k: v for k, v in os.environ.items() if k != "SLURM_ARRAY_TASK_ID"}
        for _ in range(runs + 1):
            (run_dir / "result.pkl").unlink(missing_ok=True)
            samples.append(timed(lambda: subprocess.run(argv, env=env, check=True)))
            assert pickle.loads((run_dir / "result.pkl").read_bytes())["result"] == 2
    return samples[1:]


# --------------------------------------------------------------------- 2. time to outputs
SETUP = """%load_ext slurm_lab
import json, subprocess, threading, time
ip = get_ipython()

def raw():
    started = time.perf_counter()
    job = subprocess.run(["sbatch", "--parsable", "--output=/dev/null"], input=b"#!/bin/sh\\ntrue\\n",
                         capture_output=True, check=True).stdout.decode().strip()
    while "JobState=COMPLETED" not in subprocess.run(["scontrol", "show", "job", "-o", job],
                                                     capture_output=True, text=True).stdout:
        time.sleep(0.02)
    return (time.perf_counter() - started) * 1000

def non_blocking():
    ip.user_ns.pop("x", None)
    started = time.perf_counter()
    ip.run_cell_magic("slurm", "--out x", "x = 1 + 1")
    while "x" not in ip.user_ns:
        time.sleep(0.001)
    return (time.perf_counter() - started) * 1000

def waited():
    started = time.perf_counter()
    ip.run_cell_magic("slurm", "--wait --out x", "x = 1 + 1")
    return (time.perf_counter() - started) * 1000

def paired(fn):
    # Raw polling, submitted at the same moment from a thread: both jobs meet slurmctld's
    # scheduling tick at the same phase, so the difference is the cell's own cost.
    out = []
    thread = threading.Thread(target=lambda: out.append(raw()))
    thread.start()
    mine = fn()
    thread.join()
    return out[0], mine

ip.run_cell_magic("slurm", "--wait", "1 + 1")  # warms the cluster-side Python check
"""


def pauses(rounds: int) -> list[float]:
    rng = random.Random(42)
    return [rng.random() for _ in range(rounds)]


def round_cell(pause: float) -> str:
    return (
        f"time.sleep({pause})\n"
        "raw_nb, nb = paired(non_blocking)\n"
        f"time.sleep({pause})\n"
        "raw_wait, wait = paired(waited)\n"
        "print('SAMPLES', json.dumps(dict(raw_nb=raw_nb, non_blocking=nb, raw_wait=raw_wait, wait=wait)))"
    )


def kernel_config(env: dict[str, str], cluster: DevCluster, code: Path | None) -> dict[str, str]:
    env = {**env, **cluster.env}
    if code is not None:
        env["PYTHONPATH"] = str(code)
    return env


def time_to_outputs(
    cluster: DevCluster, rounds: int, ttl: float, code: Path | None
) -> dict[str, list[float]]:
    with kernel_env(cluster, f"c.SlurmLab.cache_ttl = {ttl}") as env:
        nb = execute(
            notebook(SETUP, *[round_cell(p) for p in pauses(rounds)]), kernel_config(env, cluster, code)
        )
    samples: dict[str, list[float]] = {"raw_nb": [], "non_blocking": [], "raw_wait": [], "wait": []}
    for cell in nb.cells[1:]:
        found = re.search(r"SAMPLES (\{.*\})", text_of(cell))
        assert found, text_of(cell)
        for name, value in json.loads(found.group(1)).items():
            samples[name].append(value)
    return samples


def print_times(samples: dict[str, list[float]], queue: int) -> None:
    print(f"-- {queue} jobs in the queue; each %%slurm run paired with raw polling submitted with it")
    raw = samples["raw_nb"] + samples["raw_wait"]
    print(summary("raw sbatch -> COMPLETED (20 ms poll)", raw))
    for name, baseline, label in (
        ("non_blocking", "raw_nb", "%%slurm --out x: call -> x landed"),
        ("wait", "raw_wait", "%%slurm --wait: call -> returned"),
    ):
        mine, paired = samples[name], samples[baseline]
        print(summary(label, mine))
        ratio = statistics.median(mine) / statistics.median(paired)
        diff = statistics.median(m - r for m, r in zip(mine, paired, strict=True))
        print(f"{'  / raw run with it (medians), paired':<38} {ratio:.2f}x; median difference {diff:+.0f} ms")


# --------------------------------------------------------------------- 3. RPCs of a watcher
_RPC = re.compile(r"^\s+(\S+)\s+\(\s*\d+\)\s+count:(\d+)\s+ave_time:\d+\s+total_time:(\d+)", re.MULTILINE)


def rpcs(sdiag: str) -> tuple[Counter[str], Counter[str]]:
    """sdiag's RPCs by message type: counts, and slurmctld's microseconds serving them."""
    section = sdiag.partition("statistics by message type")[2].partition("statistics by user")[0]
    counts, micros = Counter[str](), Counter[str]()
    for name, count, total in _RPC.findall(section):
        if name not in OWN_RPCS:
            counts[name], micros[name] = int(count), int(total)
    return counts, micros


def sdiag(cluster: DevCluster) -> str:
    env = {**os.environ, **cluster.env}
    return subprocess.run(["sdiag"], env=env, capture_output=True, text=True, check=True).stdout


def per_minute(before: Counter[str], after: Counter[str], seconds: float) -> Counter[str]:
    return Counter(
        {k: round((after[k] - before[k]) * 60 / seconds, 1) for k in after if after[k] > before[k]}
    )


WATCH = """import resource
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime
run = ip.run_cell_magic("slurm", "--out y", "import time\\ntime.sleep({hold})\\ny = 1")
while run.state != "RUNNING":
    time.sleep(0.05)
time.sleep(1)
before, cpu_before = subprocess.run(["sdiag"], capture_output=True, text=True).stdout, cpu()
time.sleep({seconds})
after, cpu_after = subprocess.run(["sdiag"], capture_output=True, text=True).stdout, cpu()
run.cancel()
print("SDIAG", json.dumps([before, after, [b - a for a, b in zip(cpu_before, cpu_after)]]))
"""


def watcher_rpcs(cluster: DevCluster, seconds: float, ttl: float, code: Path | None) -> None:
    # The cluster's own traffic (node registrations, pings answered, ...) over an equal window.
    first = sdiag(cluster)
    time.sleep(seconds)
    background = [rpcs(first), rpcs(sdiag(cluster))]
    cells = ["%load_ext slurm_lab\nimport json, subprocess, time\nip = get_ipython()",
             WATCH.format(hold=seconds + 120, seconds=seconds)]  # fmt: skip
    with kernel_env(cluster, f"c.SlurmLab.cache_ttl = {ttl}") as env:
        nb = execute(notebook(*cells), kernel_config(env, cluster, code))
    found = re.search(r"SDIAG (\[.*\])", text_of(nb.cells[1]), re.DOTALL)
    assert found, text_of(nb.cells[1])
    before_text, after_text, (kernel_cpu, children_cpu) = json.loads(found.group(1))
    before, after = rpcs(before_text), rpcs(after_text)
    quiet = per_minute(background[0][0], background[1][0], seconds)
    busy = per_minute(before[0], after[0], seconds)
    watcher = Counter({k: round(busy[k] - quiet[k], 1) for k in busy if busy[k] - quiet[k] > 0})
    micros = per_minute(before[1], after[1], seconds)
    quiet_micros = per_minute(background[0][1], background[1][1], seconds)
    busy_ms = sum(max(0.0, micros[k] - quiet_micros[k]) for k in watcher) / 1000
    print(
        f"{'watcher: slurmctld RPCs per minute':<38} {sum(watcher.values()):.0f}  ({dict(watcher.most_common())})"
    )
    print(f"{'watcher: slurmctld busy per minute':<38} {busy_ms:.1f} ms (sdiag total_time of those RPCs)")
    print(
        f"{'watcher: kernel CPU while watching':<38} {100 * kernel_cpu / seconds:.2f} % of a core "
        f"(+{100 * children_cpu / seconds:.2f} % in Slurm's CLIs)"
    )
    print(f"{'background (no kernel) RPCs/min':<38} {sum(quiet.values()):.0f}  ({dict(quiet.most_common())})")


# --------------------------------------------------------------------- submitit (optional)
def add(a: int, b: int) -> int:
    return a + b


def submitit_runs(cluster: DevCluster, rounds: int) -> list[float]:
    import submitit

    os.environ.update(cluster.env)
    with tempfile.TemporaryDirectory() as folder:
        executor = submitit.AutoExecutor(folder=folder, cluster="slurm")
        executor.update_parameters(slurm_partition="debug", timeout_min=5)
        executor.submit(add, 1, 1).result()  # warm-up
        samples = []
        for pause in pauses(rounds):
            time.sleep(pause)
            samples.append(timed(lambda: executor.submit(add, 1, 1).result()))
        return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--worker-runs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=10_000, help="held jobs of this user queued (0: none)")
    parser.add_argument("--seconds", type=float, default=60, help="RPC window (0: skip part 3)")
    parser.add_argument("--ttl", type=float, default=3.0, help="the kernel's c.SlurmLab.cache_ttl")
    parser.add_argument("--code", type=Path, help="run the kernel and the worker from this checkout")
    parser.add_argument("--keep", action="store_true", help="leave the --jobs jobs queued for the next run")
    parser.add_argument("--submitit", action="store_true", help="also submitit on the same function")
    add_cluster_options(parser)
    args = parser.parse_args()
    code = args.code.resolve() if args.code else None
    cluster = bench_cluster(args)
    cluster.up()
    print(f"code: {code or ROOT}; cluster {cluster.layout.root}; kernel cache_ttl {args.ttl:g} s")

    print(summary("worker start: launch -> result (1+1)", worker_start(code or ROOT, args.worker_runs)))

    print_times(time_to_outputs(cluster, args.rounds, args.ttl, code), queued(cluster))
    if args.jobs:
        missing = args.jobs - queued(cluster)
        if missing > 0:
            took = fill_queue(cluster, missing, user=ME)
            print(f"queued {missing} held jobs of {ME} in {took:.0f} s")
        print_times(time_to_outputs(cluster, args.rounds, args.ttl, code), queued(cluster))
    if args.seconds:
        print(
            f"-- one running cell watched for {args.seconds:g} s, {queued(cluster)} held jobs of {ME} queued"
        )
        watcher_rpcs(cluster, args.seconds, args.ttl, code)
    if args.jobs and not args.keep:
        clear_queue(cluster, ME)
    if args.submitit:
        try:
            sub = submitit_runs(cluster, args.rounds)
        except Exception as exc:  # reported, not hidden: submitit needs sacct
            print(f"submitit failed: {type(exc).__name__}: {str(exc)[:300]}")
            return
        print(summary("submitit submit -> result()", sub))


if __name__ == "__main__":
    main()
