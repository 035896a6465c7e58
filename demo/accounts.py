"""The demonstration accounts, and which of them the login page may advertise."""
from __future__ import annotations

import duckdb

from data.store import is_demo
from data.users import check_password

#: (name, role, password): the staff of the demonstration county
STAFF_ACCOUNTS = (
    ("admin", "admin", "admin123"),
    ("shenhe", "reviewer", "shenhe123"),
    ("lingdao", "leader", "lingdao123"),
)
#: every unit account (unit01 … in registry order) has this password
UNIT_PASSWORD = "demo1234"  # at least data.users.MIN_PASSWORD characters
#: the reviewer whose name is on the demo's review decisions
REVIEWER = "shenhe"


def unit_account(index: int) -> str:
    """The account name of the unit at ``index`` (1-based) in the registry."""
    return f"unit{index:02d}"


def known_password(name: str, role: str) -> str | None:
    """The published password of a demonstration account, None for any other account."""
    for n, r, pw in STAFF_ACCOUNTS:
        if n == name and r == role:
            return pw
    if role == "unit" and name.startswith("unit") and name[4:].isdigit():
        return UNIT_PASSWORD
    return None


def working_demo_accounts(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The demonstration accounts whose published password still signs in, in the order
    admin, reviewer, leader, units: ``{"name", "role", "unit", "password"}``.

    Empty unless the database is marked as a demo. An account that was deactivated
    or whose password was changed is not listed (its hash no longer verifies).
    """
    if not is_demo(con):
        return []
    rows = con.execute("SELECT name, role, unit, password_hash FROM users WHERE demo AND active").fetchall()
    order = {"admin": 0, "reviewer": 1, "leader": 2, "unit": 3}
    out = []
    for name, role, unit, hashed in sorted(rows, key=lambda r: (order.get(r[1], 9), r[0])):
        pw = known_password(name, role)
        if pw is not None and check_password(pw, hashed):
            out.append({"name": name, "role": role, "unit": unit, "password": pw})
    return out
