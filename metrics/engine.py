"""The scoring engine: every scoring query of the application, set based over DuckDB.

Each year is scored with its own scheme (:func:`core.scheme.scheme_for`);
the scheme's values (dates, day counts, required sets, weights, grades) reach
SQL as small registered parameter tables, so a new year's TOML needs no code
change.  Points are carried as integer hundredths ("cents") and rates as
integer ten-thousandths, rounded half up with exact integer arithmetic::

    round_half_up(M * num / den) = (2 * M * num + den) // (2 * den)

(M = the indicator's max points in cents), i.e. points come from the exact
fraction, never from a rounded rate or a binary float.  They are turned into
``DECIMAL`` in SQL and reach Python as :class:`decimal.Decimal`.

Public API (pandas DataFrames): :func:`score_year`, :func:`indicator_points`,
:func:`item_facts`, :func:`request_facts`, :func:`coverage_matrix`,
:func:`trend`, :func:`scheme_changes`, plus :func:`quantize2` / :func:`quantize4`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from contextlib import contextmanager, nullcontext
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core import scheme as scheme_mod
from data.frames import plain_frame
from data.store import on_commit, transaction
from data.calendar import (WORKDAY_CTES, calendar_years_for, missing_calendar_years, provisional_reason,
                           require_calendar)
from core.errors import GongkaiError
from core.scheme import Scheme, load_catalogue
from core.scorecard import COUNT_COLUMNS, EXTRA_COLUMNS, SCORECARD_COLUMNS
from core.vocab import ItemState, Status, unit_type_order_sql

CORRECTED = "纠正"
#: G3: points deducted per counted request whose 复议诉讼结果 is 纠正 (methodology:
#: "2 − 1 × the number …").
G3_DEDUCTION = Decimal(1)


class UnknownYear(GongkaiError, ValueError):
    """No scheme for the requested year."""

    code = "unknown_year"

    def __init__(self, year):
        have = "、".join(str(y) for y in scheme_mod.years()) or "无"
        super().__init__(f"没有{year}年度的考核指标体系（{scheme_mod.scheme_dir().name}/{year}.toml）；已有年度：{have}")
        self.year = year


# --------------------------------------------------------------------------- rounding

_Q2, _Q4 = Decimal("0.01"), Decimal("0.0001")


def quantize2(v) -> Decimal | None:
    """Points: 2 decimals, half up (0.125 → 0.13). ``None`` stays ``None``."""
    if v is None:
        return None
    return (v if isinstance(v, Decimal) else Decimal(str(v))).quantize(_Q2, rounding=ROUND_HALF_UP)


def quantize4(v) -> Decimal | None:
    """Rates: 4 decimals, half up. ``None`` stays ``None``."""
    if v is None:
        return None
    return (v if isinstance(v, Decimal) else Decimal(str(v))).quantize(_Q4, rounding=ROUND_HALF_UP)


def _cents(v: Decimal, where: str) -> int:
    c = Decimal(v) * 100
    if c != c.to_integral_value():
        raise ValueError(f"{where}: 分值 {v} 超过两位小数")
    return int(c)


def _d2(expr: str) -> str:
    """SQL: integer cents → DECIMAL(18,2), exactly."""
    return f"(CAST(({expr}) AS DECIMAL(18,0)) * 0.01)::DECIMAL(18,2)"


def _d4(expr: str) -> str:
    """SQL: integer ten-thousandths → DECIMAL(18,4), exactly."""
    return f"(CAST(({expr}) AS DECIMAL(18,0)) * 0.0001)::DECIMAL(18,4)"


def _half_up(m: str, num: str, den: str) -> str:
    """SQL: round_half_up(m * num / den) for non-negative integers, den > 0."""
    return f"((2 * CAST({m} AS BIGINT) * CAST({num} AS BIGINT) + CAST({den} AS BIGINT)) // (2 * CAST({den} AS BIGINT)))"


# --------------------------------------------------------------------------- schemes → parameter tables

def _scheme(year: int, scheme: Scheme | None = None) -> Scheme:
    if scheme is not None:
        return scheme
    s = scheme_mod.scheme_for(int(year))
    if s is None:
        raise UnknownYear(year)
    return s


def _param_tables(schemes: list[Scheme]) -> dict[str, pa.Table]:
    cat = load_catalogue()
    yr, rules, req, ind, grades = [], [], [], [], []
    for s in schemes:
        yr.append({"year": s.year, "year_start": s.year_start, "year_end": s.year_end, "cutoff": s.cutoff,
                   "proactive_days": s.proactive_days, "late_days": s.late_submission_days,
                   "late_c": _cents(s.late_submission_points, f"{s.year} late_submission_points"),
                   "k1_c": _cents(s.k1_points, f"{s.year} K1_points"), "g3_ded_c": _cents(G3_DEDUCTION, f"{s.year} g3"),
                   "base_c": _cents(s.base_max, f"{s.year} base"), "fail_grade": s.fail_grade,
                   "rec_c": _cents(s.reconcile_points, f"{s.year} reconcile_points")})
        rs = list(s.request_rules)
        for n, r in enumerate(rs):
            end = rs[n + 1].start if n + 1 < len(rs) else dt.date(9999, 12, 31)
            rules.append({"year": s.year, "start": r.start, "end_excl": end, "days": r.days,
                          "extended_days": r.extended_days, "basis": r.basis})
        for t, codes in s.required.items():
            for c in dict.fromkeys(codes):
                req.append({"year": s.year, "unit_type": t, "code": c})
        for n, i in enumerate(s.indicators):
            ind.append({"year": s.year, "code": i.code, "ord": n, "grp": i.group, "text": i.text,
                        "max_c": _cents(i.max, f"{s.year} {i.code}.max"), "type": i.type,
                        "rule": i.rule if i.type == "auto" else None})
        for name, low in s.grades:
            grades.append({"year": s.year, "name": name, "low_c": _cents(low, f"{s.year} grades.{name}")})

    def tbl(rows, schema):
        return pa.Table.from_pylist(rows, schema=pa.schema(schema))

    return {
        "_eng_year": tbl(yr, [("year", pa.int32()), ("year_start", pa.date32()), ("year_end", pa.date32()),
                              ("cutoff", pa.date32()), ("proactive_days", pa.int32()), ("late_days", pa.int32()),
                              ("late_c", pa.int64()), ("k1_c", pa.int64()), ("g3_ded_c", pa.int64()),
                              ("base_c", pa.int64()), ("fail_grade", pa.string()), ("rec_c", pa.int64())]),
        "_eng_rule": tbl(rules, [("year", pa.int32()), ("start", pa.date32()), ("end_excl", pa.date32()),
                                 ("days", pa.int32()), ("extended_days", pa.int32()), ("basis", pa.string())]),
        "_eng_req": tbl(req, [("year", pa.int32()), ("unit_type", pa.string()), ("code", pa.string())]),
        "_eng_ind": tbl(ind, [("year", pa.int32()), ("code", pa.string()), ("ord", pa.int32()), ("grp", pa.string()),
                              ("text", pa.string()), ("max_c", pa.int64()), ("type", pa.string()),
                              ("rule", pa.string())]),
        "_eng_grade": tbl(grades, [("year", pa.int32()), ("name", pa.string()), ("low_c", pa.int64())]),
        "_eng_cat": tbl([{"code": c.code, "ord": n, "name": c.name} for n, c in enumerate(cat.categories)],
                        [("code", pa.string()), ("ord", pa.int32()), ("name", pa.string())]),
    }


@contextmanager
def _params(con: duckdb.DuckDBPyConnection, schemes: list[Scheme]):
    """Register the parameter tables of ``schemes`` after checking (never
    writing) that the calendar covers every day their scores depend on: it is
    built when the database is opened for writing (:func:`data.calendar.prepare_calendar`)."""
    need: set[int] = set()
    for s in schemes:
        need.update(calendar_years_for(s))
    require_calendar(con, need)
    tables = _param_tables(schemes)
    for name, t in tables.items():
        con.register(name, t)
    try:
        yield
    finally:
        _unregister(con, tables)


def _unregister(con, names) -> None:
    """Drop the registered tables ``names`` (those already gone are ignored)."""
    for name in names:
        try:
            con.unregister(name)
        except duckdb.Error:  # pragma: no cover
            pass


def _frame(tbl: pa.Table) -> pd.DataFrame:
    """Arrow → DataFrame of plain Python values (Decimal, int, date, str, bool, None)."""
    return plain_frame(tbl)


def _big_frame(tbl: pa.Table) -> pd.DataFrame:
    """Arrow → DataFrame for large fact tables: dates as ``datetime.date``,
    nullable integers as ``Int64``."""
    def mapper(t):
        if pa.types.is_integer(t):
            return pd.Int64Dtype()
        if pa.types.is_boolean(t):
            return pd.BooleanDtype()
        return None
    return tbl.to_pandas(types_mapper=mapper, date_as_object=True)


def _run(con, sql: str, params: dict | None = None) -> pa.Table:
    return con.sql(sql, params=params or None).to_arrow_table()


# --------------------------------------------------------------------------- SQL building blocks

def _unit_where(col: str, unit_filter: bool | str) -> str:
    """``WHERE`` on one unit (``$unit``, when ``unit_filter`` is true) or on a list
    of units (``$units``, when it is ``"many"``); empty when false."""
    if unit_filter == "many":
        return f"WHERE list_contains($units, {col})"
    return f"WHERE {col} = $unit" if unit_filter else ""


def _cur_sql(unit_filter: bool | str) -> str:
    """Current submission (highest version) per registered unit and scheme year."""
    where = _unit_where("s.unit", unit_filter)
    return f"""
    cur AS (
        SELECT s.unit, any_value(u.unit_type) AS unit_type, s.year,
               arg_max(s.id, s.version) AS sid, max(s.version) AS version,
               arg_min(s.received, s.version) AS first_received
        FROM submissions s
        JOIN units u ON u.name = s.unit
        JOIN _eng_year y ON y.year = s.year
        {where}
        GROUP BY s.unit, s.year
    )"""


def _state_sql(done: str, deadline: str, cutoff: str) -> str:
    """SQL: the state of an item or request — on time when done by the deadline,
    late when done after it or not done and the deadline is before the cut-off,
    otherwise pending (left out of the rate)."""
    return (f"CASE WHEN {done} IS NOT NULL THEN CASE WHEN {done} <= {deadline} THEN '{ItemState.ON_TIME}' ELSE '{ItemState.LATE}' END "
            f"WHEN {deadline} < {cutoff} THEN '{ItemState.LATE}' ELSE '{ItemState.NOT_DUE}' END")


def _days_late_sql(done: str) -> str:
    """SQL over ``f`` joined with ``cd`` (calendar at ``done``) and ``cc`` (at the
    cut-off): working days after the deadline — to the action, or to the cut-off
    when not done; 0 when on time; empty when pending."""
    return (f"CASE f.state WHEN '{ItemState.ON_TIME}' THEN 0 WHEN '{ItemState.LATE}' THEN "
            f"(CASE WHEN f.{done} IS NOT NULL THEN cd.wd_index ELSE cc.wd_index END) - f.deadline_idx END")


ITEMS_SQL = f"""
    items AS (
        SELECT cur.unit, cur.unit_type, cur.year, cur.sid, li.sheet_row, li.seq, li.title, li.category,
               li.formed, li.published, li.url,
               (li.formed BETWEEN y.year_start AND y.year_end) AS counted,
               w.day AS deadline, y.cutoff, c.wd_index AS formed_idx, w.wd_index AS deadline_idx,
               {_state_sql("li.published", "w.day", "y.cutoff")} AS state
        FROM cur
        JOIN ledger_items li ON li.submission_id = cur.sid
        JOIN _eng_year y ON y.year = cur.year
        LEFT JOIN cal c ON c.day = li.formed
        LEFT JOIN wdays w ON w.wd_index = c.wd_index + y.proactive_days
    )"""

REQUESTS_SQL = f"""
    rq0 AS (
        SELECT cur.unit, cur.unit_type, cur.year, cur.sid, r.sheet_row, r.request_no, r.applicant_type,
               r.received, r.corrected, r.extended, r.answered, r.result, r.review_result,
               coalesce(r.corrected, r.received) AS clock_start,
               (r.received BETWEEN y.year_start AND y.year_end) AS counted, y.cutoff
        FROM cur
        JOIN requests r ON r.submission_id = cur.sid
        JOIN _eng_year y ON y.year = cur.year
    ),
    rq AS (
        SELECT rq0.*, ru.basis AS rule_basis,
               CASE WHEN rq0.extended THEN ru.extended_days ELSE ru.days END AS days_allowed,
               c.wd_index AS start_idx, w.day AS deadline, w.wd_index AS deadline_idx,
               {_state_sql("rq0.answered", "w.day", "rq0.cutoff")} AS state
        FROM rq0
        LEFT JOIN _eng_rule ru ON ru.year = rq0.year AND rq0.received >= ru.start AND rq0.received < ru.end_excl
        LEFT JOIN cal c ON c.day = rq0.clock_start
        LEFT JOIN wdays w ON w.wd_index = c.wd_index
             + CASE WHEN rq0.extended THEN ru.extended_days ELSE ru.days END
    )"""

# required categories per registered unit and scheme year
REQUIRED_SQL = """
    reqset AS (
        SELECT DISTINCT unit, year, code FROM (
            SELECT u.name AS unit, r.year, r.code
            FROM units u JOIN _eng_req r ON r.unit_type = u.unit_type
            UNION ALL
            SELECT x.unit, y.year, x.code
            FROM (SELECT name AS unit, unnest(extra_categories) AS code FROM units) x, _eng_year y
        )
    )"""


#: a unit's rank among the submitted units of its type and year (over ``base b``: scored live or stored)
_RANK_SQL = ("CASE WHEN b.sid IS NOT NULL THEN rank() OVER (PARTITION BY b.year, b.unit_type, b.sid IS NULL "
             "ORDER BY b.total_c DESC) END AS rank")


def _score_ctes(unit_filter: bool | str = False) -> str:
    """CTEs ending in ``scored``: one row per registered unit and scheme year
    with integer cents/counts, ``points(unit, year, code, ...)`` per indicator."""
    return f"""
    WITH {WORKDAY_CTES},
    {_cur_sql(unit_filter)},
    {ITEMS_SQL},
    {REQUESTS_SQL},
    {REQUIRED_SQL},
    -- counted items per unit, year and category
    icat AS (
        SELECT unit, year, category,
               count(*) FILTER (WHERE state = '{ItemState.ON_TIME}') AS on_time,
               count(*) FILTER (WHERE state = '{ItemState.LATE}') AS late,
               count(*) FILTER (WHERE state = '{ItemState.NOT_DUE}') AS pending,
               count(*) FILTER (WHERE published <= cutoff) AS published_by_cutoff,
               count(*) AS items
        FROM items WHERE counted
        GROUP BY unit, year, category
    ),
    h1 AS (
        SELECT unit, year, CAST(sum(on_time) AS BIGINT) AS on_time, CAST(sum(late) AS BIGINT) AS late,
               CAST(sum(pending) AS BIGINT) AS pending
        FROM icat GROUP BY unit, year
    ),
    cov AS (
        SELECT rs.unit, rs.year, count(*) AS required,
               count(*) FILTER (WHERE coalesce(ic.published_by_cutoff, 0) > 0) AS covered,
               coalesce(string_agg(coalesce(k.name, rs.code), '、' ORDER BY coalesce(k.ord, 1000000), rs.code)
                        FILTER (WHERE coalesce(ic.published_by_cutoff, 0) = 0), '') AS missing
        FROM reqset rs
        LEFT JOIN icat ic ON ic.unit = rs.unit AND ic.year = rs.year AND ic.category = rs.code
        LEFT JOIN _eng_cat k ON k.code = rs.code
        GROUP BY rs.unit, rs.year
    ),
    g1 AS (
        SELECT unit, year,
               count(*) FILTER (WHERE state = '{ItemState.ON_TIME}') AS on_time,
               count(*) FILTER (WHERE state = '{ItemState.LATE}') AS late,
               count(*) FILTER (WHERE state = '{ItemState.NOT_DUE}') AS pending,
               count(*) FILTER (WHERE review_result = '{CORRECTED}') AS corrected
        FROM rq WHERE counted
        GROUP BY unit, year
    ),
    late_dl AS (
        SELECT y.year, w.day AS late_deadline
        FROM _eng_year y JOIN cal c ON c.day = y.cutoff
        LEFT JOIN wdays w ON w.wd_index = c.wd_index + y.late_days
    ),
    amax AS (
        SELECT year,
               max(max_c) FILTER (WHERE rule = 'H1') AS h1_m, max(max_c) FILTER (WHERE rule = 'H2') AS h2_m,
               max(max_c) FILTER (WHERE rule = 'G1') AS g1_m, max(max_c) FILTER (WHERE rule = 'G3') AS g3_m,
               max(max_c) FILTER (WHERE rule = 'I1') AS i1_m
        FROM _eng_ind GROUP BY year
    ),
    auto AS (
        SELECT cur.unit, cur.year,
               coalesce(h1.on_time, 0) AS p_on_time, coalesce(h1.late, 0) AS p_late,
               coalesce(h1.pending, 0) AS p_pending,
               coalesce(g1.on_time, 0) AS r_on_time, coalesce(g1.late, 0) AS r_late,
               coalesce(g1.pending, 0) AS r_pending, coalesce(g1.corrected, 0) AS r_corrected,
               cov.required, cov.covered, cov.missing,
               CASE WHEN coalesce(h1.on_time, 0) + coalesce(h1.late, 0) > 0
                    THEN {_half_up('am.h1_m', 'h1.on_time', 'h1.on_time + h1.late')} ELSE 0 END AS h1_c,
               CASE WHEN cov.required > 0 THEN {_half_up('am.h2_m', 'cov.covered', 'cov.required')}
                    ELSE am.h2_m END AS h2_c,
               CASE WHEN coalesce(g1.on_time, 0) + coalesce(g1.late, 0) > 0
                    THEN {_half_up('am.g1_m', 'g1.on_time', 'g1.on_time + g1.late')} ELSE am.g1_m END AS g1_c,
               greatest(am.g3_m - y.g3_ded_c * coalesce(g1.corrected, 0), 0) AS g3_c,
               CASE WHEN cur.first_received <= y.cutoff THEN am.i1_m
                    WHEN cur.first_received <= ld.late_deadline THEN least(y.late_c, am.i1_m)
                    ELSE 0 END AS i1_c
        FROM cur
        JOIN _eng_year y ON y.year = cur.year
        JOIN amax am ON am.year = cur.year
        LEFT JOIN late_dl ld ON ld.year = cur.year
        LEFT JOIN h1 ON h1.unit = cur.unit AND h1.year = cur.year
        LEFT JOIN g1 ON g1.unit = cur.unit AND g1.year = cur.year
        LEFT JOIN cov ON cov.unit = cur.unit AND cov.year = cur.year
    ),
    points AS (
        SELECT cur.unit, cur.unit_type, cur.year, cur.sid, i.code, i.ord, i.grp, i.text, i.max_c, i.type, i.rule,
               CASE WHEN i.type <> 'auto' THEN s.score END AS self_score,
               CASE WHEN i.type <> 'auto' THEN rv.score END AS review_score,
               CASE WHEN i.type <> 'auto' THEN rv.reason END AS review_reason,
               s.note AS self_note,
               CASE WHEN i.type = 'auto' THEN
                        CASE i.rule WHEN 'H1' THEN a.h1_c WHEN 'H2' THEN a.h2_c WHEN 'G1' THEN a.g1_c
                                    WHEN 'G3' THEN a.g3_c WHEN 'I1' THEN a.i1_c END
                    ELSE least(greatest(CAST(round(coalesce(rv.score, s.score, 0) * 100) AS BIGINT), 0), i.max_c)
               END AS points_c,
               CASE WHEN i.type = 'auto' THEN
                        CASE i.rule WHEN 'H1' THEN a.h1_c WHEN 'H2' THEN a.h2_c WHEN 'G1' THEN a.g1_c
                                    WHEN 'G3' THEN a.g3_c WHEN 'I1' THEN a.i1_c END
                    ELSE least(greatest(CAST(round(coalesce(s.score, 0) * 100) AS BIGINT), 0), i.max_c)
               END AS own_c
        FROM cur
        JOIN _eng_ind i ON i.year = cur.year
        JOIN auto a ON a.unit = cur.unit AND a.year = cur.year
        LEFT JOIN self_scores s ON s.submission_id = cur.sid AND upper(s.code) = i.code
        LEFT JOIN review_scores rv ON rv.submission_id = cur.sid AND upper(rv.code) = i.code
    ),
    sums AS (
        SELECT unit, year, CAST(sum(points_c) AS BIGINT) AS sum_c, CAST(sum(own_c) AS BIGINT) AS own_c
        FROM points GROUP BY unit, year
    ),
    -- 年报勾稽: the rules (T1 … L4) the current submission's annual report fails
    recf AS (
        SELECT cur.unit, cur.year, count(DISTINCT f.rule) AS n_rules
        FROM cur JOIN reconcile_findings f ON f.submission_id = cur.sid
        GROUP BY cur.unit, cur.year
    ),
    base AS (
        SELECT u.name AS unit, u.unit_type, y.year, cur.sid, cur.version, cur.first_received,
               y.cutoff, y.base_c, y.fail_grade,
               coalesce(p.k1_count, 0) AS k1_count, coalesce(p.k2_veto, false) AS k2_veto,
               CASE WHEN cur.sid IS NULL THEN '{Status.MISSING}'
                    ELSE coalesce(wf.status, '{Status.PENDING}') END AS status,
               CASE WHEN cur.sid IS NOT NULL
                    THEN greatest(sums.sum_c - coalesce(p.k1_count, 0) * y.k1_c
                                  - coalesce(recf.n_rules, 0) * y.rec_c, 0) END AS total_c,
               coalesce(recf.n_rules, 0) AS reconcile_failed,
               sums.own_c AS self_total_c,
               a.* EXCLUDE (unit, year)
        FROM units u
        CROSS JOIN _eng_year y
        LEFT JOIN cur ON cur.unit = u.name AND cur.year = y.year
        LEFT JOIN sums ON sums.unit = u.name AND sums.year = y.year
        LEFT JOIN auto a ON a.unit = u.name AND a.year = y.year
        LEFT JOIN penalties p ON p.unit = u.name AND p.year = y.year
        LEFT JOIN recf ON recf.unit = u.name AND recf.year = y.year
        LEFT JOIN workflow wf ON wf.unit = u.name AND wf.year = y.year
        {_unit_where("u.name", unit_filter)}
    ),
    scored AS (
        SELECT b.*,
               CASE WHEN b.sid IS NULL THEN NULL
                    WHEN b.k2_veto THEN b.fail_grade
                    ELSE coalesce((SELECT arg_max(g.name, g.low_c) FROM _eng_grade g
                                   WHERE g.year = b.year AND g.low_c <= b.total_c), b.fail_grade) END AS grade,
               {_RANK_SQL}
        FROM base b
    )"""


def _unit_year_columns() -> str:
    """SELECT list of the scorecard (and extra) columns over ``scored s``."""
    sub = "s.sid IS NOT NULL"
    cols = [
        "s.unit", "s.unit_type", "s.year", "s.status",
        f"{_d2('s.total_c')} AS total", "s.grade", "CAST(s.rank AS BIGINT) AS rank",
        f"{_d2('s.self_total_c')} AS self_total",
        f"CASE WHEN {sub} THEN s.p_on_time + s.p_late END AS proactive_counted",
        f"CASE WHEN {sub} THEN s.p_on_time END AS proactive_on_time",
        f"CASE WHEN {sub} THEN s.p_pending END AS proactive_pending",
        f"CASE WHEN {sub} AND s.p_on_time + s.p_late > 0 THEN "
        f"{_d4(_half_up('10000', 's.p_on_time', 's.p_on_time + s.p_late'))} END AS proactive_rate",
        f"CASE WHEN {sub} THEN s.r_on_time + s.r_late END AS requests_counted",
        f"CASE WHEN {sub} THEN s.r_on_time END AS requests_on_time",
        f"CASE WHEN {sub} AND s.r_on_time + s.r_late > 0 THEN "
        f"{_d4(_half_up('10000', 's.r_on_time', 's.r_on_time + s.r_late'))} END AS request_rate",
        f"CASE WHEN {sub} THEN s.required END AS required_categories",
        f"CASE WHEN {sub} THEN s.covered END AS covered_categories",
        f"CASE WHEN {sub} AND s.required > 0 THEN "
        f"{_d4(_half_up('10000', 's.covered', 's.required'))} END AS coverage_rate",
        f"CASE WHEN {sub} THEN s.missing END AS missing_categories",
    ]
    cols += [
        f"{_d2('s.base_c')} AS max_total",
        f"CASE WHEN {sub} THEN {_d4(_half_up('10000', 's.total_c', 's.base_c'))} END AS score_rate",
        "s.k1_count", "s.k2_veto", "s.reconcile_failed",
        f"CASE WHEN {sub} THEN s.first_received > s.cutoff END AS late_submission",
        "s.first_received AS received", "s.sid AS submission_id", "s.version",
        "s.r_pending AS requests_pending", "s.r_corrected AS requests_corrected",
    ]
    return ",\n        ".join(cols)


ORDER_SQL = f"""
    ORDER BY {unit_type_order_sql('s.unit_type')}, s.unit_type,
             s.sid IS NULL, s.rank NULLS LAST, s.unit"""


def _wide_indicator_sql(codes: list[str]) -> str:
    """Pivot of ``points`` to one column per indicator code (cents)."""
    parts = []
    for code in codes:
        lit = code.replace("'", "''")
        q = code.replace('"', '""')
        cents = "max(points_c) FILTER (WHERE code = '" + lit + "')"
        parts.append(f'{_d2(cents)} AS "{q}"')
    return ", ".join(parts)


# --------------------------------------------------------------------------- public API

def _schemes_for(years: Iterable[int] | None) -> list[Scheme]:
    if years is None:
        return [scheme_mod.scheme_for(y) for y in scheme_mod.years()]
    return [_scheme(y) for y in sorted({int(y) for y in years})]


def _provisional(con, schemes: list[Scheme]) -> dict[int, list[int]]:
    return {s.year: missing_calendar_years(con, s) for s in schemes}


def score_year(con: duckdb.DuckDBPyConnection, year: int, scheme: Scheme | None = None,
               unit: str | None = None) -> pd.DataFrame:
    """The scorecard of ``year``: one row per registered unit (or only ``unit``).

    Columns: :data:`SCORECARD_COLUMNS`, then one per indicator code of the
    scheme in scheme order, then :data:`EXTRA_COLUMNS` (and two diagnostic
    counts ``requests_pending``, ``requests_corrected``).  Points and rates are
    quantized ``Decimal``; counts ``int``; ``None`` where the scorecard is empty
    (未报送, no counted item or request).  Rows: 乡镇 first, then 部门; by rank,
    then unit name; 未报送 last within a type.  ``attrs``: year, provisional,
    missing_calendar_years, provisional_reason.
    """
    tbl, attrs = score_table(con, year, scheme, unit)
    df = _frame(tbl)
    df.attrs.update(attrs)
    return df


def score_table(con: duckdb.DuckDBPyConnection, year: int, scheme: Scheme | None = None,
                unit: str | None = None, points: bool = True) -> tuple[pa.Table, dict]:
    """:func:`score_year` as the Arrow table queried (points and rates decimal) and
    its attrs, for callers that aggregate or display it without Python objects.
    ``points=False``: without the column of each indicator (the pivot of every
    unit's points is 40 % of the query; totals, grades, ranks and rates need none)."""
    s = _scheme(year, scheme)
    codes = s.codes if points else []
    with _params(con, [s]), _stored_scored(con, [s]) as stored:
        # No unit filter inside the CTEs: a unit's rank is its rank among all
        # units of its type, so every unit is scored and the filter comes last.
        wide = (f""",
        wide AS (SELECT unit, year, {_wide_indicator_sql(codes)} FROM points GROUP BY unit, year)""" if codes else "")
        sql = f"""{stored or _score_ctes(False)}{wide}
        SELECT {_unit_year_columns()}{"".join(', w."' + c.replace('"', '""') + '"' for c in codes)}
        FROM scored s {"LEFT JOIN wide w ON w.unit = s.unit AND w.year = s.year" if codes else ""}
        {"WHERE s.unit = $unit" if unit is not None else ""}
        {ORDER_SQL}"""
        tbl = _run(con, sql, {"unit": unit} if unit is not None else None)
        missing = missing_calendar_years(con, s)
    n = tbl.num_rows
    tbl = tbl.append_column("provisional", pa.array([bool(missing)] * n, pa.bool_()))
    tbl = tbl.append_column("provisional_reason", pa.array([provisional_reason(missing)] * n, pa.string()))
    tbl = tbl.select(SCORECARD_COLUMNS + codes + EXTRA_COLUMNS + COUNT_COLUMNS + ["reconcile_failed"])
    return tbl, {"year": s.year, "provisional": bool(missing), "missing_calendar_years": missing,
                 "provisional_reason": provisional_reason(missing)}


def score_points(con: duckdb.DuckDBPyConnection, year: int, scheme: Scheme | None = None) -> pa.Table | None:
    """The indicator columns of :func:`score_table` on their own: unit, then one
    DECIMAL(18,2) column per indicator code, a row per submitted unit, from the stored
    scores; None when too few are stored (then ``score_table(points=True)`` scores
    everything in one query instead of twice)."""
    s = _scheme(year, scheme)
    with _params(con, [s]), _stored_scored(con, [s]) as stored:
        if stored is None:
            return None
        return _run(con, f"""{stored}
        SELECT unit, {_wide_indicator_sql(s.codes)} FROM points GROUP BY unit""")


def scorecard_columns(year: int, scheme: Scheme | None = None) -> list[str]:
    """The cli.md scorecard columns for ``year`` (fixed columns + indicator codes)."""
    return SCORECARD_COLUMNS + _scheme(year, scheme).codes


def indicator_points(con: duckdb.DuckDBPyConnection, year: int, unit: str | None = None,
                     scheme: Scheme | None = None) -> pd.DataFrame:
    """Long form per submitted unit and indicator: unit, unit_type, code, group,
    text, max, type, self_score, review_score, review_reason, points (final,
    2 dp), then year, self_note.  For automatic indicators self/review scores
    are ``None`` (a typed score is ignored) and points are the computed ones."""
    s = _scheme(year, scheme)
    with _params(con, [s]):
        sql = f"""{_score_ctes(unit is not None)}
        SELECT p.unit, p.unit_type, p.code, p.grp AS "group", p.text, {_d2('p.max_c')} AS max, p.type,
               p.self_score::DECIMAL(18,2) AS self_score, p.review_score::DECIMAL(18,2) AS review_score,
               p.review_reason, {_d2('p.points_c')} AS points, p.year, p.self_note
        FROM points p
        ORDER BY {unit_type_order_sql('p.unit_type')}, p.unit, p.ord"""
        tbl = _run(con, sql, {"unit": unit} if unit is not None else None)
    return _frame(tbl)


def _facts_ctes(unit_filter: bool) -> str:
    return f"WITH {WORKDAY_CTES},\n{_cur_sql(unit_filter)},\n{ITEMS_SQL},\n{REQUESTS_SQL}"


def _item_facts_sql(unit_filter: bool, include_uncounted: bool) -> str:
    """CTEs ending in ``facts``: one row per ledger item with its deadline, state and days late."""
    return f"""{_facts_ctes(unit_filter)},
        f AS (SELECT * FROM items {"" if include_uncounted else "WHERE counted"}),
        facts AS (
            SELECT f.unit, f.unit_type, f.year, f.sid AS submission_id, f.sheet_row, f.seq, f.title,
                   f.category, k.name AS category_name, f.formed, f.published, f.url, f.deadline, f.state,
                   {_days_late_sql("published")} AS days_late,
                   f.counted
            FROM f
            LEFT JOIN _eng_cat k ON k.code = f.category
            LEFT JOIN cal cd ON cd.day = f.published
            LEFT JOIN cal cc ON cc.day = f.cutoff
        )"""


_UNIT_ORDER = f"{unit_type_order_sql('unit_type')}, unit"


def item_facts(con: duckdb.DuckDBPyConnection, year: int, unit: str | None = None,
               include_uncounted: bool = False, scheme: Scheme | None = None,
               states: Iterable[str] | None = None, as_arrow: bool = False) -> pd.DataFrame | pa.Table:
    """One row per ledger item of the current submissions: unit, unit_type, year,
    submission_id, sheet_row, seq, title, category (code), category_name,
    formed, published, url, deadline, state (按时/逾期/未到期), days_late
    (working days after the deadline: to 公开日期, or to the cut-off when
    unpublished; 0 when on time; empty when pending), counted.

    Only items formed in the assessment year count; others are returned only
    with ``include_uncounted=True`` (``counted`` = False). ``states`` keeps
    only items in those states (e.g. the overdue and pending ones).
    ``as_arrow``: the Arrow table as queried (for storing millions of rows)."""
    s = _scheme(year, scheme)
    params: dict = {"unit": unit} if unit is not None else {}
    where = ""
    if states is not None:
        where = "WHERE state IN (SELECT unnest($states))"
        params["states"] = list(states)
    with _params(con, [s]):
        sql = f"""{_item_facts_sql(unit is not None, include_uncounted)}
        SELECT * FROM facts {where} ORDER BY {_UNIT_ORDER}, sheet_row"""
        tbl = _run(con, sql, params)
    return tbl if as_arrow else _big_frame(tbl)


def item_aggregates(con: duckdb.DuckDBPyConnection, year: int,
                    scheme: Scheme | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Small aggregates of the counted ledger items, for charts that must not
    load every item: ``(monthly, late_days)`` where ``monthly`` has unit,
    unit_type, month (of 形成日期), state, published (bool), n and
    ``late_days`` has unit, unit_type, days_late, n of the late items."""
    df = _big_frame(item_aggregates_table(con, year, scheme))
    monthly = df[df["by_days"] == 0][["unit", "unit_type", "month", "state", "published", "n"]]
    late = df[(df["by_days"] == 1) & df["late_by"].notna()][["unit", "unit_type", "late_by", "n"]]
    return (monthly.reset_index(drop=True),
            late.rename(columns={"late_by": "days_late"}).reset_index(drop=True))


def item_aggregates_table(con: duckdb.DuckDBPyConnection, year: int, scheme: Scheme | None = None,
                          per_unit: bool = True) -> pa.Table:
    """:func:`item_aggregates` as one Arrow table: unit, unit_type, month, state,
    published, late_by, n, by_days (0: a monthly row, 1: a late-days row).
    ``per_unit=False``: added up per unit type (``unit`` empty; a few hundred rows
    where a province has 400,000), for figures of the whole year or of a type."""
    s = _scheme(year, scheme)
    with _params(con, [s]), _stored_item_stats(con, s) as ist:
        if ist is not None and not per_unit:
            return _run(con, f"""WITH {_cur_sql(False)}, {ist}
                SELECT NULL::VARCHAR AS unit, cur.unit_type, i.month, i.state, i.published,
                       i.days_late AS late_by, CAST(sum(i.n) AS BIGINT) AS n,
                       CASE WHEN i.kind = 'month' THEN 0 ELSE 1 END AS by_days
                FROM ist i JOIN cur ON cur.sid = i.sid
                WHERE i.kind IN ('month', 'late')
                GROUP BY ALL ORDER BY ALL""")
        if ist is not None:  # the versions' stored figures (issue 14): no pass over the ledger
            # units numbered in order first: sorting 400,000 rows by the unit's name took 0.8 s
            return _run(con, f"""WITH {_cur_sql(False)}, {ist},
                uo AS (SELECT sid, unit, unit_type, row_number() OVER (ORDER BY {_UNIT_ORDER}) AS o FROM cur)
                SELECT uo.unit, uo.unit_type, i.month, i.state, i.published, i.days_late AS late_by, i.n,
                       CASE WHEN i.kind = 'month' THEN 0 ELSE 1 END AS by_days
                FROM ist i JOIN uo ON uo.sid = i.sid
                WHERE i.kind IN ('month', 'late')
                ORDER BY uo.o, i.month, i.state, i.published, i.days_late""")
        tbl = _item_aggregates_live(con)
    return tbl if per_unit else item_aggregates_by_type(tbl)


def item_aggregates_by_type(tbl: pa.Table) -> pa.Table:
    """An :func:`item_aggregates_table` added up per unit type (``unit`` empty)."""
    keys = ["unit_type", "month", "state", "published", "late_by", "by_days"]
    g = tbl.group_by(keys, use_threads=False).aggregate([("n", "sum")]).rename_columns(keys + ["n"])
    g = g.append_column("unit", pa.nulls(g.num_rows, pa.string()))
    return g.select(["unit", "unit_type", "month", "state", "published", "late_by", "n", "by_days"])


def _item_aggregates_live(con) -> pa.Table:
    """Inside :func:`_params`: :func:`item_aggregates`' rows computed from the ledger
    (one pass over the items: two grouping sets, told apart by grouping())."""
    return _run(con, f"""{_item_facts_sql(False, False)},
            g AS (SELECT unit, unit_type, CAST(month(formed) AS INTEGER) AS month, state,
                         published IS NOT NULL AS published,
                         CASE WHEN state = '{ItemState.LATE}' THEN CAST(days_late AS INTEGER) END AS late_by
                  FROM facts)
            SELECT unit, unit_type, month, state, published, late_by, count(*) AS n,
                   grouping(month) AS by_days
            FROM g
            GROUP BY GROUPING SETS ((unit, unit_type, month, state, published), (unit, unit_type, late_by))
            ORDER BY {_UNIT_ORDER}, month, state, published, late_by""")


def request_facts(con: duckdb.DuckDBPyConnection, year: int, unit: str | None = None,
                  include_uncounted: bool = False, scheme: Scheme | None = None,
                  as_arrow: bool = False) -> pd.DataFrame | pa.Table:
    """One row per request of the current submissions: unit, unit_type, year,
    submission_id, sheet_row, request_no, applicant_type, received, corrected,
    clock_start, extended, answered, result, review_result, rule_basis,
    days_allowed, deadline, state (按时/逾期/未到期), days_taken (working days from
    the clock start to the answer), days_late, counted (收到日期 in the year)."""
    s = _scheme(year, scheme)
    with _params(con, [s]):
        sql = f"""{_facts_ctes(unit is not None)},
        f AS (SELECT * FROM rq {"" if include_uncounted else "WHERE counted"})
        SELECT f.unit, f.unit_type, f.year, f.sid AS submission_id, f.sheet_row, f.request_no, f.applicant_type,
               f.received, f.corrected, f.clock_start, f.extended, f.answered, f.result, f.review_result,
               f.rule_basis, f.days_allowed, f.deadline, f.state,
               cd.wd_index - f.start_idx AS days_taken,
               {_days_late_sql("answered")} AS days_late,
               f.counted
        FROM f
        LEFT JOIN cal cd ON cd.day = f.answered
        LEFT JOIN cal cc ON cc.day = f.cutoff
        ORDER BY {unit_type_order_sql('f.unit_type')}, f.unit, f.sheet_row"""
        tbl = _run(con, sql, {"unit": unit} if unit is not None else None)
    return tbl if as_arrow else _big_frame(tbl)


def coverage_matrix(con: duckdb.DuckDBPyConnection, year: int, unit: str | None = None,
                    scheme: Scheme | None = None) -> pd.DataFrame:
    """Per submitted unit and every catalogue category: unit, unit_type, code,
    name, required, covered (a counted item of the category published by the
    cut-off), then items (counted items of the category) and published
    (those published by the cut-off)."""
    s = _scheme(year, scheme)
    with _params(con, [s]), (_stored_item_stats(con, s) if unit is None else nullcontext()) as ist:
        icat = (f"""{ist},
        icat AS (
            SELECT cur.unit, cur.year, i.category, i.n AS items, i.n_published AS published
            FROM ist i JOIN cur ON cur.sid = i.sid WHERE i.kind = 'category'
        )""" if ist is not None else f"""{WORKDAY_CTES},
        {ITEMS_SQL},
        icat AS (
            SELECT unit, year, category, count(*) AS items,
                   count(*) FILTER (WHERE published <= cutoff) AS published
            FROM items WHERE counted GROUP BY unit, year, category
        )""")
        sql = f"""WITH {_cur_sql(unit is not None)},
        {REQUIRED_SQL},
        {icat}
        SELECT cur.unit, cur.unit_type, k.code, k.name,
               (rs.code IS NOT NULL) AS required,
               coalesce(ic.published, 0) > 0 AS covered,
               coalesce(ic.items, 0) AS items, coalesce(ic.published, 0) AS published
        FROM cur
        CROSS JOIN _eng_cat k
        LEFT JOIN reqset rs ON rs.unit = cur.unit AND rs.year = cur.year AND rs.code = k.code
        LEFT JOIN icat ic ON ic.unit = cur.unit AND ic.year = cur.year AND ic.category = k.code
        ORDER BY {unit_type_order_sql('cur.unit_type')}, cur.unit, k.ord"""
        tbl = _run(con, sql, {"unit": unit} if unit is not None else None)
    return _frame(tbl)


TREND_COLUMNS = ["unit", "unit_type", "year", "status", "total", "max_total", "score_rate",
                 "proactive_rate", "coverage_rate", "request_rate"]


def trend(con: duckdb.DuckDBPyConnection, years: Iterable[int] | None = None,
          unit: str | None = None) -> pd.DataFrame:
    """Per registered unit and scheme year (all years by default), each year
    scored with its own scheme: unit, unit_type, year, status, total,
    max_total, score_rate (得分率 = total / base max), proactive_rate,
    coverage_rate, request_rate, then grade, rank, provisional.
    Compare years on ``score_rate`` where the maxima differ."""
    schemes = _schemes_for(years)
    if not schemes:
        return pd.DataFrame(columns=TREND_COLUMNS + ["grade", "rank", "provisional"])
    with _params(con, schemes), _stored_scored(con, schemes) as stored:
        sql = f"""{stored or _score_ctes(False)}
        SELECT {_unit_year_columns()} FROM scored s
        {"WHERE s.unit = $unit" if unit is not None else ""}
        ORDER BY s.year, {unit_type_order_sql('s.unit_type')}, s.unit_type,
                 s.sid IS NULL, s.rank NULLS LAST, s.unit"""
        tbl = _run(con, sql, {"unit": unit} if unit is not None else None)
        prov = _provisional(con, schemes)
    df = _frame(tbl)
    df["provisional"] = pd.Series([bool(prov.get(y)) for y in df["year"]], dtype=object)
    return df[TREND_COLUMNS + ["grade", "rank", "provisional"]]


#: the columns of the 一级指标 means :func:`trend_tables` gives (``unit_type`` empty: every type)
GROUP_MEAN_COLUMNS = ["year", "grp", "unit_type", "units", "mean_points", "mean_rate"]

#: SQL over ``u`` (year, unit_type, grp, pts, rate: a submitted unit-year's 一级指标 subtotal):
#: the means per year and group, per unit type and over every type
GROUP_MEAN_SQL = """
    SELECT year, grp, CASE WHEN grouping(unit_type) = 0 THEN unit_type END AS unit_type,
           count(pts) AS units, avg(pts) AS mean_points, avg(rate) AS mean_rate
    FROM u GROUP BY GROUPING SETS ((year, grp, unit_type), (year, grp))"""


def trend_tables(con: duckdb.DuckDBPyConnection, years: Iterable[int] | None = None) -> tuple[pa.Table, pa.Table]:
    """:func:`trend` of several years scored together (one pass, not one per year), as
    Arrow: ``rows`` (:data:`TREND_COLUMNS`, grade, rank, provisional; by year, then in
    scorecard order) and ``means`` (:data:`GROUP_MEAN_COLUMNS`): per year, 一级指标 and
    unit type (and every type) the submitted units with a subtotal, their mean subtotal
    (the sum of the group's indicator points; none when one is missing) and their mean
    得分率 (subtotal ÷ the group's maximum)."""
    schemes = _schemes_for(years)
    if not schemes:
        return (pa.table({c: pa.array([], pa.null()) for c in TREND_COLUMNS + ["grade", "rank", "provisional"]}),
                pa.table({c: pa.array([], pa.null()) for c in GROUP_MEAN_COLUMNS}))
    order = ORDER_SQL.replace("ORDER BY", "ORDER BY s.year,", 1)
    with _params(con, schemes), _stored_scored(con, schemes) as stored:
        ctes = stored or _score_ctes(False)
        rows = _run(con, f"""{ctes} SELECT {_unit_year_columns()} FROM scored s {order}""")
        # the submitted unit-years, from the rows just read: the means' query then reads the
        # points only (``scored`` is not computed a second time)
        o = pa.table({"unit": rows.column("unit"), "unit_type": rows.column("unit_type"),
                      "year": rows.column("year")}).filter(pc.is_valid(rows.column("submission_id")))
        con.register("_eng_tt_o", o)
        try:
            means = _run(con, f"""{ctes},
                gm AS (SELECT year, grp, count(*) AS k, sum(max_c) AS max_c FROM _eng_ind GROUP BY year, grp),
                ps AS (SELECT p.unit, p.year, i.grp, count(p.points_c) AS k, sum(p.points_c) AS c
                       FROM points p JOIN _eng_ind i ON i.year = p.year AND i.code = p.code GROUP BY ALL),
                u AS (SELECT o.year, o.unit_type, gm.grp,
                             CASE WHEN ps.k = gm.k THEN {_d2('ps.c')} END AS pts,
                             CASE WHEN ps.k = gm.k AND gm.max_c > 0
                                  THEN CAST({_d2('ps.c')} AS DOUBLE) / CAST({_d2('gm.max_c')} AS DOUBLE) END AS rate
                      FROM _eng_tt_o o JOIN gm ON gm.year = o.year
                      LEFT JOIN ps ON ps.unit = o.unit AND ps.year = o.year AND ps.grp = gm.grp)
                {GROUP_MEAN_SQL}""")
        finally:
            _unregister(con, ["_eng_tt_o"])
        prov = _provisional(con, schemes)
    flags = pa.array([bool(prov.get(y)) for y in rows.column("year").to_pylist()], pa.bool_())
    rows = rows.append_column("provisional", flags).select(TREND_COLUMNS + ["grade", "rank", "provisional"])
    return rows, means.select(GROUP_MEAN_COLUMNS)


def scheme_changes(years: Iterable[int] | None = None) -> dict[int, list[str]]:
    """For each scheme year after the first: the changes against the previous
    scheme year (from :func:`core.scheme.scheme_changes`); empty list = same weights."""
    ys = sorted(int(y) for y in (years if years is not None else scheme_mod.years()))
    ys = [y for y in ys if scheme_mod.scheme_for(y) is not None]
    out: dict[int, list[str]] = {}
    for a, b in zip(ys, ys[1:]):
        out[b] = scheme_mod.scheme_changes(scheme_mod.scheme_for(a), scheme_mod.scheme_for(b))
    return out


def year_status(con: duckdb.DuckDBPyConnection, year: int, scheme: Scheme | None = None) -> dict:
    """``{"year", "provisional", "missing_calendar_years", "reason"}`` for UI banners."""
    s = _scheme(year, scheme)
    missing = missing_calendar_years(con, s)
    return {"year": s.year, "provisional": bool(missing), "missing_calendar_years": missing,
            "reason": provisional_reason(missing)}


# --------------------------------------------------------------------------- stored scores
#
# Every unit-year's figures (the ``base`` row and its grade) and indicator points are
# stored in ``unit_scores`` / ``score_points`` right after each write that changes them
# (:func:`_after_commit`, registered with :func:`data.store.on_commit`), so pages read
# them and rank with cheap SQL instead of scoring the whole year again.  A stored row
# is used only while it still matches: ``ykey`` names the year's scheme, catalogue and
# calendar, ``fp`` the unit-year's inputs (registry entry, current version, self and
# review scores, 年报勾稽 findings, penalties, workflow status).  Rows that do not match
# (a write made outside this code, a newer scheme) are scored live in the same read,
# so a reader never sees a stale score; :func:`rescore` stores a whole year again.

#: the stored columns of a unit-year, in ``base``/``scored`` names (``unit_scores``)
STORED_COLUMNS = ["sid", "version", "first_received", "status", "total_c", "reconcile_failed", "self_total_c",
                  "k1_count", "k2_veto", "p_on_time", "p_late", "p_pending", "r_on_time", "r_late", "r_pending",
                  "r_corrected", "required", "covered", "missing", "h1_c", "h2_c", "g1_c", "g3_c", "i1_c", "grade"]
#: above this share of a year's unit-years not stored (or stale), a read scores the year live
LIVE_SHARE = 0.25


def _fp_ctes(unit_filter: bool | str = False) -> str:
    """CTEs (after others, no ``WITH``) ending in ``fp(unit, year, fp)``: a hash of
    everything a registered unit-year's score depends on besides the scheme and calendar
    (ledger rows and requests belong to one submission version and never change)."""
    return f"""
    fp_cur AS (
        SELECT s.unit, s.year, arg_max(s.id, s.version) AS sid, max(s.version) AS version,
               arg_min(s.received, s.version) AS first_received
        FROM submissions s JOIN _eng_year y ON y.year = s.year
        {_unit_where("s.unit", unit_filter)}
        GROUP BY s.unit, s.year
    ),
    fp_rs AS (SELECT r.submission_id, sum(hash(upper(r.code), r.score)) AS h
              FROM review_scores r JOIN fp_cur c ON c.sid = r.submission_id GROUP BY r.submission_id),
    fp_ss AS (SELECT r.submission_id, sum(hash(upper(r.code), r.score)) AS h
              FROM self_scores r JOIN fp_cur c ON c.sid = r.submission_id GROUP BY r.submission_id),
    fp_rf AS (SELECT f.submission_id, count(DISTINCT f.rule) AS n
              FROM reconcile_findings f JOIN fp_cur c ON c.sid = f.submission_id GROUP BY f.submission_id),
    fp AS (
        SELECT u.name AS unit, y.year,
               CAST(hash(u.unit_type, u.extra_categories, c.sid, c.version, c.first_received, rs.h, ss.h, rf.n,
                         p.k1_count, p.k2_veto, wf.status) AS VARCHAR) AS fp
        FROM units u CROSS JOIN _eng_year y
        LEFT JOIN fp_cur c ON c.unit = u.name AND c.year = y.year
        LEFT JOIN fp_rs rs ON rs.submission_id = c.sid
        LEFT JOIN fp_ss ss ON ss.submission_id = c.sid
        LEFT JOIN fp_rf rf ON rf.submission_id = c.sid
        LEFT JOIN penalties p ON p.unit = u.name AND p.year = y.year
        LEFT JOIN workflow wf ON wf.unit = u.name AND wf.year = y.year
        {_unit_where("u.name", unit_filter)}
    )"""


def _year_keys(con, schemes: list[Scheme]) -> dict[int, str]:
    """Per scheme year: a key of its parameter tables (scheme and catalogue) and of the
    working-day calendar. A stored row with another key is not used."""
    cal = con.execute("SELECT CAST(coalesce(sum(hash(day, is_workday)), 0) AS VARCHAR) FROM calendar").fetchall()[0][0]
    out = {}
    for s in schemes:
        h = hashlib.sha256()
        for name, t in sorted(_param_tables([s]).items()):
            h.update(name.encode())
            h.update(repr(t.to_pylist()).encode())
        out[s.year] = f"{h.hexdigest()[:32]}:{cal}"
    return out


_LATEST_SQL = """
    st AS (
        SELECT x.* FROM unit_scores x JOIN _eng_ykey k ON k.year = x.year AND k.ykey = x.ykey
        QUALIFY row_number() OVER (PARTITION BY x.unit, x.year ORDER BY x.id DESC) = 1
    )"""


def _compute(con, units: list[str] | None) -> tuple[pa.Table, pa.Table]:
    """Score the registered units (all, or ``units``) live in the years of the registered
    parameter tables: (rows of ``unit, year, fp`` + :data:`STORED_COLUMNS`, points of
    ``unit, year, code, points_c``)."""
    flt = "many" if units is not None else False
    params = {"units": list(units)} if units is not None else None
    cols = ", ".join(f"s.{c}" for c in STORED_COLUMNS)
    both = _run(con, f"""{_score_ctes(flt)}, {_fp_ctes(flt)},
        pl AS (SELECT unit, year, list(code ORDER BY ord) AS codes, list(points_c ORDER BY ord) AS pts
               FROM points GROUP BY unit, year)
        SELECT s.unit, s.year, fp.fp, {cols}, pl.codes, pl.pts
        FROM scored s JOIN fp ON fp.unit = s.unit AND fp.year = s.year
        LEFT JOIN pl ON pl.unit = s.unit AND pl.year = s.year""", params)
    codes, pts = both.column("codes"), both.column("pts")
    parent = pc.list_parent_indices(codes)
    points = pa.table({"unit": pc.take(both.column("unit"), parent), "year": pc.take(both.column("year"), parent),
                       "code": pc.list_flatten(codes), "points_c": pc.list_flatten(pts)})
    return both.drop_columns(["codes", "pts"]), points


@contextmanager
def _stored_scored(con, schemes: list[Scheme]):
    """Inside :func:`_params`: CTEs (``WITH …``) ending in ``scored`` and ``points`` like
    :func:`_score_ctes`, read from the stored scores with the stale unit-years scored
    live; ``None`` when too little of the years is stored (then score live)."""
    total = con.execute("SELECT count(*) FROM units").fetchall()[0][0] * len(schemes)
    # at most this many unit-years are stored and current: when even they would leave too many to
    # score live, the stale ones are not looked for (a year not stored yet, a build under deferred)
    stored = con.execute("SELECT count(*) FROM (SELECT DISTINCT unit, year FROM unit_scores "
                         "WHERE year IN (SELECT unnest(?)))", [[s.year for s in schemes]]).fetchall()[0][0]
    if total == 0 or total - stored > LIVE_SHARE * total:
        yield None
        return
    keys = _year_keys(con, schemes)
    con.register("_eng_ykey", pa.table({"year": pa.array(list(keys), pa.int32()),
                                        "ykey": pa.array(list(keys.values()), pa.string())}))
    names = ["_eng_ykey"]
    try:
        stale = _run(con, f"""WITH {_LATEST_SQL}, {_fp_ctes()}
            SELECT fp.unit, fp.year, st.id IS NULL AS absent FROM fp
            LEFT JOIN st ON st.unit = fp.unit AND st.year = fp.year
            WHERE st.id IS NULL OR st.fp <> fp.fp""")
        if stale.num_rows > LIVE_SHARE * total:
            yield None
            return
        units = sorted(set(stale.column("unit").to_pylist()))
        rows, pts = _compute(con, units) if units else (None, None)
        if rows is None:
            rows = pa.table({"unit": pa.array([], pa.string()), "year": pa.array([], pa.int32())})
            pts = pa.table({"unit": pa.array([], pa.string()), "year": pa.array([], pa.int32()),
                            "code": pa.array([], pa.string()), "points_c": pa.array([], pa.int64())})
        for name, t in (("_st_stale", stale), ("_st_rows", rows), ("_st_pts", pts)):
            con.register(name, t)
            names.append(name)
        cols = ", ".join(STORED_COLUMNS)
        live_rows = (f"SELECT r.unit, r.year, {', '.join('r.' + c for c in STORED_COLUMNS)} FROM _st_rows r "
                     "JOIN _st_stale x ON x.unit = r.unit AND x.year = r.year") if units else \
            f"SELECT unit, year, {cols} FROM st WHERE false"
        live_pts = ("SELECT p.unit, p.year, p.code, p.points_c FROM _st_pts p "
                    "JOIN _st_stale x ON x.unit = p.unit AND x.year = p.year")
        yield f"""WITH {_LATEST_SQL},
    fresh AS (SELECT st.* FROM st ANTI JOIN _st_stale x ON x.unit = st.unit AND x.year = st.year),
    rows AS (SELECT unit, year, {cols} FROM fresh UNION ALL {live_rows}),
    points AS (SELECT f.unit, f.year, sp.code, sp.points_c FROM fresh f JOIN score_points sp ON sp.score_id = f.id
               UNION ALL {live_pts}),
    base AS (
        SELECT u.name AS unit, u.unit_type, y.year, r.sid, r.version, r.first_received, y.cutoff, y.base_c,
               y.fail_grade, {', '.join('r.' + c for c in STORED_COLUMNS if c not in ('sid', 'version', 'first_received'))}
        FROM units u CROSS JOIN _eng_year y JOIN rows r ON r.unit = u.name AND r.year = y.year
    ),
    scored AS (
        SELECT b.*, {_RANK_SQL}
        FROM base b
    )"""
    finally:
        _unregister(con, names)


# --------------------------------------------------------------------------- stored ledger figures
#
# The timeliness and coverage pages aggregate every counted ledger item of a year
# (a province: 3 M items, 2–3 s a query). A version's ledger rows never change, so its
# figures are stored once per version and year key (``item_stats``, written with the
# stored scores) and a page adds up a few rows per unit instead.

_ITEM_STAT_COLUMNS = ["sid", "year", "kind", "month", "state", "published", "days_late", "category", "n",
                      "n_published"]


def _item_stats_live(con, units: list[str] | None) -> pa.Table:
    """Inside :func:`_params`: the figures of the current versions of ``units`` (all when
    None) computed from their ledgers — :data:`_ITEM_STAT_COLUMNS`, with one ``done`` row
    per version (``n`` = 0)."""
    flt = "many" if units is not None else False
    return _run(con, f"""{_item_facts_sql(flt, False)},
        ig AS (SELECT f.submission_id AS sid, f.year, CAST(month(f.formed) AS INTEGER) AS month, f.state,
                      f.published IS NOT NULL AS published,
                      CASE WHEN f.state = '{ItemState.LATE}' THEN CAST(f.days_late AS INTEGER) END AS late_by,
                      f.category, f.published <= y.cutoff AS by_cutoff
               FROM facts f JOIN _eng_year y ON y.year = f.year),
        g AS (SELECT sid, year,
                     CASE WHEN grouping(month) = 0 THEN 'month' WHEN grouping(late_by) = 0 THEN 'late'
                          ELSE 'category' END AS kind,
                     month, state, published, late_by AS days_late, category,
                     count(*) AS n, count(*) FILTER (WHERE by_cutoff) AS n_published
              FROM ig
              GROUP BY GROUPING SETS ((sid, year, month, state, published), (sid, year, late_by),
                                      (sid, year, category)))
        SELECT {", ".join(_ITEM_STAT_COLUMNS)} FROM g WHERE NOT (kind = 'late' AND days_late IS NULL)
        UNION ALL
        SELECT sid, year, 'done', NULL, NULL, NULL, NULL, NULL, 0, NULL FROM cur""",
        {"units": list(units)} if units is not None else None)


_ITEM_DONE_SQL = """
    ist_done AS (
        SELECT x.sid, max(x.batch) AS batch
        FROM item_stats x JOIN _ist_key k ON k.year = x.year AND k.ykey = x.ykey
        WHERE x.kind = 'done' GROUP BY x.sid
    )"""


@contextmanager
def _item_key(con, s: Scheme, key: str):
    """Register ``_ist_key`` (``s.year`` and its year key ``key``), which :data:`_ITEM_DONE_SQL` reads."""
    con.register("_ist_key", pa.table({"year": pa.array([s.year], pa.int32()), "ykey": pa.array([key], pa.string())}))
    try:
        yield
    finally:
        _unregister(con, ["_ist_key"])


def _unstored(con, units: list[str] | None = None) -> tuple[int, list[str]]:
    """Inside :func:`_params` and :func:`_item_key`: the number of current versions (of ``units``,
    all when None) and the units whose current version has no figures stored under the key."""
    todo = _run(con, f"""WITH {_cur_sql("many" if units is not None else False)}, {_ITEM_DONE_SQL}
        SELECT cur.unit, d.sid IS NULL AS absent FROM cur LEFT JOIN ist_done d ON d.sid = cur.sid""",
                {"units": list(units)} if units is not None else None)
    return todo.num_rows, sorted(pc.filter(todo.column("unit"), todo.column("absent")).to_pylist())


@contextmanager
def _stored_item_stats(con, s: Scheme):
    """Inside :func:`_params`: CTEs (after ``cur``, no ``WITH``) ending in ``ist`` —
    :data:`_ITEM_STAT_COLUMNS` but ``done`` of every current version of ``s.year``, read
    from ``item_stats`` with the versions not stored computed live; ``None`` when too few
    are stored (then the caller aggregates the ledger itself)."""
    with _item_key(con, s, _year_keys(con, [s])[s.year]):
        current, absent = _unstored(con)
        if current == 0 or len(absent) > LIVE_SHARE * current:
            yield None
            return
        cols = ", ".join(f"x.{c}" for c in _ITEM_STAT_COLUMNS)
        live = ""
        if absent:
            con.register("_ist_live", _item_stats_live(con, absent))
            live = f"UNION ALL SELECT {cols} FROM _ist_live x WHERE x.kind <> 'done'"
        try:
            yield f"""{_ITEM_DONE_SQL},
        ist AS (
            SELECT {cols} FROM item_stats x JOIN ist_done d ON d.sid = x.sid AND d.batch = x.batch
            WHERE x.kind <> 'done'
            {live}
        )"""
        finally:
            if absent:
                _unregister(con, ["_ist_live"])


def _new_item_stats(con, s: Scheme, key: str, units: list[str] | None, *, every: bool) -> pa.Table | None:
    """Inside :func:`_params`: the figures to store for ``units`` (all when None): every
    current version's with ``every``, else only those of versions not stored under ``key``."""
    if not every:
        with _item_key(con, s, key):
            _, units = _unstored(con, units)
        if not units:
            return None
    tbl = _item_stats_live(con, units)
    return tbl if tbl.num_rows else None


def _insert_item_stats(con, tbl: pa.Table, key: str) -> int:
    """Inside a transaction: store ``tbl`` (:func:`_item_stats_live` rows) under ``key``,
    each version's rows one batch named by the id of its ``done`` row. Returns the lowest id."""
    n = tbl.num_rows
    ids = pa.array([r[0] for r in con.execute("SELECT nextval('item_stat_id_seq') FROM range(?)", [n]).fetchall()],
                   pa.int64())
    tbl = tbl.append_column("id", ids).append_column("ykey", pa.array([key] * n, pa.string()))
    done = pc.equal(tbl.column("kind"), "done")
    batch = pa.table({"sid": pc.filter(tbl.column("sid"), done), "batch": pc.filter(ids, done)})
    tbl = tbl.join(batch, "sid")
    names = ["id", "ykey", "batch", *_ITEM_STAT_COLUMNS]
    con.register("_ist_new", tbl.select(names))
    try:
        con.execute(f"INSERT INTO item_stats ({', '.join(names)}) SELECT {', '.join(names)} FROM _ist_new")
    finally:
        con.unregister("_ist_new")
    return pc.min(ids).as_py()


def store_scores(con, year: int, units: Iterable[str] | None = None, *, compact: bool = False) -> int:
    """Score ``year`` (its registered scheme) for ``units`` (all when None) and store the
    rows; with ``compact``, drop the year's older rows. Returns the number of unit-years stored."""
    s = _scheme(year)
    with _params(con, [s]):
        keys = _year_keys(con, [s])
        rows, pts = _compute(con, sorted(set(units)) if units is not None else None)
        items = _new_item_stats(con, s, keys[s.year], sorted(set(units)) if units is not None else None,
                                every=compact)
    if rows.num_rows == 0:
        return 0
    with transaction(con):
        if items is not None:
            low_items = _insert_item_stats(con, items, keys[s.year])
            if compact:  # the whole year was computed again: its older figures go
                con.execute("DELETE FROM item_stats WHERE year = ? AND id < ?", [s.year, low_items])
        ids = [r[0] for r in con.execute("SELECT nextval('unit_score_id_seq') FROM range(?)",
                                         [rows.num_rows]).fetchall()]
        rows = rows.append_column("id", pa.array(ids, pa.int64())).append_column(
            "ykey", pa.array([keys[s.year]] * rows.num_rows, pa.string()))
        idx = pa.table({"unit": rows.column("unit"), "year": rows.column("year"), "score_id": rows.column("id")})
        pts = pts.join(idx, ["unit", "year"]).select(["score_id", "code", "points_c"])
        if compact:
            low = min(ids)
            con.execute("DELETE FROM score_points WHERE score_id IN "
                        "(SELECT id FROM unit_scores WHERE year = ? AND id < ?)", [s.year, low])
            con.execute("DELETE FROM unit_scores WHERE year = ? AND id < ?", [s.year, low])
        names = ["id", "unit", "year", "ykey", "fp", *STORED_COLUMNS]
        con.register("_st_new", rows.select(names))
        try:
            con.execute(f"INSERT INTO unit_scores ({', '.join(names)}) SELECT {', '.join(names)} FROM _st_new")
        finally:
            con.unregister("_st_new")
        if pts.num_rows:
            con.register("_st_new_pts", pts)
            try:
                con.execute("INSERT INTO score_points (score_id, code, points_c) "
                            "SELECT score_id, code, points_c FROM _st_new_pts")
            finally:
                con.unregister("_st_new_pts")
    return rows.num_rows


def rescore(con, years: Iterable[int] | None = None) -> dict[int, int]:
    """Store every unit-year of ``years`` (default: every scheme year) again, dropping the
    older rows (after a scheme or calendar change; ``python -m metrics rescore``)."""
    ys = sorted(int(y) for y in years) if years is not None else scheme_mod.years()
    return {y: store_scores(con, y, compact=True) for y in ys}


def _stored_years(con) -> set[int]:
    return {int(r[0]) for r in con.execute("SELECT DISTINCT year FROM unit_scores").fetchall()}


def _after_commit(con, touched: set) -> None:
    """After a committed write: store the changed unit-years. A year is stored whole the
    first time one of its unit-years changes (or when a write changed the whole year);
    changes of every year (the registry, the calendar) re-store only the years stored so far."""
    stored = _stored_years(con)
    every = (None, None) in touched
    years = {y for _, y in touched if y is not None}
    if every or any(y is None for _, y in touched):
        years |= stored
    for y in sorted(years):
        if scheme_mod.scheme_for(y) is None:
            continue
        units = {u for u, ty in touched if u is not None and ty in (y, None)}
        if every or (None, y) in touched or y not in stored:
            store_scores(con, y, compact=True)
        elif units:
            store_scores(con, y, units)


on_commit(_after_commit)
