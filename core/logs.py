"""One logging configuration for the app and the command lines.

``configure()`` sets our packages (``core``, ``data``, ``metrics``,
``dashboard``) to INFO (``GONGKAI_LOG_LEVEL``: DEBUG, INFO, WARNING… changes
it) and gives the root logger one handler writing to standard error with a time
stamp (other libraries keep their own levels).  It is idempotent: the
Streamlit app calls it on every rerun.
"""
from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
PACKAGES = ("core", "data", "metrics", "dashboard")
_MARK = "_gongkai_handler"


def configure(level: str | int | None = None) -> None:
    level = level or os.environ.get("GONGKAI_LOG_LEVEL") or "INFO"
    for name in PACKAGES:
        logging.getLogger(name).setLevel(level)
    root = logging.getLogger()
    if not any(getattr(h, _MARK, False) for h in root.handlers):
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter(FORMAT))
        setattr(h, _MARK, True)
        root.addHandler(h)
