"""The demonstration county's closing step: earlier years 定稿, the newest in
公示 with two appeals (one answered 调整, one open), all through the
application's functions."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from data import closing as dc
from data.access import SYSTEM
from data.users import create_user
from demo.closing import close_demo_years
from metrics import closing as mc
from metrics_fixtures import add_unit, max_scores, new_db, submit


def _county():
    con = new_db()
    create_user(con, "shenhe", "reviewer", "shenhe123", actor=SYSTEM)  # the demo's reviewer and administrator
    create_user(con, "admin", "admin", "admin123", actor=SYSTEM)
    for n in ("甲镇", "乙镇"):
        add_unit(con, n, "乡镇")
        create_user(con, f"u-{n}", "unit", "demo1234", unit=n, actor=SYSTEM)
    for y, rec in ((2022, "2023-01-05"), (2023, "2024-01-05")):
        submit(con, "甲镇", y, rec, scores=max_scores(y, A1=1))
        submit(con, "乙镇", y, rec, scores=max_scores(y, A2=1))  # ranks below 甲镇
    return con


def test_close_demo_years():
    con = _county()
    out = close_demo_years(con, today=dt.date(2026, 11, 30))
    assert out == {"final": [2022], "publicity": 2023, "appeals": 2}
    assert dc.stage_of(con, 2022) == "定稿" and dc.stage_of(con, 2023) == "公示"
    assert dc.get_stage(con, 2023)["publicity_end"] == dt.date(2026, 12, 4)
    ap = dc.appeals(con, 2023)
    assert list(ap["status"]) == ["调整", "待答复"]
    assert list(ap["filed_by"]) == ["u-甲镇", "u-乙镇"]
    first = ap.iloc[0]
    assert (first["unit"], first["code"], first["old_score"], first["new_score"]) == \
        ("甲镇", "A1", Decimal("1.00"), Decimal("2.00"))
    assert len(first["files"]) == 1
    # 2022's final equals its 公示稿 (no appeals); audit has the whole story
    assert mc.results(con, 2022, "final")["total"].tolist() == mc.results(con, 2022, "published")["total"].tolist()
    acts = {r[0] for r in con.execute("SELECT DISTINCT action FROM audit").fetchall()}
    assert {"审核通过", "年度阶段", "发布考核结果", "考核结果定稿", "提出申诉", "答复申诉"} <= acts


def test_closing_actions_of_past_years_are_dated_on_their_days():
    con = _county()
    close_demo_years(con, today=dt.date(2026, 11, 30))
    rows = con.execute("""SELECT action, at_time FROM audit WHERE year = 2022 AND action IN
                          ('审核通过', '年度阶段', '发布考核结果', '考核结果定稿') ORDER BY id""").fetchall()
    assert [a for a, _ in rows] == ["审核通过", "审核通过", "年度阶段", "发布考核结果", "考核结果定稿"]
    times = [t for _, t in rows]
    assert times == sorted(times) and times[-1] < dt.datetime(2023, 12, 31)
    snap = dc.current_snapshot(con, 2022)
    assert snap["created_at"].date() == snap["made_on"] and snap["created_at"].hour == 10
    assert con.execute("SELECT updated_at FROM year_stages WHERE year = 2022").fetchone()[0] == snap["created_at"]


def test_summary_reports_the_final_state_after_closing():
    from demo.closing import final_state, state_text
    from demo.database import summary_line

    con = _county()
    close_demo_years(con, today=dt.date(2026, 11, 30))
    state = final_state(con)
    assert state["years"][2022]["stage"] == "定稿" and state["years"][2023]["stage"] == "公示"
    assert state["years"][2023]["status"] == {"已审核": 2} and state["appeals"] == {"调整": 1, "待答复": 1}
    text = state_text(state)
    assert text == "已审核 4 份；2022 年度定稿，2023 年度公示（公示期至 2026-12-04）；申诉 2 条（调整 1 条、待答复 1 条）"
    s = {"units": 2, "files": 4, "xls": 0, "submissions": 4, "approved": 2, "returned": 1, "seconds": 1.0,
         "unit_accounts": {"甲镇": "unit01", "乙镇": "unit02"}, "problems": [], "final_state": state}
    line = summary_line(Path("demo.duckdb"), s)
    assert text in line and "已审核 2 份" not in line
