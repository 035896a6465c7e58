"""County figures of a year, each defined once, in SQL.

The 总览 page, ``python -m metrics summary`` and the report workbook read the
same numbers from here:

* :func:`county_summary` — registered and submitted units, submission and
  on-time submission rates, mean total and 得分率, grade counts, mean and
  pooled timeliness, coverage and request rates, units still in review, and
  whether the year is provisional; :func:`summary_with_change` adds the
  previous scheme year and the change against it.
* :func:`group_subtotals` — per submitted unit, the subtotal and 得分率 of
  each 一级指标.
* :func:`category_coverage` — per required category, how many units must
  disclose it and how many did.

Each function has a ``from_*`` form that takes an already computed frame
(:func:`metrics.engine.score_year` or :func:`metrics.engine.coverage_matrix`),
so a caller that caches those frames (the dashboard) does not score twice.
The SQL runs on a private in-memory DuckDB over that frame.
"""
from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa

from core.scheme import Scheme, years
from core.vocab import Status
from metrics import engine

#: the keys of :func:`county_summary` that are numbers (compared year on year)
NUMBERS = ("registered", "submitted", "on_time", "submit_rate", "on_time_rate", "mean_total", "mean_score_rate",
           "mean_proactive", "mean_coverage", "mean_request", "pooled_proactive", "pooled_coverage",
           "pooled_request", "pending_review")
#: Chinese labels of the summary figures (the CLI's rows, in this order)
LABELS = {
    "registered": "登记单位数", "submitted": "已报送单位数", "on_time": "按时报送单位数",
    "submit_rate": "报送率", "on_time_rate": "按时报送率", "mean_total": "平均分", "mean_score_rate": "平均得分率",
    "mean_proactive": "平均及时率", "mean_coverage": "平均覆盖率", "mean_request": "平均按期答复率",
    "pooled_proactive": "总体及时率", "pooled_coverage": "总体覆盖率", "pooled_request": "总体按期答复率",
    "pending_review": "尚未审核通过单位数",
}
COUNTS = {"registered", "submitted", "on_time", "pending_review"}
RATES = {"submit_rate", "on_time_rate", "mean_score_rate", "mean_proactive", "mean_coverage", "mean_request",
         "pooled_proactive", "pooled_coverage", "pooled_request"}


def _query(frames: dict[str, pd.DataFrame], sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run ``sql`` on a private in-memory DuckDB where each frame is a table."""
    con = duckdb.connect()
    try:
        for name, df in frames.items():
            bare = df.copy(deep=False)
            bare.attrs = {}  # labels and snapshot markers are not table data (and not all JSON)
            con.register(name, pa.Table.from_pandas(bare, preserve_index=False))
        return engine._frame(con.sql(sql, params=params or None).to_arrow_table())
    finally:
        con.close()


def _num(v):
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    return v


# --------------------------------------------------------------------------- county summary

SUMMARY_COLUMNS = ["unit", "status", "submission_id", "late_submission", "total", "score_rate", "grade",
                   "proactive_rate", "proactive_on_time", "proactive_counted", "coverage_rate",
                   "covered_categories", "required_categories", "request_rate", "requests_on_time",
                   "requests_counted"]

SUMMARY_SQL = f"""
    SELECT count(*) AS registered,
           count(submission_id) AS submitted,
           count(*) FILTER (WHERE submission_id IS NOT NULL AND late_submission = false) AS on_time,
           CASE WHEN count(*) > 0 THEN count(submission_id) / count(*) END AS submit_rate,
           CASE WHEN count(*) > 0
                THEN count(*) FILTER (WHERE submission_id IS NOT NULL AND late_submission = false) / count(*)
           END AS on_time_rate,
           avg(total) FILTER (WHERE submission_id IS NOT NULL) AS mean_total,
           avg(score_rate) FILTER (WHERE submission_id IS NOT NULL) AS mean_score_rate,
           avg(proactive_rate) FILTER (WHERE submission_id IS NOT NULL) AS mean_proactive,
           avg(coverage_rate) FILTER (WHERE submission_id IS NOT NULL) AS mean_coverage,
           avg(request_rate) FILTER (WHERE submission_id IS NOT NULL) AS mean_request,
           CASE WHEN sum(proactive_counted) > 0 THEN sum(proactive_on_time) / sum(proactive_counted) END
               AS pooled_proactive,
           CASE WHEN sum(required_categories) > 0 THEN sum(covered_categories) / sum(required_categories) END
               AS pooled_coverage,
           CASE WHEN sum(requests_counted) > 0 THEN sum(requests_on_time) / sum(requests_counted) END
               AS pooled_request,
           count(*) FILTER (WHERE submission_id IS NOT NULL
                            AND status IN ('{Status.PENDING}', '{Status.RETURNED}')) AS pending_review
    FROM sc"""

GRADES_SQL = """
    SELECT grade, count(*) AS n FROM sc WHERE submission_id IS NOT NULL AND grade IS NOT NULL GROUP BY grade"""


def summary_from_scores(scores: pd.DataFrame, scheme: Scheme, unit_type: str | None = None) -> dict:
    """:func:`county_summary` of an already computed ``engine.score_year``
    frame (of the units of ``unit_type`` only, when given)."""
    sc = scores[SUMMARY_COLUMNS + ["unit_type"]]
    if unit_type:
        sc = sc[sc["unit_type"] == unit_type]
    row = _query({"sc": sc}, SUMMARY_SQL).iloc[0]
    counts = dict(_query({"sc": sc}, GRADES_SQL).itertuples(index=False, name=None))
    out = {"year": scheme.year}
    for k in NUMBERS:
        v = _num(row[k])
        out[k] = None if v is None else (int(v) if k in COUNTS else float(v))
    out["grades"] = {g: int(counts.get(g, 0)) for g in scheme.grade_names}
    out["provisional"] = bool(scores.attrs.get("provisional", False))
    out["provisional_reason"] = scores.attrs.get("provisional_reason", "") or ""
    return out


def county_summary(con: duckdb.DuckDBPyConnection, year: int, unit_type: str | None = None) -> dict:
    """Headline figures of ``year`` (see the module doc; keys :data:`NUMBERS`,
    ``grades`` {grade: n} in scheme order, ``provisional``, ``provisional_reason``),
    over every registered unit or those of ``unit_type``."""
    s = engine._scheme(year)
    return summary_from_scores(engine.score_year(con, s.year, scheme=s), s, unit_type)


def previous_year(year: int) -> int | None:
    """The scheme year just before ``year`` (None for the first one)."""
    ys = [y for y in years() if y < int(year)]
    return ys[-1] if ys else None


def change(current: dict, previous: dict | None) -> dict:
    """Year-on-year change of every number (current − previous; None when either is
    missing or the previous year has no submission), grades included."""
    if previous is None or not previous.get("submitted"):
        return {k: None for k in NUMBERS} | {"grades": {g: None for g in current["grades"]}}
    out = {k: (None if current[k] is None or previous[k] is None else current[k] - previous[k]) for k in NUMBERS}
    out["grades"] = {g: n - previous["grades"].get(g, 0) for g, n in current["grades"].items()}
    return out


def summary_with_change(con: duckdb.DuckDBPyConnection, year: int) -> dict:
    """``{"year", "current", "previous_year", "previous", "change"}``: the
    county summary of ``year`` and of the previous scheme year (None when
    there is none or it has no submission) and their difference."""
    cur = county_summary(con, year)
    p = previous_year(year)
    prev = county_summary(con, p) if p is not None else None
    if prev is not None and not prev["submitted"]:
        prev = None
    return {"year": int(year), "current": cur, "previous_year": p, "previous": prev, "change": change(cur, prev)}


def summary_table(s: dict) -> pd.DataFrame:
    """The summary as rows (指标, 本年, 上年, 变化) for the CLI and CSV export;
    rates as fractions, grades as "等次·<name>" rows."""
    cur, prev, ch = s["current"], s["previous"], s["change"]
    rows = [(LABELS[k], cur[k], prev[k] if prev else None, ch[k]) for k in LABELS]
    rows += [(f"等次·{g}", n, prev["grades"].get(g) if prev else None, ch["grades"][g])
             for g, n in cur["grades"].items()]
    return pd.DataFrame(rows, columns=["指标", "本年", "上年", "变化"])


# --------------------------------------------------------------------------- group subtotals

def group_subtotals_from_scores(scores: pd.DataFrame, scheme: Scheme) -> pd.DataFrame:
    """Per submitted unit (scorecard order): unit, unit_type, status, total,
    grade, rank, score_rate and, per 一级指标 ``g`` (scheme order),
    ``g|得分`` = subtotal (Decimal) and ``g`` = 得分率 (subtotal ÷ group max, float)."""
    groups = scheme.groups
    codes = scheme.codes
    sub = scores[scores["submission_id"].notna()]
    base = ["unit", "unit_type", "status", "total", "grade", "rank", "score_rate"]
    parts = []
    for n, g in enumerate(groups):
        members = [i for i in scheme.indicators if i.group == g]
        gmax = sum((i.max for i in members), Decimal(0))
        total = " + ".join('"' + i.code.replace('"', '""') + '"' for i in members)
        parts.append(f'{total} AS "s{n}", CASE WHEN {gmax} > 0 THEN CAST({total} AS DOUBLE) / {gmax} END AS "r{n}"')
    frame = sub[["unit", *codes]].reset_index(drop=True)
    res = _query({"p": frame}, f"SELECT {', '.join(parts)} FROM p") if len(frame) else None
    out = sub[base].reset_index(drop=True)
    for n, g in enumerate(groups):
        out[f"{g}|得分"] = pd.Series(list(res[f"s{n}"]) if res is not None else [], dtype=object)
        out[g] = pd.Series(list(res[f"r{n}"]) if res is not None else [], dtype="float64")
    return out


GROUP_MEANS_SQL = """
    SELECT count(*) AS units, avg(pts) AS mean_points, avg(rate) AS mean_rate FROM g {where}"""


def group_means(subtotals: pd.DataFrame, scheme: Scheme, unit_type: str | None = None) -> pd.DataFrame:
    """Per 一级指标 (scheme order) over the units of a :func:`group_subtotals`
    frame (or those of ``unit_type``): group, max, units, mean_points, mean_rate
    (the mean of the units' 得分率; NaN without units)."""
    rows = []
    for g in scheme.groups:
        gmax = sum((i.max for i in scheme.indicators if i.group == g), Decimal(0))
        frame = pd.DataFrame({"unit_type": subtotals["unit_type"].astype(object),
                              "pts": subtotals[f"{g}|得分"].astype(object), "rate": subtotals[g].astype("float64")})
        r = _query({"g": frame}, GROUP_MEANS_SQL.format(where="WHERE unit_type = $t" if unit_type else ""),
                   {"t": unit_type} if unit_type else None).iloc[0]
        rows.append({"group": g, "max": float(gmax), "units": int(r["units"]),
                     "mean_points": float(r["mean_points"]) if _num(r["mean_points"]) is not None else float("nan"),
                     "mean_rate": float(r["mean_rate"]) if _num(r["mean_rate"]) is not None else float("nan")})
    return pd.DataFrame(rows, columns=["group", "max", "units", "mean_points", "mean_rate"])


def group_subtotals(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    s = engine._scheme(year)
    return group_subtotals_from_scores(engine.score_year(con, s.year, scheme=s), s)


# --------------------------------------------------------------------------- coverage per category

CATEGORY_SQL = """
    SELECT code, any_value(name) AS name, count(*) AS required,
           count(*) FILTER (WHERE covered) AS covered,
           count(*) FILTER (WHERE covered) / count(*) AS rate
    FROM cv WHERE required {where}
    GROUP BY code"""


def category_coverage_from_matrix(matrix: pd.DataFrame, unit_type: str | None = None,
                                  units: list[str] | None = None) -> pd.DataFrame:
    """Per required category of the (optionally filtered) units of an
    ``engine.coverage_matrix`` frame: code, name, required (units that must
    disclose it), covered (units that did), rate; lowest rate first."""
    cv = matrix[["unit", "unit_type", "code", "name", "required", "covered"]].astype(
        {"unit": "string", "unit_type": "string", "code": "string", "name": "string",
         "required": "bool", "covered": "bool"})
    where, params = "", {}
    if unit_type:
        where += " AND unit_type = $t"
        params["t"] = unit_type
    if units is not None:
        where += " AND list_contains($units, unit)"
        params["units"] = list(units)
    df = _query({"cv": cv}, CATEGORY_SQL.format(where=where) + " ORDER BY rate, code", params)
    return df.astype({"required": "int64", "covered": "int64", "rate": "float64"})


def category_coverage(con: duckdb.DuckDBPyConnection, year: int, unit_type: str | None = None) -> pd.DataFrame:
    return category_coverage_from_matrix(engine.coverage_matrix(con, int(year)), unit_type)

