"""年报勾稽 (annual-report.md): every rule T1–T4, L1–L4 on hand-computed cases on
both sides of its boundary, run by the one SQL query of data.reconcile over
stored report cells and ledger rows; then end to end through ingest (stored
with the submission, printed by ``python -m data ingest``).
"""
from __future__ import annotations

import datetime as dt

import pytest

from data.annual import COLUMNS_3, REVIEW_COLS, REVIEW_GROUPS, lines_of, published_layout
from core.normalize import addr
from data.reconcile import check

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

D = dt.date
COLS = [c.code for c in COLUMNS_3]


@pytest.fixture
def db(con):
    return con


_sid = iter(range(1000, 100000))


def make(con, rows: dict | None = None, t4: dict | None = None, requests=(), year=2019, edition=2021) -> int:
    """A stored submission with a report (``rows``: code -> 7 numbers in column order
    natural … other, total; missing rows are zero) and ledger requests
    (applicant_type, received, answered, result, review_result)."""
    sid = next(_sid)
    con.execute("""INSERT INTO submissions (id, unit, year, version, received, file_name, sha256, content)
                   VALUES (?, ?, ?, 1, ?, 'x.xlsx', ?, ''::BLOB)""", [sid, f"u{sid}", year, D(year + 1, 1, 5), str(sid)])
    con.execute("INSERT INTO annual_reports VALUES (?, ?)", [sid, edition])
    inputs = published_layout(edition).inputs
    rows = rows or {}
    t4 = t4 or {}
    cells = []
    for ln in lines_of(edition):
        vals = rows.get(ln.code, [0] * 7)
        for c, v in zip(COLS, vals):
            r, col = inputs[(ln.code, c)]
            cells.append([sid, ln.code, c, v, r, addr(r - 1, col - 1)])
    for g, _ in REVIEW_GROUPS:
        for c, _, _ in REVIEW_COLS:
            r, col = inputs[(g, c)]
            cells.append([sid, g, c, t4.get((g, c), 0), r, addr(r - 1, col - 1)])
    import pyarrow as pa
    con.register("_cells", pa.table(list(zip(*cells)), names=["s", "r", "c", "v", "n", "a"]))
    con.execute("INSERT INTO annual_report_cells SELECT * FROM _cells")
    con.unregister("_cells")
    for n, (typ, rec, ans, res, rev) in enumerate(requests, start=1):
        con.execute("""INSERT INTO requests (submission_id, sheet_row, request_no, applicant_type, received, answered,
                                             result, review_result) VALUES (?,?,?,?,?,?,?,?)""",
                    [sid, n + 2, f"SQ-{n}", typ, rec, ans, res, rev])
    return sid


def cell(code: str, col: str, edition=2021) -> str:
    r, c = published_layout(edition).inputs[(code, col)]
    return addr(r - 1, c - 1)


def found(con, sid, rule=None) -> set[tuple]:
    return {(f.rule, f.cell, f.expected, f.actual) for f in check(con, [sid]) if rule is None or f.rule == rule}


def nat(n: int) -> list[int]:
    """n in the 自然人 column and in 总计."""
    return [n, 0, 0, 0, 0, 0, n]


OPEN2 = [("自然人", D(2019, 3, 1), D(2019, 3, 20), "予以公开", ""),
         ("自然人", D(2019, 5, 1), D(2019, 5, 20), "予以公开", "")]


def base(**over):
    rows = {"new": nat(2), "r_open": nat(2), "r_total": nat(2)}
    rows.update(over)
    return rows


def test_consistent_report_has_no_findings(db):
    sid = make(db, base(), requests=OPEN2)
    assert found(db, sid) == set()


def test_submission_without_report_is_not_checked(db):
    sid = make(db, base(), requests=OPEN2)
    db.execute("DELETE FROM annual_reports WHERE submission_id = ?", [sid])
    assert check(db, [sid]) == []


# ---------------------------------------------------------------- T1

def test_t1_off_by_one_both_ways(db):
    sid = make(db, base(new=nat(3)), requests=OPEN2)
    assert found(db, sid, "T1") == {("T1", cell("r_total", "natural"), 3, 2), ("T1", cell("r_total", "total"), 3, 2)}
    sid = make(db, base(new=nat(1)), requests=OPEN2)
    assert found(db, sid, "T1") == {("T1", cell("r_total", "natural"), 1, 2), ("T1", cell("r_total", "total"), 1, 2)}


def test_t1_holds_with_carried_in_and_out(db):
    # 3 new + 1 carried in = 2 answered + 2 carried out
    sid = make(db, base(new=nat(3), carried_in=nat(1), carried_out=nat(2)), requests=OPEN2)
    assert found(db, sid, "T1") == set()
    sid = make(db, base(new=nat(3), carried_in=nat(1), carried_out=nat(1)), requests=OPEN2)
    assert found(db, sid, "T1") == {("T1", cell("r_total", "natural"), 4, 3), ("T1", cell("r_total", "total"), 4, 3)}


def test_t1_message_has_both_numbers(db):
    sid = make(db, base(new=nat(12), r_open=nat(11), r_total=nat(11)))
    msgs = [f.message for f in check(db, [sid]) if f.rule == "T1" and f.cell == cell("r_total", "total")]
    assert msgs == ["总计列：“本年新收+上年结转”（12）应等于“办理结果总计+结转下年度”（11）"]
    f = [f for f in check(db, [sid]) if f.rule == "T1"][0]
    assert f.issue().location.startswith("年报数据!") and f.issue().severity == "warning"


# ---------------------------------------------------------------- T2

def test_t2_total_against_every_result_row(db):
    items = {"r_open": nat(1), "r_partial": nat(1), "r_deny_8": nat(1), "r_unable_3": nat(1), "r_noproc_5": nat(1),
             "r_other_2": nat(1)}
    sid = make(db, {"new": nat(6), "r_total": nat(6), **items})
    assert found(db, sid, "T2") == set()
    sid = make(db, {"new": nat(7), "r_total": nat(7), **items})
    assert found(db, sid, "T2") == {("T2", cell("r_total", "natural"), 6, 7), ("T2", cell("r_total", "total"), 6, 7)}
    sid = make(db, {"new": nat(5), "r_total": nat(5), **items})
    assert found(db, sid, "T2") == {("T2", cell("r_total", "natural"), 6, 5), ("T2", cell("r_total", "total"), 6, 5)}


def test_t2_2019_edition_single_other_row(db):
    sid = make(db, {"new": nat(2), "r_open": nat(1), "r_other": nat(1), "r_total": nat(2)}, edition=2019)
    assert found(db, sid, "T2") == set()
    sid = make(db, {"new": nat(2), "r_open": nat(1), "r_total": nat(2)}, edition=2019)
    assert found(db, sid, "T2") == {("T2", cell("r_total", "natural", 2019), 1, 2),
                                    ("T2", cell("r_total", "total", 2019), 1, 2)}


# ---------------------------------------------------------------- T3

def test_t3_row_total_against_applicants(db):
    ok = [1, 1, 0, 0, 0, 1, 3]
    sid = make(db, {"new": ok, "r_deny_1": ok, "r_total": ok})
    assert found(db, sid, "T3") == set()
    sid = make(db, {"new": ok, "r_deny_1": [1, 1, 0, 0, 0, 1, 2], "r_total": ok})
    assert found(db, sid, "T3") == {("T3", cell("r_deny_1", "total"), 3, 2)}
    sid = make(db, {"new": ok, "r_deny_1": [1, 1, 0, 0, 0, 1, 4], "r_total": ok})
    assert found(db, sid, "T3") == {("T3", cell("r_deny_1", "total"), 3, 4)}


# ---------------------------------------------------------------- T4

@pytest.mark.parametrize("grp", [g for g, _ in REVIEW_GROUPS])
def test_t4_each_group(db, grp):
    good = {(grp, "upheld"): 1, (grp, "corrected"): 1, (grp, "other"): 0, (grp, "pending"): 1, (grp, "total"): 3}
    sid = make(db, t4=good)
    assert found(db, sid, "T4") == set()
    for total in (2, 4):
        sid = make(db, t4={**good, (grp, "total"): total})
        assert found(db, sid, "T4") == {("T4", cell(grp, "total"), 3, total)}


# ---------------------------------------------------------------- L1

def test_l1_total_counts_requests_received_in_the_year(db):
    reqs = [("", D(2019, 1, 1), D(2019, 1, 10), "予以公开", ""),
            ("", D(2019, 12, 31), None, "", ""),
            ("", D(2018, 12, 31), D(2019, 1, 5), "予以公开", ""),     # not in the year
            ("", D(2020, 1, 1), None, "", "")]                          # not in the year
    sid = make(db, {"new": nat(2), "r_open": nat(1), "r_total": nat(1), "carried_out": nat(1)}, requests=reqs)
    assert found(db, sid, "L1") == set()
    sid = make(db, {"new": nat(3), "r_open": nat(1), "r_total": nat(1), "carried_out": nat(2)}, requests=reqs)
    assert found(db, sid, "L1") == {("L1", cell("new", "total"), 2, 3)}
    sid = make(db, {"new": nat(1), "r_open": nat(1), "r_total": nat(1)}, requests=reqs)
    assert found(db, sid, "L1") == {("L1", cell("new", "total"), 2, 1)}


def test_l1_applicant_columns_when_every_row_has_a_type(db):
    reqs = [("自然人", D(2019, 3, 1), D(2019, 3, 5), "予以公开", ""),
            ("商业企业", D(2019, 4, 1), D(2019, 4, 5), "予以公开", "")]
    rows = {"new": nat(2), "r_open": nat(2), "r_total": nat(2)}
    sid = make(db, rows, requests=reqs)
    assert found(db, sid, "L1") == {("L1", cell("new", "natural"), 1, 2), ("L1", cell("new", "business"), 1, 0)}
    right = [1, 1, 0, 0, 0, 0, 2]
    sid = make(db, {"new": right, "r_open": right, "r_total": right}, requests=reqs)
    assert found(db, sid, "L1") == set()


@pytest.mark.parametrize("missing", ["", "个人"])
def test_l1_applicant_columns_not_compared_when_a_row_lacks_a_type(db, missing):
    reqs = [("自然人", D(2019, 3, 1), D(2019, 3, 5), "予以公开", ""),
            (missing, D(2019, 4, 1), D(2019, 4, 5), "予以公开", "")]
    sid = make(db, {"new": nat(2), "r_open": nat(2), "r_total": nat(2)}, requests=reqs)
    assert found(db, sid, "L1") == set()


def test_l1_columns_ignore_untyped_rows_outside_the_year(db):
    reqs = [("自然人", D(2019, 3, 1), D(2019, 3, 5), "予以公开", ""),
            ("", D(2018, 12, 20), D(2019, 1, 5), "予以公开", "")]
    sid = make(db, {"new": [0, 1, 0, 0, 0, 0, 1], "r_open": nat(1), "r_total": nat(1)}, requests=reqs)
    assert found(db, sid, "L1") == {("L1", cell("new", "natural"), 1, 0), ("L1", cell("new", "business"), 0, 1)}


# ---------------------------------------------------------------- L2: ≤, and = when carried_in = 0

def _l2_rows(r_open: int, cin: int):
    return {"new": nat(2), "carried_in": nat(cin), "r_open": nat(r_open), "r_total": nat(r_open),
            "carried_out": nat(2 + cin - r_open)}


def test_l2_equal_when_nothing_carried_in(db):
    sid = make(db, _l2_rows(2, 0), requests=OPEN2)
    assert found(db, sid, "L2") == set()
    r = f"{cell('r_open', 'total')}"
    sid = make(db, _l2_rows(1, 0), requests=OPEN2)
    assert found(db, sid, "L2") == {("L2", r, 2, 1)}
    sid = make(db, {**_l2_rows(2, 0), "new": nat(3), "r_open": nat(3), "r_total": nat(3), "carried_out": nat(0)},
               requests=OPEN2)
    assert found(db, sid, "L2") == {("L2", r, 2, 3)}
    assert "应等于" in [f.message for f in check(db, [sid]) if f.rule == "L2"][0]


def test_l2_at_most_when_something_carried_in(db):
    r = cell("r_open", "total")
    sid = make(db, _l2_rows(3, 1), requests=OPEN2)      # 3 ≥ 2: answered also last year's request
    assert found(db, sid, "L2") == set()
    sid = make(db, _l2_rows(2, 1), requests=OPEN2)      # 2 ≥ 2
    assert found(db, sid, "L2") == set()
    sid = make(db, _l2_rows(1, 1), requests=OPEN2)      # 1 < 2
    assert found(db, sid, "L2") == {("L2", r, 2, 1)}
    assert "不应少于" in [f.message for f in check(db, [sid]) if f.rule == "L2"][0]


def test_l2_groups_sum_their_rows_and_are_located_at_the_range(db):
    reqs = [("", D(2019, 3, 1), D(2019, 3, 5), "不予公开", ""), ("", D(2019, 3, 2), D(2019, 3, 6), "不予公开", "")]
    rows = {"new": nat(2), "r_deny_1": nat(1), "r_deny_5": nat(1), "r_total": nat(2)}
    sid = make(db, rows, requests=reqs)
    assert found(db, sid, "L2") == set()
    rows = {"new": nat(2), "r_deny_1": nat(1), "r_other_3": nat(1), "r_total": nat(2)}
    sid = make(db, rows, requests=reqs)
    deny = f"{cell('r_deny_1', 'total')}:{cell('r_deny_8', 'total')}"
    other = f"{cell('r_other_1', 'total')}:{cell('r_other_3', 'total')}"
    assert found(db, sid, "L2") == {("L2", deny, 2, 1), ("L2", other, 0, 1)}


def test_l2_counts_only_requests_answered_in_the_year(db):
    reqs = [*OPEN2, ("自然人", D(2019, 12, 20), D(2020, 1, 3), "予以公开", "")]
    rows = {"new": nat(3), "r_open": nat(2), "r_total": nat(2), "carried_out": nat(1)}
    sid = make(db, rows, requests=reqs)
    assert found(db, sid, "L2") == set()


# ---------------------------------------------------------------- L3

def _l3(cout: int, cin: int):
    return {"new": nat(3), "carried_in": nat(cin), "r_open": nat(3 + cin - cout), "r_total": nat(3 + cin - cout),
            "carried_out": nat(cout)}


L3_REQS = [("自然人", D(2019, 3, 1), D(2019, 3, 20), "予以公开", ""),
           ("自然人", D(2019, 12, 20), None, "", ""),
           ("自然人", D(2019, 12, 21), D(2020, 1, 4), "予以公开", "")]   # open on 31 December


def test_l3_equal_when_nothing_carried_in(db):
    c = cell("carried_out", "total")
    assert found(db, make(db, _l3(2, 0), requests=L3_REQS), "L3") == set()
    assert found(db, make(db, _l3(3, 0), requests=L3_REQS), "L3") == {("L3", c, 2, 3)}
    assert found(db, make(db, _l3(1, 0), requests=L3_REQS), "L3") == {("L3", c, 2, 1)}


def test_l3_at_most_when_something_carried_in(db):
    c = cell("carried_out", "total")
    assert found(db, make(db, _l3(3, 1), requests=L3_REQS), "L3") == set()
    assert found(db, make(db, _l3(2, 1), requests=L3_REQS), "L3") == set()
    assert found(db, make(db, _l3(1, 1), requests=L3_REQS), "L3") == {("L3", c, 2, 1)}


# ---------------------------------------------------------------- L4

def test_l4_ledger_reviews_at_most_table_four(db):
    reqs = [("", D(2019, 3, 1), D(2019, 3, 5), "不予公开", "纠正"),
            ("", D(2019, 4, 1), D(2019, 4, 5), "不予公开", "纠正"),
            ("", D(2019, 5, 1), D(2019, 5, 5), "不予公开", "维持"),
            ("", D(2018, 5, 1), D(2018, 5, 5), "不予公开", "维持")]     # not in the year
    rows = {"new": nat(3), "r_deny_1": nat(3), "r_total": nat(3)}
    t4 = {("rv_review", "corrected"): 1, ("rv_review", "total"): 1,
          ("rv_after", "corrected"): 1, ("rv_after", "total"): 1,
          ("rv_direct", "upheld"): 1, ("rv_direct", "total"): 1}
    sid = make(db, rows, t4, reqs)
    assert found(db, sid) == set()
    t4b = {**t4, ("rv_after", "corrected"): 0, ("rv_after", "total"): 0}
    sid = make(db, rows, t4b, reqs)
    assert found(db, sid, "L4") == {("L4", cell("rv_review", "corrected"), 2, 1)}
    t4c = {**t4, ("rv_direct", "corrected"): 1, ("rv_direct", "total"): 2}   # 3 ≥ 2
    sid = make(db, rows, t4c, reqs)
    assert found(db, sid, "L4") == set()


def test_many_submissions_in_one_query(db):
    a = make(db, base(), requests=OPEN2)
    b = make(db, base(new=nat(3)), requests=OPEN2)
    got = check(db, [a, b])
    assert {f.submission_id for f in got} == {b}
