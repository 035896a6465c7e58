"""Opening the database file safely, and sharing it between the app and the command line.

DuckDB lets one process at a time hold a database file for writing (a lock on
the file).  So that the dashboard, the command line and a second server can all
use the same file, nobody holds it longer than one action:

* :func:`open_connection` opens the file, waiting with backoff (at most
  ``GONGKAI_DB_WAIT`` seconds, default 10) while another program holds it, and
  says in Chinese what is wrong when the file cannot be used: held by another
  program (:class:`DatabaseBusy`, decided by asking the operating system who
  holds the lock, not by reading the error text), not a database of this product
  or damaged (:class:`DatabaseUnusable`), gone (:class:`DatabaseMissing`).
* :class:`Database` is the connection manager of a long-running process (the
  dashboard keeps one per file): it opens the file when the first action of
  the process needs it, shares that connection between concurrent actions
  (one cursor each), and closes it — releasing the file — as soon as the last
  action ends.  Writes go through :meth:`Database.writing`: one writer at a time
  in the process, the file checked to still be the one that was opened (a file
  deleted or replaced under the app is never written "into the void"), and a
  checkpoint before success is reported, so damaged blocks surface as an error.

The interface (``lease``/``connection``/``writing``/``version``) does not
mention DuckDB's file lock, so another backend (a database server) can
implement it with short transactions on pooled connections.
"""
from __future__ import annotations

import logging
import os
import struct
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

WAIT_ENV = "GONGKAI_DB_WAIT"
DEFAULT_WAIT = 10.0
#: seconds an idle dashboard keeps the file open after its last action (see bench/bench_pages.py)
DEFAULT_LINGER = 0.3
#: DuckDB's file header: 8 bytes of checksum, then the magic bytes
DUCKDB_MAGIC = b"DUCK"
RESTORE_HINT = "请管理员用最近的备份恢复（python -m data restore 备份文件）"


class DatabaseProblem(RuntimeError):
    """The database file cannot be used right now; the message is for the user (Chinese)."""


class DatabaseBusy(DatabaseProblem):
    """Another program holds the file (DuckDB allows one writing process) and did not let go in time."""


class DatabaseUnusable(DatabaseProblem):
    """Not a database of this product, a newer schema, or damaged."""


class DatabaseMissing(DatabaseUnusable):
    """The file this process was using has disappeared; it is not silently recreated empty."""


class DatabaseReplaced(DatabaseProblem):
    """The file was deleted or replaced while it was open; the write was not made."""


def wait_seconds(wait: float | None = None) -> float:
    if wait is not None:
        return max(0.0, float(wait))
    try:
        return max(0.0, float(os.environ.get(WAIT_ENV, DEFAULT_WAIT)))
    except ValueError:
        return DEFAULT_WAIT


def is_memory(path) -> bool:
    return str(path) in (":memory:", "")


def file_identity(path) -> tuple[int, int] | None:
    """(device, inode) of the file at ``path`` now, or None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


def file_token(path) -> tuple:
    """Changes whenever the file or its write-ahead log changes (cheap: two ``stat`` calls)."""
    out = []
    for p in (str(path), f"{path}.wal"):
        try:
            st = os.stat(p)
        except OSError:
            out.append(None)
        else:
            out.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


def lock_holder(path) -> int | None:
    """The process id holding a lock on ``path`` that keeps us from writing it
    (asked of the operating system with ``F_GETLK``; DuckDB locks with ``fcntl``),
    or None when nobody else holds one.  Locks of this very process are not seen."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS: cannot tell
        return None
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return None
    try:
        fmt = "hhqqi"  # struct flock on Linux: l_type, l_whence, l_start, l_len, l_pid
        res = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack(fmt, fcntl.F_WRLCK, 0, 0, 0, 0))
        l_type, _w, _s, _l, pid = struct.unpack(fmt, res)
        return (pid or -1) if l_type != fcntl.F_UNLCK else None
    except OSError:  # pragma: no cover - file system without locks
        return None
    finally:
        os.close(fd)


def check_header(path) -> None:
    """Refuse, before DuckDB sees it, a file that is not a DuckDB database at all."""
    p = Path(path)
    if not p.exists():
        return
    if not p.is_file():
        raise DatabaseUnusable(f"数据库路径 {p} 不是一个文件")
    try:
        with open(p, "rb") as fh:
            head = fh.read(12)
    except OSError as e:
        raise DatabaseUnusable(f"无法读取数据库文件 {p}：{e.strerror or e}") from e
    if len(head) == 0:
        return  # an empty file: DuckDB initialises it like a new database
    if len(head) < 12 or head[8:12] != DUCKDB_MAGIC:
        raise DatabaseUnusable(f"文件 {p} 不是本系统的数据库（不是 DuckDB 数据库文件）。"
                               f"请检查 --db / GONGKAI_DB 指向的文件；{RESTORE_HINT}")


def _busy_message(path, pid) -> str:
    who = f"（进程号 {pid}）" if pid and pid > 0 else ""
    return (f"数据库 {path} 正被另一个程序{who}使用（例如正在运行的看板或另一条命令正在写入），"
            f"等待后仍未释放。请稍后再试；需要更久的等待时可设置环境变量 {WAIT_ENV}（秒）")


def is_lock_conflict(exc: BaseException, path) -> bool:
    """Whether a failed open was a lock conflict: decided by asking who holds the file."""
    return isinstance(exc, duckdb.IOException) and lock_holder(path) is not None


def describe_failure(exc: BaseException, path=None) -> str:
    """A Chinese sentence for a DuckDB error met while using the file (never blames a lock)."""
    if isinstance(exc, DatabaseProblem):
        return str(exc)
    where = f" {path}" if path else ""
    return (f"数据库文件{where}无法读取或已损坏（{type(exc).__name__}: {exc}）。{RESTORE_HINT}")


def is_file_failure(exc: BaseException) -> bool:
    """Whether a DuckDB error says the file itself is unusable (damaged blocks, I/O
    failure, a database invalidated by a fatal error) rather than a mistake in a query."""
    return (isinstance(exc, (DatabaseProblem, duckdb.FatalException, duckdb.InternalException, duckdb.IOException))
            or type(exc) is duckdb.Error)


def _connect_once(path: str, read_only: bool):
    return duckdb.connect(path, read_only=read_only)


def open_connection(path, *, read_only: bool = False, create: bool = True, wait: float | None = None,
                    prepare=None) -> duckdb.DuckDBPyConnection:
    """Open ``path`` for this product: wait (with backoff, at most ``wait`` seconds) while
    another program holds it; refuse a file that is not ours; migrate the schema
    (``prepare(con)``, given by :mod:`data.store`) when opened for writing.

    ``create=False`` refuses a missing file instead of creating an empty database."""
    p = str(path)
    if is_memory(p):
        con = duckdb.connect(":memory:")
        if prepare is not None:
            prepare(con)
        return con
    if not create and not os.path.exists(p):
        raise DatabaseMissing(f"数据库文件 {p} 不存在（可能被删除或移走）；系统不会自动新建空数据库。{RESTORE_HINT}")
    deadline = time.monotonic() + wait_seconds(wait)
    delay = 0.02
    retried_unlocked = False
    while True:
        check_header(p)
        try:
            con = _connect_once(p, read_only)
            break
        except duckdb.Error as e:
            holder = lock_holder(p) if isinstance(e, duckdb.IOException) else None
            if holder is None:
                if isinstance(e, duckdb.IOException) and not retried_unlocked:
                    retried_unlocked = True  # the holder may have let go just now: try once more
                    continue
                raise DatabaseUnusable(describe_failure(e, p)) from e
            if time.monotonic() + delay > deadline:
                raise DatabaseBusy(_busy_message(p, holder)) from e
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        if prepare is not None:
            prepare(con)
        con.execute("SELECT 1").fetchall()  # end every pending result: no transaction left open
    except BaseException:
        try:
            con.close()
        except Exception:  # pragma: no cover
            pass
        raise
    return con


def checkpoint(con) -> None:
    """Write the log into the file now, so a write into a damaged file fails
    here (before success is reported) instead of silently at close."""
    try:
        for attempt in range(4):
            try:
                con.execute("CHECKPOINT")
                return
            except duckdb.TransactionException:  # another action's transaction is open
                if attempt == 3:
                    return  # its end, or closing the file, will checkpoint
                time.sleep(0.02)
    except duckdb.Error as e:
        raise DatabaseUnusable("保存没有完成：数据库文件已损坏，无法写入（"
                               f"{type(e).__name__}: {e}）。{RESTORE_HINT}") from e


class Database:
    """The connection manager of one database file for a long-running process.

    ``lease()``/``release()`` (or ``connection()``) bracket one action or one page
    run; the file is open only while some action holds a lease.  ``writing()``
    brackets a write: one writer at a time, identity of the file checked first,
    a checkpoint before success.  Thread-safe.
    """

    backend = "duckdb"

    def __init__(self, path, *, prepare=None, on_open=None, wait: float | None = None,
                 linger: float | None = None):
        self.path = str(path)
        # keep an idle file open this long (opening costs ~0.1 s; see bench/bench_pages.py)
        self.linger = DEFAULT_LINGER if linger is None else linger
        self._timer: threading.Timer | None = None
        self._generation = 0
        self._threads: dict = {}           # thread id -> (thread, leased cursor)
        self._orphans: list = []
        self._watcher: threading.Thread | None = None
        self._prepare = prepare            # schema check/migration, run on every open
        self._on_open = on_open            # e.g. fill the calendar; run once per file
        self._wait = wait
        self._mu = threading.Lock()        # guards the fields below
        self._write_lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._refs = 0
        self._cursors: list = []
        self._open_ident: tuple | None = None   # identity of the file the open connection holds
        self._known_ident: tuple | None = None  # identity of the file this process has used
        self._prepared_ident: tuple | None = None
        self.opens = 0                      # how many times the file was opened (for tests/benchmarks)

    # ---------------------------------------------------------------- leases
    def lease(self):
        """Open the file if needed and return a cursor of the shared connection;
        pair with :meth:`release`."""
        with self._mu:
            self._generation += 1  # cancels a pending idle close
            if self._con is not None and self._refs == 0 and not is_memory(self.path) \
                    and file_identity(self.path) != self._open_ident:
                self._close_now()  # the file was removed or replaced while idle: open it afresh
            if self._con is None:
                self._open()
            self._refs += 1
            try:
                cur = self._con.cursor()
            except BaseException:
                self._refs -= 1
                self._maybe_close()
                raise
            self._cursors.append(cur)
            return cur

    def release(self, cur=None) -> None:
        with self._mu:
            if self._refs <= 0:
                return
            self._refs -= 1
            if cur is not None:
                try:
                    self._cursors.remove(cur)
                except ValueError:
                    pass
                try:
                    cur.close()
                except Exception:
                    pass
            self._maybe_close()

    @contextmanager
    def connection(self):
        """One action's cursor; the file is released when no action needs it any more."""
        cur = self.lease()
        try:
            yield cur
        finally:
            self.release(cur)

    @property
    def is_open(self) -> bool:
        return self._con is not None

    @property
    def active(self) -> int:
        return self._refs

    def _open(self) -> None:
        create = self._known_ident is None
        con = open_connection(self.path, create=create, wait=self._wait, prepare=self._prepare)
        ident = file_identity(self.path) if not is_memory(self.path) else ("memory",)
        self._con, self._open_ident = con, ident
        self._known_ident = ident
        self.opens += 1
        if self._on_open is not None and self._prepared_ident != ident:
            try:
                self._on_open(con)
                con.execute("SELECT 1").fetchall()
            except Exception:  # preparing is a convenience; never keep the app from reading
                log.exception("preparing the database failed")
            self._prepared_ident = ident

    def _maybe_close(self) -> None:
        if self._refs > 0 or self._con is None:
            return
        if self.linger > 0:
            self._generation += 1
            gen = self._generation
            t = threading.Timer(self.linger, self._idle_close, args=(gen,))
            t.daemon = True
            self._timer = t
            t.start()
            return
        self._close_now()

    def _idle_close(self, gen: int) -> None:
        with self._mu:
            if gen == self._generation and self._refs == 0:
                self._close_now()

    def _close_now(self) -> None:
        if self._con is None:
            return
        con, self._con, self._cursors = self._con, None, []
        self._open_ident = None
        try:
            con.close()  # DuckDB checkpoints the write-ahead log here and releases the file
        except Exception:
            log.exception("closing the database failed")

    def close(self) -> None:
        """Close now whatever is open (tests, shutdown)."""
        with self._mu:
            self._refs = 0
            self._threads.clear()
            self._orphans = []
            self._generation += 1
            self._close_now()

    # ---------------------------------------------------------------- leases bound to a thread
    def thread_cursor(self):
        """A cursor for the calling thread's current piece of work (a dashboard page
        run: Streamlit runs each in its own thread).  The first call leases the file;
        the lease ends by :meth:`release_thread` or, at the latest, shortly after the
        thread has finished (a watcher checks every 50 ms), so a page that never says
        it is done still lets go of the file."""
        t = threading.current_thread()
        with self._mu:
            entry = self._threads.get(t.ident)
            if entry is not None and entry[0] is not t:
                entry = None  # a new thread reusing an old id; the watcher will drop the old lease
        if entry is None:
            cur = self.lease()
            with self._mu:
                old = self._threads.get(t.ident)
                self._threads[t.ident] = entry = (t, cur)
                if old is not None:
                    self._orphans.append(old[1])
                if self._watcher is None or not self._watcher.is_alive():
                    self._watcher = threading.Thread(target=self._watch, name="db-lease-watcher", daemon=True)
                    self._watcher.start()
        return entry[1].cursor()

    def release_thread(self) -> None:
        with self._mu:
            entry = self._threads.pop(threading.current_thread().ident, None)
        if entry is not None:
            self.release(entry[1])

    def _watch(self) -> None:
        while True:
            time.sleep(0.05)
            with self._mu:
                done = [k for k, (t, _c) in self._threads.items() if not t.is_alive()]
                ended = [self._threads.pop(k)[1] for k in done] + self._orphans
                self._orphans = []
                idle = not self._threads
            for cur in ended:
                self.release(cur)
            if idle:
                with self._mu:
                    if not self._threads:
                        self._watcher = None
                        return

    # ---------------------------------------------------------------- writes
    def check_identity(self) -> None:
        """Raise :class:`DatabaseReplaced` when the file at the path is no longer the open one."""
        if is_memory(self.path) or self._open_ident is None:
            return
        now = file_identity(self.path)
        if now is None:
            raise DatabaseReplaced(f"数据库文件 {self.path} 已被删除或移走，本次操作没有保存。"
                                   f"请管理员恢复数据库文件（{RESTORE_HINT}）后刷新页面")
        if now != self._open_ident:
            raise DatabaseReplaced(f"数据库文件 {self.path} 已被替换（例如刚从备份恢复），本次操作没有保存。"
                                   "请刷新页面，在新的数据上重新操作")

    @contextmanager
    def writing(self):
        """One write at a time in this process: the file must still be the one
        that was opened, and the changes are checkpointed into the file before
        the caller may report success."""
        with self._write_lock:
            cur = self.lease()
            try:
                self.check_identity()
                yield cur
                self.check_identity()
                self.checkpoint(cur)
            finally:
                self.release(cur)

    def checkpoint(self, cur) -> None:
        checkpoint(cur)

    # ---------------------------------------------------------------- cache keys
    def version(self) -> tuple:
        """Changes whenever anybody (this process, the command line, another server) changed the file."""
        return file_token(self.path) if not is_memory(self.path) else ()


class PgDatabase(Database):
    """The connection manager of a PostgreSQL database (:mod:`data.pg`): the same interface,
    but nothing to release between actions (the server handles many writers), so the
    store (its connection pool and this process's DuckDB copy) stays open; writes are
    transactions of the data layer; the cache key is the database's data version."""

    backend = "postgres"

    def __init__(self, url: str, *, opener, on_open=None):
        super().__init__(":memory:", on_open=on_open, linger=0)
        self.path = url
        self._opener = opener

    def _open(self) -> None:
        store = self._opener()
        self._con, self._open_ident = store, ("postgres",)
        self._known_ident = ("postgres",)
        self.opens += 1
        if self._on_open is not None and self._prepared_ident is None:
            cur = store.cursor()
            try:
                self._on_open(cur)
            except Exception:  # preparing is a convenience; never keep the app from reading
                log.exception("preparing the database failed")
            finally:
                cur.close()
            self._prepared_ident = ("postgres",)

    def lease(self):
        with self._mu:
            self._generation += 1
            if self._con is None:
                self._open()
            self._refs += 1
            cur = self._con.cursor(strict=False)  # one consistent state per action (page run)
            self._cursors.append(cur)
            return cur

    def _maybe_close(self) -> None:
        return  # the pool and the copy stay for the next action

    def check_identity(self) -> None:
        return

    def checkpoint(self, cur) -> None:
        return

    @contextmanager
    def writing(self):
        """A write: no lock in this process (the server takes many writers at once; the data
        layer's transactions lock what must be changed one at a time, e.g. a unit-year)."""
        cur = self.lease()
        try:
            yield cur
        finally:
            self.release(cur)

    def version(self) -> tuple:
        with self._mu:
            if self._con is None:
                self._open()
            store = self._con
        return ("postgres", store.data_version())
