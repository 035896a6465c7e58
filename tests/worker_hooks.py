"""Hooks run inside a worker process before it reads a file (tests of the worker limits).

Kept apart from the test modules: a worker imports this module before its memory
limit is set, and must not import the database or data-frame libraries with it."""
from __future__ import annotations

import os
import time


def hog_memory(task) -> None:
    """A file named hog* asks for 4 GB, as a reader expanding a hostile sheet would. The pages are
    never touched (no RAM is used); only the worker's address-space limit can refuse them, and then
    it fails as an allocator does, with MemoryError."""
    if task.file_name.startswith("hog"):
        import mmap

        try:
            task.hog = mmap.mmap(-1, 4 << 30)
        except OSError as e:
            raise MemoryError(str(e))


def die(task) -> None:
    """A file named die* kills its worker (as the kernel's OOM killer would)."""
    if task.file_name.startswith("die"):
        os.kill(os.getpid(), 9)


def hang(task) -> None:
    """A file named hang* keeps its worker busy past any time limit."""
    if task.file_name.startswith("hang"):
        time.sleep(600)


def render_or_die(job: tuple) -> tuple[bytes, str]:
    """A demo rendering job (tests of demo.generate._render_all): ``("die", pid)`` kills any process
    but ``pid`` (a rendering worker dies, as one killed by the kernel would)."""
    name, parent = job
    if name == "die" and os.getpid() != parent:
        os.kill(os.getpid(), 9)
    return name.encode(), ".xlsx"


def bug(task) -> None:
    """A file named bug* meets a bug of ours while it is read (not a damaged file)."""
    if task.file_name.startswith("bug"):
        raise RuntimeError("a bug in our code")
