"""Ten processes upload at once into one PostgreSQL database, through the normal data-layer ingest
(``data.ingest.ingest_bytes``), as replicas of the dashboard would (issue 14):

* eight processes, each a different unit: every file lands, version 1 each;
* two processes, the same unit with different files: both land, as versions 1 and 2 (never two
  version 1s, never a lost upload).

Each process starts up and reads its file first (its own worker pool); then all ten wait for one
another, validate, and wait again to store at the same moment (a ``write_lock`` that is a
barrier), so that the ten transactions really overlap. What landed is read straight from PostgreSQL with psycopg.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import multiprocessing as mp
import queue
from contextlib import contextmanager

import pytest

from tests.conftest import REGISTRY
from tests.wbfactory import build, valid_sheets

pytestmark = pytest.mark.skipif(importlib.util.find_spec("data.pg") is None,
                                reason="this version has no PostgreSQL backend (data/pg.py) to test")

RECEIVED = dt.date(2020, 1, 8)
DISTINCT = 8
#: generous limits: ten interpreters start at once on a machine that may be busy
PROCESS_SECONDS = 300


def departments() -> list[str]:
    with open(REGISTRY, encoding="utf-8") as f:
        return [r["单位名称"] for r in csv.DictReader(f) if r["单位类型"] == "部门"]


def upload(url: str, file_name: str, content: bytes, ready, store_together, results) -> None:
    """One uploader process (a fresh interpreter): start up, validate, wait for all, store; report."""
    try:
        from data.ingest import ingest_bytes
        from data.registry import get_units
        from data.store import connect
        from data.worker import Task, WorkerPool

        # a generous time limit per file: this tests concurrent storing, not the reader's limit,
        # and the machine may be busy starting ten interpreters
        pool = WorkerPool(workers=1, seconds=PROCESS_SECONDS)
        con = connect(url)
        pool.check(Task(file_name, content, get_units(con), RECEIVED))  # the reader process is warm
        ready.wait(timeout=PROCESS_SECONDS)  # every process started: the race below is about storing only

        @contextmanager
        def all_at_once():
            store_together.wait(timeout=PROCESS_SECONDS)  # every file validated: all store at the same moment
            yield

        try:
            res = ingest_bytes(con, file_name, content, received=RECEIVED, pool=pool, write_lock=all_at_once)
        finally:
            con.close()
            pool.close()
        results.put((file_name, res.outcome, res.unit, res.version, [i.message for i in res.report.errors]))
    except BaseException as e:  # noqa: BLE001 - reported to the test, which fails with it
        ready.abort()  # nobody waits for a process that cannot take part
        store_together.abort()
        results.put((file_name, None, None, None, [f"{type(e).__name__}: {e}"]))


def race(url: str) -> dict:
    """Ten uploader processes started together against ``url`` (the database has its units);
    returns each file's outcome and the SHA-256 of each file."""
    units = departments()
    shared = units[DISTINCT]
    files = {f"{u}.xlsx": build(valid_sheets(unit=u)) for u in units[:DISTINCT]}
    # the same unit twice, different files (different 填报人): two versions, not one unchanged re-send
    files[f"{shared}-甲.xlsx"] = build(valid_sheets(unit=shared, reporter="张三"))
    files[f"{shared}-乙.xlsx"] = build(valid_sheets(unit=shared, reporter="李四"))
    assert len(set(files.values())) == DISTINCT + 2

    ctx = mp.get_context("spawn")  # never fork a process that holds database connections and threads
    ready, store_together, results = ctx.Barrier(len(files)), ctx.Barrier(len(files)), ctx.Queue()
    procs = [ctx.Process(target=upload, args=(url, name, content, ready, store_together, results))
             for name, content in files.items()]
    for p in procs:
        p.start()
    got = {}
    try:
        for _ in procs:
            name, outcome, unit, version, errors = results.get(timeout=2 * PROCESS_SECONDS)
            got[name] = (outcome, unit, version, errors)
    except queue.Empty:
        pass
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return {"got": got, "hashes": {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}}


def test_ten_simultaneous_uploads_all_land_with_consecutive_versions(pg_url):
    import json
    import subprocess
    import sys
    from pathlib import Path

    import psycopg

    from data.access import SYSTEM
    from data.ingest import ACCEPTED
    from data.registry import load_units, parse_registry
    from data.store import connect

    con = connect(pg_url)  # the schema, migrated once before the uploaders start
    load_units(con, parse_registry(REGISTRY.read_text(encoding="utf-8")), actor=SYSTEM)
    con.close()

    units = departments()
    shared = units[DISTINCT]
    # the race runs in a fresh interpreter: processes started from a long test session (its
    # worker pools, fork servers and threads) have been seen to hang before they reported
    run = subprocess.run([sys.executable, "-m", "tests.test_pg_concurrency", pg_url], capture_output=True, text=True,
                         timeout=3 * PROCESS_SECONDS, cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    got = {n: tuple(v) for n, v in out["got"].items()}
    files = out["hashes"]
    assert len(got) == len(files), f"only {len(got)} of {len(files)} uploaders answered: {got}"
    assert {n: (o, e) for n, (o, _, _, e) in got.items()} == {n: (ACCEPTED, []) for n in files}
    assert sorted(v for n, (_, u, v, _) in got.items() if u == shared) == [1, 2]

    with psycopg.connect(pg_url) as c:
        stored = c.execute("SELECT unit, version, sha256, encode(sha256(content), 'hex'), id FROM submissions "
                           "ORDER BY unit, version").fetchall()
        ledger = dict(c.execute("SELECT submission_id, count(*) FROM ledger_items GROUP BY 1").fetchall())
        reqs = dict(c.execute("SELECT submission_id, count(*) FROM requests GROUP BY 1").fetchall())
        rejections = c.execute("SELECT count(*) FROM rejections").fetchone()[0]
        workflow = c.execute("SELECT unit, status FROM workflow WHERE year = 2019 ORDER BY unit").fetchall()

    by_unit: dict[str, list[int]] = {}
    for unit, version, sha, actual_sha, _ in stored:
        by_unit.setdefault(unit, []).append(version)
        assert sha == actual_sha  # the bytes stored are the bytes hashed
    assert by_unit == {**{u: [1] for u in units[:DISTINCT]}, shared: [1, 2]}
    assert {s for _, _, s, _, _ in stored} == set(files.values())
    # nothing lost inside a file either: the workbook's 2 ledger rows and 1 request, for every version
    assert {ledger.get(i) for *_, i in stored} == {2} and {reqs.get(i) for *_, i in stored} == {1}
    assert rejections == 0
    assert workflow == sorted((u, "待审核") for u in units[:DISTINCT + 1])


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(race(sys.argv[1]), ensure_ascii=False))
