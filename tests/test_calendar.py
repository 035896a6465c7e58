"""Working-day calendar: official data, fallback years, admin CSV, deadline arithmetic."""
from __future__ import annotations

import datetime as dt

import pytest

from metrics_fixtures import new_db

from data.store import connect
from data import calendar as cal
from data.access import SYSTEM
from data.calendar import CalendarError, add_workdays, ensure_calendar, load_calendar_csv
from core.scheme import scheme_for

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

D = dt.date.fromisoformat


@pytest.fixture
def con():
    c = new_db()
    ensure_calendar(c)
    yield c
    c.close()


def workday(con, day):
    return con.execute("SELECT is_workday FROM calendar WHERE day = ?", [D(day)]).fetchone()[0]


def test_fills_every_day_with_sources(con):
    rows = dict(con.execute("SELECT year(day), count(*) FROM calendar GROUP BY 1").fetchall())
    assert set(rows) == set(range(2004, 2031))
    assert rows[2019] == 365 and rows[2020] == 366
    src = dict(con.execute("SELECT year(day), min(source) FROM calendar GROUP BY 1").fetchall())
    assert src[2019] == "official" and src[2026] == "official"
    assert src[2027] == "fallback" and src[2030] == "fallback"
    listed = dict(con.execute("SELECT year, source FROM calendar_years").fetchall())
    assert listed[2019] == "official" and 2026 in listed
    assert 2027 not in listed and 2030 not in listed


def test_idempotent_and_cheap(con):
    before = con.execute("SELECT count(*), count(*) FILTER (WHERE is_workday) FROM calendar").fetchone()
    assert ensure_calendar(con) == []
    assert con.execute("SELECT count(*), count(*) FILTER (WHERE is_workday) FROM calendar").fetchone() == before


def test_repairs_a_damaged_year(con):
    con.execute("DELETE FROM calendar WHERE day = DATE '2019-07-01'")
    assert ensure_calendar(con) == [2019]
    assert workday(con, "2019-07-01") is True


def test_2019_official_days(con):
    for d in ("2019-02-02", "2019-02-03", "2019-04-28", "2019-05-05", "2019-09-29", "2019-10-12"):
        assert workday(con, d) is True, d  # 调休上班 (weekend make-up days)
    for d in ("2019-02-04", "2019-02-08", "2019-10-01", "2019-10-07", "2019-06-07", "2019-05-01"):
        assert workday(con, d) is False, d  # statutory holidays on weekdays
    assert workday(con, "2019-10-08") is True
    assert workday(con, "2019-09-28") is False  # ordinary Saturday
    assert con.execute("SELECT count(*) FROM calendar WHERE year(day) = 2019 AND is_workday").fetchone()[0] == 250


def test_fallback_year_is_monday_to_friday(con):
    assert workday(con, "2027-10-01") is True  # a Friday; no official calendar known
    assert workday(con, "2027-10-02") is False


def test_deadlines_by_hand(con):
    # formed just before the Spring Festival: Jan 31, Feb 1, Feb 2-3 (make-up), Feb 11 … Mar 4
    assert add_workdays(con, D("2019-01-30"), 20) == D("2019-03-04")
    # just before National Day: Sep 29 (make-up Sunday) is day 1, Oct 12 (make-up Saturday) day 7
    assert add_workdays(con, D("2019-09-27"), 20) == D("2019-10-30")
    # the start day is never counted, whatever kind of day it is
    assert add_workdays(con, D("2019-10-01"), 1) == D("2019-10-08")   # holiday
    assert add_workdays(con, D("2019-09-28"), 1) == D("2019-09-29")   # Saturday → make-up Sunday
    assert add_workdays(con, D("2019-10-05"), 1) == D("2019-10-08")
    assert add_workdays(con, D("2019-09-30"), 1) == D("2019-10-08")   # a working day: next one
    # 2020-01-19 (Sunday) was a make-up working day before the 2020 Spring Festival
    assert add_workdays(con, D("2019-12-20"), 20) == D("2020-01-19")
    assert add_workdays(con, D("2020-01-10"), 5) == D("2020-01-17")


def test_workday_index_sql_is_set_based(con):
    rows = con.execute(f"""WITH {cal.WORKDAY_CTES}
        SELECT c.day, w.day FROM cal c JOIN wdays w ON w.wd_index = c.wd_index + 20
        WHERE c.day IN (DATE '2019-01-30', DATE '2019-09-27') ORDER BY 1""").fetchall()
    assert rows == [(D("2019-01-30"), D("2019-03-04")), (D("2019-09-27"), D("2019-10-30"))]
    assert cal.workdays_between(con, D("2019-12-30"), D("2020-01-10")) == 8  # Jan 1 is a holiday


def scheme_2026():
    """A 2026 scheme (cut-off in 2027, a year the package does not know)."""
    import dataclasses
    s = scheme_for(2019)
    return dataclasses.replace(s, year=2026, year_start=D("2026-01-01"), year_end=D("2026-12-31"),
                               cutoff=D("2027-01-11"))


def test_missing_calendar_years(con):
    assert cal.missing_calendar_years(con, scheme_for(2019)) == []
    assert cal.needed_years(scheme_for(2019)) == [2019, 2020]
    assert cal.missing_calendar_years(con, scheme_2026()) == [2027]
    assert "2027" in cal.provisional_reason([2027])


VALID_2027 = ("\ufeff日期,类型\r\n"
              "2027-01-01,节假日\r\n"
              "2027-02-05,节假日\r\n"
              "2027-02-07,调休上班\r\n"
              "2027年10月1日,节假日\r\n"
              "2027-10-04,节假日\r\n"
              "\r\n"
              "2027-10-09,调休上班\r\n")


def test_admin_csv_load(con):
    res = load_calendar_csv(con, 2027, VALID_2027, actor=SYSTEM)
    assert res["holidays"] == 4 and res["makeup_days"] == 2
    assert workday(con, "2027-10-01") is False   # Friday, now a holiday
    assert workday(con, "2027-10-04") is False
    assert workday(con, "2027-10-09") is True    # Saturday make-up day
    assert workday(con, "2027-02-07") is True    # Sunday make-up day
    assert workday(con, "2027-10-05") is True    # untouched Tuesday
    assert workday(con, "2027-10-10") is False   # untouched Sunday
    assert con.execute("SELECT source FROM calendar_years WHERE year = 2027").fetchone()[0] == "admin"
    assert con.execute("SELECT DISTINCT source FROM calendar WHERE year(day) = 2027").fetchall() == [("admin",)]
    assert con.execute("SELECT count(*) FROM calendar_overrides").fetchone()[0] == 6
    a = con.execute("SELECT actor, year, action FROM audit").fetchall()
    assert ("命令行", 2027, "导入工作日历") in a
    assert cal.missing_calendar_years(con, scheme_2026()) == []
    # later ensure_calendar calls keep the admin year
    assert ensure_calendar(con) == []
    assert workday(con, "2027-10-01") is False
    # deadline arithmetic uses it: Fri 2027-09-30 + 1 → Oct 4 holiday, Oct 5
    assert add_workdays(con, D("2027-09-30"), 1) == D("2027-10-05")
    # reloading replaces the year's list instead of adding to it
    load_calendar_csv(con, 2027, "日期,类型\n2027-10-04,节假日\n", actor=SYSTEM)
    assert workday(con, "2027-10-01") is True
    assert con.execute("SELECT count(*) FROM calendar_overrides").fetchone()[0] == 1
    assert cal.reset_calendar_year(con, 2027, actor=SYSTEM) == "fallback"
    assert workday(con, "2027-10-04") is True
    assert cal.missing_calendar_years(con, scheme_2026()) == [2027]


@pytest.mark.parametrize("text, fragment", [
    ("日期,种类\n2027-01-01,节假日\n", "第1行：表头"),
    ("日期,类型\n2027-13-01,节假日\n", "第2行：日期“2027-13-01”无法识别"),
    ("日期,类型\n2027-01-01,节假日\n2026-12-31,节假日\n", "第3行：日期 2026-12-31 不在2027年内"),
    ("日期,类型\n2027-01-01,假日\n", "第2行：类型“假日”应为“节假日”或“调休上班”"),
    ("日期,类型\n2027-01-01,节假日\n2027-01-01,节假日\n", "第3行：日期 2027-01-01 重复（第2行已列出）"),
    ("日期,类型\n2027-10-08,调休上班\n", "第2行：2027-10-08 是星期五"),
    ("日期,类型\n", "没有2027年的任何"),
])
def test_admin_csv_errors_load_nothing(con, text, fragment):
    before = con.execute("SELECT count(*) FILTER (WHERE is_workday) FROM calendar").fetchone()
    with pytest.raises(CalendarError) as e:
        load_calendar_csv(con, 2027, text, actor=SYSTEM)
    assert fragment in str(e.value)
    assert con.execute("SELECT count(*) FROM calendar_overrides").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM calendar_years WHERE year = 2027").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FILTER (WHERE is_workday) FROM calendar").fetchone() == before
    assert con.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_admin_csv_reports_every_bad_line(con):
    text = "日期,类型\n2027-01-01,节假日\n2027-02-30,节假日\n2027-03-01,放假\n"
    with pytest.raises(CalendarError) as e:
        load_calendar_csv(con, 2027, text, actor=SYSTEM)
    assert [(i.row, i.location) for i in e.value.issues] == [(3, "第3行"), (4, "第4行")]
    assert "第" not in e.value.issues[0].message      # the line is the location, not repeated in the text
    assert str(e.value).startswith("第3行：日期“2027-02-30”无法识别")
    assert workday(con, "2027-01-01") is True


def test_template_csv_round_trips(con):
    text = cal.calendar_csv_template(2019)
    assert text.startswith("\ufeff日期,类型")
    rows = cal.parse_calendar_csv(2019, text)
    assert (D("2019-09-29"), True, "调休上班") in rows
    assert (D("2019-10-01"), False, "节假日") in rows


def test_calendar_writes_need_an_administrator(con):
    from data.access import PermissionDenied
    from data.users import create_user

    create_user(con, "shenhe", "reviewer", "shenhe123", actor=SYSTEM)
    with pytest.raises(PermissionDenied, match="无权导入工作日历"):
        load_calendar_csv(con, 2027, VALID_2027, actor="shenhe")
    with pytest.raises(PermissionDenied, match="无权撤销导入的工作日历"):
        cal.reset_calendar_year(con, 2027, actor={"name": "shenhe", "role": "admin"})
    assert con.execute("SELECT count(*) FROM calendar_overrides").fetchone()[0] == 0


def test_a_read_only_database_missing_calendar_years_says_so_and_writes_nothing(tmp_path):
    import duckdb

    path = tmp_path / "ro.duckdb"
    con = connect(path)
    ensure_calendar(con, [2019])
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    try:
        assert cal.is_read_only(ro) and not cal.is_read_only(duckdb.connect())
        assert ensure_calendar(ro, [2019]) == []  # already there: nothing to write, no error
        with pytest.raises(CalendarError, match="只读"):
            ensure_calendar(ro, [2019, 2031])
        assert ro.execute("SELECT count(*) FROM calendar WHERE year(day) = 2031").fetchone()[0] == 0
    finally:
        ro.close()


def test_opening_for_writing_builds_the_calendar_and_reading_never_writes(tmp_path):
    """The calendar is built when the file is opened for writing; scoring only
    checks it: a year without rows is a named error (read-only or not), and
    nothing is written by the read."""
    import duckdb

    from metrics.engine import score_year, year_status

    path = tmp_path / "cal.duckdb"
    con = connect(path)  # opened for writing: every year the 2019 scores read is there
    assert cal.calendar_years_for(scheme_for(2019)) == [2018, 2019, 2020, 2021, 2022]
    cal.require_calendar(con, cal.calendar_years_for(scheme_for(2019)))
    con.execute("DELETE FROM calendar WHERE year(day) = 2020")  # e.g. a file from before the calendar existed
    con.close()

    ro = duckdb.connect(str(path), read_only=True)
    try:
        with pytest.raises(CalendarError, match="缺少 2020 年.*只读") as e:
            score_year(ro, 2019)
        assert [i.code for i in e.value.issues] == ["calendar_missing"]
        assert year_status(ro, 2019)["year"] == 2019  # the banner reads without building
    finally:
        ro.close()
    raw = duckdb.connect(str(path))  # writable, but not opened through data.store: still no write by a read
    try:
        with pytest.raises(CalendarError, match="缺少 2020 年"):
            score_year(raw, 2019)
        assert raw.execute("SELECT count(*) FROM calendar WHERE year(day) = 2020").fetchone()[0] == 0
    finally:
        raw.close()

    connect(path).close()  # opening for writing repairs the year
    ro = duckdb.connect(str(path), read_only=True)
    try:
        assert ro.execute("SELECT count(*) FROM calendar WHERE year(day) = 2020").fetchone()[0] == 366
        assert len(score_year(ro, 2019)) == 0  # no unit registered: an empty scorecard, no error
    finally:
        ro.close()


def test_prepare_calendar_covers_every_scheme_and_this_year(tmp_path):
    con = connect(":memory:")
    try:
        con.execute("DELETE FROM calendar")
        built = cal.prepare_calendar(con, today=dt.date(2035, 6, 1))
        assert {2004, 2030, 2035, 2036} <= set(built)  # the defaults, this year and the next
        assert set(cal.calendar_years_for(scheme_for(2023))) <= set(built)
        assert cal.prepare_calendar(con, today=dt.date(2035, 6, 1)) == []  # nothing left to build
    finally:
        con.close()
