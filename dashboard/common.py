"""Shared pieces of the Streamlit UI: the one database (connection manager), the
signed-in user, the year chosen in the sidebar, cache invalidation after writes.

Pages stay thin: they read inputs, call one function of ``data`` or
``metrics`` through here, and show the result. Session keys are prefixed by
page (``upload_…``, ``review_…``, ``batch_…``, ``admin_…``, ``overview_…``);
the shared ones are ``auth_user`` (``{"name", "role", "unit"}``), ``auth_sid``
(its row of ``sessions``), ``auth_token`` (the signed token the browser keeps in
its cookie), ``year`` and ``review_unit`` (the unit the 审核队列 hands to 单位审核).

Staying signed in: at sign-in the page writes the token into the cookie
``gongkai_session`` (a one-line script, see :func:`cookie_script`); a reload or
a new tab starts a new Streamlit session, which finds the cookie in the
request (``st.context.cookies``) and resumes the session if
:func:`data.sessions.resume` still accepts it. Every run checks the session
again (:func:`data.sessions.check_session`), so sign-out, a password change or
reset, a role or unit change, disabling and the idle or absolute limit end it
in every tab.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager

import duckdb
import streamlit as st

from core.scheme import years as scheme_years
from core.vocab import ROLE_LABEL, Role
from data.db import is_file_failure
from data.store import DatabaseBusy, DatabaseProblem, db_path, describe_failure
from data.store import manager as store_manager
from data import sessions
from data.users import logout

REVIEW_ROLES = (Role.REVIEWER, Role.ADMIN)
ANALYTICS_ROLES = (Role.REVIEWER, Role.LEADER, Role.ADMIN)
UPLOAD_ROLES = (Role.UNIT, Role.REVIEWER, Role.ADMIN)


def _close(manager) -> None:
    try:
        manager.close()
    except Exception:  # pragma: no cover - already closed
        pass


@st.cache_resource(show_spinner=False, on_release=_close)
def _database(path: str):
    """The one cached database resource of this server process: the connection
    manager of the file (:class:`data.db.Database`).  It holds no connection
    between actions: the file is opened for a page run and released when the
    run ends, so the command line and a second server can use it too."""
    return store_manager(path)


def get_database(path: str | None = None):
    """The connection manager of ``path``, else ``GONGKAI_DB``, else the project's default database."""
    return _database(str(db_path(path or os.environ.get("GONGKAI_DB") or None)))


def show_database_problem(e: BaseException) -> None:
    """A message page instead of a traceback: the file is busy, gone, replaced, foreign or damaged."""
    if isinstance(e, DatabaseBusy):
        st.warning(f"{e}\n\n请稍候片刻后刷新页面。", icon=":material/hourglass_top:")
    elif isinstance(e, DatabaseProblem):
        st.error(str(e), icon=":material/error:")
    else:
        st.error(describe_failure(e), icon=":material/error:")
    st.stop()


def db():
    """A cursor for this script run.  The database file is opened at the first
    call of a run (or reused while another run has it open) and released when
    the run ends; busy, missing or unusable files stop the page with a message.
    Take one per script run (``con = db()``) and pass it down."""
    try:
        return get_database().thread_cursor()
    except DatabaseProblem as e:
        show_database_problem(e)


def end_run() -> None:
    """Release this run's hold on the file now (also done automatically when the run's thread ends)."""
    get_database().release_thread()


def run_page(page) -> None:
    """Run the navigation's page; a database failure met while reading becomes a message page."""
    try:
        page.run()
    except (DatabaseProblem, duckdb.Error) as e:
        if not is_file_failure(e):
            raise  # a mistake in a query, not the file: keep the traceback for the developers
        show_database_problem(e)


def close_connections() -> None:
    """Close the database and clear every cache (tests, database switch)."""
    _database.clear()
    st.cache_data.clear()
    _SEEN[0] = None


@contextmanager
def db_lock():
    """Bracket a write: one writer at a time in this server, the file checked to
    still be the one the page read (not deleted or replaced meanwhile), and the
    change checkpointed into the file before the page may report success.
    Otherwise the page stops with a message and nothing is reported saved."""
    try:
        with get_database().writing():
            yield
    except DatabaseProblem as e:
        show_database_problem(e)


# --------------------------------------------------------------------------- signed-in user

def current_user() -> dict | None:
    u = st.session_state.get("auth_user")
    return u if isinstance(u, dict) and u.get("name") and u.get("role") in ROLE_LABEL else None


def cookie_token() -> str | None:
    """The session token the browser sent with this page (None without one)."""
    try:
        return st.context.cookies.get(sessions.COOKIE_NAME)
    except Exception:  # pragma: no cover - no request (bare mode)
        return None


def refresh_user(con) -> dict | None:
    """The signed-in user as the database has it now (role and unit come from
    the ``users`` table, never from the session), or None.

    A Streamlit session without a signed-in user (a reload, a new tab) resumes
    from the browser's cookie when the token is still good. A session whose
    sign-in has ended (signed out elsewhere, password changed or reset, role or
    unit changed, account disabled, idle or too old) is signed out here with a
    notice saying why."""
    sid = st.session_state.get("auth_sid")
    if not sid or current_user() is None:
        for k in ("auth_user", "auth_sid", "auth_token"):
            st.session_state.pop(k, None)
        token = cookie_token()
        if token and not st.session_state.get("auth_signed_out"):
            user, sid = sessions.resume(con, token)
            if user is not None:
                st.session_state.update(auth_user=user, auth_sid=sid, auth_token=token)
                return user
        return None
    user, why = sessions.check_session(con, sid)
    if user is None:
        _clear_session()
        st.session_state["auth_signed_out"] = True
        st.session_state["login_notice"] = why or "请重新登录"
        return None
    if user != st.session_state.get("auth_user"):
        st.session_state["auth_user"] = user
    return user


def sign_in(user: dict, sid: str, token: str) -> None:
    """Start the signed-in state of this Streamlit session (the browser's cookie follows)."""
    for k in list(st.session_state.keys()):
        if k != "year":
            del st.session_state[k]
    st.session_state["auth_user"] = {"name": user["name"], "role": user["role"], "unit": user.get("unit")}
    st.session_state["auth_sid"] = sid
    st.session_state["auth_token"] = token


def _clear_session() -> None:
    for k in list(st.session_state.keys()):
        del st.session_state[k]


def sign_out(con=None) -> None:
    """End the sign-in: the session row is revoked (every tab of it signs out) and the cookie cleared."""
    user, sid = current_user(), st.session_state.get("auth_sid")
    if con is not None and sid:
        logout(con, sid, user["name"] if user else None)
    _clear_session()
    st.session_state["auth_signed_out"] = True  # the request's cookie is stale now: do not resume from it


_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+\.[0-9]+\.[A-Za-z0-9_\-]+$")


def cookie_script(token: str | None) -> str:
    """A script that stores ``token`` in the session cookie (or deletes the cookie when None).

    The cookie is written by the page's own script, so it cannot be HttpOnly;
    it is ``SameSite=Strict`` (never sent with another site's request),
    ``Secure`` when the page is served over https, ``Path=/``, and lives at
    most the absolute session limit. The token alone is worth nothing once its
    session has ended (see :mod:`data.sessions`)."""
    if token and _TOKEN.match(token):
        age = int(sessions.absolute_limit().total_seconds())
        value, tail = token, f"; Max-Age={age}"
    else:
        value, tail = "", "; Max-Age=0"
    return ("<script>(function(){var s=location.protocol==='https:'?'; Secure':'';"
            f"document.cookie='{sessions.COOKIE_NAME}={value}; Path=/{tail}; SameSite=Strict'+s;}})();</script>")


def sync_cookie() -> None:
    """Write the signed-in session's token into the browser's cookie, or delete a stale one."""
    token = st.session_state.get("auth_token") if current_user() else None
    if token:
        st.html(cookie_script(token), unsafe_allow_javascript=True)
    elif cookie_token() or st.session_state.get("auth_signed_out"):
        st.html(cookie_script(None), unsafe_allow_javascript=True)


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
_SEEN: list = [None]  # the file's version when the caches were last valid


def data_version() -> int:
    """A counter bumped after every write — the app's own (:func:`bump_data_version`)
    or anybody else's (the command line, another server: the file changed) — so
    cached queries are refreshed."""
    token = get_database().version()
    if token != _SEEN[0]:
        if _SEEN[0] is not None:
            _VERSION[0] += 1
            st.cache_data.clear()
        _SEEN[0] = token
    return _VERSION[0]


def bump_data_version() -> None:
    _VERSION[0] += 1
    st.cache_data.clear()
    _SEEN[0] = get_database().version()


# --------------------------------------------------------------------------- one-shot messages

def flash(key: str, message: str, kind: str = "success") -> None:
    """Show ``message`` once on the next run of the page (after ``st.rerun``)."""
    st.session_state.setdefault(key, []).append((kind, message))


def after_write(flash_key: str | None = None, message: str | None = None, kind: str = "success") -> None:
    """After a successful write: refresh every cached figure, keep ``message``
    for the next run of the page (under ``flash_key``) and rerun the page."""
    if flash_key is not None and message:
        flash(flash_key, message, kind)
    bump_data_version()
    st.rerun()


def show_flash(key: str) -> None:
    for kind, message in st.session_state.pop(key, []):
        getattr(st, kind, st.info)(message)


# --------------------------------------------------------------------------- users' text and 待办

def md_escape(text) -> str:
    """Users' text shown inside a Markdown element (see :func:`dashboard.text.md`)."""
    from dashboard.text import md

    return md(text)


def show_todo(con, user: dict, *, key: str) -> None:
    """The signed-in user's 待办 (units, reviewers, administrators) as a panel at the top of a landing page."""
    from metrics.closing import todo

    if user is None or user.get("role") not in ("unit", "reviewer", "admin"):
        return
    try:
        items = todo(con, user)
    except Exception as e:  # pragma: no cover - the panel must never break the page
        st.caption(f"待办事项暂时无法显示：{e}")
        return
    with st.container(border=True, key=f"{key}_todo"):
        if not items:
            st.markdown("**待办事项**　暂无待办。")
            return
        st.markdown(f"**待办事项（{len(items)}）**")
        mark = {"error": "【紧急】", "warning": "【提醒】", "info": "【提示】"}
        for it in items[:12]:
            st.markdown(f"{mark.get(it['level'], '')}{md_escape(it['text'])}")
        if len(items) > 12:
            st.caption(f"另有 {len(items) - 12} 项未列出。")
