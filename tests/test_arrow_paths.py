"""The province pages' Arrow paths give exactly the answers of the pandas paths they
replaced: the display view of a scorecard, the county and group figures over its Arrow
table, the trend of every year (live years scored in one pass, a published year read
from its 公示稿), the ledger figures per unit type, category coverage of chosen units
and rates as text."""
from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from core.scheme import scheme_for, years
from dashboard import viz
from dashboard.queries import to_float
from data.frames import display_frame, scratch_cursor
from data.review import set_review_score, snapshot
from metrics import closing as mc
from metrics import engine
from metrics import summary as sm
from tests.metrics_fixtures import D, add_account, add_unit, cover, item, max_scores, new_db, request, submit

REVIEWER = {"name": "考核组乙", "role": "reviewer", "unit": None}
TYPES = [None, "乡镇", "部门"]
UNITS = ["甲镇", "乙镇", "丙局", "丁局", "戊局"]
ITEM_UNITS = ["甲镇", "丙局", "戊局"]  # a town, a department with late items, one without a ledger
TREND_COLS = engine.TREND_COLUMNS + ["grade", "rank", "provisional"]


def county(path=None):
    """Two towns and three departments over 2022 (a 公示稿 published, then a reviewer
    score changed behind its back, so live ≠ published) and 2023 (live: after the
    published year, so the trend's years must be put in order).  2019–2021: nobody
    submitted.  ``path``: a database file instead (the dashboard reads one)."""
    con = new_db(path)
    for name, t in [("甲镇", "乡镇"), ("乙镇", "乡镇"), ("丙局", "部门"), ("丁局", "部门"), ("戊局", "部门")]:
        add_unit(con, name, t)
    # 2022: 丁局 and 戊局 did not submit; 丙局 late (after the cut-off 2023-01-10)
    a22 = a = submit(con, "甲镇", 2022, "2023-01-05", scores=max_scores(2022, A1=1, B2="0.5"), status="待审核")
    item(con, a, "2022-03-01", "2022-03-02", category="C01")
    item(con, a, "2022-03-01", "2022-04-12", category="C03")  # late
    item(con, a, "2022-06-01", category="C07")                 # never published: late
    b = submit(con, "乙镇", 2022, "2023-01-06", scores=max_scores(2022, C1="1.25"), status="待审核")
    cover(con, b, ["C01", "C03", "C20"], formed="2022-03-01", published="2022-03-02")  # as 甲镇's C01
    c = submit(con, "丙局", 2022, "2023-01-13", scores=max_scores(2022, D1=0), status="待审核")
    item(con, c, "2022-05-05", "2022-07-20", category="C16")  # late
    item(con, c, "2022-12-29", category="C01")                 # deadline after the cut-off: pending
    request(con, c, "2022-06-06", "2022-06-20")
    # 2023: 戊局 did not submit
    a = submit(con, "甲镇", 2023, "2024-01-05", status="待审核")
    item(con, a, "2023-03-01", "2023-04-03", category="C01")  # 3 working days late
    item(con, a, "2023-05-04", "2023-05-05", category="C03")
    request(con, a, "2023-06-05", "2023-07-05")
    b = submit(con, "乙镇", 2023, "2024-01-05", scores=max_scores(2023, A1=1, E2="0.75"), status="待审核")
    cover(con, b, ["C01", "C15"], formed="2023-05-04", published="2023-05-05")  # as 甲镇's C03
    c = submit(con, "丙局", 2023, "2024-01-08", scores=max_scores(2023, B1="1.5"), status="待审核")
    item(con, c, "2023-02-01", "2023-04-28", category="C16")
    item(con, c, "2023-09-01", "2023-09-04", category="C18")
    d = submit(con, "丁局", 2023, "2024-01-09", scores=max_scores(2023, F1=0, I2="0.5"), status="待审核")
    item(con, d, "2023-11-01", category="C19")
    item(con, d, "2023-09-01", "2023-09-04", category="C20")  # as 丙局's C18
    add_account(con, REVIEWER["name"], "reviewer")
    set_review_score(con, a22, "A2", "1", "工作方案未经党组会审议", reviewer=REVIEWER["name"],
                     seen=snapshot(con, "甲镇", 2022))
    con.execute("UPDATE workflow SET status = '已审核'")
    engine.rescore(con, [2022, 2023])
    mc.start_review(con, 2022, REVIEWER, today=D("2023-01-18"))  # the late window ended 2023-01-17
    mc.publish(con, 2022, REVIEWER, today=D("2023-02-08"))
    con.execute("UPDATE review_scores SET score = 0")  # live 2022 now differs from the 公示稿
    return con


@pytest.fixture(scope="module")
def db():
    con = county()
    yield con
    con.close()


# --------------------------------------------------------------------------- comparing

def _same(a, b) -> bool:
    """Equal values, with None, NaN and NA all 'empty'; floats exactly."""
    ea = a is None or a is pd.NA or (isinstance(a, float) and math.isnan(a))
    eb = b is None or b is pd.NA or (isinstance(b, float) and math.isnan(b))
    if ea or eb:
        return ea and eb
    if isinstance(a, (float, np.floating)) or isinstance(b, (float, np.floating)):
        return type(a) is not bool and type(b) is not bool and float(a) == float(b)
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def assert_same_view(new: pd.DataFrame, old: pd.DataFrame):
    """``new`` (display_frame) holds the values of ``old`` (to_float of Decimal frames):
    numbers as float64 (NaN where empty), counts Int64, the rest as they were."""
    assert list(new.columns) == list(old.columns)
    assert len(new) == len(old) > 0
    for c in old.columns:
        o = list(old[c])
        kinds = {type(v) for v in o if not _same(v, None)}
        if old[c].dtype == "float64" or kinds & {Decimal, float}:
            assert new[c].dtype == "float64", c
        elif str(old[c].dtype) == "Int64" or (kinds and all(t is int for t in kinds)):
            assert str(new[c].dtype) == "Int64", c
        bad = [(i, x, y) for i, (x, y) in enumerate(zip(new[c], o)) if not _same(x, y)]
        assert not bad, (c, bad[:5])


def assert_same_items(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], pd.DataFrame):
            pd.testing.assert_frame_equal(a[k], b[k], check_exact=True)
        elif isinstance(a[k], float) and math.isnan(a[k]):
            assert math.isnan(b[k]), k
        else:
            assert a[k] == b[k], k


# --------------------------------------------------------------------------- 1. display_frame

def test_display_frame_converts_each_type_as_float_decimal_would():
    r = random.Random(20261130)
    two = [Decimal(r.randint(0, 150_000)).scaleb(-2) for _ in range(2000)]
    four = [Decimal(r.randint(0, 10_000_000)).scaleb(-4) for _ in range(2000)]
    c2 = pa.chunked_array([pa.array(two[:700] + [None], pa.decimal128(18, 2)),
                           pa.array(two[700:], pa.decimal128(18, 2))])
    c4 = pa.array(four[:1000] + [None] + four[1000:], pa.decimal128(18, 4))
    df = display_frame(pa.table({"two": c2, "four": c4}))
    assert df["two"].dtype == df["four"].dtype == "float64"
    want2 = [float(v) for v in two[:700]] + [math.nan] + [float(v) for v in two[700:]]
    want4 = [float(v) for v in four[:1000]] + [math.nan] + [float(v) for v in four[1000:]]
    assert all(_same(x, y) for x, y in zip(df["two"], want2)) and len(df) == 2001
    assert all(_same(x, y) for x, y in zip(df["four"], want4))
    assert math.isnan(df["two"][700]) and math.isnan(df["four"][1000])
    # these columns hold values Arrow's own decimal → double cast gets wrong (else this proves little)
    arrow = c4.cast(pa.float64()).to_pylist()
    assert any(x is not None and x != float(v) for x, v in zip(arrow, four[:1000] + [None] + four[1000:]))

    tbl = pa.table({
        "rate": pa.array([Decimal("0.8125"), None, Decimal("1.0000")], pa.decimal128(18, 4)),
        "dbl": pa.array([0.5, None, 2.0], pa.float32()),
        "n": pa.array([1, None, 3], pa.int32()),
        "name": pa.array(["甲镇", None, "丙局"]),
        "ok": pa.array([True, None, False]),
        "day": pa.array([dt.date(2024, 1, 5), None, dt.date(2024, 2, 29)], pa.date32()),
    })
    df = display_frame(tbl)
    assert df["rate"][0] == 0.8125 and math.isnan(df["rate"][1]) and df["rate"][2] == 1.0
    assert df["dbl"].dtype == "float64" and list(df["dbl"][[0, 2]]) == [0.5, 2.0] and math.isnan(df["dbl"][1])
    assert str(df["n"].dtype) == "Int64" and df["n"][0] == 1 and df["n"][1] is pd.NA and df["n"][2] == 3
    for c in ("name", "ok", "day"):
        assert df[c].dtype == object, c
    assert list(df["name"]) == ["甲镇", None, "丙局"]
    assert list(df["ok"]) == [True, None, False] and type(df["ok"][0]) is bool
    assert list(df["day"]) == [dt.date(2024, 1, 5), None, dt.date(2024, 2, 29)]
    assert type(df["day"][0]) is dt.date


@pytest.mark.parametrize("year", [2021, 2022, 2023])
def test_display_frame_of_a_scorecard_is_the_old_float_view(db, year):
    new = display_frame(engine.score_table(db, year)[0])
    old = to_float(engine.score_year(db, year))
    assert_same_view(new, old)
    if year > 2021:  # points with cents reached the view
        assert (new["total"].dropna() % 1 != 0).any()


# --------------------------------------------------------------------------- 2. scratch_cursor

def test_scratch_cursors_keep_their_own_registrations():
    one, two = scratch_cursor(), scratch_cursor()
    try:
        one.register("t_arrow_paths", pa.table({"v": [1]}))
        two.register("t_arrow_paths", pa.table({"v": [2, 3]}))
        assert one.execute("SELECT sum(v) FROM t_arrow_paths").fetchone()[0] == 1
        assert two.execute("SELECT sum(v) FROM t_arrow_paths").fetchone()[0] == 5
    finally:
        one.close()
        two.close()
    gone = scratch_cursor()
    gone.register("t_closed_arrow", pa.table({"v": [7]}))
    assert gone.execute("SELECT v FROM t_closed_arrow").fetchone()[0] == 7
    gone.close()
    fresh = scratch_cursor()
    try:
        with pytest.raises(Exception, match="t_closed_arrow"):
            fresh.execute("SELECT v FROM t_closed_arrow").fetchall()
    finally:
        fresh.close()


# --------------------------------------------------------------------------- 3./4. summaries of a scorecard

CARDS = [(2022, None), (2022, mc.LIVE), (2023, None), (2021, None)]


@pytest.mark.parametrize("year,which", CARDS)
def test_summary_from_the_arrow_table_is_the_frame_summary(db, year, which):
    s = scheme_for(year)
    tbl, attrs = mc.results_table(db, year, which)
    frame = mc.results(db, year, which)
    if year == 2023:  # live: engine.score_table directly too
        etbl, eattrs = engine.score_table(db, year)
        for t in TYPES:
            assert sm.summary_from_scores(etbl, s, t, eattrs) == sm.summary_from_scores(engine.score_year(db, year), s, t)
    for t in TYPES:
        new = sm.summary_from_scores(tbl, s, t, attrs)
        assert new == sm.summary_from_scores(frame, s, t)
        assert new["label"] == frame.attrs["label"] and new["provisional"] == bool(frame.attrs.get("provisional"))
    if year == 2022:
        assert attrs["source"] == ("published" if which is None else mc.LIVE)
        assert sm.summary_from_scores(tbl, s, "乡镇", attrs)["mean_total"] is not None


def test_the_published_and_live_2022_differ(db):
    """The snapshot cases read something other than live."""
    pub = mc.results(db, 2022).set_index("unit")
    live = mc.results(db, 2022, mc.LIVE).set_index("unit")
    assert pub.loc["甲镇", "A2"] == Decimal("1") and live.loc["甲镇", "A2"] == Decimal("0")


@pytest.mark.parametrize("year,which", CARDS)
def test_group_subtotals_from_the_arrow_table_are_the_frame_ones(db, year, which):
    s = scheme_for(year)
    new = sm.group_subtotals_from_scores(mc.results_table(db, year, which)[0], s)
    old = sm.group_subtotals_from_scores(mc.results(db, year, which), s)
    assert list(new.columns) == list(old.columns)
    assert list(new["unit"]) == list(old["unit"])
    assert len(new) == (0 if year == 2021 else {2022: 3, 2023: 4}[year])
    for c in old.columns:
        if c in s.group_codes:  # the 得分率: floats, exactly
            assert new[c].dtype == old[c].dtype == "float64", c
            assert all(_same(x, y) for x, y in zip(new[c], old[c])), c
        elif c.endswith("|得分"):  # subtotals: the same Decimals
            assert [None if v is None else (v, type(v)) for v in new[c]] == \
                   [None if v is None else (v, type(v)) for v in old[c]], c
        else:
            assert all(_same(x, y) for x, y in zip(new[c], old[c])), c
    if len(old):
        assert any(isinstance(v, Decimal) for v in new["组织领导|得分"])


@pytest.mark.parametrize("year,which", CARDS)
@pytest.mark.parametrize("unit_type", [None, "乡镇", "部门"])
def test_group_means_from_the_arrow_table_are_the_frame_ones(db, year, which, unit_type):
    s = scheme_for(year)
    new = sm.group_means_from_scores(mc.results_table(db, year, which)[0], s, unit_type)
    old = sm.group_means(sm.group_subtotals_from_scores(mc.results(db, year, which), s), s, unit_type)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert list(new["group"]) == list(s.group_codes)
    if year != 2021 and unit_type is None:  # someone submitted: the means are there
        assert new["units"].max() > 0 and new["mean_points"].notna().any()


# --------------------------------------------------------------------------- 5. the trend

@pytest.mark.parametrize("which", [None, mc.LIVE])
def test_trend_tables_give_the_old_per_year_rows(db, which):
    ys = years()
    rows, long = sm.trend_tables(db, which)  # long: the 一级指标 means
    old = pd.concat([to_float(mc.results(db, y, which)[TREND_COLS]) for y in ys], ignore_index=True)
    new = display_frame(rows)
    assert_same_view(new, old)
    assert sorted(set(new["year"])) == list(ys)
    # 2022 is the 公示稿's by default, live with LIVE (甲镇's A2: 1 point, then 0)
    jia = new[(new["year"] == 2022) & (new["unit"] == "甲镇")]["total"].iloc[0]
    live = to_float(mc.results(db, 2022, mc.LIVE)).set_index("unit").loc["甲镇", "total"]
    assert (jia == live) == (which == mc.LIVE)

    old_rows = pd.concat([mc.results(db, y, which)[sm.TREND_INPUT_COLUMNS] for y in ys], ignore_index=True)
    pd.testing.assert_frame_equal(sm.trend_summary_from_trend(rows, ys), sm.trend_summary_from_trend(old_rows, ys),
                                  check_exact=True)

    schemes = [scheme_for(y) for y in ys]
    per_year = [(s, sm.group_subtotals_from_scores(mc.results(db, s.year, which), s)) for s in schemes]
    got = sm.group_means_from_means(schemes, long)
    want = sm.group_means_over_years(per_year)
    # the means are DuckDB's avg either way, but aggregated by another plan: a non-terminating
    # mean may differ in its last binary digit (9.524242424242424 / …425); everything else exactly
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-13, atol=0)
    exact = [c for c in got.columns if c not in ("mean_points", "mean_rate")]
    pd.testing.assert_frame_equal(got[exact], want[exact], check_exact=True)
    assert set(got["year"]) >= {2022, 2023}
    assert got["units"].sum() > 0


def test_trend_of_the_snapshot_year_is_read_from_the_snapshot(db):
    assert mc.chosen_snapshot(db, 2022) is not None and mc.chosen_snapshot(db, 2023) is None
    assert mc.chosen_snapshot(db, 2022, mc.LIVE) is None


# --------------------------------------------------------------------------- 6. ledger figures per unit type

def _item_paths(con, year):
    """(name, per-unit table, per-type table, old (monthly, late))"""
    out = [("engine", engine.item_aggregates_table(con, year), engine.item_aggregates_table(con, year, per_unit=False),
            engine.item_aggregates(con, year))]
    for which in (None, mc.LIVE):
        out.append((f"closing {which}", mc.item_aggregates_table(con, year, which),
                    mc.item_aggregates_table(con, year, which, per_unit=False), mc.item_aggregates(con, year, which)))
    return out


def _check_item_paths(con, year) -> dict:
    """Every path's per-type figures equal its per-unit and old ones; returns the engine's figures."""
    paths = _item_paths(con, year)
    for name, per_unit, by_type, (monthly, late) in paths:
        assert by_type.column("unit").null_count == by_type.num_rows, name
        assert by_type.num_rows < per_unit.num_rows, name
        for t in TYPES:
            got = sm.item_summary_from_table(by_type, t)
            assert_same_items(got, sm.item_summary_from_table(per_unit, t))
            assert_same_items(got, sm.item_summary_from_aggregates(monthly, late, t))
        for u in ITEM_UNITS:
            assert_same_items(sm.item_summary_from_table(per_unit, None, u),
                              sm.item_summary_from_aggregates(monthly, late, None, u))
    return sm.item_summary_from_table(paths[0][2])


@pytest.mark.parametrize("year", [2022, 2023])
def test_item_figures_per_unit_type_stored(db, year):
    assert db.execute("SELECT count(*) FROM item_stats WHERE year = ?", [year]).fetchone()[0] > 0
    s = _check_item_paths(db, year)
    assert s["n"] > 0 and s["late_n"] > 0


def test_item_figures_per_unit_type_live():
    con = county()
    stored = {y: sm.item_summary_from_table(engine.item_aggregates_table(con, y, per_unit=False), "部门")
              for y in (2022, 2023)}
    con.execute("DELETE FROM item_stats")
    for y in (2022, 2023):
        assert _check_item_paths(con, y)["n"] > 0
        assert_same_items(sm.item_summary_from_table(engine.item_aggregates_table(con, y, per_unit=False), "部门"),
                          stored[y])
    con.close()


def test_item_figures_per_unit_type_of_the_snapshot():
    con = county()
    assert not mc.details_of(con, 2022)["live"] and mc.details_of(con, 2022)["source_id"] is not None
    item(con, con.execute("SELECT max(id) FROM submissions WHERE unit = '丙局' AND year = 2022").fetchone()[0],
         "2022-10-10", "2022-12-29", category="C20")  # after publishing: live only (and a late item)
    con.execute("DELETE FROM item_stats")
    by_type = mc.item_aggregates_table(con, 2022, per_unit=False)
    assert by_type.column("unit").null_count == by_type.num_rows
    for t in TYPES:
        assert_same_items(sm.item_summary_from_table(by_type, t),
                          sm.item_summary_from_table(mc.item_aggregates_table(con, 2022), t))
    for u in ITEM_UNITS:
        assert_same_items(sm.item_summary_from_table(mc.item_aggregates_table(con, 2022), None, u),
                          sm.item_summary_from_aggregates(*mc.item_aggregates(con, 2022), None, u))
    pub = sm.item_summary_from_table(by_type, "部门")
    live = sm.item_summary_from_table(mc.item_aggregates_table(con, 2022, mc.LIVE, per_unit=False), "部门")
    assert live["n"] == pub["n"] + 1
    con.close()


# --------------------------------------------------------------------------- 7. category coverage of chosen units

@pytest.mark.parametrize("which", [None, mc.LIVE])
@pytest.mark.parametrize("units", [["甲镇", "丙局"], ["乙镇", "不存在的单位"], ["不存在的单位"], [], UNITS])
def test_category_coverage_of_chosen_units_is_that_of_the_filtered_matrix(db, which, units):
    for year in (2022, 2023):
        matrix = mc.coverage_matrix(db, year, which=which)
        assert set(matrix["unit"]) >= {"甲镇", "丙局"}
        for t in TYPES:
            got = sm.category_coverage_from_matrix(matrix, t, units=units)
            want = sm.category_coverage_from_matrix(matrix[matrix["unit"].isin(units)].reset_index(drop=True), t)
            pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True), check_exact=True)
            if not units or units == ["不存在的单位"]:
                assert got.empty or int(got["required"].sum()) == 0
    whole = sm.category_coverage_from_matrix(mc.coverage_matrix(db, 2023), None, units=UNITS)
    pd.testing.assert_frame_equal(whole, sm.category_coverage_from_matrix(mc.coverage_matrix(db, 2023)),
                                  check_exact=True)


# --------------------------------------------------------------------------- 8. rates as text

def test_pct_texts_is_pct_of_each_value():
    s = pd.Series([None, math.nan, 0.8125, 1.0, 0, 0.8125, 0.0005, None, 1.0], index=list("abcdefghi"), dtype=object)
    got = viz.pct_texts(s)
    want = s.map(viz.pct)
    assert got.index.equals(s.index) and list(got) == list(want)
    assert list(got[["c", "d", "e"]]) == ["81.3%", "100.0%", "0.0%"] and got["a"] == got["b"] == viz.pct(None)
    f = pd.Series([0.8125, np.nan, 0.0, 1.0], dtype="float64")
    assert list(viz.pct_texts(f)) == list(f.map(viz.pct))
    assert list(viz.pct_texts(f, 2)) == [viz.pct(v, 2) for v in f]
    assert viz.pct_texts(pd.Series([], dtype="float64")).empty


# --------------------------------------------------------------------------- 9. totals without the indicator columns

@pytest.fixture
def live_scoring(monkeypatch):
    """The stored scores unusable: every read scores live (as tests/test_stored_scores.py)."""
    monkeypatch.setattr(engine, "LIVE_SHARE", -1.0)


def _lean_of(tbl: pa.Table, codes) -> pa.Table:
    return tbl.drop_columns(list(codes))


@pytest.mark.parametrize("stored", [True, False])
@pytest.mark.parametrize("year", [2021, 2022, 2023])
def test_score_table_without_points_is_the_wide_one_without_the_codes(db, monkeypatch, year, stored):
    if not stored:
        monkeypatch.setattr(engine, "LIVE_SHARE", -1.0)
    # 2021 was never stored (the fixture rescored 2022 and 2023): live either way
    assert (engine.score_points(db, year) is None) == (not stored or year == 2021)
    codes = scheme_for(year).codes
    wide, wattrs = engine.score_table(db, year, points=True)
    lean, lattrs = engine.score_table(db, year, points=False)
    assert set(codes) <= set(wide.column_names) and not set(codes) & set(lean.column_names)
    assert lean.schema.equals(_lean_of(wide, codes).schema)  # names, order, types
    assert lean.equals(_lean_of(wide, codes)) and lean.num_rows == len(UNITS)
    assert lattrs == wattrs
    if year == 2023:  # a unit filter keeps its ranks among all
        one, _ = engine.score_table(db, year, unit="乙镇", points=False)
        assert one.equals(lean.filter(pc.equal(lean.column("unit"), "乙镇")))


def test_stored_and_live_lean_tables_agree(db, monkeypatch):
    stored = engine.score_table(db, 2023, points=False)[0]
    monkeypatch.setattr(engine, "LIVE_SHARE", -1.0)
    assert engine.score_points(db, 2023) is None
    assert engine.score_table(db, 2023, points=False)[0].equals(stored)


@pytest.mark.parametrize("stored", [True, False])
@pytest.mark.parametrize("year,which", CARDS)
def test_results_table_without_points_is_the_wide_one_without_the_codes(db, monkeypatch, year, which, stored):
    if not stored:
        monkeypatch.setattr(engine, "LIVE_SHARE", -1.0)
    codes = scheme_for(year).codes
    wide, wattrs = mc.results_table(db, year, which, points=True)
    lean, lattrs = mc.results_table(db, year, which, points=False)
    assert not set(codes) & set(lean.column_names)
    assert lean.schema.equals(_lean_of(wide, codes).schema)
    assert lean.equals(_lean_of(wide, codes)) and lean.num_rows == len(UNITS)
    assert lattrs == wattrs
    assert lattrs["source"] == ("published" if (year, which) == (2022, None) else mc.LIVE)


# --------------------------------------------------------------------------- 10. the indicator columns on their own

def _points_by_unit(tbl: pa.Table, codes) -> dict:
    return {r["unit"]: [r[c] for c in codes] for r in tbl.select(["unit", *codes]).to_pylist()}


@pytest.mark.parametrize("year,which", CARDS[:3])
def test_points_on_their_own_are_those_of_the_wide_table(db, year, which):
    codes = list(scheme_for(year).codes)
    wide, _ = mc.results_table(db, year, which, points=True)
    submitted = [r["unit"] for r in wide.select(["unit", "submission_id"]).to_pylist() if r["submission_id"] is not None]
    assert len(submitted) == {2022: 3, 2023: 4}[year]
    want = {u: v for u, v in _points_by_unit(wide, codes).items() if u in submitted}
    paths = [("closing", mc.results_points(db, year, which))]
    if mc.chosen_snapshot(db, year, which) is None:  # live: the engine's own too
        paths.append(("engine", engine.score_points(db, year)))
    for name, pts in paths:
        assert pts is not None, name
        assert pts.column_names == ["unit", *codes], name
        assert pts.num_rows == len(submitted) and sorted(pts.column("unit").to_pylist()) == sorted(submitted), name
        got = _points_by_unit(pts, codes)
        assert got == want, name
        assert all(isinstance(v, Decimal) for vs in got.values() for v in vs), name
        for c in codes:
            assert pa.types.is_decimal(pts.schema.field(c).type) and pts.schema.field(c).type.scale == 2, (name, c)
        if name == "engine":
            assert all(pts.schema.field(c).type == pa.decimal128(18, 2) for c in codes)
    if year == 2022:  # 甲镇's A2: the reviewer's 1 point published, 0 live
        assert _points_by_unit(paths[0][1], ["A2"])["甲镇"] == [Decimal("1") if which is None else Decimal("0")]


@pytest.mark.parametrize("year,which", [(2022, mc.LIVE), (2023, None), (2023, mc.LIVE)])
def test_points_on_their_own_are_none_when_the_scores_are_not_stored(db, live_scoring, year, which):
    assert mc.results_table(db, year, which)[0].num_rows == len(UNITS)  # the wide table still scores live
    assert engine.score_points(db, year) is None
    assert mc.results_points(db, year, which) is None
    # the published year still reads its 公示稿
    pub = mc.results_points(db, 2022)
    assert pub is not None and pub.num_rows == 3


# --------------------------------------------------------------------------- 11. the dashboard's scorecard and gap list

@pytest.fixture(scope="module")
def db_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("arrow_paths") / "county.duckdb"
    county(str(path)).close()
    return path


@pytest.fixture
def dash(db_file, monkeypatch):
    import streamlit as st

    from dashboard import queries as q
    from dashboard.common import close_connections

    def clear():
        close_connections()
        st.cache_data.clear()
        st.cache_resource.clear()
    monkeypatch.setenv("GONGKAI_DB", str(db_file))
    clear()
    yield q
    clear()


def _assert_same_scorecard(got, want):
    (gt, ga), (wt, wa) = got, want
    assert gt.column_names == wt.column_names
    assert gt.num_rows == wt.num_rows == len(UNITS)
    pd.testing.assert_frame_equal(display_frame(gt), display_frame(wt), check_exact=True)
    assert ga == wa
    for c in gt.column_names:
        if pa.types.is_decimal(wt.schema.field(c).type):
            assert gt.column(c).combine_chunks().to_pylist() == wt.column(c).combine_chunks().to_pylist(), c


@pytest.mark.parametrize("stored", [True, False])
@pytest.mark.parametrize("year,which", CARDS)
def test_dashboard_scorecard_with_points_is_the_wide_results_table(dash, monkeypatch, year, which, stored):
    if not stored:
        monkeypatch.setattr(engine, "LIVE_SHARE", -1.0)
    q = dash
    pts = q._call(mc.results_points, year, which)
    joined = pts is not None
    assert joined == ((stored and year > 2021) or (year, which) == (2022, None))  # 2021 never stored
    want = q._call(mc.results_table, year, which, True)
    got = q._score_table(year, q.data_version(), which, points=True)
    _assert_same_scorecard(got, want)
    codes = scheme_for(year).codes
    assert list(codes) == got[0].column_names[len(q.SCORECARD_COLUMNS):][:len(codes)]
    missing = [r for r in got[0].select(["submission_id", codes[0]]).to_pylist() if r["submission_id"] is None]
    assert len(missing) == {2021: 5, 2022: 2, 2023: 1}[year] and all(r[codes[0]] is None for r in missing)
    lean = q._score_table(year, q.data_version(), which)
    assert lean[0].equals(q._call(mc.results_table, year, which, False)[0])


@pytest.mark.parametrize("only_gaps", [False, True])
@pytest.mark.parametrize("unit_type", TYPES)
@pytest.mark.parametrize("year", [2022, 2023])
def test_dashboard_gap_list_and_category_coverage_are_the_summary_ones(dash, year, unit_type, only_gaps):
    q = dash
    gaps, tot = q.coverage_gaps(year, unit_type, only_gaps)
    want, wtot = sm.coverage_gaps(q.scores(year), unit_type, only_gaps)
    pd.testing.assert_frame_equal(gaps, want, check_exact=True)
    assert tot == wtot
    # the same as of the Decimal scorecard
    old, otot = sm.coverage_gaps(q._call(mc.results, year), unit_type, only_gaps)
    assert list(gaps["unit"]) == list(old["unit"]) and list(gaps["missing"]) == list(old["missing"]) and tot == otot
    units = gaps[gaps["submitted"]]["unit"].tolist()
    per_cat = q.category_coverage(year, unit_type, only_gaps)
    matrix = q._call(mc.coverage_matrix, year)
    pd.testing.assert_frame_equal(per_cat, sm.category_coverage_from_matrix(matrix, units=units), check_exact=True)
    if unit_type is None and not only_gaps:
        assert len(units) == {2022: 3, 2023: 4}[year] and int(per_cat["required"].sum()) > 0
    if units:
        assert not per_cat.empty


@pytest.mark.parametrize("year,which", CARDS)
def test_dashboard_group_rates_are_the_old_float_view_of_the_subtotals(dash, year, which):
    q = dash
    s = scheme_for(year)
    got = q._group_rates(year, q.data_version(), which)
    want = q.to_float(sm.group_subtotals_from_scores(q._call(mc.results, year, which), s))
    for g in s.groups:
        want[f"{g}|得分"] = pd.to_numeric(want[f"{g}|得分"], errors="coerce").astype("float64")
        want[g] = pd.to_numeric(want[g], errors="coerce").astype("float64")
    # with nobody submitted the old view left empty columns untyped; the new one types them
    pd.testing.assert_frame_equal(got, want, check_exact=True, check_dtype=bool(len(want)))
    assert len(got) == {2021: 0, 2022: 3, 2023: 4}[year]
    assert got["total"].dtype == "float64" and got["rank"].dtype == "Int64"
    if len(got):
        assert got["组织领导|得分"].notna().all() and got["组织领导"].between(0, 1).all()


# --------------------------------------------------------------------------- 12. 一级指标 means by hand

@pytest.mark.parametrize("which,jia", [(None, Decimal("5")), (mc.LIVE, Decimal("4"))])
def test_group_means_by_hand(db, which, jia):
    """2022 组织领导 (A1 2 + A2 3 + A3 3 = 8): 乙镇 8; 甲镇 A1 1 (self), A2 the reviewer's
    1 in the 公示稿, 0 live, A3 3.  丙局 (部门) 8."""
    s = scheme_for(2022)
    assert s.group_codes["组织领导"] == ["A1", "A2", "A3"] and s.group_max["组织领导"] == 8
    tbl = mc.results_table(db, 2022, which)[0]
    for unit_type, subtotals in [("乡镇", [jia, Decimal("8")]), (None, [jia, Decimal("8"), Decimal("8")]),
                                 ("部门", [Decimal("8")])]:
        means = sm.group_means_from_scores(tbl, s, unit_type).set_index("group")
        row = means.loc["组织领导"]
        assert row["units"] == len(subtotals) and row["max"] == 8.0
        assert row["mean_points"] == float(sum(subtotals) / len(subtotals))
        assert row["mean_rate"] == float(sum(subtotals) / 8 / len(subtotals))
    # by hand: 乡镇 (5 + 8) / 2 = 6.5 and 81.25 % published; (4 + 8) / 2 = 6 and 75 % live
    row = sm.group_means_from_scores(tbl, s, "乡镇").set_index("group").loc["组织领导"]
    assert (row["mean_points"], row["mean_rate"]) == ((6.5, 0.8125) if which is None else (6.0, 0.75))


def test_group_means_by_hand_2023_and_an_empty_type(db):
    """2023 决策公开 (B1 5 + B2 3 + B3 2 + B4 2 = 12) of the departments: 丙局 B1 1.5 → 8.5,
    丁局 12 (戊局 did not submit: not counted).  No 乡镇-only filter leaves out 甲镇/乙镇."""
    s = scheme_for(2023)
    tbl = engine.score_table(db, 2023)[0]
    row = sm.group_means_from_scores(tbl, s, "部门").set_index("group").loc["决策公开"]
    assert row["units"] == 2 and row["max"] == 12.0
    assert row["mean_points"] == 10.25
    assert row["mean_rate"] == (8.5 / 12 + 1.0) / 2
    town = sm.group_means_from_scores(tbl, s, "乡镇").set_index("group").loc["组织领导"]
    assert town["units"] == 2 and town["mean_points"] == 7.5 and town["mean_rate"] == 0.9375  # 乙镇 A1 1: 7 and 8
    none = sm.group_means_from_scores(tbl, s, "不存在的类型")
    assert list(none["group"]) == list(s.group_codes) and (none["units"] == 0).all()
    assert none["mean_points"].isna().all() and none["mean_rate"].isna().all()
