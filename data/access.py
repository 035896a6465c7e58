"""Who may change what: the acting user of every data-layer write.

Every function of ``data`` (and ``metrics``) that changes data takes the
acting user as ``actor`` and calls :func:`require_actor` before writing, so a
page bug (or a hand-written script) cannot widen anybody's access::

    def set_something(con, unit, year, ..., actor) -> ...:
        who = require_actor(con, actor, REVIEWERS, unit=unit, what="设置某项")
        ...
        audit(con, "设置某项", actor=who.name, unit=unit, year=year, ...)

``actor`` may be an :class:`Actor`, the signed-in user's dict
(``{"name", "role", "unit"}``) or a bare account name: only the *name* is
taken from it; the role, the unit and whether the account is enabled are read
from the ``users`` table at the moment of the write. The one exception is
:data:`SYSTEM`, the operator at the server's command line (``python -m data``,
the demonstration generator), who acts with an administrator's rights: an
:class:`Actor` object with role ``system`` made by code (:data:`SYSTEM`, or
one with another name such as 演示数据); a dict or a name can never claim it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import duckdb

from core.errors import GongkaiError
from core.vocab import ROLE_LABEL, Role

#: account roles → Chinese label (the ``users.role`` column)
ROLES = ROLE_LABEL
ADMINS = (Role.ADMIN,)
REVIEWERS = (Role.REVIEWER, Role.ADMIN)               # review scores, decisions, penalties, batch import
UPLOADERS = (Role.UNIT, Role.REVIEWER, Role.ADMIN)    # a unit account only for its own unit
READERS = (Role.REVIEWER, Role.LEADER, Role.ADMIN)    # analytics pages (read only)


class PermissionDenied(GongkaiError):
    """The acting user may not do this; the message is Chinese and says why."""

    def __init__(self, message: str):
        super().__init__(message, code="permission_denied")


@dataclass(frozen=True)
class Actor:
    name: str
    role: str
    unit: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}（{ROLES.get(self.role, '命令行操作员' if self.role == 'system' else self.role)}）"


#: the operator at the server's command line: acts as an administrator
SYSTEM = Actor("命令行", "system", None)


def _name_of(actor) -> str | None:
    if isinstance(actor, Actor):
        return actor.name
    if isinstance(actor, dict):
        return actor.get("name")
    if isinstance(actor, str):
        return actor
    return None


def resolve_actor(con: duckdb.DuckDBPyConnection, actor) -> Actor:
    """The acting user as the database has it now; :class:`PermissionDenied`
    when no account is named, it does not exist or it is disabled."""
    if isinstance(actor, Actor) and actor.role == "system":
        return actor
    name = _name_of(actor)
    if not name:
        raise PermissionDenied("未指明操作人，操作被拒绝")
    rows = con.execute("SELECT name, role, unit, active FROM users WHERE name = ?", [name]).fetchall()  # whole result:
    row = rows[0] if rows else None  # no unfinished result left on the connection for the caller's next query
    if row is None:
        raise PermissionDenied(f"账号“{name}”不存在，操作被拒绝")
    if not row[3]:
        raise PermissionDenied(f"账号“{name}”已停用，操作被拒绝")
    return Actor(row[0], row[1], row[2])


def require_actor(con: duckdb.DuckDBPyConnection, actor, roles: Iterable[str], *, unit: str | None = None,
                  what: str = "进行此操作") -> Actor:
    """The acting user (see :func:`resolve_actor`) when its role is one of
    ``roles``; a ``unit`` account moreover only for its own ``unit``.
    :data:`SYSTEM` passes wherever an administrator does. Otherwise
    :class:`PermissionDenied` naming the account, its role and the action."""
    roles = tuple(roles)
    who = resolve_actor(con, actor)
    if who.role == "system":
        if "admin" in roles:
            return who
        raise PermissionDenied(f"{who.name}不能{what}")
    if who.role not in roles:
        allowed = "、".join(ROLES.get(r, r) for r in roles)
        raise PermissionDenied(f"{who.label}无权{what}（只有{allowed}账号可以）")
    if who.role == "unit" and unit is not None and who.unit != unit:
        raise PermissionDenied(f"{who.label}只能操作本单位“{who.unit or ''}”的数据，无权{what}（{unit}）")
    return who
