"""Reading the audit log (操作日志): one filtered, paged query shared by every
page that shows it (管理 → 操作日志, 单位审核 → 上报记录与日志)."""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

AUDIT_COLUMNS = ["时间", "操作人", "单位", "年度", "操作", "内容", "修改前", "修改后"]


def _where(unit, actor, actions, date_from, date_to, year) -> tuple[str, list]:
    cond, args = [], []
    if unit:
        cond.append("unit = ?")
        args.append(unit)
    if actor:
        cond.append("actor = ?")
        args.append(actor)
    if actions:
        cond.append(f"action IN ({', '.join('?' for _ in actions)})")
        args.extend(actions)
    if year is not None:
        cond.append("year = ?")
        args.append(int(year))
    if date_from is not None:
        cond.append("at_time >= ?")
        args.append(dt.datetime.combine(date_from, dt.time.min))
    if date_to is not None:  # the whole last day
        cond.append("at_time < ?")
        args.append(dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min))
    return ("WHERE " + " AND ".join(cond)) if cond else "", args


def audit_search(con: duckdb.DuckDBPyConnection, *, unit: str | None = None, actor: str | None = None,
                 actions: list[str] | tuple[str, ...] = (), date_from: dt.date | None = None,
                 date_to: dt.date | None = None, year: int | None = None, limit: int = 50,
                 offset: int = 0) -> tuple[pd.DataFrame, int]:
    """One page of the audit log, newest first, and the number of rows matching the filters.

    Every filter is optional: ``unit`` and ``actor`` exact, ``actions`` any of, ``date_from`` /
    ``date_to`` inclusive calendar days, ``year`` the assessment year. Columns: :data:`AUDIT_COLUMNS`."""
    where, args = _where(unit, actor, actions, date_from, date_to, year)
    total = con.execute(f"SELECT count(*) FROM audit {where}", args).fetchone()[0]
    rows = con.execute(f"""SELECT at_time, coalesce(actor, ''), coalesce(unit, ''), year, action,
                                  coalesce(detail, ''), coalesce(before, ''), coalesce(after, '')
                           FROM audit {where} ORDER BY id DESC LIMIT ? OFFSET ?""",
                       [*args, max(1, int(limit)), max(0, int(offset))]).fetchall()
    df = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    df["年度"] = df["年度"].astype("Int64")
    return df, int(total)


#: the 日期 filter of the viewer, in the order offered; "指定日期" takes two days typed by the user
PERIODS = ("全部日期", "今天", "近7天", "近30天", "今年", "指定日期")


def period_days(period: str, today: dt.date, *, start: dt.date | None = None,
                end: dt.date | None = None) -> tuple[dt.date | None, dt.date | None]:
    """The inclusive calendar days (``date_from``, ``date_to``) of one of :data:`PERIODS` as of ``today``.

    "近7天" is today and the 6 days before it; "今年" is 1 January of today's year to today; "指定日期"
    returns ``start``/``end`` as given (either may be None: open on that side). A ``start`` after
    ``end`` is refused with ValueError (a Chinese message)."""
    if period == "全部日期":
        return None, None
    if period == "今天":
        return today, today
    if period == "近7天":
        return today - dt.timedelta(days=6), today
    if period == "近30天":
        return today - dt.timedelta(days=29), today
    if period == "今年":
        return dt.date(today.year, 1, 1), today
    if period == "指定日期":
        if start is not None and end is not None and start > end:
            raise ValueError(f"起始日期 {start:%Y-%m-%d} 晚于截止日期 {end:%Y-%m-%d}，请重新选择。")
        return start, end
    raise ValueError(f"未知的日期范围：{period}")


def audit_facets(con: duckdb.DuckDBPyConnection, *, unit: str | None = None,
                 year: int | None = None) -> dict[str, list]:
    """The values the filters can offer: ``units``, ``actors``, ``actions`` (sorted, as logged),
    and ``first``/``last`` day logged (None when the log is empty); within ``unit``/``year`` if given."""
    where, args = _where(unit, None, (), None, None, year)
    units = [r[0] for r in con.execute(f"SELECT DISTINCT unit FROM audit {where} {'AND' if where else 'WHERE'} "
                                       "unit IS NOT NULL ORDER BY unit", args).fetchall()]
    actors = [r[0] for r in con.execute(f"SELECT DISTINCT actor FROM audit {where} {'AND' if where else 'WHERE'} "
                                        "actor IS NOT NULL ORDER BY actor", args).fetchall()]
    actions = [r[0] for r in con.execute(f"SELECT DISTINCT action FROM audit {where} ORDER BY action", args).fetchall()]
    first, last = con.execute(f"SELECT min(at_time)::DATE, max(at_time)::DATE FROM audit {where}", args).fetchone()
    return {"units": units, "actors": actors, "actions": actions, "first": first, "last": last}
