"""County figures of a year, each defined once, in SQL.

The 总览 page, ``python -m metrics summary`` and the report workbook read the
same numbers from here:

* :func:`county_summary` — registered, submitted and not submitted units, submission and
  on-time submission rates, mean total and 得分率, grade counts, mean and
  pooled timeliness, coverage and request rates, units still in review, and
  whether the year is provisional; :func:`summary_with_change` adds the
  previous scheme year and the change against it.
* :func:`group_subtotals` — per submitted unit, the subtotal and 得分率 of
  each 一级指标; :func:`group_means` / :func:`group_trend` their means per
  scope (全县 and each unit type) and year.
* :func:`trend_summary` — per scope and year: registered and submitted units,
  mean total and the mean 得分率, timeliness, coverage and request rates (趋势).
* :func:`item_summary` — the ledger items by outcome (按时公开/逾期公开/
  逾期未公开/未到期未公开), by month and by working days late (及时性).
* :func:`category_coverage` — per required category, how many units must
  disclose it and how many did.

Each function has a ``from_*`` form that takes an already computed frame
(:func:`metrics.engine.score_year`, :func:`metrics.engine.trend`,
:func:`metrics.engine.item_aggregates` or :func:`metrics.engine.coverage_matrix`),
so a caller that caches those frames (the dashboard) does not score twice.
The SQL runs on a private in-memory DuckDB over that frame.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core.scheme import Scheme, years
from data.frames import arrow_table, map_distinct, plain_frame, scratch_cursor
from core.vocab import ITEM_OUTCOMES, STATUSES, UNIT_TYPES, ItemOutcome, ItemState, Status, unit_type_order_sql
from metrics import closing, engine

#: the keys of :func:`county_summary` that are numbers (compared year on year)
NUMBERS = ("registered", "submitted", "not_submitted", "on_time", "submit_rate", "on_time_rate", "mean_total", "mean_score_rate",
           "mean_proactive", "mean_coverage", "mean_request", "pooled_proactive", "pooled_coverage",
           "pooled_request", "pending_review")
#: Chinese labels of the summary figures (the CLI's rows, in this order)
LABELS = {
    "registered": "登记单位数", "submitted": "已报送单位数", "not_submitted": "未报送单位数", "on_time": "按时报送单位数",
    "submit_rate": "报送率", "on_time_rate": "按时报送率", "mean_total": "平均分", "mean_score_rate": "平均得分率",
    "mean_proactive": "平均及时率", "mean_coverage": "平均覆盖率", "mean_request": "平均按期答复率",
    "pooled_proactive": "总体及时率", "pooled_coverage": "总体覆盖率", "pooled_request": "总体按期答复率",
    "pending_review": "尚未审核通过单位数",
}
COUNTS = {"registered", "submitted", "not_submitted", "on_time", "pending_review"}
RATES = {"submit_rate", "on_time_rate", "mean_score_rate", "mean_proactive", "mean_coverage", "mean_request",
         "pooled_proactive", "pooled_coverage", "pooled_request"}


def _query_table(frames: dict[str, pd.DataFrame | pa.Table], sql: str, params: dict | None = None) -> pa.Table:
    """Run ``sql`` on a cursor of the in-memory scratch DuckDB where each frame (or Arrow
    table) is a table (registered on that cursor only); the result as Arrow."""
    con = scratch_cursor()
    try:
        for name, df in frames.items():
            con.register(name, df if isinstance(df, pa.Table) else arrow_table(df))
        return con.sql(sql, params=params or None).to_arrow_table()
    finally:
        con.close()


def _query(frames: dict[str, pd.DataFrame | pa.Table], sql: str, params: dict | None = None) -> pd.DataFrame:
    """:func:`_query_table` as a frame of plain Python values."""
    return engine._frame(_query_table(frames, sql, params))


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
           count(*) FILTER (WHERE submission_id IS NULL) AS not_submitted,
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


def summary_from_scores(scores: pd.DataFrame | pa.Table, scheme: Scheme, unit_type: str | None = None,
                        attrs: dict | None = None) -> dict:
    """:func:`county_summary` of an already computed ``engine.score_year``
    frame (of the units of ``unit_type`` only, when given), or of its Arrow table
    (``engine.score_table``, ``closing.results_table``) with its ``attrs``."""
    if isinstance(scores, pa.Table):
        sc = scores.select(SUMMARY_COLUMNS + ["unit_type"])
        if unit_type:
            sc = sc.filter(pc.equal(sc.column("unit_type"), str(unit_type)))
    else:
        sc = scores[SUMMARY_COLUMNS + ["unit_type"]]
        if unit_type:
            sc = sc[sc["unit_type"] == unit_type]
        sc = arrow_table(sc)  # converted once for both queries
        attrs = scores.attrs
    attrs = attrs or {}
    row = _query({"sc": sc}, SUMMARY_SQL).iloc[0]
    counts = dict(_query({"sc": sc}, GRADES_SQL).itertuples(index=False, name=None))
    out = {"year": scheme.year}
    for k in NUMBERS:
        v = _num(row[k])
        out[k] = None if v is None else (int(v) if k in COUNTS else float(v))
    out["grades"] = {g: int(counts.get(g, 0)) for g in scheme.grade_names}
    out["provisional"] = bool(attrs.get("provisional", False))
    out["provisional_reason"] = attrs.get("provisional_reason", "") or ""
    out["label"] = attrs.get("label", "") or closing.WHICH_LABEL[closing.LIVE]
    return out


def county_summary(con: duckdb.DuckDBPyConnection, year: int, unit_type: str | None = None,
                   which: str | None = closing.LIVE) -> dict:
    """Headline figures of ``year`` (see the module doc; keys :data:`NUMBERS`,
    ``grades`` {grade: n} in scheme order, ``provisional``, ``provisional_reason``,
    ``label`` of the results read), over every registered unit or those of
    ``unit_type``, from the results ``which`` names (:func:`metrics.closing.results`:
    live by default; ``None`` the newest snapshot, as the pages show)."""
    s = engine._scheme(year)
    scores = (engine.score_year(con, s.year, scheme=s) if which == closing.LIVE
              else closing.results(con, s.year, which))
    return summary_from_scores(scores, s, unit_type)


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


def summary_with_change(con: duckdb.DuckDBPyConnection, year: int, which: str | None = closing.LIVE) -> dict:
    """``{"year", "current", "previous_year", "previous", "change"}``: the
    county summary of ``year`` and of the previous scheme year (None when
    there is none or it has no submission) and their difference.  ``which``
    chooses the results of ``year`` (see :func:`county_summary`); the previous
    year is read live when ``which`` is live, else from its newest snapshot
    (as 总览 compares)."""
    cur = county_summary(con, year, which=which)
    p = previous_year(year)
    prev = county_summary(con, p, which=closing.LIVE if which == closing.LIVE else None) if p is not None else None
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

def group_subtotals_from_scores(scores: pd.DataFrame | pa.Table, scheme: Scheme) -> pd.DataFrame:
    """Per submitted unit (scorecard order): unit, unit_type, status, total,
    grade, rank, score_rate and, per 一级指标 ``g`` (scheme order),
    ``g|得分`` = subtotal (Decimal) and ``g`` = 得分率 (subtotal ÷ group max, float).

    A subtotal is the SQL sum ``a + b + …`` of the group's indicator points, so
    one indicator without points (a snapshot row missing) makes the subtotal
    and its 得分率 empty: a partial sum would look like a real, low score. The
    engine itself never leaves a submitted unit's indicator empty (an
    indicator nobody scored counts 0 points there)."""
    groups = scheme.group_codes
    if isinstance(scores, pa.Table):  # one query, no Python objects on the way in
        res = plain_frame(group_subtotals_table(scores, scheme))
        for g in groups:
            res[g] = pd.to_numeric(res[g], errors="coerce").astype("float64")
        return res
    parts = [f'{total} AS "s{n}", {rate} AS "r{n}"' for n, (_, total, rate) in enumerate(_group_sql(scheme))]
    sub = scores[scores["submission_id"].notna()]
    frame = sub[["unit", *scheme.codes]].reset_index(drop=True)
    res = _query({"p": frame}, f"SELECT {', '.join(parts)} FROM p") if len(frame) else None
    out = sub[SUBTOTAL_BASE].reset_index(drop=True)
    for n, g in enumerate(groups):
        out[f"{g}|得分"] = pd.Series(list(res[f"s{n}"]) if res is not None else [], dtype=object)
        out[g] = pd.Series(list(res[f"r{n}"]) if res is not None else [], dtype="float64")
    return out


#: the scorecard columns :func:`group_subtotals_from_scores` keeps before the subtotals
SUBTOTAL_BASE = ["unit", "unit_type", "status", "total", "grade", "rank", "score_rate"]


def _group_sql(scheme: Scheme) -> list[tuple[str, str, str]]:
    """Per 一级指标 (scheme order) of a scorecard's columns: ``(group, subtotal, rate)``, the
    SQL sum ``a + b + …`` of its indicator columns (empty when one is) and that ÷ its maximum."""
    out = []
    for g, codes in scheme.group_codes.items():
        total = " + ".join('"' + c.replace('"', '""') + '"' for c in codes)
        mx = scheme.group_max[g]
        out.append((g, total, f"CASE WHEN {mx} > 0 THEN CAST({total} AS DOUBLE) / {mx} END"))
    return out


def group_subtotals_table(scores: pa.Table, scheme: Scheme) -> pa.Table:
    """:func:`group_subtotals_from_scores` of a scorecard's Arrow table, as Arrow (the
    subtotals decimal, the 得分率 double), for display without Python objects."""
    parts = []
    for g, total, rate in _group_sql(scheme):
        name = g.replace('"', '""')
        parts.append(f'{total} AS "{name}|得分", {rate} AS "{name}"')
    base = ", ".join(f'"{c}"' for c in SUBTOTAL_BASE)
    return _query_table({"p": scores}, f"SELECT {base}, {', '.join(parts)} FROM p WHERE submission_id IS NOT NULL")


def _points(v) -> Decimal | None:
    """Points as an exact 2-place Decimal (a float view of a subtotal is rounded back)."""
    v = _num(v)
    if v is None:
        return None
    return (v if isinstance(v, Decimal) else Decimal(repr(float(v)))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _long_subtotals(per_year: list[tuple[Scheme, pd.DataFrame]]) -> tuple[pa.Table, pa.Table]:
    """The groups of each scheme (year, ord, grp, max) and the subtotals of
    :func:`group_subtotals_from_scores` frames in long form (year, unit_type, grp, pts, rate)."""
    dec = pa.decimal128(18, 2)
    parts: list[pa.Table] = []
    for s, sub in per_year:
        k = len(sub)
        types = pa.array([str(t) for t in sub["unit_type"]], pa.string())
        for n, g in enumerate(s.group_max):
            parts.append(pa.table({
                "year": pa.array([s.year] * k, pa.int32()), "unit_type": types,
                "grp": pa.array([g] * k, pa.string()),
                # each distinct value converted once (a province: 300,000 values, a few hundred distinct)
                "pts": map_distinct(sub[f"{g}|得分"], _points, dec),
                "rate": map_distinct(sub[g], float, pa.float64())}))
    schema = pa.schema([("year", pa.int32()), ("unit_type", pa.string()), ("grp", pa.string()),
                        ("pts", dec), ("rate", pa.float64())])
    long = pa.concat_tables(parts) if parts else schema.empty_table()
    return _group_table([s for s, _ in per_year]), long


def _group_table(schemes: list[Scheme]) -> pa.Table:
    """The 一级指标 of each scheme: year, ord, grp, max."""
    groups: dict[str, list] = {"year": [], "ord": [], "grp": [], "max": []}
    for s in schemes:
        for n, (g, mx) in enumerate(s.group_max.items()):
            groups["year"].append(s.year)
            groups["ord"].append(n)
            groups["grp"].append(g)
            groups["max"].append(mx)
    return pa.table(groups, schema=pa.schema([("year", pa.int32()), ("ord", pa.int32()), ("grp", pa.string()),
                                              ("max", pa.decimal128(18, 2))]))


def _scopes() -> pa.Table:
    """全县 (every unit) and each unit type, in the one order of :data:`core.vocab.UNIT_TYPES`."""
    return pa.table({"ord": list(range(len(UNIT_TYPES) + 1)), "scope": [COUNTY, *map(str, UNIT_TYPES)],
                     "unit_type": [None, *map(str, UNIT_TYPES)]},
                    schema=pa.schema([("ord", pa.int32()), ("scope", pa.string()), ("unit_type", pa.string())]))


#: the scope of the whole county (every unit type)
COUNTY = "全县"

GROUP_MEANS_SQL = """
    WITH y AS (SELECT DISTINCT year FROM g_),
    yp AS (SELECT year, (SELECT max(y2.year) FROM y y2 WHERE y2.year < y.year) AS prev FROM y),
    g AS (  -- max_changed: the group's maximum differs from the previous scheme year's (or it had none)
        SELECT g_.*, yp.prev IS NOT NULL AND (p.max IS NULL OR p.max <> g_.max) AS max_changed
        FROM g_ JOIN yp ON yp.year = g_.year LEFT JOIN g_ p ON p.year = yp.prev AND p.grp = g_.grp)
    SELECT g.year, s.scope, g.grp AS "group", CAST(g.max AS DOUBLE) AS max, g.max_changed,
           count(l.pts) AS units, avg(l.pts) AS mean_points, avg(l.rate) AS mean_rate
    FROM g CROSS JOIN s
    LEFT JOIN l ON l.year = g.year AND l.grp = g.grp AND (s.unit_type IS NULL OR l.unit_type = s.unit_type)
    WHERE s.scope IN (SELECT unnest($scopes))
    GROUP BY g.year, g.ord, s.ord, s.scope, g.grp, g.max, g.max_changed
    ORDER BY g.year, g.ord, s.ord"""

GROUP_MEANS_COLUMNS = ["year", "scope", "group", "max", "max_changed", "units", "mean_points", "mean_rate"]


def group_means_over_years(per_year: list[tuple[Scheme, pd.DataFrame]],
                           scopes: list[str] | None = None) -> pd.DataFrame:
    """Per year, 一级指标 (scheme order) and scope (全县, then each unit type;
    ``scopes`` keeps only those): year, scope, group, max (float), max_changed
    (the maximum differs from the previous scheme year's; False in the first), units (the
    units with a subtotal), mean_points, mean_rate (the mean of the units'
    得分率; NaN without units), from :func:`group_subtotals_from_scores` frames
    each with its year's scheme. A unit whose subtotal is empty is left out of
    the means and of ``units``."""
    g, lt = _long_subtotals(per_year)
    return _group_means(g, lt, scopes)


def group_means_from_means(schemes: list[Scheme], means: pa.Table,
                           scopes: list[str] | None = None) -> pd.DataFrame:
    """:func:`group_means_over_years`' frame from the means :func:`trend_tables` gives
    (``engine.GROUP_MEAN_COLUMNS``), with each year's scheme in ``schemes``: every year,
    一级指标 (scheme order) and scope (全县 = every type), a group without units
    with ``units`` 0 and empty means."""
    want = list(scopes) if scopes is not None else [COUNTY, *map(str, UNIT_TYPES)]
    got = {(int(r["year"]), r["grp"], r["unit_type"]): r for r in means.to_pylist()}
    rows, prev_max = [], None
    for s in sorted(schemes, key=lambda x: x.year):
        for g, mx in s.group_max.items():
            changed = prev_max is not None and prev_max.get(g) != mx
            for scope in want:
                r = got.get((s.year, g, None if scope == COUNTY else scope))
                rows.append((s.year, scope, g, float(mx), changed, int(r["units"]) if r else 0,
                             _float(r["mean_points"]) if r else float("nan"),
                             _float(r["mean_rate"]) if r else float("nan")))
        prev_max = s.group_max
    df = pd.DataFrame(rows, columns=GROUP_MEANS_COLUMNS)
    return df.astype({"year": "int64", "scope": object, "group": object, "max": "float64", "max_changed": bool,
                      "units": "int64", "mean_points": "float64", "mean_rate": "float64"})


def _float(v) -> float:
    return float("nan") if v is None else float(v)


def _group_means(g: pa.Table, lt: pa.Table, scopes: list[str] | None) -> pd.DataFrame:
    want = list(scopes) if scopes is not None else [COUNTY, *map(str, UNIT_TYPES)]
    df = _query({"g_": g, "l": lt, "s": _scopes()}, GROUP_MEANS_SQL, {"scopes": want})
    out = pd.DataFrame({"year": df["year"].astype("int64"), "scope": df["scope"].astype(object),
                        "group": df["group"].astype(object), "max": df["max"].astype("float64"),
                        "max_changed": df["max_changed"].astype(bool),
                        "units": df["units"].astype("int64"),
                        "mean_points": pd.to_numeric(df["mean_points"].map(_num), errors="coerce").astype("float64"),
                        "mean_rate": pd.to_numeric(df["mean_rate"].map(_num), errors="coerce").astype("float64")})
    return out[GROUP_MEANS_COLUMNS].reset_index(drop=True)


def group_means(subtotals: pd.DataFrame, scheme: Scheme, unit_type: str | None = None) -> pd.DataFrame:
    """Per 一级指标 (scheme order) over the units of a :func:`group_subtotals`
    frame (or those of ``unit_type``): group, max, units, mean_points, mean_rate
    (see :func:`group_means_over_years`)."""
    df = group_means_over_years([(scheme, subtotals)], [str(unit_type) if unit_type else COUNTY])
    return df[["group", "max", "units", "mean_points", "mean_rate"]]


def group_means_from_scores(scores: pa.Table, scheme: Scheme, unit_type: str | None = None) -> pd.DataFrame:
    """:func:`group_means` straight from a scorecard's Arrow table (``engine.score_table``,
    ``closing.results_table``) in one pass: each subtotal is summed in SQL as in
    :func:`group_subtotals_from_scores` and never becomes a Python object."""
    parts = [f'count(CAST({total} AS DECIMAL(18,2))) AS "u{n}", avg(CAST({total} AS DECIMAL(18,2))) AS "p{n}", '
             f'avg({rate}) AS "r{n}"' for n, (_, total, rate) in enumerate(_group_sql(scheme))]
    row = _query_table({"p": scores}, f"""SELECT {", ".join(parts)} FROM p
                                          WHERE submission_id IS NOT NULL AND ($t IS NULL OR unit_type = $t)""",
                       {"t": str(unit_type) if unit_type else None}).to_pylist()[0]
    groups = list(scheme.group_codes)
    return pd.DataFrame({
        "group": pd.Series(groups, dtype=object),
        "max": pd.Series([float(scheme.group_max[g]) for g in groups], dtype="float64"),
        "units": pd.Series([int(row[f"u{n}"]) for n in range(len(groups))], dtype="int64"),
        "mean_points": pd.Series([_float(row[f"p{n}"]) for n in range(len(groups))], dtype="float64"),
        "mean_rate": pd.Series([_float(row[f"r{n}"]) for n in range(len(groups))], dtype="float64")})


def group_subtotals(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    s = engine._scheme(year)
    return group_subtotals_from_scores(engine.score_year(con, s.year, scheme=s), s)


def trend_tables(con: duckdb.DuckDBPyConnection, which: str | None = closing.LIVE) -> tuple[pa.Table, pa.Table]:
    """Every scheme year's results as ``which`` names them (:func:`metrics.closing.results`;
    ``None``: the newest snapshot, else live), as :func:`metrics.engine.trend_tables`
    gives them: ``rows`` (trend columns, grade, rank, provisional; by year) and the
    一级指标 ``means`` (``engine.GROUP_MEAN_COLUMNS``).  The years read live are scored
    together in one pass."""
    ys = list(years())
    snaps = {y: closing.chosen_snapshot(con, y, which) for y in ys}
    live = [y for y in ys if snaps[y] is None]
    rows, means = [], []
    if live:
        r, m = engine.trend_tables(con, live)
        rows.append(r)
        means.append(m)
    for y in ys:
        if snaps[y] is None:
            continue
        df = closing.snapshot_frame(con, snaps[y])
        sch = engine._scheme(y)
        rows.append(arrow_table(df[engine.TREND_COLUMNS + ["grade", "rank", "provisional"]]))
        long = _long_subtotals([(sch, group_subtotals_from_scores(df, sch))])[1]
        means.append(_query_table({"u": long}, engine.GROUP_MEAN_SQL).select(engine.GROUP_MEAN_COLUMNS))
    if not rows:
        return engine.trend_tables(con, [])
    tbl = pa.concat_tables(rows, promote_options="permissive")  # a snapshot's decimals may be wider
    if len(rows) > 1:  # by year (stable: each year keeps its scorecard order)
        tbl = tbl.take(pc.sort_indices(tbl, [("year", "ascending")]))
    return tbl, pa.concat_tables(means, promote_options="permissive")


def group_trend(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """:func:`group_means_over_years` of every scheme year, each scored with its own scheme."""
    per_year = [(s, group_subtotals_from_scores(engine.score_year(con, s.year, scheme=s), s))
                for s in (engine._scheme(y) for y in years())]
    return group_means_over_years(per_year)


# --------------------------------------------------------------------------- a unit against its previous year

RATE_CHANGE_SQL = """
    SELECT c.unit, p.score_rate AS prev_rate, (c.score_rate - p.score_rate) * 100 AS delta_pp,
           CASE WHEN c.score_rate IS NULL OR p.score_rate IS NULL THEN NULL
                ELSE sign(round(c.score_rate - p.score_rate, 4)) END AS direction
    FROM c LEFT JOIN p ON p.unit = c.unit
    ORDER BY c.ord"""


def _rates(df: pd.DataFrame | None) -> pa.Table:
    units = [] if df is None else [str(u) for u in df["unit"]]
    rates = [] if df is None else [None if v is None or v is pd.NA or v != v else float(v) for v in df["score_rate"]]
    return pa.table({"ord": pa.array(range(len(units)), pa.int64()), "unit": pa.array(units, pa.string()),
                     "score_rate": pa.array(rates, pa.float64())})


def rate_change(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """Each unit of ``current`` (a scorecard, in its order) against ``previous``
    (the previous year's scorecard, or None): unit, prev_rate (its 得分率 then),
    delta_pp (the change of 得分率 in percentage points) and direction (1 up,
    −1 down, 0 the same to four decimals; None when either year has no 得分率).
    Rates are compared as the floats the pages show."""
    df = _query({"c": _rates(current), "p": _rates(previous)}, RATE_CHANGE_SQL)
    return pd.DataFrame({"unit": df["unit"].astype(object),
                         "prev_rate": pd.to_numeric(df["prev_rate"].map(_num), errors="coerce").astype("float64"),
                         "delta_pp": pd.to_numeric(df["delta_pp"].map(_num), errors="coerce").astype("float64"),
                         "direction": pd.Series([None if _num(v) is None else int(v) for v in df["direction"]],
                                                dtype=object)})


# --------------------------------------------------------------------------- trend over the years

TREND_SQL = f"""
    SELECT s.scope, y.year,
           count(t.unit) AS registered,
           count(t.unit) FILTER (WHERE t.status <> '{Status.MISSING}') AS submitted,
           avg(t.total) FILTER (WHERE t.status <> '{Status.MISSING}') AS mean_total,
           avg(t.score_rate) FILTER (WHERE t.status <> '{Status.MISSING}') AS score_rate,
           avg(t.proactive_rate) FILTER (WHERE t.status <> '{Status.MISSING}') AS proactive_rate,
           avg(t.coverage_rate) FILTER (WHERE t.status <> '{Status.MISSING}') AS coverage_rate,
           avg(t.request_rate) FILTER (WHERE t.status <> '{Status.MISSING}') AS request_rate
    FROM s CROSS JOIN (SELECT unnest($years) AS year) y
    LEFT JOIN t ON t.year = y.year AND (s.unit_type IS NULL OR t.unit_type = s.unit_type)
    GROUP BY s.ord, s.scope, y.year
    ORDER BY s.ord, y.year"""

#: the columns of a scorecard or trend frame :func:`trend_summary_from_trend` reads
TREND_INPUT_COLUMNS = ["unit", "unit_type", "year", "status", "total", "score_rate", "proactive_rate",
                       "coverage_rate", "request_rate"]
TREND_SUMMARY_COLUMNS = ["scope", "year", "registered", "submitted", "mean_total", "score_rate", "proactive_rate",
                         "coverage_rate", "request_rate"]


def trend_summary_from_trend(trend: pd.DataFrame | pa.Table, years_: list[int]) -> pd.DataFrame:
    """Per scope (全县, then each unit type) and year of ``years_``: registered
    and submitted units, mean total and the means over the submitted units of
    score_rate, proactive_rate, coverage_rate and request_rate (a unit without
    a rate is left out of that mean; NaN when no unit has one), from an
    :func:`metrics.engine.trend` frame (or its rows of several years' scorecards, a
    frame or an Arrow table)."""
    t = trend.select(TREND_INPUT_COLUMNS) if isinstance(trend, pa.Table) else trend[TREND_INPUT_COLUMNS]
    df = _query({"t": t, "s": _scopes()}, TREND_SQL, {"years": [int(y) for y in years_]})
    out = pd.DataFrame({"scope": df["scope"].astype(object), "year": df["year"].astype("int64"),
                        "registered": df["registered"].astype("int64"), "submitted": df["submitted"].astype("int64")})
    for c in TREND_SUMMARY_COLUMNS[4:]:
        out[c] = pd.to_numeric(df[c].map(_num), errors="coerce").astype("float64")
    return out


def trend_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """:func:`trend_summary_from_trend` of every scheme year."""
    return trend_summary_from_trend(engine.trend(con), years())


# --------------------------------------------------------------------------- ledger item outcomes

#: SQL over ``state`` and ``published`` (bool): the item's :class:`core.vocab.ItemOutcome`
OUTCOME_SQL = (f"CASE WHEN state = '{ItemState.ON_TIME}' THEN '{ItemOutcome.ON_TIME}' "
               f"WHEN state = '{ItemState.NOT_DUE}' THEN '{ItemOutcome.NOT_DUE}' "
               f"WHEN published THEN '{ItemOutcome.LATE_PUBLISHED}' ELSE '{ItemOutcome.LATE_UNPUBLISHED}' END")


def item_outcomes(state, published) -> pd.Categorical:
    """The :data:`core.vocab.ITEM_OUTCOMES` category of each item from its
    state (按时/逾期/未到期) and whether it was published (bool)."""
    frame = pa.table({"state": pa.array([None if v is None or v != v else str(v) for v in state], pa.string()),
                      "published": pa.array([bool(v) for v in published], pa.bool_())})
    res = _query({"i": frame}, f"SELECT {OUTCOME_SQL} AS outcome FROM i")
    return pd.Categorical(res["outcome"].map(_num), categories=[str(o) for o in ITEM_OUTCOMES])


ITEM_FILTER = "($t IS NULL OR unit_type = $t) AND ($u IS NULL OR unit = $u)"

ITEM_MONTHS_SQL = f"""
    WITH m AS (SELECT month, {OUTCOME_SQL} AS outcome, n FROM monthly WHERE {ITEM_FILTER})
    SELECT mo.month, o.outcome, coalesce(sum(m.n), 0) AS n, o.ord
    FROM range(1, 13) mo(month) CROSS JOIN o
    LEFT JOIN m ON m.month = mo.month AND m.outcome = o.outcome
    GROUP BY mo.month, o.outcome, o.ord ORDER BY mo.month, o.ord"""

ITEM_COUNTS_SQL = f"""
    WITH m AS (SELECT {OUTCOME_SQL} AS outcome, n FROM monthly WHERE {ITEM_FILTER})
    SELECT o.outcome, coalesce(sum(m.n), 0) AS n FROM o LEFT JOIN m ON m.outcome = o.outcome
    GROUP BY o.outcome, o.ord ORDER BY o.ord"""

LATE_DAYS_SQL = f"""
    SELECT days_late, sum(n) AS n FROM late WHERE days_late IS NOT NULL AND {ITEM_FILTER}
    GROUP BY days_late ORDER BY days_late"""

#: the median of the late items from their histogram: the mean of the two middle items (one when odd)
LATE_MEDIAN_SQL = f"""
    WITH h AS ({LATE_DAYS_SQL}),
    c AS (SELECT days_late, sum(n) OVER (ORDER BY days_late) AS cum, sum(n) OVER () AS total FROM h)
    SELECT (min(days_late) FILTER (WHERE cum >= (total + 1) // 2)
            + min(days_late) FILTER (WHERE cum >= total // 2 + 1)) / 2 AS median
    FROM c"""


def item_summary_from_aggregates(monthly: pd.DataFrame, late: pd.DataFrame, unit_type: str | None = None,
                                 unit: str | None = None) -> dict:
    """County figures of the counted ledger items (of ``unit_type`` / ``unit``
    when given) from :func:`metrics.engine.item_aggregates` frames: ``n``,
    ``counts`` {outcome: n} in :data:`core.vocab.ITEM_OUTCOMES` order, ``rate``
    (按时 ÷ (按时 + 逾期) over every item; None without any), ``monthly``
    (month 1–12 × outcome, n), ``days_late`` (days_late, n of the late items),
    ``late_n`` and ``late_median`` (working days; NaN without late items)."""
    o = pa.table({"ord": list(range(len(ITEM_OUTCOMES))), "outcome": [str(x) for x in ITEM_OUTCOMES]})
    if isinstance(monthly, pa.Table):  # as item_aggregates_table gives them (see there)
        m, lt = monthly, late
    else:
        m = monthly[["unit", "unit_type", "month", "state", "published", "n"]].astype(
            {"unit": object, "unit_type": object, "state": object, "month": "Int64", "published": "boolean",
             "n": "Int64"})
        lt = late[["unit", "unit_type", "days_late", "n"]].astype({"unit": object, "unit_type": object,
                                                                  "days_late": "Int64", "n": "Int64"})
    frames = {"monthly": m, "late": lt, "o": o}
    params = {"t": unit_type or None, "u": unit or None}
    counts = _query(frames, ITEM_COUNTS_SQL, params)
    by_month = _query(frames, ITEM_MONTHS_SQL, params)
    hist = _query(frames, LATE_DAYS_SQL, params)
    median = _num(_query(frames, LATE_MEDIAN_SQL, params).iloc[0]["median"])
    cnt = {str(k): int(v) for k, v in zip(counts["outcome"], counts["n"])}
    on_time = cnt[ItemOutcome.ON_TIME]
    late_n = cnt[ItemOutcome.LATE_PUBLISHED] + cnt[ItemOutcome.LATE_UNPUBLISHED]
    return {
        "n": sum(cnt.values()),
        "counts": cnt,
        "rate": on_time / (on_time + late_n) if on_time + late_n else None,
        "monthly": pd.DataFrame({"month": [int(v) for v in by_month["month"]],
                                 "state4": pd.Categorical([str(v) for v in by_month["outcome"]],
                                                          categories=[str(x) for x in ITEM_OUTCOMES]),
                                 "n": [int(v) for v in by_month["n"]]}),
        "days_late": pd.DataFrame({"days_late": pd.Series([int(v) for v in hist["days_late"]], dtype="int64"),
                                   "n": pd.Series([int(v) for v in hist["n"]], dtype="int64")}),
        "late_n": int(sum(int(v) for v in hist["n"])),
        "late_median": float(median) if median is not None else float("nan"),
    }


def item_summary_from_table(tbl: pa.Table, unit_type: str | None = None, unit: str | None = None) -> dict:
    """:func:`item_summary_from_aggregates` of a :func:`metrics.engine.item_aggregates_table`
    (no pandas in between: a province has 400,000 rows a year)."""
    by_days = tbl.column("by_days")
    monthly = tbl.filter(pc.equal(by_days, 0)).select(["unit", "unit_type", "month", "state", "published", "n"])
    late = (tbl.filter(pc.and_(pc.equal(by_days, 1), pc.is_valid(tbl.column("late_by"))))
            .select(["unit", "unit_type", "late_by", "n"]).rename_columns(["unit", "unit_type", "days_late", "n"]))
    return item_summary_from_aggregates(monthly, late, unit_type, unit)


def item_summary(con: duckdb.DuckDBPyConnection, year: int, unit_type: str | None = None,
                 unit: str | None = None) -> dict:
    """:func:`item_summary_from_aggregates` of the live items of ``year``."""
    monthly, late = engine.item_aggregates(con, int(year))
    return item_summary_from_aggregates(monthly, late, unit_type, unit)


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
    cv = matrix[["unit", "unit_type", "code", "name", "required", "covered"]]
    if units is not None:  # a hash lookup (list_contains in SQL compares every row with every unit)
        cv = cv[cv["unit"].isin(list(units))]
    cv = cv.astype({"unit": "string", "unit_type": "string", "code": "string", "name": "string",
                    "required": "bool", "covered": "bool"})
    where, params = "", {}
    if unit_type:
        where += " AND unit_type = $t"
        params["t"] = unit_type
    df = _query({"cv": cv}, CATEGORY_SQL.format(where=where) + " ORDER BY rate, code", params)
    return df.astype({"required": "int64", "covered": "int64", "rate": "float64"})


def category_coverage(con: duckdb.DuckDBPyConnection, year: int, unit_type: str | None = None) -> pd.DataFrame:
    return category_coverage_from_matrix(engine.coverage_matrix(con, int(year)), unit_type)



UNIT_COVERAGE_SQL = """
    SELECT count(*) AS units,
           avg(coverage_rate) AS mean_coverage,
           count(*) FILTER (WHERE covered_categories < required_categories) AS with_gaps,
           coalesce(sum(required_categories), 0) AS required,
           coalesce(sum(covered_categories), 0) AS covered,
           CASE WHEN sum(required_categories) > 0 THEN sum(covered_categories) / sum(required_categories) END
               AS pooled_coverage
    FROM sc"""


def unit_coverage_totals(scores: pd.DataFrame) -> dict:
    """Coverage figures of the submitted units in ``scores`` (rows of
    ``engine.score_year``, already filtered as the page shows them): ``units``,
    ``mean_coverage`` (mean of the units' rates; None without units),
    ``with_gaps`` (units covering fewer categories than required),
    ``required``, ``covered``, ``missing`` (category sums) and
    ``pooled_coverage`` (covered ÷ required; None when nothing is required)."""
    sc = scores[["coverage_rate", "covered_categories", "required_categories"]].astype(
        {"coverage_rate": "float64", "covered_categories": "Int64", "required_categories": "Int64"})
    row = _query({"sc": sc}, UNIT_COVERAGE_SQL).iloc[0]
    mean, pooled = _num(row["mean_coverage"]), _num(row["pooled_coverage"])
    req, cov = int(row["required"]), int(row["covered"])
    return {"units": int(row["units"]), "mean_coverage": None if mean is None else float(mean),
            "with_gaps": int(row["with_gaps"]), "required": req, "covered": cov, "missing": req - cov,
            "pooled_coverage": None if pooled is None else float(pooled)}


GAPS_SQL = f"""
    SELECT unit, unit_type, status <> '{Status.MISSING}' AS submitted,
           CASE WHEN status <> '{Status.MISSING}' THEN required_categories END AS required_categories,
           CASE WHEN status <> '{Status.MISSING}' THEN covered_categories END AS covered_categories,
           CASE WHEN status <> '{Status.MISSING}' THEN coverage_rate END AS coverage_rate,
           CASE WHEN status <> '{Status.MISSING}' THEN required_categories - covered_categories END AS missing,
           CASE WHEN status <> '{Status.MISSING}' THEN missing_categories END AS missing_categories
    FROM sc
    WHERE ($t IS NULL OR unit_type = $t)
      AND (status = '{Status.MISSING}' OR NOT $only OR covered_categories < required_categories)
    ORDER BY status = '{Status.MISSING}',
             CASE WHEN status <> '{Status.MISSING}' THEN {unit_type_order_sql("unit_type")} END,
             CASE WHEN status <> '{Status.MISSING}' THEN coverage_rate END NULLS LAST,
             CASE WHEN status <> '{Status.MISSING}' THEN unit END, ord"""

GAP_TOTALS_SQL = """
    SELECT count(*) FILTER (WHERE NOT submitted) AS not_submitted,
           coalesce(sum(missing) FILTER (WHERE submitted), 0) = 0
               AND count(*) FILTER (WHERE NOT submitted) = 0 AS all_covered
    FROM g"""

GAP_COLUMNS = ["unit", "unit_type", "submitted", "required_categories", "covered_categories", "coverage_rate",
               "missing", "missing_categories"]


def coverage_gaps(scores: pd.DataFrame, unit_type: str | None = None,
                  only_gaps: bool = False) -> tuple[pd.DataFrame, dict]:
    """The gap list of 覆盖缺口 from a scorecard (rows of ``engine.score_year``):
    every unit (of ``unit_type``; with ``only_gaps`` only the submitted units
    covering fewer categories than required, the units not submitted always)
    with :data:`GAP_COLUMNS` — ``missing`` = required − covered; the category
    columns empty for a unit not submitted — submitted units first (unit type
    order, lowest coverage first, then name), then the units not submitted in
    scorecard order. With the totals: :func:`unit_coverage_totals` of the
    submitted rows, ``not_submitted`` and ``all_covered`` (no category missing
    and every unit submitted)."""
    def col(name, typ):
        return pa.array([None if v is None or v is pd.NA or v != v else v for v in scores[name]], typ)

    sc = pa.table({"ord": pa.array(range(len(scores)), pa.int64()),
                   "unit": pa.array([str(v) for v in scores["unit"]], pa.string()),
                   "unit_type": pa.array([str(v) for v in scores["unit_type"]], pa.string()),
                   "status": pa.array([str(v) for v in scores["status"]], pa.string()),
                   "required_categories": pa.array([None if v is None or v is pd.NA or v != v else int(v)
                                                    for v in scores["required_categories"]], pa.int64()),
                   "covered_categories": pa.array([None if v is None or v is pd.NA or v != v else int(v)
                                                   for v in scores["covered_categories"]], pa.int64()),
                   "coverage_rate": pa.array([None if v is None or v is pd.NA or v != v else float(v)
                                              for v in scores["coverage_rate"]], pa.float64()),
                   "missing_categories": col("missing_categories", pa.string())})
    rows = _query({"sc": sc}, GAPS_SQL, {"t": unit_type or None, "only": bool(only_gaps)})
    out = pd.DataFrame({"unit": rows["unit"].astype(object), "unit_type": rows["unit_type"].astype(object),
                        "submitted": rows["submitted"].astype(bool)})
    for c in ("required_categories", "covered_categories", "missing"):
        out[c] = pd.array([_num(v) for v in rows[c]], dtype="Int64")
    out["coverage_rate"] = pd.to_numeric(rows["coverage_rate"].map(_num), errors="coerce").astype("float64")
    out["missing_categories"] = pd.Series([_num(v) for v in rows["missing_categories"]], dtype=object)
    out = out[GAP_COLUMNS]
    flags = _query({"g": pa.table({"submitted": pa.array(out["submitted"].tolist(), pa.bool_()),
                                   "missing": pa.array([_num(v) for v in out["missing"]], pa.int64())})},
                   GAP_TOTALS_SQL).iloc[0]
    totals = unit_coverage_totals(out[out["submitted"]]) | {"not_submitted": int(flags["not_submitted"]),
                                                            "all_covered": bool(flags["all_covered"])}
    return out, totals


# --------------------------------------------------------------------------- requests and late days

REQUEST_COUNTS_SQL = f"""
    SELECT count(*) AS n,
           count(*) FILTER (WHERE state = '{ItemState.ON_TIME}') AS on_time,
           count(*) FILTER (WHERE state = '{ItemState.LATE}') AS late,
           count(*) FILTER (WHERE state = '{ItemState.NOT_DUE}') AS not_due,
           count(*) FILTER (WHERE NOT answered) AS unanswered
    FROM rq"""


def request_counts(requests: pd.DataFrame) -> dict:
    """Counts of the counted requests in ``requests`` (rows of
    ``engine.request_facts``, filtered as shown): ``n``, ``on_time``, ``late``,
    ``not_due``, ``unanswered`` and ``rate`` = on_time ÷ (on_time + late),
    None when no request is due."""
    rq = pa.table({"state": pa.array(requests["state"].to_numpy(dtype=object), pa.string(), from_pandas=True),
                   "answered": pa.array(requests["answered"].notna().to_numpy(), pa.bool_())})
    row = _query({"rq": rq}, REQUEST_COUNTS_SQL).iloc[0]
    out = {k: int(row[k]) for k in ("n", "on_time", "late", "not_due", "unanswered")}
    due = out["on_time"] + out["late"]
    out["rate"] = out["on_time"] / due if due else None
    return out


#: the working-day bands of the late-days chart: (from, to), to None = open-ended
LATE_BINS = ((1, 5), (6, 10), (11, 20), (21, 40), (41, 60), (61, None))

LATE_BINS_SQL = """
    SELECT b.label, coalesce(sum(h.n), 0) AS n
    FROM b LEFT JOIN h ON h.days_late >= b.lo AND (b.hi IS NULL OR h.days_late <= b.hi)
    GROUP BY b.ord, b.label ORDER BY b.ord"""


def late_day_bins(days_late: pd.DataFrame) -> pd.DataFrame:
    """The late items of a ``days_late`` histogram (days_late, n) counted in
    :data:`LATE_BINS` bands: label ("1–5" … "60以上"), n."""
    b = pa.table({"ord": list(range(len(LATE_BINS))), "lo": [a for a, _ in LATE_BINS],
                  "hi": pa.array([z for _, z in LATE_BINS], pa.int64()),
                  "label": [f"{a}–{z}" if z else f"{a - 1}以上" for a, z in LATE_BINS]})
    h = pa.table({"days_late": pa.array([int(v) for v in days_late["days_late"]], pa.int64()),
                  "n": pa.array([int(v) for v in days_late["n"]], pa.int64())})
    df = _query({"b": b, "h": h}, LATE_BINS_SQL)
    return pd.DataFrame({"label": [str(v) for v in df["label"]], "n": [int(v) for v in df["n"]]})


FACT_COUNTS_SQL = f"""
    SELECT count(*) FILTER (WHERE counted AND state = '{ItemState.ON_TIME}') AS on_time,
           count(*) FILTER (WHERE counted AND state = '{ItemState.LATE}') AS late,
           count(*) FILTER (WHERE counted AND state = '{ItemState.NOT_DUE}') AS not_due,
           count(*) FILTER (WHERE NOT counted) AS uncounted
    FROM f"""


def fact_counts(facts: pd.DataFrame) -> dict:
    """Counts of one unit's ledger rows (``item_facts`` / ``request_facts``
    with ``include_uncounted``): the counted rows per state {按时, 逾期, 未到期}
    and ``uncounted`` (rows whose date is outside the year)."""
    f = pa.table({"state": pa.array([None if v is None or v != v else str(v) for v in facts["state"]], pa.string()),
                  "counted": pa.array([bool(v) for v in facts["counted"]], pa.bool_())})
    row = _query({"f": f}, FACT_COUNTS_SQL).iloc[0]
    return {str(ItemState.ON_TIME): int(row["on_time"]), str(ItemState.LATE): int(row["late"]),
            str(ItemState.NOT_DUE): int(row["not_due"]), "uncounted": int(row["uncounted"])}


# --------------------------------------------------------------------------- review queue

QUEUE_COUNTS_SQL = """
    SELECT count(*) AS units, count(*) FILTER (WHERE late_submission) AS late FROM q"""

QUEUE_STATUS_SQL = """
    SELECT s.status, count(q.status) AS n FROM s LEFT JOIN q ON q.status = s.status
    GROUP BY s.ord, s.status ORDER BY s.ord"""


def queue_counts(queue: pd.DataFrame) -> dict:
    """Counts of a review queue (:func:`metrics.readouts.review_queue`):
    ``units`` (registered units), ``statuses`` {status: n} for every
    :data:`core.vocab.STATUSES` (0 included) and ``late`` (units whose first
    version was received after the deadline)."""
    q = pa.table({"status": pa.array([None if v is None or v != v else str(v) for v in queue["status"]], pa.string()),
                  "late_submission": pa.array([bool(v) if v is not None and v == v else False
                                               for v in queue["late_submission"]], pa.bool_())})
    s = pa.table({"ord": list(range(len(STATUSES))), "status": [str(x) for x in STATUSES]})
    row = _query({"q": q}, QUEUE_COUNTS_SQL).iloc[0]
    by = _query({"q": q, "s": s}, QUEUE_STATUS_SQL)
    return {"units": int(row["units"]), "statuses": {str(k): int(n) for k, n in zip(by["status"], by["n"])},
            "late": int(row["late"])}
