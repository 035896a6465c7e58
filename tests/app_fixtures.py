"""A small database for the dashboard tests (AppTest and the browser test):
the five-unit registry of ``conftest.REGISTRY_TEXT``, one account per role,
unit accounts for three units, and two accepted 2019 workbooks."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.access import SYSTEM
from data.ingest import ingest_bytes
from data.registry import load_units, parse_registry
from data.store import connect
from data.users import create_user
from tests import wbfactory as wf
from tests.conftest import REGISTRY_TEXT

AUDIT = wf.UNIT            # 方正县审计局 — has a submission
TOWN = wf.TOWN             # 方正镇 — has a submission
CIVIL = "方正县民政局"      # no submission yet: the full-cycle unit
ECO = "方正县生态环境局"
OTHER_UNITS = ("方正镇", "会发镇", "方正县民政局", "方正县生态环境局")  # everything but 审计局
TOWN_SECRET = "方正镇内部专项工作信息"  # a ledger title only 方正镇 has

#: name → (password, role, unit)
ACCOUNTS = {
    "admin": ("admin123", "admin", None),
    "shenhe": ("shenhe123", "reviewer", None),
    "lingdao": ("lingdao123", "leader", None),
    "shenji": ("shenji123", "unit", AUDIT),
    "minzheng": ("minzheng123", "unit", CIVIL),
    "fangzheng": ("fangzheng123", "unit", TOWN),
}
RECEIVED = dt.date(2020, 1, 8)
APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def user(name: str) -> dict:
    _, role, unit = ACCOUNTS[name]
    return {"name": name, "role": role, "unit": unit}


def signed_in(name: str, path: str | Path | None = None, **override) -> dict:
    """The session-state keys of a Streamlit session signed in as ``name``: a
    real session row in the database (``path``, else ``GONGKAI_DB``) and its token.
    ``override`` replaces keys (e.g. a forged ``auth_user``)."""
    import os

    from data.sessions import start_session

    con = connect(path or os.environ["GONGKAI_DB"])
    try:
        sid, token = start_session(con, name)
    finally:
        con.close()
    return {"auth_user": user(name) if name in ACCOUNTS else {"name": name, "role": "leader", "unit": None},
            "auth_sid": sid, "auth_token": token, **override}


def new_app(user: str | dict | None = None, *, year: int = 2019, path: str | Path | None = None,
            timeout: float = 60, **state) -> AppTest:
    """The router (dashboard/app.py) before its first run, signed in as ``user``
    through a real session (in ``path``, else ``GONGKAI_DB``): an account name,
    or a user dict (kept as the session's user as given); ``year`` and ``state``
    set in the session."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if user:
        keys = (signed_in(user["name"], path, auth_user=dict(user)) if isinstance(user, dict)
                else signed_in(user, path))
        for k, v in keys.items():
            at.session_state[k] = v
    at.session_state["year"] = year
    for k, v in state.items():
        at.session_state[k] = v
    return at


def show(at: AppTest, page: str) -> AppTest:
    """Run the router, switch to ``app_pages/<page>.py``, run it; no exception allowed."""
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str, user: str | dict | None = None, *, year: int = 2019, path: str | Path | None = None,
              timeout: float = 60, **state) -> AppTest:
    """``page`` shown to ``user`` (see :func:`new_app`)."""
    return show(new_app(user, year=year, path=path, timeout=timeout, **state), page)


def workbook(unit: str = AUDIT, unit_type: str = "部门", *, overrides: dict | None = None,
             reporter: str = "张三", ledger: list[list] | None = None, fmt: str = "xlsx") -> bytes:
    sheets = wf.valid_sheets(unit=unit, unit_type=unit_type, reporter=reporter)
    if overrides:
        sheets["自评打分"] = wf.scores_sheet(2019, overrides)
    if ledger is not None:
        sheets["主动公开台账"] = wf.ledger_sheet(ledger)
    return wf.build(sheets, fmt)


def bad_workbook() -> bytes:
    """A workbook with two errors: a score above the max and an unknown category."""
    sheets = wf.valid_sheets(unit=AUDIT)
    sheets["自评打分"] = wf.scores_sheet(2019, {"A1": 9})
    sheets["主动公开台账"] = wf.ledger_sheet([[1, "某信息", "不存在的类别", "2019-03-01", "2019-03-05", "政府网站", ""]])
    return wf.build(sheets)


def prepare(path):
    con = connect(path)
    try:
        load_units(con, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
        for name, (pw, role, unit) in ACCOUNTS.items():
            create_user(con, name, role, pw, unit=unit, actor=SYSTEM)
        r1 = ingest_bytes(con, "审计局自评表.xlsx", workbook(), received=RECEIVED, actor="shenji")
        town_ledger = [[1, TOWN_SECRET, "机构职能", "2019-02-11", "2019-02-12", "政府网站", ""]]
        r2 = ingest_bytes(con, "方正镇自评表.xlsx", workbook(TOWN, "乡镇", ledger=town_ledger), received=RECEIVED,
                          actor="fangzheng")
        assert r1.outcome == r2.outcome == "accepted", (r1.report.rows(), r2.report.rows())
    finally:
        con.close()
    return path


@pytest.fixture
def app_db(db_target, monkeypatch):
    """A fresh small database (:func:`prepare`) as the app's ``GONGKAI_DB``: a DuckDB file, or a
    PostgreSQL database in a module marked ``both_backends``; connections closed around."""
    from dashboard.common import close_connections

    path = prepare(db_target)
    monkeypatch.setenv("GONGKAI_DB", str(path))
    close_connections()
    yield path
    close_connections()
