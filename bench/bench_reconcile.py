"""年报勾稽 benchmark: the one check query (data.reconcile) over many stored
reports at once (set based) against running it once per submission (what
ingest does, one at a time), plus reading the sheet 年报数据 of one workbook.

Default: 2,000 submissions × (190 report cells + 12 requests).

Usage: python -m bench.bench_reconcile [--units N]
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa


def build(path: Path, n: int):
    from core.normalize import addr
    from data.annual import published_layout
    from data.store import connect

    con = connect(path)
    rng = random.Random(7)
    inputs = published_layout(2021).inputs
    subs, cells, reqs = [], [], []
    results = ["予以公开", "部分公开", "不予公开", "无法提供", "不予处理", "其他处理"]
    kinds = ["自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
    for sid in range(1, n + 1):
        subs.append((sid, f"单位{sid}", 2021))
        for (rc, cc), (r, c) in inputs.items():
            cells.append((sid, rc, cc, rng.randint(0, 3), r, addr(r - 1, c - 1)))
        for k in range(12):
            reqs.append((sid, k + 3, f"SQ-{k}", rng.choice(kinds), f"2021-{rng.randint(1, 12):02d}-10",
                         rng.choice([None, "2021-12-20"]), rng.choice(results), rng.choice(["", "维持", "纠正"])))
    con.register("s", pa.table(list(zip(*subs)), names=["id", "unit", "year"]))
    con.execute("""INSERT INTO submissions (id, unit, year, version, received, file_name, sha256, content)
                   SELECT id, unit, year, 1, DATE '2022-01-08', 'x', id::VARCHAR, ''::BLOB FROM s""")
    con.execute("INSERT INTO annual_reports SELECT id, 2021 FROM s")
    con.register("c", pa.table(list(zip(*cells)), names=["s", "r", "c", "v", "n", "a"]))
    con.execute("INSERT INTO annual_report_cells SELECT * FROM c")
    con.register("q", pa.table(list(zip(*reqs)), names=["s", "n", "no", "t", "rec", "ans", "res", "rev"]))
    con.execute("""INSERT INTO requests (submission_id, sheet_row, request_no, applicant_type, received, answered,
                                         result, review_result)
                   SELECT s, n, no, t, rec::DATE, ans::DATE, res, rev FROM q""")
    return con


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=2000)
    args = ap.parse_args()
    from data.reconcile import check, store_findings
    from data.store import transaction

    with tempfile.TemporaryDirectory() as d:
        con = build(Path(d) / "b.duckdb", args.units)
        ids = list(range(1, args.units + 1))
        t = time.perf_counter()
        found = check(con, ids)
        t_set = time.perf_counter() - t
        sample = ids[:100]
        t = time.perf_counter()
        for i in sample:
            check(con, [i])
        t_one = (time.perf_counter() - t) / len(sample)
        t = time.perf_counter()
        with transaction(con):
            store_findings(con, ids)
        t_store = time.perf_counter() - t
        print(f"{args.units} 份年报：一次集合查询 {t_set:.2f} s（{len(found)} 条问题）；"
              f"逐份查询 {t_one * 1000:.1f} ms/份（折合 {t_one * args.units:.1f} s，为集合查询的 {t_one * args.units / t_set:.1f} 倍）；"
              f"重算并保存 {t_store:.2f} s")

    from data.annual import published_layout, read_annual_report
    from data.reader import read_workbook
    from tests.wbfactory import annual_sheet
    from tests.wbfactory import build as build_wb

    vals = {k: 1 for k in published_layout(2021).inputs}
    for fmt in ("xlsx", "xls"):
        data = build_wb({"年报数据": annual_sheet(vals)}, fmt)
        t = time.perf_counter()
        for _ in range(20):
            rep, issues = read_annual_report(read_workbook(f"t.{fmt}", data).sheet("年报数据"))
        assert not issues and rep.filled
        print(f"读取年报数据（{fmt}）：{(time.perf_counter() - t) / 20 * 1000:.1f} ms/份")


if __name__ == "__main__":
    main()
