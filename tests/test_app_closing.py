"""Closing a year in the dashboard (AppTest): 年度流程, 我的得分 (the unit's
view with reasons and its appeal), 申诉处理, 待办 on the landing pages, the
snapshot marker on the analytics pages and the 通报 download."""
from __future__ import annotations

import datetime as dt

import pytest

from data import closing as dc
from data.review import approve, current_submission, set_penalties, set_review_score, snapshot
from data.store import connect
from metrics import closing as mc
from tests import app_fixtures as fx
from tests.app_fixtures import app_db  # noqa: F401 - the fixture
from tests.test_app_write import button, new_app, open_page

TODAY = dt.date.today()
ADMIN = fx.user("admin")
REVIEWER = fx.user("shenhe")


def table(at, column: str, value=None):
    """The first dataframe of the page with ``column`` (and ``value`` in it, when given)."""
    for d in at.dataframe:
        df = d.value
        if column in df.columns and (value is None or value in set(df[column])):
            return df
    raise AssertionError(f"no table with {column!r}: {[list(d.value.columns) for d in at.dataframe]}")


def _review(con):
    sub = current_submission(con, fx.AUDIT, 2019)
    set_review_score(con, sub.id, "A2", "1", "工作方案未见印发文件", reviewer="shenhe",
                     seen=snapshot(con, fx.AUDIT, 2019))
    set_penalties(con, fx.AUDIT, 2019, 1, False, "市政府办公室通报批评（方政办〔2019〕12号）", actor="shenhe",
                  seen=snapshot(con, fx.AUDIT, 2019))
    approve(con, fx.AUDIT, 2019, actor="shenhe", seen=snapshot(con, fx.AUDIT, 2019))
    approve(con, fx.TOWN, 2019, actor="shenhe", seen=snapshot(con, fx.TOWN, 2019))


@pytest.fixture
def published_db(app_db):
    con = connect(app_db)
    _review(con)
    mc.start_review(con, 2019, REVIEWER, today=TODAY)
    mc.publish(con, 2019, REVIEWER, today=TODAY)
    con.close()
    return app_db


def test_year_close_page_moves_the_stage(app_db):
    con = connect(app_db)
    _review(con)
    con.close()
    at = open_page(new_app("shenhe"), "year_close")
    assert "【填报】" in " ".join(m.value for m in at.markdown)
    button(at, "结束填报，开始审核").click()
    at.run()
    assert not at.exception
    assert "【审核】" in " ".join(m.value for m in at.markdown)
    # 催报名单: 民政局 and 生态环境局 have not submitted
    chase = table(at, "单位名称")
    assert set(chase["单位名称"]) == {"会发镇", "方正县民政局", "方正县生态环境局"}
    button(at, "发布考核结果（进入公示）").click()
    at.run()
    assert not at.exception
    assert "【公示】" in " ".join(m.value for m in at.markdown)
    assert any("已发布" in s.value for s in at.success)
    con = connect(app_db)
    assert dc.stage_of(con, 2019) == "公示"
    con.close()
    # a reviewer cannot finalise early; the admin can, with a reason
    assert not [b for b in at.button if b.label == "提前定稿"]
    at = open_page(new_app("admin"), "year_close")
    assert button(at, "定稿").disabled
    at.text_area(key="yc_early_reason").input("县政府要求本周内印发通报")
    button(at, "提前定稿").click()
    at.run()
    assert not at.exception
    con = connect(app_db)
    assert dc.stage_of(con, 2019) == "定稿"
    con.close()
    # going back needs a reason
    button(at, "退回到“公示”").click()
    at.run()
    assert any("理由" in e.value for e in at.error)
    at.text_area(key="yc_back_reason").input("定稿时遗漏一条申诉")
    button(at, "退回到“公示”").click()
    at.run()
    assert "【公示】" in " ".join(m.value for m in at.markdown)


def test_unit_sees_reasons_and_appeals_reviewer_answers(published_db):
    at = open_page(new_app("shenji"), "my_results")
    ind = table(at, "审核人", "shenhe").set_index("编号")
    assert ind.loc["A2", "审核分"].strip() == "1.00" and ind.loc["A2", "调整理由"] == "工作方案未见印发文件"
    assert ind.loc["A2", "审核人"] == "shenhe"
    assert ind.loc["A1", "审核人"] == "" and ind.loc["A1", "调整理由"] == ""  # never "None" or "nan"
    # the reasons also in full below the table (a cell cuts long text)
    panel = " ".join(m.value for m in at.markdown)
    assert "考核组调整了 1 项指标的得分" in panel
    assert "自评分 3.00 → 审核分 **1.00**  \n理由：工作方案未见印发文件（审核人 shenhe）" in panel
    pen = table(at, "项目")
    assert "方政办〔2019〕12号" in pen.iloc[0]["理由"] and "扣 3.00 分" in pen.iloc[0]["情况"]
    at.selectbox(key="my_appeal_code").select("A2")
    at.text_area(key="my_appeal_reason").input("=工作方案已于3月印发，见附件")
    button(at, "提交申诉").click()
    at.run()
    assert not at.exception
    ap = table(at, "申诉理由")
    assert list(ap["状态"]) == ["待答复"] and ap.iloc[0]["申诉理由"] == "=工作方案已于3月印发，见附件"
    # the reviewer's landing page lists it; the answer page answers it
    rev = open_page(new_app("shenhe"), "review_queue")
    assert any("申诉待答复" in m.value for m in rev.markdown)
    rev = open_page(new_app("shenhe"), "appeals")
    aid = int(ap.iloc[0]["编号"])
    rev.radio(key=f"ap_decision_{aid}").set_value("调整")
    rev.text_input(key=f"ap_new_{aid}").input("9")
    rev.text_area(key=f"ap_reason_{aid}").input("印发文件属实")
    button(rev, "提交答复").click()
    rev.run()
    assert any("超出范围" in e.value for e in rev.error)
    rev.text_input(key=f"ap_new_{aid}").input("3")
    button(rev, "提交答复").click()
    rev.run()
    assert not rev.exception
    assert table(rev, "结论").iloc[0]["结论"] == "调整"
    at = open_page(new_app("shenji"), "my_results")
    ap = table(at, "申诉理由")
    assert ap.iloc[0]["状态"] == "调整" and ap.iloc[0]["调整后"].strip() == "3.00" and ap.iloc[0]["答复理由"] == "印发文件属实"
    up = open_page(new_app("shenji"), "upload")
    assert any("已答复" in m.value for m in up.markdown)


def test_unit_view_hidden_before_review(app_db):
    at = open_page(new_app("shenji"), "my_results")
    assert any("审核通过后" in i.value for i in at.info)


def test_analytics_pages_show_the_snapshot_marker_and_live_switch(published_db):
    at = open_page(new_app("lingdao"), "overview")
    assert any("公示稿" in s.value for s in at.success)
    # no difference yet: no switch
    assert not [t for t in at.toggle if t.key == "results_live"]
    con = connect(published_db)
    con.execute("UPDATE penalties SET k1_count = 0")  # the live state drifts from the 公示稿
    con.close()
    from dashboard.common import close_connections
    close_connections()
    at = open_page(new_app("lingdao"), "overview")
    at.toggle(key="results_live").set_value(True)
    at.run()
    assert any("实时数据" in w.value for w in at.warning)


def test_overview_offers_the_notice(published_db):
    at = open_page(new_app("lingdao"), "overview")
    labels = [b.label for b in at.get("download_button")]
    assert any("通报" in (lbl or "") for lbl in labels), labels


def test_todo_per_role(published_db):
    con = connect(published_db)
    todo_unit = mc.todo(con, fx.user("shenji"), years=[2019])
    assert any("公示中" in t["text"] for t in todo_unit)
    assert mc.todo(con, fx.user("lingdao"), years=[2019]) == []
    con.close()


def _drift(path):
    """Behind the 公示稿: every ledger item of both units unpublished, the A2 reason rewritten."""
    con = connect(path)
    con.execute("UPDATE ledger_items SET published = NULL")
    con.execute("UPDATE review_scores SET reason = '事后改写的理由' WHERE code = 'A2'")
    # ledger rows never change once stored: a change made behind the data layer's back
    # needs the scores stored again, as the operator's `rescore` command does
    from metrics.engine import rescore
    rescore(con)
    con.close()
    from dashboard.common import close_connections
    close_connections()


def test_drill_downs_and_item_details_come_from_the_snapshot_and_switch_to_live(published_db):
    con = connect(published_db)
    late_before = mc.item_facts(con, 2019, states=["逾期"])
    gaps_before = mc.results(con, 2019).set_index("unit")["missing_categories"]
    con.close()
    _drift(published_db)
    # 评分卡: the unit's indicators with the reviewer's reason as published
    at = open_page(new_app("lingdao", scorecard_unit=fx.AUDIT), "scorecard")
    assert any("当前显示公示稿" in s.value for s in at.success)
    ind = table(at, "审核意见")
    assert "工作方案未见印发文件" in set(ind["审核意见"]) and "事后改写的理由" not in set(ind["审核意见"])
    at.toggle(key="results_live").set_value(True)
    at.run()
    assert "事后改写的理由" in set(table(at, "审核意见")["审核意见"])
    # 及时性: the overdue items as published (the live ledger now has every item unpublished)
    def overdue(at):
        for d in at.dataframe:
            if "逾期工作日" in d.value.columns and "信息名称" in d.value.columns:
                df = d.value
                return set(df[df["状态"].isin(["逾期公开", "逾期未公开"])]["信息名称"])
        return set()

    at = open_page(new_app("lingdao"), "timeliness")
    assert overdue(at) == set(late_before["title"])  # the fixture's items were all on time when published
    at.toggle(key="results_live").set_value(True)
    at.run()
    assert overdue(at) and overdue(at) != set(late_before["title"])  # now every item is overdue
    # 覆盖缺口: the gap list as published
    at = open_page(new_app("lingdao"), "coverage")
    gaps = table(at, "缺失类别").set_index("单位")["缺失类别"]
    for unit in (fx.AUDIT, fx.TOWN):
        assert gaps[unit] == (gaps_before[unit] or "")
    at.toggle(key="results_live").set_value(True)
    at.run()
    live_gaps = table(at, "缺失类别").set_index("单位")["缺失类别"]
    assert any(live_gaps[u] != (gaps_before[u] or "") for u in (fx.AUDIT, fx.TOWN))


def test_cli_scorecard_and_the_pages_agree_on_one_snapshot(published_db, tmp_path, capsys):
    import csv

    from metrics.__main__ import main as metrics_main

    _drift(published_db)

    def cli(which):
        out = tmp_path / f"{which or 'default'}.csv"
        argv = ["scorecard", "--year", "2019", "--csv", str(out), "--db", str(published_db)]
        assert metrics_main(argv + (["--snapshot", which] if which else [])) == 0
        capsys.readouterr()
        with open(out, encoding="utf-8-sig") as f:
            return {r["unit"]: r["total"] for r in csv.DictReader(f) if r["total"]}

    default, published, live = cli(None), cli("published"), cli("live")
    assert default == published != live
    from dashboard.common import close_connections
    close_connections()

    def shown(at):
        df = table(at, "排名")
        return {u: f"{t:.2f}" for u, t in zip(df["单位"], df["总分"]) if t == t}

    at = open_page(new_app("lingdao"), "scorecard")
    assert shown(at) == published
    at.toggle(key="results_live").set_value(True)
    at.run()
    assert shown(at) == live
