"""Shared pieces of the Streamlit UI: the one database connection, the
signed-in user, the year chosen in the sidebar, cache invalidation after writes.

Pages stay thin: they read inputs, call one function of ``data`` or
``metrics`` through here, and show the result. Session keys are prefixed by
page (``upload_…``, ``review_…``, ``batch_…``, ``admin_…``, ``overview_…``);
the shared ones are ``auth_user`` (``{"name", "role", "unit"}``), ``year``
and ``review_unit`` (the unit the 审核队列 hands to 单位审核).
"""
from __future__ import annotations

import os
import threading

import streamlit as st


from data.store import connect, db_path
from core.scheme import years as scheme_years
from core.vocab import ROLE_LABEL, Role

REVIEW_ROLES = (Role.REVIEWER, Role.ADMIN)
ANALYTICS_ROLES = (Role.REVIEWER, Role.LEADER, Role.ADMIN)
UPLOAD_ROLES = (Role.UNIT, Role.REVIEWER, Role.ADMIN)
_LOCK = threading.RLock()


def _close(con) -> None:
    try:
        con.close()
    except Exception:  # pragma: no cover - already closed
        pass


@st.cache_resource(show_spinner=False, on_release=_close)
def _connection(path: str):
    con = connect(path)
    try:  # fill the working-day calendar once per server process (cheap when already done)
        from metrics.calendar import ensure_calendar
    except ImportError:  # pragma: no cover
        pass
    else:
        ensure_calendar(con)
    return con


def get_connection(path: str | None = None):
    """The one DuckDB connection of this server process (embedded file):
    ``path``, else ``GONGKAI_DB``, else the project's default database."""
    return _connection(str(db_path(path or os.environ.get("GONGKAI_DB") or None)))


def db():
    """A cursor on the shared connection (DuckDB cursors are safe per thread).
    Take one per script run (``con = db()``) and pass it down."""
    return get_connection().cursor()


def close_connections() -> None:
    """Close the cached connection(s) and clear every cache (tests, database switch)."""
    _connection.clear()
    st.cache_data.clear()


def db_lock() -> threading.RLock:
    """Serialise writes from concurrent sessions of this server."""
    return _LOCK


# --------------------------------------------------------------------------- signed-in user

def current_user() -> dict | None:
    u = st.session_state.get("auth_user")
    return u if isinstance(u, dict) and u.get("name") and u.get("role") in ROLE_LABEL else None


def refresh_user(con) -> dict | None:
    """The signed-in user as the database has it now (role and unit come from
    the ``users`` table, never from the session); signs out a session whose
    account was disabled or does not exist."""
    u = current_user()
    if u is None:
        st.session_state.pop("auth_user", None)
        return None
    row = con.execute("SELECT name, role, unit, active FROM users WHERE name = ?", [u["name"]]).fetchone()
    if row is None or not row[3]:
        sign_out()
        st.session_state["login_notice"] = "账号已停用或不存在，请重新登录" if row is not None else "请重新登录"
        return None
    fresh = {"name": row[0], "role": row[1], "unit": row[2]}
    if fresh != u:
        st.session_state["auth_user"] = fresh
    return fresh


def sign_in(user: dict) -> None:
    for k in list(st.session_state.keys()):
        if k != "year":
            del st.session_state[k]
    st.session_state["auth_user"] = {"name": user["name"], "role": user["role"], "unit": user.get("unit")}


def sign_out() -> None:
    for k in list(st.session_state.keys()):
        del st.session_state[k]


def require_role(*roles: str) -> dict:
    """Stop the page unless the signed-in user has one of ``roles``."""
    user = current_user()
    if user is None or user["role"] not in roles:
        st.error("您没有访问此页面的权限。")
        st.stop()
    return user


def role_label(role: str | None) -> str:
    return ROLE_LABEL.get(role or "", role or "")


# --------------------------------------------------------------------------- year

def default_year(con=None) -> int:
    """The latest scheme year that has submissions, else the latest scheme year."""
    ys = scheme_years()
    if con is not None and ys:
        row = con.execute(f"SELECT max(year) FROM submissions WHERE year IN ({', '.join(str(int(y)) for y in ys)})").fetchone()
        if row and row[0] is not None:
            return int(row[0])
    return ys[-1]


def selected_year() -> int:
    ys = scheme_years()
    y = st.session_state.get("year")
    return y if y in ys else ys[-1]


# --------------------------------------------------------------------------- cache invalidation

_VERSION = [0]


def data_version() -> int:
    """A counter bumped after every write, so cached queries are refreshed."""
    return _VERSION[0]


def bump_data_version() -> None:
    _VERSION[0] += 1
    st.cache_data.clear()


# --------------------------------------------------------------------------- one-shot messages

def flash(key: str, message: str, kind: str = "success") -> None:
    """Show ``message`` once on the next run of the page (after ``st.rerun``)."""
    st.session_state.setdefault(key, []).append((kind, message))


def show_flash(key: str) -> None:
    for kind, message in st.session_state.pop(key, []):
        getattr(st, kind, st.info)(message)
