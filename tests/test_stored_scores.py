"""Stored scores (issue 14, item 3): every change that can move a score stores the
unit-year's figures right after its commit; pages read them and rank with cheap SQL;
a stored row that no longer matches its inputs is never used (scored live instead)."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from data import review as rv
from data import store
from data.access import SYSTEM
from data.calendar import load_calendar_csv
from data.ingest import ingest_bytes
from data.users import create_user
from metrics import engine
from metrics.engine import rescore, score_year, trend
from tests import wbfactory as wf

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

UNIT, TOWN = wf.UNIT, wf.TOWN
REV = "shenhe"


@pytest.fixture(autouse=True)
def reviewer(con):
    create_user(con, REV, "reviewer", "shenhe123", actor=SYSTEM)


def _upload(con, received, unit=UNIT, unit_type="部门", overrides=None):
    sheets = wf.valid_sheets(unit=unit, unit_type=unit_type)
    if overrides:
        sheets["自评打分"] = wf.scores_sheet(2019, overrides)
    res = ingest_bytes(con, f"{unit}.xlsx", wf.build(sheets), received=received, actor=None)
    assert res.outcome == "accepted", res.report
    return res.submission_id


def live(con, monkeypatch, year=2019, unit=None):
    """The scorecard scored from scratch, ignoring what is stored."""
    with monkeypatch.context() as m:
        m.setattr(engine, "LIVE_SHARE", -1.0)
        return score_year(con, year, unit=unit)


def rows(con, year=2019, unit=None):
    sql = "SELECT count(*) FROM unit_scores WHERE year = ?"
    args = [year]
    if unit:
        sql += " AND unit = ?"
        args.append(unit)
    return con.execute(sql, args).fetchone()[0]


def stored_total(con, unit, year=2019):
    return con.execute("SELECT total_c FROM unit_scores WHERE unit = ? AND year = ? ORDER BY id DESC LIMIT 1",
                       [unit, year]).fetchone()[0]


def test_the_first_accepted_version_stores_its_whole_year(con, received, monkeypatch):
    units = con.execute("SELECT count(*) FROM units").fetchone()[0]
    assert rows(con) == 0  # loading the registry stores nothing while no year is stored
    _upload(con, received, overrides={"B1": 3})
    assert rows(con) == units  # every registered unit of 2019, the unsubmitted ones too
    assert rows(con, 2020) == 0
    card = score_year(con, 2019)
    assert card.equals(live(con, monkeypatch))
    mine = card[card.unit == UNIT].iloc[0]
    assert stored_total(con, UNIT) == int(mine["total"] * 100)
    assert card[card.unit == TOWN].iloc[0]["status"] == "未报送"


def test_a_reviewer_score_stores_only_that_unit_year(con, received, monkeypatch):
    sid = _upload(con, received)
    _upload(con, received, unit=TOWN, unit_type="乡镇")
    before = rows(con)
    old = score_year(con, 2019, unit=UNIT).iloc[0]["total"]
    assert rv.set_review_score(con, sid, "A1", "2.5", "分工文件未盖章", REV, seen=rv.snapshot(con, UNIT, 2019))
    assert rows(con) == before + 1 and rows(con, unit=UNIT) == 2  # the year stored whole, then the review
    new = score_year(con, 2019, unit=UNIT).iloc[0]
    assert new["total"] == old - Decimal("1.5")
    assert stored_total(con, UNIT) == int(new["total"] * 100)
    assert score_year(con, 2019).equals(live(con, monkeypatch))


def test_penalties_and_decisions_are_stored(con, received, monkeypatch):
    _upload(con, received)
    seen = rv.snapshot(con, UNIT, 2019)
    rv.set_penalties(con, UNIT, 2019, 2, False, "两次通报批评", REV, seen=seen)
    card = score_year(con, 2019, unit=UNIT).iloc[0]
    assert card["k1_count"] == 2
    assert con.execute("SELECT k1_count FROM unit_scores WHERE unit = ? ORDER BY id DESC LIMIT 1",
                       [UNIT]).fetchone()[0] == 2
    rv.set_penalties(con, UNIT, 2019, 0, True, "一票否决", REV, seen=rv.snapshot(con, UNIT, 2019))
    card = score_year(con, 2019, unit=UNIT).iloc[0]
    assert card["grade"] == engine.scheme_mod.scheme_for(2019).fail_grade
    assert score_year(con, 2019).equals(live(con, monkeypatch))


def test_a_write_outside_the_data_layer_is_scored_live_and_reads_write_nothing(con, received, monkeypatch):
    sid = _upload(con, received)
    stored_before = stored_total(con, UNIT)
    n = con.execute("SELECT count(*) FROM unit_scores").fetchone()[0]
    # a raw change the after-commit work never hears of
    con.execute("INSERT INTO review_scores (submission_id, code, score, reason, reviewer) VALUES (?, 'A1', 0, 'x', 'y')",
                [sid])
    con.execute("INSERT INTO penalties (unit, year, k1_count, k2_veto) VALUES (?, 2019, 1, false)", [UNIT])
    card = score_year(con, 2019, unit=UNIT).iloc[0]
    fresh = live(con, monkeypatch, unit=UNIT).iloc[0]
    assert card.equals(fresh)
    assert card["k1_count"] == 1 and int(card["total"] * 100) < stored_before
    assert con.execute("SELECT count(*) FROM unit_scores").fetchone()[0] == n  # reading stored nothing
    assert trend(con).equals(trend_live(con, monkeypatch))


def trend_live(con, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(engine, "LIVE_SHARE", -1.0)
        return trend(con)


def test_another_scheme_is_scored_live(con, received, monkeypatch):
    _upload(con, received)
    s = engine.scheme_mod.scheme_for(2019)
    changed = dataclasses.replace(s, k1_points=s.k1_points + 1)
    rv.set_penalties(con, UNIT, 2019, 1, False, "通报批评", REV, seen=rv.snapshot(con, UNIT, 2019))
    a = score_year(con, 2019, unit=UNIT).iloc[0]["total"]
    b = score_year(con, 2019, scheme=changed, unit=UNIT).iloc[0]["total"]
    assert a - b == Decimal(1)


def test_a_calendar_change_stores_every_stored_year_again(con, received, monkeypatch):
    _upload(con, received)
    key_before = con.execute("SELECT DISTINCT ykey FROM unit_scores").fetchall()
    load_calendar_csv(con, 2019, "日期,类型\n2019-12-02,节假日\n", actor=SYSTEM)
    keys = con.execute("SELECT ykey FROM unit_scores WHERE year = 2019 ORDER BY id DESC LIMIT 1").fetchall()
    assert keys != key_before
    # compacted: one row per unit-year
    assert con.execute("SELECT count(*) FROM unit_scores WHERE year = 2019").fetchone()[0] == \
        con.execute("SELECT count(*) FROM units").fetchone()[0]
    assert score_year(con, 2019).equals(live(con, monkeypatch))


def test_rescore_compacts_to_one_row_per_unit_year(con, received, monkeypatch):
    sid = _upload(con, received)
    rv.set_review_score(con, sid, "A1", "3", "材料不全", REV, seen=rv.snapshot(con, UNIT, 2019))
    units = con.execute("SELECT count(*) FROM units").fetchone()[0]
    assert rows(con) > units
    done = rescore(con, [2019])
    assert done == {2019: units} and rows(con) == units
    assert con.execute("SELECT count(*) FROM score_points sp LEFT JOIN unit_scores u ON u.id = sp.score_id "
                       "WHERE u.id IS NULL").fetchone()[0] == 0
    assert score_year(con, 2019).equals(live(con, monkeypatch))


def test_a_failing_store_never_undoes_the_write(con, received, monkeypatch, caplog):
    sid = _upload(con, received)

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "store_scores", broken)
    assert rv.set_review_score(con, sid, "A1", "1", "无材料", REV, seen=rv.snapshot(con, UNIT, 2019))
    assert "after-commit work failed" in caplog.text
    monkeypatch.undo()
    card = score_year(con, 2019, unit=UNIT).iloc[0]
    assert card.equals(live(con, monkeypatch, unit=UNIT).iloc[0])
    assert con.execute("SELECT score FROM review_scores WHERE submission_id = ?", [sid]).fetchone()[0] == 1


def test_deferred_stores_once_at_the_end(con, received):
    with store.deferred(con):
        _upload(con, received)
        _upload(con, received, unit=TOWN, unit_type="乡镇")
        assert rows(con) == 0
    assert rows(con) == con.execute("SELECT count(*) FROM units").fetchone()[0]


def test_the_rescore_command(con, db_target, received, capsys):
    from metrics.__main__ import main

    sid = _upload(con, received)
    rv.set_review_score(con, sid, "A1", "3", "材料不全", REV, seen=rv.snapshot(con, UNIT, 2019))
    units = con.execute("SELECT count(*) FROM units").fetchone()[0]
    con.close()
    assert main(["rescore", "--year", "2019", "--db", str(db_target)]) == 0
    assert f"2019年度：已重新计算并保存 {units} 个单位的得分" in capsys.readouterr().out
    c = store.connect(db_target)
    try:
        assert rows(c) == units
    finally:
        c.close()
    with pytest.raises(SystemExit) as e:
        main(["rescore", "--year", "1999", "--db", str(db_target)])
    assert e.value.code == 2
    assert "没有1999年度的考核指标体系" in capsys.readouterr().err


# --------------------------------------------------------------------------- stored ledger figures

def items_live(con, monkeypatch, year=2019):
    """item_aggregates and coverage_matrix computed from the ledgers, ignoring what is stored."""
    with monkeypatch.context() as m:
        m.setattr(engine, "LIVE_SHARE", -1.0)
        return engine.item_aggregates(con, year), engine.coverage_matrix(con, year)


def same_items(con, monkeypatch, year=2019):
    (monthly, late), cov = engine.item_aggregates(con, year), engine.coverage_matrix(con, year)
    (monthly2, late2), cov2 = items_live(con, monkeypatch, year)
    return monthly.equals(monthly2) and late.equals(late2) and cov.equals(cov2)


def batches(con, sid):
    return con.execute("SELECT count(*) FROM item_stats WHERE sid = ? AND kind = 'done'", [sid]).fetchone()[0]


def test_a_versions_ledger_figures_are_stored_once_and_read(con, received, monkeypatch):
    sid = _upload(con, received)
    town = _upload(con, received, unit=TOWN, unit_type="乡镇")
    assert batches(con, sid) == 1 and batches(con, town) == 1
    n_items = con.execute("SELECT count(*) FROM ledger_items WHERE submission_id = ?", [sid]).fetchone()[0]
    months = con.execute("SELECT sum(n) FROM item_stats WHERE sid = ? AND kind = 'month'", [sid]).fetchone()[0]
    assert 0 < months <= n_items  # the counted items (formed in the year) of the version
    assert same_items(con, monkeypatch)
    # a reviewer's score moves the score, not the ledger: no new figures
    rv.set_review_score(con, sid, "A1", "2", "材料不全", REV, seen=rv.snapshot(con, UNIT, 2019))
    assert batches(con, sid) == 1
    # a new version: its own figures; the old version's are no longer read
    sid2 = _upload(con, received, overrides={"B1": 3})
    assert batches(con, sid2) == 1 and same_items(con, monkeypatch)
    monthly, _ = engine.item_aggregates(con, 2019)
    assert monthly[monthly.unit == UNIT]["n"].sum() == con.execute(
        "SELECT sum(n) FROM item_stats WHERE sid = ? AND kind = 'month'", [sid2]).fetchone()[0]


def test_a_second_batch_of_one_version_is_not_counted_twice(con, received, monkeypatch):
    sid = _upload(con, received)
    before = engine.item_aggregates(con, 2019)[0]
    s = engine._scheme(2019)
    with engine._params(con, [s]):  # what a second process storing the same version at once writes
        key = engine._year_keys(con, [s])[2019]
        tbl = engine._item_stats_live(con, [UNIT])
        with store.transaction(con):
            engine._insert_item_stats(con, tbl, key)
    assert batches(con, sid) == 2
    after = engine.item_aggregates(con, 2019)[0]
    assert after.equals(before) and same_items(con, monkeypatch)


def test_versions_without_stored_figures_are_computed_live(con, received, monkeypatch):
    sid = _upload(con, received)
    _upload(con, received, unit=TOWN, unit_type="乡镇")
    con.execute("DELETE FROM item_stats WHERE sid = ?", [sid])  # one of two missing: more than the live share
    n = con.execute("SELECT count(*) FROM item_stats").fetchone()[0]
    assert same_items(con, monkeypatch)
    monkeypatch.setattr(engine, "LIVE_SHARE", 0.9)  # one of two missing: stored + live for the missing one
    assert same_items(con, monkeypatch)
    assert con.execute("SELECT count(*) FROM item_stats").fetchone()[0] == n  # reading stored nothing
    # the next write of that unit-year stores the version's figures again
    rv.set_review_score(con, sid, "A1", "2", "材料不全", REV, seen=rv.snapshot(con, UNIT, 2019))
    assert batches(con, sid) == 1


def test_a_calendar_change_and_rescore_store_the_figures_again(con, received, monkeypatch):
    sid = _upload(con, received)
    key = con.execute("SELECT DISTINCT ykey FROM item_stats WHERE sid = ?", [sid]).fetchall()
    # 2019-12-02 a holiday: deadlines move, so the stored states are for another calendar
    load_calendar_csv(con, 2019, "日期,类型\n2019-12-02,节假日\n", actor=SYSTEM)
    assert con.execute("SELECT DISTINCT ykey FROM item_stats WHERE sid = ?", [sid]).fetchall() not in ([], key)
    assert batches(con, sid) == 1  # compacted: the old key's rows are gone
    assert same_items(con, monkeypatch)
    rescore(con, [2019])
    assert batches(con, sid) == 1 and same_items(con, monkeypatch)
