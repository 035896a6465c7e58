"""年报勾稽 end to end: a workbook with 年报数据 ingested by ``python -m data ingest``
(findings printed as warnings and stored with the submission), then read by
``python -m metrics reconcile`` and the county functions (matrix, share by year).
"""
from __future__ import annotations

import csv
import io

import duckdb
import pytest

from data.__main__ import main as data_main
from metrics.__main__ import main as metrics_main
from tests.conftest import REGISTRY_TEXT
from tests.wbfactory import TOWN, UNIT, annual_cells, annual_sheet, annual_values, build, requests_sheet, valid_sheets
from core.normalize import addr

S = "年报数据"
REQS = [["SQ-001", "自然人", "2019-06-03", "", "否", "2019-06-20", "予以公开", ""],
        ["SQ-002", "商业企业", "2019-07-01", "", "否", "2019-07-10", "不予公开", "纠正"]]


def run(fn, argv, capsys):
    try:
        code = fn([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


@pytest.fixture
def db(tmp_path, capsys):
    path = tmp_path / "county.duckdb"
    f = tmp_path / "units.csv"
    f.write_text(REGISTRY_TEXT, encoding="utf-8")
    assert run(data_main, ["units", "load", f, "--db", path], capsys)[0] == 0
    return path


def good_values():
    v = annual_values(new={"natural": 1, "business": 1}, r_open={"natural": 1}, r_deny_1={"business": 1})
    v.update({("rv_review", "corrected"): 1, ("rv_review", "total"): 1})
    return v


def workbook(tmp_path, name, values, unit=UNIT, unit_type="部门", reqs=REQS):
    sheets = valid_sheets(unit=unit, unit_type=unit_type)
    sheets["依申请公开台账"] = requests_sheet(reqs)
    if values is not None:
        sheets[S] = annual_sheet(values)
    p = tmp_path / name
    p.write_bytes(build(sheets))
    return p


def cell(code, col):
    r, c = annual_cells(2021)[(code, col)]
    return addr(r - 1, c - 1)


def test_ingest_prints_findings_as_located_warnings_and_stores_them(tmp_path, db, capsys):
    v = good_values()
    v[("new", "natural")] = 2          # T1 off by one in 自然人, and so in 总计 (T3 holds: total recomputed)
    v[("new", "total")] = 3
    f = workbook(tmp_path, "a.xlsx", v)
    code, out, _ = run(data_main, ["ingest", f, "--received", "2020-01-08", "--db", db], capsys)
    assert code == 0
    assert out[0].startswith(f"{f}: 已接收")
    warn = [ln for ln in out if " 警告: " in ln]
    assert f"{f} 警告: {S}!{cell('r_total', 'natural')}: 年报勾稽T1：自然人列：“本年新收+上年结转”（2）应等于“办理结果总计+结转下年度”（1）" in warn
    assert any(f"{S}!{cell('new', 'total')}: 年报勾稽L1" in ln for ln in warn)
    con = duckdb.connect(str(db), read_only=True)
    try:
        rules = con.execute("SELECT rule FROM reconcile_findings ORDER BY seq").fetchall()
        stored = con.execute("SELECT warnings FROM submissions").fetchone()[0]
    finally:
        con.close()
    assert [r[0] for r in rules] == ["T1", "T1", "L1", "L1"]
    assert "年报勾稽T1" in stored


def test_consistent_report_gives_no_warning(tmp_path, db, capsys):
    f = workbook(tmp_path, "a.xlsx", good_values())
    code, out, _ = run(data_main, ["ingest", f, "--received", "2020-01-08", "--db", db], capsys)
    assert code == 0 and len(out) == 1 and "（0条警告）" in out[0], out


def test_workbook_without_sheet_one_line_and_a_note_in_the_report(tmp_path, db, capsys):
    """cli.md fixes the output (one line, then errors and warnings): the information
    note is not printed; it is in the report the upload page shows."""
    f = workbook(tmp_path, "a.xlsx", None)
    code, out, _ = run(data_main, ["ingest", f, "--received", "2020-01-08", "--db", db], capsys)
    assert code == 0 and len(out) == 1
    import datetime as dt
    from data.ingest import ingest_bytes
    from data.store import connect
    con = connect(db)
    try:
        res = ingest_bytes(con, "b.xlsx", workbook(tmp_path, "b.xlsx", None, unit=TOWN, unit_type="乡镇").read_bytes(),
                           received=dt.date(2020, 1, 8))
    finally:
        con.close()
    assert res.outcome == "accepted"
    assert [(r["位置"], r["级别"], r["问题"]) for r in res.report.rows()] == [(S, "提示", "未填报年报数据，未作勾稽")]


def test_metrics_reconcile_cli_and_county_views(tmp_path, db, capsys):
    bad = good_values()
    bad[("new", "natural")] = 2
    bad[("new", "total")] = 3
    for name, vals, unit, typ in (("a.xlsx", bad, UNIT, "部门"), ("b.xlsx", good_values(), TOWN, "乡镇"),
                                  ("c.xlsx", None, "会发镇", "乡镇")):
        f = workbook(tmp_path, name, vals, unit, typ)
        assert run(data_main, ["ingest", f, "--received", "2020-01-08", "--db", db], capsys)[0] == 0
    out_csv = tmp_path / "rec.csv"
    code, out, err = run(metrics_main, ["reconcile", "--year", 2019, "--csv", out_csv, "--db", db], capsys)
    assert code == 0, err
    assert "2 个单位填报了年报数据，其中 1 个一致、1 个有问题，共 4 条" in out[0]
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["unit", "rule", "location", "expected", "actual", "message"]
    assert rows[1] == [UNIT, "T1", f"{S}!{cell('r_total', 'natural')}", "2", "1",
                       "自然人列：“本年新收+上年结转”（2）应等于“办理结果总计+结转下年度”（1）"]
    assert [r[1] for r in rows[1:]] == ["T1", "T1", "L1", "L1"]
    code, out, _ = run(metrics_main, ["reconcile", "--year", 2019, "--db", db], capsys)
    assert code == 0 and len(out) == 5 and out[0].startswith(f"{UNIT}: {S}!")

    from data.store import connect
    from metrics import reconcile
    con = connect(db)
    try:
        m = reconcile.matrix(con, 2019).set_index("unit")
        assert m.loc[UNIT, "status"] == "有问题" and m.loc[UNIT, "T1"] == "未通过" and m.loc[UNIT, "L1"] == "未通过"
        assert m.loc[UNIT, "T2"] == "通过" and m.loc[UNIT, "findings"] == 4
        assert m.loc[TOWN, "status"] == "一致" and set(m.loc[TOWN, list(reconcile.RULE_CODES)]) == {"通过"}
        assert m.loc["会发镇", "status"] == "未填报" and m.loc["会发镇", "T1"] == "未填报"
        assert m.loc["方正县民政局", "status"] == "未报送" and m.loc["方正县民政局", "L4"] == "未报送"
        share = reconcile.share_by_year(con, [2019, 2020])
        assert share.to_dict("records") == [{"year": 2019, "submitted": 3, "filled": 2, "consistent": 1, "share": 0.5}]
        assert reconcile.year_counts(con, 2019) == {"submitted": 3, "filled": 2, "consistent": 1, "inconsistent": 1,
                                                    "share": 0.5}
        assert reconcile.year_counts(con, 2020) == {"submitted": 0, "filled": 0, "consistent": 0, "inconsistent": 0,
                                                    "share": None}
        # a new version replaces the findings the county sees
        f = workbook(tmp_path, "a2.xlsx", good_values())
        from data.ingest import ingest_file
        import datetime as dt
        ingest_file(con, f, received=dt.date(2020, 1, 9))
        assert reconcile.matrix(con, 2019).set_index("unit").loc[UNIT, "status"] == "一致"
        assert len(reconcile.findings(con, 2019)) == 0
        assert reconcile.recheck(con, 2019) == 3
        assert len(reconcile.findings(con, 2019)) == 0
    finally:
        con.close()


def test_reconcile_unknown_year_is_a_usage_error(db, capsys):
    code, _, err = run(metrics_main, ["reconcile", "--year", 1999, "--db", db], capsys)
    assert code == 2 and "1999" in err[0]


def test_csv_cells_never_formulas():
    import pandas as pd
    from metrics.reconcile import findings_csv
    df = pd.DataFrame([{"unit": "=HYPERLINK(1)", "rule": "T1", "location": "年报数据!A1", "expected": 1,
                        "actual": 2, "message": "+x"}])
    text = findings_csv(df).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and "'+x" in text


def test_reconcile_points_deducted_per_failed_rule():
    """[rules] reconcile_points: points off the total per rule the report fails (default none)."""
    import dataclasses
    from decimal import Decimal

    from metrics import engine
    from core.scheme import scheme_for
    from metrics_fixtures import add_unit, new_db, submit

    con = new_db()
    add_unit(con, "县甲局", "部门")
    add_unit(con, "县乙局", "部门")
    a = submit(con, "县甲局")
    b = submit(con, "县乙局")
    con.execute("INSERT INTO annual_reports VALUES (?, 2021), (?, 2021)", [a, b])
    con.execute("""INSERT INTO reconcile_findings VALUES (?, 1, 'T1', 'D30', 2, 1, 'x'), (?, 2, 'T1', 'J30', 2, 1, 'x'),
                                                       (?, 3, 'L2', 'J9', 2, 1, 'x')""", [a, a, a])
    plain = engine.score_year(con, 2019).set_index("unit")
    assert scheme_for(2019).reconcile_points == 0
    assert plain.loc["县甲局", "total"] == plain.loc["县乙局", "total"]
    assert plain.loc["县甲局", "reconcile_failed"] == 2 and plain.loc["县乙局", "reconcile_failed"] == 0
    s = dataclasses.replace(scheme_for(2019), reconcile_points=Decimal("1.5"))
    got = engine.score_year(con, 2019, scheme=s).set_index("unit")
    assert got.loc["县甲局", "total"] == plain.loc["县甲局", "total"] - Decimal("3.00")
    assert got.loc["县乙局", "total"] == plain.loc["县乙局", "total"]


@pytest.mark.parametrize("rules, msg", [
    ('annual_report = "sometimes"', "rules.annual_report"),
    ("reconcile_points = -1", "rules.reconcile_points"),
    ('reconcile_points = "x"', "rules.reconcile_points"),
    ("reconcile_points = 0.125", "rules.reconcile_points"),
])
def test_scheme_keys_validated(rules, msg):
    import tomllib

    from core.scheme import SCHEME_DIR, SchemeError, parse_scheme
    import re
    text = (SCHEME_DIR / "2019.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^(annual_report|reconcile_points) = .*$", "", text).replace("[rules]\n", f"[rules]\n{rules}\n", 1)
    with pytest.raises(SchemeError, match=msg.replace(".", r"\.")):
        parse_scheme(tomllib.loads(text), "2019.toml")


def test_scheme_keys_defaults_and_2019():
    from core.scheme import scheme_for
    s = scheme_for(2019)
    assert s.annual_report == "optional" and s.reconcile_points == 0
