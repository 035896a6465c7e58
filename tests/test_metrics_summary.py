"""County figures (metrics.summary) and ``python -m metrics summary``: the CLI
prints and exports the very numbers the 总览 page shows."""
from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from data.store import connect
from metrics import engine
from metrics import summary as sm
from metrics.__main__ import main
from tests.app_fixtures import open_page
from tests.test_app_analytics import AUDIT, CIVIL, JIA, LEADER, YI, app_db, metrics  # noqa: F401 - fixture


def pct(v: str) -> str:
    return "—" if v == "" else f"{(Decimal(v) * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def pts(v: str) -> str:
    return f"{Decimal(v).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def summary_csv(db, year, tmp_path, capsys) -> dict[str, list[str]]:
    out = tmp_path / f"s{year}.csv"
    assert main(["summary", "--year", str(year), "--csv", str(out), "--db", str(db)]) == 0
    printed = capsys.readouterr().out
    assert f"{year}年度全县汇总" in printed and "报送率" in printed
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    return {r[0]: r[1:] for r in rows[1:]}


@pytest.mark.parametrize("year", [2019, 2020])
def test_cli_summary_reproduces_the_overview_tiles(app_db, tmp_path, capsys, year):
    s = summary_csv(app_db, year, tmp_path, capsys)
    m = metrics(open_page("overview", LEADER, year=year))
    cur = {k: v[1] for k, v in s.items()}
    assert m["报送率"][0] == pct(cur["submit_rate"])
    assert m["按时报送率"][0] == pct(cur["on_time_rate"])
    assert m["平均分"][0] == pts(cur["mean_total"])
    assert m["平均及时率"][0] == pct(cur["mean_proactive"])
    assert m["平均覆盖率"][0] == pct(cur["mean_coverage"])
    grades = {k.split("[")[-1].rstrip("]"): v[0] for k, v in m.items() if k.startswith("等次")}
    assert grades == {k.split("·")[1]: f"{cur[k]} 个" for k in cur if k.startswith("等次·")}
    if year == 2020:   # year on year: the deltas of the page are the CSV's 变化 column
        ch = {k: v[3] for k, v in s.items()}
        assert m["报送率"][1] == f"{Decimal(ch['submit_rate']) * 100:.1f} 个百分点"
        assert m["平均分"][1] == f"+{Decimal(ch['mean_total']):.2f} 分"


def test_summary_numbers_by_hand(app_db):
    con = connect(app_db)
    try:
        s = sm.county_summary(con, 2019)
        # 4 of 5 submitted, 民政局 late; totals 96, 72.82, 98, 90.22
        assert (s["registered"], s["submitted"], s["not_submitted"], s["on_time"]) == (5, 4, 1, 3)
        assert s["submit_rate"] == 0.8 and s["on_time_rate"] == 0.6
        assert s["mean_total"] == pytest.approx(89.26)
        assert s["grades"] == {"优秀": 3, "良好": 0, "合格": 1, "不合格": 0}
        # pooled H1: on time 13 + 10 + 8 + 7 = 38 of 13 + 15 + 10 + 7 = 45 counted (the pending item is not counted)
        assert s["pooled_proactive"] == pytest.approx(38 / 45)
        # pooled H2: covered 13 + 10 + 8 + 7 of required 13 + 13 + 8 + 9
        assert s["pooled_coverage"] == pytest.approx(38 / 43)
        assert s["pooled_request"] == 0.5 and s["mean_request"] == 0.5
        towns = sm.county_summary(con, 2019, "乡镇")
        assert (towns["registered"], towns["submitted"], towns["mean_total"]) == (2, 2, pytest.approx(84.41))
        depts = sm.county_summary(con, 2019, "部门")
        assert (depts["registered"], depts["submitted"], depts["not_submitted"]) == (3, 2, 1)

        both = sm.summary_with_change(con, 2020)
        assert both["previous_year"] == 2019 and both["current"]["submitted"] == 1
        assert both["change"]["submit_rate"] == pytest.approx(0.2 - 0.8)
        assert both["change"]["grades"]["合格"] == -1
        first = sm.summary_with_change(con, 2019)
        assert first["previous"] is None and first["change"]["mean_total"] is None

        sub = sm.group_subtotals(con, 2019).set_index("unit")
        # 民政局: B1 3 (of 4) and B2 1 (review) → 决策公开 8 of 12
        assert sub.loc[CIVIL, "决策公开|得分"] == Decimal("8.00") and sub.loc[CIVIL, "决策公开"] == pytest.approx(8 / 12)
        assert list(sub.index) == [JIA, YI, AUDIT, CIVIL]
        gm = sm.group_means(sm.group_subtotals(con, 2019), engine._scheme(2019), "部门").set_index("group")
        assert gm.loc["决策公开", "mean_rate"] == pytest.approx((1 + 8 / 12) / 2) and gm.loc["决策公开", "units"] == 2

        cat = sm.category_coverage(con, 2019).set_index("code")
        # 社会救助 (C27): required of both towns and of 民政局 (extra); only 甲镇 covers it
        assert (cat.loc["C27", "required"], cat.loc["C27", "covered"]) == (3, 1)
        assert cat.iloc[0]["rate"] == pytest.approx(1 / 3)
    finally:
        con.close()


def test_a_group_subtotal_missing_an_indicator_is_empty_not_partial(app_db):
    """The rule for an indicator without points (a snapshot row missing): the
    group's subtotal and 得分率 are empty and the unit is left out of the group's
    means — a partial sum (民政局 决策公开 7 of 12 = 58%) would look like a real,
    low score. The unit's other groups are unaffected."""
    con = connect(app_db)
    try:
        s = engine._scheme(2019)
        scores = engine.score_year(con, 2019)
    finally:
        con.close()
    scores.loc[scores["unit"] == CIVIL, "B2"] = None
    sub = sm.group_subtotals_from_scores(scores, s)
    row = sub.set_index("unit").loc[CIVIL]
    assert row["决策公开|得分"] is None and np.isnan(row["决策公开"])
    assert row["组织领导|得分"] == Decimal("10.00") and row["组织领导"] == 1.0   # A1–A3 at their maxima
    dept = sm.group_means(sub, s, "部门").set_index("group")
    # 决策公开 over 审计局 alone (12 of 12); 组织领导 over both departments
    assert dept.loc["决策公开", "units"] == 1 and dept.loc["决策公开", "mean_rate"] == 1.0
    assert dept.loc["决策公开", "mean_points"] == 12.0 and dept.loc["决策公开", "max"] == 12.0
    assert dept.loc["组织领导", "units"] == 2
    towns = sm.group_means(sub, s, "乡镇").set_index("group")
    assert towns.loc["决策公开", "units"] == 2


def test_trend_summary_by_hand():
    """Means over the submitted units of each scope and year; a unit without a
    rate is left out of that rate's mean; a year or type without units is empty."""
    D = Decimal
    rows = [  # unit, type, year, status, total, score_rate, proactive, coverage, request
        ("甲", "乡镇", 2019, "已审核", D("90.00"), D("0.9000"), D("0.8000"), None, None),
        ("乙", "乡镇", 2019, "未报送", None, None, None, None, None),
        ("丙", "部门", 2019, "待审核", D("70.00"), D("0.7000"), D("0.6000"), D("1.0000"), D("0.5000")),
        ("丙", "部门", 2020, "已审核", D("80.00"), D("0.8000"), None, D("0.5000"), None),
    ]
    tr = pd.DataFrame(rows, columns=sm.TREND_INPUT_COLUMNS, dtype=object)
    t = sm.trend_summary_from_trend(tr, [2019, 2020, 2021]).set_index(["scope", "year"])
    assert list(t.index.get_level_values(0).unique()) == ["全县", "乡镇", "部门"]
    c = t.loc[("全县", 2019)]
    assert (c["registered"], c["submitted"]) == (3, 2)
    assert c["mean_total"] == pytest.approx(80) and c["score_rate"] == pytest.approx(0.8)
    assert c["proactive_rate"] == pytest.approx(0.7)
    assert c["coverage_rate"] == pytest.approx(1.0) and c["request_rate"] == pytest.approx(0.5)  # 丙 alone
    town = t.loc[("乡镇", 2019)]
    assert (town["registered"], town["submitted"], town["mean_total"]) == (2, 1, pytest.approx(90))
    assert np.isnan(town["coverage_rate"])
    assert t.loc[("乡镇", 2020), "registered"] == 0 and np.isnan(t.loc[("乡镇", 2020), "mean_total"])
    assert t.loc[("全县", 2021), "registered"] == 0 and np.isnan(t.loc[("全县", 2021), "score_rate"])


def test_item_summary_by_hand():
    """Outcomes, pooled rate, months and the median of the late items (mean of the two middle ones)."""
    monthly = pd.DataFrame([  # unit, type, month, state, published, n
        ("u1", "乡镇", 1, "按时", True, 3), ("u1", "乡镇", 2, "逾期", True, 2), ("u1", "乡镇", 2, "逾期", False, 1),
        ("u2", "部门", 3, "逾期", True, 1), ("u2", "部门", 12, "未到期", False, 4)],
        columns=["unit", "unit_type", "month", "state", "published", "n"])
    late = pd.DataFrame([("u1", "乡镇", 1, 2), ("u1", "乡镇", 5, 1), ("u2", "部门", 10, 1)],
                        columns=["unit", "unit_type", "days_late", "n"])
    s = sm.item_summary_from_aggregates(monthly, late)
    assert s["counts"] == {"按时公开": 3, "逾期公开": 3, "逾期未公开": 1, "未到期未公开": 4} and s["n"] == 11
    assert s["rate"] == pytest.approx(3 / 7)          # the pending items are not counted
    assert s["late_n"] == 4 and s["late_median"] == 3.0   # 1, 1, 5, 10 → (1 + 5) / 2
    assert s["days_late"].values.tolist() == [[1, 2], [5, 1], [10, 1]]
    feb = s["monthly"][s["monthly"]["month"] == 2].set_index("state4")["n"].to_dict()
    assert feb == {"按时公开": 0, "逾期公开": 2, "逾期未公开": 1, "未到期未公开": 0}
    assert len(s["monthly"]) == 12 * 4
    town = sm.item_summary_from_aggregates(monthly, late, unit_type="乡镇")
    assert (town["n"], town["rate"], town["late_median"]) == (6, 0.5, 1.0)   # 1, 1, 5
    u2 = sm.item_summary_from_aggregates(monthly, late, unit="u2")
    assert (u2["late_n"], u2["late_median"], u2["counts"]["未到期未公开"]) == (1, 10.0, 4)
    none = sm.item_summary_from_aggregates(monthly.iloc[0:0], late.iloc[0:0])
    assert none["n"] == 0 and none["rate"] is None and np.isnan(none["late_median"]) and none["days_late"].empty
    assert list(sm.item_outcomes(["按时", "逾期", "逾期", "未到期"], [True, True, False, False])) == [
        "按时公开", "逾期公开", "逾期未公开", "未到期未公开"]


def test_cli_summary_reads_the_snapshot_the_pages_show(tmp_path, capsys):
    """--snapshot as scorecard takes it: by default the newest 公示稿/定稿 (as 总览),
    live on request; a missing 定稿 is a refusal (exit 1). 甲镇 83 and 乙镇 82 are
    published; then the reviewer gives 乙镇 A1 0 instead of its own 1 (live 81)."""
    from tests.test_closing import county, published

    path = tmp_path / "closing.duckdb"
    con = county(path)
    try:
        published(con)
        con.execute("INSERT INTO review_scores (submission_id, code, score, reason, reviewer) "
                    "SELECT id, 'A1', 0, '无方案', '考核组乙' FROM submissions WHERE unit = '乙镇'")
    finally:
        con.close()

    def run(*extra):
        out = tmp_path / "s.csv"
        code = main(["summary", "--year", "2023", "--csv", str(out), "--db", str(path), *extra])
        printed = capsys.readouterr()
        rows = {}
        if code == 0:
            with open(out, encoding="utf-8-sig", newline="") as f:
                rows = {r[0]: r[2] for r in list(csv.reader(f))[1:]}
        return code, printed, rows

    code, printed, rows = run()
    assert code == 0 and "全县汇总（公示稿" in printed.out
    assert (rows["mean_total"], rows["submitted"], rows["registered"]) == ("82.5", "2", "3")
    code, printed, published_rows = run("--snapshot", "published")
    assert published_rows == rows
    code, printed, rows = run("--snapshot", "live")
    assert code == 0 and "全县汇总（实时数据）" in printed.out and rows["mean_total"] == "82"
    code, printed, rows = run("--snapshot", "final")
    assert code == 1 and "还没有定稿" in printed.err


def test_cli_summary_unknown_year(app_db, capsys):
    with pytest.raises(SystemExit) as e:
        main(["summary", "--year", "2031", "--db", str(app_db)])
    assert e.value.code == 2
    assert "没有2031年度" in capsys.readouterr().err


def test_unit_coverage_totals_by_hand():
    sc = pd.DataFrame({"coverage_rate": [1.0, 0.5, 0.75], "covered_categories": [4, 3, 3],
                       "required_categories": [4, 6, 4]})
    t = sm.unit_coverage_totals(sc)
    assert t["units"] == 3 and t["with_gaps"] == 2
    assert t["required"] == 14 and t["covered"] == 10 and t["missing"] == 4
    assert t["mean_coverage"] == pytest.approx(0.75)  # (1 + 0.5 + 0.75) / 3
    assert t["pooled_coverage"] == pytest.approx(10 / 14)
    empty = sm.unit_coverage_totals(sc.iloc[:0])
    assert empty == {"units": 0, "mean_coverage": None, "with_gaps": 0, "required": 0, "covered": 0,
                     "missing": 0, "pooled_coverage": None}


def test_request_counts_by_hand():
    rq = pd.DataFrame({"state": ["按时", "按时", "逾期", "未到期", "按时"],
                       "answered": pd.to_datetime(["2024-01-02", "2024-01-03", None, None, "2024-02-01"])})
    c = sm.request_counts(rq)
    assert (c["n"], c["on_time"], c["late"], c["not_due"], c["unanswered"]) == (5, 3, 1, 1, 2)
    assert c["rate"] == pytest.approx(3 / 4)
    assert sm.request_counts(rq[rq["state"] == "未到期"])["rate"] is None


def test_late_day_bins_by_hand():
    h = pd.DataFrame({"days_late": [1, 5, 6, 20, 21, 60, 61, 200], "n": [2, 1, 3, 1, 4, 1, 2, 5]})
    b = sm.late_day_bins(h)
    assert b["label"].tolist() == ["1–5", "6–10", "11–20", "21–40", "41–60", "60以上"]
    assert b["n"].tolist() == [3, 3, 1, 4, 1, 7]
    assert sm.late_day_bins(h.iloc[:0])["n"].tolist() == [0] * 6


def test_fact_counts_by_hand():
    f = pd.DataFrame({"state": ["按时", "逾期", "逾期", "未到期", "按时", "逾期"],
                      "counted": [True, True, True, True, False, False]})
    assert sm.fact_counts(f) == {"按时": 1, "逾期": 2, "未到期": 1, "uncounted": 2}
    assert sm.fact_counts(f.iloc[:0]) == {"按时": 0, "逾期": 0, "未到期": 0, "uncounted": 0}


def test_queue_counts_by_hand():
    q = pd.DataFrame({"status": ["待审核", "已审核", "未报送", "待审核", "已退回", "已审核", "已审核"],
                      "late_submission": [True, False, False, np.bool_(True), False, None, True]})
    assert sm.queue_counts(q) == {"units": 7, "statuses": {"未报送": 1, "待审核": 2, "已退回": 1, "已审核": 3},
                                  "late": 3}
    assert sm.queue_counts(q.iloc[:0]) == {"units": 0, "statuses": {"未报送": 0, "待审核": 0, "已退回": 0, "已审核": 0},
                                           "late": 0}


def test_coverage_gaps_by_hand():
    nan = float("nan")
    sc = pd.DataFrame({
        "unit": ["A", "B", "C", "D", "E", "F"],
        "unit_type": ["乡镇", "部门", "乡镇", "部门", "乡镇", "部门"],
        "status": ["已审核", "待审核", "已审核", "未报送", "已退回", "未报送"],
        "required_categories": pd.array([4, 6, 4, None, 5, None], dtype="Int64"),
        "covered_categories": pd.array([4, 3, 3, None, 2, None], dtype="Int64"),
        "coverage_rate": [1.0, 0.5, 0.75, nan, 0.4, nan],
        "missing_categories": ["", "x、y、z", "w", None, "p、q、r", None]})
    rows, tot = sm.coverage_gaps(sc)
    # submitted first: 乡镇 lowest coverage first, then 部门; then the units not submitted as listed
    assert list(rows["unit"]) == ["E", "C", "A", "B", "D", "F"]
    assert list(rows["submitted"]) == [True, True, True, True, False, False]
    assert list(rows["missing"]) == [3, 1, 0, 3, pd.NA, pd.NA]
    assert rows["missing_categories"].tolist() == ["p、q、r", "w", "", "x、y、z", None, None]
    assert (tot["units"], tot["not_submitted"], tot["with_gaps"]) == (4, 2, 3)
    assert (tot["required"], tot["covered"], tot["missing"]) == (19, 12, 7)
    assert tot["mean_coverage"] == pytest.approx((0.4 + 0.75 + 1 + 0.5) / 4)
    assert tot["all_covered"] is False
    rows, tot = sm.coverage_gaps(sc, "乡镇", only_gaps=True)
    assert list(rows["unit"]) == ["E", "C"] and (tot["units"], tot["not_submitted"], tot["missing"]) == (2, 0, 4)
    rows, tot = sm.coverage_gaps(sc, "部门", only_gaps=True)
    assert list(rows["unit"]) == ["B", "D", "F"] and tot["all_covered"] is False
    # every unit submitted and nothing missing: all covered; one unit not submitted is not "all covered"
    assert sm.coverage_gaps(sc[sc["unit"] == "A"])[1]["all_covered"] is True
    assert sm.coverage_gaps(sc[sc["unit"].isin(["A", "D"])])[1]["all_covered"] is False
    rows, tot = sm.coverage_gaps(sc.iloc[:0])
    assert rows.empty and tot["units"] == 0 and tot["all_covered"] is True


def test_rate_change_by_hand():
    cur = pd.DataFrame({"unit": ["A", "B", "C", "D", "E"], "score_rate": [0.9125, 0.8, 0.7, None, 0.5]})
    prev = pd.DataFrame({"unit": ["B", "A", "C", "D"], "score_rate": [0.85, 0.9, 0.7, 0.6]})
    ch = sm.rate_change(cur, prev)
    assert list(ch["unit"]) == ["A", "B", "C", "D", "E"]             # the current scorecard's order
    assert ch["prev_rate"].tolist()[:4] == [0.9, 0.85, 0.7, 0.6] and np.isnan(ch["prev_rate"].iloc[4])
    assert ch["direction"].tolist() == [1, -1, 0, None, None]         # D: no rate this year; E: none last year
    assert ch["delta_pp"].iloc[0] == (0.9125 - 0.9) * 100              # the floats the page shows, as before
    assert ch["delta_pp"].iloc[1] == pytest.approx(-5.0) and ch["delta_pp"].iloc[2] == 0
    assert ch["delta_pp"].iloc[3:].isna().all()
    first = sm.rate_change(cur, None)
    assert first["direction"].tolist() == [None] * 5 and first["prev_rate"].isna().all()


def test_group_maxima_changed_against_the_previous_scheme_year():
    # the test schemes: 2022 lowers 组织领导 10 → 8 and raises 公开时效 10 → 12; nothing else changes
    per = []
    for y in range(2019, 2024):
        s = engine._scheme(y)
        per.append((s, pd.DataFrame({c: [] for c in ["unit_type", *[f"{g}|得分" for g in s.group_max], *s.group_max]})))
    gm = sm.group_means_over_years(per, ["全县"])
    assert set(zip(gm.loc[gm["max_changed"], "group"], gm.loc[gm["max_changed"], "year"])) == {
        ("组织领导", 2022), ("公开时效", 2022)}
    assert not gm[gm["year"] == 2019]["max_changed"].any()                 # the first year has nothing to compare
    only_2022 = sm.group_means_over_years(per[3:4], ["全县"])               # one year alone: nothing changed
    assert not only_2022["max_changed"].any()
