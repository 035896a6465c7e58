"""The demonstration county (package ``demo``): generation, loading through the upload
path, its own database file that never mixes with a real one, and a county that
looks real (grades, trends, late items, coverage gaps)."""
from __future__ import annotations

import collections
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from core.scheme import scheme_for, years
from data.access import SYSTEM
from data.reader import read_workbook
from data.registry import load_units, parse_registry
from data.store import connect, is_demo, mark_demo, transaction
from data.users import check_password, create_user, reset_password
from demo.__main__ import main as demo_main
from demo.accounts import working_demo_accounts
from demo.database import DemoRefused, create_demo_database
from demo.generate import REGISTRY_FILE, SEED, Workdays, generate_county, story_of, words
from demo.load import build_demo
from tests.app_fixtures import open_page
from tests.conftest import REGISTRY_TEXT

ROOT = Path(__file__).resolve().parent.parent
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.fixture(scope="module")
def files():
    return generate_county(SEED)


@pytest.fixture(scope="module")
def story():
    return story_of(SEED)


@pytest.fixture(scope="module")
def units():
    return parse_registry(REGISTRY_FILE.read_text(encoding="utf-8"))


# =========================================================================== package and layers

def test_registry_and_words_are_data_files_of_the_package(units):
    assert len(units) == 33
    assert sum(u.unit_type == "乡镇" for u in units) == 8
    assert REGISTRY_FILE.parent == ROOT / "demo"
    w = words()
    assert len(w["surnames"]) > 20 and set(w["titles"]) >= {f"C{i:02d}" for i in range(1, 31)}


def test_working_days_are_the_projects_calendar():
    """The generator's calendar is data.calendar's: National Day week and its make-up Saturday."""
    from data.calendar import add_workdays, ensure_calendar

    cal = Workdays.for_years(2019, 2023)
    assert not cal.is_workday(dt.date(2019, 10, 1))
    assert cal.is_workday(dt.date(2019, 10, 12))  # 调休上班 (a Saturday)
    assert cal.add(dt.date(2019, 9, 30), 1) == dt.date(2019, 10, 8)
    assert cal.sub(dt.date(2019, 10, 8), 1) == dt.date(2019, 9, 30)
    assert cal.sub(dt.date(2019, 10, 5), 0) == dt.date(2019, 9, 30)
    con = connect(":memory:")
    ensure_calendar(con, range(2018, 2025))
    for d, n in [(dt.date(2020, 1, 20), 5), (dt.date(2021, 2, 5), 20), (dt.date(2023, 9, 27), 3)]:
        assert cal.add(d, n) == add_workdays(con, d, n)


# =========================================================================== generation

def test_deterministic_for_a_seed(files):
    again = generate_county(SEED, workers=1)  # rendered in this process, not by workers: same bytes
    assert [(f.unit, f.year, f.file_name, f.received, f.version) for f in files] == \
           [(f.unit, f.year, f.file_name, f.received, f.version) for f in again]
    assert all(a.content == b.content for a, b in zip(files, again))  # byte-identical, so the same SHA-256


def test_a_rendering_process_that_dies_costs_time_not_the_build():
    """A worker killed mid-render (BrokenProcessPool) is not a failed demo build: every job is
    rendered again in this process, in order, and the caller is told."""
    from demo.generate import _render_all
    from tests.worker_hooks import render_or_die

    jobs = [(f"job{i}", os.getpid()) for i in range(12)]
    jobs[5] = ("die", os.getpid())
    said: list[str] = []
    out = _render_all(jobs, 2, fn=render_or_die, progress=said.append)
    assert [c for c, _ in out] == [name.encode() for name, _ in jobs]
    assert said and "逐份生成" in said[0]
    assert _render_all(jobs[:5], 2, fn=render_or_die) == [(n.encode(), ".xlsx") for n, _ in jobs[:5]]  # few: here


def test_formats_xls_and_xlsx(files):
    xls = [f for f in files if f.file_name.endswith(".xls")]
    xlsx = [f for f in files if f.file_name.endswith(".xlsx")]
    assert len(xls) + len(xlsx) == len(files)
    assert all(f.content.startswith(OLE) for f in xls)
    assert all(f.content.startswith(b"PK\x03\x04") for f in xlsx)
    assert 0.1 <= len(xls) / len(files) <= 0.3
    assert any("template" in f.tags for f in files) and any("custom" in f.tags for f in files)


def test_every_unit_and_year_except_the_missing(files, units, story):
    yrs = years()
    assert yrs[0] == 2019 and len(yrs) >= 5
    have = {(f.unit, f.year) for f in files}
    expected = {(u.name, y) for u in units for y in yrs}
    assert expected - have == story.missing
    assert 2 <= len(story.missing) <= 3
    assert len({y for _, y in story.missing}) == len(story.missing)  # never two in the same year
    assert sum(y == yrs[-1] for _, y in story.missing) == 1          # one missing this year


def test_one_resubmission_with_a_later_second_version(files, story):
    versions = collections.defaultdict(list)
    for f in files:
        versions[(f.unit, f.year)].append(f)
    multi = {k: v for k, v in versions.items() if len(v) > 1}
    assert list(multi) == [story.resubmit]
    v1, v2 = multi[story.resubmit]
    assert (v1.version, v2.version) == (1, 2)
    assert v2.received > v1.received
    assert v1.content != v2.content and v1.file_name != v2.file_name


def test_late_submissions(files):
    yrs = years()
    late, very_late = collections.Counter(), []
    for f in files:
        s = scheme_for(f.year)
        if f.version == 1 and f.received > s.cutoff:
            cal = Workdays.for_years(f.year, f.year + 1)
            if f.received <= cal.add(s.cutoff, s.late_submission_days):
                late[f.year] += 1
            else:
                very_late.append(f)
    assert late[yrs[-1]] == 1          # this year: one late submission
    assert sum(late.values()) >= 3
    assert len(very_late) == 1
    for f in files:  # received dates are plausible: around the deadline, never long before it
        s = scheme_for(f.year)
        assert s.cutoff - dt.timedelta(days=40) <= f.received <= s.cutoff + dt.timedelta(days=30)


def test_files_look_hand_made(files):
    """Title rows, text dates, full-width digits, merged 公开类别, closing rows, other column orders."""
    text_dates = fullwidth = merged_cat = closing = reordered = titles = 0
    for f in files[::3]:
        wb = read_workbook(f.file_name, f.content)
        led = wb.sheet("主动公开台账")
        grid = led.grid
        header = next(r for r in range(5) if any(str(v).startswith(("信息名称", "公开事项", "信息标题")) for v in grid[r]))
        titles += header > 0
        heads = [str(v) for v in grid[header]]
        cat_col = next(i for i, h in enumerate(heads) if h in ("公开类别", "类别", "信息类别"))
        reordered += cat_col != 2 or len(heads) != 7
        merged_cat += any(c0 == cat_col and r1 > r0 for (r0, c0), (r1, c1) in led.merged)
        cells = [v for row in grid[header + 1:] for v in row]
        text_dates += any(isinstance(v, str) and ("年" in v and "月" in v or v.count("/") == 2) for v in cells)
        fullwidth += any(isinstance(v, str) and any("０" <= ch <= "９" for ch in v) for v in cells)
        closing += any(str(row[0]).startswith(("合计", "备注")) for row in grid[header + 1:])
    assert titles > 0 and text_dates > 0 and fullwidth > 0 and merged_cat > 0 and closing > 0 and reordered > 0


def test_ledgers_and_requests_are_realistic(files):
    per_file = []
    for f in files[::4]:
        wb = read_workbook(f.file_name, f.content)
        led = wb.sheet("主动公开台账").grid
        req = wb.sheet("依申请公开台账").grid
        n_items = sum(1 for row in led[2:] if sum(1 for v in row if str(v).strip()) >= 3)
        n_req = sum(1 for row in req[2:] if sum(1 for v in row if str(v).strip()) >= 3)
        per_file.append((n_items, n_req))
    assert all(25 <= n <= 90 for n, _ in per_file), per_file
    assert all(0 <= r <= 9 for _, r in per_file)
    assert any(r == 0 for _, r in per_file) and any(r >= 3 for _, r in per_file)


# =========================================================================== the loaded county

@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, files):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    messages = []
    t0 = time.monotonic()
    con = connect(path)
    # the county as loaded; the year-closing step of AFTER_LOAD is tested in test_demo_closing.py
    summary = build_demo(con, progress=messages.append, seed=SEED, files=files, after_load=[])
    con.close()
    summary["test_seconds"] = time.monotonic() - t0
    con = duckdb.connect(str(path), read_only=True)
    yield con, summary, messages, path
    con.close()


def test_demo_closes_the_years_after_loading():
    from demo.closing import closing_step
    from demo.steps import AFTER_LOAD
    assert AFTER_LOAD[-1] is closing_step


def test_demo_builds_every_file_accepted(demo_db, files, units, story):
    con, summary, messages, _ = demo_db
    assert is_demo(con)
    assert summary["problems"] == []
    assert summary["outcomes"] == {"accepted": len(files)}
    assert con.execute("SELECT count(*) FROM rejections").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == len(units) == 33
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == len(files)
    unit, year = story.resubmit
    assert con.execute("SELECT max(version) FROM submissions WHERE unit = ? AND year = ?", [unit, year]).fetchone()[0] == 2
    assert con.execute("SELECT max(version) FROM submissions").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM ledger_items").fetchone()[0] > 30 * len(files)
    assert con.execute("SELECT count(*) FROM requests").fetchone()[0] > 0
    assert messages and any("自评表" in m for m in messages)


def test_demo_workflow_reviews_and_penalty(demo_db, story):
    con, summary, _, _ = demo_db
    yrs = years()
    status = dict(((y, s), n) for y, s, n in
                  con.execute("SELECT year, status, count(*) FROM workflow GROUP BY ALL").fetchall())
    for y in yrs[:-1]:  # past years: every submission reviewed and approved
        assert set(s for (yy, s) in status if yy == y) == {"已审核"}
    assert status.get((yrs[-1], "待审核"), 0) > status.get((yrs[-1], "已审核"), 0) > 0
    assert con.execute("SELECT count(*) FROM workflow WHERE status = '已退回' AND comment <> ''").fetchone()[0] \
        == 1 == summary["returned"]
    unit, year = story.resubmit  # returned once, with a comment, before version 2
    actions = [a for a, in con.execute("SELECT action FROM audit WHERE unit = ? AND year = ? ORDER BY id",
                                       [unit, year]).fetchall()]
    assert actions[:3] == ["上传自评表", "退回", "上传自评表"]
    rs = con.execute("SELECT count(*), count(reason) FROM review_scores").fetchone()
    assert rs[0] >= 5 and rs[0] == rs[1]
    # one K1 deduction this year, with its reason
    pen = con.execute("SELECT unit, year, k1_count, reason FROM penalties").fetchall()
    assert [(u, y, k) for u, y, k, _ in pen] == [(*story.penalty, 1)]
    assert "通报批评" in pen[0][3]


def test_demo_rows_carry_historical_times_without_backdating(demo_db):
    """Upload, review and audit times are the demo events' own, written by the normal code paths."""
    con, _, _, _ = demo_db
    yrs = years()
    for y, first, last in con.execute("SELECT year, min(uploaded_at), max(uploaded_at) FROM submissions GROUP BY 1").fetchall():
        assert first.date() >= scheme_for(y).cutoff - dt.timedelta(days=40)
        assert last.date() <= scheme_for(y).cutoff + dt.timedelta(days=30)
    assert con.execute("SELECT max(at_time) FROM audit").fetchone()[0].year <= yrs[-1] + 1
    assert con.execute("SELECT max(updated_at) FROM workflow").fetchone()[0].year <= yrs[-1] + 1
    assert con.execute("SELECT max(created_at) FROM users").fetchone()[0].year == yrs[0]
    # every upload's audit row has the upload's own time
    bad = con.execute("""SELECT count(*) FROM submissions s JOIN audit a ON a.unit = s.unit AND a.year = s.year
                         AND a.action = '上传自评表' AND a.detail LIKE '%第' || s.version || '版%'
                         WHERE a.at_time <> s.uploaded_at""").fetchone()[0]
    assert bad == 0


def _account(con, name: str, password: str) -> dict | None:
    """What signing in would give (read-only: the module's database is opened read-only, and
    data.users.login writes its audit row)."""
    row = con.execute("SELECT name, role, unit, password_hash FROM users WHERE name = ? AND active", [name]).fetchone()
    return {"name": row[0], "role": row[1], "unit": row[2]} if row and check_password(password, row[3]) else None


def test_demo_accounts(demo_db, units):
    con, summary, _, _ = demo_db
    assert _account(con, "admin", "admin123")["role"] == "admin"
    assert _account(con, "shenhe", "shenhe123")["role"] == "reviewer"
    assert _account(con, "lingdao", "lingdao123")["role"] == "leader"
    assert _account(con, "unit01", "demo1234") == {"name": "unit01", "role": "unit", "unit": units[0].name}
    assert _account(con, "unit01", "demo123") is None  # the old 7-character password is gone
    assert summary["unit_accounts"][units[-1].name] == f"unit{len(units):02d}"
    assert con.execute("SELECT count(*) FROM users WHERE demo").fetchone()[0] == 3 + len(units)
    listed = working_demo_accounts(con)
    assert [a["name"] for a in listed[:4]] == ["admin", "shenhe", "lingdao", "unit01"] and len(listed) == 36


# =========================================================================== a county that looks real

@pytest.fixture(scope="module")
def scores(demo_db):
    from metrics.engine import score_year

    con, _, _, _ = demo_db
    return {y: score_year(con, y) for y in years()}


def test_a_spread_of_grades_every_year(scores):
    for y, df in scores.items():
        grades = collections.Counter(df["grade"].dropna())
        assert grades["不合格"] == 1, (y, grades)
        assert 2 <= grades["合格"] <= 5, (y, grades)
        assert 3 <= grades["良好"] <= 9, (y, grades)
        assert grades["优秀"] >= 18, (y, grades)
        totals = sorted(float(t) for t in df["total"].dropna())
        assert totals[-1] - totals[0] > 30  # the ranking bars differ


def test_the_county_improves_and_one_unit_gets_worse(scores, story):
    yrs = years()
    mean = {y: float(scores[y]["total"].dropna().astype(float).mean()) for y in yrs}
    assert mean[yrs[-1]] - mean[yrs[0]] >= 2.5, mean
    grade = {y: dict(zip(scores[y]["unit"], scores[y]["grade"])) for y in yrs}
    total = {y: dict(zip(scores[y]["unit"], scores[y]["total"].astype(float))) for y in yrs}
    w = story.worsening
    assert grade[yrs[0]][w] == "优秀" and grade[yrs[-1]][w] == "不合格"
    assert total[yrs[0]][w] - total[yrs[-1]][w] > 30
    i = story.improving
    assert grade[yrs[0]][i] == "不合格" and grade[yrs[-1]][i] == "优秀"


def test_late_items_concentrate_in_a_few_departments(demo_db, story):
    from metrics.engine import item_facts

    con, _, _, _ = demo_db
    y = years()[-1]
    facts = item_facts(con, y)
    late = facts[facts["state"].astype(str).str.contains("逾期|late", regex=True)]
    per_unit = late.groupby("unit").size().sort_values(ascending=False)
    top3 = set(per_unit.index[:3])
    assert top3 == set(story.slow), per_unit.head(6)
    assert per_unit.iloc[:3].sum() >= 0.5 * per_unit.sum()


def test_chronic_coverage_gaps(scores, story):
    from core.scheme import load_catalogue

    for unit, code in story.chronic_gaps:
        name = load_catalogue().by_code(code).name
        for y, df in scores.items():
            row = df[df["unit"] == unit]
            if row.empty or row.iloc[0]["missing_categories"] is None:
                continue
            assert name in str(row.iloc[0]["missing_categories"]).split("、"), (unit, name, y)
    assert 2 <= len(story.chronic_gaps) <= 3


def test_this_year_one_late_one_missing_one_k1(scores, story):
    df = scores[years()[-1]]
    assert int(df["late_submission"].fillna(False).astype(bool).sum()) == 1
    assert int(df["k1_count"].fillna(0).astype(int).sum()) == 1
    assert df["total"].isna().sum() == 1 or (df["status"] == "未报送").sum() == 1


# =========================================================================== 年报数据 and its 勾稽

def test_annual_report_required_from_2022(story):
    from demo.annual import ANNUAL_FROM

    assert {y: scheme_for(y).annual_report for y in range(2019, 2024)} == \
        {2019: "optional", 2020: "optional", 2021: "optional", 2022: "required", 2023: "required"}
    assert ANNUAL_FROM == 2021
    assert story.annual_t1[1] == 2022 and story.annual_l1[1] == 2023
    assert len({story.annual_t1[0], story.annual_l1[0], story.annual_perfect}) == 3


def test_every_unit_fills_the_annual_report_from_2021(demo_db, files):
    con, _, _, _ = demo_db
    # 2019–2020: nobody; 2021 on: every version of every unit that sent a workbook
    rows = con.execute("""SELECT s.year, count(*), count(a.submission_id) FROM submissions s
                          LEFT JOIN annual_reports a ON a.submission_id = s.id GROUP BY 1 ORDER BY 1""").fetchall()
    for y, n, n_filled in rows:
        assert n_filled == (n if y >= 2021 else 0), (y, n, n_filled)
    assert {y for y, _, _ in rows} == set(years())
    # most copy the 2021 format; a few clerks kept the 2019 one in 2021 (其他处理 one row)
    eds = dict(((y, e), n) for y, e, n in con.execute(
        "SELECT s.year, a.edition, count(*) FROM annual_reports a JOIN submissions s ON s.id = a.submission_id "
        "GROUP BY ALL").fetchall())
    assert eds.get((2021, 2019), 0) >= 1 and eds[(2021, 2021)] > 20
    assert eds.get((2022, 2019), 0) == eds.get((2023, 2019), 0) == 0
    # some reports show requests carried over, and 复议诉讼 in table 四
    carried = con.execute("SELECT count(*) FROM annual_report_cells WHERE row_code = 'carried_in' "
                          "AND col_code = 'total' AND value > 0").fetchone()[0]
    reviews = con.execute("SELECT sum(value) FROM annual_report_cells WHERE row_code LIKE 'rv_%' "
                          "AND col_code = 'total'").fetchone()[0]
    assert carried >= 3 and reviews >= 2


def test_reconcile_shows_exactly_the_planted_mistakes(demo_db, story):
    from metrics import reconcile as mr

    con, _, _, _ = demo_db
    t1_unit, t1_year = story.annual_t1
    l1_unit, l1_year = story.annual_l1
    for y in (2021, 2022, 2023):
        f = mr.findings(con, y)
        m = mr.matrix(con, y).set_index("unit")
        assert set(m["status"]) <= {mr.CONSISTENT, mr.INCONSISTENT, mr.NOT_SUBMITTED}  # nobody 未填报
        want = {(t1_unit, "T1")} if y == t1_year else ({(l1_unit, "L1")} if y == l1_year else set())
        assert set(zip(f["unit"], f["rule"])) == want, (y, f[["unit", "rule", "message"]])
        assert (m["status"] == mr.INCONSISTENT).sum() == len(want)
        assert (m["status"] == mr.CONSISTENT).sum() >= 30
        assert m.loc[story.annual_perfect, "status"] == mr.CONSISTENT
        if y == t1_year:  # 上年结转 one too high: T1 fails in one applicant column and in 总计, by one each
            assert len(f) == 2 and all(f["expected"] - f["actual"] == 1)
            assert "J" in {loc.split("!")[1][0] for loc in f["location"]}  # 总计 is column J of the layout
            assert all("“本年新收+上年结转”" in msg for msg in f["message"])
            assert m.loc[t1_unit, "T1"] == mr.FAILED and m.loc[t1_unit, "T2"] == mr.PASSED
        if y == l1_year:  # a request in the report that is not in the ledger: 总计 and its applicant column
            total = f[f["message"].str.contains("总计")]
            assert len(total) == 1 and int(total["actual"].iloc[0]) == int(total["expected"].iloc[0]) + 1
            assert all(f["actual"] - f["expected"] == 1)
            assert m.loc[l1_unit, "L1"] == mr.FAILED and m.loc[l1_unit, "L2"] == m.loc[l1_unit, "L3"] == mr.PASSED
            # the unit had a request carried over, so L2 and L3 compare with ≤
            cin = con.execute("""SELECT c.value FROM annual_report_cells c JOIN submissions s ON s.id = c.submission_id
                                 WHERE s.unit = ? AND s.year = ? AND c.row_code = 'carried_in' AND c.col_code = 'total'""",
                              [l1_unit, l1_year]).fetchone()[0]
            assert cin >= 1
    # the showcase unit: requests every year, every check passed
    n = dict(con.execute("""SELECT s.year, count(*) FROM requests r JOIN submissions s ON s.id = r.submission_id
                            WHERE s.unit = ? GROUP BY 1""", [story.annual_perfect]).fetchall())
    assert all(n.get(y, 0) >= 3 for y in (2021, 2022, 2023))
    share = mr.share_by_year(con).set_index("year")
    assert list(share.loc[[2021, 2022, 2023], "consistent"]) == list(share.loc[[2021, 2022, 2023], "filled"] - [0, 1, 1])


@pytest.fixture(scope="module")
def demo_copy(demo_db, tmp_path_factory):
    """A copy of the loaded county for the CLI and the pages (the module's connection stays read-only)."""
    _, _, _, built = demo_db
    db = tmp_path_factory.mktemp("demo-copy") / "demo.duckdb"
    shutil.copy(built, db)
    return db


def test_metrics_reconcile_cli_on_the_demo(demo_copy, story, tmp_path, capsys):
    from metrics.__main__ import main as metrics_main

    db = demo_copy
    out = tmp_path / "t1.csv"
    assert metrics_main(["reconcile", "--year", "2022", "--csv", str(out), "--db", str(db)]) == 0
    text = out.read_bytes().decode("utf-8-sig").splitlines()
    assert text[0] == "unit,rule,location,expected,actual,message"
    assert len(text) == 3 and all(line.startswith(f"{story.annual_t1[0]},T1,年报数据!") for line in text[1:])
    assert metrics_main(["reconcile", "--year", "2021", "--db", str(db)]) == 0
    capsys.readouterr()


def test_reconcile_page_on_the_demo(demo_copy, story, monkeypatch):
    """The county page has something real to show: 2023 with one unit's L1 mismatch first in the
    drill-down, and the share of consistent reports 2021–2023."""
    import json

    import streamlit as st

    from dashboard.common import close_connections

    monkeypatch.setenv("GONGKAI_DB", str(demo_copy))
    close_connections()
    st.cache_data.clear()
    try:
        at = open_page("reconcile", "lingdao", year=2023, path=demo_copy, timeout=120)  # a real session
        m = {x.label: x.value for x in at.metric}
        assert m == {"填报年报数据的单位": "32 个", "勾稽一致": "31 个", "有问题": "1 个", "一致率": "96.9%"}
        assert at.selectbox(key="reconcile_unit").value == story.annual_l1[0]
        msgs = next(d.value for d in at.dataframe if "对照数" in getattr(d.value, "columns", []))
        assert any("依申请公开台账中本年收到的申请数" in x for x in msgs["说明"])
        spec = json.loads(next(p for p in at.get("plotly_chart") if p.key == "reconcile_share").proto.spec)
        assert spec["data"][0]["x"] == ["2021年度", "2022年度", "2023年度"]
    finally:
        close_connections()
        st.cache_data.clear()


def test_annual_sheet_in_demo_xls_files(files):
    """The legacy .xls workbooks carry the sheet with its merges and read back complete."""
    from data.annual import SHEET_ALIASES, read_annual_report

    xls = [f for f in files if f.year >= 2021 and f.file_name.endswith(".xls")]
    assert len(xls) >= 5
    for f in xls:
        wb = read_workbook(f.file_name, f.content)
        sheet = next(sh for sh in (wb.sheet(n) for n in ("年报数据", *SHEET_ALIASES)) if sh is not None)
        rep, issues = read_annual_report(sheet)
        assert issues == [] and rep.filled, f.file_name
        assert len(sheet.merged) >= 10
        v = {(c.row_code, c.col_code): c.value for c in rep.cells}
        apps = ("natural", "business", "research", "social", "legal", "other")
        for r in {r for r, _ in v if not r.startswith("rv_")}:  # T3 holds on every row
            assert v[(r, "total")] == sum(v[(r, c)] for c in apps), (f.file_name, r)


# =========================================================================== demo and production never mix

def _real_db(path: Path) -> Path:
    """The case of the issue: a real database with an account but no units yet."""
    con = connect(path)
    create_user(con, "zhangsan", "admin", "s3cret-pass", actor=SYSTEM)
    con.close()
    return path


def _fingerprint(path: Path) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return (con.execute("SELECT count(*) FROM units").fetchone()[0],
                con.execute("SELECT list(name ORDER BY name) FROM users").fetchone()[0],
                con.execute("SELECT count(*) FROM audit").fetchone()[0], is_demo(con))
    finally:
        con.close()


@pytest.mark.parametrize("flags", [[], ["--reset"], ["--if-missing"]])
def test_demo_refuses_a_real_database(tmp_path, capsys, flags):
    db = _real_db(tmp_path / "real.duckdb")
    before = _fingerprint(db)
    assert demo_main(["--db", str(db), *flags]) == 2
    err = capsys.readouterr().err
    assert "不是演示数据库" in err and str(db) in err
    assert _fingerprint(db) == before == (0, ["zhangsan"], 1, False)
    assert not list(tmp_path.glob(".*building*"))


def test_demo_refuses_a_foreign_file(tmp_path, capsys):
    f = tmp_path / "notes.duckdb"
    f.write_text("这不是数据库", encoding="utf-8")
    assert demo_main(["--db", str(f), "--reset"]) == 2
    assert "不是本系统的数据库文件" in capsys.readouterr().err
    assert f.read_text(encoding="utf-8") == "这不是数据库"


def test_new_path_creates_a_marked_demo_database_and_reset_swaps_atomically(tmp_path, demo_db, files):
    _, _, _, built = demo_db
    target = tmp_path / "sub" / "new.duckdb"
    steps_seen = []

    def step(con, ctx):  # the hook: runs after loading, on the new file, with the demo's context
        steps_seen.append((is_demo(con), con.execute("SELECT count(*) FROM submissions").fetchone()[0] > 100,
                           ctx.story.penalty))
        with ctx.at(dt.date(2024, 3, 1)):
            with transaction(con):
                con.execute("INSERT INTO meta VALUES ('test_step', 'ran')")
        ctx.summary["steps"].append("测试步骤")

    # a new path: built (from the module's generated workbooks, to keep the test quick)
    line, summary = create_demo_database(target, after_load=[step], progress=None, files=files)
    assert "演示数据库已生成" in line and summary["steps"] == ["测试步骤"]
    assert steps_seen and steps_seen[0][0] and steps_seen[0][1]
    con = duckdb.connect(str(target), read_only=True)
    assert is_demo(con) and con.execute("SELECT value FROM meta WHERE key = 'test_step'").fetchone() == ("ran",)
    con.close()
    assert not list(target.parent.glob(".*building*"))
    # without --reset an existing demo database is left alone
    with pytest.raises(DemoRefused):
        create_demo_database(target)
    assert create_demo_database(target, if_missing=True)[1] is None

    # --reset with a step that fails midway: the old database is intact, no temp file left
    shutil.copy(built, target)
    before = _fingerprint(target)

    def boom(con, ctx):
        raise RuntimeError("模拟中途失败")

    with pytest.raises(RuntimeError):
        create_demo_database(target, reset=True, after_load=[boom])
    assert _fingerprint(target) == before and before[3] is True
    assert not list(target.parent.glob(".*building*"))


def test_the_county_is_the_same_database_however_it_is_built(tmp_path, files):
    """The whole build (loading, reviews, the closing step, the stored scores) gives the database whose
    fingerprint tests/demo_fingerprint.json holds: making the build faster changes no row. On a
    change of the county on purpose, rewrite it (see tests/demo_fingerprint.py)."""
    from tests.demo_fingerprint import differences, expected, fingerprint

    target = tmp_path / "demo.duckdb"
    day = dt.date.today()
    create_demo_database(target, files=files)
    if dt.date.today() != day:  # built across midnight: the newest year's "today" moved
        pytest.skip("演示县生成跨越午夜，无法比较")
    assert differences(fingerprint(target, day), expected()) == []


def test_killed_reset_leaves_the_old_database(tmp_path, demo_db):
    """``python -m demo --reset`` killed while it builds: the old file still opens, unchanged."""
    _, _, _, built = demo_db
    target = tmp_path / "demo.duckdb"
    shutil.copy(built, target)
    before = _fingerprint(target)
    proc = subprocess.Popen([sys.executable, "-m", "demo", "--reset", "--db", str(target)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    building = target.with_name(f".{target.name}.building")
    deadline = time.monotonic() + 120
    while not building.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert building.exists(), proc.stdout.read().decode() if proc.poll() is not None else "no temp file"
    time.sleep(1.0)  # well inside the build
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _fingerprint(target) == before
    con = duckdb.connect(str(target), read_only=True)
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] > 100
    con.close()


# =========================================================================== the login page and the banner

def _small_db(path: Path, *, demo: bool) -> Path:
    con = connect(path)
    load_units(con, parse_registry(REGISTRY_TEXT), actor=SYSTEM)
    if demo:
        with transaction(con):
            mark_demo(con)
    create_user(con, "admin", "admin", "admin123", demo=True, actor=SYSTEM)
    create_user(con, "shenhe", "reviewer", "shenhe123", demo=True, actor=SYSTEM)
    create_user(con, "lingdao", "leader", "lingdao123", demo=True, actor=SYSTEM)
    create_user(con, "unit01", "unit", "demo1234", unit="方正镇", demo=True, actor=SYSTEM)
    reset_password(con, "shenhe", "another-password", actor=SYSTEM)  # changed: its published password no longer works
    con.close()
    return path


def _login_page(path: Path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from dashboard.common import close_connections

    monkeypatch.setenv("GONGKAI_DB", str(path))
    close_connections()
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(d.value.to_string() for d in at.dataframe)
    banner = " ".join(w.value for w in at.warning)
    close_connections()
    return shown, banner


def test_login_lists_working_demo_accounts_only_on_a_demo_database(tmp_path, monkeypatch):
    shown, banner = _login_page(_small_db(tmp_path / "demo.duckdb", demo=True), monkeypatch)
    assert "admin123" in shown and "lingdao123" in shown and "demo1234" in shown
    assert "shenhe" not in shown  # its password was changed: never advertised
    assert "演示数据" in banner


def test_login_lists_no_accounts_and_no_banner_on_a_real_database(tmp_path, monkeypatch):
    # accounts flagged demo in a database that is not marked demo (e.g. copied by hand): never listed
    shown, banner = _login_page(_small_db(tmp_path / "real.duckdb", demo=False), monkeypatch)
    assert "admin123" not in shown and "demo1234" not in shown
    assert "演示数据" not in banner


def test_working_demo_accounts_checks_each_password(tmp_path):
    con = connect(_small_db(tmp_path / "d.duckdb", demo=True))
    assert [a["name"] for a in working_demo_accounts(con)] == ["admin", "lingdao", "unit01"]
    con.execute("UPDATE users SET active = false WHERE name = 'unit01'")
    assert [a["name"] for a in working_demo_accounts(con)] == ["admin", "lingdao"]
    con.close()


# =========================================================================== the hook for sheets in the workbooks

def test_extra_sheet_hook_adds_a_sheet_and_changes_nothing_else(monkeypatch):
    import random

    from demo import generate as g
    from demo import render as r
    from demo import steps

    scheme = scheme_for(2019)
    unit = g.units()[0]
    prof = g._profile(random.Random(1), unit, 1)
    sub = g._Filler(random.Random(2), Workdays.for_years(2019, 2019), story_of(SEED)).fill(
        prof, scheme, 0, dt.date(2020, 1, 8))
    plain = {fmt: r.render(random.Random(3), prof, sub, scheme, fmt) for fmt in ("template", "custom", "xls")}

    def annual(rng, u, s, sch):
        return "年报数据", [["项目", "数量"], ["主动公开", len(s.items)], ["单位", u.name]]

    monkeypatch.setattr(steps, "EXTRA_SHEETS", [annual])
    for fmt, (content, ext) in plain.items():
        with_sheet, ext2 = r.render(random.Random(3), prof, sub, scheme, fmt)
        assert ext2 == ext
        a, b = read_workbook("a" + ext, content), read_workbook("b" + ext2, with_sheet)
        grid = b.sheet("年报数据").grid
        assert [str(v) for v in grid[1][:2]] in (["主动公开", str(len(sub.items))], ["主动公开", f"{len(sub.items)}.0"])
        assert grid[2][1] == unit.name
        for name in ("单位信息", "自评打分", "主动公开台账", "依申请公开台账"):
            assert a.sheet(name).grid == b.sheet(name).grid, (fmt, name)
