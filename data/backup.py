"""Backup and restore of the database file, safe while the dashboard runs.

``backup``: wait (a few seconds at most) until no other program is writing,
open the database for writing, write its log into the file (``CHECKPOINT``:
committed changes not yet in the file are included), copy the file while still
holding it, then check the copy by opening it read-only and comparing the row
count of every table; only then is the copy renamed to its final name.

``restore``: check that FILE is a database of this product with a schema
version this program knows (and that it reads), copy it beside the database,
take the file's lock, keep the database being replaced beside it under a
timestamped name (with its log), and swap the copy in with one atomic rename.
A running dashboard sees the new file at its next page (it notices the file
was replaced and never writes into the old one).
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from data.db import (RESTORE_HINT, DatabaseBusy, DatabaseMissing, DatabaseUnusable, check_header, checkpoint, describe_failure,
                     lock_holder, open_connection, wait_seconds)
from data.store import MIGRATIONS, check_schema


class BackupRefused(ValueError):
    """The file offered for restore is not a usable database of this product (nothing changed)."""


@dataclass
class BackupResult:
    path: Path
    tables: int
    rows: int
    schema_version: int


@dataclass
class RestoreResult:
    path: Path
    kept: Path | None
    schema_version: int
    rows: int


def _stamp() -> str:
    return dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _counts(con) -> dict[str, int]:
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' "
        "ORDER BY table_name").fetchall()]
    return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(str(d), os.O_RDONLY)
    except OSError:  # pragma: no cover - not possible on every system
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        shutil.copyfileobj(fi, fo, 1 << 20)
        fo.flush()
        os.fsync(fo.fileno())


def _remove(*paths: Path) -> None:
    for p in paths:
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def _plain(message: str) -> str:
    """A refusal of a file offered for restore: without the advice to restore a backup."""
    for sep in ("；", "。", ""):
        message = message.replace(sep + RESTORE_HINT, "")
    return message.replace("请检查 --db / GONGKAI_DB 指向的文件", "请检查所选的备份文件").rstrip("；。") + "。"


def inspect_file(path) -> tuple[int, dict[str, int]]:
    """Open ``path`` read-only and return (schema version, rows per table);
    :class:`BackupRefused` when it is not a complete database of this product."""
    p = Path(path)
    try:
        check_header(p)
        if p.stat().st_size == 0:
            raise DatabaseUnusable(f"文件 {p} 是空文件，不是数据库")
        con = duckdb.connect(str(p), read_only=True)
    except DatabaseUnusable as e:
        raise BackupRefused(_plain(str(e))) from e
    except duckdb.Error as e:
        raise BackupRefused(_plain(describe_failure(e, p))) from e
    try:
        v = check_schema(con, p)
        if v == 0:
            raise BackupRefused(f"文件 {p} 是空的 DuckDB 数据库，不是本系统的数据库")
        counts = _counts(con)
        for t in counts:  # read every block once: a damaged block fails here, not after the swap
            con.execute(f'SELECT bit_xor(hash(t)) FROM "{t}" AS t').fetchone()
    except DatabaseUnusable as e:
        raise BackupRefused(_plain(str(e))) from e
    except duckdb.Error as e:
        raise BackupRefused(_plain(describe_failure(e, p))) from e
    finally:
        con.close()
    return v, counts


def _refuse_server(db, what: str) -> None:
    """Backup and restore here are of the DuckDB file; a PostgreSQL database has its own tools."""
    from data import pg

    if pg.is_url(str(db)):
        tool = "pg_dump -Fc" if what == "备份" else "pg_restore --clean"
        raise BackupRefused(f"{pg.redact(str(db))} 是 PostgreSQL 数据库：本命令只{what} DuckDB 数据库文件。"
                            f"PostgreSQL 请用 {tool}（见 docs/deployment.md 的“备份与恢复”）")


def backup(db, out, *, wait: float | None = None) -> BackupResult:
    """Write a consistent, verified copy of the database ``db`` to ``out``
    (a file, or an existing folder: then ``<name>-<timestamp>.duckdb`` in it)."""
    _refuse_server(db, "备份")
    src = Path(db)
    if not src.exists():
        raise DatabaseMissing(f"数据库文件 {src} 不存在，无法备份")
    dst = Path(out)
    if dst.is_dir():
        dst = dst / f"{src.stem}-{_stamp()}{src.suffix or '.duckdb'}"
    if dst.exists() and dst.resolve() == src.resolve():
        raise BackupRefused("备份文件不能是数据库本身")
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"文件夹 {dst.parent} 不存在")
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    _remove(tmp, Path(f"{tmp}.wal"))

    con = open_connection(src, create=False, wait=wait, prepare=lambda c: check_schema(c, src))
    try:
        version = check_schema(con, src)
        counts = _counts(con)
        checkpoint(con)  # committed changes still in the log go into the file
        _copy(src, tmp)  # still holding the file: nobody writes meanwhile
        wal = Path(f"{src}.wal")
        if wal.exists() and wal.stat().st_size > 0:  # (not expected after a checkpoint)
            _copy(wal, Path(f"{tmp}.wal"))
    except BaseException:
        _remove(tmp, Path(f"{tmp}.wal"))
        raise
    finally:
        con.close()
    try:
        v2, counts2 = inspect_file(tmp)
        if (v2, counts2) != (version, counts):
            raise DatabaseUnusable(f"备份校验失败：副本与数据库内容不一致（{counts2} ≠ {counts}）")
        c = duckdb.connect(str(tmp))  # fold a copied log into the copy itself
        c.execute("CHECKPOINT")
        c.close()
        _remove(Path(f"{tmp}.wal"))
        os.replace(tmp, dst)
        _fsync_dir(dst.parent)
    except BackupRefused as e:
        raise DatabaseUnusable(f"备份校验失败：{e}") from e
    finally:
        _remove(tmp, Path(f"{tmp}.wal"))
    return BackupResult(dst, len(counts), sum(counts.values()), version)


class _FileLock:
    """Hold DuckDB's kind of lock (``fcntl``, whole file, for writing) on the database
    file, so no other program opens it while it is swapped."""

    def __init__(self, path: Path, wait: float | None):
        self.path, self.wait, self.fd = path, wait_seconds(wait), None

    def __enter__(self):
        if not self.path.exists():
            return self
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            return self
        self.fd = os.open(str(self.path), os.O_RDWR)
        deadline, delay = time.monotonic() + self.wait, 0.02
        while True:
            try:
                fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError:
                if time.monotonic() + delay > deadline:
                    pid = lock_holder(self.path)
                    os.close(self.fd)
                    self.fd = None
                    who = f"（进程号 {pid}）" if pid and pid > 0 else ""
                    raise DatabaseBusy(f"数据库 {self.path} 正被另一个程序{who}使用，等待后仍未释放，未恢复。请稍后再试")
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # releases the lock
            self.fd = None


def restore(db, file, *, wait: float | None = None) -> RestoreResult:
    """Replace the database ``db`` by the backup ``file`` (checked first); the
    replaced database is kept beside it as ``<name>.replaced-<timestamp><suffix>``."""
    _refuse_server(db, "恢复")
    target, src = Path(db), Path(file)
    if not src.is_file():
        raise FileNotFoundError(f"文件 {src} 不存在")
    if target.exists() and src.resolve() == target.resolve():
        raise BackupRefused("要恢复的文件就是当前数据库本身")
    version, counts = inspect_file(src)
    if version > len(MIGRATIONS):  # (check_schema already refuses; kept explicit)
        raise BackupRefused(f"文件 {src} 的结构版本 {version} 比本程序新")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restore-{os.getpid()}")
    _remove(tmp, Path(f"{tmp}.wal"))
    try:
        _copy(src, tmp)
        inspect_file(tmp)
        # let a running dashboard finish its action and fold its log into the file first
        if target.exists():
            try:
                open_connection(target, create=False, wait=wait, prepare=None).close()
            except DatabaseBusy:
                raise
            except DatabaseUnusable:
                pass  # a damaged or foreign current file: it is what is being replaced
        kept = None
        with _FileLock(target, wait):
            if target.exists():
                stem, suffix = target.stem, target.suffix
                kept = target.with_name(f"{stem}.replaced-{_stamp()}{suffix}")
                n = 1
                while kept.exists():
                    kept = target.with_name(f"{stem}.replaced-{_stamp()}-{n}{suffix}")
                    n += 1
                try:
                    os.link(target, kept)  # the old database stays reachable under its new name
                except OSError:  # pragma: no cover - a file system without hard links
                    _copy(target, kept)
                wal = Path(f"{target}.wal")
                if wal.exists():  # its log belongs to it, never to the restored file
                    os.replace(wal, Path(f"{kept}.wal"))
            os.replace(tmp, target)  # atomic: the path always names a complete database
            _fsync_dir(target.parent)
    finally:
        _remove(tmp, Path(f"{tmp}.wal"))
    return RestoreResult(target, kept, version, sum(counts.values()))
