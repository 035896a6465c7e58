"""The demonstration county's closing step: earlier years 定稿, the newest in
公示 with two appeals (one answered 调整, one open), all through the
application's functions."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from data import closing as dc
from data.users import create_user
from demo.closing import close_demo_years
from metrics import closing as mc
from metrics_fixtures import add_unit, max_scores, new_db, submit


def test_close_demo_years():
    con = new_db()
    for n in ("甲镇", "乙镇"):
        add_unit(con, n, "乡镇")
        create_user(con, f"u-{n}", "unit", "demo123", unit=n)
    for y, rec in ((2022, "2023-01-05"), (2023, "2024-01-05")):
        submit(con, "甲镇", y, rec, scores=max_scores(y, A1=1))
        submit(con, "乙镇", y, rec, scores=max_scores(y, A2=1))  # ranks below 甲镇
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
