"""A reviewer's adjustments carried over to a unit's new version.

Review scores belong to the version they were made on. After 退回 and a
re-upload, the adjustments of the last reviewed version are offered on the new
version as proposals: the reviewer accepts one (it is written as a review score
of the new version, with its reason, through the usual review write), edits it
first, or drops it. A dropped proposal is recorded in the audit log (action
:data:`DROP_ACTION`) so that it is not offered again for that version.
"""
from __future__ import annotations

import duckdb
import pandas as pd

from data.access import REVIEWERS, require_actor
from data.store import audit, bump_revision, transaction

DROP_ACTION = "不沿用上版调整"
PROPOSAL_COLUMNS = ["code", "from_version", "prev_self", "prev_review", "reason", "reviewer", "cur_self",
                    "self_changed"]


def proposals(con: duckdb.DuckDBPyConnection, unit: str, year: int) -> pd.DataFrame:
    """The adjustments of the last earlier version that has any, for indicators the current version
    has no review score for and that were not dropped on it.

    Columns: code, from_version, prev_self (the unit's self score then), prev_review (the reviewer's
    score then), reason, reviewer, cur_self (the unit's self score now; None when the new version has
    no such row), self_changed (cur_self differs from prev_self). Ordered by code."""
    rows = con.execute("""
        WITH cur AS (SELECT id, version FROM submissions WHERE unit = $u AND year = $y
                     ORDER BY version DESC LIMIT 1),
             src AS (SELECT s.id, s.version FROM submissions s JOIN review_scores r ON r.submission_id = s.id
                     WHERE s.unit = $u AND s.year = $y AND s.version < (SELECT version FROM cur)
                     ORDER BY s.version DESC LIMIT 1)
        SELECT r.code, (SELECT version FROM src), ps.score, r.score, coalesce(r.reason, ''),
               coalesce(r.reviewer, ''), cs.score
        FROM review_scores r
        LEFT JOIN self_scores ps ON ps.submission_id = r.submission_id AND ps.code = r.code
        LEFT JOIN self_scores cs ON cs.submission_id = (SELECT id FROM cur) AND cs.code = r.code
        WHERE r.submission_id = (SELECT id FROM src)
          AND NOT EXISTS (SELECT 1 FROM review_scores n WHERE n.submission_id = (SELECT id FROM cur) AND n.code = r.code)
          AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.action = $drop AND a.unit = $u AND a.year = $y
                          AND a.after = concat((SELECT id FROM cur)::VARCHAR, ':', r.code))
        ORDER BY r.code""", {"u": unit, "y": int(year), "drop": DROP_ACTION}).fetchall()
    df = pd.DataFrame(rows, columns=PROPOSAL_COLUMNS[:-1])
    df["self_changed"] = [c is None or p is None or c != p for p, c in zip(df["prev_self"], df["cur_self"])]
    return df


def drop_proposal(con: duckdb.DuckDBPyConnection, unit: str, year: int, code: str, actor, *, seen) -> bool:
    """Record that the reviewer does not carry ``code``'s earlier adjustment over to the current
    version. False when there is no such proposal (already decided). ``actor`` is checked like
    every review write (reviewers and administrators); ``seen`` is what the reviewer saw
    (:func:`data.review.snapshot`), refused with :class:`data.review.StaleReview` when out of date."""
    from data.review import check_seen

    who = require_actor(con, actor, REVIEWERS, what="不沿用上一版的审核调整")
    actor = who.name
    with transaction(con):
        check_seen(con, unit, year, seen)
        p = proposals(con, unit, year)
        hit = p[p["code"] == code]
        if hit.empty:
            return False
        r = hit.iloc[0]
        sub_id = con.execute("SELECT id FROM submissions WHERE unit = ? AND year = ? ORDER BY version DESC LIMIT 1",
                             [unit, int(year)]).fetchone()[0]
        bump_revision(con, unit, year)
        audit(con, DROP_ACTION, actor=actor, unit=unit, year=int(year),
              detail=f"{code}：第{int(r['from_version'])}版的审核分 {r['prev_review']}（{r['reason']}）不沿用",
              before=str(r["prev_review"]), after=f"{sub_id}:{code}")
    return True
