"""The reviewer's write path (审核): review scores, workflow transitions and
penalties, with the look-ups they need. The unit-year's story (audit trail,
submission history, original files) is in :mod:`data.history`, uploads from
the pages in :mod:`data.uploads`, table downloads in :mod:`data.exports`;
read-outs that need scores (the review queue, a unit's indicator sheet) are
in :mod:`metrics.readouts`.

No Streamlit here: every function takes a DuckDB connection, writes in one
transaction (:func:`data.store.transaction`) with an audit row
(:func:`data.store.audit`), and refuses bad input with :class:`ReviewError`
whose message is Chinese and says what to do.

Workflow (per unit and year)::

    未报送 --上传--> 待审核 --通过 approve--> 已审核 --重新打开 reopen--> 待审核
                     待审核 --退回 return (意见必填)--> 已退回 --再次上传--> 待审核

An approved (已审核) unit-year is locked: uploads (see :mod:`data.ingest`),
review scores and penalties are refused until a reviewer reopens it.

Every write takes the acting user (``actor``/``reviewer``: a name, the
signed-in user's dict or :data:`data.access.SYSTEM`) and refuses anyone but a
考核组 or 管理员 account (:func:`data.access.require_actor`). Every write also
takes ``seen``: the :class:`Seen` (version and change counter) the reviewer
had on screen. If the unit-year changed since (a new upload, another
reviewer's score, a penalty, a decision), nothing is written and
:class:`StaleReview` says which version and counter are current.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable

import duckdb

from core.errors import GongkaiError
from core.normalize import ScoreError, parse_score, score_text
from data.access import REVIEWERS, require_actor
from data.closing import FINAL, PUBLICITY, stage_of
from core.scheme import scheme_for
from core.vocab import Status
from data.store import audit, bump_revision, lock_unit_year, recorded_at, transaction

log = logging.getLogger(__name__)

#: action → (required current status, new status, Chinese label)
ACTIONS = {
    "approve": (Status.PENDING, Status.APPROVED, "审核通过"),
    "return": (Status.PENDING, Status.RETURNED, "退回"),
    "reopen": (Status.APPROVED, Status.PENDING, "重新打开"),
    # a mistaken 退回 is undone (the unit need not upload again); the reason is required
    "unreturn": (Status.RETURNED, Status.PENDING, "撤销退回"),
}
ACTION_LABEL = {k: v[2] for k, v in ACTIONS.items()}
#: audit actions that are reviewer decisions (shown in the submission history)
DECISION_ACTIONS = tuple(v[2] for v in ACTIONS.values())
SCORE_ACTIONS = ("调整审核分", "撤销审核分")
PENALTY_ACTION = "扣分与一票否决"
MAX_K1 = 33  # 33 × 3 = 99 points: more than any total can lose


class ReviewError(GongkaiError, ValueError):
    """A review operation that cannot be done; one issue per reason (one
    Chinese sentence each); ``str(e)`` joins them."""

    code = "review_refused"


class StaleReview(ReviewError):
    """The unit-year changed after the reviewer opened it; nothing was written.
    ``current`` is the :class:`Seen` that is current now."""

    def __init__(self, message: str, current: "Seen"):
        super().__init__(message)
        self.current = current


# --------------------------------------------------------------------------- look-ups

@dataclass(frozen=True)
class Seen:
    """What the reviewer had on screen: the unit-year's current version (0 =
    none) and its change counter (:func:`data.store.revision`)."""
    version: int
    counter: int

    @property
    def label(self) -> str:
        return f"第{self.version}版 · 修改计数 {self.counter}" if self.version else f"未报送 · 修改计数 {self.counter}"


def snapshot(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> Seen:
    """The :class:`Seen` of ``unit``'s ``year`` now; a page reads it with the
    data it shows and hands it back with every write."""
    # two plain lookups cost DuckDB less than one statement with two scalar subqueries
    versions = con.execute("SELECT version FROM submissions WHERE unit = ? AND year = ?", [unit, int(year)]).fetchall()
    counter = con.execute("SELECT counter FROM revisions WHERE unit = ? AND year = ?", [unit, int(year)]).fetchall()
    return Seen(max((int(v) for v, in versions), default=0), int(counter[0][0]) if counter else 0)


def check_seen(con: duckdb.DuckDBPyConnection, unit: str, year: int, seen) -> None:
    """:class:`StaleReview` unless ``seen`` is still current (call inside the write's transaction)."""
    if isinstance(seen, (tuple, list)) and len(seen) == 2:
        seen = Seen(int(seen[0]), int(seen[1]))
    if not isinstance(seen, Seen):
        raise ReviewError("缺少页面上显示的版本和修改计数，未作任何修改；请刷新页面后重新操作")
    lock_unit_year(con, unit, year)  # several servers: one change of a unit-year at a time, then compare
    now = snapshot(con, unit, year)
    if now != seen:
        what = (f"单位已上传新版本（第{now.version}版）" if now.version != seen.version
                else "其他审核人员或单位已修改了该单位的数据")
        raise StaleReview(f"{unit} {year}年度的数据在您打开页面后已有变化：{what}。您看到的是{seen.label}，"
                          f"当前为{now.label}。本次操作未保存，请查看当前内容后重新操作。", now)


@dataclass(frozen=True)
class SubmissionRef:
    id: int
    unit: str
    year: int
    version: int
    received: dt.date
    file_name: str


def get_submission(con: duckdb.DuckDBPyConnection, submission_id: int) -> SubmissionRef:
    row = con.execute("SELECT id, unit, year, version, received, file_name FROM submissions WHERE id = ?",
                      [int(submission_id)]).fetchone()
    if row is None:
        raise ReviewError(f"找不到编号为 {submission_id} 的上报材料")
    return SubmissionRef(*row)


def current_submission(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> SubmissionRef | None:
    """The newest accepted version of ``unit`` for ``year`` (None when 未报送)."""
    # every version (a few rows), the newest picked here: cheaper for DuckDB than ORDER BY … LIMIT 1
    rows = con.execute("SELECT id, unit, year, version, received, file_name FROM submissions WHERE unit = ? AND year = ?",
                       [unit, int(year)]).fetchall()
    return SubmissionRef(*max(rows, key=lambda r: r[3])) if rows else None


def workflow_state(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> dict:
    """``{"status", "comment", "comment_by", "comment_at", "updated_at", "updated_by"}``; status 未报送
    when no version. ``comment_by`` is the reviewer account that wrote ``comment``; ``updated_by`` is
    whoever changed the status last (an upload too)."""
    return _workflow_state(con, unit, year, current_submission(con, unit, year))


def _workflow_state(con, unit: str, year: int, sub: SubmissionRef | None) -> dict:
    """:func:`workflow_state` when the current submission ``sub`` has just been read."""
    row = con.execute("""SELECT status, comment, updated_at, updated_by, comment_by, comment_at FROM workflow
                         WHERE unit = ? AND year = ?""", [unit, int(year)]).fetchone()
    empty = {"comment": None, "comment_by": None, "comment_at": None, "updated_at": None, "updated_by": None}
    if sub is None:
        return {"status": Status.MISSING, **empty}
    if row is None:
        return {"status": Status.PENDING, **empty}
    return {"status": row[0], "comment": row[1], "updated_at": row[2], "updated_by": row[3],
            "comment_by": row[4], "comment_at": row[5]}


def get_penalties(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> dict:
    row = con.execute("SELECT k1_count, k2_veto, reason, reviewer, updated_at FROM penalties WHERE unit = ? AND year = ?",
                      [unit, int(year)]).fetchone()
    if row is None:
        return {"k1_count": 0, "k2_veto": False, "reason": None, "reviewer": None, "updated_at": None}
    return {"k1_count": int(row[0]), "k2_veto": bool(row[1]), "reason": row[2], "reviewer": row[3],
            "updated_at": row[4]}


def _require_unit(con, unit: str) -> None:
    if not unit or con.execute("SELECT 1 FROM units WHERE name = ?", [unit]).fetchone() is None:
        raise ReviewError(f"单位“{unit or ''}”不在单位名录中")


def _require_scheme(year: int):
    s = scheme_for(int(year))
    if s is None:
        raise ReviewError(f"没有{year}年度的考核指标体系")
    return s


def _locked_message(unit: str, year: int) -> str:
    return f"{unit} {year}年度已审核通过，结果已锁定；如需修改，请先“重新打开”"


# --------------------------------------------------------------------------- review scores


def _check_score(con, sub: SubmissionRef, code: str, score, reason: str | None) -> tuple[str, Decimal, str, Decimal | None]:
    """Validate one review score; returns (code, score, reason, self score)."""
    scheme = _require_scheme(sub.year)
    code = (code or "").strip().upper()
    try:
        ind = scheme.indicator(code)
    except KeyError:
        raise ReviewError(f"指标“{code}”不在{sub.year}年度指标体系中")
    if not ind.self_scored:
        raise ReviewError(f"{code} 是系统自动计算的指标，不能人工调整")
    try:
        d = parse_score(score, f"{code}：审核分", high=ind.max)
    except ScoreError as e:
        raise ReviewError(str(e)) from None
    row = con.execute("SELECT score FROM self_scores WHERE submission_id = ? AND upper(code) = ?",
                      [sub.id, code]).fetchone()
    own = Decimal(row[0]) if row and row[0] is not None else None
    reason = (reason or "").strip()
    if (own is None or d != own) and not reason:
        raise ReviewError(f"{code}：审核分 {score_text(d)} 与自评分 {score_text(own)} 不同，必须填写调整理由")
    return code, d, reason, own


def _check_editable(con, sub: SubmissionRef) -> None:
    cur = current_submission(con, sub.unit, sub.year)
    if cur is None or cur.id != sub.id:
        raise ReviewError(f"第{sub.version}版不是{sub.unit}的当前版本（当前为第{cur.version if cur else '—'}版），只能调整当前版本的得分")
    if workflow_state(con, sub.unit, sub.year)["status"] == Status.APPROVED:
        raise ReviewError(_locked_message(sub.unit, sub.year))


def _write_score(con, sub: SubmissionRef, code: str, d: Decimal, reason: str, own, reviewer: str | None) -> bool:
    prev = con.execute("SELECT score, reason FROM review_scores WHERE submission_id = ? AND code = ?",
                       [sub.id, code]).fetchone()
    if prev is not None and Decimal(prev[0]) == d and (prev[1] or "") == reason:
        return False
    con.execute("""INSERT INTO review_scores (submission_id, code, score, reason, reviewer, updated_at)
                   VALUES (?,?,?,?,?, coalesce(?, now()))
                   ON CONFLICT (submission_id, code) DO UPDATE SET score = excluded.score, reason = excluded.reason,
                   reviewer = excluded.reviewer, updated_at = excluded.updated_at""",
                [sub.id, code, d, reason or None, reviewer, recorded_at()])
    before = f"审核 {score_text(prev[0])}" if prev is not None else f"自评 {score_text(own)}"
    audit(con, SCORE_ACTIONS[0], actor=reviewer, unit=sub.unit, year=sub.year,
          detail=f"第{sub.version}版 {code}" + (f"：{reason}" if reason else ""),
          before=before, after=f"审核 {score_text(d)}")
    return True


def _delete_score(con, sub: SubmissionRef, code: str, reviewer: str | None) -> bool:
    prev = con.execute("SELECT score FROM review_scores WHERE submission_id = ? AND code = ?", [sub.id, code]).fetchone()
    if prev is None:
        return False
    own = con.execute("SELECT score FROM self_scores WHERE submission_id = ? AND upper(code) = ?", [sub.id, code]).fetchone()
    con.execute("DELETE FROM review_scores WHERE submission_id = ? AND code = ?", [sub.id, code])
    audit(con, SCORE_ACTIONS[1], actor=reviewer, unit=sub.unit, year=sub.year,
          detail=f"第{sub.version}版 {code}：恢复按自评分计分",
          before=f"审核 {score_text(prev[0])}", after=f"自评 {score_text(own[0] if own else None)}")
    return True


def set_review_score(con: duckdb.DuckDBPyConnection, submission_id: int, code: str, score, reason: str | None,
                     reviewer, *, seen) -> bool:
    """Set the reviewer's score of one self-scored indicator of the current version.

    ``score`` must lie in 0 … max; ``reason`` is required when it differs from
    the unit's own score. Returns False when nothing changed.
    """
    return apply_review_scores(con, submission_id, [{"code": code, "score": score, "reason": reason}], reviewer,
                               seen=seen, _clear_empty=False) > 0


def clear_review_score(con: duckdb.DuckDBPyConnection, submission_id: int, code: str, reviewer, *, seen) -> bool:
    """Drop the reviewer's score: the unit's own score counts again. False when there was none."""
    return apply_review_scores(con, submission_id, [{"code": code, "score": None}], reviewer, seen=seen) > 0


def apply_review_scores(con: duckdb.DuckDBPyConnection, submission_id: int, changes: Iterable[dict],
                        reviewer, *, seen, _clear_empty: bool = True) -> int:
    """Several review-score changes at once, all or nothing.

    ``changes``: dicts ``{"code", "score", "reason"}``; ``score`` None (or "")
    clears the reviewer's score. Every problem is reported in one
    :class:`ReviewError`; nothing is written then. Returns the number of
    indicators changed.
    """
    sub = get_submission(con, submission_id)
    who = require_actor(con, reviewer, REVIEWERS, what="调整审核分")
    with transaction(con):
        check_seen(con, sub.unit, sub.year, seen)
        _check_editable(con, sub)
        ok, problems = [], []
        for ch in changes:
            code = (ch.get("code") or "").strip().upper()
            score = ch.get("score")
            if _clear_empty and (score is None or (isinstance(score, str) and not score.strip())
                                 or (isinstance(score, float) and score != score)):
                ok.append((code, None, None, None))
                continue
            try:
                ok.append(_check_score(con, sub, code, score, ch.get("reason")))
            except ReviewError as e:
                problems.extend(e.issues)
        if problems:
            raise ReviewError(problems)
        n = 0
        for code, d, reason, own in ok:
            if d is None:
                n += _delete_score(con, sub, code, who.name)
            else:
                n += _write_score(con, sub, code, d, reason, own, who.name)
        if n:
            bump_revision(con, sub.unit, sub.year)
    return n


# --------------------------------------------------------------------------- workflow

def set_status(con: duckdb.DuckDBPyConnection, unit: str, year: int, action: str, comment: str | None,
               actor, *, seen) -> str:
    """Move a unit-year through the workflow; returns the new status.

    approve: 待审核 → 已审核; return: 待审核 → 已退回 (``comment`` required; the
    unit sees it); reopen: 已审核 → 待审核; unreturn: 已退回 → 待审核 (a mistaken
    退回 undone, ``comment`` required).
    """
    if action not in ACTIONS:
        raise ReviewError(f"未知操作“{action}”（应为 {'、'.join(ACTIONS)}）")
    need, new, label = ACTIONS[action]
    who = require_actor(con, actor, REVIEWERS, what=label)
    _require_unit(con, unit)
    _require_scheme(year)
    comment = (comment or "").strip() or None
    if action == "return" and not comment:
        raise ReviewError("退回时必须填写退回意见，说明需要单位修改什么（单位会看到这条意见）")
    if action == "unreturn" and not comment:
        raise ReviewError("撤销退回时必须填写原因（例如：误退回，材料无需修改）；单位和操作日志都会看到这条原因")
    with transaction(con):
        check_seen(con, unit, year, seen)
        sub = current_submission(con, unit, year)
        if sub is None:
            raise ReviewError(f"{unit} {year}年度尚未报送自评材料，不能{label}")
        stage = stage_of(con, year)
        if stage in (PUBLICITY, FINAL):
            raise ReviewError(f"{year}年度已进入“{stage}”阶段，审核结果已发布，不能{label}；"
                              f"如确需修改，请管理员先将年度退回审核阶段")
        cur = _workflow_state(con, unit, year, sub)["status"]
        if cur != need:
            raise ReviewError(f"{unit} {year}年度当前状态为“{cur}”，不能{label}（只有“{need}”的材料可以{label}）")
        con.execute("""INSERT INTO workflow (unit, year, status, comment, updated_by, updated_at, comment_by, comment_at)
                       VALUES (?,?,?,?,?, coalesce(?, now()), ?, coalesce(?, now()))
                       ON CONFLICT (unit, year) DO UPDATE SET status = excluded.status, comment = excluded.comment,
                       updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                       comment_by = excluded.comment_by, comment_at = excluded.comment_at""",
                    [unit, int(year), new, comment, who.name, recorded_at(), who.name if comment else None,
                     recorded_at()])
        bump_revision(con, unit, year)
        audit(con, label, actor=who.name, unit=unit, year=int(year),
              detail=f"第{sub.version}版" + (f"：{comment}" if comment else ""), before=cur, after=new)
    return new


def approve(con, unit, year, comment=None, actor=None, *, seen) -> str:
    return set_status(con, unit, year, "approve", comment, actor, seen=seen)


def return_submission(con, unit, year, comment, actor=None, *, seen) -> str:
    return set_status(con, unit, year, "return", comment, actor, seen=seen)


def reopen(con, unit, year, comment=None, actor=None, *, seen) -> str:
    return set_status(con, unit, year, "reopen", comment, actor, seen=seen)


# --------------------------------------------------------------------------- penalties

def _penalty_text(k1: int, k2: bool) -> str:
    return f"K1 通报批评 {k1} 次；K2 一票否决：{'是' if k2 else '否'}"


def set_penalties(con: duckdb.DuckDBPyConnection, unit: str, year: int, k1_count, k2_veto: bool, reason: str | None,
                  actor, *, seen) -> bool:
    """Set K1 (通报批评 count, −points each) and K2 (一票否决) of a unit-year.

    ``reason`` is required. Refused while the unit-year is 已审核. Returns False
    when nothing changed.
    """
    who = require_actor(con, actor, REVIEWERS, what="设置扣分与一票否决")
    _require_unit(con, unit)
    _require_scheme(year)
    problems = []
    try:
        k1 = int(k1_count) if not isinstance(k1_count, bool) else None
        if k1 is None or Decimal(str(k1_count)) != k1:
            raise ValueError
    except (TypeError, ValueError, InvalidOperation):
        k1 = None
        problems.append(f"K1 通报批评次数“{k1_count}”应为 0 或正整数")
    if k1 is not None and not 0 <= k1 <= MAX_K1:
        problems.append(f"K1 通报批评次数应在 0 到 {MAX_K1} 之间，实为 {k1}")
    if not isinstance(k2_veto, bool):
        problems.append("K2 一票否决应为“是”或“否”")
    reason = (reason or "").strip()
    if not reason:
        problems.append("请填写扣分或一票否决的理由（如通报文件名称、文号）")
    if problems:
        raise ReviewError(problems)
    with transaction(con):
        check_seen(con, unit, year, seen)
        if workflow_state(con, unit, year)["status"] == Status.APPROVED:
            raise ReviewError(_locked_message(unit, year))
        prev = get_penalties(con, unit, year)
        if prev["k1_count"] == k1 and prev["k2_veto"] == k2_veto and (prev["reason"] or "") == reason:
            return False
        con.execute("""INSERT INTO penalties (unit, year, k1_count, k2_veto, reason, reviewer, updated_at)
                       VALUES (?,?,?,?,?,?, coalesce(?, now()))
                       ON CONFLICT (unit, year) DO UPDATE SET k1_count = excluded.k1_count, k2_veto = excluded.k2_veto,
                       reason = excluded.reason, reviewer = excluded.reviewer, updated_at = excluded.updated_at""",
                    [unit, int(year), k1, k2_veto, reason, who.name, recorded_at()])
        bump_revision(con, unit, year)
        audit(con, PENALTY_ACTION, actor=who.name, unit=unit, year=int(year), detail=reason,
              before=_penalty_text(prev["k1_count"], prev["k2_veto"]), after=_penalty_text(k1, k2_veto))
    return True
