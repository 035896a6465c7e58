"""The columns of a unit's scorecard row, declared once.

:func:`metrics.engine.score_year` returns :data:`SCORECARD_COLUMNS`, one
column per indicator code, then :data:`EXTRA_COLUMNS` and
:data:`COUNT_COLUMNS`; a stored snapshot (``data.closing``) keeps one row per
unit with :data:`SNAPSHOT_UNIT_COLUMNS` (the indicator points are stored
apart, one row per unit and code).
"""
from __future__ import annotations

SCORECARD_COLUMNS = [
    "unit", "unit_type", "year", "status", "total", "grade", "rank", "self_total",
    "proactive_counted", "proactive_on_time", "proactive_pending", "proactive_rate",
    "requests_counted", "requests_on_time", "request_rate",
    "required_categories", "covered_categories", "coverage_rate", "missing_categories",
]
EXTRA_COLUMNS = ["max_total", "score_rate", "provisional", "provisional_reason", "k1_count", "k2_veto",
                 "late_submission", "received", "submission_id", "version"]
#: the diagnostic request counts after the extra columns
COUNT_COLUMNS = ["requests_pending", "requests_corrected"]
#: a snapshot's unit row: the scorecard without the indicator points, the K1
#: deduction as applied (定稿: after appeals) and the hash of the workbook scored
SNAPSHOT_UNIT_COLUMNS = SCORECARD_COLUMNS + EXTRA_COLUMNS + ["k1_points", "sha256"] + COUNT_COLUMNS
