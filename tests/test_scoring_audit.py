"""Adversarial scoring cases, recomputed by hand (audit of the metrics engine).

Every expected value below was worked out by hand from methodology-2019.md,
catalogue.md and cli.md; the arithmetic is in each docstring.  The 2019/2020
official calendar used by hand (State Council notices):

* 2019 holidays: 01-01; 02-04…02-10; 04-05; 05-01…05-04; 06-07; 09-13;
  10-01…10-07.  Make-up working days: Sat 02-02, Sun 02-03, Sun 04-28,
  Sun 05-05, Sun 09-29, Sat 10-12.
* 2020 holidays: 01-01; 01-24…02-02 (Spring Festival, extended: Sat 02-01 is
  *not* a make-up day any more).  Make-up working day: Sun 01-19.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest

from data.access import SYSTEM
from openpyxl import load_workbook

from metrics import engine
from metrics.__main__ import main
from data.calendar import add_workdays, ensure_calendar, load_calendar_csv
from core.scheme import SchemeError, load_scheme_file
from metrics_fixtures import (DEPT_REQUIRED, D, add_unit, cover, item, max_scores, new_db, request,
                              row_of, submit)

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

Q = Decimal
ROOT = Path(__file__).resolve().parent.parent
BASE_TOML = (ROOT / "core" / "schemes" / "2019.toml").read_text(encoding="utf-8")


@pytest.fixture
def con():
    c = new_db()
    yield c
    c.close()


def card(con, year=2019, **kw):
    return engine.score_year(con, year, **kw)


# --------------------------------------------------------------------------- working-day deadlines

@pytest.mark.parametrize("start, n, expected", [
    # Saturday 04-27: Sun 04-28 (make-up) = 1, 04-29 = 2, 04-30 = 3, 05-01…04 off,
    # Sun 05-05 (make-up) = 4, 05-06…10 = 5…9, 05-13…17 = 10…14, 05-20…24 = 15…19, 05-27 = 20
    ("2019-04-27", 20, "2019-05-27"),
    # Saturday 05-04 that is also a holiday: the next day, make-up Sunday 05-05, is day 1
    ("2019-05-04", 1, "2019-05-05"),
    # holiday Tue 02-05: 02-06…10 off, 02-11…15 = 1…5, 02-18…22 = 6…10, 02-25…28 = 11…14,
    # 03-01 = 15, 03-04…08 = 16…20
    ("2019-02-05", 20, "2019-03-08"),
    # make-up Sunday 09-29 itself is not counted: 09-30 = 1, 10-08…11 = 2…5, Sat 10-12 = 6,
    # 10-14…18 = 7…11, 10-21…25 = 12…16, 10-28…31 = 17…20
    ("2019-09-29", 20, "2019-10-31"),
    # make-up Saturday 10-12 itself is not counted: 10-14…18 = 1…5, 10-21…25 = 6…10,
    # 10-28…11-01 = 11…15, 11-04…08 = 16…20
    ("2019-10-12", 20, "2019-11-08"),
    # Fri 02-01 (before the Spring Festival): Sat 02-02 = 1, Sun 02-03 = 2, 02-11…15 = 3…7,
    # 02-18…22 = 8…12, 02-25…03-01 = 13…17, 03-04 = 18, 03-05 = 19, 03-06 = 20
    ("2019-02-01", 20, "2019-03-06"),
    # make-up Sunday 02-03 (the real last working day before the festival): 02-11 = 1 … 03-08 = 20
    ("2019-02-03", 20, "2019-03-08"),
    # Mon 09-30 (last working day before National Day): 10-08…12 = 1…5, 10-14…18 = 6…10,
    # 10-21…25 = 11…15, 10-28…31 = 16…19, 11-01 = 20
    ("2019-09-30", 20, "2019-11-01"),
    ("2019-09-30", 1, "2019-10-08"),
    # into 2020: 12-23…27 = 1…5, 12-30 = 6, 12-31 = 7, 01-01 off, 01-02 = 8, 01-03 = 9,
    # 01-06…10 = 10…14, 01-13…17 = 15…19, Sun 01-19 (make-up) = 20
    ("2019-12-20", 20, "2020-01-19"),
    # … 01-20…23 = 21…24, 01-24…02-02 off (Sat 02-01 included), 02-03…07 = 25…29,
    # 02-10…14 = 30…34, 02-17…21 = 35…39, 02-24 = 40
    ("2019-12-20", 40, "2020-02-24"),
    # New Year: 12-31 + 1 = 01-02; 20 → 01-02 = 1, 01-03 = 2, 01-06…10 = 3…7, 01-13…17 = 8…12,
    # 01-19 = 13, 01-20…23 = 14…17, 02-03 = 18, 02-04 = 19, 02-05 = 20
    ("2019-12-31", 1, "2020-01-02"),
    ("2019-12-31", 20, "2020-02-05"),
])
def test_deadline_from_any_kind_of_day(con, start, n, expected):
    ensure_calendar(con)
    assert add_workdays(con, D(start), n) == D(expected)


def test_item_deadlines_from_special_days_in_engine(con):
    """The engine's own SQL (not only the helper) for items formed on special days.

    Each item is published exactly on its hand-computed deadline (on time, 公开日期 ≤ deadline);
    a twin published the next working day is late.
      formed Sat 04-27      → 05-27; next working day 05-28
      formed holiday 02-05  → 03-08; next 03-11 (Mon)
      formed Sun 09-29      → 10-31; next 11-01
      formed Sat 10-12      → 11-08; next 11-11
      formed Fri 02-01      → 03-06; next 03-07
      formed Mon 09-30      → 11-01; next 11-04
      formed Fri 12-20      → 2020-01-19 (make-up Sunday); next 01-20
      formed Tue 12-31      → 2020-02-05; next 02-06
    8 on time, 8 late → rate 0.5000, H1 = 10 × 8/16 = 5.00.
    """
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    cases = [("2019-04-27", "2019-05-27", "2019-05-28"), ("2019-02-05", "2019-03-08", "2019-03-11"),
             ("2019-09-29", "2019-10-31", "2019-11-01"), ("2019-10-12", "2019-11-08", "2019-11-11"),
             ("2019-02-01", "2019-03-06", "2019-03-07"), ("2019-09-30", "2019-11-01", "2019-11-04"),
             ("2019-12-20", "2020-01-19", "2020-01-20"), ("2019-12-31", "2020-02-05", "2020-02-06")]
    for formed, dl, nxt in cases:
        item(con, sid, formed, dl)
        item(con, sid, formed, nxt)
    f = engine.item_facts(con, 2019, unit="县甲局")
    assert list(f.deadline) == [D(dl) for _, dl, _ in cases for _ in range(2)]
    assert list(f.state) == ["按时", "逾期"] * 8
    assert list(f.days_late) == [0, 1] * 8
    r = row_of(card(con), "县甲局")
    assert (r.proactive_on_time, r.proactive_counted, r.proactive_pending) == (8, 16, 0)
    assert r.proactive_rate == Q("0.5000") and r.H1 == Q("5.00")


def test_pending_vs_late_exactly_at_the_cutoff(con):
    """"late when its deadline is before the cut-off, otherwise pending" (cut-off 2020-01-10).

    Items (20 wd), unpublished:
      formed Wed 12-11: 12-12…13 = 1…2, 12-16…20 = 3…7, 12-23…27 = 8…12, 12-30…31 = 13…14,
                        01-02…03 = 15…16, 01-06…09 = 17…20 → 01-09 < cut-off → late
      formed Thu 12-12: one more → 01-10 = cut-off → pending (not before the cut-off)
      formed Fri 12-20: → 01-19 > cut-off → pending
    Published items: formed 12-12, published 01-10 (= deadline) → on time;
                     formed 12-11, published 01-10 (deadline 01-09) → late.
    H1: on time 1, late 2 (unpublished 12-11 + published-late 12-11), pending 2
        → rate 1/3 = 0.3333, points 10/3 = 3.333… → 3.33.
    Requests (20 wd, received after 05-15), unanswered, same arithmetic:
      received 12-06 (Fri): 12-09…13 = 1…5, 16…20 = 6…10, 23…27 = 11…15, 30…31 = 16…17,
                            01-02…03 = 18…19, 01-06 = 20 → late
      received 12-11 → 01-09 → late;  received 12-12 → 01-10 → pending;
      received 12-12, answered 01-10 → on time.
    G1: on time 1, late 2, pending 1 → 6 × 1/3 = 2.00, rate 0.3333.
    """
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    item(con, sid, "2019-12-11")
    item(con, sid, "2019-12-12")
    item(con, sid, "2019-12-20")
    item(con, sid, "2019-12-12", "2020-01-10")
    item(con, sid, "2019-12-11", "2020-01-10")
    request(con, sid, "2019-12-06")
    request(con, sid, "2019-12-11")
    request(con, sid, "2019-12-12")
    request(con, sid, "2019-12-12", "2020-01-10")
    f = engine.item_facts(con, 2019, unit="县甲局")
    assert list(f.deadline) == [D(x) for x in ("2020-01-09", "2020-01-10", "2020-01-19", "2020-01-10",
                                               "2020-01-09")]
    assert list(f.state) == ["逾期", "未到期", "未到期", "按时", "逾期"]
    rf = engine.request_facts(con, 2019, unit="县甲局")
    assert list(rf.deadline) == [D(x) for x in ("2020-01-06", "2020-01-09", "2020-01-10", "2020-01-10")]
    assert list(rf.state) == ["逾期", "逾期", "未到期", "按时"]
    r = row_of(card(con), "县甲局")
    assert (r.proactive_on_time, r.proactive_counted, r.proactive_pending) == (1, 3, 2)
    assert r.proactive_rate == Q("0.3333") and r.H1 == Q("3.33")
    assert (r.requests_on_time, r.requests_counted, r.requests_pending) == (1, 3, 1)
    assert r.request_rate == Q("0.3333") and r.G1 == Q("2.00")


# --------------------------------------------------------------------------- G1 / G3

def test_g1_rule_chosen_by_received_clock_from_correction(con):
    """Rule by 收到日期, clock from 补正日期 2019-05-20 (Mon) in all four cases.

    From 05-20: 05-21…24 = 1…4, 05-27…31 = 5…9, 06-03…06 = 10…13, 06-07 holiday,
    06-10 = 14, 06-11 = 15, 06-12…14 = 16…18, 06-17 = 19, 06-18 = 20, 06-19…21 = 21…23,
    06-24…28 = 24…28, 07-01 = 29, 07-02 = 30, 07-03…05 = 31…33, 07-08…12 = 34…38,
    07-15 = 39, 07-16 = 40.
      received 05-14 (2008 条例): 15 → 06-11; extended 30 → 07-02
      received 05-15 (2019 条例): 20 → 06-18; extended 40 → 07-16
    Each answered on its deadline (on time) and on the next working day (late, 1 day):
    4 / 8 → rate 0.5000, G1 = 3.00.
    """
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    cases = [("2019-05-14", False, "2019-06-11", "2019-06-12", 15),
             ("2019-05-15", False, "2019-06-18", "2019-06-19", 20),
             ("2019-05-14", True, "2019-07-02", "2019-07-03", 30),
             ("2019-05-15", True, "2019-07-16", "2019-07-17", 40)]
    for rec, ext, dl, nxt, _ in cases:
        request(con, sid, rec, dl, corrected="2019-05-20", extended=ext)
        request(con, sid, rec, nxt, corrected="2019-05-20", extended=ext)
    rf = engine.request_facts(con, 2019, unit="县甲局")
    assert list(rf.days_allowed) == [c[4] for c in cases for _ in range(2)]
    assert list(rf.deadline) == [D(c[2]) for c in cases for _ in range(2)]
    assert list(rf.clock_start) == [D("2019-05-20")] * 8
    assert list(rf.state) == ["按时", "逾期"] * 4
    assert list(rf.days_late) == [0, 1] * 4
    r = row_of(card(con), "县甲局")
    assert (r.requests_on_time, r.requests_counted) == (4, 8)
    assert r.request_rate == Q("0.5000") and r.G1 == Q("3.00")


def test_g1_all_pending_and_g3_counts_only_counted_requests(con):
    """G1: every counted request pending → rate empty, full 6 points; late 2018 requests
    are not counted at all.
    G3: 纠正 on a pending *counted* request counts (−1); 纠正 on 2018 requests does not
    → 2 − 1 = 1.00.
      received 2019-12-20 → deadline 2020-01-19 ≥ cut-off → pending (×2, one 纠正)
      received 2019-12-31 → deadline 2020-02-05 → pending
      received 2018-11-01 (unanswered, 纠正) and 2018-12-03 (纠正): not counted.
    """
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    request(con, sid, "2019-12-20", review_result="纠正")
    request(con, sid, "2019-12-20")
    request(con, sid, "2019-12-31")
    request(con, sid, "2018-11-01", review_result="纠正")
    request(con, sid, "2018-12-03", "2019-03-01", review_result="纠正")
    r = row_of(card(con), "县甲局")
    assert r.requests_counted == 0 and r.requests_on_time == 0 and r.requests_pending == 3
    assert r.request_rate is None and r.G1 == Q("6.00")
    assert r.G3 == Q("1.00")


def test_g3_never_negative(con):
    """3 counted 纠正: max(0, 2 − 3) = 0.00 (not −1)."""
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    for _ in range(3):
        request(con, sid, "2019-06-03", "2019-06-10", review_result="纠正")
    r = row_of(card(con), "县甲局")
    assert r.G3 == Q("0.00") and r.G1 == Q("6.00") and r.request_rate == Q("1.0000")


# --------------------------------------------------------------------------- I1

@pytest.mark.parametrize("versions, points", [
    # cut-off Fri 2020-01-10; 5th working day after = 01-17; 6th = make-up Sun 01-19
    (["2020-01-10", "2020-01-19"], "2.00"),   # first accepted on the cut-off; a later version does not matter
    (["2020-01-17", "2020-02-20"], "1.00"),   # 5th working day after
    (["2020-01-18", "2020-01-20"], "0.00"),   # Saturday 01-18 is not a working day: after 01-17 → 0
    (["2020-01-19"], "0.00"),                 # 6th working day (make-up Sunday)
    (["2019-12-31"], "2.00"),
])
def test_i1_first_accepted_version(con, versions, points):
    add_unit(con, "县甲局")
    for v in versions:
        submit(con, "县甲局", received=v)
    r = row_of(card(con), "县甲局")
    assert r.I1 == Q(points) and r.received == D(versions[0]) and r.version == len(versions)


# --------------------------------------------------------------------------- H2

def test_h2_extras_duplicates_cutoff_and_previous_year(con):
    """部门 with registry extras [C27, C06, C01, C27] (C01 already required, C27 twice):
    required = 8 + C27 + C06 = 10.
      C01: only item published 2020-01-13 (after the cut-off) → missing
      C03: only item formed 2018-12-28 (previous year) → missing
      C07: formed 2019-12-30, published 2020-01-10 (= cut-off) → covered
      C15, C16, C18, C19, C27: covered;  C04 (not required) covered, ignored
      C06, C20: nothing → missing
    covered 6/10 → rate 0.6000, H2 = 8 × 0.6 = 4.80.
    missing in catalogue order: C01 机构职能、C03 规划计划、C06 行政处罚和行政强制、C20 年度报告.
    """
    add_unit(con, "县民政局", "部门", extras=["C27", "C06", "C01", "C27"])
    sid = submit(con, "县民政局")
    item(con, sid, "2019-12-30", "2020-01-13", category="C01")
    item(con, sid, "2018-12-28", "2019-01-02", category="C03")
    item(con, sid, "2019-12-30", "2020-01-10", category="C07")
    cover(con, sid, ["C27", "C19", "C18", "C16", "C15", "C04"])
    r = row_of(card(con), "县民政局")
    assert (r.required_categories, r.covered_categories) == (10, 6)
    assert r.coverage_rate == Q("0.6000") and r.H2 == Q("4.80")
    assert r.missing_categories == "机构职能、规划计划、行政处罚和行政强制、年度报告"


# --------------------------------------------------------------------------- rounding

def _bulk_items(con, sid, n, formed, published):
    con.execute("""INSERT INTO ledger_items (submission_id, sheet_row, seq, title, category, formed, published)
                   SELECT ?, 1000 + i, CAST(i AS VARCHAR), '批量' || i, 'C01', ?, ?
                   FROM range(?) t(i)""", [sid, D(formed), D(published), n])


@pytest.mark.parametrize("on_time, late, rate, points", [
    (2, 1, "0.6667", "6.67"),          # 10 × 2/3 = 6.666… → 6.67; 2/3 = 0.66666… → 0.6667
    (1, 7, "0.1250", "1.25"),          # 10 × 1/8 = 1.25 exactly
    (1, 15, "0.0625", "0.63"),         # 10 × 1/16 = 0.625 → 0.63 (half up, not to even)
    (3, 13, "0.1875", "1.88"),         # 10 × 3/16 = 1.875 → 1.88
    (1, 19999, "0.0001", "0.00"),      # 1/20000 = 0.00005 → 0.0001; 10 × 0.00005 = 0.0005 → 0.00
    (19999, 1, "1.0000", "10.00"),     # 0.99995 → 1.0000; 9.9995 → 10.00
    (3, 19997, "0.0002", "0.00"),      # 0.00015 → 0.0002; 0.0015 → 0.00
])
def test_h1_half_up_exact_fractions(con, on_time, late, rate, points):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    _bulk_items(con, sid, on_time, "2019-06-03", "2019-06-05")
    _bulk_items(con, sid, late, "2019-06-03", "2019-08-01")
    r = row_of(card(con), "县甲局")
    assert r.proactive_counted == on_time + late
    assert r.proactive_rate == Q(rate) and r.H1 == Q(points)


def test_g1_half_up_boundary(con):
    """6 × 1/48 = 0.125 exactly → 0.13; rate 1/48 = 0.0208333 → 0.0208."""
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    for n in range(48):
        request(con, sid, "2019-06-03", "2019-06-10" if n == 0 else "2019-08-01")
    r = row_of(card(con), "县甲局")
    assert r.request_rate == Q("0.0208") and r.G1 == Q("0.13")


def test_total_sums_rounded_points(con):
    """部门 + extra C27 (9 required). Items C01: 2 on time, 1 late (published) → H1 10 × 2/3
    = 6.6667 → 6.67; H2 covered {C01} = 1/9 → 8/9 = 0.8889 → 0.89; requests 4 on time of 9
    → G1 6 × 4/9 = 2.6667 → 2.67; G3 2, I1 2 (received on the cut-off); self all max 72 + J1 3.
    total = 75 + 6.67 + 0.89 + 2.67 + 2 + 2 = 89.23 (summing exact values would give 89.22)
    → 良好.  self_total the same (no review, no penalty).
    """
    add_unit(con, "县民政局", "部门", extras=["C27"])
    sid = submit(con, "县民政局")
    item(con, sid, "2019-06-03", "2019-06-05")
    item(con, sid, "2019-06-03", "2019-06-05")
    item(con, sid, "2019-06-03", "2019-08-01")
    for n in range(9):
        request(con, sid, "2019-06-03", "2019-06-10" if n < 4 else "2019-08-01")
    r = row_of(card(con), "县民政局")
    assert (r.H1, r.H2, r.G1, r.G3, r.I1) == (Q("6.67"), Q("0.89"), Q("2.67"), Q("2.00"), Q("2.00"))
    assert r.total == Q("89.23") and r.self_total == Q("89.23") and r.grade == "良好"


# --------------------------------------------------------------------------- grades and ranking

def _dept_with(con, name, **scores):
    """cover(DEPT_REQUIRED): 8 items on time, 8/8 covered → auto H1 10 + H2 8 + G1 6 + G3 2
    + I1 2 = 28; self max 72 with J1 = 0 → 100 before the overrides."""
    add_unit(con, name, "部门")
    sid = submit(con, name, scores=max_scores(J1=0, **scores))
    cover(con, sid, DEPT_REQUIRED)
    return sid


@pytest.mark.parametrize("scores, total, grade", [
    (dict(A1=0, A2=0, A3=0), "90.00", "优秀"),                                # 100 − 10
    (dict(A1=0, A2=0, A3=0, B1="4.99"), "89.99", "良好"),                      # − 0.01
    (dict(A1=0, A2=0, A3=0, C1=0, C2=0, C3=0), "80.00", "良好"),               # − 20
    (dict(A1=0, A2=0, A3=0, C1=0, C2=0, C3=0, D1="3.99"), "79.99", "合格"),
    (dict(A1=0, A2=0, A3=0, B1=0, B2=0, B3=0, B4=0, C1=0, C2=0, C3=0, E1=0, E2=0, E3=0),
     "60.00", "合格"),                                                          # − 10 − 12 − 10 − 8
    (dict(A1=0, A2=0, A3=0, B1=0, B2=0, B3=0, B4=0, C1=0, C2=0, C3=0, E1=0, E2=0, E3=0, F1="2.99"),
     "59.99", "不合格"),
])
def test_grade_boundaries(con, scores, total, grade):
    _dept_with(con, "县甲局", **scores)
    r = row_of(card(con), "县甲局")
    assert r.total == Q(total) and r.grade == grade


def test_ranking_per_type_with_penalty_ties_and_not_submitted(con):
    """乡镇 (auto 10 with no items: H1 0, H2 0, G1 6, G3 2, I1 2; self 72 + J1 3 = 75 → 85):
      甲镇 85, 乙镇 85 (J1 3), 丙镇 J1=2 → 84, 丁镇 未报送 → ranks 1, 1, 3, —
    部门 (_dept_with, 100 with J1 = 0):
      县子局 100; 县丑局 J1=3 → 103 − 3 (one K1) = 100; 县寅局 A1=3 → 99; 县卯局 A1=3 → 99;
      县辰局 A1=2 → 98; 县巳局 未报送 → ranks 1, 1, 3, 3, 5, —
    Row order: 乡镇 first; by rank then name (code-point order); 未报送 last of each type.
    """
    for name, j1 in [("乙镇", 3), ("甲镇", 3), ("丙镇", 2)]:
        add_unit(con, name, "乡镇")
        submit(con, name, scores=max_scores(J1=j1))
    add_unit(con, "丁镇", "乡镇")
    _dept_with(con, "县子局")
    add_unit(con, "县丑局", "部门")
    sid = submit(con, "县丑局", scores=max_scores())
    cover(con, sid, DEPT_REQUIRED)
    con.execute("INSERT INTO penalties (unit, year, k1_count) VALUES ('县丑局', 2019, 1)")
    _dept_with(con, "县寅局", A1=3)
    _dept_with(con, "县卯局", A1=3)
    _dept_with(con, "县辰局", A1=2)
    add_unit(con, "县巳局", "部门")
    df = card(con)
    towns = sorted(["甲镇", "乙镇"])
    depts_100 = sorted(["县子局", "县丑局"])
    depts_99 = sorted(["县寅局", "县卯局"])
    assert list(df.unit) == towns + ["丙镇", "丁镇"] + depts_100 + depts_99 + ["县辰局", "县巳局"]
    assert list(df["rank"]) == [1, 1, 3, None, 1, 1, 3, 3, 5, None]
    assert list(df.total) == [Q("85.00")] * 2 + [Q("84.00"), None] + [Q("100.00")] * 2 + [Q("99.00")] * 2 + \
        [Q("98.00"), None]
    assert row_of(df, "县丑局").self_total == Q("103.00")


# --------------------------------------------------------------------------- other years

def test_2022_and_2019_each_with_own_weights(con):
    """Same ledger in 2019 and 2022: 3 items C01 (2 on time, 1 late), no requests,
    received on the cut-off, self scores at max of the year, J1 = 0.
      2019: H1 10 × 2/3 = 6.67, H2 8 × 1/8 = 1.00, G1 6, G3 2, I1 2; self 72
            → 72 + 6.67 + 1 + 10 = 89.67 → 良好, 得分率 0.8967
      2022: H1 12 × 2/3 = 8.00, A1 max 2 (a typed 4 is clamped to 2); self 70
            → 70 + 8 + 1 + 10 = 89.00 → 良好, 得分率 0.8900
    """
    add_unit(con, "县甲局")
    for year, received in [(2019, "2020-01-10"), (2022, "2023-01-10")]:
        scores = max_scores(year, J1=0)
        if year == 2022:
            scores["A1"] = Q(4)
        sid = submit(con, "县甲局", year=year, received=received, scores=scores)
        item(con, sid, f"{year}-06-03", f"{year}-06-06")
        item(con, sid, f"{year}-06-03", f"{year}-06-06")
        item(con, sid, f"{year}-06-03", f"{year}-09-01")
    r19 = row_of(card(con, 2019), "县甲局")
    r22 = row_of(card(con, 2022), "县甲局")
    assert (r19.H1, r19.A1, r19.total, r19.grade) == (Q("6.67"), Q("4.00"), Q("89.67"), "良好")
    assert (r22.H1, r22.A1, r22.total, r22.grade) == (Q("8.00"), Q("2.00"), Q("89.00"), "良好")
    tr = engine.trend(con, unit="县甲局")
    rates = {int(y): v for y, v in zip(tr.year, tr.score_rate)}
    assert rates[2019] == Q("0.8967") and rates[2022] == Q("0.8900")


def _toml_2027():
    t = BASE_TOML
    for old, new in [("year = 2019", "year = 2027"), ("year_start = 2019-01-01", "year_start = 2027-01-01"),
                     ("year_end = 2019-12-31", "year_end = 2027-12-31"), ("cutoff = 2020-01-10", "cutoff = 2028-01-10"),
                     ("2019年政务公开工作考核指标体系", "2027年政务公开工作考核指标体系")]:
        assert old in t
        t = t.replace(old, new, 1)
    return t


def test_scheme_2027_provisional_until_calendars_loaded(con, tmp_path):
    """A 2027 scheme file (cut-off Mon 2028-01-10); the package knows neither 2027 nor 2028.

    Item formed Wed 2027-09-29.  Fallback (Mon–Fri): 09-30 = 1, 10-01 = 2, 10-04…08 = 3…7,
    10-11…15 = 8…12, 10-18…22 = 13…17, 10-25…27 = 18…20 → 10-27.
    Admin 2027: holidays 10-01, 10-04…10-07; make-up Sat 10-09:
      09-30 = 1, 10-08 = 2, 10-09 = 3, 10-11…15 = 4…8, 10-18…22 = 9…13, 10-25…29 = 14…18,
      11-01 = 19, 11-02 = 20 → 11-02.
    Items published 10-27, 10-28, 11-03: fallback 1/3 → 3.33; admin 2/3 → 6.67.
    Provisional names 2027 and 2028 until both are loaded.
    """
    p = tmp_path / "2027.toml"
    p.write_text(_toml_2027(), encoding="utf-8")
    s = load_scheme_file(p)
    assert s.year == 2027 and s.cutoff == D("2028-01-10")
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局", year=2027, received="2028-01-10", scores=max_scores())
    for pub in ("2027-10-27", "2027-10-28", "2027-11-03"):
        item(con, sid, "2027-09-29", pub)
    df = card(con, 2027, scheme=s)
    r = row_of(df, "县甲局")
    assert r.provisional is True and "2027年" in r.provisional_reason and "2028年" in r.provisional_reason
    assert df.attrs["missing_calendar_years"] == [2027, 2028]
    assert r.H1 == Q("3.33")
    assert engine.item_facts(con, 2027, unit="县甲局", scheme=s).deadline[0] == D("2027-10-27")
    load_calendar_csv(con, 2027, "日期,类型\n2027-10-01,节假日\n2027-10-04,节假日\n2027-10-05,节假日\n"
                                 "2027-10-06,节假日\n2027-10-07,节假日\n2027-10-09,调休上班\n", actor=SYSTEM)
    df = card(con, 2027, scheme=s)
    r = row_of(df, "县甲局")
    assert r.provisional is True and "2028年" in r.provisional_reason and "2027年" not in r.provisional_reason
    assert r.H1 == Q("6.67")
    assert engine.item_facts(con, 2027, unit="县甲局", scheme=s).deadline[0] == D("2027-11-02")
    load_calendar_csv(con, 2028, "日期,类型\n2028-10-02,节假日\n", actor=SYSTEM)
    r = row_of(card(con, 2027, scheme=s), "县甲局")
    assert r.provisional is False and r.provisional_reason == "" and r.I1 == Q("2.00")
    assert engine.year_status(con, 2027, scheme=s)["provisional"] is False


# --------------------------------------------------------------------------- scheme validation on load

IND_A1 = 'code = "A1"\ngroup = "组织领导"\ntext = "分管领导负总责、主要负责人统筹落实，责任分工明确"\nmax = 4'


@pytest.mark.parametrize("old, new, fragments", [
    (IND_A1, IND_A1.replace("max = 4", "max = 5"), ["indicators", "基础分满分合计应为 100"]),
    ('code = "A2"', 'code = "a1"', ["indicators.A1", "重复"]),
    ('rule = "G3"', 'rule = "X1"', ["indicators.G3", "X1"]),
    ('"乡镇" = ["C01",', '"乡镇" = ["C31", "C01",', ["required.乡镇", "C31"]),
    (IND_A1, IND_A1.replace("max = 4", 'max = "四"'), ["indicators.A1", "max"]),
    (IND_A1, IND_A1.replace("max = 4", 'max = "NaN"'), ["indicators.A1", "max"]),
    (IND_A1, IND_A1.replace("max = 4", "max = 4.005"), ["indicators.A1", "max"]),
    ('"优秀" = 90', '"优秀" = "九十"', ["grades.优秀"]),
    ("K1_points = 3", 'K1_points = "三"', ["penalties.K1_points"]),
    ("proactive_days = 20", "proactive_days = -20", ["rules", "proactive_days"]),
    ("late_submission_days = 5", 'late_submission_days = "5"', ["rules", "late_submission_days"]),
    ("days = 15", "days = 0", ["rules.requests[0]", "days"]),
    ('[[indicators]]\ncode = "A1"', '[[indicators]]\ncode = ""', ["indicators[0]", "code"]),
])
def test_scheme_file_errors_name_file_and_key(tmp_path, old, new, fragments):
    assert old in BASE_TOML
    p = tmp_path / "2019.toml"
    p.write_text(BASE_TOML.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SchemeError) as e:
        load_scheme_file(p)
    msg = str(e.value)
    assert "2019.toml" in msg
    for f in fragments:
        assert f in msg, msg


# --------------------------------------------------------------------------- CSV and report

@pytest.fixture
def county(tmp_path):
    """乡镇: 甲镇 85 (rank 1), 乙镇 85 with K1 ×1 → 82 (rank 2), 丙镇 未报送.
    部门: 县甲局 = test_total_sums_rounded_points (89.23), 县乙局 未报送.
    """
    path = tmp_path / "county.duckdb"
    con = new_db(path)
    add_unit(con, "甲镇", "乡镇")
    submit(con, "甲镇", status="已审核")
    add_unit(con, "乙镇", "乡镇")
    submit(con, "乙镇", status="已退回")
    con.execute("INSERT INTO penalties (unit, year, k1_count) VALUES ('乙镇', 2019, 1)")
    add_unit(con, "丙镇", "乡镇")
    add_unit(con, "县甲局", "部门", extras=["C27"])
    sid = submit(con, "县甲局")
    item(con, sid, "2019-06-03", "2019-06-05")
    item(con, sid, "2019-06-03", "2019-06-05")
    item(con, sid, "2019-06-03", "2019-08-01")
    for n in range(9):
        request(con, sid, "2019-06-03", "2019-06-10" if n < 4 else "2019-08-01")
    add_unit(con, "县乙局", "部门")
    con.close()
    return path


def test_scorecard_csv_formatting(county, tmp_path):
    out = tmp_path / "sc.csv"
    assert main(["scorecard", "--year", "2019", "--csv", str(out), "--db", str(county)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfunit,unit_type,year,status,total,grade,rank,self_total,")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header = rows[0]
    assert header[19:] == ["A1", "A2", "A3", "B1", "B2", "B3", "B4", "C1", "C2", "C3", "D1", "D2", "D3", "D4",
                           "E1", "E2", "E3", "F1", "F2", "F3", "G1", "G2", "G3", "H1", "H2", "I1", "I2", "I3",
                           "I4", "J1"]
    assert [r[0] for r in rows[1:]] == ["甲镇", "乙镇", "丙镇", "县甲局", "县乙局"]
    rec = [dict(zip(header, r)) for r in rows[1:]]
    t1, t2, t3, d1, d2 = rec
    assert (t1["status"], t1["total"], t1["rank"], t1["grade"]) == ("已审核", "85.00", "1", "良好")
    assert (t2["status"], t2["total"], t2["rank"], t2["self_total"]) == ("已退回", "82.00", "2", "85.00")
    assert t1["proactive_rate"] == "" and t1["request_rate"] == "" and t1["coverage_rate"] == "0.0000"
    assert t1["proactive_counted"] == "0" and t1["H1"] == "0.00" and t1["G1"] == "6.00"
    for r in (t3, d2):
        assert r["status"] == "未报送" and r["year"] == "2019" and r["unit_type"] in ("乡镇", "部门")
        assert all(r[c] == "" for c in header[4:]), r
    assert (d1["total"], d1["self_total"], d1["grade"], d1["rank"]) == ("89.23", "89.23", "良好", "1")
    assert (d1["proactive_rate"], d1["H1"], d1["coverage_rate"], d1["H2"]) == ("0.6667", "6.67", "0.1111", "0.89")
    assert (d1["request_rate"], d1["G1"], d1["requests_counted"], d1["requests_on_time"]) == ("0.4444", "2.67", "9",
                                                                                              "4")
    assert d1["required_categories"] == "9" and d1["covered_categories"] == "1"
    assert d1["missing_categories"] == "规划计划、财政预决算、重大决策预公开、权责清单、督查审计整改、政策解读、年度报告、社会救助"
    assert d1["J1"] == "3.00" and d1["A1"] == "4.00"


def test_report_subtotals_add_up(county, tmp_path):
    """Per row: Σ first-level subtotals (incl. 加分项) − 扣分 = 总分.
    乙镇: subtotals sum 85, 扣分 3.00 → 82.00.  县甲局: 89.23, no 扣分."""
    out = tmp_path / "r.xlsx"
    assert main(["report", "--year", "2019", "-o", str(out), "--db", str(county)]) == 0
    wb = load_workbook(out)
    assert wb.sheetnames == ["乡镇", "部门"]
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape"
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True and ws.page_setup.fitToWidth == 1
        assert ws.print_title_rows == "$3:$3"
        headers = [c.value for c in ws[3]]
        gcols = [n for n, h in enumerate(headers) if h and "\n(" in h and h.split("\n")[0] in
                 ("组织领导", "决策公开", "执行公开", "管理公开", "结果公开", "重点领域公开", "依申请公开", "公开时效",
                  "公开覆盖", "监督保障", "加分项")]
        assert len(gcols) == 11
        pen = headers.index("扣分")
        for row in ws.iter_rows(min_row=4, values_only=True):
            if row[3] is None:
                continue
            s = sum(Q(str(row[c])) for c in gcols) - Q(str(row[pen] or 0))
            assert s == Q(str(row[3])), (ws.title, row[1], s, row[3])
    ws = wb["乡镇"]
    assert [ws.cell(row=r, column=2).value for r in range(4, 7)] == ["甲镇", "乙镇", "丙镇"]
    assert Q(str(ws.cell(row=5, column=4).value)) == Q("82.00")


def test_scheme_file_not_utf8_or_wrong_year(tmp_path):
    p = tmp_path / "2019.toml"
    p.write_bytes(BASE_TOML.encode("gbk"))
    with pytest.raises(SchemeError) as e:
        load_scheme_file(p)
    assert "2019.toml" in str(e.value)
    p = tmp_path / "2020.toml"
    p.write_text(BASE_TOML, encoding="utf-8")
    with pytest.raises(SchemeError) as e:
        load_scheme_file(p)
    assert "2020.toml" in str(e.value) and "year" in str(e.value)


# --------------------------------------------------------------------------- one unit's card

def test_rank_of_a_single_unit_is_its_rank_among_its_type(con):
    """score_year(unit=…) / trend(unit=…) feed the unit's own card and unit report
    ("部门排名 N"): the rank is still within all units of the type.
      县甲局 100, 县乙局 A1 = 0 → 96, 县丙局 A1 = 0 → 96: ranks 1, 2, 2;  某镇 alone → 1."""
    _dept_with(con, "县甲局")
    _dept_with(con, "县乙局", A1=0)
    _dept_with(con, "县丙局", A1=0)
    add_unit(con, "某镇", "乡镇")
    submit(con, "某镇")
    assert row_of(card(con, unit="县乙局"), "县乙局")["rank"] == 2
    assert row_of(card(con, unit="县丙局"), "县丙局")["rank"] == 2
    assert row_of(card(con, unit="某镇"), "某镇")["rank"] == 1
    tr = engine.trend(con, years=[2019], unit="县丙局")
    assert len(tr) == 1 and tr.iloc[0]["rank"] == 2
    from metrics.report import build_unit_scorecard
    wb = load_workbook(io.BytesIO(build_unit_scorecard(con, 2019, "县乙局")))
    assert "部门排名 2" in wb["得分表"]["A2"].value
