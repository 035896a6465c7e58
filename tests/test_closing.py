"""Closing a year (issue 11): the stage machine, frozen snapshots, the 公示期 on
the working-day calendar, appeals, finalising, uploads past 填报, the CLI."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from data import closing as dc
from data.access import SYSTEM, PermissionDenied
from data.closing import ClosingError
from data.review import ReviewError, reopen, set_review_score, snapshot
from metrics import closing as mc
from metrics.__main__ import main as metrics_main
from metrics_fixtures import D, add_unit, max_scores, new_db, submit

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

ADMIN = {"name": "管理员甲", "role": "admin", "unit": None}
REVIEWER = {"name": "考核组乙", "role": "reviewer", "unit": None}
LEADER = {"name": "领导丙", "role": "leader", "unit": None}
UNIT_A = {"name": "甲镇账号", "role": "unit", "unit": "甲镇"}
UNIT_B = {"name": "乙镇账号", "role": "unit", "unit": "乙镇"}
UNIT_C = {"name": "丙局账号", "role": "unit", "unit": "丙局"}
# 2023: cut-off 2024-01-10 (Wed), late window 5 working days → 2024-01-17
AFTER_LATE = D("2024-01-18")


def county(path=":memory:"):
    """甲镇 (all max, 已审核), 乙镇 (A1 = 1, 待审核), 丙局 (未报送); scheme 2023."""
    con = new_db(path)
    add_unit(con, "甲镇", "乡镇")
    add_unit(con, "乙镇", "乡镇")
    add_unit(con, "丙局", "部门")
    submit(con, "甲镇", 2023, "2024-01-05", status="已审核")
    submit(con, "乙镇", 2023, "2024-01-05", scores=max_scores(2023, A1=1), status="待审核")
    # the accounts (the closing functions read the role and unit from the users table)
    for u in (ADMIN, REVIEWER, LEADER, UNIT_A, UNIT_B, UNIT_C):
        con.execute("INSERT INTO users (name, role, unit, password_hash) VALUES (?, ?, ?, 'x')",
                    [u["name"], u["role"], u["unit"]])
    return con


def approve_all(con):
    con.execute("UPDATE workflow SET status = '已审核'")


def published(con, day="2024-02-08"):
    mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    approve_all(con)
    return mc.publish(con, 2023, REVIEWER, today=D(day))


# --------------------------------------------------------------------------- stage machine

def test_new_year_is_in_filing():
    con = county()
    assert dc.get_stage(con, 2023)["stage"] == "填报"


def test_start_review_refused_before_the_late_window_ends_and_allowed_after():
    con = county()
    with pytest.raises(ClosingError, match="2024年01月17日"):
        mc.start_review(con, 2023, REVIEWER, today=D("2024-01-17"))
    assert mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)["stage"] == "审核"
    row = con.execute("SELECT actor, action, before, after FROM audit WHERE action = '年度阶段'").fetchone()
    assert row == ("考核组乙", "年度阶段", "填报", "审核")


@pytest.mark.parametrize("user", [LEADER, UNIT_A, None, {"name": "", "role": "admin"}])
def test_only_staff_start_review(user):
    con = county()
    with pytest.raises(ClosingError):
        dc.set_stage(con, 2023, "审核", user)
    assert dc.stage_of(con, 2023) == "填报"


def test_the_role_comes_from_the_users_table_not_from_the_caller():
    con = county()
    with pytest.raises(ClosingError, match="考核组或管理员") as e:
        dc.set_stage(con, 2023, "审核", {**LEADER, "role": "admin"})  # a page bug cannot widen access
    assert isinstance(e.value, PermissionDenied)
    con.execute("UPDATE users SET active = false WHERE name = ?", [REVIEWER["name"]])
    with pytest.raises(ClosingError, match="已停用"):
        mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    assert mc.start_review(con, 2023, SYSTEM, today=AFTER_LATE)["stage"] == "审核"  # the command line
    assert dc.stage_of(con, 2023) == "审核"


@pytest.mark.parametrize("target", ["公示", "定稿"])
def test_skipping_or_entering_publicity_by_set_stage_is_refused(target):
    con = county()
    with pytest.raises(ClosingError):
        dc.set_stage(con, 2023, target, ADMIN)
    mc.start_review(con, 2023, ADMIN, today=AFTER_LATE)
    with pytest.raises(ClosingError):
        dc.set_stage(con, 2023, target, ADMIN)  # 公示 only by publishing, 定稿 two steps away
    assert dc.stage_of(con, 2023) == "审核"


def test_unknown_and_same_stage_refused():
    con = county()
    with pytest.raises(ClosingError, match="未知阶段"):
        dc.set_stage(con, 2023, "归档", ADMIN)
    with pytest.raises(ClosingError, match="已处于"):
        dc.set_stage(con, 2023, "填报", ADMIN)


def test_going_back_needs_admin_and_reason_and_withdraws_the_snapshot():
    con = county()
    sid = published(con)
    with pytest.raises(ClosingError, match="管理员"):
        mc.go_back(con, 2023, REVIEWER, "算错了")
    with pytest.raises(ClosingError, match="理由"):
        mc.go_back(con, 2023, ADMIN, "  ")
    assert dc.stage_of(con, 2023) == "公示"
    assert mc.go_back(con, 2023, ADMIN, "乙镇 A1 录入错误")["stage"] == "审核"
    snap = dc.get_snapshot(con, sid)
    assert snap["withdrawn_reason"] == "乙镇 A1 录入错误" and snap["withdrawn_by"] == "管理员甲"
    assert dc.current_snapshot(con, 2023) is None  # the withdrawn 公示稿 is no longer shown by default
    assert mc.results(con, 2023).attrs["source"] == "live"
    assert con.execute("SELECT detail FROM audit WHERE action = '年度阶段退回'").fetchone()[0] == \
        "公示 → 审核：乙镇 A1 录入错误"
    # back again to 填报, and no further
    assert mc.go_back(con, 2023, ADMIN, "重新开放填报")["stage"] == "填报"
    with pytest.raises(ClosingError, match="没有上一阶段"):
        mc.go_back(con, 2023, ADMIN, "x")


def test_final_back_to_publicity_keeps_the_period_and_withdraws_only_the_final():
    con = county()
    draft = published(con)
    fin = mc.finalize(con, 2023, REVIEWER, today=D("2024-02-21"))
    mc.go_back(con, 2023, ADMIN, "定稿有误")
    st = dc.get_stage(con, 2023)
    assert st["stage"] == "公示" and st["publicity_end"] == D("2024-02-20")
    assert dc.get_snapshot(con, fin)["withdrawn_at"] is not None
    assert dc.get_snapshot(con, draft)["withdrawn_at"] is None
    assert dc.current_snapshot(con, 2023)["id"] == draft


# --------------------------------------------------------------------------- publish

def test_publish_refused_in_filing_and_while_units_are_not_approved():
    con = county()
    with pytest.raises(ClosingError, match="开始审核"):
        mc.publish(con, 2023, REVIEWER, today=D("2024-02-08"))
    mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    with pytest.raises(ClosingError) as e:
        mc.publish(con, 2023, REVIEWER, today=D("2024-02-08"))
    assert "乙镇（待审核）" in str(e.value) and "甲镇" not in str(e.value) and "丙局" not in str(e.value)
    assert dc.stage_of(con, 2023) == "审核"
    assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 0


def test_publish_refused_for_leaders():
    con = county()
    mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    approve_all(con)
    with pytest.raises(ClosingError, match="考核组或管理员"):
        mc.publish(con, 2023, LEADER, today=D("2024-02-08"))


def test_publicity_period_counts_working_days_across_the_spring_festival():
    # 2024: 春节 2-10 … 2-17 off, Sunday 2-18 a working day (调休)
    con = county()
    published(con, "2024-02-08")  # Thu: 2-08, 2-09, 2-18 (Sun, 调休), 2-19, 2-20
    st = dc.get_stage(con, 2023)
    assert (st["publicity_start"], st["publicity_end"]) == (D("2024-02-08"), D("2024-02-20"))


def test_publicity_period_published_on_a_holiday_starts_on_the_next_working_day():
    con = new_db()
    # 2024-10-01 … 10-07 国庆 off; 10-12 (Sat) is a 调休 working day
    assert mc.publicity_period(con, D("2024-10-03"), 5) == (D("2024-10-03"), D("2024-10-12"))
    assert mc.publicity_period(con, D("2024-10-08"), 1) == (D("2024-10-08"), D("2024-10-08"))


def test_publicity_days_from_the_scheme_default_five():
    class S:
        publicity_days = 7
    assert mc.publicity_days(S()) == 7
    assert mc.publicity_days(object()) == 5


def test_snapshot_stores_everything():
    con = county()
    sid = published(con)
    snap = dc.get_snapshot(con, sid)
    assert snap["kind"] == "公示稿" and snap["scheme_file"] == "2023.toml" and "year = 2023" in \
        con.execute("SELECT scheme_text FROM snapshots WHERE id = ?", [sid]).fetchone()[0]
    days, years = dc.snapshot_calendar(con, sid)
    assert (D("2024-02-18"), True) in days and (D("2024-02-12"), False) in days
    assert (2024, "official") in years
    df = mc.results(con, 2023)
    assert df.attrs["source"] == "published"
    a = df.set_index("unit")
    assert a.loc["甲镇", "rank"] == 1 and a.loc["乙镇", "rank"] == 2
    assert a.loc["乙镇", "A1"] == Decimal("1.00") and a.loc["丙局", "status"] == "未报送"
    assert a.loc["甲镇", "sha256"] == con.execute(
        "SELECT sha256 FROM submissions WHERE unit = '甲镇'").fetchone()[0]
    assert a.loc["甲镇", "version"] == 1


def test_snapshot_unit_columns_are_the_scorecards_and_the_stored_tables():
    # one list (core.scorecard) names the stored unit row, the engine's scorecard and the snapshot read back
    from core.scorecard import EXTRA_COLUMNS, SCORECARD_COLUMNS, SNAPSHOT_UNIT_COLUMNS
    from metrics import engine

    con = county()
    stored = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'snapshot_units' "
        "ORDER BY ordinal_position").fetchall()]
    assert dc.UNIT_COLUMNS is SNAPSHOT_UNIT_COLUMNS
    assert sorted(stored) == sorted(["snapshot_id", "ord", *SNAPSHOT_UNIT_COLUMNS])
    live = engine.score_year(con, 2023)
    assert set(SCORECARD_COLUMNS + EXTRA_COLUMNS) <= set(live.columns)
    published(con)
    snap = mc.results(con, 2023)
    assert list(snap.columns[:len(SCORECARD_COLUMNS)]) == SCORECARD_COLUMNS
    assert set(SNAPSHOT_UNIT_COLUMNS) <= set(snap.columns)


def test_after_publishing_reviews_cannot_reopen():
    con = county()
    published(con)
    with pytest.raises(ReviewError, match="公示"):
        reopen(con, "乙镇", 2023, actor="考核组乙", seen=snapshot(con, "乙镇", 2023))


# --------------------------------------------------------------------------- immutability (CLI)

def _cli(argv, capsys):
    try:
        code = metrics_main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_published_csv_is_byte_identical_after_a_score_changes(tmp_path, capsys):
    db = tmp_path / "county.duckdb"
    con = county(db)
    con.close()
    assert _cli(["stage", "--year", 2023, "--db", db], capsys)[1].strip() == "2023年度：填报"
    code, _, err = _cli(["publish", "--year", 2023, "--date", "2024-02-08", "--db", db], capsys)
    assert code == 1 and "只有审核阶段" in err
    con = new_db(db)
    mc.start_review(con, 2023, ADMIN, today=AFTER_LATE)
    con.close()
    code, _, err = _cli(["publish", "--year", 2023, "--date", "2024-02-08", "--db", db], capsys)
    assert code == 1 and "乙镇（待审核）" in err
    con = new_db(db)
    approve_all(con)
    con.close()
    code, out, _ = _cli(["publish", "--year", 2023, "--date", "2024-02-08", "--by", "张三", "--db", db], capsys)
    assert code == 0 and "2024-02-20" in out
    assert "公示期 2024-02-08 至 2024-02-20" in _cli(["stage", "--year", 2023, "--db", db], capsys)[1]
    first, default, live0 = tmp_path / "p1.csv", tmp_path / "d.csv", tmp_path / "l0.csv"
    assert _cli(["scorecard", "--year", 2023, "--csv", first, "--snapshot", "published", "--db", db], capsys)[0] == 0
    assert _cli(["scorecard", "--year", 2023, "--csv", default, "--db", db], capsys)[0] == 0
    assert _cli(["scorecard", "--year", 2023, "--csv", live0, "--snapshot", "live", "--db", db], capsys)[0] == 0
    assert first.read_bytes() == default.read_bytes() == live0.read_bytes()
    # a reviewer's score changes behind the snapshot's back (say, a bug or a direct edit)
    con = new_db(db)
    con.execute("""UPDATE review_scores SET score = 0 WHERE false""")
    sid = con.execute("SELECT id FROM submissions WHERE unit = '乙镇'").fetchone()[0]
    con.execute("INSERT INTO review_scores (submission_id, code, score, reason, reviewer) VALUES (?, 'A2', 0, 'x', 'y')",
                [sid])
    con.close()
    again, live = tmp_path / "p2.csv", tmp_path / "live.csv"
    assert _cli(["scorecard", "--year", 2023, "--csv", again, "--snapshot", "published", "--db", db], capsys)[0] == 0
    assert _cli(["scorecard", "--year", 2023, "--csv", live, "--snapshot", "live", "--db", db], capsys)[0] == 0
    assert again.read_bytes() == first.read_bytes()
    assert live.read_bytes() != first.read_bytes()
    code, _, err = _cli(["scorecard", "--year", 2023, "--csv", tmp_path / "f.csv", "--snapshot", "final",
                         "--db", db], capsys)
    assert code == 1 and "尚未定稿" in err


def test_finalize_cli_rules(tmp_path, capsys):
    db = tmp_path / "county.duckdb"
    con = county(db)
    published(con)
    con.close()
    code, _, err = _cli(["finalize", "--year", 2023, "--date", "2024-02-20", "--db", db], capsys)
    assert code == 1 and "2024年02月20日" in err
    code, _, err = _cli(["finalize", "--year", 2023, "--early", "--db", db], capsys)
    assert code == 2 and "--reason" in err
    code, out, _ = _cli(["finalize", "--year", 2023, "--date", "2024-02-20", "--early", "--reason", "上级要求提前报送",
                         "--db", db], capsys)
    assert code == 0 and "已定稿" in out
    con = new_db(db)
    snap = dc.current_snapshot(con, 2023)
    assert snap["kind"] == "定稿" and snap["early_reason"].startswith("上级要求提前报送")
    assert "定稿" in _cli(["stage", "--year", 2023, "--db", db], capsys)[1]


def test_cli_usage_errors(tmp_path, capsys):
    db = tmp_path / "county.duckdb"
    county(db).close()
    assert _cli(["stage", "--year", 1999, "--db", db], capsys)[0] == 2
    assert _cli(["scorecard", "--year", 2023, "--csv", tmp_path / "x.csv", "--snapshot", "draft", "--db", db],
                capsys)[0] == 2
    code, _, err = _cli(["stage", "--year", 2023, "--back", "--db", db], capsys)
    assert code == 1 and "没有上一阶段" in err


# --------------------------------------------------------------------------- appeals

def test_appeal_window_is_the_publicity_period_through_its_last_day():
    con = county()
    published(con, "2024-02-08")
    with pytest.raises(ClosingError, match="2024年02月20日"):
        dc.file_appeal(con, 2023, "乙镇", "A1", "有方案", user=UNIT_B, today=D("2024-02-21"))
    aid = dc.file_appeal(con, 2023, "乙镇", "A1", "有方案", user=UNIT_B, today=D("2024-02-20"))
    ap = dc.get_appeal(con, aid)
    assert ap["status"] == "待答复" and ap["old_score"] == Decimal("1.00") and ap["filed_by"] == "乙镇账号"


def test_appeal_refused_outside_publicity_and_for_other_units():
    con = county()
    with pytest.raises(ClosingError, match="只有公示期内"):
        dc.file_appeal(con, 2023, "乙镇", "A1", "x", user=UNIT_B, today=D("2024-02-08"))
    published(con)
    with pytest.raises(ClosingError, match="只能为“甲镇”"):
        dc.file_appeal(con, 2023, "乙镇", "A1", "x", user=UNIT_A, today=D("2024-02-08"))
    with pytest.raises(ClosingError):
        dc.file_appeal(con, 2023, "乙镇", "A1", "x", user=LEADER, today=D("2024-02-08"))
    with pytest.raises(ClosingError, match="未报送"):
        dc.file_appeal(con, 2023, "丙局", "A1", "x", user=UNIT_C,
                       today=D("2024-02-08"))
    with pytest.raises(ClosingError, match="不是"):
        dc.file_appeal(con, 2023, "乙镇", "K1", "没有被通报", user=UNIT_B, today=D("2024-02-08"))
    with pytest.raises(ClosingError, match="申诉理由"):
        dc.file_appeal(con, 2023, "乙镇", "A1", "  ", user=UNIT_B, today=D("2024-02-08"))


def test_one_open_appeal_per_indicator_and_evidence_limits():
    con = county()
    published(con)
    big = b"x" * (dc.MAX_APPEAL_FILE_BYTES + 1)
    with pytest.raises(ClosingError, match="超过"):
        dc.file_appeal(con, 2023, "乙镇", "A1", "x", [("大.pdf", big)], user=UNIT_B, today=D("2024-02-08"))
    with pytest.raises(ClosingError, match="最多"):
        dc.file_appeal(con, 2023, "乙镇", "A1", "x", [(f"{n}.pdf", b"1") for n in range(6)], user=UNIT_B,
                       today=D("2024-02-08"))
    aid = dc.file_appeal(con, 2023, "乙镇", "A1", "有方案", [("..\\..\\方案.pdf", b"%PDF-1")], user=UNIT_B,
                         today=D("2024-02-08"))
    with pytest.raises(ClosingError, match="已有一条待答复"):
        dc.file_appeal(con, 2023, "乙镇", "a1", "再申诉", user=UNIT_B, today=D("2024-02-09"))
    dc.file_appeal(con, 2023, "乙镇", "A2", "另一项", user=UNIT_B, today=D("2024-02-09"))  # another indicator: fine
    files = dc.get_appeal(con, aid)["files"]
    assert [f["file_name"] for f in files] == ["方案.pdf"]
    assert dc.appeal_file(con, files[0]["id"], REVIEWER) == ("方案.pdf", b"%PDF-1")
    assert dc.appeal_file(con, files[0]["id"], UNIT_B)[1] == b"%PDF-1"
    with pytest.raises(ClosingError):
        dc.appeal_file(con, files[0]["id"], UNIT_A)
    # answered → a new appeal on the same indicator is allowed again
    mc.answer_appeal(con, aid, "维持", "方案未印发", user=REVIEWER)
    dc.file_appeal(con, 2023, "乙镇", "A1", "补充印发文件", user=UNIT_B, today=D("2024-02-09"))


def test_answering_rules_and_audit():
    con = county()
    published(con)
    aid = dc.file_appeal(con, 2023, "乙镇", "A1", "有方案", user=UNIT_B, today=D("2024-02-08"))
    with pytest.raises(ClosingError, match="考核组或管理员"):
        mc.answer_appeal(con, aid, "维持", "x", user=UNIT_B)
    with pytest.raises(ClosingError, match="答复理由"):
        mc.answer_appeal(con, aid, "维持", "", user=REVIEWER)
    with pytest.raises(ClosingError, match="调整后的分值"):
        mc.answer_appeal(con, aid, "调整", "材料齐全", None, user=REVIEWER)
    with pytest.raises(ClosingError, match="超出范围"):
        mc.answer_appeal(con, aid, "调整", "材料齐全", "2.5", user=REVIEWER)  # A1 max 2
    with pytest.raises(ClosingError, match="与公示稿相同"):
        mc.answer_appeal(con, aid, "调整", "材料齐全", "1", user=REVIEWER)
    with pytest.raises(ClosingError, match="维持"):
        mc.answer_appeal(con, aid, "驳回", "x", user=REVIEWER)
    mc.answer_appeal(con, aid, "调整", "材料齐全", "2", user=REVIEWER)
    ap = dc.get_appeal(con, aid)
    assert (ap["status"], ap["new_score"], ap["answered_by"]) == ("调整", Decimal("2.00"), "考核组乙")
    with pytest.raises(ClosingError, match="已于"):
        mc.answer_appeal(con, aid, "维持", "x", user=REVIEWER)
    acts = [r[0] for r in con.execute("SELECT action FROM audit WHERE unit = '乙镇' ORDER BY id").fetchall()]
    assert acts[-2:] == ["提出申诉", "答复申诉"]


# --------------------------------------------------------------------------- finalise

def test_finalize_refused_while_appeals_open_or_period_running():
    con = county()
    published(con)
    aid = dc.file_appeal(con, 2023, "乙镇", "A1", "有方案", user=UNIT_B, today=D("2024-02-08"))
    with pytest.raises(ClosingError) as e:
        mc.finalize(con, 2023, REVIEWER, today=D("2024-02-21"))
    assert "1 条申诉未答复" in str(e.value) and "公示期" not in str(e.value)
    with pytest.raises(ClosingError, match="2024年02月20日"):
        mc.answer_appeal(con, aid, "维持", "方案未印发", user=REVIEWER) or \
            mc.finalize(con, 2023, REVIEWER, today=D("2024-02-20"))
    with pytest.raises(ClosingError, match="只有管理员"):
        mc.finalize(con, 2023, REVIEWER, today=D("2024-02-20"), early=True, reason="急")
    with pytest.raises(ClosingError, match="理由"):
        mc.finalize(con, 2023, ADMIN, today=D("2024-02-20"), early=True, reason=" ")
    assert dc.stage_of(con, 2023) == "公示"
    mc.finalize(con, 2023, REVIEWER, today=D("2024-02-21"))
    assert dc.stage_of(con, 2023) == "定稿"
    with pytest.raises(ClosingError, match="只有公示阶段"):
        mc.finalize(con, 2023, ADMIN, today=D("2024-02-22"))
    with pytest.raises(ClosingError, match="公示期内"):
        dc.file_appeal(con, 2023, "乙镇", "A2", "x", user=UNIT_B, today=D("2024-02-10"))


def test_admin_may_finalise_early_with_open_appeals():
    con = county()
    published(con)
    dc.file_appeal(con, 2023, "乙镇", "A1", "有方案", user=UNIT_B, today=D("2024-02-08"))
    sid = mc.finalize(con, 2023, ADMIN, today=D("2024-02-09"), early=True, reason="县政府常务会议定于次日审议")
    reason = dc.get_snapshot(con, sid)["early_reason"]
    assert reason.startswith("县政府常务会议定于次日审议") and "1 条申诉未答复" in reason
    assert "提前定稿理由" in con.execute("SELECT detail FROM audit WHERE action = '考核结果定稿'").fetchone()[0]


def test_final_snapshot_applies_adjustments_and_reranks_draft_stays():
    con = county()
    draft = published(con)
    # 甲镇 83, 乙镇 82 in the 公示稿 (A1 1 of 2)
    before = mc.results(con, 2023).set_index("unit")
    assert (before.loc["甲镇", "total"], before.loc["乙镇", "total"]) == (Decimal("83.00"), Decimal("82.00"))
    a = dc.file_appeal(con, 2023, "乙镇", "A1", "有方案", user=UNIT_B, today=D("2024-02-08"))
    b = dc.file_appeal(con, 2023, "甲镇", "A2", "请复核", user=UNIT_A, today=D("2024-02-08"))
    mc.answer_appeal(con, a, "调整", "方案已印发", "2", user=REVIEWER)
    mc.answer_appeal(con, b, "维持", "无新材料", user=REVIEWER)
    fin = mc.finalize(con, 2023, REVIEWER, today=D("2024-02-21"))
    df = mc.results(con, 2023).set_index("unit")
    assert df.attrs["source"] == "final"
    assert df.loc["乙镇", "A1"] == Decimal("2.00") and df.loc["乙镇", "total"] == Decimal("83.00")
    assert df.loc["乙镇", "rank"] == 1 and df.loc["甲镇", "rank"] == 1  # tie: both first
    pts = dc.snapshot_points(con, fin, "乙镇").set_index("code")
    assert pts.loc["A1", "appeal_id"] == a and pts.loc["A1", "points_before"] == Decimal("1.00")
    assert pts.loc["A2", "appeal_id"] is None
    pub = mc.results(con, 2023, "published").set_index("unit")
    assert pub.loc["乙镇", "total"] == Decimal("82.00")  # the 公示稿 remains viewable, unchanged
    assert dc.get_snapshot(con, fin)["based_on"] == draft


def test_penalty_appeals_adjust_k1_and_lift_k2():
    con = county()
    con.execute("INSERT INTO penalties (unit, year, k1_count, k2_veto, reason, reviewer) "
                "VALUES ('乙镇', 2023, 2, true, '通报两次；瞒报', '考核组乙')")
    published(con)
    pub = mc.results(con, 2023).set_index("unit")
    assert pub.loc["乙镇", "total"] == Decimal("76.00") and pub.loc["乙镇", "grade"] == "不合格"
    k1 = dc.file_appeal(con, 2023, "乙镇", "K1", "其中一次已撤销", user=UNIT_B, today=D("2024-02-08"))
    k2 = dc.file_appeal(con, 2023, "乙镇", "K2", "未瞒报", user=UNIT_B, today=D("2024-02-08"))
    assert dc.get_appeal(con, k1)["old_score"] == Decimal("6.00")
    with pytest.raises(ClosingError, match="调整后的扣分 9 超出范围，应在 0 到 6 分之间"):
        mc.answer_appeal(con, k1, "调整", "撤销一次", "9", user=REVIEWER)
    with pytest.raises(ClosingError, match="只能取消"):
        mc.answer_appeal(con, k2, "调整", "核实", "1", user=REVIEWER)
    mc.answer_appeal(con, k1, "调整", "撤销一次", "3", user=REVIEWER)
    mc.answer_appeal(con, k2, "调整", "经核实未瞒报", None, user=REVIEWER)
    mc.finalize(con, 2023, REVIEWER, today=D("2024-02-21"))
    fin = mc.results(con, 2023).set_index("unit")
    assert fin.loc["乙镇", "total"] == Decimal("79.00") and fin.loc["乙镇", "grade"] == "合格"
    assert fin.loc["乙镇", "k2_veto"] is False or fin.loc["乙镇", "k2_veto"] == False  # noqa: E712


# --------------------------------------------------------------------------- uploads past 填报

def test_upload_refusal_by_stage_permit_and_return():
    con = county()
    assert dc.upload_refusal(con, "丙局", 2023) is None
    mc.start_review(con, 2023, REVIEWER, today=AFTER_LATE)
    msg = dc.upload_refusal(con, "丙局", 2023)
    assert "审核" in msg
    with pytest.raises(ClosingError, match="理由"):
        dc.permit_upload(con, "丙局", 2023, "", REVIEWER)
    with pytest.raises(ClosingError, match="考核组或管理员"):
        dc.permit_upload(con, "丙局", 2023, "系统故障", UNIT_A)
    dc.permit_upload(con, "丙局", 2023, "系统故障未能上传", REVIEWER)
    assert dc.upload_refusal(con, "丙局", 2023) is None
    con.execute("UPDATE workflow SET status = '已退回' WHERE unit = '乙镇'")
    assert dc.upload_refusal(con, "乙镇", 2023) is None
    assert dc.upload_refusal(con, "甲镇", 2023) is not None
    approve_all(con)
    mc.publish(con, 2023, REVIEWER, today=D("2024-02-08"))
    assert "公示" in dc.upload_refusal(con, "丙局", 2023)


def test_cli_ingest_refused_for_a_year_past_filing(tmp_path, capsys, monkeypatch):
    from data.__main__ import main as data_main
    from tests.conftest import REGISTRY_TEXT
    from tests.wbfactory import build, valid_sheets

    db = tmp_path / "county.duckdb"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "units.csv").write_text(REGISTRY_TEXT, encoding="utf-8")
    assert data_main(["units", "load", "units.csv", "--db", str(db)]) == 0
    Path("a.xlsx").write_bytes(build(valid_sheets()))  # 方正县审计局, 2019
    con = new_db(db)
    mc.start_review(con, 2019, SYSTEM, today=D("2020-03-01"))
    con.close()
    capsys.readouterr()
    code = data_main(["ingest", "a.xlsx", "--received", "2020-01-13", "--db", str(db)])
    out = capsys.readouterr().out
    assert code == 1 and "已拒收" in out and "“审核”阶段" in out
    con = new_db(db)
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
    dc.permit_upload(con, "方正县审计局", 2019, "补报", SYSTEM)
    con.close()
    assert data_main(["ingest", "a.xlsx", "--received", "2020-01-13", "--db", str(db)]) == 0


# --------------------------------------------------------------------------- the unit's view

def test_unit_view_shows_reasons_only_once_reviewed():
    con = county()
    sid = con.execute("SELECT id FROM submissions WHERE unit = '乙镇'").fetchone()[0]
    set_review_score(con, sid, "A2", "2", "方案未经党组会审议", reviewer="考核组乙",
                     seen=snapshot(con, "乙镇", 2023))
    con.execute("INSERT INTO penalties (unit, year, k1_count, reason, reviewer) "
                "VALUES ('乙镇', 2023, 1, '市政府办公室通报（方政办〔2023〕5号）', '考核组乙')")
    assert mc.unit_view(con, 2023, "乙镇")["visible"] is False
    approve_all(con)
    v = mc.unit_view(con, 2023, "乙镇")
    assert v["visible"]
    ind = v["indicators"].set_index("code")
    assert ind.loc["A2", "review_score"] == Decimal("2.00")
    assert ind.loc["A2", "review_reason"] == "方案未经党组会审议" and ind.loc["A2", "reviewer"] == "考核组乙"
    assert ind.loc["A1", "self_score"] == Decimal("1.00")
    assert v["penalties"]["reason"] == "市政府办公室通报（方政办〔2023〕5号）"
    assert v["penalties"]["k1_points"] == Decimal("3")
    assert "机构职能" in v["missing_categories"]  # no ledger items at all
    assert v["can_appeal"] is False
