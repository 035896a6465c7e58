"""Load benchmark (not a test): several app replicas over one PostgreSQL database,
against one process over the DuckDB file.

    .venv/bin/python -m bench.bench_cluster [--units N] [--sessions N] [--seconds S] [--save]

A synthetic county (``--units``, one year, ``--items`` ledger rows per unit,
built with :mod:`bench.synth`) is put on a throw-away PostgreSQL server and in
a DuckDB file. Then simulated users ("sessions") run a mix of what the pages
do, through the normal data-layer and metrics functions and the connection
manager the app uses (:func:`data.store.manager`: ``connection()`` for a page,
``writing()`` for a write):

* ``upload``       — ``data.ingest.ingest_bytes`` of a generated workbook (a new
  version of a unit; 500 ledger rows, 30 requests);
* ``review_save``  — ``data.review.set_review_score`` with the ``data.review.snapshot``
  read on the page as ``seen`` (units are drawn from a small set, so two users
  sometimes save the same unit: the second gets :class:`StaleReview`, counted apart);
* ``score_year``   — ``metrics.engine.score_year`` of the year (the ranking page);
* ``scorecard``    — ``metrics.readouts.indicator_sheet`` of one unit;
* ``review_queue`` — ``metrics.readouts.review_queue`` of the year.

PostgreSQL: ``--replicas`` processes (default 2), the sessions split between
them as threads. While they run, one replica saves a probe score every half
second and the other, for every other probe, polls a read until it sees it
(a page's read: its action checks the data version and refreshes the copy),
and for the others watches its DuckDB copy directly, doing nothing to refresh
it (the background listener of :class:`data.pg.Listener`, or another user's
read, brings the change): the visibility delays across replicas. DuckDB: the same sessions as threads of one process (DuckDB
refuses a second writing process). Every session stops after ``--ops``
operations or ``--seconds``, whichever comes first.

Printed (and with ``--save`` written to docs/benchmarks/cluster.md): per
operation count, throughput, p50/p95 latency, errors and stale saves, the
ratios PostgreSQL/DuckDB, the visibility delay, and the refresh cost of each
replica's DuckDB copy (:class:`data.pg.Mirror`).
"""
from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import queue
import random
import shutil
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

YEAR = 2022
RECEIVED = dt.date(YEAR + 1, 1, 20)
OPS = ("upload", "review_save", "score_year", "scorecard", "review_queue")
WEIGHTS = {"upload": 1, "review_save": 3, "score_year": 2, "scorecard": 3, "review_queue": 2}
HOT_UNITS = 12          # reviewer saves go to this many units (so that two users sometimes meet)
PROBE_EVERY = 0.5       # seconds between two probe writes
PROBE_TIMEOUT = 10.0
COPIED = ("users", "units", "submissions", "workflow", "self_scores", "ledger_items", "requests")
PROJECT = Path(__file__).resolve().parent.parent
DOC = PROJECT / "docs" / "benchmarks" / "cluster.md"


def unit_name(i: int) -> str:
    return "单位" + str(i).rjust(5, "0")          # as bench.synth names them


def unit_type(i: int) -> str:
    return "乡镇" if i % 4 == 0 else "部门"


# --------------------------------------------------------------------------- the data

def reviewer(g: int) -> str:
    """The account of simulated user ``g`` (numbered across the replicas)."""
    return f"reviewer{g:03d}"


PROBE_ACCOUNT = "probe"


def build_file(path: Path, units: int, items: int, sessions: int) -> dict:
    """The synthetic county in a DuckDB file; every unit-year open for review (待审核);
    a reviewer account per simulated user."""
    from bench.synth import build_province
    from data.access import SYSTEM
    from data.users import create_user

    con, stats = build_province(path, units=units, years=(YEAR,), items=items)
    con.execute("UPDATE workflow SET status = '待审核'")
    # the ids were written explicitly: move the sequence past them (DuckDB has no setval)
    con.execute("SELECT max(nextval('submission_id_seq')) FROM range((SELECT max(id) FROM submissions))").fetchall()
    for name in [PROBE_ACCOUNT] + [reviewer(g) for g in range(sessions)]:
        create_user(con, name, "reviewer", "Bench-2022-load!", actor=SYSTEM)
    stats["submitted"] = sorted(int(r[0][2:]) for r in con.execute(
        "SELECT DISTINCT unit FROM submissions WHERE year = ?", [YEAR]).fetchall())
    con.execute("CHECKPOINT")
    con.close()
    return stats


def copy_to_pg(path: Path, url: str) -> float:
    """The file's synthetic tables into the (migrated, empty) PostgreSQL database ``url``."""
    import duckdb

    from data.store import connect

    t = time.perf_counter()
    src = duckdb.connect(str(path), read_only=True)
    dst = connect(url)
    try:
        dst.execute("BEGIN")
        for table in COPIED:
            rows = src.sql(f"SELECT * FROM {table}").to_arrow_table()
            names = ", ".join(f'"{c}"' for c in rows.column_names)
            dst.register("_bench_rows", rows)
            dst.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _bench_rows")
            dst.unregister("_bench_rows")
        dst.execute("SELECT setval('submission_id_seq', (SELECT max(id) FROM submissions))")
        dst.execute("COMMIT")
    finally:
        dst.close()
        src.close()
    return time.perf_counter() - t


def workbook(unit: int, salt: int) -> bytes:
    from bench.bench_ingest import typical_sheets
    from tests.wbfactory import build, info_sheet

    name = unit_name(unit)
    sheets = typical_sheets(name, YEAR, salt=salt)
    sheets["单位信息"] = info_sheet(unit=name, unit_type=unit_type(unit), year=YEAR, date=f"{YEAR + 1}-01-05")
    return build(sheets, "xlsx")


# --------------------------------------------------------------------------- one replica

def replica(target: str, rid: int, users: list, cfg: dict, ready, start, results, probe_q) -> None:
    """One app process: ``users`` ((number, workbooks) of each simulated user) as threads;
    results put on ``results``."""
    try:
        results.put(_replica(target, rid, users, cfg, ready, start, probe_q))
    except BaseException:
        results.put({"rid": rid, "fatal": traceback.format_exc()})


def _replica(target, rid, users, cfg, ready, start, probe_q) -> dict:
    from data import pg
    from data.ingest import ACCEPTED, check_workbook, ingest_bytes
    from data.review import StaleReview, current_submission, set_review_score, snapshot
    from data.store import manager
    from metrics.engine import score_year
    from metrics.readouts import indicator_sheet, review_queue
    from core.scheme import scheme_for

    is_pg = pg.is_url(target)
    sync_times: list[float] = []
    version_checks: list[float] = []
    refresh_calls: list[float] = []   # every read's call of the copy's refresh, waiting included
    lock_waits: list[float] = []      # time to get this process's write lock (db.writing())
    lock_holds: list[float] = []      # time it is held (the write itself)
    if is_pg:  # instrument this process's copy: the cost of each refresh, of each version check
        orig_refresh, orig_version = pg.Mirror.refresh, pg.PgConnection.data_version
        orig_work = pg.Mirror._refresh

        def by_reader() -> bool:   # a page's read, not the background listener
            return threading.current_thread().name != "gongkai-pg-listener"

        def refresh(self, version, **kw):
            t = time.perf_counter()
            try:
                orig_refresh(self, version, **kw)
            finally:
                if by_reader():
                    refresh_calls.append(time.perf_counter() - t)

        def work(self, whole=False):   # the refresh itself (under the copy's lock: one at a time)
            t = time.perf_counter()
            try:
                orig_work(self, whole)
            finally:
                sync_times.append(time.perf_counter() - t)

        def data_version(self):
            t = time.perf_counter()
            try:
                return orig_version(self)
            finally:
                if by_reader():
                    version_checks.append(time.perf_counter() - t)

        pg.Mirror.refresh, pg.Mirror._refresh, pg.PgConnection.data_version = refresh, work, data_version

    db = manager(target)
    plain_writing = db.writing

    @contextmanager
    def writing():
        t = time.perf_counter()
        with plain_writing() as cur:
            got = time.perf_counter()
            lock_waits.append(got - t)
            try:
                yield cur
            finally:
                lock_holds.append(time.perf_counter() - got)

    db.writing = writing
    with db.connection() as c:
        score_year(c, YEAR)  # warm: the copy, the engine's first run, the worker pool
        if users and users[0][1]:
            check_workbook(c, "warm.xlsx", users[0][1][0][1], today=RECEIVED)
    probe_unit, pool = cfg["probe_unit"], cfg["pool"]
    hot = pool[:HOT_UNITS]
    codes = [(i.code, float(i.max)) for i in scheme_for(YEAR).self_indicators if i.code != "J1" and i.max >= 1]


    records: list[tuple[str, float, str]] = []   # (operation, seconds, ok | stale | error)
    errors: list[str] = []
    mu = threading.Lock()
    stop_at = [0.0]

    def user(g: int, books: list) -> None:
        r = random.Random(cfg["seed"] * 10000 + g)   # the same user does the same things on both backends
        mine = list(books)
        for _ in range(cfg["ops"]):
            if time.monotonic() >= stop_at[0]:
                return
            ops = [o for o in OPS if o != "upload" or mine]
            op = r.choices(ops, weights=[WEIGHTS[o] for o in ops])[0]
            status = "ok"
            t = time.perf_counter()
            try:
                if op == "upload":
                    u, content = mine.pop()
                    # as the upload page: read and validated in the worker pool, the write lock held only
                    # while the file is stored
                    with db.connection() as c:
                        res = ingest_bytes(c, f"{unit_name(u)}.xlsx", content, received=RECEIVED,
                                           actor=reviewer(g), write_lock=db.writing)
                    if res.outcome != ACCEPTED:
                        raise RuntimeError(f"upload {res.outcome}: {res.report.rows()[:2]}")
                elif op == "review_save":
                    u = unit_name(r.choice(hot))
                    code, mx = r.choice(codes)
                    with db.connection() as c:          # the page: what the reviewer sees, then the click
                        seen = snapshot(c, u, YEAR)
                        sub = current_submission(c, u, YEAR)
                        time.sleep(r.uniform(0, 0.02))
                        with db.writing():              # as the review page's write
                            set_review_score(c, sub.id, code, r.randrange(0, int(mx * 2) + 1) / 2, "基准测试调整",
                                             reviewer(g), seen=seen)
                elif op == "score_year":
                    with db.connection() as c:
                        score_year(c, YEAR)
                elif op == "scorecard":
                    with db.connection() as c:
                        indicator_sheet(c, YEAR, unit_name(r.choice(pool)))
                else:
                    with db.connection() as c:
                        review_queue(c, YEAR)
            except StaleReview:
                status = "stale"
            except Exception as e:
                status = "error"
                with mu:
                    errors.append(f"{op}: {type(e).__name__}: {str(e)[:300]}")
            with mu:
                records.append((op, time.perf_counter() - t, status))

    probe_delays: list[float] = []    # seen by a read of a page (its action's version check refreshes first)
    copy_delays: list[float] = []     # seen in the copy itself, nothing done on this replica to get it there
    probe_missed = [0]
    probe_code, probe_max = codes[0]

    def probe_writer() -> None:
        k = 0
        while time.monotonic() + PROBE_EVERY < stop_at[0]:
            time.sleep(PROBE_EVERY)
            k += 1
            value = probe_max if k % 2 else probe_max - 0.5
            try:
                with db.connection() as c:
                    seen = snapshot(c, unit_name(probe_unit), YEAR)
                    sub = current_submission(c, unit_name(probe_unit), YEAR)
                    with db.writing():
                        set_review_score(c, sub.id, probe_code, value, "可见性探测", PROBE_ACCOUNT, seen=seen)
                probe_q.put((sub.id, value, time.monotonic(), k))
            except Exception as e:
                with mu:
                    errors.append(f"probe write: {type(e).__name__}: {e}")
        probe_q.put(None)

    def probe_reader() -> None:
        while True:
            try:
                item = probe_q.get(timeout=cfg["seconds"] + 60)
            except queue.Empty:
                return
            if item is None:
                return
            sub_id, value, t0, k = item
            passive = k % 2 == 1   # every other probe: watch the copy only (no action of the probe's own)
            while True:
                if passive:
                    cur = db._con.mirror.cursor()
                    try:
                        row = cur.execute("SELECT score FROM review_scores WHERE submission_id = ? AND code = ?",
                                          [sub_id, probe_code]).fetchone()
                    finally:
                        cur.close()
                else:
                    with db.connection() as c:
                        row = c.execute("SELECT score FROM review_scores WHERE submission_id = ? AND code = ?",
                                        [sub_id, probe_code]).fetchone()
                if row is not None and float(row[0]) == value:
                    (copy_delays if passive else probe_delays).append(time.monotonic() - t0)
                    break
                if time.monotonic() - t0 > PROBE_TIMEOUT:
                    probe_missed[0] += 1
                    break
                time.sleep(0.002)

    syncs_before, checks_before, calls_before = len(sync_times), len(version_checks), len(refresh_calls)
    waits_before, holds_before = len(lock_waits), len(lock_holds)
    ready.put(rid)
    start.wait()
    began = time.monotonic()
    stop_at[0] = began + cfg["seconds"]
    threads = [threading.Thread(target=user, args=u) for u in users]
    if probe_q is not None:
        threads.append(threading.Thread(target=probe_writer if rid == 0 else probe_reader))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    ended = time.monotonic()
    out = {"rid": rid, "records": records, "errors": errors, "began": began, "ended": ended,
           "probe_delays": probe_delays, "copy_delays": copy_delays, "probe_missed": probe_missed[0],
           "lock_waits": lock_waits[waits_before:],
           "lock_holds": lock_holds[holds_before:]}
    if is_pg:
        lis = db._con.listener
        out["listener"] = (lis.notices, lis.refreshes, lis.connects) if lis is not None else None
        out["sync_times"] = sync_times[syncs_before:]
        out["version_checks"] = version_checks[checks_before:]
        out["refresh_calls"] = refresh_calls[calls_before:]
    db.close()
    return out


# --------------------------------------------------------------------------- one refresh, looked into

def refresh_anatomy(url: str) -> list[tuple[str, float, list]]:
    """What a replica's copy does after one write of another replica: (write, refresh seconds,
    [(statement, seconds, rows)] slowest first), for a review save and for an upload."""
    from data import pg
    from data.ingest import ingest_bytes
    from data.review import current_submission, set_review_score, snapshot
    from data.store import pg_store

    fetches: list[tuple[str, float, int]] = []
    orig = pg.Mirror._fetch

    def fetch(self, cur, sql, params=None):
        t = time.perf_counter()
        rows = orig(self, cur, sql, params)
        fetches.append((" ".join(sql.split())[:90], time.perf_counter() - t, rows.num_rows))
        return rows

    writer, reader = pg_store(url), pg_store(url)
    out = []
    try:
        w = writer.cursor()
        r = reader.cursor()
        r.refresh()
        unit = w.execute("SELECT max(unit) FROM submissions").fetchone()[0]  # far from the hot units
        path_unit = int(unit[2:])
        for label in ("review save", "upload"):
            if label == "review save":
                seen = snapshot(w, unit, YEAR)
                sub = current_submission(w, unit, YEAR)
                set_review_score(w, sub.id, _first_code(), 0,
                                 "刷新测量", PROBE_ACCOUNT, seen=seen)
            else:
                ingest_bytes(w, f"{unit}.xlsx", workbook(path_unit, salt=999), received=RECEIVED, actor=PROBE_ACCOUNT)
            fetches.clear()
            pg.Mirror._fetch = fetch
            t = time.perf_counter()
            try:
                r.refresh()
            finally:
                pg.Mirror._fetch = orig
            out.append((label, time.perf_counter() - t, sorted(fetches, key=lambda x: -x[1])))
        w.close()
        r.close()
    finally:
        writer.close()
        reader.close()
    return out


# --------------------------------------------------------------------------- visibility without load

QUIET_PROBES = 30
QUIET_EVERY = 0.3


def _watcher(url: str, probes, delays) -> None:
    """Another replica (a process of its own, the dashboard's manager): waits for each probe in its
    DuckDB copy, read directly (nothing done here to refresh it: the listener does); puts the delays."""
    try:
        from data.store import manager
        from metrics.engine import score_year

        db = manager(url)
        with db.connection() as c:
            score_year(c, YEAR)   # warm, as a replica that has served pages
        delays.put("ready")
        while (item := probes.get(timeout=120)) is not None:
            sub_id, code, value, t0 = item
            while True:
                cur = db._con.mirror.cursor()
                try:
                    row = cur.execute("SELECT score FROM review_scores WHERE submission_id = ? AND code = ?",
                                      [sub_id, code]).fetchone()
                finally:
                    cur.close()
                if row is not None and float(row[0]) == value:
                    delays.put(time.monotonic() - t0)
                    break
                if time.monotonic() - t0 > PROBE_TIMEOUT:
                    delays.put(None)
                    break
                time.sleep(0.001)
        lis = db._con.listener
        delays.put(("listener", lis.notices, lis.refreshes))
        db.close()
    except BaseException:
        delays.put(("fatal", traceback.format_exc()))


def quiet_visibility(url: str, cfg: dict) -> dict:
    """Save→visible on another replica with no other load: a review score saved through this
    process's manager every QUIET_EVERY s, watched in the other replica's copy."""
    from data.review import current_submission, set_review_score, snapshot
    from data.store import manager

    ctx = mp.get_context("spawn")
    probes, delays = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=_watcher, args=(url, probes, delays))
    proc.start()
    out = {"delays": [], "missed": 0, "listener": None}
    db = manager(url)
    try:
        first = delays.get(timeout=300)
        if first != "ready":
            raise SystemExit(f"the watching replica failed: {first}")
        unit, code = unit_name(cfg["probe_unit"]), _first_code()
        for k in range(QUIET_PROBES):
            time.sleep(QUIET_EVERY)
            value = 1.0 if k % 2 else 0.5
            with db.connection() as c:
                seen = snapshot(c, unit, YEAR)
                sub = current_submission(c, unit, YEAR)
                with db.writing():
                    set_review_score(c, sub.id, code, value, "可见性探测", PROBE_ACCOUNT, seen=seen)
            probes.put((sub.id, code, value, time.monotonic()))
            d = delays.get(timeout=PROBE_TIMEOUT + 60)
            if d is None:
                out["missed"] += 1
            elif isinstance(d, tuple):
                raise SystemExit(f"the watching replica failed: {d}")
            else:
                out["delays"].append(d)
        probes.put(None)
        tail = delays.get(timeout=60)
        if isinstance(tail, tuple) and tail[0] == "listener":
            out["listener"] = tail[1:]
    finally:
        db.close()
        proc.join(timeout=60)
        if proc.is_alive():
            proc.terminate()
    return out


def _first_code() -> str:
    from core.scheme import scheme_for

    return next(i.code for i in scheme_for(YEAR).self_indicators if i.code != "J1" and i.max >= 1)


# --------------------------------------------------------------------------- a run

def run(target: str, replicas: int, sessions: int, cfg: dict) -> dict:
    ctx = mp.get_context("spawn")
    ready, results, start = ctx.Queue(), ctx.Queue(), ctx.Event()
    probe_q = ctx.Queue() if replicas > 1 else None
    users = list(enumerate(cfg["books"]))
    procs = [ctx.Process(target=replica, args=(target, i, users[i::replicas], cfg, ready, start, results, probe_q))
             for i in range(replicas)]
    for p in procs:
        p.start()
    outs = []
    waiting = replicas
    while waiting:  # every replica warm and its workbooks made (or failed)
        try:
            ready.get(timeout=1)
            waiting -= 1
        except queue.Empty:
            while True:
                try:
                    outs.append(results.get_nowait())
                except queue.Empty:
                    break
            if any("fatal" in o for o in outs):
                break
            if not any(p.is_alive() for p in procs):
                raise SystemExit("a replica ended before starting")
    start.set()
    while len(outs) < replicas:
        outs.append(results.get(timeout=cfg["seconds"] + 600))
    for p in procs:
        p.join(timeout=60)
    fatal = [o["fatal"] for o in outs if "fatal" in o]
    if fatal:
        raise SystemExit("a replica failed:\n" + "\n".join(fatal))
    return summarise(outs)


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def summarise(outs: list[dict]) -> dict:
    wall = max(o["ended"] for o in outs) - min(o["began"] for o in outs)
    recs = [r for o in outs for r in o["records"]]
    per = {}
    for op in (*OPS, "all"):
        mine = [r for r in recs if op == "all" or r[0] == op]
        ok = [r[1] for r in mine if r[2] == "ok"]
        per[op] = {"count": len(mine), "ok": len(ok), "per_s": len(ok) / wall if wall else 0.0,
                   "p50": pct(ok, 0.5), "p95": pct(ok, 0.95),
                   "errors": sum(r[2] == "error" for r in mine), "stale": sum(r[2] == "stale" for r in mine)}
    res = {"wall": wall, "ops": per, "errors": [e for o in outs for e in o["errors"]],
           "probe": [d for o in outs for d in o["probe_delays"]],
           "copy_probe": [d for o in outs for d in o.get("copy_delays", [])],
           "listeners": [o.get("listener") for o in outs],
           "probe_missed": sum(o["probe_missed"] for o in outs)}
    res["lock_waits"] = [o["lock_waits"] for o in outs]
    res["lock_holds"] = [o["lock_holds"] for o in outs]
    if any("sync_times" in o for o in outs):
        res["syncs"] = [o.get("sync_times", []) for o in outs]
        res["checks"] = [o.get("version_checks", []) for o in outs]
        res["calls"] = [o.get("refresh_calls", []) for o in outs]
    return res


# --------------------------------------------------------------------------- the report

def ms(v: float) -> str:
    return "–" if v != v else f"{v * 1000:.0f}"


def report(cfg: dict, setup: dict, pgr: dict, dkr: dict, anatomy=(), quiet=None) -> str:
    names = {"upload": "上传 upload", "review_save": "审核保存 review save", "score_year": "排名 score_year",
             "scorecard": "单位得分 scorecard", "review_queue": "审核队列 review queue", "all": "合计 all"}
    lines = [
        "# Load benchmark: replicas on PostgreSQL vs one process on the DuckDB file",
        "",
        f"`python -m bench.bench_cluster --units {cfg['units']} --sessions {cfg['sessions']} "
        f"--seconds {cfg['seconds']:g} --ops {cfg['ops']} --replicas {cfg['replicas']} --items {cfg['items']}`, "
        f"measured {dt.date.today().isoformat()}.",
        "",
        f"Machine: {os.cpu_count()} cores shared with other jobs running at the same time "
        f"({platform.python_implementation()} {platform.python_version()}); the figures are upper bounds "
        "of latency and lower bounds of throughput. PostgreSQL: a private local cluster without fsync.",
        "",
        f"Data: {setup['units']} units, one year ({YEAR}), {setup['submissions']} submissions, "
        f"{setup['ledger_items']:,} ledger rows, {setup['requests']:,} requests. "
        f"{cfg['sessions']} simulated users: PostgreSQL = {cfg['replicas']} replica processes × threads, "
        f"DuckDB file = threads of one process. Each user stops after {cfg['ops']} operations or "
        f"{cfg['seconds']:g} s, without pausing between operations (a closed loop: the machine is saturated, "
        "so latencies include queueing). The same users do the same operations, with the same workbooks, on both "
        "backends. Mix (weights): " + ", ".join(f"{k} {v}" for k, v in WEIGHTS.items()) + ".",
        "",
        "| operation | PG count | PG ops/s | PG p50 ms | PG p95 ms | PG errors | PG stale "
        "| file count | file ops/s | file p50 ms | file p95 ms | file errors | file stale "
        "| ops/s PG÷file | p95 PG÷file |",
        "|---|" + "---:|" * 14,
    ]
    for op in (*OPS, "all"):
        a, b = pgr["ops"][op], dkr["ops"][op]
        thr = a["per_s"] / b["per_s"] if b["per_s"] else float("nan")
        lat = a["p95"] / b["p95"] if b["p95"] and b["p95"] == b["p95"] else float("nan")
        lines.append(f"| {names[op]} | {a['count']} | {a['per_s']:.1f} | {ms(a['p50'])} | {ms(a['p95'])} | "
                     f"{a['errors']} | {a['stale']} | {b['count']} | {b['per_s']:.1f} | {ms(b['p50'])} | "
                     f"{ms(b['p95'])} | {b['errors']} | {b['stale']} | {thr:.2f} | {lat:.2f} |")
    lines += ["", f"Wall time of the load: PostgreSQL {pgr['wall']:.1f} s, DuckDB file {dkr['wall']:.1f} s.", ""]
    p, cp = pgr["probe"], pgr["copy_probe"]
    lines.append(f"Visibility across replicas (a review score saved on replica 0 every {PROBE_EVERY:g} s; on replica 1 "
                 f"every other probe polled every 2 ms by a page read until it shows it): {len(p)} probes, "
                 f"p50 {ms(pct(p, 0.5))} ms, p95 {ms(pct(p, 0.95))} ms, max {ms(max(p) if p else float('nan'))} ms; "
                 f"the other probes watched in replica 1's DuckDB copy directly, no action there to refresh it "
                 f"(brought by the background listener, LISTEN/NOTIFY, or another user's page read): {len(cp)} probes, "
                 f"p50 {ms(pct(cp, 0.5))} ms, p95 {ms(pct(cp, 0.95))} ms, max {ms(max(cp) if cp else float('nan'))} ms. "
                 f"Not seen within {PROBE_TIMEOUT:g} s: {pgr['probe_missed']}. "
                 "(One process on the file: a write is visible to the next read.)")
    if quiet is not None:
        q = quiet["delays"]
        lis = quiet["listener"]
        lines.append(f"Visibility across replicas without load (after the load; {len(q)} review saves on one "
                     f"replica every {QUIET_EVERY:g} s, each watched in another replica's DuckDB copy directly, "
                     f"nothing done there to refresh it: its background listener): p50 {ms(pct(q, 0.5))} ms, "
                     f"p95 {ms(pct(q, 0.95))} ms, max {ms(max(q) if q else float('nan'))} ms; not seen within "
                     f"{PROBE_TIMEOUT:g} s: {quiet['missed']}"
                     + (f"; that listener received {lis[0]} announcements and refreshed {lis[1]} times." if lis else "."))
    for i, lis in enumerate(pgr.get("listeners", [])):
        if lis:
            lines.append(f"Replica {i}'s listener: {lis[0]} announcements received, {lis[1]} background refreshes, "
                         f"{lis[2]} connection(s).")
    lines.append("")
    for i, (st, ck, ca) in enumerate(zip(pgr.get("syncs", []), pgr.get("checks", []), pgr.get("calls", []))):
        lines.append(f"Replica {i}: DuckDB copy refreshed {len(st)} times (by page reads and the listener), p50 {ms(pct(st, 0.5))} ms, "
                     f"p95 {ms(pct(st, 0.95))} ms, max {ms(max(st) if st else float('nan'))} ms, "
                     f"total {sum(st):.1f} s of the {pgr['wall']:.1f} s; reads of the copy: "
                     f"{len(ca)}, each first reads the data version from PostgreSQL (p50 {ms(pct(ck, 0.5))} ms, "
                     f"p95 {ms(pct(ck, 0.95))} ms, {len(ck)} reads) and then waits in the copy's refresh (for "
                     f"one under way or its own): p50 {ms(pct(ca, 0.5))} ms, p95 {ms(pct(ca, 0.95))} ms, "
                     f"{sum(ca):.1f} s in all.")
    for label, r in (("PostgreSQL", pgr), ("DuckDB file", dkr)):
        w = [x for ws in r["lock_waits"] for x in ws]
        h = [x for hs in r["lock_holds"] for x in hs]
        lines.append(f"{label}: the process's write lock (`writing()`, one writer per process on both backends): "
                     f"{len(w)} writes waited for it p50 {ms(pct(w, 0.5))} ms, p95 {ms(pct(w, 0.95))} ms "
                     f"({sum(w):.1f} s in all) and held it p50 {ms(pct(h, 0.5))} ms, p95 {ms(pct(h, 0.95))} ms "
                     f"({sum(h):.1f} s in all).")
    for label, total, fetches in anatomy:
        top = "; ".join(f"`{q}` {x * 1000:.0f} ms, {n:,} rows" for q, x, n in fetches[:4])
        lines.append(f"After one {label} on another process (load over): the copy's refresh took {total * 1000:.0f} ms "
                     f"in all, {len(fetches)} reads from PostgreSQL taking {sum(f[1] for f in fetches) * 1000:.0f} ms; "
                     f"slowest: {top}.")
    errs = pgr["errors"] + dkr["errors"]
    lines += ["", f"Errors: {len(errs)}" + ("" if not errs else " — first: " + "; ".join(errs[:3]).replace("|", "/"))]
    lines += ["", f"Setup: synthetic file {setup['build_s']:.1f} s, copy into PostgreSQL {setup['copy_s']:.1f} s, "
                  f"PostgreSQL start {setup['pg_start_s']:.1f} s, "
                  f"{sum(len(b) for b in cfg['books'])} workbooks generated in {setup['workbooks_s']:.1f} s."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="多副本（PostgreSQL）与单进程（DuckDB 文件）负载对比基准")
    ap.add_argument("--units", type=int, default=200)
    ap.add_argument("--items", type=int, default=500, help="ledger rows per unit in the synthetic data")
    ap.add_argument("--sessions", type=int, default=16, help="simulated users in all")
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=30.0, help="at most this long per backend")
    ap.add_argument("--ops", type=int, default=30, help="at most this many operations per user")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--save", action="store_true", help=f"write the figures to {DOC.relative_to(PROJECT)}")
    args = ap.parse_args(argv)
    if args.units < HOT_UNITS + 4 or args.replicas < 1 or args.sessions < args.replicas:
        ap.error("需要至少 16 个单位，且每个副本至少一个用户")
    cfg = {k: getattr(args, k) for k in ("units", "items", "sessions", "replicas", "seconds", "ops", "seed")}

    from tests.pg_server import start_private_server

    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    server = None
    try:
        t = time.perf_counter()
        server = start_private_server()
        setup = {"pg_start_s": time.perf_counter() - t}
        path = tmp / "county.duckdb"
        t = time.perf_counter()
        setup.update(build_file(path, args.units, args.items, args.sessions))
        setup["build_s"] = time.perf_counter() - t
        # the probe's unit: saved by replica 0, read by the others; no load on it
        cfg["probe_unit"], *cfg["pool"] = setup.pop("submitted")
        # every user's workbooks, made before the start (not what is measured; the same on both backends)
        t = time.perf_counter()
        rng = random.Random(args.seed)
        per_user = max(1, round(args.ops * WEIGHTS["upload"] / sum(WEIGHTS.values())) + 1)
        cfg["books"] = [[(u, workbook(u, salt=g * 50 + k)) for k, u in enumerate(rng.sample(cfg["pool"], per_user))]
                        for g in range(args.sessions)]
        setup["workbooks_s"] = time.perf_counter() - t
        _, url = server.create_database()
        setup["copy_s"] = copy_to_pg(path, url)
        print(f"data ready: {setup}", flush=True)

        pgr = run(url, args.replicas, args.sessions, cfg)
        print(f"PostgreSQL load done in {pgr['wall']:.1f} s", flush=True)
        anatomy = refresh_anatomy(url)
        quiet = quiet_visibility(url, cfg)
        print(f"quiet visibility: {quiet}", flush=True)
        dkr = run(str(path), 1, args.sessions, cfg)
        print(f"DuckDB file load done in {dkr['wall']:.1f} s", flush=True)
        text = report(cfg, setup, pgr, dkr, anatomy, quiet)
        print(text)
        if args.save:
            DOC.parent.mkdir(parents=True, exist_ok=True)
            DOC.write_text(text, encoding="utf-8")
        errs = pgr["errors"] + dkr["errors"]
        for e in errs[:20]:
            print("error:", e)
        return 1 if errs else 0
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
