"""data/review.py: review scores, workflow transitions, penalties, and the
read-outs (audit trail, submission history, original files, review queue)."""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from data import history as hist
from data import review as rv
from data import uploads as up
from metrics import readouts as ro
from data.ingest import ingest_bytes
from data.access import SYSTEM
from data.review import ReviewError
from data.users import create_user
from metrics.engine import score_year
from tests import wbfactory as wf

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

UNIT, TOWN = wf.UNIT, wf.TOWN
REV = "shenhe"


def seen(con, unit=UNIT, year=2019):
    """What a reviewer opening the unit-year now would see."""
    return rv.snapshot(con, unit, year)


@pytest.fixture(autouse=True)
def reviewer(con):
    create_user(con, REV, "reviewer", "shenhe123", actor=SYSTEM)


def _wb(unit=UNIT, unit_type="部门", reporter="张三", overrides=None):
    sheets = wf.valid_sheets(unit=unit, unit_type=unit_type, reporter=reporter)
    if overrides:
        sheets["自评打分"] = wf.scores_sheet(2019, overrides)
    return wf.build(sheets)


@pytest.fixture
def sub(con, received):
    """An accepted 2019 version of 方正县审计局 (self scores at max; B1 = 3)."""
    res = ingest_bytes(con, "审计局.xlsx", _wb(overrides={"B1": 3}), received=received, actor="shenji")
    assert res.outcome == "accepted"
    return res.submission_id


def total(con, unit=UNIT):
    return score_year(con, 2019, unit=unit).iloc[0]


def audit_rows(con, action=None):
    sql = "SELECT action, before, after, detail, actor FROM audit WHERE unit = ?"
    args = [UNIT]
    if action:
        sql += " AND action = ?"
        args.append(action)
    return con.execute(sql + " ORDER BY id", args).fetchall()


# --------------------------------------------------------------------------- review scores

def test_set_review_score_changes_the_total_and_is_audited(con, sub):
    before = total(con)
    assert rv.set_review_score(con, sub, "a1", "2.5", "分工文件未盖章", REV, seen=seen(con, UNIT)) is True
    after = total(con)
    assert after["total"] == before["total"] - Decimal("1.5")
    assert after["self_total"] == before["self_total"]
    assert audit_rows(con, "调整审核分") == [("调整审核分", "自评 4", "审核 2.5", "第1版 A1：分工文件未盖章", REV)]
    # changing it again records the previous reviewer score as "before"
    rv.set_review_score(con, sub, "A1", 3, "补充材料后", REV, seen=seen(con, UNIT))
    assert audit_rows(con, "调整审核分")[-1][1:3] == ("审核 2.5", "审核 3")
    # the same value and reason again: nothing changes, nothing is logged
    assert rv.set_review_score(con, sub, "A1", 3, "补充材料后", REV, seen=seen(con, UNIT)) is False
    assert len(audit_rows(con, "调整审核分")) == 2


def test_reason_required_only_when_the_score_differs(con, sub):
    with pytest.raises(ReviewError, match="必须填写调整理由"):
        rv.set_review_score(con, sub, "A1", 3, "  ", REV, seen=seen(con, UNIT))
    # confirming the unit's own score needs no reason
    assert rv.set_review_score(con, sub, "B1", 3, None, REV, seen=seen(con, UNIT)) is True
    assert total(con)["total"] == total(con)["self_total"]


@pytest.mark.parametrize("score, message", [
    (-1, "超出范围"), (4.5, "超出范围"), ("abc", "不是数字"), ("", "未填写"), (True, "不是数字"),
    (float("nan"), "不是数字"), ("1.234", "最多保留两位小数"),
])
def test_bad_review_scores_are_refused(con, sub, score, message):
    with pytest.raises(ReviewError, match=message):
        rv.set_review_score(con, sub, "A1", score, "理由", REV, seen=seen(con, UNIT))
    assert con.execute("SELECT count(*) FROM review_scores").fetchone()[0] == 0


def test_automatic_and_unknown_indicators_cannot_be_adjusted(con, sub):
    with pytest.raises(ReviewError, match="自动计算"):
        rv.set_review_score(con, sub, "H1", 5, "理由", REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="不在2019年度指标体系中"):
        rv.set_review_score(con, sub, "Z9", 1, "理由", REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="找不到"):
        rv.set_review_score(con, 9999, "A1", 1, "理由", REV, seen=seen(con, UNIT))


def test_bonus_indicator_can_be_adjusted_within_its_max(con, sub):
    rv.set_review_score(con, sub, "J1", 3, "获省级表彰", REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="0 到 3"):
        rv.set_review_score(con, sub, "J1", 4, "理由", REV, seen=seen(con, UNIT))


def test_only_the_current_version_can_be_adjusted(con, sub, received):
    res = ingest_bytes(con, "v2.xlsx", _wb(reporter="李四"), received=received)
    assert res.version == 2
    with pytest.raises(ReviewError, match="不是.*当前版本"):
        rv.set_review_score(con, sub, "A1", 1, "理由", REV, seen=seen(con, UNIT))
    rv.set_review_score(con, res.submission_id, "A1", 1, "理由", REV, seen=seen(con, UNIT))


def test_clear_review_score(con, sub):
    own = total(con)["total"]
    rv.set_review_score(con, sub, "A1", 0, "无材料", REV, seen=seen(con, UNIT))
    assert total(con)["total"] == own - 4
    assert rv.clear_review_score(con, sub, "A1", REV, seen=seen(con, UNIT)) is True
    assert total(con)["total"] == own
    assert audit_rows(con, "撤销审核分")[-1][1:3] == ("审核 0", "自评 4")
    assert rv.clear_review_score(con, sub, "A1", REV, seen=seen(con, UNIT)) is False


def test_apply_review_scores_is_all_or_nothing(con, sub):
    with pytest.raises(ReviewError) as e:
        rv.apply_review_scores(con, sub, [{"code": "A1", "score": 2, "reason": "理由"},
                                          {"code": "A2", "score": 9, "reason": "理由"},
                                          {"code": "A3", "score": 1, "reason": ""}], REV, seen=seen(con))
    assert len(e.value.issues) == 2 and {i.code for i in e.value.issues} == {"review_refused"}
    assert "A2" in e.value.messages[0] and "A3" in e.value.messages[1]
    assert con.execute("SELECT count(*) FROM review_scores").fetchone()[0] == 0
    n = rv.apply_review_scores(con, sub, [{"code": "A1", "score": 2, "reason": "理由"},
                                          {"code": "A2", "score": "2.5", "reason": "理由"}], REV, seen=seen(con))
    assert n == 2
    n = rv.apply_review_scores(con, sub, [{"code": "A1", "score": None}, {"code": "A3", "score": ""}], REV, seen=seen(con, UNIT))
    assert n == 1  # A1 cleared; A3 had no reviewer score
    assert dict(con.execute("SELECT code, score FROM review_scores").fetchall()) == {"A2": Decimal("2.50")}


def test_a_failure_inside_the_transaction_rolls_everything_back(con, sub, monkeypatch):
    calls = []

    def boom(*a, **k):
        calls.append(a)
        if len(calls) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(rv, "audit", boom)
    with pytest.raises(RuntimeError):
        rv.apply_review_scores(con, sub, [{"code": "A1", "score": 2, "reason": "r"},
                                          {"code": "A2", "score": 2, "reason": "r"}], REV, seen=seen(con))
    assert con.execute("SELECT count(*) FROM review_scores").fetchone()[0] == 0


# --------------------------------------------------------------------------- workflow

def test_approve_then_reopen(con, sub):
    assert rv.workflow_state(con, UNIT, 2019)["status"] == "待审核"
    assert rv.set_status(con, UNIT, 2019, "approve", "材料齐全", REV, seen=seen(con, UNIT)) == "已审核"
    st = rv.workflow_state(con, UNIT, 2019)
    assert st["status"] == "已审核" and st["comment"] == "材料齐全" and st["updated_by"] == REV
    assert audit_rows(con, "审核通过") == [("审核通过", "待审核", "已审核", "第1版：材料齐全", REV)]
    with pytest.raises(ReviewError, match="当前状态为“已审核”"):
        rv.set_status(con, UNIT, 2019, "approve", None, REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="当前状态为“已审核”"):
        rv.set_status(con, UNIT, 2019, "return", "意见", REV, seen=seen(con, UNIT))
    assert rv.reopen(con, UNIT, 2019, None, REV, seen=seen(con, UNIT)) == "待审核"
    with pytest.raises(ReviewError, match="只有“已审核”的材料可以重新打开"):
        rv.reopen(con, UNIT, 2019, None, REV, seen=seen(con, UNIT))


def test_return_requires_a_comment_the_unit_sees_and_reupload_makes_it_pending(con, sub, received):
    with pytest.raises(ReviewError, match="必须填写退回意见"):
        rv.set_status(con, UNIT, 2019, "return", "   ", REV, seen=seen(con, UNIT))
    assert rv.workflow_state(con, UNIT, 2019)["status"] == "待审核"
    rv.return_submission(con, UNIT, 2019, "B1 缺佐证", REV, seen=seen(con, UNIT))
    st = rv.workflow_state(con, UNIT, 2019)
    assert st["status"] == "已退回" and st["comment"] == "B1 缺佐证"
    for action in ("approve", "return", "reopen"):
        with pytest.raises(ReviewError, match="当前状态为“已退回”"):
            rv.set_status(con, UNIT, 2019, action, "x", REV, seen=seen(con, UNIT))
    res = ingest_bytes(con, "v2.xlsx", _wb(reporter="李四"), received=received)
    assert res.outcome == "accepted"
    assert rv.workflow_state(con, UNIT, 2019)["status"] == "待审核"
    rv.approve(con, UNIT, 2019, None, REV, seen=seen(con, UNIT))


def test_approved_locks_scores_penalties_and_uploads(con, sub, received):
    rv.approve(con, UNIT, 2019, None, REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="已锁定"):
        rv.set_review_score(con, sub, "A1", 1, "r", REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="已锁定"):
        rv.clear_review_score(con, sub, "A1", REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="已锁定"):
        rv.set_penalties(con, UNIT, 2019, 1, False, "通报", REV, seen=seen(con, UNIT))
    res = ingest_bytes(con, "v2.xlsx", _wb(reporter="李四"), received=received)
    assert res.outcome == "rejected"


def test_status_changes_need_a_submission_a_known_unit_action_and_year(con, sub):
    with pytest.raises(ReviewError, match="尚未报送"):
        rv.set_status(con, TOWN, 2019, "approve", None, REV, seen=seen(con, TOWN))
    with pytest.raises(ReviewError, match="不在单位名录中"):
        rv.set_status(con, "不存在的单位", 2019, "approve", None, REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="未知操作"):
        rv.set_status(con, UNIT, 2019, "delete", None, REV, seen=seen(con, UNIT))
    with pytest.raises(ReviewError, match="没有1999年度"):
        rv.set_status(con, UNIT, 1999, "approve", None, REV, seen=seen(con, UNIT))
    assert rv.workflow_state(con, TOWN, 2019)["status"] == "未报送"


# --------------------------------------------------------------------------- penalties

def test_penalties_change_total_and_grade(con, sub):
    base = total(con)
    assert rv.set_penalties(con, UNIT, 2019, 2, False, "通报〔2019〕3号、5号", REV, seen=seen(con, UNIT)) is True
    t = total(con)
    assert t["total"] == base["total"] - 6 and t["k1_count"] == 2
    assert audit_rows(con, "扣分与一票否决")[-1][1:3] == ("K1 通报批评 0 次；K2 一票否决：否", "K1 通报批评 2 次；K2 一票否决：否")
    rv.set_penalties(con, UNIT, 2019, 2, True, "泄密事件", REV, seen=seen(con, UNIT))
    assert total(con)["grade"] == "不合格"
    assert rv.get_penalties(con, UNIT, 2019) | {"updated_at": None} == {
        "k1_count": 2, "k2_veto": True, "reason": "泄密事件", "reviewer": REV, "updated_at": None}
    assert rv.set_penalties(con, UNIT, 2019, 2, True, "泄密事件", REV, seen=seen(con, UNIT)) is False
    rv.set_penalties(con, UNIT, 2019, 0, False, "复核撤销", REV, seen=seen(con, UNIT))
    assert total(con)["total"] == base["total"] and total(con)["grade"] == base["grade"]


@pytest.mark.parametrize("k1, k2, reason, message", [
    (1, False, "", "理由"), (-1, False, "r", "0 到 33"), (34, False, "r", "0 到 33"),
    (1.5, False, "r", "正整数"), ("abc", False, "r", "正整数"), (None, False, "r", "正整数"),
    (1, "是", "r", "K2"),
])
def test_bad_penalties_are_refused(con, sub, k1, k2, reason, message):
    with pytest.raises(ReviewError, match=message):
        rv.set_penalties(con, UNIT, 2019, k1, k2, reason, REV, seen=seen(con, UNIT))
    assert con.execute("SELECT count(*) FROM penalties").fetchone()[0] == 0


def test_penalties_for_unknown_unit_or_year(con):
    with pytest.raises(ReviewError, match="不在单位名录中"):
        rv.set_penalties(con, "无此单位", 2019, 1, False, "r", REV, seen=seen(con, "无此单位"))
    with pytest.raises(ReviewError, match="没有1999年度"):
        rv.set_penalties(con, UNIT, 1999, 1, False, "r", REV, seen=seen(con, UNIT))


# --------------------------------------------------------------------------- read-outs

def test_audit_log_is_newest_first_with_before_and_after(con, sub):
    rv.set_review_score(con, sub, "A1", 3, "理由", REV, seen=seen(con, UNIT))
    rv.approve(con, UNIT, 2019, None, REV, seen=seen(con, UNIT))
    log = hist.audit_log(con, UNIT, 2019)
    assert list(log.columns) == ["时间", "操作人", "操作", "内容", "修改前", "修改后"]
    assert list(log["操作"]) == ["审核通过", "调整审核分", "上传自评表"]
    assert list(log.iloc[0][["修改前", "修改后"]]) == ["待审核", "已审核"]
    assert hist.audit_log(con, TOWN, 2019).empty


def test_submission_history_versions_rejections_and_decisions(con, sub, received):
    create_user(con, "shenji", "unit", "shenji123", unit=UNIT, actor=SYSTEM)
    rv.return_submission(con, UNIT, 2019, "请补充B1佐证", REV, seen=seen(con, UNIT))
    bad = ingest_bytes(con, "坏.xlsx", _wb(overrides={"A1": 9}), received=received, actor="shenji")
    assert bad.outcome == "rejected"
    junk = ingest_bytes(con, "乱码.xlsx", b"not a workbook", received=received, actor="shenji")
    assert junk.outcome == "rejected" and junk.unit is None
    v2 = _wb(reporter="李四")
    ingest_bytes(con, "第二版.xlsx", v2, received=received, actor="shenji")
    h = hist.submission_history(con, UNIT, 2019)
    assert list(h.columns) == hist.HISTORY_COLUMNS
    events = list(h["事件"])
    assert events.count("上传·已接收") == 2 and events.count("上传·已拒收") == 2 and "审核·退回" in events
    cur = h[h["版本"] == 2].iloc[0]
    assert cur["文件名"] == "第二版.xlsx" and cur["SHA-256"] == hashlib.sha256(v2).hexdigest()
    assert cur["收到日期"] == received and cur["说明"].startswith("当前版本")
    ret = h[h["事件"] == "审核·退回"].iloc[0]
    assert "请补充B1佐证" in ret["说明"] and ret["操作人"] == REV
    rej = h[h["文件名"] == "坏.xlsx"].iloc[0]
    assert "A1" in rej["说明"] and rej["操作人"] == "shenji"
    assert h[h["文件名"] == "乱码.xlsx"].iloc[0]["说明"]  # no unit in the file: found through the account
    # another unit's history is empty
    assert hist.submission_history(con, TOWN, 2019).empty


def test_original_file_and_versions(con, sub, received):
    content = con.execute("SELECT content FROM submissions WHERE id = ?", [sub]).fetchone()[0]
    name, data = hist.get_original_file(con, sub)
    assert name == "审计局.xlsx" and data == bytes(content)
    assert hist.get_original_file(con, sub, unit=UNIT)[1] == data
    with pytest.raises(ReviewError):
        hist.get_original_file(con, sub, unit=TOWN)
    with pytest.raises(ReviewError):
        hist.get_original_file(con, 12345)
    ingest_bytes(con, "dir/子目录/v2.xlsx", _wb(reporter="李四"), received=received)
    vs = hist.versions(con, UNIT, 2019)
    assert list(vs["version"]) == [2, 1]
    assert hist.get_original_file(con, int(vs["id"].iloc[0]))[0] == "v2.xlsx"


def test_review_queue(con, sub):
    late = ingest_bytes(con, "镇.xlsx", _wb(TOWN, "乡镇"), received=dt.date(2020, 1, 20))
    assert late.outcome == "accepted"
    rv.set_penalties(con, TOWN, 2019, 1, False, "通报", REV, seen=seen(con, TOWN))
    rv.return_submission(con, TOWN, 2019, "重报", REV, seen=seen(con, TOWN))
    q = ro.review_queue(con, 2019).set_index("unit")
    assert list(ro.review_queue(con, 2019).columns) == ro.QUEUE_COLUMNS
    assert q.loc[UNIT, "status"] == "待审核" and not q.loc[UNIT, "late_submission"]
    assert q.loc[TOWN, "status"] == "已退回" and q.loc[TOWN, "late_submission"]
    assert q.loc[TOWN, "comment"] == "重报" and q.loc[TOWN, "k1_count"] == 1
    assert q.loc["会发镇", "status"] == "未报送" and q.loc["会发镇", "versions"] == 0
    assert q.loc[UNIT, "versions"] == 1 and q.loc[UNIT, "total"] is not None


def test_indicator_sheet_and_evidence_links(con, sub):
    sheet = ro.indicator_sheet(con, 2019, UNIT)
    a1 = sheet[sheet["code"] == "A1"].iloc[0]
    assert a1["evidence"] == ["http://example.gov.cn/a"]
    assert hist.evidence_links(["http://a/b", " 文件.pdf ", "", "www.x.gov.cn/p"]) == [
        ("http://a/b", "http://a/b"), ("文件.pdf", None), ("www.x.gov.cn/p", "http://www.x.gov.cn/p")]
    assert ro.indicator_sheet(con, 2019, TOWN).empty


def test_a_mistaken_return_is_undone_with_a_reason(con, sub):
    # only a returned unit-year can be un-returned
    with pytest.raises(ReviewError, match="只有“已退回”的材料可以撤销退回"):
        rv.set_status(con, UNIT, 2019, "unreturn", "误退回", REV, seen=seen(con))
    rv.return_submission(con, UNIT, 2019, "B1 缺佐证", REV, seen=seen(con))
    with pytest.raises(ReviewError, match="撤销退回时必须填写原因"):
        rv.set_status(con, UNIT, 2019, "unreturn", "  ", REV, seen=seen(con))
    assert rv.workflow_state(con, UNIT, 2019)["status"] == "已退回"
    assert rv.set_status(con, UNIT, 2019, "unreturn", "误退回，材料无需修改", REV, seen=seen(con)) == "待审核"
    st = rv.workflow_state(con, UNIT, 2019)
    assert st["status"] == "待审核" and st["comment"] == "误退回，材料无需修改"
    assert audit_rows(con, "撤销退回") == [("撤销退回", "已退回", "待审核", "第1版：误退回，材料无需修改", REV)]
    # the same version can now be approved without a new upload
    assert rv.approve(con, UNIT, 2019, None, REV, seen=seen(con)) == "已审核"


# --------------------------------------------------------------------------- acting user and what the reviewer saw

@pytest.fixture
def others(con):
    create_user(con, "lingdao", "leader", "lingdao123", actor=SYSTEM)
    create_user(con, "shenji", "unit", "shenji123", unit=UNIT, actor=SYSTEM)
    create_user(con, "gone", "reviewer", "gone12345", actor=SYSTEM)
    from data.users import set_active
    set_active(con, "gone", False, actor=SYSTEM)


@pytest.mark.parametrize("actor, message", [
    ("lingdao", "领导.*无权"), ("shenji", "填报单位.*无权"), ({"name": "lingdao", "role": "admin"}, "领导.*无权"),
    ("gone", "已停用"), ("nobody", "不存在"), (None, "未指明操作人"),
    ({"name": "x", "role": "system"}, "不存在"),
])
def test_review_writes_refuse_roles_that_may_not_review(con, sub, others, actor, message):
    from data.access import PermissionDenied
    s = seen(con)
    calls = [lambda: rv.set_status(con, UNIT, 2019, "approve", None, actor, seen=s),
             lambda: rv.set_status(con, UNIT, 2019, "return", "意见", actor, seen=s),
             lambda: rv.set_review_score(con, sub, "A1", 1, "r", actor, seen=s),
             lambda: rv.clear_review_score(con, sub, "A1", actor, seen=s),
             lambda: rv.apply_review_scores(con, sub, [{"code": "A1", "score": 1, "reason": "r"}], actor, seen=s),
             lambda: rv.set_penalties(con, UNIT, 2019, 1, False, "通报", actor, seen=s)]
    for call in calls:
        with pytest.raises(PermissionDenied, match=message):
            call()
    assert rv.workflow_state(con, UNIT, 2019)["status"] == "待审核"
    assert con.execute("SELECT count(*) FROM review_scores").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM penalties").fetchone()[0] == 0
    assert seen(con) == s


def test_the_role_comes_from_the_database_not_from_the_callers_dict(con, sub, others):
    # a dict claiming to be a reviewer does not make the leader one; the real reviewer's dict works
    assert rv.approve(con, UNIT, 2019, None, {"name": REV, "role": "leader"}, seen=seen(con)) == "已审核"
    assert rv.workflow_state(con, UNIT, 2019)["updated_by"] == REV


def test_approve_refused_when_a_new_version_arrived_after_the_reviewer_opened_the_page(con, sub, received):
    on_screen = seen(con)
    assert on_screen == rv.Seen(1, 1)  # version 1, one change (the upload)
    ingest_bytes(con, "v2.xlsx", _wb(reporter="李四"), received=received, actor="shenji")
    for call in (lambda: rv.approve(con, UNIT, 2019, None, REV, seen=on_screen),
                 lambda: rv.return_submission(con, UNIT, 2019, "意见", REV, seen=on_screen),
                 lambda: rv.set_penalties(con, UNIT, 2019, 1, False, "通报", REV, seen=on_screen)):
        with pytest.raises(rv.StaleReview, match="当前为第2版 · 修改计数 2") as e:
            call()
        assert "您看到的是第1版 · 修改计数 1" in str(e.value) and e.value.current == rv.Seen(2, 2)
    cur = rv.current_submission(con, UNIT, 2019).id
    with pytest.raises(rv.StaleReview, match="新版本（第2版）"):
        rv.apply_review_scores(con, cur, [{"code": "A1", "score": 1, "reason": "r"}], REV, seen=on_screen)
    assert rv.workflow_state(con, UNIT, 2019)["status"] == "待审核"
    assert con.execute("SELECT count(*) FROM review_scores").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM penalties").fetchone()[0] == 0
    assert not audit_rows(con, "审核通过") and not audit_rows(con, "退回")
    # with what is current now it works
    assert rv.approve(con, UNIT, 2019, None, REV, seen=rv.Seen(2, 2)) == "已审核"


def test_another_reviewers_change_makes_the_screen_stale(con, sub):
    a = seen(con)
    rv.set_review_score(con, sub, "A1", 2, "材料不全", REV, seen=a)
    b = seen(con)
    assert b == rv.Seen(1, 2)
    with pytest.raises(rv.StaleReview, match="其他审核人员或单位已修改"):
        rv.approve(con, UNIT, 2019, None, REV, seen=a)
    # nothing changed → the counter stays (saving the same score again)
    assert rv.set_review_score(con, sub, "A1", 2, "材料不全", REV, seen=b) is False
    assert seen(con) == b
    rv.set_penalties(con, UNIT, 2019, 1, False, "通报", REV, seen=b)
    assert seen(con) == rv.Seen(1, 3)
    with pytest.raises(rv.StaleReview):
        rv.set_penalties(con, UNIT, 2019, 2, False, "通报", REV, seen=b)
    assert rv.get_penalties(con, UNIT, 2019)["k1_count"] == 1
    with pytest.raises(ReviewError, match="缺少页面上显示的版本"):
        rv.approve(con, UNIT, 2019, None, REV, seen=None)


def test_the_comment_keeps_its_reviewer_after_the_unit_uploads_again(con, sub, received):
    rv.return_submission(con, UNIT, 2019, "B1 缺佐证", REV, seen=seen(con))
    ingest_bytes(con, "v2.xlsx", _wb(reporter="李四"), received=received, actor="shenji")
    st = rv.workflow_state(con, UNIT, 2019)
    assert st["updated_by"] == "shenji"  # the upload moved the status
    assert st["comment"] == "B1 缺佐证" and st["comment_by"] == REV and st["comment_at"] is not None


def test_indicator_sheet_names_who_set_each_review_score(con, sub):
    rv.set_review_score(con, sub, "A1", 2, "分工文件未盖章", REV, seen=seen(con))
    sheet = ro.indicator_sheet(con, 2019, UNIT).set_index("code")
    assert sheet.loc["A1", "review_by"] == REV and sheet.loc["A1", "review_reason"] == "分工文件未盖章"
    assert sheet.loc["A2", "review_by"] is None


def test_uploads_take_the_role_and_unit_from_the_database(con, received):
    create_user(con, "shenji", "unit", "shenji123", unit=UNIT, actor=SYSTEM)
    create_user(con, "lingdao", "leader", "lingdao123", actor=SYSTEM)
    # a unit account whose dict claims to be a reviewer still only uploads for its own unit
    res = up.submit_files(con, [("镇.xlsx", _wb(TOWN, "乡镇"))], user={"name": "shenji", "role": "reviewer"},
                          received=received)
    assert res[0].outcome == "rejected" and "只能上报" in res[0].report.errors[-1].message
    with pytest.raises(ReviewError, match="没有上传自评表的权限"):
        up.submit_files(con, [("a.xlsx", _wb())], user={"name": "lingdao", "role": "admin"}, received=received)
    with pytest.raises(ReviewError, match="不存在"):
        up.submit_files(con, [("a.xlsx", _wb())], user={"name": "ghost", "role": "admin"}, received=received)
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
