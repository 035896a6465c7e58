"""The command line of cli.md: ``python -m data units load`` and ``python -m data ingest``.

Run in-process through ``data.__main__.main(argv)`` (fast), plus one real
subprocess."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from data.__main__ import main
from tests.conftest import REGISTRY_TEXT
from tests.wbfactory import TOWN, UNIT, build, valid_sheets

ROOT = Path(__file__).resolve().parent.parent


def run(argv, capsys):
    """(exit code, stdout lines, stderr lines)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def units(db) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0]: (r[1], list(r[2])) for r in con.execute("SELECT name, unit_type, extra_categories FROM units").fetchall()}
    finally:
        con.close()


def query(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "county.duckdb"


@pytest.fixture
def loaded(tmp_path, db, capsys):
    """A database with the test registry, loaded through the command line."""
    csv = tmp_path / "units.csv"
    csv.write_text(REGISTRY_TEXT, encoding="utf-8")
    assert run(["units", "load", csv, "--db", db], capsys)[0] == 0
    return db


# ---------------------------------------------------------------- units load

def test_units_load(tmp_path, db, capsys):
    csv = tmp_path / "units.csv"
    csv.write_text(REGISTRY_TEXT, encoding="utf-8")
    code, out, err = run(["units", "load", csv, "--db", db], capsys)
    assert code == 0 and err == []
    assert out == ["单位名录已导入：新增 5 个，更新 0 个"]
    got = units(db)
    assert got["方正镇"] == ("乡镇", []) and got["方正县审计局"] == ("部门", [])
    assert got["方正县民政局"] == ("部门", ["C27", "C11"])  # 社会救助、民生政策, as codes in the order given
    assert got["方正县生态环境局"] == ("部门", ["C13", "C06"])
    assert len(got) == 5


def test_units_load_with_bom_and_crlf_updates_existing(tmp_path, db, capsys):
    csv = tmp_path / "units.csv"
    csv.write_bytes(("\ufeff" + REGISTRY_TEXT).replace("\n", "\r\n").encode("utf-8"))
    assert run(["units", "load", csv, "--db", db], capsys)[:2] == (0, ["单位名录已导入：新增 5 个，更新 0 个"])
    csv.write_text("单位名称,单位类型,附加必公开类别\n方正镇,部门,\n新设局,部门,民生政策\n", encoding="utf-8-sig")
    code, out, _ = run(["units", "load", csv, "--db", db], capsys)
    assert (code, out) == (0, ["单位名录已导入：新增 1 个，更新 1 个"])
    got = units(db)
    assert got["方正镇"] == ("部门", []) and got["新设局"] == ("部门", ["C11"]) and len(got) == 6


BAD_REGISTRIES = [
    ("bad header", "名称,类型,类别\n方正镇,乡镇,\n", 1),
    ("no header", "", 1),
    ("unknown type", "单位名称,单位类型,附加必公开类别\n方正镇,乡镇,\n方正县审计局,局,\n", 3),
    ("type alias not allowed in the registry", "单位名称,单位类型,附加必公开类别\n方正镇,镇,\n", 2),
    ("unknown category", "单位名称,单位类型,附加必公开类别\n方正镇,乡镇,\n方正县民政局,部门,社会救助、八卦新闻\n", 3),
    ("duplicate name", "单位名称,单位类型,附加必公开类别\n方正镇,乡镇,\n会发镇,乡镇,\n方正镇 ,乡镇,\n", 4),
    ("empty name", "单位名称,单位类型,附加必公开类别\n方正镇,乡镇,\n,部门,\n", 3),
    ("unquoted comma", "单位名称,单位类型,附加必公开类别\n方正镇,乡镇,\n方正县民政局,部门,社会救助,民生政策\n", 3),
]


@pytest.mark.parametrize("name, text, line", BAD_REGISTRIES, ids=[b[0] for b in BAD_REGISTRIES])
def test_units_load_bad_csv_names_the_line_and_loads_nothing(tmp_path, db, capsys, name, text, line):
    csv = tmp_path / "名录.csv"
    csv.write_text(text, encoding="utf-8")
    code, out, err = run(["units", "load", csv, "--db", db], capsys)
    assert code == 2 and out == []
    assert any(l.startswith(f"名录.csv!{line}: ") and f"第{line}行" not in l for l in err), err  # cli.md
    assert err[-1] == "单位名录未导入（未作任何更改）"
    assert units(db) == {}


def test_units_load_bad_csv_keeps_the_existing_registry(loaded, tmp_path, capsys):
    before = units(loaded)
    csv = tmp_path / "bad.csv"
    csv.write_text("单位名称,单位类型,附加必公开类别\n新设局,部门,\n方正镇,街道,\n", encoding="utf-8")
    assert run(["units", "load", csv, "--db", loaded], capsys)[0] == 2
    assert units(loaded) == before


def test_units_load_not_utf8(tmp_path, db, capsys):
    csv = tmp_path / "gbk.csv"
    csv.write_bytes(REGISTRY_TEXT.encode("gbk"))
    code, out, err = run(["units", "load", csv, "--db", db], capsys)
    assert code == 2 and any("UTF-8" in l for l in err)
    assert units(db) == {}


def test_units_load_missing_file(tmp_path, db, capsys):
    code, _, err = run(["units", "load", tmp_path / "nope.csv", "--db", db], capsys)
    assert code == 2 and any("不存在" in l for l in err)


# ---------------------------------------------------------------- ingest

@pytest.fixture
def files(tmp_path, monkeypatch):
    """a.xlsx (审计局, valid), b.xls (方正镇, valid), bad.xlsx (two errors and a warning)."""
    monkeypatch.chdir(tmp_path)
    Path("a.xlsx").write_bytes(build(valid_sheets()))
    Path("b.xls").write_bytes(build(valid_sheets(unit=TOWN, unit_type="乡镇"), "xls"))
    s = valid_sheets(unit="方正县民政局")
    s["主动公开台账"].rows[2][2] = "八卦新闻"
    s["依申请公开台账"].rows[2][4] = "可能"
    s["依申请公开台账"].rows[2][2] = "2018-12-30"
    Path("bad.xlsx").write_bytes(build(s))
    return tmp_path


def test_ingest_accepts_files_one_line_each(loaded, files, capsys):
    code, out, err = run(["ingest", "a.xlsx", "b.xls", "--received", "2020-01-13", "--db", loaded], capsys)
    assert code == 0, err
    assert out == [f"a.xlsx: 已接收 — {UNIT} 2019年度 第1版（0条警告）",
                   f"b.xls: 已接收 — {TOWN} 2019年度 第1版（0条警告）"]
    assert query(loaded, "SELECT unit, version, received, uploaded_by, file_name FROM submissions ORDER BY unit") == [
        (UNIT, 1, dt.date(2020, 1, 13), "命令行", "a.xlsx"), (TOWN, 1, dt.date(2020, 1, 13), "命令行", "b.xls")]


def test_ingest_unchanged_and_new_version(loaded, files, capsys):
    run(["ingest", "a.xlsx", "--received", "2020-01-13", "--db", loaded], capsys)
    code, out, _ = run(["ingest", "a.xlsx", "--received", "2020-01-14", "--db", loaded], capsys)
    assert code == 0
    assert out == [f"a.xlsx: 未变化 — 与 {UNIT} 2019年度 当前版本（第1版）完全相同，未作任何更改"]
    s = valid_sheets()
    s["自评打分"].rows[2][4] = 3
    Path("a2.xlsx").write_bytes(build(s))
    code, out, _ = run(["ingest", "a2.xlsx", "--received", "2020-01-14", "--db", loaded, "--by", "王五"], capsys)
    assert (code, out) == (0, [f"a2.xlsx: 已接收 — {UNIT} 2019年度 第2版（0条警告）"])
    assert query(loaded, "SELECT version, uploaded_by FROM submissions ORDER BY version") == [(1, "命令行"), (2, "王五")]


def test_ingest_rejected_file_prints_each_error_and_warning_and_others_are_stored(loaded, files, capsys):
    code, out, _ = run(["ingest", "a.xlsx", "bad.xlsx", "b.xls", "--received", "2020-01-13", "--db", loaded], capsys)
    assert code == 1
    assert out[0].startswith("a.xlsx: 已接收")
    assert out[1] == "bad.xlsx: 已拒收 — 2个错误，未保存任何数据"
    assert out[2:5] == [
        "bad.xlsx: 主动公开台账!C3: 公开类别“八卦新闻”不在公开类别目录中，请从下拉列表中选择",
        "bad.xlsx: 依申请公开台账!E3: 是否延期“可能”应为“是”或“否”",
        "bad.xlsx 警告: 依申请公开台账!C3: 收到日期 2018-12-30 不在2019年度内：予以保存，但不计入本年度",
    ]
    assert out[5].startswith("b.xls: 已接收")
    assert len(out) == 6
    assert query(loaded, "SELECT unit FROM submissions ORDER BY unit") == [(UNIT,), (TOWN,)]
    assert query(loaded, "SELECT unit, file_name FROM rejections") == [("方正县民政局", "bad.xlsx")]


def test_ingest_prints_warnings_of_accepted_files(loaded, files, capsys):
    s = valid_sheets()
    s["自评打分"].rows[2][3] = 5  # printed max points of A1 differ from the scheme
    Path("w.xlsx").write_bytes(build(s))
    code, out, _ = run(["ingest", "w.xlsx", "--received", "2020-01-13", "--db", loaded], capsys)
    assert code == 0
    assert out == [f"w.xlsx: 已接收 — {UNIT} 2019年度 第1版（1条警告）",
                   "w.xlsx 警告: 自评打分!D3: 指标 A1 的分值写为 5，考核指标体系为 4 分，按 4 分计"]


def test_ingest_file_level_problems(loaded, files, capsys):
    Path("empty.xlsx").write_bytes(b"")
    Path("notes.et").write_bytes(b"whatever")
    code, out, _ = run(["ingest", "empty.xlsx", "notes.et", "missing.xlsx", "--received", "2020-01-13",
                        "--db", loaded], capsys)
    assert code == 1
    assert out[0] == "empty.xlsx: 已拒收 — 1个错误，未保存任何数据"
    assert out[1].startswith("empty.xlsx: 文件: 文件是空的")
    assert out[3].startswith("notes.et: 文件: ") and "请在WPS中另存为 .xlsx 后上传" in out[3]
    assert out[5] == "missing.xlsx: 文件: 文件不存在，请检查文件名和路径"


def test_ingest_received_date_rules_future_dates(loaded, files, capsys):
    # the workbook's 填报日期 is 2020-01-05: received earlier, that is a future date
    code, out, _ = run(["ingest", "a.xlsx", "--received", "2020-01-04", "--db", loaded], capsys)
    assert code == 1
    assert out[1] == "a.xlsx: 单位信息!B7: 填报日期 2020-01-05 晚于收到本表的日期 2020-01-04，请核对"


def test_ingest_received_defaults_to_today(loaded, files, capsys):
    assert run(["ingest", "a.xlsx", "--db", loaded], capsys)[0] == 0
    assert query(loaded, "SELECT received FROM submissions") == [(dt.date.today(),)]


@pytest.mark.parametrize("argv", [
    ["ingest", "a.xlsx", "--received", "2020-13-01"],
    ["ingest", "a.xlsx", "--received", "13/01/2020"],
    ["ingest", "--received", "2020-01-13"],
    ["ingest"],
    ["units"],
    ["units", "load"],
    [],
    ["frobnicate"],
    ["ingest", "a.xlsx", "--no-such-option"],
])
def test_usage_errors_exit_2(loaded, files, capsys, argv):
    code, out, err = run(argv + ["--db", loaded] if argv else argv, capsys)
    assert code == 2 and out == []
    assert any("用法错误" in l for l in err)
    assert query(loaded, "SELECT count(*) FROM submissions") == [(0,)]


def test_bad_received_date_message(loaded, files, capsys):
    _, _, err = run(["ingest", "a.xlsx", "--received", "2020-13-01", "--db", loaded], capsys)
    assert any("2020-13-01" in l and "YYYY-MM-DD" in l for l in err)


def test_gongkai_db_environment_variable_is_honoured(tmp_path, files, capsys, monkeypatch):
    env_db = tmp_path / "env.duckdb"
    monkeypatch.setenv("GONGKAI_DB", str(env_db))
    csv = tmp_path / "units.csv"
    csv.write_text(REGISTRY_TEXT, encoding="utf-8")
    assert run(["units", "load", csv], capsys)[0] == 0
    assert run(["ingest", "a.xlsx", "--received", "2020-01-13"], capsys)[0] == 0
    assert query(env_db, "SELECT unit FROM submissions") == [(UNIT,)]
    # --db wins over the environment
    other = tmp_path / "other.duckdb"
    assert run(["units", "load", csv, "--db", other], capsys)[0] == 0
    assert run(["ingest", "b.xls", "--received", "2020-01-13", "--db", other], capsys)[0] == 0
    assert query(other, "SELECT unit FROM submissions") == [(TOWN,)]
    assert query(env_db, "SELECT count(*) FROM submissions") == [(1,)]


def test_real_subprocess(loaded, files):
    env = {k: v for k, v in os.environ.items() if k != "GONGKAI_DB"}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run([sys.executable, "-m", "data", "ingest", "a.xlsx", "bad.xlsx", "--received", "2020-01-13",
                        "--db", str(loaded)], capture_output=True, text=True, env=env, cwd=files, timeout=120)
    assert p.returncode == 1, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == f"a.xlsx: 已接收 — {UNIT} 2019年度 第1版（0条警告）"
    assert lines[1] == "bad.xlsx: 已拒收 — 2个错误，未保存任何数据"
    assert "bad.xlsx: 主动公开台账!C3: " in lines[2]
    assert query(loaded, "SELECT unit FROM submissions") == [(UNIT,)]


def test_a_database_locked_by_another_process_gives_a_chinese_message_and_exit_2(tmp_path, capsys):
    import subprocess
    import sys
    import textwrap

    db = tmp_path / "busy.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(db)!r})
        print("ready", flush=True)
        sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        from data.__main__ import main
        code = main(["units", "load", "nonexistent.csv", "--db", str(db)])
        err = capsys.readouterr().err
        assert code == 2
        assert "正被另一个程序" in err and str(db) in err
    finally:
        holder.communicate("\n", timeout=10)


# ---------------------------------------------------------------- audit: deviations found and fixed

def test_units_load_names_the_physical_line_after_a_multi_line_field(tmp_path, db, capsys):
    csv = tmp_path / "名录.csv"
    csv.write_text('单位名称,单位类型,附加必公开类别\n方正镇,乡镇,"社会救助\n民生政策"\n方正县审计局,局,\n', encoding="utf-8")
    code, out, err = run(["units", "load", csv, "--db", db], capsys)
    assert code == 2 and units(db) == {}
    assert any(l.startswith("名录.csv!4: ") and "“局”" in l for l in err), err  # the 局 line is line 4 of the file
    assert any(l.startswith("名录.csv!2: ") for l in err), err  # the two-line category field starts on line 2


def test_units_load_not_utf8_names_the_line(tmp_path, db, capsys):
    csv = tmp_path / "gbk.csv"
    csv.write_bytes("单位名称,单位类型,附加必公开类别\n".encode("utf-8") + "方正镇,乡镇,\n".encode("gbk"))
    code, _, err = run(["units", "load", csv, "--db", db], capsys)
    assert code == 2 and units(db) == {}
    assert any(l.startswith("gbk.csv!2: ") and "UTF-8" in l for l in err), err


def test_units_load_empty_type_says_it_is_empty(tmp_path, db, capsys):
    csv = tmp_path / "u.csv"
    csv.write_text("单位名称,单位类型,附加必公开类别\n方正镇\n", encoding="utf-8")
    code, _, err = run(["units", "load", csv, "--db", db], capsys)
    assert code == 2
    assert "u.csv!2: 单位类型为空，应为“乡镇”或“部门”" in err, err


def test_template_to_an_unwritable_path_exits_2_with_a_message(loaded, tmp_path, capsys):
    out = tmp_path / "no-such-dir" / "t.xlsx"
    code, _, err = run(["template", "--unit", TOWN, "--year", 2019, "-o", out, "--db", loaded], capsys)
    assert code == 2
    assert any("无法写入" in l and str(out) in l for l in err), err


def test_template_round_trip_through_the_command_line(loaded, tmp_path, capsys):
    import openpyxl

    out = tmp_path / "t.xlsx"
    code, lines, _ = run(["template", "--unit", TOWN, "--year", 2019, "-o", out, "--db", loaded], capsys)
    assert code == 0 and lines == [f"已生成 {TOWN} 2019年度自评表：{out}"]
    wb = openpyxl.load_workbook(out)
    wb["单位信息"]["B5"], wb["单位信息"]["B6"], wb["单位信息"]["B7"] = "李四", "0451-7123456", dt.date(2020, 1, 6)
    ws = wb["自评打分"]
    for r in range(3, ws.max_row + 1):
        if ws.cell(r, 6).value != "系统自动计算":
            ws.cell(r, 5).value = 0 if ws.cell(r, 1).value == "J1" else ws.cell(r, 4).value
    for c, v in enumerate([1, "机构职能", "机构职能", dt.date(2019, 2, 1), dt.date(2019, 2, 3), "政府网站", ""], 1):
        wb["主动公开台账"].cell(3, c).value = v
    wb.save(out)
    code, lines, _ = run(["ingest", out, "--received", "2020-01-08", "--db", loaded], capsys)
    assert (code, lines) == (0, [f"{out}: 已接收 — {TOWN} 2019年度 第1版（0条警告）"])
    # the same file with mistakes on several sheets: every one reported at once, with its cell
    wb["单位信息"]["B7"] = "2020-01-32"
    wb["自评打分"]["E3"] = 9
    wb["主动公开台账"]["C3"] = "八卦新闻"
    for c, v in enumerate(["SQ-1", "自然人", dt.date(2019, 6, 3), None, "否", dt.date(2019, 6, 1), None], 1):
        wb["依申请公开台账"].cell(3, c).value = v
    wb.save(out)
    code, lines, _ = run(["ingest", out, "--received", "2020-01-08", "--db", loaded], capsys)
    assert code == 1
    assert lines[0] == f"{out}: 已拒收 — 5个错误，未保存任何数据"
    assert [l.split(": ")[1] for l in lines[1:]] == ["单位信息!B7", "自评打分!E3", "主动公开台账!C3",
                                                     "依申请公开台账!F3", "依申请公开台账!G3"]


def test_units_load_a_control_character_in_a_name_is_a_bad_line(tmp_path, db, capsys):
    csv = tmp_path / "u.csv"
    csv.write_bytes("单位名称,单位类型,附加必公开类别\n方正镇,乡镇,\n方正县\x00审计局,部门,\n".encode("utf-8"))
    code, _, err = run(["units", "load", csv, "--db", db], capsys)
    assert code == 2 and units(db) == {}
    assert any(l.startswith("u.csv!3: ") and "控制字符" in l for l in err), err
