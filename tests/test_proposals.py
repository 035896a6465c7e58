"""data/proposals.py: a reviewer's adjustments offered again on the unit's new version."""
from __future__ import annotations

from decimal import Decimal

import pytest

from data import review as rv
from data.ingest import ingest_bytes
from data.proposals import DROP_ACTION, drop_proposal, proposals
from tests.test_review import REV, UNIT, _wb
from tests.test_review import reviewer  # noqa: F401 - the reviewer's account (autouse fixture)

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL


def _adjust(con, sub_id, changes):
    # through the review write the page uses (its signature may carry more keywords)
    import inspect

    kw = {}
    if "seen" in inspect.signature(rv.apply_review_scores).parameters:  # pragma: no cover - depends on branch
        kw["seen"] = rv.snapshot(con, UNIT, 2019)
    return rv.apply_review_scores(con, sub_id, changes, REV, **kw)


def test_adjustments_of_the_returned_version_are_proposed_on_the_new_one(con, received):
    v1 = ingest_bytes(con, "v1.xlsx", _wb(overrides={"B1": 3}), received=received).submission_id
    assert proposals(con, UNIT, 2019).empty            # a first version has nothing to carry over
    _adjust(con, v1, [{"code": "B1", "score": "2", "reason": "征求意见材料不全"},
                      {"code": "A1", "score": "1", "reason": "分工不明确"}])
    v2 = ingest_bytes(con, "v2.xlsx", _wb(overrides={"B1": 4}, reporter="李四"), received=received).submission_id
    assert v2 != v1
    p = proposals(con, UNIT, 2019).set_index("code")
    assert list(p.index) == ["A1", "B1"]
    assert (p.loc["B1", "from_version"], p.loc["B1", "prev_self"], p.loc["B1", "prev_review"],
            p.loc["B1", "cur_self"]) == (1, Decimal("3.00"), Decimal("2.00"), Decimal("4.00"))
    assert p.loc["B1", "reason"] == "征求意见材料不全" and p.loc["B1", "reviewer"] == REV
    assert bool(p.loc["B1", "self_changed"]) and not bool(p.loc["A1", "self_changed"])   # A1 self 2 → 2
    # accepted (written on v2 with its reason): no longer proposed
    _adjust(con, v2, [{"code": "A1", "score": "1", "reason": "分工不明确"}])
    assert list(proposals(con, UNIT, 2019)["code"]) == ["B1"]
    # dropped: recorded in the audit log, not proposed again; dropping twice changes nothing
    assert drop_proposal(con, UNIT, 2019, "B1", REV, seen=rv.snapshot(con, UNIT, 2019)) is True
    assert proposals(con, UNIT, 2019).empty
    assert drop_proposal(con, UNIT, 2019, "B1", REV, seen=rv.snapshot(con, UNIT, 2019)) is False
    assert con.execute("SELECT count(*) FROM audit WHERE action = ?", [DROP_ACTION]).fetchone()[0] == 1
    # the original adjustments stay on v1
    assert con.execute("SELECT count(*) FROM review_scores WHERE submission_id = ?", [v1]).fetchone()[0] == 2


def test_proposals_come_from_the_last_reviewed_version_only(con, received):
    v1 = ingest_bytes(con, "v1.xlsx", _wb(overrides={"B1": 3}), received=received).submission_id
    _adjust(con, v1, [{"code": "B1", "score": "2", "reason": "旧理由"}])
    v2 = ingest_bytes(con, "v2.xlsx", _wb(reporter="李四"), received=received).submission_id
    _adjust(con, v2, [{"code": "A2", "score": "1", "reason": "新理由"}])   # B1 not carried: a decision
    ingest_bytes(con, "v3.xlsx", _wb(reporter="王五"), received=received)
    p = proposals(con, UNIT, 2019)
    assert list(p["code"]) == ["A2"] and int(p["from_version"].iloc[0]) == 2
