"""Closing a year: its stage, frozen result snapshots, upload permits and appeals (申诉).

Stages of a year (table ``year_stages``; no row means 填报)::

    填报 --开始审核--> 审核 --发布（公示稿）--> 公示 --定稿--> 定稿

Forward moves are reviewer or administrator actions, never the clock; 审核 →
公示 happens only by storing a 公示稿 snapshot (:func:`store_snapshot`, called
by :func:`metrics.closing.publish`) and 公示 → 定稿 only by storing a 定稿
(:func:`metrics.closing.finalize`). Going back one stage is an administrator
action with a required reason; the snapshot of the stage left is marked
withdrawn (kept, never deleted).

Every write function here takes the acting user (an account name, the
signed-in user's dict or a :class:`data.access.Actor`), checks it with
:func:`data.access.require_actor` (role, unit and enabled account as the
``users`` table has them; refusals are :class:`ClosingDenied`), writes in one transaction
with an audit row, and refuses bad input with :class:`ClosingError` whose
message is Chinese. Nothing here computes scores: the snapshot rows are built
by :mod:`metrics.closing` and only stored here.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from decimal import Decimal
from typing import Iterable

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from core.errors import GongkaiError
from core.normalize import ScoreError, parse_score
from core.scorecard import SNAPSHOT_UNIT_COLUMNS
from core.vocab import Status
from data.access import PermissionDenied, require_actor, resolve_actor
from data.frames import plain_frame
from data.store import audit, recorded_at, transaction

APPROVED, RETURNED = Status.APPROVED, Status.RETURNED

FILING, REVIEW, PUBLICITY, FINAL = "填报", "审核", "公示", "定稿"
STAGES = (FILING, REVIEW, PUBLICITY, FINAL)
DRAFT, FINAL_KIND = "公示稿", "定稿"
KIND_OF_STAGE = {PUBLICITY: DRAFT, FINAL: FINAL_KIND}
OPEN, UPHELD, ADJUSTED = "待答复", "维持", "调整"
PENALTY_CODES = ("K1", "K2")
MAX_REASON = 2000
MAX_APPEAL_FILES = 5
MAX_APPEAL_FILE_BYTES = 10 * 1024 * 1024
STAFF = ("reviewer", "admin")


class ClosingError(GongkaiError, ValueError):
    """A closing operation that cannot be done: one issue per reason (``problems``: their messages)."""

    code = "closing_refused"

    @property
    def problems(self) -> list[str]:
        return self.messages


# --------------------------------------------------------------------------- actors

class ClosingDenied(PermissionDenied, ClosingError):
    """The acting user may not do this closing operation (both a
    :class:`data.access.PermissionDenied` and a :class:`ClosingError`)."""


def _actor(user) -> dict:
    """Only for reads that show a page's own user its data (:func:`appeal_file`)."""
    if not isinstance(user, dict) or not user.get("name") or not user.get("role"):
        raise ClosingError("未登录或操作人不明，不能执行此操作")
    return user


def _require(con, user, roles, what: str, denied: str, unit: str | None = None) -> dict:
    """The acting user checked by :func:`data.access.require_actor` (role, unit and
    enabled account read from ``users``; the command line's SYSTEM acts as an
    administrator), as ``{"name", "role", "unit"}``; :class:`ClosingDenied`
    with ``denied`` when the role (or unit) does not allow it."""
    try:
        who = resolve_actor(con, user)
    except PermissionDenied as e:
        raise ClosingDenied(str(e)) from None
    try:
        require_actor(con, who, roles, unit=unit, what=what)
    except PermissionDenied:
        raise ClosingDenied(denied) from None
    return {"name": who.name, "role": "admin" if who.role == "system" else who.role, "unit": who.unit}


def _require_staff(con, user, what: str) -> dict:
    return _require(con, user, STAFF, what, f"只有考核组或管理员可以{what}")


def _require_admin(con, user, what: str) -> dict:
    return _require(con, user, ("admin",), what, f"只有管理员可以{what}")


def acting_role(con, user) -> str:
    """The role of the acting user as the ``users`` table has it (``admin`` for the command line)."""
    return _require(con, user, ("unit", "reviewer", "leader", "admin"), "进行此操作", "未指明操作人")["role"]


def _reason(text, what: str) -> str:
    t = (text or "").strip() if isinstance(text, str) else ""
    if not t:
        raise ClosingError(f"请填写{what}")
    if len(t) > MAX_REASON:
        raise ClosingError(f"{what}不能超过 {MAX_REASON} 个字（现有 {len(t)} 个字）")
    return t


# --------------------------------------------------------------------------- stage

def get_stage(con: duckdb.DuckDBPyConnection, year: int) -> dict:
    """``{"year", "stage", "publicity_start", "publicity_end", "updated_at", "updated_by", "reason"}``."""
    row = con.execute("""SELECT stage, publicity_start, publicity_end, updated_at, updated_by, reason
                         FROM year_stages WHERE year = ?""", [int(year)]).fetchone()
    if row is None:
        return {"year": int(year), "stage": FILING, "publicity_start": None, "publicity_end": None,
                "updated_at": None, "updated_by": None, "reason": None}
    return {"year": int(year), "stage": row[0], "publicity_start": row[1], "publicity_end": row[2],
            "updated_at": row[3], "updated_by": row[4], "reason": row[5]}


def stage_of(con, year: int) -> str:
    return get_stage(con, year)["stage"]


def _write_stage(con, year: int, stage: str, actor: str, reason: str | None, start=None, end=None) -> None:
    con.execute("""INSERT INTO year_stages (year, stage, publicity_start, publicity_end, updated_by, reason, updated_at)
                   VALUES (?,?,?,?,?,?, coalesce(?, now()))
                   ON CONFLICT (year) DO UPDATE SET stage = excluded.stage,
                   publicity_start = excluded.publicity_start, publicity_end = excluded.publicity_end,
                   updated_at = excluded.updated_at, updated_by = excluded.updated_by, reason = excluded.reason""",
                [int(year), stage, start, end, actor, reason, recorded_at()])


def set_stage(con: duckdb.DuckDBPyConnection, year: int, stage: str, user: dict, reason: str | None = None) -> dict:
    """Move ``year`` one stage forward (填报 → 审核 only; reviewer or admin) or
    one stage back (administrator, ``reason`` required). Publishing and
    finalising have their own functions. Returns the new stage dict."""
    u = _require(con, user, ("unit", "reviewer", "leader", "admin"), "更改年度阶段", "未指明操作人")
    if stage not in STAGES:
        raise ClosingError(f"未知阶段“{stage}”（应为 {'、'.join(STAGES)}）")
    cur = get_stage(con, year)
    a, b = STAGES.index(cur["stage"]), STAGES.index(stage)
    if a == b:
        raise ClosingError(f"{year}年度已处于“{stage}”阶段")
    if b == a + 1:
        if stage == PUBLICITY:
            raise ClosingError(f"{year}年度进入公示阶段须“发布”考核结果（生成公示稿），请使用发布功能")
        if stage == FINAL:
            raise ClosingError(f"{year}年度进入定稿阶段须“定稿”考核结果，请使用定稿功能")
        _require_staff(con, user, "开始审核")
        with transaction(con):
            _write_stage(con, year, stage, u["name"], None)
            audit(con, "年度阶段", actor=u["name"], year=int(year), detail=f"{cur['stage']} → {stage}",
                  before=cur["stage"], after=stage)
        return get_stage(con, year)
    if b == a - 1:
        _require_admin(con, user, "将年度退回上一阶段")
        why = _reason(reason, "退回上一阶段的理由")
        with transaction(con):
            if cur["stage"] in KIND_OF_STAGE:
                con.execute("""UPDATE snapshots SET withdrawn_at = coalesce(?, now()), withdrawn_by = ?,
                               withdrawn_reason = ? WHERE year = ? AND kind = ? AND withdrawn_at IS NULL""",
                            [recorded_at(), u["name"], why, int(year), KIND_OF_STAGE[cur["stage"]]])
            keep = (cur["publicity_start"], cur["publicity_end"]) if stage == PUBLICITY else (None, None)
            _write_stage(con, year, stage, u["name"], why, *keep)
            audit(con, "年度阶段退回", actor=u["name"], year=int(year), detail=f"{cur['stage']} → {stage}：{why}",
                  before=cur["stage"], after=stage)
        return get_stage(con, year)
    raise ClosingError(f"{year}年度当前为“{cur['stage']}”阶段，不能直接改为“{stage}”：阶段只能逐级前进或逐级退回")


# --------------------------------------------------------------------------- uploads past 填报

def upload_refusal(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> str | None:
    """None when ``unit`` may upload for ``year`` now, else the Chinese reason.

    填报: open to all. 审核: only units a reviewer returned (已退回) or gave an
    upload permit. 公示 and 定稿: closed."""
    st = stage_of(con, year)
    if st == FILING:
        return None
    if st == REVIEW:
        row = con.execute("SELECT status FROM workflow WHERE unit = ? AND year = ?", [unit, int(year)]).fetchone()
        if row is not None and row[0] == RETURNED:
            return None
        if con.execute("SELECT 1 FROM upload_permits WHERE unit = ? AND year = ?", [unit, int(year)]).fetchone():
            return None
        return (f"{year}年度已进入“{st}”阶段，报送已截止；只有被退回或经考核组重新开放报送的单位可以上传"
                f"（{unit}未被重新开放）")
    return f"{year}年度已进入“{st}”阶段，不再接收自评表；如确需修改，请联系管理员将年度退回审核阶段"


def permit_upload(con: duckdb.DuckDBPyConnection, unit: str, year: int, reason: str, user: dict) -> None:
    """Let ``unit`` upload for ``year`` during 审核 (reviewer or admin; reason required)."""
    u = _require_staff(con, user, "重新开放报送")
    why = _reason(reason, "重新开放报送的理由")
    if con.execute("SELECT 1 FROM units WHERE name = ?", [unit]).fetchone() is None:
        raise ClosingError(f"单位“{unit}”不在单位名录中")
    st = stage_of(con, year)
    if st != REVIEW:
        raise ClosingError(f"{year}年度当前为“{st}”阶段：只有审核阶段需要重新开放报送")
    with transaction(con):
        con.execute("""INSERT INTO upload_permits (unit, year, reason, granted_by, granted_at)
                       VALUES (?,?,?,?, coalesce(?, now()))
                       ON CONFLICT (unit, year) DO UPDATE SET reason = excluded.reason,
                       granted_by = excluded.granted_by, granted_at = excluded.granted_at""",
                    [unit, int(year), why, u["name"], recorded_at()])
        audit(con, "重新开放报送", actor=u["name"], unit=unit, year=int(year), detail=why)


def upload_permits(con, year: int) -> pd.DataFrame:
    return con.execute("""SELECT unit, reason, granted_by, granted_at FROM upload_permits WHERE year = ?
                          ORDER BY unit""", [int(year)]).df()


# --------------------------------------------------------------------------- snapshots

#: the columns of a stored unit row (one definition, :mod:`core.scorecard`)
UNIT_COLUMNS = SNAPSHOT_UNIT_COLUMNS
_DEC = {"total", "self_total", "proactive_rate", "request_rate", "coverage_rate", "max_total", "score_rate",
        "k1_points"}
_INT = {"year", "rank", "proactive_counted", "proactive_on_time", "proactive_pending", "requests_counted",
        "requests_on_time", "required_categories", "covered_categories", "k1_count", "submission_id", "version",
        "requests_pending", "requests_corrected"}
_BOOL = {"provisional", "k2_veto", "late_submission"}


def _none(v):
    if v is None:
        return None
    try:
        if v != v:  # NaN / NA
            return None
    except (TypeError, ValueError):
        return None if v is pd.NA else v
    return v


def _arrow_col(name: str, values: list) -> pa.Array:
    vals = [_none(v) for v in values]
    if name in _DEC:
        return pa.array([None if v is None else format(Decimal(str(v)), "f") for v in vals], pa.string())
    if name in _INT:
        return pa.array([None if v is None else int(v) for v in vals], pa.int64())
    if name in _BOOL:
        return pa.array([None if v is None else bool(v) for v in vals], pa.bool_())
    if name == "received":
        return pa.array(vals, pa.date32())
    return pa.array([None if v is None else str(v) for v in vals], pa.string())


def _insert(con, table: str, cols: dict[str, pa.Array], casts: dict[str, str] | None = None) -> None:
    con.register("_snap_rows", pa.table(cols))
    try:
        sel = ", ".join(f"CAST({c} AS {casts[c]})" if casts and c in casts else c for c in cols)
        con.execute(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {sel} FROM _snap_rows")
    finally:
        con.unregister("_snap_rows")


#: the detail tables of a snapshot (migration 5) and their columns, in the order
#: of the frames :mod:`metrics.closing` passes (``ord`` keeps the frame's row order)
DETAIL_COLUMNS: dict[str, list[str]] = {
    "snapshot_indicators": ["unit", "code", "ord", "grp", "text", "max", "type", "self_score", "review_score",
                            "review_reason", "reviewer", "self_note", "points"],
    "snapshot_penalties": ["unit", "k1_count", "k2_veto", "reason", "reviewer", "updated_at"],
    "snapshot_items": ["ord", "unit", "unit_type", "year", "submission_id", "sheet_row", "seq", "title", "category",
                       "category_name", "formed", "published", "url", "deadline", "state", "days_late", "counted"],
    "snapshot_item_months": ["ord", "unit", "unit_type", "month", "state", "published", "n"],
    "snapshot_item_late_days": ["ord", "unit", "unit_type", "days_late", "n"],
    "snapshot_requests": ["ord", "unit", "unit_type", "year", "submission_id", "sheet_row", "request_no",
                          "applicant_type", "received", "corrected", "clock_start", "extended", "answered", "result",
                          "review_result", "rule_basis", "days_allowed", "deadline", "state", "days_taken",
                          "days_late", "counted"],
    "snapshot_coverage": ["ord", "unit", "unit_type", "code", "name", "required", "covered", "items", "published"],
}


def _arrow_frame(df: pd.DataFrame | pa.Table, cols: list[str]) -> pa.Table:
    """``df[cols]`` as Arrow (missing columns empty); ``ord`` is the row number
    unless the frame has it. Decimal columns stay exact (cast on insert). An
    Arrow table is used as it is (large item tables never become pandas)."""
    if isinstance(df, pa.Table):
        n = df.num_rows
        return pa.table({c: (df.column(c) if c in df.column_names else
                             pa.array(np.arange(n, dtype=np.int32)) if c == "ord" else pa.nulls(n)) for c in cols})
    out = {}
    for c in cols:
        if c == "ord" and c not in df.columns:
            out[c] = pa.array(range(len(df)), pa.int32())
        elif c not in df.columns:
            out[c] = pa.nulls(len(df))
        else:
            s = df[c]
            if s.dtype == object:
                out[c] = pa.array([_none(v) for v in s.tolist()], from_pandas=True)
            else:
                out[c] = pa.Array.from_pandas(s)
    return pa.table(out)


def _store_details(con, sid: int, details: dict[str, pd.DataFrame | pa.Table]) -> None:
    unknown = set(details) - set(DETAIL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown snapshot detail tables: {sorted(unknown)}")
    for table, cols in DETAIL_COLUMNS.items():
        df = details.get(table)
        if df is None or not (df.num_rows if isinstance(df, pa.Table) else len(df)):
            continue
        con.register("_snap_detail", _arrow_frame(df, cols))
        try:
            con.execute(f"INSERT INTO {table} (snapshot_id, {', '.join(cols)}) "
                        f"SELECT ?, {', '.join(cols)} FROM _snap_detail", [sid])
        finally:
            con.unregister("_snap_detail")
    con.execute("INSERT INTO snapshot_details (snapshot_id, source_id) VALUES (?, ?)", [sid, sid])


def details_source(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> int | None:
    """The snapshot whose detail rows belong to ``snapshot_id`` (itself, or the
    公示稿 a 定稿 was made from); None when none were stored (a snapshot
    published before details were kept)."""
    rows = con.execute("SELECT source_id FROM snapshot_details WHERE snapshot_id = ?", [int(snapshot_id)]).fetchall()
    return int(rows[0][0]) if rows else None


def store_snapshot(con: duckdb.DuckDBPyConnection, year: int, kind: str, units: pd.DataFrame,
                   points: pd.DataFrame, *, user: dict, made_on: dt.date, scheme_file: str, scheme_text: str,
                   codes: list[str], calendar: Iterable[tuple[dt.date, bool]],
                   calendar_years: Iterable[tuple[int, str]], publicity: tuple[dt.date, dt.date] | None = None,
                   based_on: int | None = None, early_reason: str | None = None,
                   expect_stage: str, refuse: list[str] | None = None,
                   details: dict[str, pd.DataFrame] | None = None) -> int:
    """Store a frozen snapshot and move the year's stage, in one transaction.

    ``units``: one row per registered unit with :data:`UNIT_COLUMNS` (order
    kept as ``ord``); ``points``: unit, code, points (and optionally
    appeal_id, points_before). 公示稿 moves 审核 → 公示 and records the
    公示期 ``publicity``; 定稿 moves 公示 → 定稿. The year must be in
    ``expect_stage`` at the moment of writing. ``details``: the frames of the
    detail tables (:data:`DETAIL_COLUMNS`); a 定稿 instead reads the details of
    its 公示稿 ``based_on`` when that has them. Returns the snapshot id.
    """
    u = _require_staff(con, user, "发布或定稿考核结果")
    if kind not in (DRAFT, FINAL_KIND):
        raise ClosingError(f"未知的结果稿类别“{kind}”")
    if early_reason is not None and u["role"] != "admin":
        raise ClosingError("只有管理员可以在公示期结束前或有未答复申诉时提前定稿")
    target = PUBLICITY if kind == DRAFT else FINAL
    cur = get_stage(con, year)
    if cur["stage"] != expect_stage:
        raise ClosingError(f"{year}年度当前为“{cur['stage']}”阶段，不能{'发布' if kind == DRAFT else '定稿'}"
                           f"（须在“{expect_stage}”阶段）")
    if refuse:
        raise ClosingError(refuse)
    sha = hashlib.sha256(scheme_text.encode("utf-8")).hexdigest()
    start, end = publicity if publicity else (cur["publicity_start"], cur["publicity_end"])
    with transaction(con):
        sid = con.execute("""INSERT INTO snapshots (year, kind, created_by, made_on, publicity_start, publicity_end,
                                 based_on, early_reason, scheme_file, scheme_sha256, scheme_text, codes, created_at)
                             VALUES (?,?,?,?,?,?,?,?,?,?,?,?, coalesce(?, now())) RETURNING id""",
                          [int(year), kind, u["name"], made_on, start, end, based_on, early_reason, scheme_file,
                           sha, scheme_text, list(codes), recorded_at()]).fetchone()[0]
        n = len(units)
        cols = {"snapshot_id": pa.array([sid] * n, pa.int32()), "ord": pa.array(range(n), pa.int32())}
        for c in UNIT_COLUMNS:
            cols[c] = _arrow_col(c, list(units[c]) if c in units.columns else [None] * n)
        _insert(con, "snapshot_units", cols, {c: "DECIMAL(18,4)" if c.endswith("rate") else "DECIMAL(18,2)"
                                              for c in _DEC})
        m = len(points)
        order = {c: i for i, c in enumerate(codes)}
        pc = {"snapshot_id": pa.array([sid] * m, pa.int32()),
              "unit": _arrow_col("unit", list(points["unit"])),
              "code": _arrow_col("code", list(points["code"])),
              "ord": pa.array([order.get(c, len(order)) for c in points["code"]], pa.int32()),
              "points": _arrow_col("total", list(points["points"])),
              "appeal_id": _arrow_col("version", list(points["appeal_id"]) if "appeal_id" in points else [None] * m),
              "points_before": _arrow_col("total", list(points["points_before"]) if "points_before" in points
                                          else [None] * m)}
        _insert(con, "snapshot_points", pc, {"points": "DECIMAL(18,2)", "points_before": "DECIMAL(18,2)"})
        cal = list(calendar)
        _insert(con, "snapshot_calendar", {"snapshot_id": pa.array([sid] * len(cal), pa.int32()),
                                           "day": pa.array([d for d, _ in cal], pa.date32()),
                                           "is_workday": pa.array([bool(w) for _, w in cal], pa.bool_())})
        cy = list(calendar_years)
        _insert(con, "snapshot_calendar_years", {"snapshot_id": pa.array([sid] * len(cy), pa.int32()),
                                                 "year": pa.array([int(y) for y, _ in cy], pa.int32()),
                                                 "source": pa.array([s for _, s in cy], pa.string())})
        if details is not None:
            _store_details(con, sid, details)
        elif based_on is not None:
            src = details_source(con, based_on)
            if src is not None:
                con.execute("INSERT INTO snapshot_details (snapshot_id, source_id) VALUES (?, ?)", [sid, src])
        _write_stage(con, year, target, u["name"], early_reason, start, end)
        detail = (f"发布{kind}（第{sid}号），公示期 {start} 至 {end}" if kind == DRAFT
                  else f"定稿（第{sid}号，依据公示稿第{based_on}号）" + (f"；提前定稿理由：{early_reason}" if early_reason else ""))
        audit(con, "发布考核结果" if kind == DRAFT else "考核结果定稿", actor=u["name"], year=int(year),
              detail=detail, before=cur["stage"], after=target)
    return sid


SNAPSHOT_COLUMNS = ["id", "year", "kind", "created_at", "created_by", "made_on", "publicity_start", "publicity_end",
                    "based_on", "early_reason", "scheme_file", "scheme_sha256", "codes", "withdrawn_at",
                    "withdrawn_by", "withdrawn_reason"]


def snapshots(con: duckdb.DuckDBPyConnection, year: int) -> list[dict]:
    """Every snapshot of ``year``, newest first (withdrawn ones included, marked)."""
    rows = con.execute(f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM snapshots WHERE year = ? ORDER BY id DESC",
                       [int(year)]).fetchall()
    return [dict(zip(SNAPSHOT_COLUMNS, r)) for r in rows]


def current_snapshot(con, year: int, kind: str | None = None) -> dict | None:
    """The newest snapshot not withdrawn (of ``kind`` when given)."""
    for s in snapshots(con, year):
        if s["withdrawn_at"] is None and (kind is None or s["kind"] == kind):
            return s
    return None


def get_snapshot(con, snapshot_id: int) -> dict:
    row = con.execute(f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM snapshots WHERE id = ?",
                      [int(snapshot_id)]).fetchone()
    if row is None:
        raise ClosingError(f"找不到编号为 {snapshot_id} 的结果稿")
    return dict(zip(SNAPSHOT_COLUMNS, row))


def snapshot_units(con, snapshot_id: int) -> pd.DataFrame:
    """The stored unit rows (plain Python values: Decimal, int, date, str, bool, None) in stored order."""
    tbl = con.sql(f"SELECT {', '.join(UNIT_COLUMNS)} FROM snapshot_units WHERE snapshot_id = $s ORDER BY ord",
                  params={"s": int(snapshot_id)}).to_arrow_table()
    return plain_frame(tbl)


def snapshot_points(con, snapshot_id: int, unit: str | None = None) -> pd.DataFrame:
    """unit, code, ord, points, appeal_id, points_before."""
    tbl = con.sql("""SELECT unit, code, ord, points, appeal_id, points_before FROM snapshot_points
                     WHERE snapshot_id = $s AND ($u IS NULL OR unit = $u) ORDER BY unit, ord""",
                  params={"s": int(snapshot_id), "u": unit}).to_arrow_table()
    return plain_frame(tbl)


def snapshot_calendar(con, snapshot_id: int) -> tuple[list[tuple[dt.date, bool]], list[tuple[int, str]]]:
    days = con.execute("SELECT day, is_workday FROM snapshot_calendar WHERE snapshot_id = ? ORDER BY day",
                       [int(snapshot_id)]).fetchall()
    years = con.execute("SELECT year, source FROM snapshot_calendar_years WHERE snapshot_id = ? ORDER BY year",
                        [int(snapshot_id)]).fetchall()
    return days, years


# --------------------------------------------------------------------------- appeals

APPEAL_COLUMNS = ["id", "year", "unit", "code", "snapshot_id", "old_score", "reason", "filed_by", "filed_at",
                  "filed_on", "status", "answer", "new_score", "answered_by", "answered_at", "files"]


def _score(v, what: str, high=None) -> Decimal:
    try:
        return parse_score(v, what, None if high is None else Decimal(high))
    except ScoreError as e:
        raise ClosingError(str(e)) from None


def _safe_name(name: str) -> str:
    base = re.split(r"[\\/]", str(name or ""))[-1].strip()
    base = re.sub(r"[\x00-\x1f]", "", base)[:120]
    return base or "证明材料"


def appeal_targets(con, snapshot_id: int, unit: str) -> dict[str, Decimal | None]:
    """What a unit may appeal against in a snapshot: indicator code → its points,
    plus K1 (deduction points) and K2 (1 when vetoed) when they apply."""
    pts = snapshot_points(con, snapshot_id, unit)
    out = {c: p for c, p in zip(pts["code"], pts["points"])}
    row = con.execute("SELECT k1_points, k2_veto FROM snapshot_units WHERE snapshot_id = ? AND unit = ?",
                      [int(snapshot_id), unit]).fetchone()
    if row is not None:
        if row[0] is not None and Decimal(row[0]) > 0:
            out["K1"] = Decimal(row[0])
        if row[1]:
            out["K2"] = Decimal(1)
    return out


def file_appeal(con: duckdb.DuckDBPyConnection, year: int, unit: str, code: str, reason: str,
                files: Iterable[tuple[str, bytes]] = (), *, user: dict, today: dt.date) -> int:
    """A unit's appeal (申诉) against one indicator or penalty of the current
    公示稿, during the 公示期 (through its last day). One open appeal per
    indicator; evidence files are size-limited. Returns the appeal id."""
    u = _require(con, user, ("unit",) + STAFF, "提出申诉", "只有填报单位（或代其登记的考核组、管理员）可以提出申诉")
    if u["role"] == "unit" and u.get("unit") != unit:
        raise ClosingDenied(f"本账号只能为“{u.get('unit') or ''}”提出申诉")
    st = get_stage(con, year)
    if st["stage"] != PUBLICITY:
        raise ClosingError(f"{year}年度当前为“{st['stage']}”阶段，只有公示期内可以提出申诉")
    if st["publicity_end"] is not None and today > st["publicity_end"]:
        raise ClosingError(f"{year}年度公示期已于 {st['publicity_end']:%Y年%m月%d日} 结束，不再受理申诉")
    snap = current_snapshot(con, year, DRAFT)
    if snap is None:
        raise ClosingError(f"{year}年度没有公示稿")
    code = (code or "").strip().upper()
    targets = appeal_targets(con, snap["id"], unit)
    if not targets:
        raise ClosingError(f"{unit}不在{year}年度公示稿中（未报送的单位没有可申诉的得分）")
    if code not in targets:
        raise ClosingError(f"“{code}”不是{unit} {year}年度可申诉的指标或扣分项")
    why = _reason(reason, "申诉理由")
    files = [(_safe_name(n), bytes(c)) for n, c in files or []]
    if len(files) > MAX_APPEAL_FILES:
        raise ClosingError(f"证明材料最多 {MAX_APPEAL_FILES} 个文件（现有 {len(files)} 个）")
    for n, c in files:
        if len(c) > MAX_APPEAL_FILE_BYTES:
            raise ClosingError(f"证明材料“{n}”有 {len(c) / 1048576:.1f} MB，超过 {MAX_APPEAL_FILE_BYTES // 1048576} MB 的上限")
        if not c:
            raise ClosingError(f"证明材料“{n}”是空文件")
    with transaction(con):
        if con.execute("SELECT 1 FROM appeals WHERE year = ? AND unit = ? AND code = ? AND status = ?",
                       [int(year), unit, code, OPEN]).fetchone():
            raise ClosingError(f"{unit}对 {code} 已有一条待答复的申诉，请等待答复后再提出")
        aid = con.execute("""INSERT INTO appeals (year, unit, code, snapshot_id, old_score, reason, filed_by, filed_on,
                                                  status, filed_at) VALUES (?,?,?,?,?,?,?,?,?, coalesce(?, now()))
                             RETURNING id""",
                          [int(year), unit, code, snap["id"], targets[code], why, u["name"], today, OPEN,
                           recorded_at()]).fetchone()[0]
        for n, c in files:
            con.execute("INSERT INTO appeal_files (appeal_id, file_name, size, sha256, content) VALUES (?,?,?,?,?)",
                        [aid, n, len(c), hashlib.sha256(c).hexdigest(), c])
        audit(con, "提出申诉", actor=u["name"], unit=unit, year=int(year),
              detail=f"第{aid}号申诉 {code}：{why}" + (f"（证明材料 {len(files)} 个）" if files else ""),
              after=OPEN)
    return aid


def answer_appeal(con: duckdb.DuckDBPyConnection, appeal_id: int, decision: str, answer: str,
                  new_score=None, *, user: dict, max_score: Decimal | None = None) -> None:
    """Answer an open appeal: 维持 (reason required) or 调整 (new score and
    reason required). For an indicator the new score lies in 0 … ``max_score``;
    for K1 it is the new deduction (0 … the deduction appealed against); for
    K2 调整 lifts the veto (new score 0)."""
    u = _require_staff(con, user, "答复申诉")
    ap = get_appeal(con, appeal_id)
    if ap["status"] != OPEN:
        raise ClosingError(f"第{appeal_id}号申诉已于 {ap['answered_at']:%Y-%m-%d} 答复（{ap['status']}），不能再次答复")
    st = stage_of(con, ap["year"])
    if st != PUBLICITY:
        raise ClosingError(f"{ap['year']}年度当前为“{st}”阶段，只能在公示阶段答复申诉")
    if decision not in (UPHELD, ADJUSTED):
        raise ClosingError(f"答复结论应为“{UPHELD}”或“{ADJUSTED}”")
    why = _reason(answer, "答复理由")
    score = None
    if decision == ADJUSTED:
        if ap["code"] == "K2":
            score = _score(0 if new_score in (None, "") else new_score, "调整后的分值")
            if score != 0:
                raise ClosingError("K2 一票否决调整后只能取消（调整后的分值为 0）")
        elif ap["code"] == "K1":  # the new deduction: at most the one appealed against
            score = _score(new_score, "调整后的扣分", ap["old_score"])
        else:
            score = _score(new_score, "调整后的分值", max_score)
        if ap["old_score"] is not None and score == Decimal(ap["old_score"]):
            raise ClosingError(f"调整后的分值与公示稿相同（{score}），如不改变分值请选择“{UPHELD}”")
    with transaction(con):
        n = con.execute("""UPDATE appeals SET status = ?, answer = ?, new_score = ?, answered_by = ?,
                           answered_at = coalesce(?, now()) WHERE id = ? AND status = ? RETURNING id""",
                        [decision, why, score, u["name"], recorded_at(), int(appeal_id), OPEN]).fetchall()
        if not n:
            raise ClosingError(f"第{appeal_id}号申诉已被他人答复")
        audit(con, "答复申诉", actor=u["name"], unit=ap["unit"], year=ap["year"],
              detail=f"第{appeal_id}号申诉 {ap['code']}：{decision}；{why}",
              before=f"{ap['code']} {ap['old_score']}", after=f"{ap['code']} {score}" if score is not None else decision)


def get_appeal(con, appeal_id: int) -> dict:
    df = appeals(con, appeal_id=appeal_id)
    if not len(df):
        raise ClosingError(f"找不到编号为 {appeal_id} 的申诉")
    r = df.iloc[0].to_dict()
    return {k: _none(v) if not isinstance(v, list) else v for k, v in r.items()}


def appeals(con: duckdb.DuckDBPyConnection, year: int | None = None, unit: str | None = None,
            status: str | None = None, appeal_id: int | None = None) -> pd.DataFrame:
    """Appeals (oldest first) with :data:`APPEAL_COLUMNS`; ``files`` is a list of
    ``{"id", "file_name", "size"}``."""
    rows = con.execute("""
        SELECT a.id, a.year, a.unit, a.code, a.snapshot_id, a.old_score, a.reason, a.filed_by, a.filed_at, a.filed_on,
               a.status, a.answer, a.new_score, a.answered_by, a.answered_at,
               coalesce((SELECT list({'id': f.id, 'file_name': f.file_name, 'size': f.size} ORDER BY f.id)
                         FROM appeal_files f WHERE f.appeal_id = a.id), []) AS files
        FROM appeals a
        WHERE ($y IS NULL OR a.year = $y) AND ($u IS NULL OR a.unit = $u) AND ($s IS NULL OR a.status = $s)
          AND ($i IS NULL OR a.id = $i)
        ORDER BY a.id""", {"y": year, "u": unit, "s": status, "i": appeal_id}).fetchall()
    return pd.DataFrame([list(r) for r in rows], columns=APPEAL_COLUMNS, dtype=object)


def appeal_file(con, file_id: int, user: dict) -> tuple[str, bytes]:
    """(file name, bytes) of an evidence file: reviewers and admins any, a unit its own."""
    u = _actor(user)
    row = con.execute("""SELECT f.file_name, f.content, a.unit FROM appeal_files f JOIN appeals a ON a.id = f.appeal_id
                         WHERE f.id = ?""", [int(file_id)]).fetchone()
    if row is None or (u["role"] not in STAFF and not (u["role"] == "unit" and u.get("unit") == row[2])):
        raise ClosingError(f"找不到编号为 {file_id} 的证明材料")
    return row[0], bytes(row[1])


def approved_units(con, year: int) -> set[str]:
    return {r[0] for r in con.execute("SELECT unit FROM workflow WHERE year = ? AND status = ?",
                                      [int(year), APPROVED]).fetchall()}
