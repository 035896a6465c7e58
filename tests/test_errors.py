"""One error family and one issue-code registry (core.errors)."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from core.errors import CODES, GongkaiError, Issue, error, print_error, warning
from core.scheme import SchemeError
from data.ingest import StoreError
from data.reader import ReadError
from data.registry import RegistryError, parse_registry
from data.review import ReviewError
from data.users import UserError
from data.calendar import CalendarError, parse_calendar_csv
from metrics.engine import UnknownYear

ROOT = Path(__file__).resolve().parent.parent


def test_every_issue_code_in_the_code_is_declared():
    """Every literal code passed to error()/warning() is in CODES."""
    missing = []
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT)
        if rel.parts[0] not in ("core", "data", "metrics", "dashboard"):
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("error", "warning") and node.args
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                    and node.args[0].value.isascii() and node.args[0].value not in CODES):
                missing.append(f"{rel}:{node.lineno}: {node.args[0].value}")
    assert not missing, "undeclared issue codes:\n" + "\n".join(missing)


def test_undeclared_code_is_refused_and_default_message_used():
    with pytest.raises(KeyError, match="not declared"):
        error("no_such_code", "x")
    assert error("title_empty").message == CODES["title_empty"]
    assert warning("item_outside_year", "自定").message == "自定"


def test_location_says_the_row_once():
    assert Issue("x", "error", "单位名称为空", sheet="units.csv", row=5).location == "units.csv!5"  # cli.md: <sheet>!<row number>
    assert Issue("x", "error", "日期无法识别", row=3).location == "第3行"
    assert Issue("x", "error", "m", sheet="主动公开台账", cell="C3", row=3).location == "主动公开台账!C3"
    assert Issue("x", "error", "m", sheet="单位信息").location == "单位信息"
    assert str(Issue("x", "error", "日期无法识别", row=3)) == "第3行：日期无法识别"
    with pytest.raises(RegistryError) as e:
        parse_registry("单位名称,单位类型,附加必公开类别\n方正镇,,\n", "units.csv")
    (i,) = e.value.issues
    assert (i.location, i.message) == ("units.csv!2", "单位类型为空，应为“乡镇”或“部门”")


@pytest.mark.parametrize("cls", [SchemeError, CalendarError, ReviewError, UserError, RegistryError, ReadError,
                                 StoreError])
def test_the_family(cls):
    e = cls("出错了")
    assert isinstance(e, GongkaiError) and [i.message for i in e.issues] == ["出错了"]
    assert e.issues[0].code in CODES and e.issues[0].is_error
    assert str(e) == "出错了"


def test_unknown_year_carries_an_issue():
    e = UnknownYear(2031)
    assert isinstance(e, GongkaiError) and e.issues[0].code == "unknown_year" and "2031" in str(e)


def test_several_issues_join_and_print():
    with pytest.raises(CalendarError) as e:
        parse_calendar_csv(2027, "日期,类型\n2027-02-30,节假日\n2027-03-01,放假\n")
    assert str(e.value) == ("第2行：日期“2027-02-30”无法识别，应为 YYYY-MM-DD，例如 2027-10-01；"
                            "第3行：类型“放假”应为“节假日”或“调休上班”")
    out = io.StringIO()
    print_error(e.value, "未导入：", source="h.csv", file=out)
    assert out.getvalue().splitlines() == [
        "未导入：", "h.csv: 第2行: 日期“2027-02-30”无法识别，应为 YYYY-MM-DD，例如 2027-10-01",
        "h.csv: 第3行: 类型“放假”应为“节假日”或“调休上班”"]
    out = io.StringIO()
    print_error([warning("score_precision", "按 1.23 分计", sheet="自评打分", cell="E3")], file=out)
    assert out.getvalue() == "警告: 自评打分!E3: 按 1.23 分计\n"
    out = io.StringIO()
    print_error([warning("score_precision", "按 1.23 分计", sheet="自评打分", cell="E3"),
                 error("title_empty", sheet="主动公开台账", row=7)], source="a.xlsx", file=out)
    assert out.getvalue().splitlines() == ["a.xlsx 警告: 自评打分!E3: 按 1.23 分计",
                                           f"a.xlsx: 主动公开台账!7: {CODES['title_empty']}"]  # cli.md


def test_our_own_bug_in_the_reader_propagates(monkeypatch):
    """A bug in our sheet-building code is not turned into a ReadError (文件已损坏)."""
    from data import reader
    from tests import wbfactory as wf

    def broken(*a, **k):
        raise RuntimeError("bug in our code")

    monkeypatch.setattr(reader, "_load_sheet", broken)
    wb = reader.read_workbook("a.xlsx", wf.build(wf.valid_sheets()))
    with pytest.raises(RuntimeError):
        wb.sheet("单位信息")


def test_our_own_bug_in_a_worker_is_an_internal_error_with_a_logged_traceback(con, received, caplog):
    from data.ingest import ingest_many
    from data.worker import WorkerPool
    from tests import wbfactory as wf

    pool = WorkerPool(workers=1, hook="tests.worker_hooks:bug")
    try:
        with caplog.at_level("ERROR", logger="data"):
            res = next(ingest_many(con, [("bug.xlsx", wf.build(wf.valid_sheets()))], received=received, pool=pool))
    finally:
        pool.close()
    assert res.outcome == "rejected" and [i.code for i in res.report.errors] == ["internal_error"]
    assert "内部错误" in res.report.errors[0].message and "损坏" not in res.report.errors[0].message
    assert any("RuntimeError: a bug in our code" in r.getMessage() for r in caplog.records)
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0


def test_logging_is_configured_once(capsys):
    import logging

    from core.logs import configure

    configure()
    configure("DEBUG")
    assert sum(1 for h in logging.getLogger().handlers if getattr(h, "_gongkai_handler", False)) == 1
    assert logging.getLogger("metrics").level == logging.DEBUG and logging.getLogger("data.review").propagate
    configure()
