"""年报勾稽 on the pages (AppTest): the county page (units × rules, drill-down,
share of consistent reports year over year), the 年报勾稽 tab of 单位审核 and
the unit's own view on 上报自评.

Database: 2019 — 审计局 with a T1 off by one (4 findings), 方正镇 consistent,
会发镇 without the sheet, the two others 未报送; 2020 — 审计局 consistent.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data.access import SYSTEM
from data.ingest import ingest_bytes
from data.registry import load_units, parse_registry
from data.store import connect
from data.users import create_user
from tests import wbfactory as wf
from tests.app_fixtures import open_page
from tests.conftest import REGISTRY_TEXT

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
AUDIT, TOWN, HUIFA = wf.UNIT, wf.TOWN, "会发镇"
REQS = [["SQ-001", "自然人", "2019-06-03", "", "否", "2019-06-20", "予以公开", ""],
        ["SQ-002", "商业企业", "2019-07-01", "", "否", "2019-07-10", "不予公开", "纠正"]]


def good():
    v = wf.annual_values(new={"natural": 1, "business": 1}, r_open={"natural": 1}, r_deny_1={"business": 1})
    v.update({("rv_review", "corrected"): 1, ("rv_review", "total"): 1})
    return v


def bad():
    v = good()
    v[("new", "natural")], v[("new", "total")] = 2, 3
    return v


def _wb(unit, typ, values, year=2019, reqs=REQS):
    sheets = wf.valid_sheets(unit=unit, unit_type=typ, year=year, date=f"{year + 1}-01-05")
    sheets["依申请公开台账"] = wf.requests_sheet([[*r[:2], r[2].replace("2019", str(year)), r[3], r[4],
                                              r[5].replace("2019", str(year)), *r[6:]] for r in reqs])
    if values is not None:
        sheets["年报数据"] = wf.annual_sheet(values)
    return wf.build(sheets)


def build_db(path: Path) -> Path:
    con = connect(path)
    try:
        load_units(con, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
        create_user(con, "lingdao", "leader", "lingdao123", actor=SYSTEM)
        create_user(con, "shenhe", "reviewer", "shenhe123", actor=SYSTEM)
        create_user(con, "shenji", "unit", "shenji123", unit=AUDIT, actor=SYSTEM)
        for unit, typ, vals, year in ((AUDIT, "部门", bad(), 2019), (TOWN, "乡镇", good(), 2019),
                                      (HUIFA, "乡镇", None, 2019), (AUDIT, "部门", good(), 2020)):
            r = ingest_bytes(con, f"{unit}{year}.xlsx", _wb(unit, typ, vals, year), received=dt.date(year + 1, 1, 8))
            assert r.outcome == "accepted", r.report.rows()
    finally:
        con.close()
    return path


def _clear():
    from dashboard.common import close_connections
    close_connections()
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(scope="module")
def db_file(tmp_path_factory):
    return build_db(tmp_path_factory.mktemp("rec") / "rec.duckdb")


@pytest.fixture
def app_db(db_file, monkeypatch):
    monkeypatch.setenv("GONGKAI_DB", str(db_file))
    _clear()
    yield db_file
    _clear()


LEADER = {"name": "lingdao", "role": "leader", "unit": None}
REVIEWER = {"name": "shenhe", "role": "reviewer", "unit": None}
UNIT_USER = {"name": "shenji", "role": "unit", "unit": AUDIT}


def frames(at):
    return [d.value for d in at.dataframe]


def frame_with(at, column):
    for v in frames(at):
        if column in getattr(v, "columns", []):
            return v
    raise AssertionError(f"no table with {column}")


def test_county_page_matrix_drilldown_and_share(app_db):
    at = open_page("reconcile", LEADER)
    assert at.title[0].value == "年报勾稽"
    m = {x.label: x.value for x in at.metric}
    assert m == {"填报年报数据的单位": "2 个", "勾稽一致": "1 个", "有问题": "1 个", "一致率": "50.0%"}
    from metrics.reconcile import year_counts
    con = connect(app_db)
    try:  # the tiles are metrics.reconcile.year_counts, the figures the CLI prints
        n = year_counts(con, 2019)
    finally:
        con.close()
    assert m == {"填报年报数据的单位": f"{n['filled']} 个", "勾稽一致": f"{n['consistent']} 个",
                 "有问题": f"{n['inconsistent']} 个", "一致率": f"{n['share']:.1%}"}
    mat = frame_with(at, "勾稽结果")
    mat = mat.data if hasattr(mat, "data") else mat
    row = mat.set_index("单位")
    assert row.loc[AUDIT, "勾稽结果"] == "有问题" and row.loc[AUDIT, "T1"] == "未通过" and row.loc[AUDIT, "L1"] == "未通过"
    assert row.loc[AUDIT, "T2"] == "通过" and row.loc[AUDIT, "问题数"] == 4
    assert row.loc[TOWN, "勾稽结果"] == "一致" and row.loc[TOWN, "L4"] == "通过"
    assert row.loc[HUIFA, "T1"] == "未填报" and row.loc["方正县民政局", "T1"] == "未报送"
    # drill-down: the unit with problems comes first, with its messages (both numbers, the cell)
    assert at.selectbox(key="reconcile_unit").value == AUDIT
    msgs = frame_with(at, "对照数")
    assert "自然人列：“本年新收+上年结转”（2）应等于“办理结果总计+结转下年度”（1）" in list(msgs["说明"])
    assert any(str(x).startswith("年报数据!D") for x in msgs["位置"])
    # the consistent unit: no findings, a success note
    at.selectbox(key="reconcile_unit").set_value(TOWN).run()
    assert not at.exception
    assert any("全部通过" in s.value for s in at.success)
    # year over year: 2019 50 %, 2020 100 %
    import json
    spec = json.loads(next(p for p in at.get("plotly_chart") if p.key == "reconcile_share").proto.spec)
    assert spec["data"][0]["x"] == ["2019年度", "2020年度"]
    assert spec["data"][0]["text"] == ["50%（1/2）", "100%（1/1）"]


def test_county_page_filters_and_reviewer(app_db):
    at = open_page("reconcile", REVIEWER, reconcile_only="有问题的")
    mat = frame_with(at, "勾稽结果")
    mat = mat.data if hasattr(mat, "data") else mat
    assert list(mat["单位"]) == [AUDIT]
    at = open_page("reconcile", REVIEWER, reconcile_type="乡镇", reconcile_only="未填报的")
    mat = frame_with(at, "勾稽结果")
    mat = mat.data if hasattr(mat, "data") else mat
    assert list(mat["单位"]) == [HUIFA]


def test_county_page_year_without_reports(app_db):
    at = open_page("reconcile", LEADER, year=2021)
    assert any("还没有单位填报年报数据" in i.value for i in at.info)


def test_county_page_not_for_unit_accounts(app_db):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["auth_user"] = UNIT_USER
    at.session_state["year"] = 2019
    at.run()
    with pytest.raises(ValueError):
        at.switch_page("app_pages/reconcile.py")


def test_review_unit_tab(app_db):
    at = open_page("review_unit", REVIEWER, review_unit=AUDIT)
    assert "年报勾稽" in [t.label for t in at.tabs]
    msgs = frame_with(at, "对照数")
    assert len(msgs) == 4 and set(msgs["规则"].str[:2]) == {"T1", "L1"}
    t3 = frame_with(at, "自然人")
    assert list(t3.loc[t3["项目"] == "一、本年新收政府信息公开申请数量", "总计"]) == [3]


def test_unit_sees_its_findings_on_upload_page(app_db):
    at = open_page("upload", UNIT_USER)
    assert any(s.value == "⑤ 年报勾稽" for s in at.subheader)
    assert any("4 处不一致" in w.value for w in at.warning)
    msgs = frame_with(at, "对照数")
    assert "年报数据!D" in " ".join(msgs["位置"])
