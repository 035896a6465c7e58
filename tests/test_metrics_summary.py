"""County figures (metrics.summary) and ``python -m metrics summary``: the CLI
prints and exports the very numbers the 总览 page shows."""
from __future__ import annotations

import csv
from decimal import ROUND_HALF_UP, Decimal

import pytest

from data.store import connect
from metrics import engine
from metrics import summary as sm
from metrics.__main__ import main
from tests.test_app_analytics import AUDIT, CIVIL, JIA, YI, app_db, metrics, open_page  # noqa: F401 - fixture


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
    m = metrics(open_page("overview", year))
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
        assert (s["registered"], s["submitted"], s["on_time"]) == (5, 4, 3)
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


def test_cli_summary_unknown_year(app_db, capsys):
    with pytest.raises(SystemExit) as e:
        main(["summary", "--year", "2031", "--db", str(app_db)])
    assert e.value.code == 2
    assert "没有2031年度" in capsys.readouterr().err
