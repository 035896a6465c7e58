"""`python -m metrics` — scorecard CSV, report workbook, calendar loading (cli.md)."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from metrics.__main__ import main
from metrics_fixtures import DEPT_REQUIRED, add_unit, cover, item, max_scores, new_db, request, submit

ROOT = Path(__file__).resolve().parent.parent
HEADER = ("unit,unit_type,year,status,total,grade,rank,self_total,proactive_counted,proactive_on_time,"
          "proactive_pending,proactive_rate,requests_counted,requests_on_time,request_rate,required_categories,"
          "covered_categories,coverage_rate,missing_categories,A1,A2,A3,B1,B2,B3,B4,C1,C2,C3,D1,D2,D3,D4,E1,E2,E3,"
          "F1,F2,F3,G1,G2,G3,H1,H2,I1,I2,I3,I4,J1")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "county.duckdb"
    con = new_db(path)
    add_unit(con, "县示例局", "部门")
    sid = submit(con, "县示例局", received="2020-01-13", scores=max_scores(B1=3, C3=2, J1=1))
    covered = [c for c in DEPT_REQUIRED if c != "C20"]
    for n in range(35):
        item(con, sid, "2019-03-01", "2019-03-29", category=covered[n % 7])
    for _ in range(3):
        item(con, sid, "2019-03-01", "2019-04-01")
    item(con, sid, "2019-12-13")
    item(con, sid, "2019-12-12")
    for ans, rr in [("2019-07-02", None), ("2019-06-10", None), ("2019-06-10", "纠正"), ("2019-07-03", None)]:
        request(con, sid, "2019-06-03", ans, review_result=rr)
    add_unit(con, "县乙局", "部门")
    sid = submit(con, "县乙局", status="已审核")
    cover(con, sid, DEPT_REQUIRED)
    add_unit(con, "县未报局", "部门")
    add_unit(con, "某镇", "乡镇")
    sid = submit(con, "某镇")
    con.execute("INSERT INTO penalties (unit, year, k1_count) VALUES ('某镇', 2019, 1)")
    con.close()
    return path


def test_scorecard_csv_bytes(db, tmp_path, capsys):
    out = tmp_path / "sc.csv"
    assert main(["scorecard", "--year", "2019", "--csv", str(out), "--db", str(db)]) == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + HEADER.encode("utf-8") + b"\r\n")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == HEADER.split(",")
    assert [r[0] for r in rows[1:]] == ["某镇", "县乙局", "县示例局", "县未报局"]
    ex = dict(zip(rows[0], rows[3]))
    assert ex["total"] == "92.71" and ex["grade"] == "优秀" and ex["rank"] == "2" and ex["self_total"] == "92.71"
    assert ex["proactive_rate"] == "0.9211" and ex["coverage_rate"] == "0.8750" and ex["request_rate"] == "0.7500"
    assert ex["H1"] == "9.21" and ex["H2"] == "7.00" and ex["G1"] == "4.50" and ex["I1"] == "1.00"
    assert ex["A1"] == "4.00" and ex["missing_categories"] == "年度报告"
    assert (ex["proactive_counted"], ex["proactive_on_time"], ex["proactive_pending"]) == ("38", "35", "2")
    town = dict(zip(rows[0], rows[1]))
    assert town["request_rate"] == "" and town["proactive_rate"] == "" and town["G1"] == "6.00"
    assert town["requests_counted"] == "0" and town["total"] == "82.00"     # 85 − 3 (K1)
    missing = dict(zip(rows[0], rows[4]))
    assert missing["status"] == "未报送"
    assert all(missing[c] == "" for c in rows[0][4:]), missing
    assert "已写出" in capsys.readouterr().out


def test_report_workbook(db, tmp_path):
    out = tmp_path / "r.xlsx"
    assert main(["report", "--year", "2019", "-o", str(out), "--db", str(db)]) == 0
    wb = load_workbook(out)
    assert wb.sheetnames == ["乡镇", "部门"]
    ws = wb["部门"]
    assert "2019" in ws["A1"].value and "考核结果" in ws["A1"].value
    assert ws.page_setup.orientation == "landscape"
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == "$3:$3"
    headers = [c.value for c in ws[3]]
    assert headers[:5] == ["排名", "单位名称", "报送状态", "总分", "等次"]
    assert any(h and h.startswith("组织领导") for h in headers)
    assert any(h and "及时率" in h for h in headers) and any(h and "覆盖率" in h for h in headers)
    names = [ws.cell(row=r, column=2).value for r in range(4, 7)]
    assert names == ["县乙局", "县示例局", "县未报局"]
    assert ws.cell(row=5, column=1).value == 2 and float(ws.cell(row=5, column=4).value) == 92.71
    assert ws.cell(row=5, column=5).value == "优秀"
    assert ws.cell(row=5, column=5).fill.fgColor.rgb.endswith("C6EFCE")
    group_col = headers.index("组织领导\n(10)") + 1
    assert float(ws.cell(row=5, column=group_col).value) == 10.0
    assert ws.cell(row=6, column=4).value is None            # 未报送: no score
    missing_col = headers.index("缺失的必公开类别") + 1
    assert ws.cell(row=5, column=missing_col).value == "年度报告"
    assert wb["乡镇"].cell(row=4, column=2).value == "某镇"


def test_unit_scorecard_workbook(db, tmp_path):
    out = tmp_path / "u.xlsx"
    assert main(["unit-report", "--year", "2019", "--unit", "县示例局", "-o", str(out), "--db", str(db)]) == 0
    wb = load_workbook(out)
    assert wb.sheetnames[0] == "得分表" and "主动公开台账核算" in wb.sheetnames
    ws = wb["得分表"]
    codes = [ws.cell(row=r, column=2).value for r in range(4, 34)]
    assert codes[0] == "A1" and codes[-1] == "J1"
    assert main(["unit-report", "--year", "2019", "--unit", "不存在", "-o", str(out), "--db", str(db)]) == 2


def test_unknown_year_and_usage_errors(db, tmp_path, capsys):
    out = tmp_path / "x.csv"
    with pytest.raises(SystemExit) as e:
        main(["scorecard", "--year", "2031", "--csv", str(out), "--db", str(db)])
    assert e.value.code == 2
    assert "没有2031年度的考核指标体系" in capsys.readouterr().err
    assert not out.exists()
    with pytest.raises(SystemExit) as e:
        main(["scorecard", "--csv", str(out)])
    assert e.value.code == 2
    assert "缺少必需的参数" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["scorecard", "--year", "2019", "--csv", str(out), "--db", str(tmp_path / "none.duckdb")])
    assert e.value.code == 2
    assert "数据库文件不存在" in capsys.readouterr().err


def test_calendar_load_cli(db, tmp_path, capsys):
    good = tmp_path / "2027.csv"
    good.write_bytes("\ufeff日期,类型\n2027-10-01,节假日\n2027-10-09,调休上班\n".encode("utf-8"))
    assert main(["calendar", "load", "--year", "2027", str(good), "--db", str(db)]) == 0
    assert "节假日 1 天，调休上班 1 天" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("日期,类型\n2027-10-01,放假\n", encoding="utf-8")
    assert main(["calendar", "load", "--year", "2027", str(bad), "--db", str(db)]) == 2
    assert "bad.csv: 第2行" in capsys.readouterr().err


def test_module_entry_point(db, tmp_path):
    env = dict(os.environ, GONGKAI_DB=str(db), PYTHONPATH=str(ROOT))
    out = tmp_path / "env.csv"
    p = subprocess.run([sys.executable, "-m", "metrics", "scorecard", "--year", "2019", "--csv", str(out)],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbfunit,unit_type,year,status,total")
    p = subprocess.run([sys.executable, "-m", "metrics", "report", "--year", "1999", "-o", str(tmp_path / "r.xlsx")],
                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 2 and "没有1999年度" in p.stderr
