"""User accounts: names, passwords, sign-in with throttling, and their audit.

* **Names** are NFKC-normalised and may contain letters (any script, CJK
  included), digits and ``_ . -`` only, 1–32 characters; no control, format
  or zero-width characters. Two names that differ only by case or by
  full-/half-width forms are the same name.
* **Passwords**: at least 8 characters, any length and any Unicode. Stored as
  ``sha256-bcrypt$`` + bcrypt of the base64 SHA-256 of the UTF-8 password, so
  the 72-byte limit of bcrypt never applies. Hashes of the first version (plain
  bcrypt) still verify and are upgraded at the account's next sign-in.
* **Sign-in** (:func:`login`) costs one bcrypt whether the name exists or not.
  5 failures for one typed name within 15 minutes lock that name for 15 minutes
  (also when it names no account, so locking reveals nothing); while locked even
  the right password is refused. An administrator can unlock
  (:func:`unlock_user`). Sign-in, failure, lockout, sign-out and password
  changes are written to the audit log.
* Resetting or changing a password, changing role or unit and disabling end
  every signed-in session of the account (:mod:`data.sessions`).

Every function that changes data takes the acting user ``actor`` and refuses
anyone but an administrator (or, for :func:`change_password`, the account
itself); see :mod:`data.access`.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
import unicodedata

import bcrypt
import duckdb

from core.errors import GongkaiError
from data.access import ADMINS, ROLES, SYSTEM, Actor, PermissionDenied, require_actor, resolve_actor
from data.sessions import revoke_user_sessions
from data.store import audit, recorded_at, transaction

__all__ = ["ROLES", "UserError", "LoginFailed", "AccountLocked", "normalize_name", "hash_password",
           "check_password", "create_user", "login", "sign_in", "authenticate", "logout", "set_active", "reset_password",
           "change_password", "set_role", "unlock_user", "list_users", "MIN_PASSWORD", "MAX_FAILURES",
           "FAILURE_WINDOW", "LOCK_TIME", "PermissionDenied", "SYSTEM", "Actor"]

MIN_PASSWORD = 8
MAX_NAME = 32
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCK_TIME = dt.timedelta(minutes=15)
BCRYPT_ROUNDS = 10
PREFIX = "sha256-bcrypt$"
_EXTRA_NAME_CHARS = set("_.-")


class UserError(GongkaiError, ValueError):
    """A user operation that cannot be done; the message is Chinese."""

    code = "user_invalid"


class LoginFailed(UserError):
    """Sign-in refused (wrong name or password, disabled account, or locked)."""


class AccountLocked(LoginFailed):
    """Too many failures: refused until ``until``."""

    def __init__(self, message: str, until: dt.datetime):
        super().__init__(message)
        self.until = until


# --------------------------------------------------------------------------- names

def normalize_name(name) -> str:
    """The account name as stored: NFKC, surrounding blanks dropped; a
    :class:`UserError` saying what is wrong otherwise."""
    if not isinstance(name, str):
        raise UserError("用户名不能为空")
    n = unicodedata.normalize("NFKC", name).strip()
    if not n:
        raise UserError("用户名不能为空")
    if len(n) > MAX_NAME:
        raise UserError(f"用户名最长 {MAX_NAME} 个字符，这个有 {len(n)} 个")
    for ch in n:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat == "Zs" or ch in "\u200b\u200c\u200d\u2060\ufeff":
            raise UserError("用户名不能含空格、换行、不可见或控制字符"
                            f"（第 {n.index(ch) + 1} 个字符 U+{ord(ch):04X}）")
        if not (cat in ("Lu", "Ll", "Lt", "Lo") or cat == "Nd" or ch in _EXTRA_NAME_CHARS):
            raise UserError(f"用户名只能使用汉字、字母、数字和 _ . - ，不能使用“{ch}”")
    return n


def _key(name: str) -> str:
    """The comparison key of a name (same account whatever the case or width)."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


def _find(con, name: str):
    """(name, role, unit, password_hash, active) of the account called ``name`` (normalised), or None."""
    key = _key(name)
    rows = con.execute("SELECT name, role, unit, password_hash, active FROM users WHERE lower(name) = ?",
                       [key.lower()]).fetchall()
    for r in rows:
        if _key(r[0]) == key:
            return r
    return None


# --------------------------------------------------------------------------- passwords

def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8", "surrogatepass")).digest())


def check_new_password(password) -> str:
    if not isinstance(password, str) or not password:
        raise UserError("密码不能为空")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 个字符（现在只有 {len(password)} 个）")
    return password


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    return PREFIX + bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches ``hashed`` (current or first-version format)."""
    try:
        if hashed.startswith(PREFIX):
            return bcrypt.checkpw(_prehash(password), hashed[len(PREFIX):].encode("ascii"))
        raw = password.encode("utf-8", "surrogatepass")
        if len(raw) > 72:  # a first-version hash can only have come from ≤ 72 bytes
            bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))  # same time as a real check
            return False
        return bcrypt.checkpw(raw, hashed.encode("ascii"))
    except (ValueError, TypeError):
        return False


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY[0]


# --------------------------------------------------------------------------- accounts (administrators)

def _check_role_unit(con, role: str, unit: str | None) -> str | None:
    if role not in ROLES:
        raise UserError(f"角色“{role}”无效，应为 {'、'.join(ROLES)} 之一")
    if role == "unit":
        if not unit or not con.execute("SELECT 1 FROM units WHERE name = ?", [unit]).fetchone():
            raise UserError(f"填报单位账号必须对应单位名录中的单位（“{unit or ''}”不在名录中）")
        return unit
    return None


def create_user(con: duckdb.DuckDBPyConnection, name: str, role: str, password: str, unit: str | None = None,
                demo: bool = False, *, actor) -> str:
    """Add an account; returns its (normalised) name. Administrators only."""
    who = require_actor(con, actor, ADMINS, what="新增账号")
    name = normalize_name(name)
    unit = _check_role_unit(con, role, unit)
    check_new_password(password)
    with transaction(con):
        if _find(con, name) is not None:
            raise UserError(f"用户“{name}”已存在（用户名不区分大小写和全角半角）")
        # a demo account's password is published on the login page, so a slow hash would protect nothing;
        # a fast one keeps the demo build and the login page's check of it quick
        con.execute("INSERT INTO users (name, role, unit, password_hash, active, demo, created_at) "
                    "VALUES (?,?,?,?,true,?, coalesce(?, now()))",
                    [name, role, unit, hash_password(password, rounds=4 if demo else BCRYPT_ROUNDS), demo,
                     recorded_at()])
        audit(con, "新增用户", actor=who.name, unit=unit, detail=f"{name}（{ROLES[role]}）")
    return name


def _existing(con, name: str):
    row = _find(con, name) if isinstance(name, str) and name.strip() else None
    if row is None:
        raise UserError(f"用户“{name}”不存在")
    return row


def set_active(con: duckdb.DuckDBPyConnection, name: str, active: bool, *, actor) -> None:
    """Enable or disable an account; disabling ends its sessions. Administrators only, never themselves."""
    who = require_actor(con, actor, ADMINS, what="启用或停用账号")
    row = _existing(con, name)
    if not active and row[0] == who.name:
        raise UserError("不能停用当前登录的账号")
    with transaction(con):
        con.execute("UPDATE users SET active = ? WHERE name = ?", [bool(active), row[0]])
        if not active:
            revoke_user_sessions(con, row[0], "账号已停用")
        audit(con, "启用用户" if active else "停用用户", actor=who.name, unit=row[2], detail=row[0])


def reset_password(con: duckdb.DuckDBPyConnection, name: str, password: str, *, actor) -> None:
    """An administrator sets a new password; the account's sessions end and a lock is lifted."""
    who = require_actor(con, actor, ADMINS, what="重置密码")
    row = _existing(con, name)
    check_new_password(password)
    with transaction(con):
        con.execute("UPDATE users SET password_hash = ? WHERE name = ?", [hash_password(password), row[0]])
        con.execute("DELETE FROM login_throttle WHERE name = ?", [_key(row[0])])
        revoke_user_sessions(con, row[0], "密码已被重置")
        audit(con, "重置密码", actor=who.name, unit=row[2], detail=row[0])


def set_role(con: duckdb.DuckDBPyConnection, name: str, role: str, unit: str | None = None, *, actor) -> bool:
    """Change an account's role and unit; its sessions end. False when nothing changed."""
    who = require_actor(con, actor, ADMINS, what="修改账号角色或单位")
    row = _existing(con, name)
    unit = _check_role_unit(con, role, unit)
    if row[1] == role and row[2] == unit:
        return False
    if row[0] == who.name and role != "admin":
        raise UserError("不能取消当前登录账号自己的管理员角色")
    with transaction(con):
        con.execute("UPDATE users SET role = ?, unit = ? WHERE name = ?", [role, unit, row[0]])
        revoke_user_sessions(con, row[0], "角色或单位已变更")
        audit(con, "修改角色", actor=who.name, unit=unit or row[2], detail=row[0],
              before=f"{ROLES.get(row[1], row[1])} {row[2] or ''}".strip(), after=f"{ROLES[role]} {unit or ''}".strip())
    return True


def unlock_user(con: duckdb.DuckDBPyConnection, name: str, *, actor) -> bool:
    """Lift the sign-in lock of ``name`` (also a name with no account). False when it was not locked."""
    who = require_actor(con, actor, ADMINS, what="解锁账号")
    key = _key(name or "")
    with transaction(con):
        n = con.execute("DELETE FROM login_throttle WHERE name = ? RETURNING name", [key]).fetchall()
        if n:
            row = _find(con, name)
            audit(con, "解锁账号", actor=who.name, unit=row[2] if row else None, detail=row[0] if row else key)
    return bool(n)


def list_users(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None):
    """Accounts with ``locked_until`` (None unless locked now)."""
    now = now or dt.datetime.now()
    df = con.execute("SELECT name, role, unit, active, demo, created_at FROM users ORDER BY role, name").df()
    locks = dict(con.execute("SELECT name, locked_until FROM login_throttle WHERE locked_until > ?", [now]).fetchall())
    df["locked_until"] = [locks.get(_key(n)) for n in df["name"]]
    return df


def locked_names(con: duckdb.DuckDBPyConnection, now: dt.datetime | None = None) -> list[tuple[str, dt.datetime]]:
    """(typed name, locked until) of every name locked now, accounts or not."""
    now = now or dt.datetime.now()
    return [(n, u) for n, u in con.execute(
        "SELECT name, locked_until FROM login_throttle WHERE locked_until > ? ORDER BY name", [now]).fetchall()]


# --------------------------------------------------------------------------- the account itself

def change_password(con: duckdb.DuckDBPyConnection, name: str, old: str, new: str, *, actor,
                    keep_session: str | None = None) -> None:
    """The signed-in user changes their own password: ``old`` must match, ``new``
    follows the password rule. Every other session of the account ends
    (``keep_session``, the one in use, stays)."""
    who = resolve_actor(con, actor)
    row = _existing(con, name)
    if who.role == "system" or who.name != row[0]:
        raise PermissionDenied(f"{who.label}只能修改自己的密码；其他账号的密码由管理员“重置密码”")
    if not check_password(old or "", row[3]):
        with transaction(con):
            audit(con, "修改密码失败", actor=row[0], unit=row[2], detail="原密码不正确")
        raise UserError("原密码不正确，密码未修改")
    check_new_password(new)
    if new == old:
        raise UserError("新密码不能与原密码相同")
    with transaction(con):
        con.execute("UPDATE users SET password_hash = ? WHERE name = ?", [hash_password(new), row[0]])
        revoke_user_sessions(con, row[0], "密码已修改", keep=keep_session)
        audit(con, "修改密码", actor=row[0], unit=row[2], detail=row[0])


# --------------------------------------------------------------------------- sign-in

def _when(t: dt.datetime, now: dt.datetime) -> str:
    return t.strftime("%H:%M") if t.date() == now.date() else t.strftime("%Y-%m-%d %H:%M")


def locked_message(until: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, -(-int((until - now).total_seconds()) // 60))
    return (f"密码连续输错 {MAX_FAILURES} 次，该账号已被锁定。请于 {_when(until, now)} 后再试（约 {minutes} 分钟后），"
            "或联系管理员解锁。")


def login(con: duckdb.DuckDBPyConnection, name: str, password: str, *, now: dt.datetime | None = None) -> dict:
    """The account ``{"name", "role", "unit"}`` when ``name`` and ``password``
    match an enabled, unlocked account; otherwise :class:`LoginFailed` (or
    :class:`AccountLocked`) with the Chinese message to show. Audited either way."""
    now = now or dt.datetime.now()
    typed = unicodedata.normalize("NFKC", name if isinstance(name, str) else "").strip()
    key = typed.casefold()[:64]
    try:
        row = _find(con, normalize_name(typed))
    except UserError:
        row = None
    label = (row[0] if row else typed[:64]) or "（空）"
    unit = row[2] if row else None
    password = password if isinstance(password, str) else ""
    lock = con.execute("SELECT failures, first_failure, locked_until FROM login_throttle WHERE name = ?",
                       [key]).fetchone()
    if lock and lock[2] is not None and now < lock[2]:
        check_password(password, _dummy_hash())  # the same time as any other attempt
        with transaction(con):
            audit(con, "登录失败", actor=label, unit=unit, detail=f"账号锁定中（至 {lock[2]:%Y-%m-%d %H:%M}）")
        raise AccountLocked(locked_message(lock[2], now), lock[2])
    ok = check_password(password, row[3] if row else _dummy_hash())
    if ok and row[4]:
        with transaction(con):
            con.execute("DELETE FROM login_throttle WHERE name = ?", [key])
            if not row[3].startswith(PREFIX):  # first-version hash: upgrade now that the password is known
                con.execute("UPDATE users SET password_hash = ? WHERE name = ?", [hash_password(password), row[0]])
            audit(con, "登录", actor=row[0], unit=unit)
        return {"name": row[0], "role": row[1], "unit": row[2]}
    # a failure: count it for the typed name, known or not
    if lock is None or lock[2] is not None or now - lock[1] > FAILURE_WINDOW:
        failures, first = 1, now
    else:
        failures, first = int(lock[0]) + 1, lock[1]
    until = now + LOCK_TIME if failures >= MAX_FAILURES else None
    with transaction(con):
        con.execute("""INSERT INTO login_throttle (name, failures, first_failure, locked_until) VALUES (?,?,?,?)
                       ON CONFLICT (name) DO UPDATE SET failures = excluded.failures,
                       first_failure = excluded.first_failure, locked_until = excluded.locked_until""",
                    [key, failures, first, until])
        why = "账号已停用" if ok else "用户名或密码错误"
        audit(con, "登录失败", actor=label, unit=unit, detail=f"{why}（15 分钟内第 {failures} 次）")
        if until is not None:
            audit(con, "账号锁定", actor=label, unit=unit,
                  detail=f"15 分钟内连续 {failures} 次登录失败，锁定至 {until:%Y-%m-%d %H:%M}")
    if until is not None:
        raise AccountLocked(locked_message(until, now), until)
    left = MAX_FAILURES - failures
    raise LoginFailed("用户名或密码错误，或账号已停用。"
                      + (f"再输错 {left} 次，该账号将被锁定 {int(LOCK_TIME.total_seconds() // 60)} 分钟。"
                         if left <= 2 else ""))


def authenticate(con: duckdb.DuckDBPyConnection, name: str, password: str, *, now: dt.datetime | None = None) -> dict | None:
    """:func:`login`, with None instead of an exception when refused."""
    try:
        return login(con, name, password, now=now)
    except LoginFailed:
        return None


def sign_in(con: duckdb.DuckDBPyConnection, name: str, password: str, *,
            now: dt.datetime | None = None) -> tuple[dict, str, str]:
    """:func:`login`, then a new session: (account, session id, token for the browser's cookie)."""
    from data.sessions import start_session

    from data.sessions import purge_old_sessions

    user = login(con, name, password, now=now)
    with transaction(con):
        purge_old_sessions(con, now=now)
        con.execute("DELETE FROM login_throttle WHERE locked_until IS NULL AND first_failure < ?",
                    [(now or dt.datetime.now()) - FAILURE_WINDOW])
        sid, token = start_session(con, user["name"], now=now)
    return user, sid, token


def logout(con: duckdb.DuckDBPyConnection, session_id: str | None, name: str | None) -> None:
    """End a session (the 退出登录 button) and log it."""
    from data.sessions import end_session

    with transaction(con):
        end_session(con, session_id, "退出登录")
        if name:
            row = con.execute("SELECT unit FROM users WHERE name = ?", [name]).fetchone()
            audit(con, "退出登录", actor=name, unit=row[0] if row else None)
