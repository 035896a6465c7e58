"""The analytics pages (总览、评分卡、及时性、覆盖缺口、趋势) through Streamlit's AppTest.

Every test gets a small database written straight into the tables (units,
submissions, workflow, self_scores, review_scores, ledger_items, requests), so
every number on screen is known by hand:

=========  ====  ======================================================  =====
unit       type  2019                                                    total
=========  ====  ======================================================  =====
甲镇       乡镇  self 68; 13/13 categories on time → H1 10, H2 8          96.00
乙镇       乡镇  self 50; 10 on time + 5 late (3 wd) → H1 6.67;           72.82
                 10/13 covered → H2 6.15
审计局     部门  self 72; 8 on time + 2 late (43 wd) → H1 8.00; H2 8     98.00
民政局     部门  self 70 (B2 3 → reviewer 1); 7 on time + 1 pending;       90.22
                 7/9 covered → H2 6.22; requests 1 on time + 1 late → G1
                 3.00; received 2020-01-13 → I1 1
环保局     部门  no submission (未报送)
=========  ====  ======================================================  =====

2020: only 审计局 (98.00).  2021: nobody.  2022 (H1 max 12, A1 max 2): only
审计局, 8 on time + 2 late → H1 9.60, total 97.60.
"""
from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data.access import SYSTEM
from data.users import create_user
from tests.app_fixtures import open_page
from tests.metrics_fixtures import DEPT_REQUIRED, TOWN_REQUIRED, add_unit, item, max_scores, new_db, request, submit

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
PAGES = ROOT / "dashboard" / "app_pages"

JIA, YI, AUDIT, CIVIL, ECO = "甲镇", "乙镇", "方正县审计局", "方正县民政局", "方正县生态环境局"
LEADER = {"name": "lingdao", "role": "leader", "unit": None}


# --------------------------------------------------------------------------- the database

def build_db(path: Path) -> Path:
    con = new_db(path)
    try:
        add_unit(con, JIA, "乡镇")
        add_unit(con, YI, "乡镇")
        add_unit(con, AUDIT, "部门")
        add_unit(con, CIVIL, "部门", extras=["C27"])
        add_unit(con, ECO, "部门")
        create_user(con, "lingdao", "leader", "lingdao123", actor=SYSTEM)
        create_user(con, "shenji", "unit", "shenji123", unit=AUDIT, actor=SYSTEM)

        # 甲镇: A1 2 (−2), C3 1 (−2) → self 68; every required category on time
        sid = submit(con, JIA, received="2020-01-08", scores=max_scores(2019, A1=2, C3=1, J1=0), status="已审核")
        for c in TOWN_REQUIRED:
            item(con, sid, "2019-03-01", "2019-03-05", category=c)

        # 乙镇: D1–D4 and E1–E3 at 0 (−22) → self 50; 10 of 13 covered; 5 late items (3 working days)
        zero = {c: 0 for c in ("D1", "D2", "D3", "D4", "E1", "E2", "E3")}
        sid = submit(con, YI, received="2020-01-08", scores=max_scores(2019, J1=0, **zero), status="已审核")
        for c in TOWN_REQUIRED[:10]:
            item(con, sid, "2019-03-01", "2019-03-05", category=c)
        for _ in range(5):
            item(con, sid, "2019-03-01", "2019-04-03", category="C01")

        # 审计局: everything at max; 8 required on time, 2 late (published 2019-08-30: 43 working days late)
        sid = submit(con, AUDIT, received="2020-01-08", scores=max_scores(2019, J1=0), status="已审核")
        for c in DEPT_REQUIRED:
            item(con, sid, "2019-03-01", "2019-03-05", category=c)
        item(con, sid, "2019-06-03", "2019-08-30", category="C02", title="逾期的规范性文件")
        item(con, sid, "2019-06-03", "2019-08-30", category="C02", title="又一份逾期的规范性文件")

        # 民政局: B2 3 → reviewer 1; C19 and C27 missing; one pending item; one late request; late submission
        sid = submit(con, CIVIL, received="2020-01-13", scores=max_scores(2019, B1=3, J1=0), status="已审核")
        for c in [c for c in DEPT_REQUIRED if c != "C19"]:
            item(con, sid, "2019-03-01", "2019-03-05", category=c)
        item(con, sid, "2019-12-30", None, category="C19", title="尚未公开的政策解读")
        request(con, sid, "2019-06-03", answered="2019-06-10", no="MZ-1")
        request(con, sid, "2019-06-03", answered="2019-08-01", no="MZ-2")
        con.execute("INSERT INTO review_scores (submission_id, code, score, reason, reviewer) VALUES (?, 'B2', 1, "
                    "'意见采纳情况未公开', 'shenhe')", [sid])

        # 2020: 审计局 only, same picture
        sid = submit(con, AUDIT, year=2020, received="2021-01-08", scores=max_scores(2020, J1=0), status="已审核")
        for c in DEPT_REQUIRED:
            item(con, sid, "2020-03-02", "2020-03-05", category=c)
        item(con, sid, "2020-06-01", "2020-08-31", category="C02")
        item(con, sid, "2020-06-01", "2020-08-31", category="C02")

        # 2022 (H1 max 12): 审计局 only, 8 on time + 2 late → H1 9.60
        sid = submit(con, AUDIT, year=2022, received="2023-01-06", scores=max_scores(2022, J1=0), status="待审核")
        for c in DEPT_REQUIRED:
            item(con, sid, "2022-03-01", "2022-03-04", category=c)
        item(con, sid, "2022-06-01", "2022-08-31", category="C02")
        item(con, sid, "2022-06-01", "2022-08-31", category="C02")
    finally:
        con.close()
    return path


def _clear_caches():
    from dashboard.common import close_connections

    close_connections()
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    path = build_db(tmp_path / "analytics.duckdb")
    monkeypatch.setenv("GONGKAI_DB", str(path))
    _clear_caches()
    yield path
    _clear_caches()


# --------------------------------------------------------------------------- helpers

def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.proto.delta) for m in at.get("metric")}


def text(at: AppTest) -> str:
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error"):
        parts += [str(e.value) for e in at.get(kind)]
    return "\n".join(parts)


def _decode(v):
    """Plotly ≥ 6 may send arrays as base64 typed arrays; make them lists."""
    if isinstance(v, dict) and "bdata" in v and "dtype" in v:
        arr = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        if "shape" in v:
            arr = arr.reshape([int(x) for x in str(v["shape"]).split(",")])
        return arr.tolist()
    if isinstance(v, dict):
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


def figures(at: AppTest) -> dict[str, dict]:
    """Plotly specs by element key (``overview_rank_乡镇`` …)."""
    return {p.key: _decode(json.loads(p.proto.spec)) for p in at.get("plotly_chart")}


def traces(spec: dict) -> dict[str, dict]:
    return {t.get("name"): t for t in spec["data"]}


#: a column that only this table of the pages has
TABLES = {"overview_table": "按时报送", "scorecard_table": "变化（百分点）", "scorecard_points": "二级指标",
          "timeliness_items": "信息名称", "timeliness_req_list": "申请编号", "coverage_gaps": "缺失类别",
          "trends_groups": "一级指标", "trends_table": "登记单位"}


def table(at: AppTest, key: str):
    """The table shown under ``key`` (read-only st.dataframe has no element id; find it by its columns)."""
    for d in at.get("dataframe"):
        v = d.value
        if TABLES[key] in v.columns:
            return v
    raise AssertionError(f"no table {key}")


# --------------------------------------------------------------------------- the numbers behind the fixture

def test_fixture_numbers_are_the_engines(app_db):
    """The hand-made database scores as the module docstring says (guards the expectations below)."""
    from data.store import connect
    from metrics.engine import score_year

    con = connect(app_db)
    try:
        df = score_year(con, 2019).set_index("unit")
        assert {u: df.loc[u, "total"] for u in (JIA, YI, AUDIT, CIVIL)} == {
            JIA: Decimal("96.00"), YI: Decimal("72.82"), AUDIT: Decimal("98.00"), CIVIL: Decimal("90.22")}
        assert df.loc[ECO, "status"] == "未报送"
        assert df.loc[CIVIL, "self_total"] == Decimal("92.22")
        assert df.loc[YI, "missing_categories"] == "筹资筹劳、社会救助、扶贫资金项目"
        assert df.loc[CIVIL, "missing_categories"] == "政策解读、社会救助"
        assert score_year(con, 2022).set_index("unit").loc[AUDIT, "H1"] == Decimal("9.60")
    finally:
        con.close()


# --------------------------------------------------------------------------- 总览

def test_overview_tiles_rankings_and_missing_units(app_db):
    at = open_page("overview", LEADER, year=2019)
    assert [t.value for t in at.title] == ["总览 · 2019年度"]
    m = metrics(at)
    assert m["报送率"] == ("80.0%", "")           # 4 of 5; no 2018 scheme → no delta
    assert m["按时报送率"][0] == "60.0%"          # 民政局 arrived after the deadline
    assert m["平均分"][0] == "89.26"              # (96 + 72.82 + 98 + 90.22) / 4
    assert m["平均及时率"][0] == "86.7%"          # (1 + 0.6667 + 0.8 + 1) / 4
    assert m["平均覆盖率"][0] == "88.7%"          # (1 + 10/13 + 1 + 7/9) / 4
    grades = {k.split("·")[-1].strip(): v[0] for k, v in m.items() if k.startswith("等次")}
    assert grades == {":green[优秀]": "3 个", ":blue[良好]": "0 个", ":orange[合格]": "1 个", ":red[不合格]": "0 个"}

    figs = figures(at)
    towns = traces(figs["overview_rank_乡镇"])
    assert towns["优秀"]["y"] == [JIA] and towns["优秀"]["x"] == [96.0]
    assert towns["合格"]["y"] == [YI] and towns["合格"]["x"] == [72.82]
    assert towns["优秀"]["marker"]["color"] == "#1a7f37" and towns["合格"]["marker"]["color"] == "#e6a700"
    depts = traces(figs["overview_rank_部门"])
    assert depts["优秀"]["y"] == [AUDIT, CIVIL] and depts["优秀"]["x"] == [98.0, 90.22]
    assert set(depts) == {"优秀"}
    # rank 1 at the top
    assert figs["overview_rank_部门"]["layout"]["yaxis"]["categoryarray"] == [CIVIL, AUDIT]
    # the grade lines 60 / 80 / 90 are ticks; 100 is not (10 points from 90: on a phone the labels touch)
    assert figs["overview_rank_部门"]["layout"]["xaxis"]["tickvals"] == [0, 20, 40, 60, 80, 90]

    assert figs["overview_rank_部门"]["layout"]["title"]["text"] == "部门排名（共 2 个）"
    assert f"部门未报送（1 个）：** {ECO}" in text(at)
    assert "乡镇全部报送" in text(at)
    # the counts are metrics.summary.county_summary's, the figures of `python -m metrics summary`
    from data.store import connect
    from metrics.summary import county_summary
    con = connect(app_db)
    try:
        d = county_summary(con, 2019, "部门", which=None)
    finally:
        con.close()
    assert (d["submitted"], d["not_submitted"]) == (2, 1)
    tbl = table(at, "overview_table")
    row = tbl[tbl["单位"] == CIVIL].iloc[0]
    assert (row["排名"], row["总分"], row["等次"], row["按时报送"]) == (2, 90.22, "优秀", "否")
    labels = {b.label for b in at.get("download_button")}
    assert {"下载考核结果工作簿（Excel，可打印）", "下载排名明细（CSV）"} <= labels


def test_overview_delta_against_previous_year(app_db):
    at = open_page("overview", LEADER, year=2020)
    m = metrics(at)
    assert m["报送率"] == ("20.0%", "-60.0 个百分点")
    assert m["平均分"] == ("98.00", "+8.74 分")
    assert m["等次 · :orange[合格]"] == ("0 个", "-1 个")
    assert m["等次 · :red[不合格]"] == ("0 个", "持平")


def test_overview_empty_year(app_db):
    at = open_page("overview", LEADER, year=2021)
    assert "2021年度还没有单位报送自检自评材料" in text(at)
    assert not at.get("metric") and not at.get("plotly_chart")


def test_overview_marks_a_changed_scheme_and_provisional_scores(app_db, monkeypatch):
    import metrics.engine as engine

    monkeypatch.setattr(engine, "missing_calendar_years", lambda con, scheme: [2023])
    at = open_page("overview", LEADER, year=2022)
    t = text(at)
    assert "2022年考核指标体系较2021年有调整" in t and "H1 分值 2021年 10 → 2022年 12" in t
    assert "本年度分数为暂定结果" in t and "缺少2023年的官方节假日安排" in t


# --------------------------------------------------------------------------- 评分卡

def test_scorecard_table_bands_and_trend(app_db):
    at = open_page("scorecard", LEADER, year=2019)
    tbl = table(at, "scorecard_table").set_index("单位")
    assert tbl.loc[AUDIT, "公开时效（10.00分）"] == pytest.approx(0.8)
    assert tbl.loc[AUDIT, "公开覆盖（8.00分）"] == pytest.approx(1.0)
    assert tbl.loc[YI, "管理公开（14.00分）"] == 0.0 and tbl.loc[YI, "结果公开（8.00分）"] == 0.0
    assert tbl.loc[CIVIL, "决策公开（12.00分）"] == pytest.approx(8 / 12)   # B1 3 + B2 (reviewed) 1 + 2 + 2
    assert tbl.loc[CIVIL, "公开覆盖（8.00分）"] == pytest.approx(6.22 / 8)
    assert (tbl.loc[YI, "总分"], tbl.loc[YI, "等次"], tbl.loc[YI, "排名"]) == (72.82, "合格", 2)
    assert tbl.loc[ECO, "状态"] == "未报送"
    assert tbl.loc[AUDIT, "较上年"] == "—"          # 2019 is the first scheme year
    # the band legend
    assert "≥ 90%" in text(at) and "< 60%" in text(at)
    # type filter
    at.radio(key="scorecard_type").set_value("乡镇").run()
    assert set(table(at, "scorecard_table")["单位"]) == {JIA, YI}


def test_scorecard_heatmap_by_group_and_drill_down_to_indicators(app_db):
    at = open_page("scorecard", LEADER, year=2019)
    hm = figures(at)["scorecard_heatmap"]["data"][0]
    groups, rows = hm["x"], hm["y"]
    # rows: towns then departments, each by rank, with the rank before the name; 未报送 is not a row
    assert rows == ["1. 甲镇", "2. 乙镇", "1. 审计局", "2. 民政局"]
    assert hm["z"][rows.index("1. 审计局")][groups.index("公开时效")] == pytest.approx(0.8)
    assert hm["text"][rows.index("2. 民政局")][groups.index("决策公开")] == "67%"   # 8 / 12
    assert "得分 8.00 / 满分 12.00" in hm["customdata"][rows.index("2. 民政局")][groups.index("决策公开")]
    assert "未报送（无得分、不排名）：" + ECO in text(at)
    # drill-down: 决策公开's indicators, points in the cells
    at.selectbox(key="scorecard_group").set_value("决策公开").run()
    d = figures(at)["scorecard_drill"]["data"][0]
    col = [x.split()[0] for x in d["x"]].index("B2")
    assert d["text"][d["y"].index("2. 民政局")][col] == "1.00"          # reviewer's 1 of 3
    assert d["z"][d["y"].index("2. 民政局")][col] == pytest.approx(1 / 3)


def test_scorecard_drilldown_scores_against_county_average(app_db):
    at = open_page("scorecard", LEADER, year=2019)
    at.selectbox(key="scorecard_unit").set_value(CIVIL).run()
    assert not at.exception
    m = metrics(at)
    assert m["最终得分"][0] == "90.22" and m["排名"][0] == "第 2 名" and m["等次"][0] == "优秀"
    rank = next(x for x in at.get("metric") if x.label == "排名")
    assert rank.proto.help == "在 2 个已报送的部门中"          # metrics.summary: 审计局 and 民政局
    fig = traces(figures(at)["scorecard_unit_chart"])
    groups = fig[CIVIL]["x"]
    assert fig[CIVIL]["y"][groups.index("公开覆盖")] == pytest.approx(0.7775)
    # county average of 公开覆盖: (8 + 6.15 + 8 + 6.22) / 4 / 8
    assert fig["全县平均"]["y"][groups.index("公开覆盖")] == pytest.approx(round((8 + 6.15 + 8 + 6.22) / 32, 4))
    pts = table(at, "scorecard_points").set_index("指标")
    assert (pts.loc["B2", "自评分"], pts.loc["B2", "审核分"], pts.loc["B2", "最终得分"]) == (3.0, 1.0, 1.0)
    assert pts.loc["B2", "审核意见"] == "意见采纳情况未公开"
    assert pts.loc["G1", "方式"] == "自动计算" and pts.loc["G1", "最终得分"] == 3.0
    assert pts.loc["I1", "最终得分"] == 1.0
    assert "材料逾期报送" in text(at)
    assert {"下载该单位评分卡（Excel）", "下载逐项得分（CSV）"} <= {b.label for b in at.get("download_button")}


def test_scorecard_change_against_the_previous_year(app_db):
    # 2020: only 审计局 submitted, 98.00 both years → "→", 0.0; the others have no 2020 得分率 → "—"
    at = open_page("scorecard", LEADER, year=2020)
    t = table(at, "scorecard_table").set_index("单位")
    assert t.loc[AUDIT, "较2019年"] == "→" and t.loc[AUDIT, "变化（百分点）"] == 0.0
    assert (t.loc[CIVIL, "较2019年"], t.loc[JIA, "较2019年"]) == ("—", "—") and np.isnan(t.loc[CIVIL, "变化（百分点）"])
    # 2022 against 2021 (nobody submitted in 2021): no comparison
    t = table(open_page("scorecard", LEADER, year=2022), "scorecard_table").set_index("单位")
    assert t.loc[AUDIT, "较2021年"] == "—"


def test_scorecard_unit_without_requests_and_scheme_maxima_2022(app_db):
    at = open_page("scorecard", LEADER, year=2022)
    tbl = table(at, "scorecard_table").set_index("单位")
    assert "公开时效（12.00分）" in tbl.columns and "组织领导（8.00分）" in tbl.columns
    assert tbl.loc[AUDIT, "公开时效（12.00分）"] == pytest.approx(0.8)         # 9.60 / 12
    assert tbl.loc[AUDIT, "总分"] == 97.6
    assert tbl.loc[AUDIT, "较2021年"] == "—"        # nothing in 2021
    assert "没有计入的依申请公开申请" in text(at)    # 审计局 had no requests: G1 at full marks
    pts = table(at, "scorecard_points").set_index("指标")
    assert (pts.loc["H1", "满分"], pts.loc["H1", "最终得分"]) == (12.0, 9.6)


def test_scorecard_trend_arrow(app_db):
    at = open_page("scorecard", LEADER, year=2020)
    tbl = table(at, "scorecard_table").set_index("单位")
    assert tbl.loc[AUDIT, "较2019年"] == "→" and tbl.loc[AUDIT, "变化（百分点）"] == 0.0


# --------------------------------------------------------------------------- 及时性

def test_timeliness_rates_histogram_months_and_requests(app_db):
    at = open_page("timeliness", LEADER, year=2019)
    m = metrics(at)
    assert m["计入事项"][0] == "46 条" and m["按时公开"][0] == "38 条"
    assert m["逾期"][0] == "7 条" and m["未到期"][0] == "1 条"
    assert m["总体及时率"][0] == "84.4%"            # 38 / 45
    figs = figures(at)
    bars = figs["timeliness_rates"]["data"][0]
    assert bars["x"] == [CIVIL, JIA, AUDIT, YI] and bars["y"] == [1.0, 1.0, 0.8, 0.6667]
    avg = [s for s in figs["timeliness_rates"]["layout"]["shapes"] if s.get("type") == "line"][0]
    assert avg["y0"] == pytest.approx(round((1 + 1 + 0.8 + 0.6667) / 4, 4))   # 未报送 not in the average
    missing = traces(figs["timeliness_rates"])["未报送"]
    assert missing["x"] == [ECO] and missing["text"] == ["未报送"]
    assert "共 5 个单位，其中未报送 1 个：" + ECO in text(at)
    hist = figs["timeliness_hist"]["data"][0]
    assert dict(zip(hist["x"], hist["y"])) == {"1–5": 5, "6–10": 0, "11–20": 0, "21–40": 0, "41–60": 2, "60以上": 0}
    months = traces(figs["timeliness_monthly"])
    assert months["按时公开"]["y"][2] == 38 and months["逾期公开"]["y"][2] == 5
    assert months["逾期公开"]["y"][5] == 2 and months["未到期未公开"]["y"][11] == 1
    assert m["计入申请"][0] == "2 件" and m["按期答复率"][0] == "50.0%"
    req = traces(figs["timeliness_requests"])
    assert req["按时答复"]["y"] == [4]                    # 6-03 → 6-10: 6-07 is 端午节
    assert req["逾期答复"]["y"][0] > 20
    items = table(at, "timeliness_items")
    assert len(items) == 8                                   # 7 late + 1 pending
    assert set(items[items["状态"] == "逾期公开"]["逾期工作日"]) == {3, 43}
    assert items[items["状态"] == "未到期未公开"]["信息名称"].tolist() == ["尚未公开的政策解读"]
    assert table(at, "timeliness_req_list")["申请编号"].tolist() == ["MZ-2"]


def test_timeliness_unit_without_requests_and_without_late_items(app_db):
    at = open_page("timeliness", LEADER, year=2019)
    at.selectbox(key="timeliness_unit").set_value(JIA).run()
    assert not at.exception
    t = text(at)
    assert "甲镇2019年度没有收到依申请公开申请" in t
    assert "甲镇没有逾期事项，全部按时公开" in t
    assert metrics(at)["及时率"][0] == "100.0%"


# --------------------------------------------------------------------------- 覆盖缺口

def test_coverage_heatmap_category_rates_and_gap_list(app_db):
    at = open_page("coverage", LEADER, year=2019)
    figs = figures(at)
    hm = figs["coverage_heatmap"]["data"][0]
    x, y, z = hm["x"], hm["y"], hm["z"]
    row = z[y.index(YI)]
    assert [x[i] for i, v in enumerate(row) if v == 1] == ["筹资筹劳", "社会救助", "扶贫资金项目"]
    assert z[y.index(JIA)][x.index("社会救助")] == 2            # covered
    assert z[y.index(AUDIT)][x.index("社会救助")] == 0          # not required for 审计局
    assert z[y.index(CIVIL)][x.index("社会救助")] == 1          # a registry extra, missing
    assert y[:2] == [YI, JIA]                                   # 乡镇 first, worst coverage first
    cat = figs["coverage_by_category"]["data"][0]
    rates = dict(zip(cat["y"], cat["x"]))
    assert rates["社会救助"] == pytest.approx(round(1 / 3, 4)) and rates["机构职能"] == 1.0
    gaps = table(at, "coverage_gaps").set_index("单位")
    assert gaps.loc[YI, "缺失类别"] == "筹资筹劳、社会救助、扶贫资金项目"
    assert gaps.loc[CIVIL, "缺失类别"] == "政策解读、社会救助" and gaps.loc[CIVIL, "覆盖率"] == "77.8%"
    assert metrics(at)["缺失类别合计"][0] == "5 项"
    # the unit that has not submitted: counted among the units, a grey 未报送 row, not in the averages
    assert metrics(at)["单位数"][0] == "5 个"
    assert y[-1] == ECO and set(z[-1]) == {-1}
    assert gaps.loc[ECO, "状态"] == "未报送" and gaps.loc[ECO, "覆盖率"] == "—"
    assert "未报送（1 个）：" + ECO in text(at)
    # the gap list and the tiles are metrics.summary.coverage_gaps of the results shown
    from data.store import connect
    from metrics import closing
    from metrics.summary import coverage_gaps
    con = connect(app_db)
    try:
        rows, tot = coverage_gaps(closing.results(con, 2019))
    finally:
        con.close()
    shown = table(at, "coverage_gaps")
    assert list(shown["单位"]) == list(rows["unit"])
    assert list(shown["缺失数"].astype("Int64")) == list(rows["missing"])
    assert metrics(at)["缺失类别合计"][0] == f"{tot['missing']} 项"
    assert metrics(at)["单位数"][0] == f"{tot['units'] + tot['not_submitted']} 个"
    assert not tot["all_covered"] and "所选单位均已覆盖全部必公开类别" not in text(at)
    at.checkbox(key="coverage_only_gaps").check().run()
    assert set(table(at, "coverage_gaps")["单位"]) == {YI, CIVIL, ECO}


# --------------------------------------------------------------------------- 趋势

def test_trends_score_rate_marks_the_changed_scheme(app_db):
    at = open_page("trends", LEADER, year=2022, trends_units=[AUDIT])
    figs = figures(at)
    score = traces(figs["trends_score"])
    assert score["全县平均"]["x"] == [2019, 2020, 2021, 2022, 2023]
    assert score["全县平均"]["y"] == [0.8926, 0.98, None, 0.976, None]
    assert score["部门平均"]["y"][0] == pytest.approx(round((0.98 + 0.9022) / 2, 4))
    assert score[AUDIT]["y"] == [0.98, 0.98, None, 0.976, None]
    vlines = [s for s in figs["trends_score"]["layout"]["shapes"] if s.get("x0") == 2022 and s.get("x1") == 2022]
    assert vlines, "the 2022 scheme change is marked"
    notes = [a for a in figs["trends_score"]["layout"]["annotations"] if "指标体系调整" in a.get("text", "")]
    assert notes and "H1 分值 2021年 10 → 2022年 12" in notes[0]["hovertext"]
    assert "2022年：A1 分值 2021年 4 → 2022年 2；H1 分值 2021年 10 → 2022年 12" in text(at)
    groups = table(at, "trends_groups").set_index("一级指标")
    assert groups.loc["公开时效", "2022年"] == "80.0%（满分12） ★"
    assert groups.loc["公开时效", "2019年"].endswith("（满分10）")
    assert groups.loc["组织领导", "2022年"].startswith("100.0%（满分8）")
    # ★ exactly where metrics.summary marks a changed maximum (2022: 组织领导 10 → 8, 公开时效 10 → 12)
    starred = {(g, int(c[:4])) for g in groups.index for c in groups.columns if str(groups.loc[g, c]).endswith("★")}
    assert starred == {("组织领导", 2022), ("公开时效", 2022)}
    summary = table(at, "trends_table").set_index("年度")
    assert summary.loc[2019, "报送单位"] == 4 and summary.loc[2021, "平均分"] == "—"


def test_trends_without_any_submission(tmp_path, monkeypatch):
    con = new_db(tmp_path / "empty.duckdb")
    add_unit(con, JIA, "乡镇")
    create_user(con, "lingdao", "leader", "lingdao123", actor=SYSTEM)
    con.close()
    monkeypatch.setenv("GONGKAI_DB", str(tmp_path / "empty.duckdb"))
    _clear_caches()
    try:
        at = open_page("trends", LEADER, year=2019)
        assert "还没有任何年度的报送数据" in text(at)
        for page in ("scorecard", "timeliness", "coverage"):
            assert "2019年度还没有单位报送" in text(open_page(page, LEADER, year=2019))
    finally:
        _clear_caches()


# --------------------------------------------------------------------------- access, exports

def test_pages_refuse_a_unit_account(app_db):
    for page in ("overview", "scorecard", "timeliness", "coverage", "trends"):
        at = AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=60)
        at.session_state["auth_user"] = {"name": "shenji", "role": "unit", "unit": AUDIT}
        at.run()
        assert [e.value for e in at.error] == ["您没有访问此页面的权限。"]


def test_score_ticks_keep_grade_lines_and_drop_round_numbers_beside_them():
    from dashboard.viz import score_ticks

    assert score_ticks([60, 80, 90]) == [0, 20, 40, 60, 80, 90]
    assert score_ticks([60, 75, 85]) == [0, 20, 40, 60, 75, 85, 100]   # 100 is 15 points from 85
    assert score_ticks([]) == [0, 20, 40, 60, 80, 100]
    assert score_ticks([50], top=90) == [0, 20, 50, 80, 90]            # 40 and 60 are 10 from the line


def test_csv_has_bom_and_xlsx_opens():
    import io

    import openpyxl
    import pandas as pd

    from dashboard.viz import csv_bytes, xlsx_bytes

    df = pd.DataFrame({"单位": [JIA], "覆盖率": ["100.0%"]})
    raw = csv_bytes(df)
    assert raw.startswith(b"\xef\xbb\xbf") and raw.decode("utf-8-sig").splitlines()[0] == "单位,覆盖率"
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(df))).active
    assert [c.value for c in ws[2]] == [JIA, "100.0%"]


def test_trends_marks_provisional_years(app_db, monkeypatch):
    import metrics.engine as engine

    monkeypatch.setattr(engine, "missing_calendar_years",
                        lambda con, scheme: [scheme.year + 1] if scheme.year == 2022 else [])
    at = open_page("trends", LEADER, year=2022)
    assert "以下年度缺少官方节假日安排，分数为暂定结果：2022年" in text(at)


# --------------------------------------------------------------------------- found by the UI walk-through

def test_rates_on_screen_round_half_up(app_db):
    """13 on time of 16 is 81.25 %: the methodology rounds half up (81.3 %), binary floats with
    Python's formatting show 81.2 %."""
    from data.store import connect

    con = connect(app_db)
    try:
        sid = submit(con, JIA, year=2020, received="2021-01-08", scores=max_scores(2020, J1=0), status="已审核")
        for c in TOWN_REQUIRED:                       # 13 on time
            item(con, sid, "2020-03-02", "2020-03-05", category=c)
        for _ in range(3):                            # 3 late
            item(con, sid, "2020-06-01", "2020-08-31", category="C01")
    finally:
        con.close()
    _clear_caches()
    at = open_page("timeliness", LEADER, year=2020, timeliness_unit=JIA)
    assert metrics(at)["及时率"][0] == "81.3%"
    sc = open_page("scorecard", LEADER, year=2020)
    sc.selectbox(key="scorecard_unit").set_value(JIA).run()
    assert not sc.exception
    from dashboard.viz import pct, pts
    assert (pct(0.8125), pct(0.805, 0), pts(96.125), pts(None)) == ("81.3%", "81%", "96.13", "—")


def test_chart_toolbar_speaks_chinese(app_db):
    at = open_page("overview", LEADER, year=2019)
    charts = at.get("plotly_chart")
    assert charts
    for p in charts:
        cfg = json.loads(p.proto.config)
        assert cfg["locale"] == "zh-CN"
        words = cfg["locales"]["zh-CN"]["dictionary"]
        for english in ("Zoom", "Pan", "Download plot as a PNG", "Reset axes", "Autoscale", "Zoom in", "Zoom out"):
            assert words[english] and not words[english].isascii(), english
        assert not cfg["toImageButtonOptions"]["filename"].startswith("newplot")


def test_scorecard_shows_total_and_grade_next_to_the_unit(app_db):
    """With ten 一级指标 columns, 总分 and 等次 at the far right were off screen on a laptop."""
    at = open_page("scorecard", LEADER, year=2019)
    tbl = table(at, "scorecard_table")
    assert list(tbl.columns)[:4] == ["排名", "单位", "总分", "等次"]


def test_timeliness_explains_pooled_rate_against_the_average_of_units(app_db):
    at = open_page("timeliness", LEADER, year=2019)
    assert metrics(at)["总体及时率"][0] == "84.4%"
    assert "各单位及时率的平均值" in text(at)


def test_request_exception_list_puts_overdue_before_pending(app_db):
    from data.store import connect

    con = connect(app_db)
    try:
        sid = con.execute("SELECT id FROM submissions WHERE unit = ? AND year = 2019", [CIVIL]).fetchone()[0]
        request(con, sid, "2019-12-30", no="MZ-3")          # unanswered, deadline after the cut-off: pending
    finally:
        con.close()
    _clear_caches()
    at = open_page("timeliness", LEADER, year=2019)
    lst = table(at, "timeliness_req_list")
    assert lst["申请编号"].tolist() == ["MZ-2", "MZ-3"] and lst["状态"].tolist() == ["逾期", "未到期"]


def test_timeliness_bar_labels_drop_the_shared_county_prefix(app_db):
    """Thirty rotated names like 方正县人力资源和社会保障局 ran into each other on a laptop screen."""
    at = open_page("timeliness", LEADER, year=2019)
    spec = figures(at)["timeliness_rates"]
    assert spec["data"][0]["x"] == [CIVIL, JIA, AUDIT, YI]          # hover and data keep the full names
    assert spec["layout"]["xaxis"]["ticktext"] == ["民政局", "甲镇", "审计局", "乙镇", "生态环境局"]  # 未报送 last
    assert "省略了开头的“方正县”" in text(at)


def test_a_province_sized_scope_lists_items_per_unit_and_downloads_the_rest(app_db, monkeypatch):
    """More submitted units than viz.LIST_MAX_UNITS: the whole item list is not read for the page
    (a download made on click instead); choosing a unit lists that unit's items alone.
    More rows than viz.STYLE_MAX_ROWS: the gap list is shown without row colours, still complete."""
    from dashboard import queries, viz

    monkeypatch.setattr(viz, "LIST_MAX_UNITS", 2)
    monkeypatch.setattr(viz, "STYLE_MAX_ROWS", 2)
    read_all = []
    monkeypatch.setattr(queries, "items", lambda year: read_all.append(year) or pytest.fail("whole list read"))
    at = open_page("timeliness", LEADER, year=2019)
    t = text(at)
    assert "逾期和未到期事项 8 条，不在页面上逐条列出" in t and not read_all
    assert not [d for d in at.get("dataframe") if "信息名称" in d.value.columns]
    assert "下载本表（CSV）" in {b.label for b in at.get("download_button")}
    at.selectbox(key="timeliness_unit").set_value(YI).run()
    assert not at.exception
    items = table(at, "timeliness_items")
    assert set(items["单位"]) == {YI} and len(items) > 0 and not read_all
    at = open_page("coverage", LEADER, year=2019)
    gaps = table(at, "coverage_gaps").set_index("单位")
    assert gaps.loc[YI, "缺失类别"] == "筹资筹劳、社会救助、扶贫资金项目" and gaps.loc[ECO, "状态"] == "未报送"
    assert "共 5 个单位，未报送的单位排在最后" in text(at)
