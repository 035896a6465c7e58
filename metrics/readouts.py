"""Read-outs of the review and upload screens that need scores: the review
queue and a unit's indicator sheet (the workflow itself is :mod:`data.review`)."""
from __future__ import annotations

import duckdb
import pandas as pd

from data.review import current_submission
from metrics.engine import indicator_points, score_year


def indicator_sheet(con: duckdb.DuckDBPyConnection, year: int, unit: str) -> pd.DataFrame:
    """Per indicator of the unit's current version: the engine's
    :func:`metrics.engine.indicator_points` columns plus ``evidence`` (list of
    strings as the unit wrote them) and ``review_by`` (the account that set the
    reviewer's score and reason). Empty when the unit has not submitted."""
    df = indicator_points(con, int(year), unit=unit)
    sub = current_submission(con, unit, year)
    ev, by = {}, {}
    if sub is not None:
        ev = {str(c).upper(): list(e or []) for c, e in con.execute(
            "SELECT code, evidence FROM self_scores WHERE submission_id = ?", [sub.id]).fetchall()}
        by = {str(c).upper(): r for c, r in con.execute(
            "SELECT code, reviewer FROM review_scores WHERE submission_id = ?", [sub.id]).fetchall()}
    df["evidence"] = pd.Series([ev.get(c, []) for c in df["code"]], dtype=object, index=df.index)
    df["review_by"] = pd.Series([by.get(c) for c in df["code"]], dtype=object, index=df.index)
    return df


QUEUE_COLUMNS = ["unit", "unit_type", "status", "late_submission", "versions", "received", "last_upload",
                 "self_total", "total", "grade", "k1_count", "k2_veto", "comment", "comment_by", "rejected_attempts"]


def review_queue(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """One row per registered unit for ``year`` (scorecard order): unit,
    unit_type, status (未报送/待审核/已退回/已审核), late_submission (first version
    received after the deadline), versions, received (first version),
    last_upload, self_total, total, grade, k1_count, k2_veto, comment (the
    reviewer's last comment), comment_by (the account that wrote it), rejected_attempts."""
    sc = score_year(con, int(year))
    extra = con.execute("""
        SELECT u.name AS unit,
               (SELECT count(*) FROM submissions s WHERE s.unit = u.name AND s.year = $y) AS versions,
               (SELECT max(uploaded_at) FROM submissions s WHERE s.unit = u.name AND s.year = $y) AS last_upload,
               (SELECT count(*) FROM rejections r WHERE r.unit = u.name AND r.year = $y) AS rejected_attempts,
               (SELECT comment FROM workflow w WHERE w.unit = u.name AND w.year = $y) AS comment,
               (SELECT comment_by FROM workflow w WHERE w.unit = u.name AND w.year = $y) AS comment_by
        FROM units u""", {"y": int(year)}).df()
    df = sc.merge(extra, on="unit", how="left")
    df["versions"] = df["versions"].fillna(0).astype(int)
    df["rejected_attempts"] = df["rejected_attempts"].fillna(0).astype(int)
    df["late_submission"] = df["late_submission"].map(lambda v: bool(v) if v is not None and v == v else False)
    df.attrs.update(sc.attrs)
    return df[QUEUE_COLUMNS].reset_index(drop=True)
