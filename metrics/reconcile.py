"""年报勾稽 for the county: the findings of each unit's current submission,
the units × rules matrix, the share of consistent reports year over year, and
the CSV of ``python -m metrics reconcile`` (annual-report.md).

The checks themselves are the one SQL query of :mod:`data.reconcile`, run
when a workbook is stored; here they are read back (and, with
:func:`recheck`, run again over stored submissions).
"""
from __future__ import annotations

import csv
import io
from typing import Iterable

import duckdb
import pandas as pd

from data.annual import S_ANNUAL
from data.exports import csv_cell
from data.reconcile import RULE_CODES, RULES, store_findings
from data.store import transaction
from core import scheme as scheme_mod
from core.vocab import unit_type_order_sql

PASSED, FAILED, NOT_FILLED, NOT_SUBMITTED = "通过", "未通过", "未填报", "未报送"
CONSISTENT, INCONSISTENT = "一致", "有问题"
CSV_COLUMNS = ["unit", "rule", "location", "expected", "actual", "message"]
_TYPE_ORDER = unit_type_order_sql("u.unit_type")

_CUR = """
    cur AS (
        SELECT unit, year, arg_max(id, version) AS sid
        FROM submissions WHERE year = $year GROUP BY unit, year
    )"""


def findings(con: duckdb.DuckDBPyConnection, year: int, unit: str | None = None) -> pd.DataFrame:
    """Findings of the current submissions of ``year`` (one unit's when given): unit,
    unit_type, rule, location, expected, actual, message, in unit and rule order."""
    df = con.execute(f"""
        WITH {_CUR}
        SELECT u.name AS unit, u.unit_type, f.rule, '{S_ANNUAL}!' || f.cell AS location,
               f.expected, f.actual, f.message, f.seq
        FROM cur JOIN units u ON u.name = cur.unit
        JOIN reconcile_findings f ON f.submission_id = cur.sid
        WHERE $unit IS NULL OR u.name = $unit
        ORDER BY {_TYPE_ORDER}, u.sort_order, u.name, f.seq""", {"year": year, "unit": unit}).df()
    return df.drop(columns=["seq"])


def matrix(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """One row per registered unit: unit, unit_type, status (未报送 / 未填报 / 一致 /
    有问题), findings (count), and one column per rule T1 … L4 with 通过 / 未通过 /
    未填报 / 未报送."""
    rule_cols = ",\n".join(
        f"""CASE WHEN cur.sid IS NULL THEN '{NOT_SUBMITTED}' WHEN a.submission_id IS NULL THEN '{NOT_FILLED}'
                 WHEN count(f.rule) FILTER (WHERE f.rule = '{r}') > 0 THEN '{FAILED}' ELSE '{PASSED}' END AS "{r}" """
        for r in RULE_CODES)
    return con.execute(f"""
        WITH {_CUR}
        SELECT u.name AS unit, u.unit_type,
               CASE WHEN cur.sid IS NULL THEN '{NOT_SUBMITTED}' WHEN a.submission_id IS NULL THEN '{NOT_FILLED}'
                    WHEN count(f.rule) > 0 THEN '{INCONSISTENT}' ELSE '{CONSISTENT}' END AS status,
               count(f.rule) AS findings,
               {rule_cols}
        FROM units u
        LEFT JOIN cur ON cur.unit = u.name
        LEFT JOIN annual_reports a ON a.submission_id = cur.sid
        LEFT JOIN reconcile_findings f ON f.submission_id = cur.sid
        GROUP BY u.name, u.unit_type, u.sort_order, cur.sid, a.submission_id
        ORDER BY {_TYPE_ORDER}, u.sort_order, u.name""", {"year": year}).df()


def share_by_year(con: duckdb.DuckDBPyConnection, years: Iterable[int] | None = None) -> pd.DataFrame:
    """Per year with data: submitted (current submissions), filled (with 年报数据),
    consistent (filled and no finding), share = consistent / filled (None when none filled)."""
    ys = sorted(years) if years is not None else scheme_mod.years()
    df = con.execute("""
        WITH cur AS (
            SELECT unit, year, arg_max(id, version) AS sid FROM submissions
            WHERE year IN (SELECT unnest($years::INTEGER[])) GROUP BY unit, year
        ),
        per AS (
            SELECT cur.year, cur.sid, a.submission_id IS NOT NULL AS filled,
                   (SELECT count(*) FROM reconcile_findings f WHERE f.submission_id = cur.sid) AS n
            FROM cur JOIN units u ON u.name = cur.unit
            LEFT JOIN annual_reports a ON a.submission_id = cur.sid
        )
        SELECT year, count(*) AS submitted, count(*) FILTER (WHERE filled) AS filled,
               count(*) FILTER (WHERE filled AND n = 0) AS consistent
        FROM per GROUP BY year ORDER BY year""", {"years": list(ys)}).df()
    df["share"] = [(c / f if f else None) for c, f in zip(df["consistent"], df["filled"])]
    return df


def year_counts(con: duckdb.DuckDBPyConnection, year: int) -> dict:
    """The figures of ``year`` (the year's row of :func:`share_by_year`, the same
    query as the history chart): ``submitted``, ``filled`` (units whose current
    version has 年报数据), ``consistent`` (filled, no finding), ``inconsistent``
    (filled with findings) and ``share`` = consistent ÷ filled (None when none filled)."""
    df = share_by_year(con, [int(year)])
    if not len(df):
        return {"submitted": 0, "filled": 0, "consistent": 0, "inconsistent": 0, "share": None}
    r = df.iloc[0]
    filled, ok = int(r["filled"]), int(r["consistent"])
    return {"submitted": int(r["submitted"]), "filled": filled, "consistent": ok, "inconsistent": filled - ok,
            "share": None if r["share"] is None or r["share"] != r["share"] else float(r["share"])}


def recheck(con: duckdb.DuckDBPyConnection, year: int) -> int:
    """Run the checks again over the stored reports of ``year`` (every version); return
    how many reports were checked. The findings are replaced in one transaction."""
    ids = [r[0] for r in con.execute(
        "SELECT s.id FROM submissions s JOIN annual_reports a ON a.submission_id = s.id WHERE s.year = ?",
        [year]).fetchall()]
    with transaction(con):
        store_findings(con, ids)
    return len(ids)


def findings_csv(df: pd.DataFrame) -> bytes:
    """``unit,rule,location,expected,actual,message`` — UTF-8 with BOM, users' text never a formula."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for row in df[CSV_COLUMNS].itertuples(index=False, name=None):
        w.writerow([csv_cell("" if v is None else v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def rule_label(rule: str) -> str:
    return f"{rule} {RULES[rule]}"


def unit_report(con: duckdb.DuckDBPyConnection, year: int, unit: str) -> dict:
    """One unit's current report as stored: ``status`` (未报送 / 未填报 / 一致 / 有问题),
    ``edition``, ``table3`` (rows as printed × the seven columns), ``table4`` (three
    groups × five columns), ``findings``, ``version``."""
    from data.annual import COLUMNS_3, LINES, REVIEW_COLS, REVIEW_GROUPS, printed_label

    row = con.execute("""SELECT arg_max(id, version), max(version) FROM submissions
                         WHERE unit = ? AND year = ?""", [unit, year]).fetchone()
    sid, version = row if row else (None, None)
    out = {"status": NOT_SUBMITTED, "edition": None, "table3": None, "table4": None,
           "findings": findings(con, year, unit), "version": version}
    if sid is None:
        return out
    ed = con.execute("SELECT edition FROM annual_reports WHERE submission_id = ?", [sid]).fetchone()
    if ed is None:
        out["status"] = NOT_FILLED
        return out
    out["edition"] = ed[0]
    out["status"] = INCONSISTENT if len(out["findings"]) else CONSISTENT
    cells = con.execute("SELECT row_code, col_code, value FROM annual_report_cells WHERE submission_id = ?",
                        [sid]).fetchall()
    v = {(r, c): n for r, c, n in cells}
    t3 = [{"项目": printed_label(ln.code), **{c.name: v.get((ln.code, c.code)) for c in COLUMNS_3}}
          for ln in LINES if (ln.code, "total") in v]
    t4 = [{"类别": name, **{cn: v.get((g, c)) for c, cn, _ in REVIEW_COLS}} for g, name in REVIEW_GROUPS]
    out["table3"], out["table4"] = pd.DataFrame(t3), pd.DataFrame(t4)
    return out
