"""Ingest benchmark (not a test): how much does validating and storing cost
on top of merely reading a workbook?

    .venv/bin/python -m bench.bench_ingest [--runs N] [--batch N]

(a) the bare python-calamine read of a typical workbook (open + ``to_python``
    of every sheet);
(b) ``ingest_bytes`` of the same bytes into a fresh DuckDB file (read +
    validate + store in one transaction) — goal: median(b) / median(a) ≤ 2;
(c) a batch of 40 typical workbooks (different units and years, then new
    versions) stored end to end with ``ingest_file`` — goal: ≤ 10 s.

A typical workbook: 30 indicator rows, 500 proactive-ledger rows, 30 requests.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


import python_calamine as pc

from data.ingest import ACCEPTED, check_workbook, ingest_bytes, ingest_file
from data.registry import load_units, parse_registry
from data.store import connect
from core.scheme import load_catalogue, scheme_for
from tests.wbfactory import (SheetSpec, build, info_sheet, ledger_sheet, requests_sheet,
                             scores_sheet)

UNITS = ["方正镇", "会发镇", "方正县审计局", "方正县民政局", "方正县生态环境局"]
TYPES = {"方正镇": "乡镇", "会发镇": "乡镇"}
REGISTRY = "单位名称,单位类型,附加必公开类别\n" + "".join(f"{u},{TYPES.get(u, '部门')},\n" for u in UNITS)
YEARS = (2019, 2020, 2021, 2022)
RECEIVED = dt.date(2023, 1, 9)


def typical_sheets(unit: str, year: int, n_items: int = 500, n_requests: int = 30, salt: int = 0) -> dict[str, SheetSpec]:
    cats = [c.name for c in load_catalogue().categories]
    items = []
    for i in range(n_items):
        formed = dt.date(year, 1, 1) + dt.timedelta(days=(i * 7 + salt) % 330)
        published = formed + dt.timedelta(days=i % 25)
        # a realistic mix of cell kinds: date cells and text dates
        f = formed if i % 2 else formed.isoformat()
        p = published if i % 3 else f"{published.year}年{published.month}月{published.day}日"
        items.append([i + 1, f"{unit}{year}年第{i + 1}条公开信息", cats[i % len(cats)], f, p,
                      "政府网站、政务新媒体" if i % 4 else "公开栏", f"http://www.fangzheng.gov.cn/{year}/{i}.html"])
    reqs = []
    for i in range(n_requests):
        got = dt.date(year, 1, 2) + dt.timedelta(days=i * 11)
        reqs.append([f"SQ-{year}-{i + 1:03d}", "自然人", got, "", "否", got + dt.timedelta(days=10), "予以公开", ""])
    return {
        "填报说明": SheetSpec([["填报说明"], ["1. 请勿修改表头。"], ["2. 日期格式 2019-06-03。"]]),
        "单位信息": info_sheet(unit=unit, unit_type=TYPES.get(unit, "部门"), year=year, date=f"{year + 1}-01-05"),
        "自评打分": scores_sheet(year),
        "主动公开台账": ledger_sheet(items),
        "依申请公开台账": requests_sheet(reqs),
    }


def bare_read(content: bytes) -> int:
    wb = pc.CalamineWorkbook.from_filelike(io.BytesIO(content))
    n = 0
    for name in wb.sheet_names:
        n += len(wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
    return n


def fresh_db(folder: str, tag: str):
    path = os.path.join(folder, f"{tag}.duckdb")
    con = connect(path)
    load_units(con, parse_registry(REGISTRY))
    return con


def median_time(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--batch", type=int, default=40)
    args = ap.parse_args(argv)

    content = build(typical_sheets("方正县审计局", 2019), "xlsx")
    content_xls = build(typical_sheets("方正县审计局", 2019), "xls")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, data in (("xlsx", content), ("xls", content_xls)):
            bare_read(data)  # warm-up (imports, caches)
            t_read, _ = median_time(lambda: bare_read(data), args.runs)

            counter = iter(range(10 ** 6))
            cons = [fresh_db(tmp, f"{label}{i}") for i in range(args.runs + 1)]
            # warm-up on its own database, then one fresh database per measured run
            assert ingest_bytes(cons[0], f"w.{label}", data, received=RECEIVED).outcome == ACCEPTED

            def one():
                i = next(counter) + 1
                res = ingest_bytes(cons[i], f"t.{label}", data, received=RECEIVED)
                assert res.outcome == ACCEPTED, res.report.rows()[:3]

            t_ingest, _ = median_time(one, args.runs)
            # the part of (b) that is read + validate only (no database writes)
            t_check, _ = median_time(lambda: check_workbook(cons[0], f"c.{label}", data, today=RECEIVED), args.runs)
            for c in cons:
                c.close()
            rows.append((label, len(data), t_read, t_check, t_ingest))

        # (c) the batch: distinct units and years, then further versions, from files on disk
        files = []
        for n in range(args.batch):
            unit = UNITS[n % len(UNITS)]
            year = YEARS[(n // len(UNITS)) % len(YEARS)]
            fmt = "xls" if n % 4 == 3 else "xlsx"
            p = Path(tmp) / f"b{n:02d}_{unit}_{year}.{fmt}"
            p.write_bytes(build(typical_sheets(unit, year, salt=n), fmt))
            files.append(p)
        con = fresh_db(tmp, "batch")
        t = time.perf_counter()
        outcomes = [ingest_file(con, f, received=RECEIVED) for f in files]
        t_batch = time.perf_counter() - t
        n_acc = sum(r.outcome == ACCEPTED for r in outcomes)
        versions = con.execute("SELECT max(version) FROM submissions").fetchone()[0]
        con.close()

    print(f"typical workbook: {len(scheme_for(2019).indicators)} indicator rows, 500 ledger rows, 30 requests; "
          f"median of {args.runs} runs")
    print(f"{'format':<6} {'bytes':>8} {'(a) read ms':>12} {'read+validate ms':>17} {'(b) ingest ms':>14} "
          f"{'of which store':>15} {'ratio b/a':>10} {'goal':>5}")
    ok = True
    for label, size, a, chk, b in rows:
        ratio = b / a
        ok &= ratio <= 2
        print(f"{label:<6} {size:>8} {a * 1000:>12.1f} {chk * 1000:>17.1f} {b * 1000:>14.1f} {(b - chk) * 1000:>15.1f} "
              f"{ratio:>10.2f} {'≤ 2':>5}")
    print(f"(c) batch of {len(files)} workbooks end to end: {t_batch:.2f} s "
          f"({n_acc} accepted, newest version {versions}; goal ≤ 10 s on 2 cores)")
    ok &= t_batch <= 10 and n_acc == len(files)
    print("goals met" if ok else "GOAL MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
