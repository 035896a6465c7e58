"""Scoring engine: hand-computed cases inserted straight into DuckDB."""
from __future__ import annotations

import dataclasses
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from metrics import engine
from data.access import SYSTEM
from data.calendar import load_calendar_csv
from metrics.engine import quantize2, quantize4
from core.scheme import SchemeError, parse_scheme, scheme_for
from metrics_fixtures import (DEPT_REQUIRED, TOWN_REQUIRED, D, add_unit, cover, item, max_scores, new_db, request,
                              row_of, submit)

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

Q = Decimal


@pytest.fixture
def con():
    c = new_db()
    yield c
    c.close()


def card(con, year=2019, **kw):
    return engine.score_year(con, year, **kw)


def facts(con, unit, year=2019):
    return engine.item_facts(con, year, unit=unit)


def rfacts(con, unit, year=2019):
    return engine.request_facts(con, year, unit=unit)


# --------------------------------------------------------------------------- worked example

def build_worked_example(con, unit="县示例局"):
    """methodology-2019.md, "Worked example"."""
    add_unit(con, unit, "部门")
    sid = submit(con, unit, received="2020-01-13", scores=max_scores(B1=3, C3=2, J1=1))
    covered = [c for c in DEPT_REQUIRED if c != "C20"]          # 7 of 8 covered
    for n in range(35):                                            # 35 on time
        item(con, sid, "2019-03-01", "2019-03-29", category=covered[n % 7])   # deadline is 03-29
    for _ in range(3):                                             # 3 late
        item(con, sid, "2019-03-01", "2019-04-01", category="C01")
    item(con, sid, "2019-12-13", None, category="C20")           # deadline 2020-01-13 ≥ cut-off: pending
    item(con, sid, "2019-12-12", None, category="C20")           # deadline 2020-01-10 = cut-off: pending
    request(con, sid, "2019-06-03", "2019-07-02")                  # deadline 07-02: on time
    request(con, sid, "2019-06-03", "2019-06-10")
    request(con, sid, "2019-06-03", "2019-06-10", review_result="纠正")
    request(con, sid, "2019-06-03", "2019-07-03")                  # one day late
    return sid


def test_worked_example(con):
    build_worked_example(con)
    r = row_of(card(con), "县示例局")
    assert (r.proactive_counted, r.proactive_on_time, r.proactive_pending) == (38, 35, 2)
    assert r.proactive_rate == Q("0.9211") and r.H1 == Q("9.21")
    assert (r.required_categories, r.covered_categories) == (8, 7)
    assert r.coverage_rate == Q("0.8750") and r.H2 == Q("7.00")
    assert r.missing_categories == "年度报告"
    assert (r.requests_counted, r.requests_on_time, r.request_rate) == (4, 3, Q("0.7500"))
    assert r.G1 == Q("4.50") and r.G3 == Q("1.00")
    assert r.I1 == Q("1.00") and r.late_submission is True and r.received == D("2020-01-13")
    assert r.B1 == Q("3.00") and r.C3 == Q("2.00") and r.J1 == Q("1.00")
    assert r.total == Q("92.71") and str(r.total) == "92.71"
    assert r.grade == "优秀" and r["rank"] == 1
    assert r.self_total == Q("92.71")
    assert r.score_rate == Q("0.9271") and r.max_total == Q("100.00")
    assert r.status == "待审核" and r.provisional is False and r.provisional_reason == ""


def test_scorecard_columns_exact(con):
    build_worked_example(con)
    df = card(con)
    fixed = ["unit", "unit_type", "year", "status", "total", "grade", "rank", "self_total",
             "proactive_counted", "proactive_on_time", "proactive_pending", "proactive_rate",
             "requests_counted", "requests_on_time", "request_rate", "required_categories",
             "covered_categories", "coverage_rate", "missing_categories"]
    codes = [i.code for i in scheme_for(2019).indicators]
    assert list(df.columns[:len(fixed) + len(codes)]) == fixed + codes
    assert codes[-1] == "J1" and codes[0] == "A1"
    for extra in ["max_total", "score_rate", "provisional", "provisional_reason", "k1_count", "k2_veto",
                  "late_submission", "received", "submission_id", "version"]:
        assert extra in df.columns[len(fixed) + len(codes):]
    assert engine.scorecard_columns(2019) == fixed + codes


def test_indicator_points_long_form(con):
    sid = build_worked_example(con)
    con.execute("INSERT INTO self_scores VALUES (?, 'H1', 10, NULL, NULL, 30)", [sid])  # typed in an auto row
    ip = engine.indicator_points(con, 2019)
    assert list(ip.columns[:11]) == ["unit", "unit_type", "code", "group", "text", "max", "type", "self_score",
                                     "review_score", "review_reason", "points"]
    h1 = ip[ip.code == "H1"].iloc[0]
    assert h1.points == Q("9.21") and h1.self_score is None and h1.type == "auto"   # typed score ignored
    b1 = ip[ip.code == "B1"].iloc[0]
    assert (b1.self_score, b1.points, b1["max"], b1.group) == (Q("3.00"), Q("3.00"), Q("5.00"), "决策公开")
    assert sum(ip.points) == Q("92.71")


# --------------------------------------------------------------------------- working-day deadlines

def test_items_around_spring_festival_and_national_day(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    item(con, sid, "2019-01-30", "2019-03-04")   # deadline 03-04 (Feb 2-3 make-up days count)
    item(con, sid, "2019-01-30", "2019-03-05")
    item(con, sid, "2019-09-27", "2019-10-30")   # deadline 10-30: make-up Sunday 09-29 is day 1
    item(con, sid, "2019-09-27", "2019-10-31")   # would be on time if 09-29 were not counted
    f = facts(con, "县甲局")
    assert list(f.deadline) == [D("2019-03-04")] * 2 + [D("2019-10-30")] * 2
    assert list(f.state) == ["按时", "逾期", "按时", "逾期"]
    assert list(f.days_late) == [0, 1, 0, 1]
    r = row_of(card(con), "县甲局")
    assert (r.proactive_on_time, r.proactive_counted, r.H1) == (2, 4, Q("5.00"))


def test_unpublished_items_late_vs_pending(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    item(con, sid, "2019-12-11")                  # deadline 2020-01-09 < cut-off → late
    item(con, sid, "2019-12-12")                  # deadline 2020-01-10 = cut-off → pending
    item(con, sid, "2019-12-20")                  # deadline 2020-01-19 (make-up Sunday) → pending
    item(con, sid, "2019-06-03", "2019-06-05")
    f = facts(con, "县甲局")
    assert list(f.deadline[:3]) == [D("2020-01-09"), D("2020-01-10"), D("2020-01-19")]
    assert list(f.state) == ["逾期", "未到期", "未到期", "按时"]
    assert f.days_late[0] == 1 and f.days_late.isna()[1]
    r = row_of(card(con), "县甲局")
    assert (r.proactive_counted, r.proactive_on_time, r.proactive_pending) == (2, 1, 2)
    assert r.proactive_rate == Q("0.5000") and r.H1 == Q("5.00")


def test_items_outside_the_year_not_counted(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    item(con, sid, "2018-12-28", "2019-01-02", category="C20")   # formed in 2018: stored, not counted
    item(con, sid, "2019-05-06", "2019-05-07")
    r = row_of(card(con), "县甲局")
    assert r.proactive_counted == 1 and r.covered_categories == 1   # C20 not covered by the 2018 item
    assert len(facts(con, "县甲局")) == 1
    all_items = engine.item_facts(con, 2019, unit="县甲局", include_uncounted=True)
    assert list(all_items.counted) == [False, True]


def test_request_deadlines(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    request(con, sid, "2019-06-01", "2019-07-01")                   # Saturday: Jun 3 is day 1 → 07-01
    request(con, sid, "2019-10-01", "2019-11-01")                   # holiday: Oct 8 day 1 → 11-01
    request(con, sid, "2019-05-14", "2019-06-05")                   # 2008 条例 15 wd → 06-04: late
    request(con, sid, "2019-05-15", "2019-06-13")                   # 2019 条例 20 wd → 06-13: on time
    request(con, sid, "2019-06-03", "2019-07-10", corrected="2019-06-20")   # 补正: clock from 06-20 → 07-18
    request(con, sid, "2019-05-10", "2019-06-11", corrected="2019-05-20")   # rule by 收到日期 (15), clock 05-20
    request(con, sid, "2019-06-03", "2019-07-30", extended=True)    # 延期 40 wd → 07-30
    request(con, sid, "2019-06-03", "2019-07-31", extended=True)
    rf = rfacts(con, "县甲局")
    assert list(rf.deadline) == [D(x) for x in ("2019-07-01", "2019-11-01", "2019-06-04", "2019-06-13",
                                                "2019-07-18", "2019-06-11", "2019-07-30", "2019-07-30")]
    assert list(rf.days_allowed) == [20, 20, 15, 20, 20, 15, 40, 40]
    assert list(rf.state) == ["按时", "按时", "逾期", "按时", "按时", "按时", "按时", "逾期"]
    assert rf.rule_basis[2] == "2008年条例 第二十四条" and rf.rule_basis[3] == "2019年条例 第三十三条"
    assert list(rf.days_late) == [0, 0, 1, 0, 0, 0, 0, 1]
    assert rf.days_taken[0] == 20 and rf.days_taken[4] == 14
    r = row_of(card(con), "县甲局")
    assert (r.requests_counted, r.requests_on_time) == (8, 6)
    assert r.request_rate == Q("0.7500") and r.G1 == Q("4.50")


def test_unanswered_requests_late_vs_pending(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    request(con, sid, "2019-12-02")          # deadline 2019-12-30 < cut-off → late, 8 wd late at cut-off
    request(con, sid, "2019-12-20")          # deadline 2020-01-19 → pending
    request(con, sid, "2018-12-20")          # received in 2018: not counted
    rf = rfacts(con, "县甲局")
    assert list(rf.state) == ["逾期", "未到期"]
    assert rf.days_late[0] == 8
    r = row_of(card(con), "县甲局")
    assert (r.requests_counted, r.requests_on_time, r.request_rate, r.G1) == (1, 0, Q("0.0000"), Q("0.00"))
    assert r.requests_pending == 1


def test_no_requests_full_points_and_nothing_disclosed(con):
    add_unit(con, "某某镇", "乡镇")
    submit(con, "某某镇")
    r = row_of(card(con), "某某镇")
    assert r.requests_counted == 0 and r.request_rate is None and r.G1 == Q("6.00")
    assert r.proactive_counted == 0 and r.proactive_rate is None and r.H1 == Q("0.00")
    assert r.required_categories == 13 and r.covered_categories == 0 and r.H2 == Q("0.00")
    assert r.coverage_rate == Q("0.0000")
    assert r.missing_categories == ("机构职能、规划计划、财政预决算、重大决策预公开、年度报告、农业农村政策落实、"
                                    "农田水利工程、土地承包经营权流转、宅基地审核、土地征收和房屋征收、筹资筹劳、"
                                    "社会救助、扶贫资金项目")
    assert r.G3 == Q("2.00") and r.I1 == Q("2.00")
    # self-scored max = 72 + 3 bonus; auto: 0 + 0 + 6 + 2 + 2
    assert r.total == Q("85.00") and r.grade == "良好"


def test_all_requests_pending_gives_full_points(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    request(con, sid, "2019-12-27")
    r = row_of(card(con), "县甲局")
    assert r.requests_counted == 0 and r.request_rate is None and r.G1 == Q("6.00")


# --------------------------------------------------------------------------- coverage

def test_coverage_with_extras_and_cutoff(con):
    add_unit(con, "县生态环境局", "部门", extras=["C13", "C06"])
    sid = submit(con, "县生态环境局")
    cover(con, sid, DEPT_REQUIRED)
    item(con, sid, "2019-12-30", "2020-01-13", category="C13")   # published after the cut-off: not covered
    item(con, sid, "2019-05-06", "2019-05-08", category="C04")   # outside the required set
    r = row_of(card(con), "县生态环境局")
    assert (r.required_categories, r.covered_categories) == (10, 8)
    assert r.missing_categories == "行政处罚和行政强制、监督检查"    # catalogue order C06 before C13
    assert r.H2 == Q("6.40") and r.coverage_rate == Q("0.8000")
    cm = engine.coverage_matrix(con, 2019)
    assert len(cm) == 30
    c04 = cm[cm.code == "C04"].iloc[0]
    assert (c04.required, c04.covered) == (False, True)
    c13 = cm[cm.code == "C13"].iloc[0]
    assert (c13.required, c13.covered, c13["items"]) == (True, False, 1)


def test_exact_fraction_8_times_7_of_13(con):
    add_unit(con, "某镇", "乡镇")
    sid = submit(con, "某镇")
    cover(con, sid, TOWN_REQUIRED[:7])
    r = row_of(card(con), "某镇")
    assert r.coverage_rate == Q("0.5385") and r.H2 == Q("4.31")


# --------------------------------------------------------------------------- rounding

def test_half_up_boundaries(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    # G1: 3 of 80 on time → 6 × 3/80 = 0.225 exactly → 0.23 (binary floats give 0.22)
    for n in range(80):
        request(con, sid, "2019-06-03", "2019-06-10" if n < 3 else "2019-08-01")
    # H1: 1 of 80 on time → 10 × 1/80 = 0.125 → 0.13
    item(con, sid, "2019-06-03", "2019-06-05")
    for _ in range(79):
        item(con, sid, "2019-06-03", "2019-08-01")
    r = row_of(card(con), "县甲局")
    assert r.G1 == Q("0.23") and r.request_rate == Q("0.0375")
    assert r.H1 == Q("0.13") and r.proactive_rate == Q("0.0125")


def test_rate_half_up_4_decimals(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    item(con, sid, "2019-06-03", "2019-06-05")        # 1 of 32 → 0.03125 → 0.0313; 10/32 = 0.3125 → 0.31
    for _ in range(31):
        item(con, sid, "2019-06-03", "2019-08-01")
    r = row_of(card(con), "县甲局")
    assert r.proactive_rate == Q("0.0313") and r.H1 == Q("0.31")


def test_quantize_helpers():
    assert quantize2(Q("0.125")) == Q("0.13") and quantize2(Q("0.225")) == Q("0.23")
    assert quantize2("2.675") == Q("2.68")          # round(2.675, 2) gives 2.67
    assert quantize4(Q("0.03125")) == Q("0.0313")
    assert quantize2(None) is None
    assert str(quantize2(7)) == "7.00"


# --------------------------------------------------------------------------- submissions, review, penalties

def test_resubmission_keeps_first_received_date(con):
    add_unit(con, "县甲局")
    sid1 = submit(con, "县甲局", received="2020-01-08")
    item(con, sid1, "2019-06-03", "2019-08-01")       # late in version 1
    sid2 = submit(con, "县甲局", received="2020-01-20")
    item(con, sid2, "2019-06-03", "2019-06-05")       # on time in version 2
    r = row_of(card(con), "县甲局")
    assert r.I1 == Q("2.00") and r.received == D("2020-01-08") and r.late_submission is False
    assert (r.submission_id, r.version) == (sid2, 2)
    assert r.proactive_on_time == 1 and r.proactive_counted == 1   # current version's ledger


@pytest.mark.parametrize("received, points", [
    ("2020-01-10", "2.00"),   # on the cut-off day
    ("2020-01-13", "1.00"),   # 1st working day after
    ("2020-01-17", "1.00"),   # 5th working day after
    ("2020-01-19", "0.00"),   # Sunday make-up day = 6th working day after
    ("2020-02-20", "0.00"),
])
def test_i1_submission_deadline(con, received, points):
    add_unit(con, "县甲局")
    submit(con, "县甲局", received=received)
    assert row_of(card(con), "县甲局").I1 == Q(points)


def test_reviewer_score_overrides_self_score(con):
    add_unit(con, "县甲局")
    sid0 = submit(con, "县甲局", received="2020-01-06")
    con.execute("INSERT INTO review_scores (submission_id, code, score, reason) VALUES (?, 'A1', 0, '旧版本')", [sid0])
    sid = submit(con, "县甲局", received="2020-01-08", scores=max_scores(B1=5))
    cover(con, sid, DEPT_REQUIRED)
    con.execute("INSERT INTO review_scores (submission_id, code, score, reason, reviewer) "
                "VALUES (?, 'B1', 1.5, '未公布征求意见稿', '审核员')", [sid])
    r = row_of(card(con), "县甲局")
    assert r.B1 == Q("1.50") and r.A1 == Q("4.00")            # review of an old version is ignored
    assert r.total == Q("99.50") and r.self_total == Q("103.00")
    ip = engine.indicator_points(con, 2019, unit="县甲局")
    b1 = ip[ip.code == "B1"].iloc[0]
    assert (b1.self_score, b1.review_score, b1.review_reason, b1.points) == (Q("5.00"), Q("1.50"),
                                                                             "未公布征求意见稿", Q("1.50"))


def test_k1_penalty_lowers_total_and_grade(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局", scores=max_scores(J1=0, A1=0, A2=0))     # 100 - 7 = 93 (优秀)
    cover(con, sid, DEPT_REQUIRED)
    assert row_of(card(con), "县甲局").total == Q("93.00")
    con.execute("INSERT INTO penalties (unit, year, k1_count) VALUES ('县甲局', 2019, 2)")
    r = row_of(card(con), "县甲局")
    assert r.total == Q("87.00") and r.grade == "良好" and r.k1_count == 2
    assert r.self_total == Q("93.00")


def test_k2_veto(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局")
    cover(con, sid, DEPT_REQUIRED)
    con.execute("INSERT INTO penalties (unit, year, k1_count, k2_veto) VALUES ('县甲局', 2019, 0, true)")
    r = row_of(card(con), "县甲局")
    assert r.total == Q("103.00") and r.grade == "不合格" and r.k2_veto is True


def test_total_never_below_zero(con):
    add_unit(con, "县甲局")
    submit(con, "县甲局", received="2020-03-02", scores={c: 0 for c in max_scores()})
    con.execute("INSERT INTO penalties (unit, year, k1_count) VALUES ('县甲局', 2019, 3)")
    r = row_of(card(con), "县甲局")
    # auto only: H1 0, H2 0, G1 6 (no requests), G3 2, I1 0 = 8; minus 9
    assert r.total == Q("0.00") and r.grade == "不合格"
    assert r.self_total == Q("8.00")


def test_scores_clamped_to_indicator_max(con):
    add_unit(con, "县甲局")
    submit(con, "县甲局", scores=max_scores(J1=5))
    r = row_of(card(con), "县甲局")
    assert r.J1 == Q("3.00")


# --------------------------------------------------------------------------- status, ranking, order

def test_not_submitted_and_ranking(con):
    # departments: totals T, T-1, T-1, T-2 → ranks 1, 2, 2, 4
    for name, a1 in [("县丁局", 2), ("县乙局", 3), ("县丙局", 3), ("县甲局", 4)]:
        add_unit(con, name, "部门")
        sid = submit(con, name, scores=max_scores(A1=a1))
        cover(con, sid, DEPT_REQUIRED)
    add_unit(con, "县一局", "部门")       # never submitted; name sorts first
    add_unit(con, "某镇", "乡镇")
    sid = submit(con, "某镇", status="已审核")
    add_unit(con, "另一镇", "乡镇")
    df = card(con)
    assert list(df.unit) == ["某镇", "另一镇", "县甲局", "县丙局", "县乙局", "县丁局", "县一局"]
    assert list(df.unit_type) == ["乡镇"] * 2 + ["部门"] * 5
    dept = df[df.unit_type == "部门"]
    assert list(dept["rank"]) == [1, 2, 2, 4, None]
    assert list(dept.total[:4]) == [Q("103.00"), Q("102.00"), Q("102.00"), Q("101.00")]
    miss = row_of(df, "县一局")
    assert miss.status == "未报送"
    for col in ["total", "grade", "rank", "self_total", "proactive_counted", "proactive_on_time",
                "proactive_pending", "proactive_rate", "requests_counted", "requests_on_time", "request_rate",
                "required_categories", "covered_categories", "coverage_rate", "missing_categories", "A1", "H1",
                "J1", "score_rate", "received", "submission_id"]:
        assert miss[col] is None, col
    assert row_of(df, "某镇").status == "已审核" and row_of(df, "某镇")["rank"] == 1
    assert row_of(df, "另一镇").status == "未报送"


def test_submission_without_workflow_row_is_pending(con):
    add_unit(con, "县甲局")
    submit(con, "县甲局")
    con.execute("DELETE FROM workflow")
    assert row_of(card(con), "县甲局").status == "待审核"


# --------------------------------------------------------------------------- schemes and years

def test_2022_scored_with_its_own_weights(con):
    add_unit(con, "县甲局")
    sid = submit(con, "县甲局", year=2022, received="2023-01-10", scores=max_scores(2022))
    cover(con, sid, DEPT_REQUIRED, formed="2022-03-01", published="2022-03-02")
    item(con, sid, "2022-03-01", "2022-06-01")          # 8 on time, 1 late
    for _ in range(3):
        item(con, sid, "2022-03-01", "2022-06-01", category="C02")
    # 8 of 12 on time: H1 = 12 × 8/12 = 8.00 under 2022 weights (10 × 8/12 = 6.67 under 2019)
    r = row_of(card(con, 2022), "县甲局")
    assert r.H1 == Q("8.00") and r.A1 == Q("2.00") and r.proactive_rate == Q("0.6667")
    assert r.total == Q("99.00")          # 100 − 12 + 8 + 3 bonus
    tr = engine.trend(con)
    assert sorted(set(tr.year)) == [2019, 2020, 2021, 2022, 2023]
    t22 = tr[(tr.year == 2022) & (tr.unit == "县甲局")].iloc[0]
    assert t22.score_rate == Q("0.9900") and t22.max_total == Q("100.00")
    assert tr[(tr.year == 2019)].iloc[0].status == "未报送"
    assert list(tr.columns[:10]) == ["unit", "unit_type", "year", "status", "total", "max_total", "score_rate",
                                     "proactive_rate", "coverage_rate", "request_rate"]
    ch = engine.scheme_changes()
    assert any("H1" in c and "12" in c for c in ch[2022]) and ch[2023] == []


def test_unknown_year(con):
    with pytest.raises(engine.UnknownYear) as e:
        card(con, 2031)
    assert "2031" in str(e.value)


def scheme_2026():
    s = scheme_for(2019)
    return dataclasses.replace(s, year=2026, year_start=D("2026-01-01"), year_end=D("2026-12-31"),
                               cutoff=D("2027-01-11"))


def test_fallback_calendar_is_provisional(con):
    add_unit(con, "县甲局")
    submit(con, "县甲局", year=2026, received="2027-01-11", scores=max_scores())
    s = scheme_2026()
    r = row_of(card(con, 2026, scheme=s), "县甲局")
    assert r.provisional is True and "2027" in r.provisional_reason
    assert engine.year_status(con, 2026, scheme=s)["missing_calendar_years"] == [2027]
    load_calendar_csv(con, 2027, "日期,类型\n2027-01-01,节假日\n", actor=SYSTEM)
    r = row_of(card(con, 2026, scheme=s), "县甲局")
    assert r.provisional is False and r.provisional_reason == ""


# --------------------------------------------------------------------------- scheme loader validation

BASE_TOML = (Path(__file__).resolve().parent.parent / "core" / "schemes" / "2019.toml").read_text(encoding="utf-8")


def parse(text):
    return parse_scheme(tomllib.loads(text), "test.toml")


def test_scheme_base_loads():
    s = parse(BASE_TOML)
    assert s.base_max == 100 and s.codes[0] == "A1"


@pytest.mark.parametrize("old, new, fragment", [
    ('code = "A1"\ngroup = "组织领导"\ntext = "分管领导负总责、主要负责人统筹落实，责任分工明确"\nmax = 4',
     'code = "A1"\ngroup = "组织领导"\ntext = "分管领导负总责、主要负责人统筹落实，责任分工明确"\nmax = 5', "基础分满分合计应为 100"),
    ('code = "A2"', 'code = "A1"', "指标编号重复"),
    ('rule = "G3"', 'rule = "G9"', "rule “G9”"),
    ('"部门" = ["C01",', '"部门" = ["C99", "C01",', "未知类别 “C99”"),
    ('cutoff = 2020-01-10', 'cutoff = 2019-12-01', "year_start ≤ year_end < cutoff"),
])
def test_scheme_validation_errors(old, new, fragment):
    assert old in BASE_TOML
    with pytest.raises(SchemeError) as e:
        parse(BASE_TOML.replace(old, new, 1))
    assert fragment in str(e.value) and "test.toml" in str(e.value)


@pytest.mark.parametrize("old, new, fragment", [
    ("K1_points = 3", "K1_point = 5", "penalties: 未知的键 “K1_point”，是否应为 “K1_points”"),
    ("late_submission_points = 1", "late_submision_points = 1",
     "rules: 未知的键 “late_submision_points”，是否应为 “late_submission_points”"),
    ('name = "', 'nmae = "', "test.toml: 未知的键 “nmae”，是否应为 “name”"),
    ("cutoff = 2020-01-10", "cutoff = 2020-01-10\ncut_off = 2020-01-11", "dates: 未知的键 “cut_off”"),
    ('code = "A1"', 'code = "A1"\nweight = 4', "indicators[0]: 未知的键 “weight”"),
    ("days = 15", "days = 15\ndyas = 3", "rules.requests[0]: 未知的键 “dyas”"),
    ('"乡镇" = [', '"街道" = []\n"乡镇" = [', "required: 未知的键 “街道”"),
    ('"合格" = "#e6a700"', '"及格" = "#e6a700"', "grade_colors: 未知的键 “及格”"),
    ('"合格" = "#e6a700"', '"合格" = "orange"', "grade_colors.合格: 颜色应写成"),
])
def test_scheme_unknown_keys_are_rejected(old, new, fragment):
    assert old in BASE_TOML
    with pytest.raises(SchemeError) as e:
        parse(BASE_TOML.replace(old, new, 1))
    assert fragment in str(e.value), str(e.value)
    assert e.value.issues and e.value.issues[0].code == "scheme_invalid"


def test_scheme_year_bounds_default_from_year():
    text = BASE_TOML.replace("year_start = 2019-01-01\n", "").replace("year_end = 2019-12-31\n", "")
    assert text != BASE_TOML and "year_start" not in text
    s = parse(text)
    assert (s.year_start, s.year_end) == (D("2019-01-01"), D("2019-12-31"))


def test_scheme_grade_colours_and_names():
    s = parse(BASE_TOML)
    assert s.grade_names == ["优秀", "良好", "合格", "不合格"]
    assert s.grade_color("合格") == "#e6a700" and s.grade_color("不合格") == "#d64545"
    # renamed grades without colours get the default palette, best first; the fail grade red
    text = (BASE_TOML.replace('"优秀" = 90', '"A等" = 90').replace('"优秀" = "#1a7f37"\n', "")
            .replace('fail_grade = "不合格"', 'fail_grade = "D等"').replace('"不合格" = "#d64545"\n', ""))
    s = parse(text)
    assert s.grade_names == ["A等", "良好", "合格", "D等"]
    assert s.grade_colors == {"A等": "#1a7f37", "良好": "#2f80ed", "合格": "#e6a700", "D等": "#d64545"}


def test_another_scheme_directory_and_a_new_year_is_only_a_file(monkeypatch, tmp_path):
    """GONGKAI_SCHEMES names the operator's own directory; a year is added by adding its file."""
    from core import scheme as sm

    from tests.conftest import FIXTURE_SCHEMES, FIXTURE_YEARS

    assert sm.scheme_dir() == FIXTURE_SCHEMES and sm.years() == list(FIXTURE_YEARS)  # the tests' own copy
    (tmp_path / "2019.toml").write_text(BASE_TOML.replace("name = ", "note = \"另一目录\"\nname = ", 1),
                                        encoding="utf-8")
    (tmp_path / "2031.toml").write_text(BASE_TOML.replace("2019", "2031").replace("2020", "2032"), encoding="utf-8")
    monkeypatch.setenv("GONGKAI_SCHEMES", str(tmp_path))
    assert sm.years() == [2019, 2031] and sm.scheme_for(2019).note == "另一目录"
    assert sm.scheme_for(2020) is None and sm.scheme_for(2031).year_end.year == 2031
