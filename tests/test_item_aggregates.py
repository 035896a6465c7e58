"""Aggregates of ledger items for the charts (computed in SQL, not by loading
every item), and the state filter of item_facts."""
import pytest
from metrics import engine
from tests.metrics_fixtures import add_unit, item, new_db, submit

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL


def _db():
    con = new_db()
    add_unit(con, "县甲局")
    add_unit(con, "甲镇", "乡镇")
    a = submit(con, "县甲局")
    # 2019-03-01 (Fri) + 20 working days = 2019-03-29
    item(con, a, "2019-03-01", "2019-03-29")   # on time (deadline day)
    item(con, a, "2019-03-01", "2019-04-01")   # late by 1 working day (Mon after the deadline)
    item(con, a, "2019-03-04", "2019-04-08")   # deadline 2019-04-01; 04-05 清明 off → 04-08 is 4 wd late
    item(con, a, "2019-06-03")                 # unpublished, deadline 2019-07-01 < cut-off → late
    item(con, a, "2019-12-30")                 # deadline after the cut-off → pending
    item(con, a, "2018-12-20", "2019-01-02")   # formed in 2018: not counted
    b = submit(con, "甲镇")
    item(con, b, "2019-03-01", "2019-04-01")   # late by 1
    return con


def test_monthly_counts_by_state_and_publication():
    monthly, _ = engine.item_aggregates(_db(), 2019)
    got = {(r.unit, r.month, r.state, bool(r.published)): int(r.n) for r in monthly.itertuples()}
    assert got == {
        ("甲镇", 3, "逾期", True): 1,
        ("县甲局", 3, "按时", True): 1,
        ("县甲局", 3, "逾期", True): 2,
        ("县甲局", 6, "逾期", False): 1,
        ("县甲局", 12, "未到期", False): 1,
    }
    assert list(monthly["unit"])[0] == "甲镇"  # 乡镇 first


def test_days_late_histogram_of_late_items_only():
    _, late = engine.item_aggregates(_db(), 2019)
    got = {(r.unit, int(r.days_late)): int(r.n) for r in late.itertuples()}
    # the unpublished June item is late up to the cut-off 2020-01-10: counted in working days by the engine
    unpublished = engine.item_facts(_db(), 2019, unit="县甲局", states=["逾期"])
    june = int(unpublished[unpublished["published"].isna()]["days_late"].iloc[0])
    assert got == {("甲镇", 1): 1, ("县甲局", 1): 1, ("县甲局", 4): 1, ("县甲局", june): 1}
    assert june > 100


def test_item_facts_state_filter_keeps_only_those_states():
    con = _db()
    df = engine.item_facts(con, 2019, states=["逾期", "未到期"])
    assert sorted(df["state"]) == ["未到期", "逾期", "逾期", "逾期", "逾期"]
    assert len(engine.item_facts(con, 2019)) == 6
