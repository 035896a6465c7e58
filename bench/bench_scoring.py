"""Scoring benchmark: a synthetic province (default 6,000 units × 5 years,
≈500 ledger items and ≈10 requests per unit-year, ≈15 M ledger rows).

Measures, each in a fresh process so peak memory is its own:
  * full rescoring: ``score_year`` for every year (goal ≤ 10 s, ≤ 2 GB),
  * H1 alone in SQL (the engine's own CTEs) against a pandas-groupby baseline
    of the same H1 computation (ratio = pandas ÷ SQL).

Usage: python -m bench.bench_scoring [--units N] [--db PATH] [--keep]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

YEARS = [2019, 2020, 2021, 2022, 2023]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def task_full(db: str) -> dict:
    import duckdb

    from metrics.engine import score_year

    con = duckdb.connect(db)
    t = time.perf_counter()
    rows = 0
    for y in YEARS:
        rows += len(score_year(con, y))
    return {"seconds": time.perf_counter() - t, "rows": rows, "peak_mb": _peak_mb()}


def _h1_sql() -> str:
    from data.calendar import WORKDAY_CTES
    from core.vocab import ItemState
    from metrics.engine import ITEMS_SQL, _cur_sql

    return f"""WITH {WORKDAY_CTES}, {_cur_sql(False)}, {ITEMS_SQL}
    SELECT unit, year,
           count(*) FILTER (WHERE state = '{ItemState.ON_TIME}') AS on_time,
           count(*) FILTER (WHERE state = '{ItemState.LATE}') AS late,
           count(*) FILTER (WHERE state = '{ItemState.NOT_DUE}') AS pending
    FROM items WHERE counted GROUP BY unit, year"""


def task_h1_sql(db: str) -> dict:
    import duckdb

    from metrics.engine import _params
    from core.scheme import scheme_for

    con = duckdb.connect(db)
    with _params(con, [scheme_for(y) for y in YEARS]):
        t = time.perf_counter()
        df = con.sql(_h1_sql()).df()
        sec = time.perf_counter() - t
    df = df.sort_values(["unit", "year"]).reset_index(drop=True)
    return {"seconds": sec, "rows": len(df), "peak_mb": _peak_mb(),
            "checksum": [int(df.on_time.sum()), int(df.late.sum()), int(df.pending.sum())]}


def task_h1_pandas(db: str) -> dict:
    """The same H1 counts with pandas: load the rows, then groupby."""
    import duckdb
    import numpy as np
    import pandas as pd

    from core.scheme import scheme_for

    con = duckdb.connect(db)
    t = time.perf_counter()
    cal = con.sql("SELECT day, is_workday FROM calendar ORDER BY day").df()
    subs = con.sql("SELECT id, unit, year, version FROM submissions").df()
    items = con.sql("SELECT submission_id, formed, published FROM ledger_items").df()
    # current submission = highest version per unit and year
    cur = subs.sort_values("version").groupby(["unit", "year"], as_index=False).last()
    df = items.merge(cur[["id", "unit", "year"]], left_on="submission_id", right_on="id")
    years = pd.DataFrame([{"year": y, "ys": pd.Timestamp(scheme_for(y).year_start),
                           "ye": pd.Timestamp(scheme_for(y).year_end),
                           "cutoff": pd.Timestamp(scheme_for(y).cutoff),
                           "n": scheme_for(y).proactive_days} for y in YEARS])
    df = df.merge(years, on="year")
    formed = pd.to_datetime(df["formed"])
    df = df[(formed >= df["ys"]) & (formed <= df["ye"])]
    formed = pd.to_datetime(df["formed"]).to_numpy()
    days = pd.to_datetime(cal["day"]).to_numpy()
    work = cal["is_workday"].to_numpy()
    wd_index = np.cumsum(work)
    workdays = days[work]
    idx = wd_index[np.searchsorted(days, formed)]
    deadline = workdays[idx + df["n"].to_numpy() - 1]
    published = pd.to_datetime(df["published"]).to_numpy()
    has_pub = ~pd.isna(df["published"]).to_numpy()
    before_cut = deadline < df["cutoff"].to_numpy()
    df = df.assign(on_time=has_pub & (published <= deadline),
                   late=(has_pub & (published > deadline)) | (~has_pub & before_cut),
                   pending=~has_pub & ~before_cut)
    g = df.groupby(["unit", "year"])[["on_time", "late", "pending"]].sum().reset_index()
    sec = time.perf_counter() - t
    return {"seconds": sec, "rows": len(g), "peak_mb": _peak_mb(),
            "checksum": [int(g.on_time.sum()), int(g.late.sum()), int(g.pending.sum())]}


TASKS = {"full": task_full, "h1_sql": task_h1_sql, "h1_pandas": task_h1_pandas}


def run_task(name: str, db: str, repeat: int) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-m", "bench.bench_scoring", "--task", name, "--db", db],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or r["seconds"] < best["seconds"]:
            best = r
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=6000)
    ap.add_argument("--db")
    ap.add_argument("--task", choices=list(TASKS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="reuse --db if it exists")
    a = ap.parse_args()
    if a.task:
        print(json.dumps(TASKS[a.task](a.db)))
        return
    db = a.db or str(Path(tempfile.gettempdir()) / f"gongkai-bench-{a.units}.duckdb")
    if not (a.keep and Path(db).exists()):
        from bench.synth import build_province

        con, stats = build_province(db, units=a.units)
        con.close()
        print(f"合成数据：{stats}")
    full = run_task("full", db, a.repeat)
    sql = run_task("h1_sql", db, a.repeat)
    pdx = run_task("h1_pandas", db, a.repeat)
    assert sql["checksum"] == pdx["checksum"], (sql["checksum"], pdx["checksum"])
    print(f"全部重新评分（{len(YEARS)}年，{full['rows']}行）：{full['seconds']:.2f} s，峰值内存 {full['peak_mb']:.0f} MB"
          f"（目标 ≤ 10 s、≤ 2048 MB）")
    print(f"H1 SQL：{sql['seconds']:.2f} s（峰值 {sql['peak_mb']:.0f} MB）；pandas groupby 基线：{pdx['seconds']:.2f} s"
          f"（峰值 {pdx['peak_mb']:.0f} MB）；比值 pandas/SQL = {pdx['seconds'] / sql['seconds']:.1f}×")


if __name__ == "__main__":
    main()
