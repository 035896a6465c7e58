"""Storing workbooks (workbook.md, "Submissions and versions"): typed rows,
versions, unchanged re-sends, rejections that change no data, the approval
lock, and all-or-nothing writes."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import duckdb
import pytest

import data.ingest as ingest_mod
from data.ingest import ACCEPTED, REJECTED, UNCHANGED, StoreError, ingest_bytes, ingest_file
from core.scheme import scheme_for
from tests.wbfactory import TOWN, UNIT, build, valid_sheets

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

SCHEME = scheme_for(2019)
LOGS = ("rejections", "audit")


def snapshot(con) -> dict[str, list]:
    """Every table's full content, in a stable order."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
    return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in tables}


def count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def workbook(fmt="xlsx", **info) -> bytes:
    return build(valid_sheets(**info), fmt)


def changed_workbook(score=3.5) -> bytes:
    s = valid_sheets()
    s["自评打分"].rows[2][4] = score  # A1
    return build(s)


def bad_workbook() -> bytes:
    s = valid_sheets()
    s["主动公开台账"].rows[2][2] = "八卦新闻"
    return build(s)


def assert_only_logs_grew(before, after, n=1):
    for t in before:
        if t in LOGS:
            assert len(after[t]) == len(before[t]) + n, t
            assert set(before[t]) <= set(after[t]), t  # nothing changed, one row added
        else:
            assert after[t] == before[t], t


# ---------------------------------------------------------------- accepted

def test_accepted_workbook_rows_are_stored_typed(con, received):
    content = workbook()
    res = ingest_bytes(con, "审计局.xlsx", content, received=received, actor="张三")
    assert res.outcome == ACCEPTED and (res.unit, res.year, res.version) == (UNIT, 2019, 1)
    assert res.sha256 == hashlib.sha256(content).hexdigest()
    assert "已接收" in res.summary() and "第1版" in res.summary()

    sub = con.execute("""SELECT id, unit, year, version, received, uploaded_by, file_name, sha256, content, reporter,
                                phone, report_date, warnings FROM submissions""").fetchall()
    assert len(sub) == 1
    sid, unit, year, version, rec, by, name, sha, blob, reporter, phone, report_date, warns = sub[0]
    assert (sid, unit, year, version, rec, by, name) == (res.submission_id, UNIT, 2019, 1, received, "张三", "审计局.xlsx")
    assert sha == hashlib.sha256(content).hexdigest() and bytes(blob) == content
    assert (reporter, phone, report_date) == ("张三", "0451-7123456", dt.date(2020, 1, 5))
    assert json.loads(warns) == []

    scores = dict(con.execute("SELECT code, score FROM self_scores WHERE submission_id = ?", [sid]).fetchall())
    assert set(scores) == {i.code for i in SCHEME.self_indicators}
    assert scores["A1"] == Decimal("4.00") and isinstance(scores["A1"], Decimal) and scores["J1"] == 0
    assert con.execute("SELECT note, evidence, sheet_row FROM self_scores WHERE code = 'A1'").fetchone() == \
        ("", ["http://example.gov.cn/a"], 3)

    items = con.execute("""SELECT sheet_row, seq, title, category, formed, published, channels, url
                           FROM ledger_items WHERE submission_id = ? ORDER BY sheet_row""", [sid]).fetchall()
    assert items == [
        (3, "1", "2019年部门预算", "C07", dt.date(2019, 3, 1), dt.date(2019, 3, 10), ["政府网站"], "http://x/1"),
        (4, "2", "机构职能介绍", "C01", dt.date(2019, 2, 11), dt.date(2019, 2, 12), ["政府网站", "公开栏"], ""),
    ]
    reqs = con.execute("""SELECT sheet_row, request_no, applicant_type, received, corrected, extended, answered,
                                 result, review_result FROM requests WHERE submission_id = ?""", [sid]).fetchall()
    assert reqs == [(3, "SQ-001", "自然人", dt.date(2019, 6, 3), None, False, dt.date(2019, 6, 20), "予以公开", "")]

    assert con.execute("SELECT status, updated_by FROM workflow WHERE unit = ? AND year = 2019", [UNIT]).fetchone() == \
        ("待审核", "张三")
    assert con.execute("SELECT action, actor, unit, year FROM audit WHERE action = '上传自评表'").fetchall() == \
        [("上传自评表", "张三", UNIT, 2019)]
    assert count(con, "rejections") == 0


def test_scores_keep_their_decimals(con, received):
    s = valid_sheets()
    s["自评打分"].rows[3][4] = "2.5分"    # A2
    s["自评打分"].rows[4][4] = 1.25       # A3
    ingest_bytes(con, "a.xlsx", build(s), received=received)
    scores = dict(con.execute("SELECT code, score FROM self_scores").fetchall())
    assert scores["A2"] == Decimal("2.50") and scores["A3"] == Decimal("1.25")


def test_legacy_xls_is_stored_like_xlsx(con, received):
    res = ingest_bytes(con, "方正镇.xls", workbook("xls", unit=TOWN, unit_type="镇"), received=received)
    assert res.outcome == ACCEPTED and res.unit == TOWN
    assert count(con, "ledger_items") == 2 and count(con, "requests") == 1
    assert count(con, "self_scores") == len(SCHEME.self_indicators)


def test_versions_on_resubmission_newest_is_current_earlier_kept(con, received):
    v1, v2 = workbook(), changed_workbook(3.5)
    r1 = ingest_bytes(con, "v1.xlsx", v1, received=received)
    r2 = ingest_bytes(con, "v2.xlsx", v2, received=received + dt.timedelta(days=2))
    assert (r1.outcome, r1.version, r2.outcome, r2.version) == (ACCEPTED, 1, ACCEPTED, 2)
    assert r1.submission_id != r2.submission_id
    rows = con.execute("SELECT version, file_name, sha256, content, received FROM submissions ORDER BY version").fetchall()
    assert [(v, f, s, bytes(c), d) for v, f, s, c, d in rows] == [
        (1, "v1.xlsx", hashlib.sha256(v1).hexdigest(), v1, received),
        (2, "v2.xlsx", hashlib.sha256(v2).hexdigest(), v2, received + dt.timedelta(days=2))]
    # each version keeps its own rows; the current one is the newest
    by_version = dict(con.execute("""SELECT s.version, c.score FROM self_scores c JOIN submissions s ON s.id = c.submission_id
                                     WHERE c.code = 'A1'""").fetchall())
    assert by_version == {1: Decimal("4.00"), 2: Decimal("3.50")}
    current = con.execute("""SELECT id FROM submissions WHERE unit = ? AND year = 2019
                             ORDER BY version DESC LIMIT 1""", [UNIT]).fetchone()[0]
    assert current == r2.submission_id
    assert count(con, "ledger_items") == 4 and count(con, "requests") == 2
    # a third, different file is version 3
    r3 = ingest_bytes(con, "v3.xlsx", changed_workbook(2), received=received)
    assert r3.version == 3


def test_versions_are_per_unit_and_year(con, received):
    assert ingest_bytes(con, "a.xlsx", workbook(), received=received).version == 1
    assert ingest_bytes(con, "b.xlsx", workbook(unit=TOWN, unit_type="乡镇"), received=received).version == 1
    s = valid_sheets(year=2020, date="2021-01-05")
    s["主动公开台账"].rows[2][3:5] = ["2020-03-01", "2020-03-02"]
    s["主动公开台账"].rows[3][3:5] = ["2020-03-01", "2020-03-02"]
    s["依申请公开台账"].rows[2][2] = "2020-06-03"
    s["依申请公开台账"].rows[2][5] = "2020-06-20"
    res = ingest_bytes(con, "c.xlsx", build(s), received=dt.date(2021, 1, 8))
    assert (res.outcome, res.year, res.version) == (ACCEPTED, 2020, 1), res.report.rows()


def test_byte_identical_resend_is_unchanged_and_writes_nothing(con, received):
    content = workbook()
    first = ingest_bytes(con, "a.xlsx", content, received=received)
    before = snapshot(con)
    again = ingest_bytes(con, "again.xlsx", content, received=received + dt.timedelta(days=1), actor="李四")
    assert again.outcome == UNCHANGED
    assert (again.unit, again.year, again.version, again.submission_id) == (UNIT, 2019, 1, first.submission_id)
    assert "未变化" in again.summary() and "第1版" in again.summary()
    assert snapshot(con) == before


def test_identical_to_an_older_version_is_a_new_version(con, received):
    v1 = workbook()
    ingest_bytes(con, "a.xlsx", v1, received=received)
    ingest_bytes(con, "b.xlsx", changed_workbook(), received=received)
    res = ingest_bytes(con, "c.xlsx", v1, received=received)
    assert (res.outcome, res.version) == (ACCEPTED, 3)


# ---------------------------------------------------------------- rejected

def test_rejected_workbook_changes_no_data_when_the_unit_had_none(con, received):
    before = snapshot(con)
    content = bad_workbook()
    res = ingest_bytes(con, "bad.xlsx", content, received=received, actor="张三")
    assert res.outcome == REJECTED and res.version is None and res.submission_id is None
    assert "已拒收" in res.summary() and "1个错误" in res.summary()
    after = snapshot(con)
    assert_only_logs_grew(before, after)
    unit, year, file_name, sha, rec, by, issues = con.execute(
        "SELECT unit, year, file_name, sha256, received, uploaded_by, issues FROM rejections").fetchone()
    assert (unit, year, file_name, rec, by) == (UNIT, 2019, "bad.xlsx", received, "张三")
    assert sha == hashlib.sha256(content).hexdigest()
    issues = json.loads(issues)
    assert [(i["code"], i["location"]) for i in issues] == [("category_unknown", "主动公开台账!C3")]
    assert con.execute("SELECT action FROM audit ORDER BY id DESC LIMIT 1").fetchone() == ("上传被拒收",)


def test_rejected_workbook_keeps_the_accepted_version_exactly(con, received):
    ingest_bytes(con, "good.xlsx", workbook(), received=received)
    before = snapshot(con)
    res = ingest_bytes(con, "bad.xlsx", bad_workbook(), received=received)
    assert res.outcome == REJECTED
    assert_only_logs_grew(before, snapshot(con))
    assert con.execute("SELECT max(version) FROM submissions").fetchone() == (1,)


@pytest.mark.parametrize("content", [b"", b"%PDF-1.4 not a workbook", b"PK\x03\x04broken"])
def test_unreadable_files_are_logged_as_rejections(con, received, content):
    ingest_bytes(con, "good.xlsx", workbook(), received=received)
    before = snapshot(con)
    res = ingest_bytes(con, "x.xlsx", content, received=received)
    assert res.outcome == REJECTED and res.unit is None
    assert_only_logs_grew(before, snapshot(con))
    unit, issues = con.execute("SELECT unit, issues FROM rejections").fetchone()
    assert unit is None and json.loads(issues)[0]["code"].startswith("file_")


def test_a_date_later_than_the_received_day_is_an_error(con, received):
    s = valid_sheets()
    s["主动公开台账"].rows[2][4] = (received + dt.timedelta(days=1)).isoformat()
    res = ingest_bytes(con, "a.xlsx", build(s), received=received)
    assert res.outcome == REJECTED
    assert [(i.code, i.location) for i in res.report.errors] == [("date_future", "主动公开台账!E3")]
    assert count(con, "submissions") == 0
    # received one day later, the same file is fine
    assert ingest_bytes(con, "a.xlsx", build(s), received=received + dt.timedelta(days=1)).outcome == ACCEPTED


def test_today_can_be_later_than_the_received_day(con, received):
    s = valid_sheets()
    s["主动公开台账"].rows[2][4] = (received + dt.timedelta(days=3)).isoformat()
    res = ingest_bytes(con, "a.xlsx", build(s), received=received, today=received + dt.timedelta(days=5))
    assert res.outcome == ACCEPTED
    assert con.execute("SELECT received FROM submissions").fetchone() == (received,)


def test_outside_year_rows_are_stored_with_a_warning(con, received):
    s = valid_sheets()
    s["主动公开台账"].rows[2][3:5] = ["2018-12-20", "2019-01-04"]
    s["依申请公开台账"].rows[2][2] = "2018-12-28"
    res = ingest_bytes(con, "a.xlsx", build(s), received=received)
    assert res.outcome == ACCEPTED
    assert {(i.code, i.location) for i in res.report.warnings} == {
        ("item_outside_year", "主动公开台账!D3"), ("request_outside_year", "依申请公开台账!C3")}
    assert "2条警告" in res.summary()
    assert con.execute("SELECT formed FROM ledger_items WHERE sheet_row = 3").fetchone() == (dt.date(2018, 12, 20),)
    assert con.execute("SELECT received FROM requests").fetchone() == (dt.date(2018, 12, 28),)
    stored = json.loads(con.execute("SELECT warnings FROM submissions").fetchone()[0])
    assert {(w["code"], w["location"]) for w in stored} == {
        ("item_outside_year", "主动公开台账!D3"), ("request_outside_year", "依申请公开台账!C3")}


# ---------------------------------------------------------------- approval lock

def test_approved_submission_refuses_uploads_until_reopened(con, received):
    ingest_bytes(con, "v1.xlsx", workbook(), received=received)
    con.execute("UPDATE workflow SET status = '已审核' WHERE unit = ? AND year = 2019", [UNIT])
    before = snapshot(con)
    res = ingest_bytes(con, "v2.xlsx", changed_workbook(), received=received)
    assert res.outcome == REJECTED
    assert [(i.code, i.location) for i in res.report.errors] == [("submission_approved", "单位信息!B2")]
    msg = res.report.errors[0].message
    assert "已审核" in msg and "重新打开" in msg and UNIT in msg and "2019" in msg
    assert_only_logs_grew(before, snapshot(con))
    assert con.execute("SELECT status FROM workflow").fetchone() == ("已审核",)
    # a byte-identical re-send changes nothing either
    assert ingest_bytes(con, "v1.xlsx", workbook(), received=received).outcome == UNCHANGED
    # reopened by a reviewer: the upload goes through as version 2, back to 待审核
    con.execute("UPDATE workflow SET status = '待审核' WHERE unit = ? AND year = 2019", [UNIT])
    res = ingest_bytes(con, "v2.xlsx", changed_workbook(), received=received)
    assert (res.outcome, res.version) == (ACCEPTED, 2)
    assert con.execute("SELECT status FROM workflow").fetchone() == ("待审核",)


def test_approval_of_one_unit_does_not_lock_another(con, received):
    ingest_bytes(con, "a.xlsx", workbook(), received=received)
    con.execute("UPDATE workflow SET status = '已审核'")
    res = ingest_bytes(con, "b.xlsx", workbook(unit=TOWN, unit_type="乡镇"), received=received)
    assert res.outcome == ACCEPTED


def test_returned_submission_goes_back_to_pending_on_upload(con, received):
    ingest_bytes(con, "a.xlsx", workbook(), received=received)
    con.execute("UPDATE workflow SET status = '已退回', comment = '请补充佐证'")
    ingest_bytes(con, "b.xlsx", changed_workbook(), received=received)
    assert con.execute("SELECT status FROM workflow").fetchone() == ("待审核",)
    assert con.execute("SELECT before, after FROM audit WHERE action = '上传自评表' ORDER BY id DESC LIMIT 1"
                       ).fetchone() == ("已退回", "待审核")


def test_a_unit_account_may_only_upload_its_own_unit(con, received):
    before = snapshot(con)
    res = ingest_bytes(con, "a.xlsx", workbook(), received=received, only_unit=TOWN)
    assert res.outcome == REJECTED and res.report.errors[0].code == "unit_not_allowed"
    # located where the unit's name is written (单位信息 B2), not just the sheet
    assert (res.report.errors[0].sheet, res.report.errors[0].cell) == ("单位信息", "B2")
    assert_only_logs_grew(before, snapshot(con))
    assert ingest_bytes(con, "a.xlsx", workbook(), received=received, only_unit=UNIT).outcome == ACCEPTED


# ---------------------------------------------------------------- all or nothing

def _boom(*a, **k):
    raise RuntimeError("disk on fire")


@pytest.mark.parametrize("target", ["_insert_rows", "audit"])
def test_a_crash_mid_write_leaves_the_database_as_it_was(con, received, monkeypatch, target):
    ingest_bytes(con, "v1.xlsx", workbook(), received=received)
    before = snapshot(con)
    calls = []

    def spy(*a, **k):
        # the submission row is already written inside the transaction when this runs
        calls.append(con.execute("SELECT count(*) FROM submissions").fetchone()[0])
        _boom()

    monkeypatch.setattr(ingest_mod, target, spy)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_bytes(con, "v2.xlsx", changed_workbook(), received=received)
    assert calls == [2]
    assert snapshot(con) == before
    monkeypatch.undo()
    # the connection is usable and the next upload is version 2
    assert ingest_bytes(con, "v2.xlsx", changed_workbook(), received=received).version == 2


def test_a_database_error_mid_write_is_a_store_error_and_rolls_back(con, received, monkeypatch):
    before = snapshot(con)

    def failing_insert(con_, table, columns, select=None):
        con_.execute("INSERT INTO no_such_table VALUES (1)")

    monkeypatch.setattr(ingest_mod, "_insert_rows", failing_insert)
    with pytest.raises(StoreError, match="未作任何更改"):
        ingest_bytes(con, "a.xlsx", workbook(), received=received)
    assert snapshot(con) == before


def test_store_refuses_a_version_collision(con, received, monkeypatch):
    """Two writers racing for the same version: the UNIQUE key stops the second."""
    ingest_bytes(con, "v1.xlsx", workbook(), received=received)
    before = snapshot(con)
    monkeypatch.setattr(ingest_mod, "_state", lambda con_, u, y: (None, 0, None, None))
    with pytest.raises(StoreError):
        ingest_bytes(con, "v2.xlsx", changed_workbook(), received=received)
    assert snapshot(con) == before


# ---------------------------------------------------------------- files

def test_ingest_file_reads_the_file_and_keeps_its_name(con, received, tmp_path):
    p = tmp_path / "方正县审计局2019.xls"
    p.write_bytes(workbook("xls"))
    res = ingest_file(con, p, received=received)
    assert res.outcome == ACCEPTED and res.file_name == str(p)
    assert con.execute("SELECT file_name FROM submissions").fetchone() == (str(p),)


def test_ingest_file_missing(con, received, tmp_path):
    res = ingest_file(con, tmp_path / "nope.xlsx", received=received)
    assert res.outcome == REJECTED and "不存在" in res.report.errors[0].message
    assert count(con, "submissions") == 0


def test_connection_stays_usable_after_everything(con, received):
    for content in (b"", bad_workbook(), workbook(), workbook()):
        ingest_bytes(con, "x.xlsx", content, received=received)
    assert con.execute("SELECT count(*) FROM rejections").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM submissions").fetchone() == (1,)
    with pytest.raises(duckdb.Error):
        con.execute("COMMIT")  # no transaction left open


@pytest.mark.parametrize("typed, stored", [("2.125", Decimal("2.13")), ("2.124", Decimal("2.12")), (2.335, Decimal("2.34"))])
def test_score_with_more_than_two_decimals_is_rounded_half_up_with_a_warning(con, received, typed, stored):
    s = valid_sheets()
    s["自评打分"].rows[2][4] = typed  # A1
    res = ingest_bytes(con, "a.xlsx", build(s), received=received)
    assert res.outcome == ACCEPTED
    assert [(i.code, i.location) for i in res.report.warnings] == [("score_precision", "自评打分!E3")]
    assert con.execute("SELECT score FROM self_scores WHERE code = 'A1'").fetchone()[0] == stored


def test_the_approval_lock_is_reported_together_with_the_other_errors(con, received):
    ingest_bytes(con, "v1.xlsx", workbook(), received=received)
    con.execute("UPDATE workflow SET status = '已审核' WHERE unit = ? AND year = 2019", [UNIT])
    before = snapshot(con)
    res = ingest_bytes(con, "v2.xlsx", bad_workbook(), received=received)
    assert res.outcome == REJECTED
    assert {i.code for i in res.report.errors} == {"category_unknown", "submission_approved"}
    assert_only_logs_grew(before, snapshot(con))


def test_a_unit_accounts_attempt_with_another_units_file_is_logged_under_its_own_unit(con, received):
    # the other unit (审计局) is approved: a 方正镇 account must not learn that from the messages
    ingest_bytes(con, "a.xlsx", workbook(), received=received)
    con.execute("UPDATE workflow SET status = '已审核'")
    res = ingest_bytes(con, "审计局.xlsx", workbook(), received=received, only_unit=TOWN)
    assert res.outcome == REJECTED
    assert [i.code for i in res.report.errors] == ["unit_not_allowed"]
    assert res.unit == TOWN
    assert con.execute("SELECT unit FROM rejections").fetchall() == [(TOWN,)]
    assert con.execute("SELECT count(*) FROM rejections WHERE unit = ?", [UNIT]).fetchone()[0] == 0


def test_an_ods_workbook_is_accepted_like_xlsx(con, received):
    s = valid_sheets()
    s["自评打分"].rows[2][4] = "3.5分"  # A1, typed as text
    res = ingest_bytes(con, "审计局.ods", build(s, "ods"), received=received)
    assert res.outcome == ACCEPTED, res.report.rows()
    assert con.execute("SELECT score FROM self_scores WHERE code = 'A1'").fetchone()[0] == Decimal("3.50")
    assert con.execute("SELECT count(*) FROM ledger_items").fetchone()[0] == 2
    assert con.execute("SELECT request_no, answered FROM requests").fetchall() == [("SQ-001", dt.date(2019, 6, 20))]


def test_an_ods_workbook_with_an_error_names_the_cell(con, received):
    s = valid_sheets()
    s["主动公开台账"].rows[2][2] = "八卦新闻"
    res = ingest_bytes(con, "审计局.ods", build(s, "ods"), received=received)
    assert res.outcome == REJECTED
    assert [(i.code, i.location) for i in res.report.errors] == [("category_unknown", "主动公开台账!C3")]


def _annual_workbook(unit: str, unit_type: str, values: dict) -> bytes:
    from tests.wbfactory import annual_sheet, requests_sheet
    sheets = valid_sheets(unit=unit, unit_type=unit_type)
    sheets["依申请公开台账"] = requests_sheet([
        ["SQ-001", "自然人", "2019-06-03", "", "否", "2019-06-20", "予以公开", ""],
        ["SQ-002", "商业企业", "2019-07-01", "", "否", "2019-07-10", "不予公开", "纠正"]])
    sheets["年报数据"] = annual_sheet(values)
    return build(sheets)


def _annual_batch():
    from tests.wbfactory import annual_values
    good = annual_values(new={"natural": 1, "business": 1}, r_open={"natural": 1}, r_deny_1={"business": 1})
    good.update({("rv_review", "corrected"): 1, ("rv_review", "total"): 1})
    bad = dict(good)
    bad[("new", "natural")], bad[("new", "total")] = 2, 3  # T1 in 自然人 and 总计, L1 in both
    worse = dict(bad)
    worse[("rv_review", "total")] = 2  # and T4
    return [("a.xlsx", _annual_workbook(UNIT, "部门", bad)), ("b.xlsx", _annual_workbook(TOWN, "乡镇", good)),
            ("a2.xlsx", _annual_workbook(UNIT, "部门", worse))]


def _findings_of(con):
    return con.execute("""SELECT s.file_name, f.seq, f.rule, f.cell, f.expected, f.actual, f.message
                          FROM reconcile_findings f JOIN submissions s ON s.id = f.submission_id
                          ORDER BY s.file_name, f.seq""").fetchall()


def test_annual_findings_are_checked_once_per_group_and_each_file_gets_its_own(con, received, monkeypatch):
    calls = []
    real = ingest_mod.store_findings

    def counting(con_, ids):
        calls.append(list(ids))
        return real(con_, ids)

    monkeypatch.setattr(ingest_mod, "store_findings", counting)
    res = list(ingest_mod.ingest_many(con, _annual_batch(), received=received))
    assert [r.outcome for r in res] == [ACCEPTED] * 3 and [r.version for r in res] == [1, 1, 2]
    assert calls == [[r.submission_id for r in res]]  # one check for the group
    rules = [[i.code for i in r.report.warnings if i.code.startswith("annual_")] for r in res]
    assert rules == [["annual_t1", "annual_t1", "annual_l1", "annual_l1"], [],
                     ["annual_t1", "annual_t1", "annual_t4", "annual_l1", "annual_l1"]]
    stored = dict(con.execute("SELECT file_name, warnings FROM submissions").fetchall())
    for r in res:
        assert [i["code"] for i in json.loads(stored[r.file_name])] == [i.code for i in r.report.warnings]
    grouped = _findings_of(con)
    assert [(f, s, ru) for f, s, ru, *_ in grouped if f == "a.xlsx"] == [
        ("a.xlsx", 1, "T1"), ("a.xlsx", 2, "T1"), ("a.xlsx", 3, "L1"), ("a.xlsx", 4, "L1")]
    # the same rows, in the same order, as when the files come one by one
    from data.store import transaction
    with transaction(con):
        con.execute("DELETE FROM reconcile_findings")
        for r in res:
            real(con, [r.submission_id])
    assert _findings_of(con) == grouped


def test_annual_findings_survive_the_one_by_one_fallback(con, received, monkeypatch):
    """The group's check fails: the group is rolled back and stored file by file, each with its findings."""
    real = ingest_mod.store_findings
    calls = []

    def failing_once(con_, ids):
        calls.append(list(ids))
        if len(calls) == 1:
            con_.execute("INSERT INTO no_such_table VALUES (1)")
        return real(con_, ids)

    monkeypatch.setattr(ingest_mod, "store_findings", failing_once)
    res = list(ingest_mod.ingest_many(con, _annual_batch(), received=received))
    assert [r.outcome for r in res] == [ACCEPTED] * 3 and [r.version for r in res] == [1, 1, 2]
    assert len(calls) == 4 and [len(c) for c in calls] == [3, 1, 1, 1]
    assert [len([i for i in r.report.warnings if i.code.startswith("annual_")]) for r in res] == [4, 0, 5]
    assert [f for f, *_ in _findings_of(con)] == ["a.xlsx"] * 4 + ["a2.xlsx"] * 5


# ---------------------------------------------------------------- a batch of dated uploads

def test_dated_uploads_keep_each_files_day_sender_and_time(con, received):
    """ingest_uploads (the demonstration county's historical record): one batch, stored in one
    group, yet each file is checked against its own day and recorded with its own received day,
    sender and time, as if uploaded one by one."""
    from data.ingest import Upload, ingest_uploads

    late = received + dt.timedelta(days=2)
    s = valid_sheets()
    s["主动公开台账"].rows[2][4] = (received + dt.timedelta(days=1)).isoformat()  # after `received`, not after `late`
    t1, t2, t3 = (dt.datetime(2020, 1, 8, 9, 15), dt.datetime(2020, 1, 9, 10, 30), dt.datetime(2020, 1, 10, 14, 5))
    res = list(ingest_uploads(con, [
        Upload("town.xlsx", build(valid_sheets(unit=TOWN, unit_type="乡镇")), received, actor="甲", at=t1),
        Upload("early.xlsx", build(s), received, actor="乙", at=t2),       # a date after its own day: refused
        Upload("late.xlsx", build(s), late, actor="丙", at=t3),            # the same file two days later: fine
    ]))
    assert [r.outcome for r in res] == [ACCEPTED, REJECTED, ACCEPTED]
    assert [(i.code, i.location) for i in res[1].report.errors] == [("date_future", "主动公开台账!E3")]
    assert con.execute("SELECT file_name, unit, received, uploaded_by, uploaded_at FROM submissions ORDER BY id"
                       ).fetchall() == [("town.xlsx", TOWN, received, "甲", t1), ("late.xlsx", UNIT, late, "丙", t3)]
    assert con.execute("SELECT file_name, received, uploaded_by, attempted_at FROM rejections").fetchall() == [
        ("early.xlsx", received, "乙", t2)]
    assert con.execute("SELECT at_time, actor, action FROM audit WHERE action LIKE '上传%' ORDER BY id").fetchall() == [
        (t1, "甲", "上传自评表"), (t2, "乙", "上传被拒收"), (t3, "丙", "上传自评表")]
    assert con.execute("SELECT unit, updated_by, updated_at FROM workflow ORDER BY unit").fetchall() == sorted(
        [(TOWN, "甲", t1), (UNIT, "丙", t3)])
