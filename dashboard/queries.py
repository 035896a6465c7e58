"""Cached data access for the analytics pages (总览、评分卡、及时性、覆盖缺口、趋势).

Every function here wraps one call of :mod:`metrics.engine` (or
:mod:`metrics.report`) on one cursor of the shared connection
(:func:`dashboard.common.db`) and caches the result keyed by
``(year, filters, data_version())``: a write anywhere in the application bumps
the data version, so the next read recomputes.

Two kinds of cache are used:

* ``st.cache_data`` for everything of modest size (scorecards, coverage,
  requests, aggregates, workbook bytes).  Streamlit pickles these on every
  hit, so each session gets its own copy.
* ``st.cache_resource`` for the ledger-item facts only: a province has
  millions of items per year, and pickling them on every page view would cost
  seconds.  The frame is shared read-only by all sessions (never mutate it;
  filter with boolean masks, which copy).

Engine frames carry ``decimal.Decimal`` for points and rates (exact, as the
methodology requires).  :func:`to_float` converts them for charts and tables
only; never feed the converted values back into scoring.
"""
from __future__ import annotations

import os
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import streamlit as st

from dashboard.common import data_version, db
from data.frames import display_frame, map_distinct
from data.store import db_path
from metrics import closing, engine
from metrics import summary as summ
from core.scheme import scheme_for
from core.scheme import years as scheme_years
from core.scorecard import SCORECARD_COLUMNS
from core.vocab import ITEM_OUTCOMES, ItemState, Status

#: the four states of a ledger item shown on the timeliness page
ITEM_STATES = tuple(str(o) for o in ITEM_OUTCOMES)
BONUS_GROUP = "加分项"


# --------------------------------------------------------------------------- helpers

def _call(fn, *args, **kwargs):
    """Run ``fn(cursor, *args)`` on one fresh cursor of the shared connection."""
    cur = db()
    try:
        return fn(cur, *args, **kwargs)
    finally:
        try:
            cur.close()
        except Exception:  # pragma: no cover - closing a cursor never matters
            pass


def _floats(s: pd.Series) -> pd.Series:
    """An object column of numbers (Decimal, float, int, numeric text; None) as float64, each
    distinct value converted once (a province's scorecard has few distinct points)."""
    def number(v) -> float:
        return float(v if isinstance(v, (Decimal, float, int, np.number)) else pd.to_numeric(v, errors="coerce"))
    values = map_distinct(s, number, pa.float64()).to_numpy(zero_copy_only=False)  # null → NaN
    return pd.Series(values, index=s.index, dtype="float64")


def to_float(df: pd.DataFrame, columns=None) -> pd.DataFrame:
    """A copy of ``df`` for display: columns holding ``Decimal`` values become
    float64 (``None`` → NaN), columns of Python ints become nullable ``Int64``.
    ``columns`` limits the conversion (and forces float64 on those)."""
    out = df.copy()
    # only plain values stay in attrs (a table shown by Streamlit serialises them; the snapshot dict would not)
    out.attrs = {k: v for k, v in df.attrs.items() if isinstance(v, (str, int, float, bool, list, type(None)))
                 and not (isinstance(v, list) and any(not isinstance(x, (str, int)) for x in v))}
    cols = list(columns) if columns is not None else list(out.columns)
    for c in cols:
        if c not in out.columns or out[c].dtype != object:
            continue
        s = out[c]
        sample = s.dropna()
        first = sample.iloc[0] if len(sample) else None
        if columns is not None or isinstance(first, (Decimal, float)):
            out[c] = _floats(s)
        elif isinstance(first, (int, np.integer)) and not isinstance(first, bool):
            out[c] = pd.array([None if v is None else int(v) for v in s], dtype="Int64")
    return out


#: the scheme year just before a year (None for the first one)
previous_year = summ.previous_year


def group_maxima(year: int) -> dict[str, float]:
    """一级指标 → its maximum points in ``year``'s scheme (scheme order), as floats for display."""
    return {g: float(m) for g, m in scheme_for(year).group_max.items()}


def changes_vs_previous(year: int) -> list[str]:
    """The scheme's changes against the previous scheme year (empty = none)."""
    return engine.scheme_changes().get(int(year), [])


def all_scheme_changes() -> dict[int, list[str]]:
    """Year → its changes against the previous scheme year (years with changes only)."""
    return {y: ch for y, ch in engine.scheme_changes().items() if ch}


# --------------------------------------------------------------------------- scorecards

#: session key: True when the user chose to see the live state instead of the newest snapshot
LIVE_KEY = "results_live"


def source() -> str | None:
    """Which results the analytics pages show: the newest snapshot (公示稿/定稿)
    by default, the live state when the user asked for it."""
    return closing.LIVE if st.session_state.get(LIVE_KEY) else None


@st.cache_resource(show_spinner="正在计算评分…", max_entries=24)
def _results(year: int, dv: int, where: str, which: str | None = None, points: bool = False) -> tuple[pa.Table, dict]:
    # the Arrow table is shared, never pickled (a province's year: 6,000 rows × 60 columns);
    # ``where`` (the database) is part of the key, as for the items below
    return _call(closing.results_table, int(year), which, points)


@st.cache_resource(show_spinner="正在计算评分…", max_entries=24)
def _points_of(year: int, dv: int, where: str, which: str | None = None) -> pa.Table | None:
    return _call(closing.results_points, int(year), which)


def _score_table(year: int, dv: int, which: str | None = None, points: bool = False) -> tuple[pa.Table, dict]:
    """The year's scorecard as queried (``closing.results_table``): Arrow, decimals, and its
    attrs; with a column per indicator only when ``points`` (评分卡 needs them, totals do not):
    then the indicator columns are read on their own and joined to the totals every page shares."""
    key = (int(year), dv, _db_key(), which)
    lean = _results(*key, False)
    if not points:
        return lean
    wide = _points_of(*key)
    if wide is None:  # scores not stored: one query scores everything once
        return _results(*key, True)
    tbl, attrs = lean
    at = pc.index_in(tbl.column("unit"), value_set=wide.column("unit"))  # null: no points (未报送)
    names = tbl.column_names
    k = len(SCORECARD_COLUMNS)
    cols = {n: tbl.column(n) for n in names[:k]}
    cols |= {c: wide.column(c).take(at) for c in wide.column_names if c != "unit"}
    cols |= {n: tbl.column(n) for n in names[k:]}
    return pa.table(cols), attrs


@st.cache_data(show_spinner=False, max_entries=24)
def _scores_view(year: int, dv: int, which: str | None = None, points: bool = False) -> pd.DataFrame:
    tbl, attrs = _score_table(year, dv, which, points)
    df = display_frame(tbl)
    df["submitted"] = df["status"] != Status.MISSING
    df.attrs.update({k: attrs.get(k) for k in ("label", "source")})
    return df


def scores(year: int, points: bool = False) -> pd.DataFrame:
    """The year's scorecard for display: points and rates as floats, counts as
    ``Int64``, plus ``submitted`` (bool).  One row per registered unit; a column per
    indicator code only with ``points``."""
    return _scores_view(int(year), data_version(), source(), points)


@st.cache_data(show_spinner=False, max_entries=24)
def _snapshot_info(year: int, dv: int) -> dict:
    def run(con, y):
        snap = closing.store.current_snapshot(con, y)
        if snap is None:
            return {"snapshot": None, "label": closing.WHICH_LABEL[closing.LIVE], "differs": []}
        return {"snapshot": snap, "label": closing.snapshot_label(snap),
                "differs": closing.live_differs(con, y, closing.snapshot_frame(con, snap))}
    return _call(run, int(year))


def snapshot_info(year: int) -> dict:
    """``{"snapshot", "label", "differs"}``: the newest snapshot of ``year`` and
    the units whose live total, grade or rank differ from it."""
    return _snapshot_info(int(year), data_version())


@st.cache_data(show_spinner=False, max_entries=24)
def _group_rates(year: int, dv: int, which: str | None = None) -> pd.DataFrame:
    out = display_frame(summ.group_subtotals_table(_score_table(year, dv, which, points=True)[0], scheme_for(year)))
    for g in scheme_for(year).groups:  # float64 also where every subtotal is empty
        out[f"{g}|得分"] = pd.to_numeric(out[f"{g}|得分"], errors="coerce").astype("float64")
        out[g] = pd.to_numeric(out[g], errors="coerce").astype("float64")
    return out


def group_rates(year: int) -> pd.DataFrame:
    """Per submitted unit: total, grade, rank, score_rate and, per 一级指标
    ``g``: ``g`` = 得分率 (subtotal ÷ group max) and ``g|得分`` = subtotal
    (``metrics.summary.group_subtotals_from_scores``, floats for display)."""
    return _group_rates(int(year), data_version(), source())


@st.cache_data(show_spinner=False, max_entries=24)
def _group_means(year: int, unit_type: str | None, dv: int, which: str | None = None) -> pd.DataFrame:
    return summ.group_means_from_scores(_score_table(year, dv, which, points=True)[0], scheme_for(year),
                                        unit_type)


def group_means(year: int, unit_type: str | None = None) -> pd.DataFrame:
    """Per 一级指标: group, max, units, mean_points, mean_rate over the submitted
    units (of ``unit_type``) — ``metrics.summary.group_means``."""
    return _group_means(int(year), unit_type or None, data_version(), source())


@st.cache_data(show_spinner=False, max_entries=64)
def _unit_points(year: int, unit: str, dv: int, which: str | None = None) -> pd.DataFrame:
    raw = _call(closing.indicator_points, int(year), unit=unit, which=which)
    df = to_float(raw)
    df.attrs = {k: raw.attrs.get(k) for k in ("label", "source", "details_note")}  # no dicts: a table shows it
    return df


def unit_points(year: int, unit: str) -> pd.DataFrame:
    """``engine.indicator_points`` of one unit from the results shown (the
    snapshot's stored rows by default, see :func:`source`), floats for display."""
    return _unit_points(int(year), unit, data_version(), source())


@st.cache_data(show_spinner=False, max_entries=24)
def _details_note(year: int, dv: int, which: str | None = None) -> str:
    return _call(closing.details_of, int(year), which)["note"]


def details_note(year: int) -> str:
    """Non-empty when the results shown are a snapshot without stored details
    (published before they were kept): the details are then live."""
    return _details_note(int(year), data_version(), source())


@st.cache_resource(show_spinner="正在计算历年趋势…", max_entries=4)
def _trend_tables(dv: int, where: str, which: str | None = None) -> tuple[pa.Table, pa.Table]:
    # every year in one pass (``metrics.summary.trend_tables``); Arrow, shared, never pickled
    return _call(summ.trend_tables, which)


@st.cache_data(show_spinner=False, max_entries=8)
def _trend(dv: int, which: str | None = None) -> pd.DataFrame:
    return display_frame(_trend_tables(dv, _db_key(), which)[0])


def trend() -> pd.DataFrame:
    """``engine.trend`` over every scheme year (floats for display)."""
    return _trend(data_version(), source())


@st.cache_data(show_spinner=False, max_entries=8)
def _trend_summary(dv: int, which: str | None = None) -> pd.DataFrame:
    return summ.trend_summary_from_trend(_trend_tables(dv, _db_key(), which)[0], scheme_years())


def trend_summary() -> pd.DataFrame:
    """Per scope (全县/乡镇/部门) and scheme year: registered, submitted,
    mean_total and the mean score_rate, proactive_rate, coverage_rate,
    request_rate of the submitted units (``metrics.summary.trend_summary_from_trend``)."""
    return _trend_summary(data_version(), source())


@st.cache_data(show_spinner=False, max_entries=8)
def _group_trend(dv: int, which: str | None = None) -> pd.DataFrame:
    return summ.group_means_from_means([scheme_for(y) for y in scheme_years()],
                                       _trend_tables(dv, _db_key(), which)[1])


def group_trend() -> pd.DataFrame:
    """Per year, 一级指标 and scope (全县/乡镇/部门): group max, units, mean points and
    mean 得分率 over the submitted units (``metrics.summary.group_means_over_years``)."""
    return _group_trend(data_version(), source())


# --------------------------------------------------------------------------- ledger items

def _compact_items(df: pd.DataFrame) -> pd.DataFrame:
    """Item facts with small dtypes: datetime64 dates, categorical labels."""
    out = pd.DataFrame(index=df.index)
    for c in ("unit", "unit_type", "category", "category_name", "state"):
        out[c] = df[c].astype("category")
    out["sheet_row"] = pd.to_numeric(df["sheet_row"], errors="coerce").astype("Int64")
    out["title"] = df["title"]
    for c in ("formed", "published", "deadline"):
        out[c] = pd.to_datetime(df[c], errors="coerce")
    out["days_late"] = pd.to_numeric(df["days_late"], errors="coerce").astype("Int64")
    out["state4"] = summ.item_outcomes(df["state"], out["published"].notna())
    out["month"] = out["formed"].dt.month.astype("int8")
    return out


def _db_key() -> str:
    return str(db_path(os.environ.get("GONGKAI_DB") or None))


@st.cache_resource(show_spinner="正在读取逾期和未到期事项…", max_entries=3)
def _exception_items(year: int, dv: int, where: str, which: str | None = None) -> pd.DataFrame:
    # only the overdue and pending items are loaded (the charts use SQL aggregates);
    # ``where`` (the database file) is part of the key: a resource outlives
    # ``st.cache_data.clear()`` and must never serve another database's rows
    return _read_exceptions(year, None, which)


def _read_exceptions(year: int, unit: str | None, which: str | None) -> pd.DataFrame:
    """The overdue and pending items of ``year`` (of ``unit`` only, when given), compacted."""
    return _compact_items(_call(closing.item_facts, int(year), unit=unit, states=[ItemState.LATE, ItemState.NOT_DUE],
                                which=which))


def items(year: int) -> pd.DataFrame:
    """Overdue (逾期) and pending (未到期) ledger items of ``year`` (shared,
    read-only; see module doc): unit, unit_type, category, category_name,
    state, sheet_row, title, formed, published, deadline (datetime64),
    days_late, state4 (逾期公开/逾期未公开/未到期未公开), month (of 形成日期)."""
    return _exception_items(int(year), data_version(), _db_key(), source())


@st.cache_resource(show_spinner="正在统计主动公开台账…", max_entries=8)
def _item_aggregates(year: int, dv: int, where: str, which: str | None = None, per_unit: bool = False) -> pa.Table:
    # Arrow, shared; per unit type unless one unit's figures are asked for (per unit, a
    # province has 400,000 rows a year); ``where`` as for ``_results``
    return _call(closing.item_aggregates_table, int(year), which, per_unit)


def _item_mask(df: pd.DataFrame, unit_type: str | None, unit: str | None) -> pd.Series:
    m = pd.Series(True, index=df.index)
    if unit_type:
        m &= df["unit_type"] == unit_type
    if unit:
        m &= df["unit"] == unit
    return m


@st.cache_data(show_spinner=False, max_entries=64)
def _item_summary(year: int, unit_type: str | None, unit: str | None, dv: int, which: str | None = None) -> dict:
    return summ.item_summary_from_table(_item_aggregates(year, dv, _db_key(), which, unit is not None),
                                        unit_type, unit)


def item_summary(year: int, unit_type: str | None = None, unit: str | None = None) -> dict:
    """Small aggregates of the counted items (optionally one type / one unit),
    ``metrics.summary.item_summary_from_aggregates``: ``n``, ``counts`` per
    outcome, ``rate``, ``monthly`` (month, state4, n), ``days_late`` (days_late,
    n) of late items, ``late_n``, ``late_median``."""
    return _item_summary(int(year), unit_type or None, unit or None, data_version(), source())


@st.cache_data(show_spinner="正在读取逾期和未到期事项…", max_entries=32)
def _unit_exception_items(year: int, unit: str, dv: int, which: str | None = None) -> pd.DataFrame:
    return _read_exceptions(year, unit, which)


def item_exceptions(year: int, unit_type: str | None = None, unit: str | None = None,
                    states=(ItemState.LATE, ItemState.NOT_DUE), categories=None) -> pd.DataFrame:
    """Overdue (逾期) and pending (未到期) items, filtered (a new frame). One unit's are
    read alone (a province's whole list is hundreds of thousands of items)."""
    df = items(year) if unit is None else _unit_exception_items(int(year), unit, data_version(), source())
    m = _item_mask(df, unit_type, unit) & df["state"].isin(list(states))
    if categories:
        m &= df["category_name"].isin(list(categories))
    return df[m]


# --------------------------------------------------------------------------- requests, coverage

@st.cache_data(show_spinner="正在读取依申请公开台账…", max_entries=8)
def _requests(year: int, dv: int, which: str | None = None) -> pd.DataFrame:
    df = _call(closing.request_facts, int(year), which=which)
    for c in ("days_allowed", "days_taken", "days_late", "sheet_row"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def requests(year: int) -> pd.DataFrame:
    """Counted requests of ``year`` (``engine.request_facts``) from the results shown."""
    return _requests(int(year), data_version(), source())


@st.cache_data(show_spinner="正在计算类别覆盖…", max_entries=8)
def _coverage(year: int, dv: int, which: str | None = None) -> pd.DataFrame:
    df = _call(closing.coverage_matrix, int(year), which=which)
    for c in ("required", "covered"):
        df[c] = df[c].astype(bool)
    for c in ("items", "published"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype(int)
    return df


def coverage(year: int) -> pd.DataFrame:
    """``engine.coverage_matrix``: per submitted unit × catalogue category, from the results shown."""
    return _coverage(int(year), data_version(), source())


@st.cache_data(show_spinner=False, max_entries=32)
def _coverage_gaps(year: int, unit_type: str | None, only_gaps: bool, dv: int,
                   which: str | None = None) -> tuple[pd.DataFrame, dict]:
    return summ.coverage_gaps(_scores_view(year, dv, which), unit_type, only_gaps)


def coverage_gaps(year: int, unit_type: str | None = None, only_gaps: bool = False) -> tuple[pd.DataFrame, dict]:
    """覆盖缺口's gap list and its totals (``metrics.summary.coverage_gaps`` of the
    scorecard shown), for the units of ``unit_type`` (with gaps only, when asked)."""
    return _coverage_gaps(int(year), unit_type or None, bool(only_gaps), data_version(), source())


@st.cache_data(show_spinner=False, max_entries=32)
def _category_coverage(year: int, unit_type: str | None, only_gaps: bool, dv: int,
                       which: str | None = None) -> pd.DataFrame:
    gaps, _ = _coverage_gaps(year, unit_type, only_gaps, dv, which)
    units = gaps[gaps["submitted"]]["unit"].tolist()
    return summ.category_coverage_from_matrix(_coverage(year, dv, which), units=units)


def category_coverage(year: int, unit_type: str | None = None, only_gaps: bool = False) -> pd.DataFrame:
    """Per required category of the submitted units of :func:`coverage_gaps` (same
    filters): code, name, required, covered, rate, lowest rate first
    (``metrics.summary.category_coverage_from_matrix``).  Cached by the filters, not by
    the list of units (a province: hashing 6,000 names on every view cost 0.1 s)."""
    return _category_coverage(int(year), unit_type or None, bool(only_gaps), data_version(), source())


# --------------------------------------------------------------------------- workbooks

@st.cache_data(show_spinner="正在生成考核结果工作簿…", max_entries=8)
def _report_bytes(year: int, dv: int, which: str | None = None) -> bytes:
    from metrics.report import build_report

    return _call(build_report, int(year), which=which)


@st.cache_data(show_spinner="正在生成通报…", max_entries=8)
def _notice_bytes(year: int, dv: int, which: str | None = None) -> bytes:
    from metrics.notice import build_notice

    return _call(build_notice, int(year), which)


def notice_bytes(year: int) -> bytes:
    """The 考核结果通报 (.docx) of ``year`` from the results shown (``metrics.notice.build_notice``)."""
    return _notice_bytes(int(year), data_version(), source())


def report_bytes(year: int, dv: int | None = None) -> bytes:
    """The 考核结果 workbook of ``year`` (``metrics.report.build_report``)."""
    return _report_bytes(int(year), data_version() if dv is None else dv, source())


@st.cache_data(show_spinner="正在生成单位评分卡…", max_entries=32)
def _unit_scorecard_bytes(year: int, unit: str, dv: int, which: str | None = None) -> bytes:
    from metrics.report import build_unit_scorecard

    return _call(build_unit_scorecard, int(year), unit, which=which)


def unit_scorecard_bytes(year: int, unit: str, dv: int | None = None) -> bytes:
    """One unit's scorecard workbook from the results shown."""
    return _unit_scorecard_bytes(int(year), unit, data_version() if dv is None else dv, source())


# --------------------------------------------------------------------------- summary figures

def summary(year: int, unit_type: str | None = None) -> dict | None:
    """Headline figures of a year (None when the year has no scheme), over
    every unit or those of ``unit_type`` (``metrics.summary.summary_from_scores``):
    registered, submitted, on_time, submit_rate, on_time_rate, mean_total,
    mean_score_rate, grades {grade: n}, mean_proactive, mean_coverage,
    mean_request, pooled rates, pending_review, provisional, provisional_reason."""
    if year is None or scheme_for(year) is None:
        return None
    return _summary(int(year), data_version(), source(), unit_type or None)


@st.cache_data(show_spinner=False, max_entries=24)
def _summary(year: int, dv: int, which: str | None = None, unit_type: str | None = None) -> dict:
    tbl, attrs = _score_table(year, dv, which)
    return summ.summary_from_scores(tbl, scheme_for(year), unit_type, attrs)
