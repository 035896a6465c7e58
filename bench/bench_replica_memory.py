"""Replica memory benchmark (not a test): the resident memory of one dashboard replica's
DuckDB copy of a PostgreSQL database (:class:`data.pg.Mirror`), and how long its first
load takes, for a synthetic province.

    .venv/bin/python -m bench.bench_replica_memory [--units N] [--items N]

A synthetic province (``--units`` units × 5 years, ``--items`` ledger rows per
submission, built with :mod:`bench.synth`) is put on a throw-away PostgreSQL
server (copied with ADBC's bulk ingest). Then a fresh process, as a replica does,
opens the dashboard's connection manager (:func:`data.store.manager`, background
listener on) and runs one read (the whole copy is loaded), then scores one year
(:func:`metrics.engine.score_year`, live). Printed: the process's resident memory
(VmRSS) before, after the load and after scoring, its peak (VmHWM), DuckDB's own
count of the copy's memory, and the seconds of the load and of the scoring.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

YEARS = (2019, 2020, 2021, 2022, 2023)
#: the tables bench.synth fills (the others stay empty)
FILLED = ("units", "submissions", "workflow", "self_scores", "ledger_items", "requests")


def memory_mb() -> dict:
    """This process's resident memory now and its peak so far (MB), from /proc (Linux)."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out["rss" if key == "VmRSS" else "peak"] = round(int(value.split()[0]) / 1024)
    return out


def _replica(url: str, results) -> None:
    """A replica process: load the copy, score a year, report its memory."""
    try:
        from data.store import manager
        from metrics.engine import score_year

        out = {"before": memory_mb()}
        db = manager(url)
        t = time.perf_counter()
        with db.connection() as c:
            out["ledger_rows"] = c.execute("SELECT count(*) FROM ledger_items").fetchone()[0]
        out["load_s"] = round(time.perf_counter() - t, 1)
        out["loaded"] = memory_mb()
        duck = db._con.mirror.duck
        out["duckdb_mb"] = round(duck.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0]
                                 / 2 ** 20)
        t = time.perf_counter()
        with db.connection() as c:
            score_year(c, YEARS[-1])
        out["score_year_s"] = round(time.perf_counter() - t, 2)
        out["scored"] = memory_mb()
        out["listening"] = db._con.listener is not None and db._con.listener.alive
        db.close()
        results.put(out)
    except BaseException as e:  # reported, not hung on
        results.put({"fatal": f"{type(e).__name__}: {e}"})


def copy_to_pg(path: Path, url: str) -> float:
    """The synthetic tables of the file into the migrated, empty database ``url`` (ADBC bulk ingest)."""
    import adbc_driver_postgresql.dbapi as adbc
    import duckdb

    from data.store import connect

    connect(url).close()  # the schema
    t = time.perf_counter()
    src = duckdb.connect(str(path), read_only=True)
    dst = adbc.connect(url, autocommit=True)
    try:
        with dst.cursor() as cur:
            for table in FILLED:
                cur.adbc_ingest(table, src.sql(f"SELECT * FROM {table}").to_arrow_table(), mode="append")
            cur.execute("SELECT setval('submission_id_seq', (SELECT max(id) FROM submissions))")
            cur.execute("SELECT nextval('gongkai_data_version')")  # a data version the copy has not seen
    finally:
        dst.close()
        src.close()
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="一个看板副本的内存副本占用多少内存（PostgreSQL，合成省份数据）")
    ap.add_argument("--units", type=int, default=600)
    ap.add_argument("--items", type=int, default=500, help="ledger rows per submission")
    args = ap.parse_args(argv)

    from bench.synth import build_province
    from tests.pg_server import start_private_server

    tmp = Path(tempfile.mkdtemp(prefix="bench-replica-"))
    server = start_private_server()
    try:
        t = time.perf_counter()
        con, stats = build_province(tmp / "province.duckdb", units=args.units, years=YEARS, items=args.items)
        con.close()
        stats["build_s"] = round(time.perf_counter() - t, 1)
        _, url = server.create_database()
        stats["copy_s"] = round(copy_to_pg(tmp / "province.duckdb", url), 1)
        (tmp / "province.duckdb").unlink()
        print(f"data ready: {stats}", flush=True)
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        proc = ctx.Process(target=_replica, args=(url, results))
        proc.start()
        out = results.get(timeout=3600)
        proc.join(timeout=60)
        if "fatal" in out:
            raise SystemExit(f"the replica failed: {out['fatal']}")
        print(json.dumps(out))
        print(f"{args.units} units × {len(YEARS)} years, {out['ledger_rows']:,} ledger rows: the replica's first load "
              f"{out['load_s']} s; resident memory {out['before']['rss']} MB before, {out['loaded']['rss']} MB "
              f"after the load, {out['scored']['rss']} MB after scoring a year ({out['score_year_s']} s); peak "
              f"{out['scored']['peak']} MB; DuckDB counts {out['duckdb_mb']} MB for the copy.")
        return 0
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
