"""Reading the audit log (操作日志) with filters and pages, for the 管理 page."""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

AUDIT_COLUMNS = ["时间", "操作人", "单位", "年度", "操作", "内容", "修改前", "修改后"]
#: audit actions of accounts and sessions (data.users)
ACCOUNT_ACTIONS = ("登录", "登录失败", "账号锁定", "解锁账号", "退出登录", "修改密码", "修改密码失败", "重置密码",
                   "新增用户", "停用用户", "启用用户", "修改角色")


def audit_filters(con: duckdb.DuckDBPyConnection) -> dict:
    """The values to choose from: ``{"actors", "units", "actions"}`` (sorted, as in the log)."""
    def col(c):
        return [r[0] for r in con.execute(f"SELECT DISTINCT {c} FROM audit WHERE {c} IS NOT NULL ORDER BY {c}").fetchall()]
    return {"actors": col("actor"), "units": col("unit"), "actions": col("action")}


def audit_entries(con: duckdb.DuckDBPyConnection, *, actor: str | None = None, unit: str | None = None,
                  action: str | None = None, start: dt.date | None = None, end: dt.date | None = None,
                  page: int = 1, per_page: int = 100) -> tuple[pd.DataFrame, int]:
    """One page of the audit log, newest first, and the number of matching rows.

    ``actor``, ``unit`` and ``action`` match exactly; ``start``/``end`` are
    days, both included. ``page`` counts from 1."""
    where, args = [], []
    for col, v in (("actor", actor), ("unit", unit), ("action", action)):
        if v:
            where.append(f"{col} = ?")
            args.append(v)
    if start:
        where.append("at_time >= ?")
        args.append(dt.datetime.combine(start, dt.time()))
    if end:
        where.append("at_time < ?")
        args.append(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
    cond = ("WHERE " + " AND ".join(where)) if where else ""
    total = con.execute(f"SELECT count(*) FROM audit {cond}", args).fetchone()[0]
    per_page = max(1, min(int(per_page), 1000))
    page = max(1, int(page))
    rows = con.execute(f"""SELECT at_time, coalesce(actor, ''), coalesce(unit, ''), year, action,
                                  coalesce(detail, ''), coalesce(before, ''), coalesce(after, '')
                           FROM audit {cond} ORDER BY id DESC LIMIT ? OFFSET ?""",
                       [*args, per_page, (page - 1) * per_page]).fetchall()
    df = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    df["年度"] = df["年度"].astype("Int64")
    return df, int(total)
