"""The working-day calendar (工作日历) in DuckDB.

The calendar is built when the database is opened for writing
(:func:`prepare_calendar`, called by :mod:`data.store`) and by the commands
that change it (:func:`load_calendar_csv`, :func:`reset_calendar_year`).
Reading never writes: the scoring engine asks :func:`require_calendar`, which
names the missing years (:class:`CalendarError`) instead of building them.

Table ``calendar(day, is_workday, source)`` holds one row per day.  A year is
built from, in this order of preference:

* ``admin``    – an administrator loaded the year's 法定节假日 and 调休上班 days
  from a CSV (:func:`load_calendar_csv`); the year is Monday–Friday plus
  those days.  Listed in ``calendar_years`` with source ``admin``.
* ``official`` – the State Council notice as carried by the ``chinese_calendar``
  package (2004 … 2026 for the pinned version).  Listed in ``calendar_years``
  with source ``official``.
* ``fallback`` – plain Monday–Friday.  *Not* listed in ``calendar_years``: a
  score that depends on such a year is provisional (:func:`missing_calendar_years`).

Working-day arithmetic is set based: ``wd_index(day)`` = number of working days
``<= day`` (:data:`WORKDAY_INDEX_SQL`); the deadline "N working days from D"
is the working day whose index is ``wd_index(D) + N`` — D itself is never
counted, whatever kind of day it is.
"""
from __future__ import annotations

import csv
import datetime as dt
import io

import duckdb
import pyarrow as pa

from core import scheme as scheme_mod
from core.errors import GongkaiError, Issue, error
from core.normalize import ParseError, norm_key, parse_date
from data.access import ADMINS, require_actor
from data.store import audit, touch, transaction

DEFAULT_YEARS = range(2004, 2031)
OFFICIAL, ADMIN, FALLBACK = "official", "admin", "fallback"
SOURCE_LABEL = {OFFICIAL: "国务院放假通知（内置）", ADMIN: "管理员导入", FALLBACK: "仅按周一至周五（缺少官方日历）"}
HOLIDAY, MAKEUP = "节假日", "调休上班"
CSV_HEADER = ["日期", "类型"]
#: calendar days of slack after the cut-off in which a deadline may still fall
#: (about 60 working days: 40-day extended request answers, late submissions)
SLACK_DAYS = 92

#: (day, is_workday, wd_index) for every calendar day; wd_index = number of
#: working days on or before the day.  Use as a sub-query / CTE body.
WORKDAY_INDEX_SQL = """
    SELECT day, is_workday,
           CAST(sum(CASE WHEN is_workday THEN 1 ELSE 0 END)
                OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS wd_index
    FROM calendar
"""

#: CTE pair to paste after ``WITH``: ``cal(day, is_workday, wd_index)`` and
#: ``wdays(wd_index, day)`` (working days only, one per index).  The deadline
#: of "N working days from D" is ``wdays.day`` joined on
#: ``wdays.wd_index = cal.wd_index + N`` with ``cal.day = D``.
WORKDAY_CTES = f"""
    cal AS ({WORKDAY_INDEX_SQL}),
    wdays AS (SELECT wd_index, day FROM cal WHERE is_workday)
"""


class CalendarError(GongkaiError, ValueError):
    """A calendar CSV that cannot be loaded (its ``issues`` name each line), or a
    calendar that cannot be built."""

    code = "calendar_invalid"


# --------------------------------------------------------------------------- official data

def _official_years() -> tuple[int, ...]:
    global _OFFICIAL_CACHE
    if _OFFICIAL_CACHE is None:
        try:
            import chinese_calendar
            from chinese_calendar import constants
        except ImportError:  # pragma: no cover - dependency is pinned
            _OFFICIAL_CACHE = ()
            return _OFFICIAL_CACHE
        ys = []
        for y in sorted({d.year for d in constants.holidays} | {d.year for d in constants.workdays}):
            try:
                chinese_calendar.is_workday(dt.date(y, 7, 1))
            except NotImplementedError:
                continue
            ys.append(y)
        _OFFICIAL_CACHE = tuple(ys)
    return _OFFICIAL_CACHE


_OFFICIAL_CACHE: tuple[int, ...] | None = None


def _official_exceptions(years) -> list[tuple[dt.date, bool, str]]:
    """(day, is_workday, note) of the official holidays and make-up days in ``years``."""
    from chinese_calendar import constants

    ys = set(years)
    out = [(d, False, str(n)) for d, n in constants.holidays.items() if d.year in ys]
    out += [(d, True, str(n)) for d, n in constants.workdays.items() if d.year in ys]
    return out


# --------------------------------------------------------------------------- helpers

def _days_in_year(y: int) -> int:
    return (dt.date(y + 1, 1, 1) - dt.date(y, 1, 1)).days


def _year_states(con) -> tuple[dict[int, tuple[int, tuple[str, ...]]], dict[int, str]]:
    counts: dict[int, int] = {}
    sources: dict[int, set[str]] = {}
    for y, src, n in con.execute("SELECT year(day), source, count(*) FROM calendar GROUP BY 1, 2").fetchall():
        counts[int(y)] = counts.get(int(y), 0) + int(n)
        sources.setdefault(int(y), set()).add(src)
    stored = {y: (n, tuple(sorted(sources[y]))) for y, n in counts.items()}
    listed = {int(y): s for y, s in con.execute("SELECT year, source FROM calendar_years").fetchall()}
    return stored, listed


def _wanted_source(y: int, listed: dict[int, str]) -> str:
    if listed.get(y) == ADMIN:
        return ADMIN
    if y in _official_years():
        return OFFICIAL
    return FALLBACK


def _rebuild_years(con, years: list[int], listed: dict[int, str]) -> None:
    """Rebuild the calendar rows of ``years`` (in the caller's transaction, if any)."""
    if not years:
        return
    src = {y: _wanted_source(y, listed) for y in years}
    ys = pa.table({"year": pa.array(years, pa.int32()), "source": pa.array([src[y] for y in years])})
    off_years = [y for y in years if src[y] == OFFICIAL]
    exc = _official_exceptions(off_years)
    ex = pa.table({"day": pa.array([e[0] for e in exc], pa.date32()),
                   "is_workday": pa.array([e[1] for e in exc], pa.bool_())})
    days = [dt.date(y, 1, 1) + dt.timedelta(days=i) for y in years
            for i in range((dt.date(y + 1, 1, 1) - dt.date(y, 1, 1)).days)]
    dd = pa.table({"day": pa.array(days, pa.date32()),
                   "weekday": pa.array([d.isoweekday() <= 5 for d in days], pa.bool_()),
                   "year": pa.array([d.year for d in days], pa.int32())})
    con.register("_cal_years", ys)
    con.register("_cal_exc", ex)
    con.register("_cal_days", dd)
    try:
        con.execute("DELETE FROM calendar WHERE day IN (SELECT day FROM _cal_days)")
        con.execute("""
            INSERT INTO calendar (day, is_workday, source)
            SELECT d.day, coalesce(o.is_workday, e.is_workday, d.weekday), y.source
            FROM _cal_days d
            JOIN _cal_years y ON y.year = d.year
            LEFT JOIN _cal_exc e ON e.day = d.day
            LEFT JOIN calendar_overrides o ON o.day = d.day
        """)
        con.execute("DELETE FROM calendar_years WHERE year IN (SELECT year FROM _cal_years) AND source = 'official'")
        con.execute("""INSERT INTO calendar_years (year, source)
                       SELECT year, source FROM _cal_years WHERE source = 'official'
                       AND year NOT IN (SELECT year FROM calendar_years)""")
    finally:
        con.unregister("_cal_years")
        con.unregister("_cal_exc")
        con.unregister("_cal_days")


# --------------------------------------------------------------------------- public API

def ensure_calendar(con: duckdb.DuckDBPyConnection, years=DEFAULT_YEARS) -> list[int]:
    """Make sure ``calendar`` has every day of ``years``; returns the years (re)built.

    Cheap when already filled (one aggregate over the table).  Official years
    come from ``chinese_calendar``; others are Monday–Friday (``fallback``);
    administrator overrides (``calendar_overrides``) are applied on top.
    """
    years = sorted({int(y) for y in years})
    stored, listed = _year_states(con)
    todo = []
    for y in years:
        want = _wanted_source(y, listed)
        have = stored.get(y)
        if have is None or have[0] != _days_in_year(y) or have[1] != (want,) \
                or (want == OFFICIAL and listed.get(y) != OFFICIAL):
            todo.append(y)
    if not todo:
        return []
    if is_read_only(con):
        raise CalendarError(f"工作日历缺少 {todo[0]}–{todo[-1]} 年的数据，只读打开的数据库无法补建，请以可写方式打开一次")
    # No explicit transaction (the caller may have one open): every statement is
    # idempotent and an interrupted rebuild is repaired by the next call.
    _rebuild_years(con, todo, listed)
    return todo


def calendar_years_for(scheme) -> list[int]:
    """Every calendar year the scores of ``scheme`` read: :func:`needed_years`
    and the year before to three years after the assessment year (late answers,
    items dated around the year)."""
    return sorted(set(needed_years(scheme)) | set(range(scheme.year - 1, scheme.year + 4)))


def prepare_calendar(con: duckdb.DuckDBPyConnection, today: dt.date | None = None) -> list[int]:
    """Build what the calendar lacks when a database is opened for writing:
    :data:`DEFAULT_YEARS`, the years every scheme's scores read
    (:func:`calendar_years_for`) and this year and the next (publicity periods).
    Returns the years (re)built; cheap when nothing is missing."""
    today = today or dt.date.today()
    years = set(DEFAULT_YEARS) | {today.year, today.year + 1}
    try:
        schemes = scheme_mod.load_schemes().values()
    except scheme_mod.SchemeError:  # a broken scheme file is reported where it is used, not at every open
        schemes = ()
    for s in schemes:
        years.update(calendar_years_for(s))
    return ensure_calendar(con, years)


def require_calendar(con: duckdb.DuckDBPyConnection, years) -> None:
    """Check, without writing, that ``calendar`` has every day of ``years``;
    raise :class:`CalendarError` (``calendar_missing``) naming the years it lacks.
    A database opened for writing has them (:func:`prepare_calendar`)."""
    years = sorted({int(y) for y in years})
    if not years:
        return
    have = dict(con.execute("""SELECT CAST(year(day) AS INTEGER), count(*) FROM calendar
                               WHERE day BETWEEN ? AND ? GROUP BY 1""",
                            [dt.date(years[0], 1, 1), dt.date(years[-1], 12, 31)]).fetchall())
    missing = [y for y in years if have.get(y) != _days_in_year(y)]
    if not missing:
        return
    ys = "、".join(str(y) for y in missing)
    how = ("数据库是只读打开的，无法补建；请以可写方式打开一次（例如运行 python -m metrics calendar status）"
           if is_read_only(con) else "请重新打开数据库（打开时会补建工作日历）")
    raise CalendarError(f"工作日历缺少 {ys} 年的数据，无法计算工作日；{how}", code="calendar_missing")


def is_read_only(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con`` was opened read-only (asked of DuckDB, not guessed from an error text;
    a PostgreSQL connection is never read-only here)."""
    if getattr(con, "dialect", "duckdb") == "postgres":
        return False
    return con.execute("SELECT current_setting('access_mode')").fetchall()[0][0] == "read_only"


def calendar_status(con: duckdb.DuckDBPyConnection, years=None) -> list[dict]:
    """Per year: ``{"year", "source", "label", "workdays", "loaded_at"}`` (source
    official / admin / fallback / missing)."""
    stored = {int(y): (n, w, s) for y, n, w, s in con.execute(
        "SELECT year(day), count(*), count(*) FILTER (WHERE is_workday), min(source) FROM calendar GROUP BY 1").fetchall()}
    listed = {int(y): (s, t) for y, s, t in con.execute("SELECT year, source, loaded_at FROM calendar_years").fetchall()}
    ys = sorted(set(years) if years is not None else set(stored) | set(listed))
    out = []
    for y in ys:
        src = listed[y][0] if y in listed else (FALLBACK if y in stored else "missing")
        out.append({"year": y, "source": src, "label": SOURCE_LABEL.get(src, "无数据"),
                    "workdays": stored.get(y, (0, None))[1], "loaded_at": listed.get(y, (None, None))[1]})
    return out


def needed_years(scheme) -> list[int]:
    """Calendar years a scheme's scores depend on: from the assessment year to
    the cut-off plus ~60 working days (any day a deadline can fall on)."""
    end = scheme.cutoff + dt.timedelta(days=SLACK_DAYS)
    return list(range(scheme.year_start.year, end.year + 1))


def missing_calendar_years(con: duckdb.DuckDBPyConnection, scheme) -> list[int]:
    """Years whose official (or admin-loaded) calendar is needed to score the
    scheme's year but is not available.  Non-empty → the scores are provisional.  Reads only."""
    have = {int(r[0]) for r in con.execute("SELECT year FROM calendar_years").fetchall()}
    return [y for y in needed_years(scheme) if y not in have]


def provisional_reason(missing: list[int]) -> str:
    if not missing:
        return ""
    ys = "、".join(f"{y}年" for y in missing)
    return f"缺少{ys}的官方节假日安排，相关工作日按周一至周五计算，结果为暂定；请管理员导入{ys}的节假日和调休上班日"


def _bad(row: int, message: str) -> Issue:
    return error("calendar_invalid", message, row=row)


def parse_calendar_csv(year: int, csv_text: str) -> list[tuple[dt.date, bool, str]]:
    """Validate a holiday CSV (``日期,类型``) for ``year``; raise :class:`CalendarError`
    naming every bad line.  Returns ``(day, is_workday, 类型)`` rows."""
    if isinstance(csv_text, bytes):
        try:
            csv_text = csv_text.decode("utf-8")
        except UnicodeDecodeError:
            raise CalendarError("文件不是 UTF-8 编码的 CSV（请在 Excel 中另存为“CSV UTF-8”）")
    if csv_text.startswith("\ufeff"):
        csv_text = csv_text[1:]
    rows = list(csv.reader(io.StringIO(csv_text)))
    while rows and not any(c.strip() for c in rows[0]):
        rows.pop(0)
    if not rows or [norm_key(h) for h in rows[0][:2]] != CSV_HEADER:
        got = ",".join(rows[0]) if rows else "（空文件）"
        raise CalendarError(error("calendar_invalid", f"表头应为“{','.join(CSV_HEADER)}”，实为“{got}”", row=1))
    errors: list[Issue] = []
    out: list[tuple[dt.date, bool, str]] = []
    seen: dict[dt.date, int] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        row = row + ["", ""]
        raw_day, raw_type = row[0].strip(), norm_key(row[1], label=False)
        try:
            day = parse_date(raw_day)
        except (ParseError, ValueError):
            errors.append(_bad(n, f"日期“{raw_day}”无法识别，应为 YYYY-MM-DD，例如 {year}-10-01"))
            day = None
        if raw_type not in (HOLIDAY, MAKEUP):
            errors.append(_bad(n, f"类型“{row[1].strip()}”应为“{HOLIDAY}”或“{MAKEUP}”"))
        if day is None:
            continue
        if day.year != year:
            errors.append(_bad(n, f"日期 {day.isoformat()} 不在{year}年内"))
            continue
        if day in seen:
            errors.append(_bad(n, f"日期 {day.isoformat()} 重复（第{seen[day]}行已列出）"))
            continue
        seen[day] = n
        if raw_type == MAKEUP and day.isoweekday() <= 5:
            errors.append(_bad(n, f"{day.isoformat()} 是星期{'一二三四五'[day.isoweekday() - 1]}，本来就是工作日，"
                          f"调休上班日应为周六或周日"))
            continue
        if raw_type in (HOLIDAY, MAKEUP):
            out.append((day, raw_type == MAKEUP, raw_type))
    if not errors and not out:
        errors.append(error("calendar_invalid", f"文件中没有{year}年的任何节假日或调休上班日"))
    if errors:
        raise CalendarError(errors)
    return out


def load_calendar_csv(con: duckdb.DuckDBPyConnection, year: int, csv_text: str | bytes, *, actor) -> dict:
    """Load a year's 法定节假日 / 调休上班 days (CSV ``日期,类型``) as administrator data.

    All or nothing: on any error :class:`CalendarError` is raised and nothing is
    changed.  The year is rebuilt as Monday–Friday, holidays off, make-up days
    on, and listed in ``calendar_years`` with source ``admin``.  Returns
    ``{"year", "holidays", "makeup_days", "workdays"}``. Administrators only
    (``actor``, see :mod:`data.access`).
    """
    who = require_actor(con, actor, ADMINS, what="导入工作日历")
    actor = who.name
    year = int(year)
    if not 1900 <= year <= 2200:
        raise CalendarError(f"年份 {year} 不合理")
    rows = parse_calendar_csv(year, csv_text)
    before = con.execute("SELECT source FROM calendar_years WHERE year = ?", [year]).fetchone()
    before_src = before[0] if before else (FALLBACK if year not in _official_years() else OFFICIAL)
    tbl = pa.table({"day": pa.array([r[0] for r in rows], pa.date32()),
                    "is_workday": pa.array([r[1] for r in rows], pa.bool_()),
                    "note": pa.array([r[2] for r in rows], pa.string())})
    holidays = sum(1 for r in rows if not r[1])
    makeup = len(rows) - holidays
    with transaction(con):
        con.register("_cal_csv", tbl)
        try:
            con.execute("DELETE FROM calendar_overrides WHERE year(day) = ?", [year])
            con.execute("INSERT INTO calendar_overrides (day, is_workday, note, loaded_by) "
                        "SELECT day, is_workday, note, ? FROM _cal_csv", [actor])
        finally:
            con.unregister("_cal_csv")
        con.execute("DELETE FROM calendar_years WHERE year = ?", [year])
        con.execute("INSERT INTO calendar_years (year, source) VALUES (?, 'admin')", [year])
        _rebuild_years(con, [year], {year: ADMIN})
        touch(None, None)  # deadlines may move in any year: every stored score again
        workdays = con.execute("SELECT count(*) FROM calendar WHERE year(day) = ? AND is_workday", [year]).fetchone()[0]
        audit(con, "导入工作日历", actor=actor, year=year,
              detail=f"{year}年：节假日 {holidays} 天，调休上班 {makeup} 天，全年工作日 {workdays} 天",
              before=before_src, after=ADMIN)
    return {"year": year, "holidays": holidays, "makeup_days": makeup, "workdays": int(workdays)}


def reset_calendar_year(con: duckdb.DuckDBPyConnection, year: int, *, actor) -> str:
    """Drop an administrator-loaded year; it goes back to official (or fallback). Returns the new source.
    Administrators only."""
    actor = require_actor(con, actor, ADMINS, what="撤销导入的工作日历").name
    year = int(year)
    with transaction(con):
        con.execute("DELETE FROM calendar_overrides WHERE year(day) = ?", [year])
        con.execute("DELETE FROM calendar_years WHERE year = ?", [year])
        _rebuild_years(con, [year], {})
        touch(None, None)
        src = _wanted_source(year, {})
        audit(con, "撤销导入的工作日历", actor=actor, year=year, before=ADMIN, after=src)
    return src


def calendar_csv_template(year: int) -> str:
    """CSV text (with BOM) an administrator can fill in; pre-filled from the
    official calendar when the package knows the year."""
    lines = [",".join(CSV_HEADER)]
    if int(year) in _official_years():
        for d, wd, _ in sorted(_official_exceptions([int(year)])):
            lines.append(f"{d.isoformat()},{MAKEUP if wd else HOLIDAY}")
    else:
        lines += [f"{year}-01-01,{HOLIDAY}", f"{year}-10-01,{HOLIDAY}"]
    return "\ufeff" + "\r\n".join(lines) + "\r\n"


# --------------------------------------------------------------------------- scalar helpers

def is_workday(con: duckdb.DuckDBPyConnection, day: dt.date) -> bool:
    r = con.execute("SELECT is_workday FROM calendar WHERE day = ?", [day]).fetchone()
    if r is None:
        raise CalendarError(f"工作日历中没有 {day.isoformat()}", code="calendar_missing")
    return bool(r[0])


def add_workdays(con: duckdb.DuckDBPyConnection, day: dt.date, n: int) -> dt.date:
    """The N-th working day after ``day`` (``day`` itself never counted)."""
    r = con.execute(f"""WITH {WORKDAY_CTES}
        SELECT w.day FROM cal c JOIN wdays w ON w.wd_index = c.wd_index + ? WHERE c.day = ?""",
                    [int(n), day]).fetchone()
    if r is None:
        raise CalendarError(f"工作日历不足以计算 {day.isoformat()} 起第 {n} 个工作日", code="calendar_missing")
    return r[0]


def workdays_between(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> int:
    """wd_index(end) − wd_index(start): working days after ``start`` up to and including ``end``."""
    r = con.execute(f"""WITH {WORKDAY_CTES}
        SELECT (SELECT wd_index FROM cal WHERE day = ?) - (SELECT wd_index FROM cal WHERE day = ?)""",
                    [end, start]).fetchone()
    if r is None or r[0] is None:
        raise CalendarError(f"工作日历中没有 {start.isoformat()} 或 {end.isoformat()}", code="calendar_missing")
    return int(r[0])


def working_days(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> list[dt.date]:
    """Every working day in [start, end], in order (the calendar must cover the range:
    see :func:`ensure_calendar`). For code that needs many day computations in Python."""
    n = con.execute("SELECT count(*) FROM calendar WHERE day BETWEEN ? AND ?", [start, end]).fetchone()[0]
    if n != (end - start).days + 1:
        raise CalendarError(f"工作日历未覆盖 {start.isoformat()} 至 {end.isoformat()}")
    return [r[0] for r in con.execute("SELECT day FROM calendar WHERE is_workday AND day BETWEEN ? AND ? ORDER BY day",
                                      [start, end]).fetchall()]
