"""Server-side render time of the analytics pages (总览、评分卡、及时性、覆盖缺口、趋势).

Each page script is run with Streamlit's AppTest (signed in as a leader) the
way the server runs it for a browser: first on a cold cache (the metrics of
the year are computed), then several times on a warm cache (every run a new
session, as when other people open the page).  Reported: the cold time and
the median of the warm runs.

Two databases:

* the demonstration county (``python -m demo``; 33 units, 2019–2023) —
  goal: warm median ≤ 1 s per page;
* a synthetic province (``bench/synth.py``: 6,000 units × 5 years, ~500 ledger
  items and ~10 requests per unit-year, written straight into DuckDB) —
  goal: every page ≤ 1 s, cold and warm, reading the stored scores; and a
  reviewer's save followed by every page opened cold (the save reflected).

Usage::

    python -m bench.bench_pages [--runs 5] [--demo-db PATH] [--province-db PATH]
                                [--units 6000] [--keep] [--skip-province]

Not part of ``make test``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("overview", "scorecard", "timeliness", "coverage", "trends")
TITLES = {"overview": "总览", "scorecard": "评分卡", "timeliness": "及时性", "coverage": "覆盖缺口", "trends": "趋势"}
LEADER = {"name": "bench", "role": "leader", "unit": None}


def _quiet() -> None:
    """Silence Streamlit's bare-mode warnings (one per cached call outside a server)."""
    import streamlit.testing.v1  # noqa: F401 - creates Streamlit's loggers
    from streamlit import config
    from streamlit import logger as st_logger

    config.set_option("logger.level", "error")
    st_logger.set_log_level("error")


def _clear() -> None:
    import streamlit as st

    from dashboard.common import close_connections

    close_connections()
    st.cache_data.clear()
    st.cache_resource.clear()


def render(page: str, year: int) -> float:
    """Seconds to run one page once in a new session; raises on a page error."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard" / "app_pages" / f"{page}.py"), default_timeout=900)
    at.session_state["auth_user"] = dict(LEADER)
    at.session_state["year"] = year
    t = time.perf_counter()
    at.run()
    dt = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    return dt


def wait_idle(timeout: float = 5.0) -> None:
    """Until the dashboard has let go of the database file (what a page run after
    a pause meets: the file is opened again)."""
    from dashboard.common import get_database

    m = get_database()
    deadline = time.monotonic() + timeout
    while (m.is_open or m.active) and time.monotonic() < deadline:
        time.sleep(0.02)


def bench_db(label: str, db: str, year: int, runs: int, goal: float, after_idle: bool = False) -> list[dict]:
    os.environ["GONGKAI_DB"] = db
    _clear()
    rows = []
    print(f"\n== {label}（{db}，{year}年度） ==")
    print(f"{'页面':<8}{'首次（冷缓存）':>14}{'中位数（热缓存）':>16}   目标")
    for page in PAGES:
        cold = render(page, year)
        warm = []
        for _ in range(runs):
            if after_idle:
                wait_idle()
            warm.append(render(page, year))
        med = statistics.median(warm)
        ok = "达标" if med <= goal else "超标"
        rows.append({"db": label, "page": page, "cold": cold, "warm_median": med, "warm": warm, "goal": goal})
        print(f"{TITLES[page]:<8}{cold:>12.2f} s{med:>14.3f} s   ≤ {goal:g} s {ok}")
    _clear()
    return rows


def ensure_demo(path: str | None) -> str:
    p = Path(path) if path else Path(tempfile.gettempdir()) / "gongkai-bench-demo.duckdb"
    if p.exists():
        return str(p)
    from demo.database import create_demo_database

    print(create_demo_database(p)[0])
    return str(p)


def ensure_province(path: str | None, units: int, keep: bool) -> str:
    p = Path(path) if path else Path(tempfile.gettempdir()) / f"gongkai-bench-{units}.duckdb"
    if keep and p.exists():
        return str(p)
    from bench.synth import build_province

    con, stats = build_province(p, units=units)
    print(f"合成省份：{stats}")
    t = time.perf_counter()
    from metrics.engine import rescore

    done = rescore(con)  # written straight into the tables: the scores are stored as `rescore` does
    print(f"保存各年度得分（rescore）：{sum(done.values())} 个单位年度，用时 {time.perf_counter() - t:.1f} 秒")
    con.close()
    return str(p)


def save_then_render(db: str, year: int) -> dict:
    """A reviewer's save (one review score, through the data layer, with the stored
    scores updated after its commit), then every page opened cold: seconds each."""
    import streamlit as st

    from data import review as rv
    from data.access import SYSTEM
    from data.store import connect
    from data.users import create_user

    _clear()
    con = connect(db)
    try:
        if con.execute("SELECT 1 FROM users WHERE name = 'bench_rev'").fetchone() is None:
            create_user(con, "bench_rev", "reviewer", "bench-review-2026", actor=SYSTEM)
        sid, unit, code, score = con.execute("""
            SELECT s.id, s.unit, x.code, x.score FROM submissions s JOIN self_scores x ON x.submission_id = s.id
            JOIN workflow w ON w.unit = s.unit AND w.year = s.year AND w.status = '待审核'
            WHERE s.year = ? AND x.code = 'A1' ORDER BY s.id LIMIT 1""", [year]).fetchone()
        first = 0 if float(score) > 0 else 1
        save = None
        for new in (first, 1 - first):  # the score that differs from the one set now (a reused database)
            seen = rv.snapshot(con, unit, year)
            t = time.perf_counter()
            changed = rv.set_review_score(con, sid, code, new, "基准测试：调整审核分", "bench_rev", seen=seen)
            save = time.perf_counter() - t
            if changed:
                break
    finally:
        con.close()
    st.cache_data.clear()
    pages = {page: render(page, year) for page in PAGES}
    print(f"审核员保存一项审核分（含保存后更新该单位得分）：{save:.3f} s；随后各页面首次打开："
          + "，".join(f"{TITLES[k]} {v:.2f} s" for k, v in pages.items()))
    return {"save": save, "pages": pages}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="分析页面服务端渲染时间")
    ap.add_argument("--runs", type=int, default=5, help="热缓存下每页运行次数（取中位数）")
    ap.add_argument("--demo-db", help="演示县数据库（缺省：临时目录中生成）")
    ap.add_argument("--demo-year", type=int, default=2023)
    ap.add_argument("--province-db", help="合成省份数据库（缺省：临时目录中生成）")
    ap.add_argument("--province-year", type=int, default=2022)
    ap.add_argument("--units", type=int, default=6000)
    ap.add_argument("--keep", action="store_true", help="合成省份数据库已存在时直接使用")
    ap.add_argument("--skip-province", action="store_true")
    ap.add_argument("--after-idle", action="store_true",
                    help="每次热缓存运行前等看板释放数据库文件（每次都重新打开文件：最坏情况）")
    a = ap.parse_args(argv)
    _quiet()
    results = bench_db("演示县", ensure_demo(a.demo_db), a.demo_year, a.runs, 1.0, a.after_idle)
    if not a.skip_province:
        prov = ensure_province(a.province_db, a.units, a.keep)
        results += bench_db(f"合成省份（{a.units} 个单位）", prov, a.province_year, a.runs, 1.0, a.after_idle)
        save_then_render(prov, a.province_year)
    bad = [r for r in results if r["warm_median"] > r["goal"]]
    print("\n全部页面达标。" if not bad else "\n超标：" + "、".join(f"{r['db']}·{TITLES[r['page']]}" for r in bad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
