"""Wall time of building the demonstration county — goal: ≤ 20 s.

Runs ``python -m demo --reset --db <new file in a temporary directory>`` exactly as
``make run`` does on a fresh clone (the workbooks rendered by worker processes while
the earlier years are loaded through the upload path, the reviewers' work, accounts,
after-load steps), and reports its wall time and the CPU time of all its processes (the
build, the workbook readers, the rendering processes; sampled from ``/proc``).
Several runs: the median. ``--baseline SECONDS`` (a wall time measured before a change)
adds the ratio baseline / now.

Usage::

    python -m bench.bench_demo [--runs 1] [--baseline SECONDS]

Not part of ``make test``. On a shared machine the figures are upper bounds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 20.0
ROOT = Path(__file__).resolve().parent.parent


def _tree_cpu(root: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds so far of ``root`` and every process under it (Linux ``/proc``; elsewhere
    nothing): the rendering and reading processes are not all children the build waits for."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d.name)] = int(f[1])
        cpu[int(d.name)] = (int(f[11]) + int(f[12])) / tick
    for pid in cpu:
        p = pid
        while p in parent and p != root:
            p = parent[p]
        if p == root:
            seen[pid] = max(seen.get(pid, 0.0), cpu[pid])


def one_run() -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process tree) of one ``python -m demo --reset --db …``
    into a new file. The CPU time is sampled every 0.1 s (a process's last moments are missed)."""
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "demo", "--reset", "--db", str(Path(d) / "demo.duckdb")],
                             cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        seen: dict[int, float] = {}
        while True:
            _tree_cpu(p.pid, seen)
            pid, status = os.waitpid(p.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        log.seek(0)
        out = log.read().decode()
        if code != 0 or "未被接收" in out:
            raise SystemExit(f"演示县生成失败（退出码 {code}）：\n{out}")
    return wall, sum(seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description="演示县生成用时（python -m demo --reset）")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--baseline", type=float, default=None, help="改动前测得的用时（秒），用于计算倍数")
    a = ap.parse_args()
    rows = [one_run() for _ in range(a.runs)]
    wall = statistics.median(r[0] for r in rows)
    cpu = statistics.median(r[1] for r in rows)
    ok = "OK" if wall <= GOAL_SECONDS else "SLOW"
    line = f"演示县（python -m demo --reset）：用时 {wall:.1f} s，CPU {cpu:.1f} s（目标 ≤ {GOAL_SECONDS:g} s）{ok}"
    if a.baseline:
        line += f"；改动前 {a.baseline:.1f} s，快 {a.baseline / wall:.2f} 倍"
    print(line)


if __name__ == "__main__":
    main()
