"""Closing a year (issue 11): publish the results as a frozen 公示稿, finalise
them as the 定稿 with the appeal outcomes, read a scorecard from a snapshot,
the unit's full scorecard (right of reply), 待办 lists and the 催报名单.

Storage and every write go through :mod:`data.closing`; this module computes
what is stored (it needs the scoring engine) and checks the rules that depend
on scores or on the working-day calendar.

Snapshot choice (``which``): ``"live"`` scores the database now;
``"published"`` the current 公示稿; ``"final"`` the current 定稿; ``None`` the
newest snapshot not withdrawn, else live.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pandas as pd
import pyarrow as pa

from data import closing as store
from data.frames import arrow_table, plain_frame
from data.closing import (ADJUSTED, DRAFT, FILING, FINAL_KIND, OPEN, PUBLICITY, REVIEW, ClosingError)

from core import scheme as scheme_mod
from core.errors import GongkaiError
from core.scorecard import COUNT_COLUMNS
from core.vocab import ItemState, Status, unit_type_order_sql
from metrics import engine
from data.calendar import add_workdays, needed_years, require_calendar

LIVE, PUBLISHED, FINALISED = "live", "published", "final"
WHICH_LABEL = {LIVE: "实时数据", PUBLISHED: DRAFT, FINALISED: FINAL_KIND}
DEFAULT_PUBLICITY_DAYS = 5
APPROVED, MISSING, PENDING, RETURNED = Status.APPROVED, Status.MISSING, Status.PENDING, Status.RETURNED


class SnapshotMissing(GongkaiError, LookupError):
    """The requested snapshot does not exist (Chinese message)."""

    code = "snapshot_missing"


def publicity_days(scheme) -> int:
    """The 公示期 length in working days (``[rules] publicity_days``, default 5)."""
    v = getattr(scheme, "publicity_days", None)
    return int(v) if v else DEFAULT_PUBLICITY_DAYS


def _scheme(year: int):
    s = scheme_mod.scheme_for(int(year))
    if s is None:
        raise engine.UnknownYear(year)
    return s


def late_window_end(con, scheme) -> dt.date:
    """The last day of the late-submission window (cut-off + late_submission_days working days)."""
    require_calendar(con, needed_years(scheme))
    return add_workdays(con, scheme.cutoff, scheme.late_submission_days)


def publicity_period(con, start: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """(start, end): the 公示期 of ``days`` working days beginning on ``start``
    (``start`` counts when it is a working day; else the next working day is the first)."""
    require_calendar(con, [start.year, start.year + 1])
    return start, add_workdays(con, start - dt.timedelta(days=1), days)


# --------------------------------------------------------------------------- stage moves

def start_review(con: duckdb.DuckDBPyConnection, year: int, user: dict, today: dt.date | None = None) -> dict:
    """填报 → 审核. Refused before the late-submission window has ended (units
    may still submit late until then)."""
    today = today or dt.date.today()
    s = _scheme(year)
    end = late_window_end(con, s)
    if store.stage_of(con, year) == FILING and today <= end:
        raise ClosingError(f"{year}年度逾期报送期限到 {end:%Y年%m月%d日} 才结束，此前单位仍可报送，不能开始审核")
    return store.set_stage(con, year, REVIEW, user)


def go_back(con, year: int, user: dict, reason: str) -> dict:
    """One stage back (administrator, reason required)."""
    cur = store.stage_of(con, year)
    i = store.STAGES.index(cur)
    if i == 0:
        raise ClosingError(f"{year}年度处于“{cur}”阶段，没有上一阶段")
    return store.set_stage(con, year, store.STAGES[i - 1], user, reason)


def not_approved(con, year: int, scored: pd.DataFrame | None = None) -> pd.DataFrame:
    """Submitted units whose submission is not 已审核: unit, unit_type, status
    (``scored``: the year's live scorecard when the caller has it)."""
    df = engine.score_year(con, int(year)) if scored is None else scored
    bad = df[(df["status"] != Status.MISSING) & (df["status"] != APPROVED)]
    return bad[["unit", "unit_type", "status"]].reset_index(drop=True)


def _calendar_used(con, scheme) -> tuple[list, list]:
    ys = needed_years(scheme)
    require_calendar(con, ys)
    days = con.execute("""SELECT day, is_workday FROM calendar
                          WHERE year(day) BETWEEN ? AND ? AND is_workday <> (isodow(day) <= 5) ORDER BY day""",
                       [min(ys), max(ys)]).fetchall()
    listed = dict(con.execute("SELECT year, source FROM calendar_years").fetchall())
    return days, [(y, listed.get(y, "fallback")) for y in ys]


def _scheme_text(scheme) -> tuple[str, str]:
    name = scheme.source or f"{scheme.year}.toml"
    p = scheme_mod.SCHEME_DIR / name
    try:
        return name, p.read_text(encoding="utf-8")
    except OSError:
        return name, ""


def _unit_rows(df: pd.DataFrame, scheme) -> pd.DataFrame:
    """The live scorecard turned into snapshot unit rows."""
    out = df.copy()
    out["k1_points"] = [None if s == Status.MISSING else Decimal(int(k or 0)) * scheme.k1_points
                        for s, k in zip(df["status"], df["k1_count"])]
    return out


def _sha_of(con, ids) -> list:
    ids = [int(i) for i in ids if i is not None and i == i]
    m = dict(con.execute("SELECT id, sha256 FROM submissions WHERE id IN (SELECT unnest(?))", [ids]).fetchall()) if ids else {}
    return m


def publish(con: duckdb.DuckDBPyConnection, year: int, user: dict, today: dt.date | None = None) -> int:
    """审核 → 公示: store the complete live scorecard as the 公示稿 and open the
    公示期 (``publicity_days`` working days from ``today``). Refused while any
    submitted unit is not 已审核 (the message lists them). Returns the snapshot id."""
    today = today or dt.date.today()
    s = _scheme(year)
    st = store.stage_of(con, year)
    if st != REVIEW:
        hint = "；请先“开始审核”" if st == FILING else ""
        raise ClosingError(f"{year}年度当前为“{st}”阶段，只有审核阶段可以发布考核结果{hint}")
    df = engine.score_year(con, int(year))
    bad = not_approved(con, year, df)
    if len(bad):
        names = "、".join(f"{u}（{t}）" for u, t in zip(bad["unit"], bad["status"]))
        raise ClosingError(f"还有 {len(bad)} 个已报送单位未审核通过，不能发布：{names}")
    units = _unit_rows(df, s)
    sha = _sha_of(con, units["submission_id"])
    units["sha256"] = [sha.get(int(i)) if i is not None else None for i in units["submission_id"]]
    sub = df[df["status"] != Status.MISSING]
    points = sub[["unit"] + s.codes].melt(id_vars="unit", var_name="code", value_name="points")
    days, cal_years = _calendar_used(con, s)
    name, text = _scheme_text(s)
    period = publicity_period(con, today, publicity_days(s))
    return store.store_snapshot(con, year, DRAFT, units, points, user=user, made_on=today, scheme_file=name,
                                scheme_text=text, codes=s.codes, calendar=days, calendar_years=cal_years,
                                publicity=period, expect_stage=REVIEW, details=_details(con, int(year), s))


def _reviewers(con, year: int, unit: str | None = None) -> pd.DataFrame:
    """unit, code, reviewer of the reviewer scores on each unit's current version."""
    return con.execute("""SELECT s.unit, upper(r.code) AS code, r.reviewer FROM review_scores r
                          JOIN submissions s ON s.id = r.submission_id
                          WHERE s.year = $y AND ($u IS NULL OR s.unit = $u) AND s.version =
                                (SELECT max(version) FROM submissions x WHERE x.unit = s.unit AND x.year = s.year)""",
                       {"y": int(year), "u": unit}).df()


def _with_reviewer(con, ind: pd.DataFrame, year: int, unit: str | None = None) -> pd.DataFrame:
    rv = {(u, c): r for u, c, r in _reviewers(con, year, unit).itertuples(index=False)}
    ind["reviewer"] = pd.Series([rv.get((u, c)) for u, c in zip(ind["unit"], ind["code"])], dtype=object,
                                index=ind.index)
    return ind


def _details(con, year: int, s) -> dict[str, pd.DataFrame]:
    """The detail rows stored with a 公示稿, each computed by the engine's own
    query (the scoring SQL stays in :mod:`metrics.engine`)."""
    ind = _with_reviewer(con, engine.indicator_points(con, year, scheme=s), year)
    order = {c: i for i, c in enumerate(s.codes)}
    ind = ind.rename(columns={"group": "grp"})
    ind["ord"] = [order.get(c, len(order)) for c in ind["code"]]
    pen = con.execute("SELECT unit, k1_count, k2_veto, reason, reviewer, updated_at FROM penalties WHERE year = ?",
                      [int(year)]).df()
    monthly, late = engine.item_aggregates(con, year, scheme=s)
    return {
        "snapshot_indicators": ind,
        "snapshot_penalties": pen,
        "snapshot_items": engine.item_facts(con, year, include_uncounted=True, scheme=s, as_arrow=True),
        "snapshot_item_months": monthly,
        "snapshot_item_late_days": late,
        "snapshot_requests": engine.request_facts(con, year, include_uncounted=True, scheme=s, as_arrow=True),
        "snapshot_coverage": engine.coverage_matrix(con, year, scheme=s),
    }


def finalize(con: duckdb.DuckDBPyConnection, year: int, user: dict, today: dt.date | None = None,
             early: bool = False, reason: str | None = None) -> int:
    """公示 → 定稿: the 公示稿 with the answered appeals applied (调整: the
    indicator's points, a K1 deduction or the K2 veto), totals, grades and ranks
    recomputed. Refused while an appeal is unanswered or before the 公示期 has
    ended, unless an administrator finalises ``early`` with a ``reason``."""
    today = today or dt.date.today()
    s = _scheme(year)
    st = store.get_stage(con, year)
    if st["stage"] != PUBLICITY:
        raise ClosingError(f"{year}年度当前为“{st['stage']}”阶段，只有公示阶段可以定稿")
    draft = store.current_snapshot(con, year, DRAFT)
    if draft is None:
        raise ClosingError(f"{year}年度没有公示稿，不能定稿")
    open_ = store.appeals(con, year, status=OPEN)
    problems = []
    if len(open_):
        problems.append(f"还有 {len(open_)} 条申诉未答复（" + "、".join(f"{u} {c}" for u, c in zip(open_["unit"], open_["code"]))
                        + "）")
    end = st["publicity_end"]
    if end is not None and today <= end:
        problems.append(f"公示期到 {end:%Y年%m月%d日} 才结束")
    early_reason = None
    if problems:
        if not early:
            raise ClosingError([f"{year}年度不能定稿：" + "；".join(problems)
                                + "。管理员可填写理由后提前定稿"])
        if store.acting_role(con, user) != "admin":
            raise ClosingError("只有管理员可以提前定稿")
        early_reason = (reason or "").strip()
        if not early_reason:
            raise ClosingError("提前定稿必须填写理由")
        early_reason = early_reason + "（" + "；".join(problems) + "）"
    elif early and (reason or "").strip():
        early_reason = None  # nothing to override: an ordinary finalisation
    units, points = _final_rows(con, draft, s)
    days, cal_years = store.snapshot_calendar(con, draft["id"])
    name, text = draft["scheme_file"], con.execute("SELECT scheme_text FROM snapshots WHERE id = ?",
                                                   [draft["id"]]).fetchone()[0]
    return store.store_snapshot(con, year, FINAL_KIND, units, points, user=user, made_on=today, scheme_file=name,
                                scheme_text=text, codes=list(draft["codes"]), calendar=days,
                                calendar_years=cal_years, based_on=draft["id"], early_reason=early_reason,
                                expect_stage=PUBLICITY)


def _final_rows(con, draft: dict, scheme) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Set-based: the 公示稿 rows with the adjusted appeals applied and totals,
    grades, ranks and score rates recomputed (integer cents, as the engine does)."""
    grades = [(n, int(Decimal(lo) * 100)) for n, lo in scheme.grades]
    gsql = " ".join(f"WHEN t.total_c >= {c} THEN '{n}'" for n, c in grades)
    params = {"d": int(draft["id"]), "adj": ADJUSTED}
    pts = con.sql("""
        WITH adj AS (SELECT unit, code, max(new_score) AS new_score, max(id) AS id FROM appeals
                     WHERE snapshot_id = $d AND status = $adj GROUP BY unit, code)
        SELECT p.unit, p.code, p.ord, coalesce(a.new_score, p.points) AS points, a.id AS appeal_id,
               CASE WHEN a.id IS NOT NULL THEN p.points END AS points_before
        FROM snapshot_points p LEFT JOIN adj a ON a.unit = p.unit AND a.code = p.code
        WHERE p.snapshot_id = $d ORDER BY p.unit, p.ord""", params=params).df()
    units = con.sql(f"""
        WITH adj AS (SELECT unit, code, max(new_score) AS new_score FROM appeals
                     WHERE snapshot_id = $d AND status = $adj GROUP BY unit, code),
        pts AS (SELECT p.unit, CAST(round(sum(coalesce(a.new_score, p.points)) * 100) AS BIGINT) AS sum_c
                FROM snapshot_points p LEFT JOIN adj a ON a.unit = p.unit AND a.code = p.code
                WHERE p.snapshot_id = $d GROUP BY p.unit),
        t AS (
            SELECT su.* EXCLUDE (total, grade, rank, score_rate, k1_points, k2_veto),
                   CASE WHEN su.submission_id IS NOT NULL THEN
                        coalesce((SELECT new_score FROM adj WHERE adj.unit = su.unit AND adj.code = 'K1'), su.k1_points)
                   END AS k1_points,
                   CASE WHEN EXISTS (SELECT 1 FROM adj WHERE adj.unit = su.unit AND adj.code = 'K2') THEN false
                        ELSE su.k2_veto END AS k2_veto,
                   CAST(round(su.max_total * 100) AS BIGINT) AS base_c,
                   pts.sum_c
            FROM snapshot_units su LEFT JOIN pts ON pts.unit = su.unit
            WHERE su.snapshot_id = $d
        ),
        t2 AS (SELECT t.*, CASE WHEN t.submission_id IS NOT NULL
                              THEN greatest(t.sum_c - CAST(round(coalesce(t.k1_points, 0) * 100) AS BIGINT), 0)
                              END AS total_c FROM t)
        SELECT t.*,
               (CAST(t.total_c AS DECIMAL(18,0)) * 0.01)::DECIMAL(18,2) AS total,
               CASE WHEN t.submission_id IS NULL THEN NULL WHEN t.k2_veto THEN '{scheme.fail_grade}'
                    {gsql} ELSE '{scheme.fail_grade}' END AS grade,
               CASE WHEN t.submission_id IS NOT NULL THEN
                    rank() OVER (PARTITION BY t.unit_type, t.submission_id IS NULL ORDER BY t.total_c DESC) END AS rank,
               CASE WHEN t.submission_id IS NOT NULL THEN
                    (CAST((2 * 10000 * t.total_c + t.base_c) // (2 * t.base_c) AS DECIMAL(18,0)) * 0.0001)::DECIMAL(18,4)
               END AS score_rate
        FROM t2 t
        ORDER BY {unit_type_order_sql('t.unit_type')}, t.unit_type,
                 t.submission_id IS NULL, rank NULLS LAST, t.unit""", params=params).to_arrow_table()
    u = plain_frame(units)
    return u, pts


# --------------------------------------------------------------------------- reading results

def chosen_snapshot(con, year: int, which: str | None = None) -> dict | None:
    """The snapshot whose results :func:`results` shows for ``which`` (None: live)."""
    return _pick(con, year, which)


def _pick(con, year: int, which: str | None) -> dict | None:
    if which in (None, "", "default"):
        return store.current_snapshot(con, year)
    if which == LIVE:
        return None
    if which == PUBLISHED:
        snap = store.current_snapshot(con, year, DRAFT)
    elif which == FINALISED:
        snap = store.current_snapshot(con, year, FINAL_KIND)
    else:
        raise ValueError(f"未知的结果来源“{which}”（应为 live、published 或 final）")
    if snap is None:
        raise SnapshotMissing(f"{year}年度还没有{WHICH_LABEL[which]}" +
                              ("（尚未发布考核结果）" if which == PUBLISHED else "（尚未定稿）"))
    return snap


def snapshot_label(snap: dict | None) -> str:
    """"公示稿（2024-03-01 发布）", "定稿（2024-03-12）" or "实时数据"."""
    if snap is None:
        return WHICH_LABEL[LIVE]
    if snap["kind"] == DRAFT:
        return f"{DRAFT}（{snap['made_on']:%Y-%m-%d} 发布，公示期至 {snap['publicity_end']:%Y-%m-%d}）"
    return f"{FINAL_KIND}（{snap['made_on']:%Y-%m-%d}）"


def snapshot_frame(con, snap: dict) -> pd.DataFrame:
    """A stored snapshot in the shape of :func:`metrics.engine.score_year`."""
    units = store.snapshot_units(con, snap["id"])
    pts = store.snapshot_points(con, snap["id"])
    codes = list(snap["codes"])
    wide = {}
    for unit, code, p in zip(pts["unit"], pts["code"], pts["points"]):
        wide.setdefault(unit, {})[code] = p
    for c in codes:
        units[c] = pd.Series([wide.get(u, {}).get(c) for u in units["unit"]], dtype=object, index=units.index)
    cols = engine.SCORECARD_COLUMNS + codes + engine.EXTRA_COLUMNS + COUNT_COLUMNS + ["k1_points", "sha256"]
    df = units[cols]
    df.attrs.update({"year": snap["year"], "provisional": bool(any(bool(v) for v in units["provisional"])),
                     "provisional_reason": next((r for r in units["provisional_reason"] if r), ""),
                     "missing_calendar_years": []})
    return df


def results(con: duckdb.DuckDBPyConnection, year: int, which: str | None = None) -> pd.DataFrame:
    """The scorecard of ``year`` from the chosen snapshot (see module doc), in
    the shape of :func:`metrics.engine.score_year`. ``attrs``: ``source``
    (live/published/final), ``snapshot`` (dict or None), ``label``."""
    snap = _pick(con, year, which)
    if snap is None:
        df = engine.score_year(con, int(year))
        df.attrs.update(_source_attrs(None))
        return df
    df = snapshot_frame(con, snap)
    df.attrs.update(_source_attrs(snap))
    return df


def _source_attrs(snap: dict | None) -> dict:
    if snap is None:
        return {"source": LIVE, "snapshot": None, "label": WHICH_LABEL[LIVE]}
    return {"source": PUBLISHED if snap["kind"] == DRAFT else FINALISED, "snapshot": snap,
            "label": snapshot_label(snap)}


def results_points(con: duckdb.DuckDBPyConnection, year: int, which: str | None = None) -> pa.Table | None:
    """The indicator columns of :func:`results_table` on their own (unit, then one per
    code; see ``engine.score_points``): None when the live scores are not stored."""
    snap = _pick(con, year, which)
    if snap is None:
        return engine.score_points(con, int(year))
    df = snapshot_frame(con, snap)
    return arrow_table(df[df["submission_id"].notna()][["unit", *snap["codes"]]].reset_index(drop=True))


def results_table(con: duckdb.DuckDBPyConnection, year: int, which: str | None = None,
                  points: bool = True) -> tuple[pa.Table, dict]:
    """:func:`results` as an Arrow table (points and rates decimal) and the frame's
    attrs, for callers that aggregate or display it without Python objects;
    ``points=False``: without the indicator columns (see ``engine.score_table``)."""
    snap = _pick(con, year, which)
    if snap is None:
        tbl, attrs = engine.score_table(con, int(year), points=points)
    else:
        df = snapshot_frame(con, snap)
        if not points:
            df = df.drop(columns=list(snap["codes"]))
        tbl, attrs = arrow_table(df), dict(df.attrs)
    return tbl, attrs | _source_attrs(snap)


# --------------------------------------------------------------------------- details behind the results

def details_of(con, year: int, which: str | None = None) -> dict:
    """Where the details (indicators, items, requests, coverage) of the chosen
    results come from: ``{"snapshot", "source_id", "live", "label", "note"}``.
    ``source_id`` is the snapshot whose stored detail rows apply (None: live).
    A snapshot published before details were stored falls back to the live
    details, and ``note`` says so."""
    snap = _pick(con, year, which)
    if snap is None:
        return {"snapshot": None, "source_id": None, "live": True, "label": WHICH_LABEL[LIVE], "note": ""}
    src = store.details_source(con, snap["id"])
    note = "" if src is not None else (f"该{snap['kind']}发布时未存档逐项明细，以下明细为按当前数据计算的实时结果")
    return {"snapshot": snap, "source_id": src, "live": src is None, "label": snapshot_label(snap), "note": note}


def _stored(con, sql: str, params: dict, big: bool = False) -> pd.DataFrame:
    tbl = con.sql(sql, params=params).to_arrow_table()
    return engine._big_frame(tbl) if big else engine._frame(tbl)


def _tag(df: pd.DataFrame, d: dict) -> pd.DataFrame:
    df.attrs.update({"source": LIVE if d["snapshot"] is None else (PUBLISHED if d["snapshot"]["kind"] == DRAFT
                                                                   else FINALISED),
                     "snapshot": d["snapshot"], "label": d["label"], "details_note": d["note"]})
    return df


def indicator_points(con, year: int, unit: str | None = None, which: str | None = None) -> pd.DataFrame:
    """:func:`metrics.engine.indicator_points` of the chosen results, plus
    ``reviewer``, ``appeal_id`` and ``points_before`` (定稿: the answered appeal
    that changed the points). From a snapshot: the stored rows, with the
    snapshot's own points."""
    d = details_of(con, year, which)
    if d["source_id"] is None:
        df = _with_reviewer(con, engine.indicator_points(con, int(year), unit=unit), year, unit)
        df["appeal_id"] = pd.Series([None] * len(df), dtype=object, index=df.index)
        df["points_before"] = pd.Series([None] * len(df), dtype=object, index=df.index)
        return _tag(df, d)
    df = _stored(con, f"""
        SELECT i.unit, su.unit_type, i.code, i.grp AS "group", i.text, i.max, i.type, i.self_score, i.review_score,
               i.review_reason, coalesce(p.points, i.points) AS points, su.year, i.self_note, i.reviewer,
               p.appeal_id, p.points_before
        FROM snapshot_indicators i
        JOIN snapshot_units su ON su.snapshot_id = $sid AND su.unit = i.unit
        LEFT JOIN snapshot_points p ON p.snapshot_id = $sid AND p.unit = i.unit AND p.code = i.code
        WHERE i.snapshot_id = $src AND ($u IS NULL OR i.unit = $u)
        ORDER BY {unit_type_order_sql('su.unit_type')}, i.unit, i.ord""",
                 {"sid": d["snapshot"]["id"], "src": d["source_id"], "u": unit})
    return _tag(df, d)


def penalties(con, year: int, unit: str, which: str | None = None) -> dict:
    """The unit's K1/K2 with reason and reviewer (as :func:`data.review.get_penalties`)
    and ``k1_points``, from the chosen results."""
    from data.review import get_penalties

    d = details_of(con, year, which)
    s = _scheme(year)
    if d["source_id"] is None:
        pen = dict(get_penalties(con, unit, year))
    else:
        row = next(iter(con.execute("""SELECT k1_count, k2_veto, reason, reviewer, updated_at FROM snapshot_penalties
                                       WHERE snapshot_id = ? AND unit = ?""", [d["source_id"], unit]).fetchall()),
                   None)
        pen = ({"k1_count": 0, "k2_veto": False, "reason": None, "reviewer": None, "updated_at": None} if row is None
               else {"k1_count": int(row[0]), "k2_veto": bool(row[1]), "reason": row[2], "reviewer": row[3],
                     "updated_at": row[4]})
    pen["k1_points"] = (Decimal(pen["k1_count"]) * s.k1_points).quantize(Decimal("0.01"))
    if d["snapshot"] is not None:  # the snapshot's own deduction and veto (a 定稿 applies the appeals)
        row = next(iter(con.execute("SELECT k1_points, k2_veto FROM snapshot_units WHERE snapshot_id = ? AND unit = ?",
                                    [d["snapshot"]["id"], unit]).fetchall()), None)
        if row is not None and row[0] is not None:
            pen["k1_points"], pen["k2_veto"] = Decimal(row[0]), bool(row[1])
    return pen


def item_facts(con, year: int, unit: str | None = None, include_uncounted: bool = False,
               states=None, which: str | None = None) -> pd.DataFrame:
    """:func:`metrics.engine.item_facts` of the chosen results (a snapshot: the items as scored when published)."""
    d = details_of(con, year, which)
    if d["source_id"] is None:
        return _tag(engine.item_facts(con, int(year), unit=unit, include_uncounted=include_uncounted,
                                      states=states), d)
    cols = store.DETAIL_COLUMNS["snapshot_items"][1:]
    df = _stored(con, f"""SELECT {', '.join(cols)} FROM snapshot_items
                          WHERE snapshot_id = $src AND ($u IS NULL OR unit = $u) AND ($all OR counted)
                            AND ($st IS NULL OR list_contains($st, state))
                          ORDER BY ord""",
                 {"src": d["source_id"], "u": unit, "all": bool(include_uncounted),
                  "st": None if states is None else [str(x) for x in states]}, big=True)
    return _tag(df, d)


def item_aggregates(con, year: int, which: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`metrics.engine.item_aggregates` of the chosen results."""
    d = details_of(con, year, which)
    if d["source_id"] is None:
        monthly, late = engine.item_aggregates(con, int(year))
    else:
        p = {"src": d["source_id"]}
        monthly = _stored(con, """SELECT unit, unit_type, month, state, published, n FROM snapshot_item_months
                                  WHERE snapshot_id = $src ORDER BY ord""", p, big=True)
        late = _stored(con, """SELECT unit, unit_type, days_late, n FROM snapshot_item_late_days
                               WHERE snapshot_id = $src ORDER BY ord""", p, big=True)
    return _tag(monthly, d), _tag(late, d)


def item_aggregates_table(con, year: int, which: str | None = None, per_unit: bool = True) -> pa.Table:
    """:func:`item_aggregates` of the chosen results as one Arrow table, as
    :func:`metrics.engine.item_aggregates_table` gives it (``by_days`` 0: the
    monthly rows, 1: the late-days rows; ``per_unit=False``: per unit type)."""
    d = details_of(con, year, which)
    if d["source_id"] is None:
        return engine.item_aggregates_table(con, int(year), per_unit=per_unit)
    tbl = con.sql("""
        SELECT unit, unit_type, month, state, published, NULL::INTEGER AS late_by, n, 0 AS by_days, ord
        FROM snapshot_item_months WHERE snapshot_id = $src
        UNION ALL
        SELECT unit, unit_type, NULL::INTEGER, NULL, NULL, days_late, n, 1, ord
        FROM snapshot_item_late_days WHERE snapshot_id = $src
        ORDER BY by_days, ord""", params={"src": d["source_id"]}).to_arrow_table().drop_columns(["ord"])
    return tbl if per_unit else engine.item_aggregates_by_type(tbl)


def request_facts(con, year: int, unit: str | None = None, include_uncounted: bool = False,
                  which: str | None = None) -> pd.DataFrame:
    """:func:`metrics.engine.request_facts` of the chosen results."""
    d = details_of(con, year, which)
    if d["source_id"] is None:
        return _tag(engine.request_facts(con, int(year), unit=unit, include_uncounted=include_uncounted), d)
    cols = store.DETAIL_COLUMNS["snapshot_requests"][1:]
    df = _stored(con, f"""SELECT {', '.join(cols)} FROM snapshot_requests
                          WHERE snapshot_id = $src AND ($u IS NULL OR unit = $u) AND ($all OR counted)
                          ORDER BY ord""",
                 {"src": d["source_id"], "u": unit, "all": bool(include_uncounted)}, big=True)
    return _tag(df, d)


def coverage_matrix(con, year: int, unit: str | None = None, which: str | None = None) -> pd.DataFrame:
    """:func:`metrics.engine.coverage_matrix` of the chosen results."""
    d = details_of(con, year, which)
    if d["source_id"] is None:
        return _tag(engine.coverage_matrix(con, int(year), unit=unit), d)
    cols = store.DETAIL_COLUMNS["snapshot_coverage"][1:]
    df = _stored(con, f"""SELECT {', '.join(cols)} FROM snapshot_coverage
                          WHERE snapshot_id = $src AND ($u IS NULL OR unit = $u) ORDER BY ord""",
                 {"src": d["source_id"], "u": unit})
    return _tag(df, d)


def live_differs(con, year: int, snap_df: pd.DataFrame) -> list[str]:
    """Units whose live total, grade or rank differ from the snapshot frame."""
    live = engine.score_year(con, int(year))
    a = snap_df.set_index("unit")[["total", "grade", "rank", "status"]]
    b = live.set_index("unit")[["total", "grade", "rank", "status"]]
    out = []
    for u in sorted(set(a.index) | set(b.index)):
        if u not in a.index or u not in b.index:
            out.append(u)
            continue
        ra, rb = a.loc[u].tolist(), b.loc[u].tolist()
        if [None if v is None or v != v else v for v in ra] != [None if v is None or v != v else v for v in rb]:
            out.append(u)
    return out


# --------------------------------------------------------------------------- the unit's full scorecard

def unit_view(con: duckdb.DuckDBPyConnection, year: int, unit: str) -> dict:
    """Everything a unit may see about its score once reviewed (right of reply).

    ``{"visible", "status", "stage", "snapshot", "indicators" (DataFrame:
    code, group, text, max, type, self_score, review_score, review_reason,
    reviewer, points, published), "penalties" {k1_count, k1_points, k2_veto,
    reason, reviewer}, "late_items", "missing_categories", "late_requests",
    "appeals" (DataFrame), "total", "grade", "rank", "can_appeal",
    "publicity_end", "details_note"}``. Everything comes from the current
    snapshot (公示稿/定稿, its stored details) when the unit is in it, else
    from the live state. ``visible`` is False before the submission is 已审核
    (nothing else is filled then)."""
    from data.review import workflow_state

    _scheme(year)
    stage = store.get_stage(con, year)
    status = workflow_state(con, unit, year)["status"]
    snap = store.current_snapshot(con, year)
    out = {"visible": False, "status": status, "stage": stage["stage"], "snapshot": snap,
           "publicity_end": stage["publicity_end"], "appeals": store.appeals(con, year, unit=unit)}
    in_snapshot = snap is not None and con.execute(
        "SELECT submission_id IS NOT NULL FROM snapshot_units WHERE snapshot_id = ? AND unit = ?",
        [snap["id"], unit]).fetchone() == (True,)
    if status != APPROVED and not in_snapshot:
        return out
    # from the snapshot shown (its stored details) once there is one, else live
    which = None if in_snapshot else LIVE
    ind = indicator_points(con, int(year), unit=unit, which=which)
    pub = {}
    if snap is not None:
        p = store.snapshot_points(con, snap["id"], unit)
        pub = dict(zip(p["code"], p["points"]))
    ind["published"] = [pub.get(c) for c in ind["code"]]
    pen = penalties(con, year, unit, which)
    items = item_facts(con, int(year), unit=unit, states=[ItemState.LATE], which=which)
    reqs = request_facts(con, int(year), unit=unit, which=which)
    reqs = reqs[reqs["state"] == ItemState.LATE].reset_index(drop=True)
    card = results(con, year, which).set_index("unit")
    row = card.loc[unit] if unit in card.index else None
    out.update({
        "visible": True, "indicators": ind, "penalties": pen, "details_note": ind.attrs.get("details_note", ""),
        "late_items": items[["sheet_row", "seq", "title", "category_name", "formed", "deadline", "published",
                             "days_late"]].reset_index(drop=True),
        "missing_categories": [m for m in ((row["missing_categories"] if row is not None else None) or "").split("、")
                               if m],
        "late_requests": reqs[["sheet_row", "request_no", "received", "deadline", "answered", "days_late"]],
        "total": None if row is None else row["total"], "grade": None if row is None else row["grade"],
        "rank": None if row is None else row["rank"],
        "can_appeal": stage["stage"] == PUBLICITY and in_snapshot,
        "appeal_targets": store.appeal_targets(con, snap["id"], unit) if snap is not None and in_snapshot else {},
    })
    return out


def indicator_max(year: int, code: str) -> Decimal | None:
    s = _scheme(year)
    try:
        return s.indicator(code).max
    except KeyError:
        return None


def answer_appeal(con, appeal_id: int, decision: str, answer: str, new_score=None, *, user: dict) -> None:
    """Answer an appeal (see :func:`data.closing.answer_appeal`) with the indicator's maximum from the scheme."""
    ap = store.get_appeal(con, appeal_id)
    store.answer_appeal(con, appeal_id, decision, answer, new_score, user=user,
                        max_score=indicator_max(ap["year"], ap["code"]))


# --------------------------------------------------------------------------- 待办 and 催报名单

def _deadline(con, s) -> tuple[dt.date, dt.date]:
    return s.cutoff, late_window_end(con, s)


def todo(con: duckdb.DuckDBPyConnection, user: dict, today: dt.date | None = None,
         years: list[int] | None = None) -> list[dict]:
    """The signed-in user's 待办, most urgent first: dicts ``{"year", "kind",
    "text", "level"}`` (level: error / warning / info).

    Units: returned submissions (with the reviewer's comment), a missing
    submission with its deadline (years in 填报), appeal deadlines during 公示
    and answered appeals. Reviewers: submissions awaiting review, open appeals
    by deadline, units still missing after the deadline. Admins: the
    reviewers' list plus years ready to publish or to finalise."""
    today = today or dt.date.today()
    ys = years if years is not None else scheme_mod.years()
    role = (user or {}).get("role")
    out: list[dict] = []
    for y in ys:
        s = scheme_mod.scheme_for(y)
        if s is None:
            continue
        st = store.get_stage(con, y)
        stage = st["stage"]
        if role == "unit":
            out += _unit_todo(con, y, s, st, user.get("unit"), today)
        elif role in ("reviewer", "admin"):
            out += _staff_todo(con, y, s, st, today)
            if role == "admin":
                out += _admin_todo(con, y, st, today)
        del stage
    order = {"error": 0, "warning": 1, "info": 2}
    out.sort(key=lambda d: (order.get(d["level"], 3), -d["year"]))
    return out


def _current_year(y: int, today: dt.date) -> bool:
    """The year units are filing for now: the newest scheme year, or last calendar year."""
    ys = scheme_mod.years()
    return y == (ys[-1] if ys else None) or y >= today.year - 1


def _unit_todo(con, y, s, st, unit, today) -> list[dict]:
    from data.review import workflow_state

    if not unit:
        return []
    out = []
    wf = workflow_state(con, unit, y)
    stage = st["stage"]
    if wf["status"] == RETURNED:
        out.append({"year": y, "kind": "退回", "level": "error",
                    "text": f"{y}年度自评材料已被退回：{wf['comment'] or '（无意见）'}。请修改后重新上传。"})
    elif wf["status"] == MISSING and stage == FILING and _current_year(y, today):
        cutoff, late_end = _deadline(con, s)
        if today <= cutoff:
            out.append({"year": y, "kind": "未报送", "level": "warning",
                        "text": f"{y}年度自评材料尚未报送，截止日期 {cutoff:%Y年%m月%d日}。"})
        else:
            out.append({"year": y, "kind": "未报送", "level": "error",
                        "text": f"{y}年度自评材料尚未报送，截止日期 {cutoff:%Y年%m月%d日} 已过"
                                f"（{late_end:%Y年%m月%d日} 前报送仍可得部分分数）。"})
    if stage == PUBLICITY and st["publicity_end"] is not None and today <= st["publicity_end"]:
        out.append({"year": y, "kind": "公示", "level": "info",
                    "text": f"{y}年度考核结果公示中，对得分有异议可在 {st['publicity_end']:%Y年%m月%d日} 前提出申诉。"})
    ap = store.appeals(con, y, unit=unit)
    for r in ap.itertuples():
        if r.status == OPEN:
            out.append({"year": y, "kind": "申诉", "level": "info",
                        "text": f"{y}年度 {r.code} 的申诉（{r.filed_on:%Y-%m-%d} 提出）待考核组答复。"})
        else:
            res = f"调整为 {Decimal(r.new_score):f} 分" if r.status == ADJUSTED and r.new_score is not None else r.status
            out.append({"year": y, "kind": "申诉答复", "level": "info",
                        "text": f"{y}年度 {r.code} 的申诉已答复：{res}。理由：{r.answer}"})
    return out


def _staff_todo(con, y, s, st, today) -> list[dict]:
    out = []
    stage = st["stage"]
    if stage in (FILING, REVIEW):
        n = con.execute("""SELECT count(*) FROM workflow w WHERE w.year = ? AND w.status = ?
                            AND EXISTS (SELECT 1 FROM submissions s WHERE s.unit = w.unit AND s.year = w.year)""",
                        [y, PENDING]).fetchone()[0]
        if n:
            out.append({"year": y, "kind": "待审核", "level": "warning", "text": f"{y}年度有 {n} 份自评材料待审核。"})
        if today > s.cutoff:
            missing = [r[0] for r in con.execute(f"""SELECT name FROM units u WHERE NOT EXISTS
                           (SELECT 1 FROM submissions s WHERE s.unit = u.name AND s.year = ?)
                           ORDER BY {unit_type_order_sql()}, sort_order, name""", [y]).fetchall()]
            if missing and (_current_year(y, today) or stage == REVIEW):
                more = "等" if len(missing) > 5 else ""
                out.append({"year": y, "kind": "未报送", "level": "warning",
                            "text": f"{y}年度报送截止日 {s.cutoff:%Y-%m-%d} 已过，仍有 {len(missing)} 个单位未报送："
                                    f"{'、'.join(missing[:5])}{more}（可下载催报名单）。"})
    if stage == PUBLICITY:
        ap = store.appeals(con, y, status=OPEN)
        for r in ap.itertuples():
            out.append({"year": y, "kind": "申诉", "level": "error",
                        "text": f"{y}年度 {r.unit} 对 {r.code} 的申诉待答复（{r.filed_on:%Y-%m-%d} 提出；"
                                f"公示期至 {st['publicity_end']:%Y-%m-%d}）。"})
    return out


def _admin_todo(con, y, st, today) -> list[dict]:
    stage = st["stage"]
    if stage == REVIEW:
        if not len(not_approved(con, y)):
            return [{"year": y, "kind": "可发布", "level": "warning",
                     "text": f"{y}年度已报送单位全部审核通过，可以发布考核结果（进入公示）。"}]
    elif stage == PUBLICITY:
        n_open = len(store.appeals(con, y, status=OPEN))
        end = st["publicity_end"]
        if end is not None and today > end and not n_open:
            return [{"year": y, "kind": "可定稿", "level": "warning",
                     "text": f"{y}年度公示期已于 {end:%Y-%m-%d} 结束，申诉均已答复，可以定稿。"}]
    return []


CHASE_COLUMNS = ["单位名称", "单位类型", "状态", "报送截止日期", "逾期报送截止日期", "退回意见", "填报人", "联系电话"]


def chase_list(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """催报名单: units 未报送 or 已退回 for ``year``, with the deadline and the
    填报人 / 联系电话 of the unit's last workbook (any year) where one exists."""
    s = _scheme(year)
    cutoff, late_end = _deadline(con, s)
    rows = con.execute(f"""
        WITH last AS (SELECT unit, arg_max(reporter, uploaded_at) AS reporter, arg_max(phone, uploaded_at) AS phone
                      FROM submissions WHERE reporter IS NOT NULL OR phone IS NOT NULL GROUP BY unit),
        cur AS (SELECT unit, max(version) AS v FROM submissions WHERE year = $y GROUP BY unit)
        SELECT u.name, u.unit_type,
               CASE WHEN cur.v IS NULL THEN $missing ELSE coalesce(w.status, $pending) END AS status,
               w.comment, last.reporter, last.phone
        FROM units u
        LEFT JOIN cur ON cur.unit = u.name
        LEFT JOIN workflow w ON w.unit = u.name AND w.year = $y
        LEFT JOIN last ON last.unit = u.name
        WHERE cur.v IS NULL OR w.status = $returned
        ORDER BY {unit_type_order_sql('u.unit_type')}, u.sort_order, u.name""",
                       {"y": int(year), "missing": MISSING, "pending": PENDING, "returned": RETURNED}).fetchall()
    data = [[n, t, st, cutoff.isoformat(), late_end.isoformat(), (c or "") if st == RETURNED else "", r or "", p or ""]
            for n, t, st, c, r, p in rows]
    return pd.DataFrame(data, columns=CHASE_COLUMNS)


def chase_list_xlsx(con, year: int) -> bytes:
    """The 催报名单 as a printable .xlsx; every cell is text or a date, never a formula."""
    from openpyxl import Workbook

    from data.exports import workbook_bytes
    from openpyxl.styles import Alignment, Font

    df = chase_list(con, year)
    wb = Workbook()
    ws = wb.active
    ws.title = "催报名单"
    ws.append([f"{year}年度政务公开考核自评材料催报名单（{dt.date.today():%Y-%m-%d}）"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(list(df.columns))
    for c in ws[2]:
        c.font = Font(bold=True)
    for row in df.itertuples(index=False):
        ws.append([None] * len(df.columns))
        r = ws.max_row
        for n, v in enumerate(row, start=1):
            cell = ws.cell(r, n)
            cell.value = str(v) if v is not None else None
            cell.data_type = "s"  # text as typed: "=…" stays text
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for col, w in zip("ABCDEFGH", (26, 8, 8, 13, 15, 30, 10, 15)):
        ws.column_dimensions[col].width = w
    ws.freeze_panes = "A3"
    ws.print_title_rows = "2:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    return workbook_bytes(wb)
