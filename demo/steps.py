"""The hook for further demonstration steps.

:func:`demo.load.build_demo` loads the county (registry, every workbook through
the upload path, the reviewers' work, the accounts) and then calls each
function of :data:`AFTER_LOAD`, in order, as ``step(con, ctx)`` with a
:class:`DemoContext`. A step writes through the functions of ``data`` (never
raw SQL on the tables), dates its writes with ``with ctx.at(day):`` and may add
a line to ``ctx.summary["steps"]``. A step that raises aborts the build: the
demonstration database is built in a new file, so nothing is left half-done.

To add a step, write ``def my_step(con, ctx): ...`` in its own module of
``demo`` and append it to :data:`AFTER_LOAD` below.

Content that belongs *in the workbooks* (so that it goes through the reader and
the validator like a real upload) is added by the functions of
:data:`EXTRA_SHEETS`: called for every generated workbook as
``fn(rng, unit, submission, scheme)`` (``unit`` a :class:`data.registry.Unit`,
``submission`` the :class:`data.validate.Submission` being rendered), each
returns ``(sheet name, rows)`` — rows are lists of cell values, ``None`` for an
empty cell — or ``None`` for no sheet. The renderer adds the sheet (replacing a
sheet of that name the official template may already have). ``rng`` is the
function's own generator: adding a function changes nothing else in the county.
The sheet 年报数据 is not made here: it is part of the submission
(``submission.annual``, :mod:`demo.annual`) and :mod:`demo.render` draws it in
the published layout, merged cells included.
"""
from __future__ import annotations

import datetime as dt
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from data.store import as_of
from demo.closing import closing_step
from demo.generate import DemoFile, Story, Workdays


@dataclass
class DemoContext:
    seed: int
    story: Story
    calendar: Workdays
    files: list[DemoFile]
    unit_accounts: dict            # unit name -> account name (unit01 …)
    reviewer: str                  # the account the review decisions are made by
    say: Callable[[str], None]     # progress line for the operator
    summary: dict = field(default_factory=dict)

    def rng(self, name: str) -> random.Random:
        """A random generator of its own for one step (deterministic for the seed and name)."""
        return random.Random(f"{self.seed}:{name}")

    def time_on(self, day: dt.date, rng: random.Random | None = None) -> dt.datetime:
        """A time during office hours on ``day``."""
        r = rng or random.Random(f"{self.seed}:{day.isoformat()}")
        return dt.datetime(day.year, day.month, day.day, r.randint(8, 16), r.randint(0, 59), r.randint(0, 59))

    @contextmanager
    def at(self, day: dt.date | dt.datetime, rng: random.Random | None = None):
        """Record the writes inside the block as made on ``day`` (office hours) or at that time."""
        when = day if isinstance(day, dt.datetime) else self.time_on(day, rng)
        with as_of(when):
            yield when


Step = Callable[[object, DemoContext], None]
SheetStep = Callable[[random.Random, object, object, object], "tuple[str, list[list]] | None"]

#: the steps run after the county is loaded, in order
AFTER_LOAD: list[Step] = [closing_step]

#: functions adding a sheet to every generated workbook (see above), in order
EXTRA_SHEETS: list[SheetStep] = []
