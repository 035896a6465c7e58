"""The details behind a published snapshot (issue 11): every indicator with its
reasons, the penalties, the ledger items and requests as scored, the category
coverage and the timeliness counts are stored when the 公示稿 is published and
read back from there — later changes to the ledger never alter them. Closing
actions are recorded on the store's clock (``data.store.as_of``)."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest

from data import closing as dc
from data.review import set_penalties, set_review_score, snapshot
from data.store import as_of
from metrics import closing as mc
from metrics_fixtures import D, add_account, add_unit, item, max_scores, new_db, request, submit

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

ADMIN = {"name": "管理员甲", "role": "admin", "unit": None}
REVIEWER = {"name": "考核组乙", "role": "reviewer", "unit": None}
UNIT_A = {"name": "甲镇账号", "role": "unit", "unit": "甲镇"}
AFTER_LATE = D("2024-01-18")  # 2023: cut-off 2024-01-10, late window to 2024-01-17


def county():
    """甲镇: two ledger items of C01 (one 3 working days late, one on time) and a
    request answered late; A2 adjusted by the reviewer, one K1. 乙镇: nothing in
    its ledger. 丙局 未报送."""
    con = new_db()
    add_unit(con, "甲镇", "乡镇")
    add_unit(con, "乙镇", "乡镇")
    add_unit(con, "丙局", "部门")
    a = submit(con, "甲镇", 2023, "2024-01-05", status="待审核")
    submit(con, "乙镇", 2023, "2024-01-05", scores=max_scores(2023, A1=1), status="待审核")
    # formed Wed 2023-03-01: the 20th working day after is Wed 2023-03-29; published Mon 2023-04-03 = 3 days late
    item(con, a, "2023-03-01", "2023-04-03", category="C01", title="关于春耕的通知")
    item(con, a, "2023-05-04", "2023-05-05", category="C03", title="按时公开的事项")
    # received Mon 2023-06-05, 20 working days (端午 06-22/23 off, Sun 06-25 worked) → Tue 2023-07-04;
    # answered 2023-07-05 = 1 day late
    request(con, a, "2023-06-05", "2023-07-05", no="YSQ-2023-001")
    add_account(con, "考核组乙", "reviewer")
    add_account(con, UNIT_A["name"], "unit", "甲镇")
    add_account(con, ADMIN["name"], "admin")
    set_review_score(con, a, "A2", "1", "工作方案未经党组会审议", reviewer="考核组乙", seen=snapshot(con, "甲镇", 2023))
    set_penalties(con, "甲镇", 2023, 1, False, "市政府办公室通报（方政办〔2023〕5号）", actor="考核组乙",
                  seen=snapshot(con, "甲镇", 2023))
    con.execute("UPDATE workflow SET status = '已审核'")
    return con, a


def publish(con):
    mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    return mc.publish(con, 2023, REVIEWER, today=D("2024-02-08"))


def details_bytes(con, which=None) -> bytes:
    """Every detail read-out of the chosen results, as CSV bytes."""
    monthly, late = mc.item_aggregates(con, 2023, which)
    frames = [mc.indicator_points(con, 2023, which=which), mc.item_facts(con, 2023, include_uncounted=True, which=which),
              mc.item_facts(con, 2023, unit="甲镇", states=["逾期"], which=which), monthly, late,
              mc.request_facts(con, 2023, include_uncounted=True, which=which),
              mc.coverage_matrix(con, 2023, which=which)]
    buf = io.StringIO()
    for f in frames:
        f.to_csv(buf, index=False)
    buf.write(repr(sorted(mc.penalties(con, 2023, "甲镇", which).items())))
    return buf.getvalue().encode("utf-8")


def test_the_published_details_are_what_was_scored_when_publishing():
    con, _ = county()
    live = details_bytes(con, mc.LIVE)
    publish(con)
    assert details_bytes(con) == details_bytes(con, mc.PUBLISHED) == live  # nothing changed yet
    late = mc.item_facts(con, 2023, unit="甲镇", states=["逾期"])
    assert late.attrs["source"] == "published" and not late.attrs["details_note"]
    assert list(late["title"]) == ["关于春耕的通知"] and list(late["days_late"]) == [3]
    assert late["deadline"].iloc[0] == D("2023-03-29")
    rq = mc.request_facts(con, 2023, unit="甲镇")
    assert list(rq["state"]) == ["逾期"] and list(rq["days_late"]) == [1]
    assert rq["deadline"].iloc[0] == D("2023-07-04")
    cov = mc.coverage_matrix(con, 2023, unit="乙镇").set_index("code")
    assert cov.loc["C01", "required"] and not cov.loc["C01", "covered"]
    ind = mc.indicator_points(con, 2023, unit="甲镇").set_index("code")
    assert ind.loc["A2", "review_score"] == Decimal("1.00") and ind.loc["A2", "reviewer"] == "考核组乙"
    assert ind.loc["A2", "review_reason"] == "工作方案未经党组会审议" and ind.loc["A2", "points"] == Decimal("1.00")
    pen = mc.penalties(con, 2023, "甲镇")
    assert pen["k1_count"] == 1 and pen["reason"].startswith("市政府办公室") and pen["k1_points"] == Decimal("3")


def test_changing_the_ledger_after_publishing_leaves_the_published_details_byte_identical():
    con, a = county()
    publish(con)
    before = details_bytes(con)
    # behind the snapshot's back: the late item now on time, the request answered in time, a new missing
    # category covered, the reviewer's score, its reason and the penalty changed
    con.execute("UPDATE ledger_items SET published = DATE '2023-03-02' WHERE submission_id = ? AND title = '关于春耕的通知'",
                [a])
    con.execute("UPDATE requests SET answered = DATE '2023-06-06' WHERE submission_id = ?", [a])
    item(con, a, "2023-03-01", "2023-03-02", category="C07")
    con.execute("UPDATE review_scores SET score = 0, reason = '改过了', reviewer = '别人'")
    con.execute("UPDATE penalties SET k1_count = 0, reason = NULL")
    assert details_bytes(con) == before
    assert details_bytes(con, mc.PUBLISHED) == before
    live = details_bytes(con, mc.LIVE)
    assert live != before
    assert mc.item_facts(con, 2023, unit="甲镇", states=["逾期"], which=mc.LIVE).empty
    assert list(mc.item_facts(con, 2023, unit="甲镇", states=["逾期"])["days_late"]) == [3]
    # the unit's right-of-reply view reads the same snapshot
    v = mc.unit_view(con, 2023, "甲镇")
    assert list(v["late_items"]["title"]) == ["关于春耕的通知"] and list(v["late_requests"]["days_late"]) == [1]
    assert v["penalties"]["reason"].startswith("市政府办公室")
    assert v["indicators"].set_index("code").loc["A2", "review_reason"] == "工作方案未经党组会审议"
    assert "C07" not in mc.coverage_matrix(con, 2023, unit="甲镇").query("covered")["code"].tolist()


def test_the_final_snapshot_reads_the_details_of_its_draft_with_the_adjusted_points():
    con, _ = county()
    draft = publish(con)
    aid = dc.file_appeal(con, 2023, "甲镇", "A2", "方案已经党组会审议，补交会议纪要", user=UNIT_A, today=D("2024-02-09"))
    mc.answer_appeal(con, aid, dc.ADJUSTED, "纪要属实", "2", user=REVIEWER)
    draft_details = details_bytes(con, mc.PUBLISHED)
    final = mc.finalize(con, 2023, ADMIN, today=D("2024-02-21"))
    assert dc.details_source(con, final) == draft
    assert details_bytes(con, mc.PUBLISHED) == draft_details
    ind = mc.indicator_points(con, 2023, unit="甲镇", which=mc.FINALISED).set_index("code")
    assert ind.loc["A2", "points"] == Decimal("2.00") and ind.loc["A2", "points_before"] == Decimal("1.00")
    assert ind.loc["A2", "appeal_id"] == aid and ind.attrs["source"] == "final"
    assert mc.indicator_points(con, 2023, unit="甲镇").set_index("code").loc["A2", "points"] == Decimal("2.00")
    assert list(mc.item_facts(con, 2023, unit="甲镇", states=["逾期"], which=mc.FINALISED)["days_late"]) == [3]


def test_a_snapshot_without_stored_details_falls_back_to_live_and_says_so():
    con, _ = county()
    sid = publish(con)
    con.execute("DELETE FROM snapshot_details WHERE snapshot_id = ?", [sid])  # as if published before migration 5
    d = mc.details_of(con, 2023)
    assert d["live"] and d["snapshot"]["id"] == sid and "未存档逐项明细" in d["note"]
    df = mc.item_facts(con, 2023)
    assert "未存档逐项明细" in df.attrs["details_note"]
    assert details_bytes(con) == details_bytes(con, mc.LIVE)


def test_unknown_snapshot_choice_and_missing_final_refused():
    con, _ = county()
    publish(con)
    with pytest.raises(mc.SnapshotMissing, match="尚未定稿"):
        mc.item_facts(con, 2023, which=mc.FINALISED)
    with pytest.raises(ValueError, match="未知的结果来源"):
        mc.coverage_matrix(con, 2023, which="yesterday")


# --------------------------------------------------------------------------- the store's clock

def test_closing_actions_are_recorded_on_the_stores_clock():
    con, _ = county()
    con.execute("UPDATE workflow SET status = '待审核' WHERE unit = '乙镇'")
    t = [dt.datetime(2024, 1, 18, 9, 30), dt.datetime(2024, 1, 19, 10, 0), dt.datetime(2024, 2, 8, 9, 0),
         dt.datetime(2024, 2, 9, 15, 0), dt.datetime(2024, 2, 10, 11, 0), dt.datetime(2024, 2, 11, 8, 45),
         dt.datetime(2024, 2, 12, 16, 5)]
    with as_of(t[0]):
        mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    with as_of(t[1]):
        dc.permit_upload(con, "丙局", 2023, "上级同意补报", REVIEWER)
    con.execute("UPDATE workflow SET status = '已审核'")
    with as_of(t[2]):
        sid = mc.publish(con, 2023, REVIEWER, today=D("2024-02-08"))
    with as_of(t[3]):
        aid = dc.file_appeal(con, 2023, "甲镇", "A2", "补交会议纪要", user=UNIT_A, today=D("2024-02-09"))
    with as_of(t[4]):
        mc.answer_appeal(con, aid, dc.UPHELD, "纪要未加盖印章", user=REVIEWER)
    with as_of(t[5]):
        mc.go_back(con, 2023, ADMIN, "公示稿有误，重新审核")
    assert con.execute("SELECT granted_at FROM upload_permits").fetchone()[0] == t[1]
    assert con.execute("SELECT created_at, withdrawn_at FROM snapshots WHERE id = ?", [sid]).fetchone() == (t[2], t[5])
    assert con.execute("SELECT filed_at, answered_at FROM appeals WHERE id = ?", [aid]).fetchone() == (t[3], t[4])
    assert con.execute("SELECT updated_at FROM year_stages WHERE year = 2023").fetchone()[0] == t[5]
    with as_of(t[6]):
        dc.set_stage(con, 2023, dc.FILING, ADMIN, "重新开放填报")
    assert con.execute("SELECT updated_at FROM year_stages WHERE year = 2023").fetchone()[0] == t[6]
    logged = [r[0] for r in con.execute("SELECT at_time FROM audit WHERE action IN "
                                        "('年度阶段', '重新开放报送', '发布考核结果', '提出申诉', '答复申诉', '年度阶段退回') "
                                        "ORDER BY id").fetchall()]
    assert logged == t


def test_without_a_set_clock_the_time_is_now():
    con, _ = county()
    before = dt.datetime.now() - dt.timedelta(minutes=1)
    mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    at = con.execute("SELECT updated_at FROM year_stages").fetchone()[0]
    assert before < at < dt.datetime.now() + dt.timedelta(minutes=1)
