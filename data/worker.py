"""Untrusted workbooks are read and validated in worker processes.

Every uploaded or imported file is hostile until read: a few kilobytes can
describe gigabytes of cells, or a structure that keeps a reader busy for
minutes. So the reading and validating of each file happens in a separate
worker process with a hard memory limit (``RLIMIT_AS``) and a time limit,
before the database is touched. A worker that runs out of memory, crashes,
or runs out of time is killed and replaced; its file gets a clear Chinese
refusal (:data:`UNSAFE_CODE`) and the caller goes on with the next file.

:class:`WorkerPool` keeps a few warm workers (one per core by default) and
checks a batch on all of them at once, handing the results back in the
order of the files, so that one writer can store them in order while the
workers read the next files. Each worker is a fresh interpreter
(``python -m data.worker``), never a fork of a threaded server.

Settings (environment): ``GONGKAI_WORKER_MEMORY_MB`` (default 512),
``GONGKAI_WORKER_SECONDS`` (default 30), ``GONGKAI_WORKERS`` (default: the
number of cores).
"""
from __future__ import annotations

import atexit
import datetime as dt
import importlib
import logging
import os
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterable, Iterator

from core.errors import Report, error

log = logging.getLogger(__name__)

DEFAULT_MEMORY_MB, DEFAULT_SECONDS = 512, 30
UNSAFE_CODE = "file_unsafe"


def _env_number(name: str, default: float) -> float:
    try:
        v = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return v if v > 0 else default


def memory_limit_mb() -> int:
    return int(_env_number("GONGKAI_WORKER_MEMORY_MB", DEFAULT_MEMORY_MB))


def time_limit_s() -> float:
    return _env_number("GONGKAI_WORKER_SECONDS", DEFAULT_SECONDS)


def worker_count() -> int:
    return max(1, int(_env_number("GONGKAI_WORKERS", os.cpu_count() or 1)))


def unsafe_issue(why: str):
    """The refusal of a file whose reading was stopped (``why``: what limit it hit)."""
    return error(UNSAFE_CODE, f"文件结构异常，无法安全读取（{why}，可能是损坏或恶意构造的文件），未保存任何数据："
                              f"请在 Excel 或 WPS 中打开，删除表格以外的行、列和无关的工作表后另存为 .xlsx 再上传")


@dataclass
class Task:
    """One file to read and validate: the registry of units and the day no date may be after."""
    file_name: str
    content: bytes
    units: dict
    today: dt.date


@dataclass
class Checked:
    """What a worker found: the typed submission (None when unreadable) and the report.
    ``peak_mb`` is the worker's peak resident memory so far."""
    sub: object
    report: Report
    peak_mb: float = 0.0


# --------------------------------------------------------------------------- the worker process

def check(task: Task) -> tuple[object, Report]:
    """Read and validate one file in this process (the worker's job)."""
    from data.reader import ReadError, read_workbook
    from data.validate import Context, validate
    from core.scheme import load_catalogue, load_schemes

    try:
        wb = read_workbook(task.file_name, task.content)
    except ReadError as e:
        return None, Report(list(e.issues))
    ctx = Context(task.units, load_schemes(), load_catalogue(), task.today)
    return validate(wb, ctx)


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM; getrusage would count the parent before exec)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _limit_memory(mb: int) -> None:
    try:
        import resource

        limit = int(mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # no such limit on this system: the time limit still holds
        pass


def _hook(spec: str | None) -> Callable | None:
    if not spec:
        return None
    mod, _, name = spec.partition(":")
    return getattr(importlib.import_module(mod), name)


def _serve(memory_mb: int, hook: str | None) -> None:
    """Loop of one worker process (``python -m data.worker MB [HOOK]``): tasks arrive on stdin,
    ``(task id, kind, payload)`` replies leave on stdout.

    kind ``ok`` carries a :class:`Checked`; ``memory`` says the file needed more than the limit
    (the worker then exits, a fresh one replaces it); ``error`` an unexpected failure."""
    from multiprocessing.connection import Connection

    rx, tx = Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False)
    # nothing else may write into the channel, and a reader that runs out of memory prints to
    # stderr: the caller reports every failure in Chinese instead
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    import data.validate  # noqa: F401  (imported before the limit: the code is not the file's fault)
    import core.scheme as ms

    ms.load_schemes()
    ms.load_catalogue()
    before = _hook(hook)
    _limit_memory(memory_mb)
    tx.send("ready")
    while True:
        try:
            msg = rx.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        tid, task = msg
        fatal = False
        try:
            if before is not None:
                before(task)
            sub, report = check(task)
            reply = (tid, "ok", Checked(sub, report, _peak_mb()))
        except MemoryError:
            reply, fatal = (tid, "memory", None), True
        except Exception:  # noqa: BLE001 - a bug of ours: its traceback goes to the caller, never fatal to the pool
            reply = (tid, "error", traceback.format_exc())
        task = msg = None
        try:
            tx.send(reply)
        except MemoryError:
            fatal = True
            try:
                tx.send((tid, "memory", None))
            except Exception:
                return
        except (EOFError, OSError):
            return
        if fatal:
            return


# --------------------------------------------------------------------------- the pool (caller side)

class _Worker:
    """One worker process: a fresh interpreter (never a fork of a threaded server), so that
    nothing of the caller — its modules, its memory, its threads — is inherited."""

    START_SECONDS = 120  # a fresh interpreter importing the reader, on a busy machine

    def __init__(self, memory_mb: int, hook: str | None):
        path = [p or os.getcwd() for p in sys.path]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        env.pop("PYTHONSTARTUP", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "data.worker", str(int(memory_mb)), hook or ""],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, close_fds=True)
        self.tx = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.rx = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()
        try:
            ok = self.rx.poll(self.START_SECONDS) and self.rx.recv() == "ready"
        except (EOFError, OSError):
            ok = False
        if not ok:
            self.kill()
            raise OSError("读取进程无法启动")

    def kill(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(10)
        except Exception:
            pass
        for c in (self.tx, self.rx):
            try:
                c.close()
            except Exception:
                pass


class WorkerPool:
    """Warm worker processes with a memory and a time limit per file; thread-safe
    (several sessions of a server may check files at the same time)."""

    def __init__(self, workers: int | None = None, memory_mb: int | None = None, seconds: float | None = None,
                 hook: str | None = None):
        self.workers = workers or worker_count()
        self.memory_mb = memory_mb or memory_limit_mb()
        self.seconds = seconds or time_limit_s()
        self.hook = hook  # "module:function" run in the worker before each file (tests)
        self._idle: list[_Worker] = []
        self._alive = 0
        self._cond = threading.Condition()
        self._closed = False
        #: peak resident memory (MB) reported by any worker, and how many workers were replaced
        self.peak_mb = 0.0
        self.replaced = 0

    # workers are borrowed for one task and given back
    def _acquire(self, block: bool) -> _Worker | None:
        with self._cond:
            while True:
                while self._idle:
                    w = self._idle.pop()
                    if w.proc.poll() is None:
                        return w
                    w.kill()  # died while idle (killed from outside): replaced by a fresh one
                    self._alive -= 1
                if self._alive < self.workers:
                    self._alive += 1
                    break
                if not block:
                    return None
                self._cond.wait()
        try:
            return _Worker(self.memory_mb, self.hook)
        except BaseException:
            with self._cond:
                self._alive -= 1
                self._cond.notify()
            raise

    def _release(self, w: _Worker, healthy: bool) -> None:
        if not healthy:
            w.kill()
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(w)
            else:
                self._alive -= 1
                if healthy:
                    w.kill()
            self._cond.notify()

    def check_many(self, tasks: Iterable[Task]) -> Iterator[Checked]:
        """Check every task on the workers, yielding one :class:`Checked` per task in the tasks' order.
        A file whose worker dies or runs out of time yields a refusal; the others go on."""
        it = iter(tasks)
        busy: dict[int, tuple[_Worker, float]] = {}
        done: dict[int, Checked] = {}
        sent = yielded = 0
        exhausted = False
        try:
            while True:
                while not exhausted:
                    try:
                        w = self._acquire(block=not busy)
                    except OSError:  # no worker could be started: the file cannot be read safely
                        w = False
                    if w is None:
                        break
                    try:
                        task = next(it)
                    except StopIteration:
                        exhausted = True
                        if w:
                            self._release(w, True)
                        break
                    if w:
                        try:
                            w.tx.send((sent, task))
                        except (OSError, ValueError):  # died while idle
                            self._release(w, False)
                            self.replaced += 1
                            w = False
                    if not w:
                        done[sent] = Checked(None, Report([unsafe_issue("读取进程无法启动")]))
                    else:
                        busy[sent] = (w, time.monotonic() + self.seconds)
                    sent += 1
                while yielded in done:
                    c = done.pop(yielded)
                    yielded += 1
                    yield c
                if exhausted and not busy:
                    return
                if not busy:
                    continue
                timeout = max(0.0, min(d for _, d in busy.values()) - time.monotonic())
                wait([w.rx for w, _ in busy.values()], timeout)
                now = time.monotonic()
                for tid, (w, deadline) in list(busy.items()):
                    result = self._collect(w, deadline, now)
                    if result is not None:
                        del busy[tid]
                        done[tid] = result
        finally:
            for w, _ in busy.values():  # abandoned half-way: those workers hold unread results
                self._release(w, False)

    def _collect(self, w: _Worker, deadline: float, now: float) -> Checked | None:
        """The result of a busy worker if it has one (or has failed); None while it is still working."""
        try:
            ready = w.rx.poll()
        except (OSError, ValueError):
            ready = True
        if ready:
            try:
                _tid, kind, payload = w.rx.recv()
            except (EOFError, OSError, ValueError, MemoryError):
                kind, payload = "died", None
            if kind == "ok":
                self.peak_mb = max(self.peak_mb, payload.peak_mb)
                self._release(w, True)
                return payload
            if kind == "error":  # the reader refuses damaged files itself: this is a bug of ours
                self._release(w, True)
                log.error("读取文件时程序内部错误（工作进程）：\n%s", payload)
                return Checked(None, Report([error("internal_error")]))
            self._release(w, False)
            self.replaced += 1
            why = f"读取时超出内存上限 {self.memory_mb} MB" if kind == "memory" else "读取进程异常终止"
            return Checked(None, Report([unsafe_issue(why)]))
        if w.proc.poll() is not None:
            self._release(w, False)
            self.replaced += 1
            return Checked(None, Report([unsafe_issue(f"读取时超出内存上限 {self.memory_mb} MB 或读取进程异常终止")]))
        if now >= deadline:
            self._release(w, False)
            self.replaced += 1
            return Checked(None, Report([unsafe_issue(f"读取超过 {self.seconds:g} 秒仍未完成")]))
        return None

    def check(self, task: Task) -> Checked:
        return next(iter(self.check_many([task])))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._alive -= len(idle)
        for w in idle:
            try:
                w.tx.send(None)
            except Exception:
                pass
            w.kill()


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def default_pool() -> WorkerPool:
    """The process's shared pool (created on first use, closed at exit)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = WorkerPool()
            atexit.register(_POOL.close)
        return _POOL


if __name__ == "__main__":  # a worker process; classes must be data.worker's, not this __main__'s
    from data.worker import _serve as serve

    serve(int(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else "") or None)
