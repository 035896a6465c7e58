"""Loading the demonstration county into a new database through the normal code paths.

:func:`build_demo` marks the database as a demo, loads the registry, ingests
every generated workbook as an upload would (:func:`data.ingest.ingest_uploads`),
plays the reviewers' part through :mod:`data.review` (returns, score
adjustments with reasons, one K1 penalty, approvals), creates the
demonstration accounts and runs the steps of :data:`demo.steps.AFTER_LOAD`.
Every write is dated at its historical time with :func:`data.store.as_of`.
"""
from __future__ import annotations

import datetime as dt
import importlib
import random
import threading
import time
from decimal import Decimal
from typing import Callable, Iterator

from data.ingest import ACCEPTED, Upload, ingest_uploads
from data.registry import load_units
from data.access import Actor
from data.review import set_penalties, set_review_score, set_status, snapshot
from data.store import mark_demo, transaction
from data.users import create_user
from demo import steps as demo_steps
from demo.accounts import REVIEWER, STAFF_ACCOUNTS, UNIT_PASSWORD, unit_account
from demo.closing import final_state
from demo.generate import SEED, DemoFile, Workdays, county_files, required_of, story_of, units, words
from data.calendar import ensure_calendar
from core.scheme import load_catalogue, scheme_for, years

DEMO_ACTOR = Actor("演示数据", "system")  # the generator acts as an administrator (data.access)
#: how many reviewer score adjustments the demo shows (spread over the years)
N_ADJUSTMENTS = 7


def build_demo(con, progress: Callable[[str], None] | None = None, seed: int = SEED,
               files: list[DemoFile] | None = None, after_load: list | None = None) -> dict:
    """Load the demonstration county into ``con`` (a new, empty database). Returns a summary dict.

    ``files`` may pass the result of ``generate_county(seed)`` when the caller already has it;
    ``after_load`` replaces :data:`demo.steps.AFTER_LOAD`. Keys of the summary: units, files, xls,
    outcomes ({outcome: count}), problems (files not accepted, expected empty), warnings,
    submissions, approved, returned (the reviewers' decisions while loading, before the steps), final_state
    (:func:`demo.closing.final_state` after every step), adjustments, penalty, missing, resubmitted, late, accounts
    ({name: (role, password)}), unit_accounts ({unit name: account name}), steps, seconds.
    """
    say = progress or (lambda s: None)
    t0 = time.monotonic()
    if con.execute("SELECT count(*) FROM units").fetchone()[0] or con.execute("SELECT count(*) FROM users").fetchone()[0]:
        raise ValueError("演示数据只能装入新建的空数据库")
    with transaction(con):
        mark_demo(con)  # before any demo content: no demo row ever sits in an unmarked database
    yrs = years()
    ensure_calendar(con)
    cal = Workdays.for_years(yrs[0], yrs[-1], con)
    if files is None:
        # the rendering processes start now and make the workbooks while the registry and the accounts
        # are loaded; each year's workbooks are then loaded while they make the next years'
        total, stream = county_files(seed, progress=say, cal=cal)
    us = units()
    accounts = {u.name: unit_account(i) for i, u in enumerate(us, start=1)}
    story = story_of(seed)
    ctx = demo_steps.DemoContext(seed=seed, story=story, calendar=cal, files=[], unit_accounts=accounts,
                                 reviewer=REVIEWER, say=say)
    rng = ctx.rng("load")
    setup_day = cal.sub(scheme_for(yrs[0]).year_end - dt.timedelta(days=20), 0)
    with ctx.at(setup_day, rng):
        load_units(con, us, actor=DEMO_ACTOR)
        # the accounts exist before anybody uploads or reviews
        for name, role, pw in STAFF_ACCOUNTS:
            create_user(con, name, role, pw, demo=True, actor=DEMO_ACTOR)
        for unit, name in accounts.items():
            create_user(con, name, "unit", UNIT_PASSWORD, unit=unit, demo=True, actor=DEMO_ACTOR)
    say(f"已导入单位名录：{len(us)} 个单位；已建演示账号 {len(STAFF_ACCOUNTS) + len(accounts)} 个")

    if files is not None:
        total, stream = len(files), iter(sorted(files, key=lambda f: f.year))  # stable: in order within a year
        say(f"已生成 {total} 份自评表（{sum(f.is_xls for f in files)} 份 .xls），开始逐份导入…")
    else:
        say(f"开始逐份导入 {total} 份自评表（后续年度的表格同时生成）…")
    ctx.files = files = []  # as they come, in the order generated
    # the closing step opens a workbook in this process (a returned unit's resubmission): its reader is
    # imported meanwhile, while this process mostly waits for the workbooks being rendered and read
    threading.Thread(target=importlib.import_module, args=("openpyxl",), daemon=True).start()
    outcomes, problems, warnings = _ingest_all(con, ctx, rng, stream, total, say)
    current = {(u, y): (sid, rec) for u, y, sid, rec in con.execute(
        """SELECT unit, year, arg_max(id, version), arg_max(received, version) FROM submissions GROUP BY ALL""").fetchall()}
    adjustments = _adjust_scores(con, ctx, rng, current)
    _penalty(con, ctx, rng, current)
    n_approved, n_returned = _decide_all(con, ctx, rng, current)

    ctx.summary["steps"] = []
    for step in (demo_steps.AFTER_LOAD if after_load is None else after_load):
        step(con, ctx)

    return {
        **ctx.summary,
        "final_state": final_state(con),  # after every step: what the county looks like now
        "units": len(us),
        "files": len(files),
        "xls": sum(f.is_xls for f in files),
        "outcomes": outcomes,
        "problems": problems,
        "warnings": warnings,
        "submissions": len(current),
        "approved": n_approved,
        "returned": n_returned,
        "adjustments": adjustments,
        "penalty": story.penalty,
        "missing": sorted(story.missing, key=lambda k: k[1]),
        "resubmitted": story.resubmit,
        "late": sorted(story.late | {story.very_late}, key=lambda k: k[1]),
        "accounts": {**{n: (r, pw) for n, r, pw in STAFF_ACCOUNTS},
                     **{name: ("unit", UNIT_PASSWORD) for name in accounts.values()}},
        "unit_accounts": accounts,
        "seconds": round(time.monotonic() - t0, 1),
    }


def _by_year(files: list[DemoFile], stream: Iterator[DemoFile]) -> Iterator[list[DemoFile]]:
    """The files of ``stream`` (ordered by year), one list per year as soon as all of that year's have
    come, in the order they reached the county (received, then generation order); every file is also
    appended to ``files``."""
    first = len(files)
    for f in stream:
        if len(files) > first and f.year != files[first].year:
            yield [files[i] for i in sorted(range(first, len(files)), key=lambda i: (files[i].received, i))]
            first = len(files)
        files.append(f)
    if len(files) > first:
        yield [files[i] for i in sorted(range(first, len(files)), key=lambda i: (files[i].received, i))]


def _ingest_all(con, ctx, rng: random.Random, stream: Iterator[DemoFile], total: int,
                say) -> tuple[dict, list, int]:
    """Every workbook through the upload path (:func:`data.ingest.ingest_uploads`), each with its
    received day, its unit's account and its own upload time; a year's files are stored a group per
    transaction, as a batch upload would be. A resubmission's version 1 is stored and returned
    before the new version comes."""
    outcomes: dict[str, int] = {}
    problems: list[str] = []
    warnings = n = 0
    batch: list[Upload] = []

    def store() -> None:
        nonlocal warnings, n
        for res in ingest_uploads(con, batch, raise_store_errors=True):
            n += 1
            outcomes[res.outcome] = outcomes.get(res.outcome, 0) + 1
            if res.outcome != ACCEPTED:
                problems.append(f"{res.file_name}: {res.outcome}: " + "；".join(
                    f"{x.location} {x.message}" for x in res.report.errors[:3]))
                continue
            warnings += len(res.report.warnings)
            if n % 25 == 0:
                say(f"  已导入 {n}/{total} 份")
        batch.clear()

    for year_files in _by_year(ctx.files, stream):
        for f in year_files:
            if f.version > 1:  # the reviewer returned version 1 before the unit sent the corrected one
                store()
                with ctx.at(ctx.calendar.sub(f.received, 1), rng):
                    set_status(con, f.unit, f.year, "return", _return_comment(con, f), ctx.reviewer,
                               seen=snapshot(con, f.unit, f.year))
            batch.append(Upload(f.file_name, f.content, f.received, actor=ctx.unit_accounts.get(f.unit),
                                today=f.received, at=ctx.time_on(f.received, rng)))
        store()
    return outcomes, problems, warnings


def _adjust_scores(con, ctx, rng: random.Random, current: dict) -> int:
    """Reviewer adjustments (absolute scores, with the reason the unit sees), before any approval."""
    w = words()
    story = ctx.story
    names = [u.name for u in units()]
    candidates = sorted((k for k in current if k not in story.returned and k != story.penalty),
                        key=lambda k: (k[1], names.index(k[0])))
    rng.shuffle(candidates)
    done = 0
    for k in candidates:
        if done >= N_ADJUSTMENTS:
            break
        sid, rec = current[k]
        rows = con.execute("SELECT code, score FROM self_scores WHERE submission_id = ? ORDER BY code", [sid]).fetchall()
        scheme = scheme_for(k[1])
        j1 = next((sc for c, sc in rows if c == "J1"), None)
        if j1 is not None and j1 >= 2:
            code, new, reason = "J1", j1 - 1, w["review"]["bonus_adjust"]
        else:
            full = [(c, sc) for c, sc in rows if scheme.indicator(c).type == "self" and sc == scheme.indicator(c).max
                    and scheme.indicator(c).max >= 2]
            if not full:
                continue
            code, sc = rng.choice(full)
            new = sc - Decimal(1)
            reason = w["review"]["adjust"].format(reason=w["reasons"].get(code, w["review"]["adjust_default"]))
        with ctx.at(ctx.calendar.add(rec, rng.randint(3, 8)), rng):
            set_review_score(con, sid, code, new, reason, ctx.reviewer, seen=snapshot(con, k[0], k[1]))
        done += 1
    return done


def _penalty(con, ctx, rng: random.Random, current: dict) -> None:
    unit, year = ctx.story.penalty
    _, rec = current[(unit, year)]
    with ctx.at(ctx.calendar.add(rec, 6), rng):
        set_penalties(con, unit, year, 1, False, words()["review"]["k1"].format(y=year), ctx.reviewer,
                      seen=snapshot(con, unit, year))


def _decide_all(con, ctx, rng: random.Random, current: dict) -> tuple[int, int]:
    story = ctx.story
    names = [u.name for u in units()]
    n_approved = n_returned = 0
    for k in sorted(current, key=lambda k: (k[1], names.index(k[0]))):
        _, rec = current[k]
        if k in story.returned:
            with ctx.at(ctx.calendar.add(rec, rng.randint(3, 8)), rng):
                set_status(con, k[0], k[1], "return", rng.choice(words()["review"]["return_comments"]), ctx.reviewer,
                           seen=snapshot(con, k[0], k[1]))
            n_returned += 1
        elif k in story.approved:
            with ctx.at(ctx.calendar.add(rec, rng.randint(10, 25)), rng):
                set_status(con, k[0], k[1], "approve", None, ctx.reviewer, seen=snapshot(con, k[0], k[1]))
            n_approved += 1
    return n_approved, n_returned


def _return_comment(con, f: DemoFile) -> str:
    """The reviewer's comment on version 1 of the resubmitted workbook (read back from the store)."""
    w = words()["review"]
    cat = load_catalogue()
    unit = next(u for u in units() if u.name == f.unit)
    required = required_of(scheme_for(f.year), unit)
    sid = con.execute("SELECT max(id) FROM submissions WHERE unit = ? AND year = ?", [f.unit, f.year]).fetchone()[0]
    have = {r[0] for r in con.execute(
        "SELECT DISTINCT category FROM ledger_items WHERE submission_id = ? AND published IS NOT NULL", [sid]).fetchall()}
    missing = [cat.by_code(c).name for c in required if c not in have]
    parts = []
    if missing:
        parts.append(w["resubmit_missing"].format(categories="、".join(missing)))
    parts.append(w["resubmit_b1"])
    return "；".join(parts) + w["resubmit_tail"]
