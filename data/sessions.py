"""Signed-in sessions that survive a page refresh and a new tab.

The browser keeps a token in a cookie; the token names a row of ``sessions``
and carries its absolute expiry, signed with HMAC-SHA256 under a key that is
generated on first use and kept in the database (table ``settings``), never in
the code. A token is accepted only when its signature is right, it has not
expired, its session has not been ended, the session was used within the idle
window and the account is still enabled.

Limits (environment variables, read at each check):

* ``GONGKAI_SESSION_IDLE_HOURS`` — idle window, default 8 hours;
* ``GONGKAI_SESSION_MAX_DAYS`` — absolute lifetime, default 7 days.

A session ends at sign-out, when the account's password is changed or reset,
its role or unit is changed, or it is disabled (:func:`revoke_user_sessions`).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets

import duckdb

from data.store import transaction

COOKIE_NAME = "gongkai_session"
KEY_SETTING = "session_signing_key"
#: how often the last-use time is written back (a write per page view would be wasteful)
TOUCH_EVERY = dt.timedelta(minutes=1)


def _env_float(name: str, default: float) -> float:
    try:
        v = float(os.environ.get(name, ""))
        return v if v > 0 else default
    except ValueError:
        return default


def idle_limit() -> dt.timedelta:
    return dt.timedelta(hours=_env_float("GONGKAI_SESSION_IDLE_HOURS", 8))


def absolute_limit() -> dt.timedelta:
    return dt.timedelta(days=_env_float("GONGKAI_SESSION_MAX_DAYS", 7))


def signing_key(con: duckdb.DuckDBPyConnection) -> bytes:
    """The database's session signing key, generated (random 256 bits) on first use."""
    row = con.execute("SELECT value FROM settings WHERE key = ?", [KEY_SETTING]).fetchone()
    if row is None:
        con.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                    [KEY_SETTING, secrets.token_hex(32)])
        row = con.execute("SELECT value FROM settings WHERE key = ?", [KEY_SETTING]).fetchone()
    return bytes.fromhex(row[0])


def _sign(key: bytes, body: str) -> str:
    mac = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")


def start_session(con: duckdb.DuckDBPyConnection, name: str, *, now: dt.datetime | None = None) -> tuple[str, str]:
    """A new session for account ``name``: (session id, signed token for the cookie)."""
    now = now or dt.datetime.now()
    sid = secrets.token_urlsafe(24)
    expires = int((now + absolute_limit()).timestamp())
    key = signing_key(con)
    con.execute("INSERT INTO sessions (id, name, created_at, last_seen) VALUES (?, ?, ?, ?)", [sid, name, now, now])
    body = f"{sid}.{expires}"
    return sid, f"{body}.{_sign(key, body)}"


def parse_token(con: duckdb.DuckDBPyConnection, token, *, now: dt.datetime | None = None) -> str | None:
    """The session id of a well-formed, correctly signed, unexpired token, else None."""
    if not isinstance(token, str) or len(token) > 200 or token.count(".") != 2:
        return None
    sid, expires, sig = token.split(".")
    if not expires.isdigit():
        return None
    if not hmac.compare_digest(_sign(signing_key(con), f"{sid}.{expires}"), sig):
        return None
    now = now or dt.datetime.now()
    if int(expires) <= now.timestamp():
        return None
    return sid


def check_session(con: duckdb.DuckDBPyConnection, sid: str | None, *,
                  now: dt.datetime | None = None) -> tuple[dict | None, str | None]:
    """(account ``{"name", "role", "unit"}``, None) while session ``sid`` is
    valid — its last use is recorded — else (None, the Chinese reason)."""
    if not sid:
        return None, None
    now = now or dt.datetime.now()
    row = con.execute("""SELECT s.created_at, s.last_seen, s.revoked_at, s.revoked_reason,
                                u.name, u.role, u.unit, u.active
                         FROM sessions s LEFT JOIN users u ON u.name = s.name WHERE s.id = ?""", [sid]).fetchone()
    if row is None:
        return None, "请重新登录"
    created, last, revoked, reason, name, role, unit, active = row
    if revoked is not None:
        return None, f"登录已失效（{reason or '已退出登录'}），请重新登录"
    why = None
    if name is None or not active:
        why = "账号已停用或不存在"
    elif now - created > absolute_limit():
        why = f"登录已超过 {absolute_limit().days} 天"
    elif now - last > idle_limit():
        why = f"超过 {idle_limit().total_seconds() / 3600:g} 小时未操作"
    if why:
        _quietly(con, "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
                 [now, why, sid])
        return None, f"登录已失效（{why}），请重新登录"
    if now - last > TOUCH_EVERY:
        _quietly(con, "UPDATE sessions SET last_seen = greatest(last_seen, ?) WHERE id = ?", [now, sid])
    return {"name": name, "role": role, "unit": unit}, None


def _quietly(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> None:
    """A bookkeeping write that another tab of the same session may be making at
    the same moment: a write-write conflict means the other one did it."""
    try:
        with transaction(con):
            con.execute(sql, params)
    except duckdb.TransactionException:
        pass


def resume(con: duckdb.DuckDBPyConnection, token, *, now: dt.datetime | None = None) -> tuple[dict | None, str | None]:
    """(account, session id) for a cookie token that is still good, else (None, None)."""
    sid = parse_token(con, token, now=now)
    if sid is None:
        return None, None
    user, _ = check_session(con, sid, now=now)
    return (user, sid) if user else (None, None)


def end_session(con: duckdb.DuckDBPyConnection, sid: str | None, reason: str, *, now: dt.datetime | None = None) -> None:
    if sid:
        con.execute("UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
                    [now or dt.datetime.now(), reason, sid])


def revoke_user_sessions(con: duckdb.DuckDBPyConnection, name: str, reason: str, *, keep: str | None = None) -> int:
    """End every session of account ``name`` (except ``keep``); call inside the change's transaction."""
    return len(con.execute("""UPDATE sessions SET revoked_at = ?, revoked_reason = ?
                              WHERE name = ? AND revoked_at IS NULL AND id IS DISTINCT FROM ? RETURNING id""",
                           [dt.datetime.now(), reason, name, keep]).fetchall())


def purge_old_sessions(con: duckdb.DuckDBPyConnection, *, now: dt.datetime | None = None) -> int:
    """Delete session rows that can no longer be used (older than the absolute limit)."""
    now = now or dt.datetime.now()
    return len(con.execute("DELETE FROM sessions WHERE created_at < ? RETURNING id",
                           [now - absolute_limit() - dt.timedelta(days=1)]).fetchall())
