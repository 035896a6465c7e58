"""Wall time of building the demonstration county (``python -m demo``) — goal: ≤ 20 s.

Builds the whole county into a new file in a temporary directory, the way
``make run`` does on a fresh clone, and reports the generation (story, content
and rendering of every workbook) and the loading (ingest through the upload
path, the reviewers' work, accounts, after-load steps) separately.

Usage::

    python -m bench.bench_demo [--runs 1] [--workers N]

Not part of ``make test``.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 20.0


def one_run(workers: int | None) -> tuple[float, float, float]:
    from core.scheme import years
    from data.store import connect
    from demo.generate import SEED, Workdays, generate_county
    from demo.load import build_demo

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        con = connect(Path(d) / "demo.duckdb")
        yrs = years()
        files = generate_county(SEED, cal=Workdays.for_years(yrs[0], yrs[-1], con), workers=workers)
        t1 = time.perf_counter()
        summary = build_demo(con, seed=SEED, files=files)
        con.execute("CHECKPOINT")
        con.close()
        t2 = time.perf_counter()
    assert not summary["problems"], summary["problems"]
    return t1 - t0, t2 - t1, t2 - t0


def main() -> None:
    ap = argparse.ArgumentParser(description="演示县生成用时")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None, help="渲染工作簿的进程数（默认：CPU 核数，最多 4）")
    a = ap.parse_args()
    rows = [one_run(a.workers) for _ in range(a.runs)]
    gen, load, total = (statistics.median(c) for c in zip(*rows))
    ok = "OK" if total <= GOAL_SECONDS else "SLOW"
    print(f"演示县：生成 {gen:.1f} s + 装入 {load:.1f} s = {total:.1f} s（目标 ≤ {GOAL_SECONDS:g} s）{ok}")


if __name__ == "__main__":
    main()
