"""Untrusted files: tiny-but-enormous workbooks are refused by sheet name before
anything is allocated, every file is read in a worker process with a memory and
a time limit, a worker that dies or hangs refuses only its own file, a batch
goes on after a bad file, and files are read without the write lock."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from data.extent import Extent, sheet_extents
from data.ingest import ACCEPTED, REJECTED, check_workbook, ingest_many
from data.worker import UNSAFE_CODE, Task, WorkerPool
from tests import hostile
from tests.wbfactory import TOWN, UNIT, build, valid_sheets

ROOT = Path(__file__).resolve().parent.parent
LEDGER = "主动公开台账"


def count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------- measuring a sheet without loading it

def test_xlsx_far_cell_is_measured_from_the_sheet_xml():
    ext = sheet_extents(hostile.far_xlsx("XFD1048576"))
    assert ext[LEDGER] == Extent(1_048_576, 16_384)
    assert ext["单位信息"] == Extent(7, 2)  # the other sheets as they are


def test_xlsx_row_99999_col_499():
    assert sheet_extents(hostile.far_xlsx("SE99999"))[LEDGER] == Extent(99_999, 499)  # SE = 19*26+5 = 499


def test_xlsx_declared_dimension_counts():
    assert sheet_extents(hostile.declared_xlsx("A1:XFD1048576"))[LEDGER] == Extent(1_048_576, 16_384)


def test_ods_repeat_attributes_are_multiplied_out():
    # the ledger's 4 rows, then one row repeated 99,995 times of one cell repeated 499 columns
    assert sheet_extents(hostile.repeated_ods(99_995, 499))[LEDGER] == Extent(99_999, 499)


def test_ods_empty_repeated_cells_do_not_count():
    """Trailing empty cells repeated to the sheet's edge (as office suites write them) are not content."""
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(build(valid_sheets(), "ods")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "content.xml":
                start = data.index(f'table:name="{LEDGER}"'.encode())
                end = data.index(b"</table:table>", start)
                data = (data[:end] + b'<table:table-row table:number-rows-repeated="1048000">'
                        b'<table:table-cell table:number-columns-repeated="16384"/></table:table-row>' + data[end:])
            z.writestr(info, data)
    assert sheet_extents(out.getvalue())[LEDGER] == Extent(4, 7)


def test_xls_last_cell_from_dimensions_and_cell_records():
    assert sheet_extents(hostile.far_xls(65535, 255))[LEDGER] == Extent(65_536, 256)  # IV65536


def test_typical_files_measure_their_real_size():
    for fmt in ("xlsx", "xls", "ods"):
        ext = sheet_extents(build(valid_sheets(), fmt))
        assert ext[LEDGER] == Extent(4, 7), fmt
        assert ext["依申请公开台账"] == Extent(3, 8), fmt


# ---------------------------------------------------------------- refused by name, nothing stored

@pytest.mark.parametrize("make, size", [
    (lambda: hostile.far_xlsx("XFD1048576"), "1048576 行 × 16384 列"),
    (lambda: hostile.far_xlsx("SE99999"), "99999 行 × 499 列"),
    (lambda: hostile.declared_xlsx(), "1048576 行 × 16384 列"),
    (lambda: hostile.repeated_ods(), "99999 行 × 499 列"),
    (lambda: hostile.far_xls(), "65536 行 × 256 列"),
], ids=["xlsx-XFD1048576", "xlsx-99999x499", "xlsx-dimension", "ods-repeats", "xls-IV65536"])
def test_enormous_sheet_is_refused_by_name_and_nothing_is_stored(con, received, make, size):
    content = make()
    assert len(content) < 20_000  # tiny
    res = next(ingest_many(con, [("hostile", content)], received=received))
    assert res.outcome == REJECTED
    big = [i for i in res.report.errors if i.code == "sheet_too_large"]
    assert big and big[0].sheet == LEDGER and big[0].location == LEDGER
    assert f"工作表“{LEDGER}”" in big[0].message and size in big[0].message
    assert count(con, "submissions") == 0
    assert count(con, "rejections") == 1


def test_a_big_but_legitimate_ledger_is_still_read(con, received):
    rows = [[n, f"信息{n}", "财政预决算", "2019-03-01", "2019-03-10", "政府网站", ""] for n in range(1, 3001)]
    s = valid_sheets()
    s[LEDGER].rows[2:] = rows
    res = next(ingest_many(con, [("big.xlsx", build(s))], received=received))
    assert res.outcome == ACCEPTED, res.report.rows()
    assert count(con, "ledger_items") == 3000


# ---------------------------------------------------------------- worker killed, out of memory, out of time

@pytest.fixture
def pool_with():
    pools = []

    def make(hook: str, **kw) -> WorkerPool:
        p = WorkerPool(workers=2, hook=f"tests.worker_hooks:{hook}", **kw)
        pools.append(p)
        return p

    yield make
    for p in pools:
        p.close()


@pytest.mark.parametrize("hook, name, why", [
    ("hog_memory", "hog.xlsx", "内存上限 200 MB"),
    ("die", "die.xlsx", "异常终止"),
    ("hang", "hang.xlsx", "超过 2 秒"),
])
def test_a_worker_that_dies_or_hangs_refuses_its_file_and_the_batch_goes_on(con, received, pool_with, hook, name,
                                                                               why):
    pool = pool_with(hook, memory_mb=200, seconds=2)
    files = [("a.xlsx", build(valid_sheets())), (name, build(valid_sheets(unit=TOWN, unit_type="乡镇"))),
             ("c.xls", build(valid_sheets(unit=TOWN, unit_type="乡镇"), "xls")), ("d.xlsx", build(valid_sheets()))]
    results = list(ingest_many(con, files, received=received, pool=pool))
    assert [r.file_name for r in results] == ["a.xlsx", name, "c.xls", "d.xlsx"]
    assert [r.outcome for r in results] == [ACCEPTED, REJECTED, ACCEPTED, "unchanged"]
    bad = results[1].report.errors
    assert [i.code for i in bad] == [UNSAFE_CODE]
    assert bad[0].message.startswith("文件结构异常，无法安全读取") and why in bad[0].message
    assert bad[0].location == "" and results[1].report.rows()[0]["位置"] == "（整个文件）"
    assert pool.replaced == 1
    # nothing of the bad file is stored; its attempt is logged as a rejection
    assert con.execute("SELECT unit FROM submissions ORDER BY id").fetchall() == [(UNIT,), (TOWN,)]
    assert con.execute("SELECT file_name FROM rejections").fetchall() == [(name,)]
    # the pool keeps working for the next file
    assert next(ingest_many(con, [("e.xlsx", build(valid_sheets(reporter="李四")))], received=received,
                            pool=pool)).outcome == ACCEPTED


def test_the_memory_limit_is_what_stops_the_worker(pool_with):
    """Without RLIMIT_AS the hog would succeed: with a generous limit the same file is simply read."""
    task = Task("hog.xlsx", build(valid_sheets()), {}, dt.date(2020, 1, 8))
    assert pool_with("hog_memory", memory_mb=200).check(task).report.errors[0].code == UNSAFE_CODE
    roomy = pool_with("hog_memory", memory_mb=8192).check(task)
    assert UNSAFE_CODE not in [i.code for i in roomy.report.errors], roomy.report.rows()


def test_check_workbook_uses_a_worker(con):
    """The process that asks never reads the file itself: a worker that dies is no crash here."""
    sub, report = check_workbook(con, "x.xlsx", hostile.far_xlsx(), today=dt.date(2020, 1, 8))
    assert sub is None or not report.ok
    assert "sheet_too_large" in [i.code for i in report.errors]


# ---------------------------------------------------------------- the write lock is not held while reading

class _SpyPool(WorkerPool):
    def __init__(self):
        super().__init__(workers=2)
        self.checked = threading.Event()

    def check_many(self, tasks):
        for c in super().check_many(tasks):
            self.checked.set()
            yield c


def test_files_are_read_without_the_write_lock(con, received):
    lock = threading.Lock()
    pool = _SpyPool()
    lock.acquire()  # another session is writing
    try:
        results = []
        t = threading.Thread(target=lambda: results.extend(
            ingest_many(con, [("a.xlsx", build(valid_sheets()))], received=received, pool=pool,
                        write_lock=lambda: lock)))
        t.start()
        assert pool.checked.wait(60), "the file was not read while another writer held the lock"
        assert not results  # ... but not stored before the lock was free
    finally:
        lock.release()
    t.join(60)
    pool.close()
    assert [r.outcome for r in results] == [ACCEPTED]


# ---------------------------------------------------------------- the command line goes on after a hostile file

def test_cli_batch_goes_on_after_an_enormous_file(tmp_path, con):
    db = tmp_path / "t.duckdb"
    con.close()
    (tmp_path / "a.xlsx").write_bytes(build(valid_sheets()))
    (tmp_path / "far.xlsx").write_bytes(hostile.far_xlsx())
    (tmp_path / "b.xls").write_bytes(build(valid_sheets(unit=TOWN, unit_type="乡镇"), "xls"))
    env = {k: v for k, v in os.environ.items() if k != "GONGKAI_DB"}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run([sys.executable, "-m", "data", "ingest", "a.xlsx", "far.xlsx", "b.xls", "--received",
                        "2020-01-13", "--db", str(db)], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=120)
    assert p.returncode == 1, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("a.xlsx: 已接收")
    assert lines[1].startswith("far.xlsx: 已拒收")
    assert any(ln.startswith(f"far.xlsx: {LEDGER}: 工作表“{LEDGER}”的内容区域达 1048576 行") for ln in lines)
    assert lines[-1].startswith("b.xls: 已接收")


# ---------------------------------------------------------------- the writer: several files per transaction

def test_a_result_is_yielded_only_after_its_rows_are_committed(con, received):
    files = [(f"{n}.xlsx", build(valid_sheets(reporter=f"填报人{n}"))) for n in range(5)]
    other = con.cursor()  # a second connection sees committed rows only
    for n, res in enumerate(ingest_many(con, files, received=received)):
        assert res.outcome == ACCEPTED
        assert other.execute("SELECT count(*) FROM submissions WHERE id = ?", [res.submission_id]).fetchone()[0] == 1
        assert res.version == n + 1


def test_a_file_whose_store_fails_takes_no_other_file_with_it(con, received, monkeypatch):
    import data.ingest as ingest_mod

    real = ingest_mod._store

    def store(con_, sub, file_name, *a, **k):
        if file_name == "b.xlsx":
            con_.execute("INSERT INTO no_such_table VALUES (1)")  # a database error half-way
        return real(con_, sub, file_name, *a, **k)

    monkeypatch.setattr(ingest_mod, "_store", store)
    files = [("a.xlsx", build(valid_sheets())), ("b.xlsx", build(valid_sheets(unit=TOWN, unit_type="乡镇"))),
             ("c.xls", build(valid_sheets(reporter="李四"), "xls"))]
    results = list(ingest_many(con, files, received=received))
    assert [r.outcome for r in results] == [ACCEPTED, REJECTED, ACCEPTED]
    assert [i.code for i in results[1].report.errors] == ["store_failed"]
    assert "未作任何更改" in results[1].report.errors[0].message
    assert con.execute("SELECT file_name, version FROM submissions ORDER BY id").fetchall() == [("a.xlsx", 1),
                                                                                               ("c.xls", 2)]
    assert con.execute("SELECT count(*) FROM workflow WHERE unit = ?", [TOWN]).fetchone()[0] == 0
