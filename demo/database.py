"""The demonstration database file: created new, rebuilt atomically, never mixed with real data.

* The demonstration county lives in its own file (default ``var/demo.duckdb``),
  marked as a demo in its ``meta`` table before any demo row is written.
* It is always built in a new file beside the target (``.<name>.building``)
  and moved into place with :func:`os.replace`: an interrupted build leaves
  the target as it was (absent, or the previous demo database).
* An existing file is only ever replaced (``reset``) when it is itself a
  demonstration database; any other file — a real county's database, an
  empty database, a foreign file — is refused with :class:`DemoRefused` and
  left untouched.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import duckdb

from data import pg
from data.store import PROJECT_DIR, connect, deferred, is_demo, is_empty
from demo.accounts import STAFF_ACCOUNTS, UNIT_PASSWORD
from demo.generate import SEED, start_renderers

DEMO_DB = PROJECT_DIR / "var" / "demo.duckdb"


class DemoRefused(RuntimeError):
    """The demonstration county may not be written to this file (the message says why, in Chinese)."""


def demo_path(path: str | os.PathLike | None = None) -> Path:
    """``path``, else the project's demonstration database (never ``GONGKAI_DB``: the
    demonstration county is not written to wherever the real database is configured)."""
    return Path(path) if path else DEMO_DB


def _building(p: Path) -> Path:
    return p.with_name(f".{p.name}.building")


def _remove(p: Path) -> None:
    for f in (p, Path(str(p) + ".wal")):
        try:
            f.unlink()
        except FileNotFoundError:
            pass


def check_existing(p: Path) -> None:
    """Raise :class:`DemoRefused` unless the existing file ``p`` is a demonstration database.

    The file is opened read-only: nothing in it changes.
    """
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise DemoRefused(f"数据库 {p} 正被另一个程序（例如正在运行的看板）使用：请先停止看板再重建演示数据") from e
        raise DemoRefused(f"{p} 不是本系统的数据库文件（无法打开：{e}），演示数据不会写入这个文件") from e
    except duckdb.Error as e:
        raise DemoRefused(f"{p} 不是本系统的数据库文件（无法打开：{e}），演示数据不会写入这个文件") from e
    try:
        demo = is_demo(con)
    except duckdb.Error:
        demo = False
    finally:
        con.close()
    if not demo:
        raise DemoRefused(f"数据库 {p} 不是演示数据库（未标记为演示数据），演示数据不会写入或覆盖它。"
                          f"请用 --db 指定一个新的文件名来生成演示数据库。")


def _checkpoint(p: Path) -> None:
    """Fold the old demo database's write-ahead log into it, so that no log is left
    beside the path that the new file is moved to."""
    con = duckdb.connect(str(p))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()


def create_demo_database(path: str | os.PathLike | None = None, *, reset: bool = False, if_missing: bool = False,
                         seed: int = SEED, progress: Callable[[str], None] | None = None,
                         after_load: list | None = None, files: list | None = None) -> tuple[str, dict | None]:
    """Build the demonstration county into ``path`` (default ``var/demo.duckdb``).

    * a new path: build it;
    * an existing demonstration database: ``reset`` rebuilds it (new file, atomic swap);
      ``if_missing`` leaves it as it is; otherwise :class:`DemoRefused`;
    * any other existing file: :class:`DemoRefused`, whatever the options.

    ``files`` may pass the county's workbooks already generated for ``seed``.
    Returns (a Chinese summary line, the build summary or None when nothing was built).
    """
    if pg.is_url(str(path or "")):
        return _create_in_postgres(str(path), reset=reset, if_missing=if_missing, seed=seed, progress=progress,
                                   after_load=after_load, files=files)
    p = demo_path(path)
    if p.exists():
        check_existing(p)
        if not reset:
            if if_missing:
                return f"演示数据库 {p} 已存在，未作更改（如需重建请使用 --reset）", None
            raise DemoRefused(f"演示数据库 {p} 已存在：如需重建请加 --reset")
    if files is None:
        start_renderers()  # the renderer is imported meanwhile, while this process imports the loader
    from demo.load import build_demo

    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = _building(p)
    _remove(tmp)  # left over by an interrupted build
    con = connect(tmp)
    try:
        # thousands of small statements: one thread each is cheaper, and leaves the other cores to
        # the processes rendering the workbooks meanwhile (this new file is open nowhere else)
        con.execute("SET threads = 1")
        # nothing of this new file is needed before it is complete: no commit waits for the disk
        # (an interrupted build is deleted anyway); the complete file is written to disk below
        con.execute("SET fsync_mode = 'NONE'")
        with deferred(con):  # the stored scores: each year once, at the end
            summary = build_demo(con, progress=progress, seed=seed, after_load=after_load, files=files)
        con.execute("SET fsync_mode = 'STANDARD'")
        con.execute("CHECKPOINT")  # every row in the file itself, synced to the disk
    except BaseException:
        con.close()
        _remove(tmp)
        raise
    con.close()
    if p.exists():
        check_existing(p)  # still a demo (nobody swapped in another file meanwhile)
        _checkpoint(p)
        _remove(Path(str(p) + ".wal"))
    os.replace(tmp, p)
    return summary_line(p, summary), summary


def _create_in_postgres(url: str, *, reset: bool, if_missing: bool, seed: int, progress, after_load,
                        files) -> tuple[str, dict | None]:
    """The demonstration county in a PostgreSQL database: only an empty database, or (``reset``)
    one marked as a demo, whose tables are dropped first. There is no atomic swap on a
    server: an interrupted build leaves a database marked as a demo, to be rebuilt with ``--reset``."""
    from demo.load import build_demo

    shown = pg.redact(url)
    con = connect(url)
    try:
        empty = is_empty(con) and con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
        demo = is_demo(con)
    finally:
        con.close()
    if not empty or demo:
        if not demo:
            raise DemoRefused(f"数据库 {shown} 不是演示数据库（已有数据，未标记为演示数据），演示数据不会写入或覆盖它。"
                              "请指定一个新建的空数据库")
        if not reset:
            if if_missing:
                return f"演示数据库 {shown} 已存在，未作更改（如需重建请使用 --reset）", None
            raise DemoRefused(f"演示数据库 {shown} 已存在：如需重建请加 --reset")
        wipe = pg.PgConnection(url)
        try:
            if not is_demo(wipe):  # checked again on the server itself, just before dropping
                raise DemoRefused(f"数据库 {shown} 不是演示数据库，未作更改")
            wipe.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            wipe.close()
    con = connect(url)
    try:
        with deferred(con):  # the stored scores: each year once, at the end
            summary = build_demo(con, progress=progress, seed=seed, after_load=after_load, files=files)
    finally:
        con.close()
    return summary_line(shown, summary), summary


def summary_line(p: Path, s: dict) -> str:
    from core.scheme import years

    yrs = years()
    staff = "、".join(f"{n}/{pw}" for n, _, pw in STAFF_ACCOUNTS)
    acc = f"{staff}、unit01…unit{len(s['unit_accounts']):02d}/{UNIT_PASSWORD}（按单位名录顺序）"
    from demo.closing import state_text

    # the state the build leaves (after the closing step), not the counts from before it
    now = state_text(s["final_state"]) if s.get("final_state") else \
        f"已审核 {s['approved']} 份、退回 {s['returned']} 份"
    line = (f"演示数据库已生成：{p}。{s['units']} 个单位，{yrs[0]}–{yrs[-1]} 年度共 {s['files']} 份自评表"
            f"（其中 .xls {s['xls']} 份），{s['submissions']} 份报送，{now}；"
            f"用时 {s['seconds']} 秒。演示账号：{acc}")
    if s["problems"]:
        line += f"。注意：{len(s['problems'])} 份文件未被接收：" + "；".join(s["problems"][:3])
    return line
