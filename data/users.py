"""User accounts: roles, bcrypt-hashed passwords, stored in DuckDB."""
from __future__ import annotations

import bcrypt
import duckdb

from core.vocab import ROLE_LABEL, Role
from data.store import audit, recorded_at, transaction


class UserError(ValueError):
    """A user operation that cannot be done; the message is Chinese."""


def hash_password(password: str, rounds: int = 10) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))
    except ValueError:
        return False


def create_user(con: duckdb.DuckDBPyConnection, name: str, role: str, password: str, unit: str | None = None,
                demo: bool = False, actor: str | None = None) -> None:
    name = (name or "").strip()
    if not name:
        raise UserError("用户名不能为空")
    if role not in ROLE_LABEL:
        raise UserError(f"角色“{role}”无效，应为 {'、'.join(ROLE_LABEL)} 之一")
    if len(password) < 6:
        raise UserError("密码至少 6 位")
    if role == Role.UNIT:
        if not unit or not con.execute("SELECT 1 FROM units WHERE name = ?", [unit]).fetchone():
            raise UserError(f"填报单位账号必须对应单位名录中的单位（“{unit or ''}”不在名录中）")
    else:
        unit = None
    if con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise UserError(f"用户“{name}”已存在")
    with transaction(con):
        # a demo account's password is published on the login page, so a slow hash would protect nothing;
        # a fast one keeps the demo build and the login page's check of it quick
        con.execute("INSERT INTO users (name, role, unit, password_hash, active, demo, created_at) "
                    "VALUES (?,?,?,?,true,?, coalesce(?, now()))",
                    [name, role, unit, hash_password(password, rounds=4 if demo else 10), demo, recorded_at()])
        audit(con, "新增用户", actor=actor, unit=unit, detail=f"{name}（{ROLE_LABEL[role]}）")


def authenticate(con: duckdb.DuckDBPyConnection, name: str, password: str) -> dict | None:
    """The user's record when the name and password match an active account, else None."""
    row = con.execute("SELECT name, role, unit, password_hash, active FROM users WHERE name = ?", [name]).fetchone()
    if row is None or not row[4] or not check_password(password, row[3]):
        return None
    return {"name": row[0], "role": row[1], "unit": row[2]}


def set_active(con: duckdb.DuckDBPyConnection, name: str, active: bool, actor: str | None = None) -> None:
    with transaction(con):
        n = con.execute("UPDATE users SET active = ? WHERE name = ? RETURNING name", [active, name]).fetchall()
        if not n:
            raise UserError(f"用户“{name}”不存在")
        audit(con, "启用用户" if active else "停用用户", actor=actor, detail=name)


def reset_password(con: duckdb.DuckDBPyConnection, name: str, password: str, actor: str | None = None) -> None:
    if len(password) < 6:
        raise UserError("密码至少 6 位")
    with transaction(con):
        n = con.execute("UPDATE users SET password_hash = ? WHERE name = ? RETURNING name",
                        [hash_password(password), name]).fetchall()
        if not n:
            raise UserError(f"用户“{name}”不存在")
        audit(con, "重置密码", actor=actor, detail=name)


def list_users(con: duckdb.DuckDBPyConnection):
    return con.execute("SELECT name, role, unit, active, demo, created_at FROM users ORDER BY role, name").df()
