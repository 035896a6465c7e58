"""Publishing benchmark: a synthetic province (default 600 units, ≈500 ledger
items and ≈10 requests per unit-year).

Publishing stores the scorecard and every detail behind it (indicators,
penalties, each ledger item and request as scored, coverage, timeliness
counts). Measured on one year, against scoring that year once:

  * ``score``: ``score_year`` (the baseline),
  * ``publish``: ``metrics.closing.publish`` end to end (scores, computes the
    details with the engine's queries and stores them in one transaction),
    goal ≤ 10 × ``score`` (a once-a-year action),
  * ``read``: the overdue and pending items of the year from the published
    snapshot against computing them live (ratio live ÷ snapshot).

Usage: python -m bench.bench_closing [--units N] [--db PATH] [--keep]
"""
from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

YEAR = 2023
STAFF = {"name": "bench", "role": "admin", "unit": None}


def _best(fn, repeat: int = 3) -> float:
    best = None
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        s = time.perf_counter() - t
        best = s if best is None else min(best, s)
    return best


def main() -> None:
    from bench.synth import build_province
    from data.store import connect
    from metrics import closing as mc
    from metrics.engine import score_year

    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=600)
    ap.add_argument("--db")
    ap.add_argument("--keep", action="store_true", help="reuse --db if it exists")
    a = ap.parse_args()
    db = Path(a.db or Path(tempfile.gettempdir()) / f"gongkai-bench-closing-{a.units}.duckdb")
    if not (a.keep and db.exists()):
        build_province(db, units=a.units, years=(YEAR,))
    work = db.with_name(db.stem + "-work.duckdb")
    shutil.copy(db, work)
    con = connect(work)
    try:
        con.execute("UPDATE workflow SET status = '已审核'")
        n_items = con.execute("SELECT count(*) FROM ledger_items").fetchone()[0]
        score = _best(lambda: score_year(con, YEAR))
        mc.start_review(con, YEAR, STAFF, today=dt.date(2024, 3, 1))
        t = time.perf_counter()
        mc.publish(con, YEAR, STAFF, today=dt.date(2024, 3, 4))
        publish = time.perf_counter() - t
        states = ["逾期", "未到期"]
        snap = _best(lambda: mc.item_facts(con, YEAR, states=states))
        live = _best(lambda: mc.item_facts(con, YEAR, states=states, which=mc.LIVE))
        stored = con.execute("SELECT count(*) FROM snapshot_items").fetchone()[0]
    finally:
        con.close()
        work.unlink(missing_ok=True)
        Path(str(work) + ".wal").unlink(missing_ok=True)
    print(f"{a.units} 个单位，{n_items} 条台账事项（存入公示稿 {stored} 条）")
    print(f"score_year {score:.2f} s；publish {publish:.2f} s（{publish / score:.1f} × score_year，目标 ≤ 10 ×）")
    print(f"逾期和未到期事项：读公示稿 {snap:.3f} s，实时计算 {live:.3f} s（实时 ÷ 公示稿 = {live / snap:.1f}）")


if __name__ == "__main__":
    main()
