"""data/audit.py: the one filtered, paged reading of the audit log."""
from __future__ import annotations

import datetime as dt

import pytest

from data.audit import audit_facets, audit_search

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL


def _log(con, rows):
    # (time, actor, unit, year, action, detail)
    for t, actor, unit, year, action, detail in rows:
        con.execute("INSERT INTO audit (at_time, actor, unit, year, action, detail) VALUES (?,?,?,?,?,?)",
                    [t, actor, unit, year, action, detail])


ROWS = [
    (dt.datetime(2020, 1, 5, 9, 0), "shenji", "方正县审计局", 2019, "上传自评表", "第1版"),
    (dt.datetime(2020, 1, 6, 23, 59), "shenhe", "方正县审计局", 2019, "退回", "第1版：缺佐证"),
    (dt.datetime(2020, 1, 7, 0, 0), "shenji", "方正县审计局", 2019, "上传自评表", "第2版"),
    (dt.datetime(2020, 1, 8, 10, 0), "shenhe", "方正镇", 2019, "审核通过", "第1版"),
    (dt.datetime(2021, 1, 8, 10, 0), "admin", None, None, "导入单位名录", "5 个单位"),
]


def test_filters_combine_and_dates_are_whole_days(con):
    con.execute("DELETE FROM audit")
    _log(con, ROWS)
    df, n = audit_search(con)
    assert n == 5 and df["内容"].tolist() == ["5 个单位", "第1版", "第2版", "第1版：缺佐证", "第1版"]  # newest first
    assert audit_search(con, unit="方正县审计局")[1] == 3
    assert audit_search(con, actor="shenhe")[1] == 2
    assert audit_search(con, unit="方正县审计局", actor="shenji")[0]["内容"].tolist() == ["第2版", "第1版"]
    assert audit_search(con, actions=["退回", "审核通过"])[1] == 2
    # 2020-01-06 includes 23:59 of that day and not 00:00 of the next
    df, n = audit_search(con, date_from=dt.date(2020, 1, 6), date_to=dt.date(2020, 1, 6))
    assert n == 1 and df["操作"].tolist() == ["退回"]
    assert audit_search(con, date_from=dt.date(2020, 1, 7))[1] == 3
    assert audit_search(con, year=2019)[1] == 4
    assert audit_search(con, unit="方正镇", actions=["退回"])[1] == 0


def test_paging_counts_all_matches_and_returns_one_page(con):
    con.execute("DELETE FROM audit")
    _log(con, [(dt.datetime(2020, 1, 1) + dt.timedelta(minutes=i), "shenhe", "方正镇", 2019, "调整审核分", f"#{i}")
               for i in range(23)])
    page1, n = audit_search(con, limit=10, offset=0)
    page3, _ = audit_search(con, limit=10, offset=20)
    assert n == 23 and len(page1) == 10 and len(page3) == 3
    assert page1["内容"].iloc[0] == "#22" and page3["内容"].tolist() == ["#2", "#1", "#0"]


def test_facets_offer_what_was_logged(con):
    con.execute("DELETE FROM audit")
    _log(con, ROWS)
    f = audit_facets(con)
    assert f["units"] == sorted(["方正县审计局", "方正镇"]) and f["actors"] == ["admin", "shenhe", "shenji"]
    assert f["first"] == dt.date(2020, 1, 5) and f["last"] == dt.date(2021, 1, 8)
    f = audit_facets(con, unit="方正镇", year=2019)
    assert f["actors"] == ["shenhe"] and f["actions"] == ["审核通过"]
    con.execute("DELETE FROM audit")
    assert audit_facets(con)["first"] is None


def test_period_days_as_of_a_given_day():
    import pytest

    from data.audit import PERIODS, period_days

    today = dt.date(2024, 3, 1)  # a leap year: 近30天 crosses 29 February
    assert PERIODS[0] == "全部日期" and PERIODS[-1] == "指定日期"
    assert period_days("全部日期", today) == (None, None)
    assert period_days("今天", today) == (today, today)
    assert period_days("近7天", today) == (dt.date(2024, 2, 24), today)
    assert period_days("近30天", today) == (dt.date(2024, 2, 1), today)
    assert period_days("今年", today) == (dt.date(2024, 1, 1), today)
    assert period_days("指定日期", today, start=dt.date(2020, 1, 6), end=dt.date(2020, 1, 7)) == (
        dt.date(2020, 1, 6), dt.date(2020, 1, 7))
    assert period_days("指定日期", today, start=dt.date(2020, 1, 6)) == (dt.date(2020, 1, 6), None)
    with pytest.raises(ValueError, match="起始日期 2020-01-08 晚于截止日期 2020-01-07"):
        period_days("指定日期", today, start=dt.date(2020, 1, 8), end=dt.date(2020, 1, 7))


def test_a_period_selects_the_whole_days(con):
    from data.audit import period_days

    con.execute("DELETE FROM audit")
    _log(con, ROWS)
    # 近7天 as of 2020-01-08: 2020-01-02 … 2020-01-08, the four 2020 rows and not the 2021 one
    assert audit_search(con, **dict(zip(("date_from", "date_to"), period_days("近7天", dt.date(2020, 1, 8)))))[1] == 4
    assert audit_search(con, **dict(zip(("date_from", "date_to"), period_days("今天", dt.date(2020, 1, 7)))))[1] == 1
    con.execute("DELETE FROM audit")
