"""The demonstration county (data.demo): generation and loading through the upload path."""
import collections
import datetime as dt

import pytest

from data.demo import REGISTRY_FILE, add_workdays, build_demo, clear, generate_county, run_demo, story_of
from data.reader import read_workbook
from data.registry import parse_registry
from data.store import connect
from core.scheme import scheme_for, years

SEED = 2019
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@pytest.fixture(scope="module")
def files():
    return generate_county(SEED)


@pytest.fixture(scope="module")
def units():
    return parse_registry(REGISTRY_FILE.read_text(encoding="utf-8"))


def test_registry_copy_is_the_county(units):
    assert len(units) == 33
    assert sum(u.unit_type == "乡镇" for u in units) == 8
    assert REGISTRY_FILE.parent.name == "demo" and REGISTRY_FILE.parent.parent.name == "data"


def test_deterministic_for_a_seed(files):
    again = generate_county(SEED)
    assert [(f.unit, f.year, f.file_name, f.received, f.version) for f in files] == \
           [(f.unit, f.year, f.file_name, f.received, f.version) for f in again]
    assert all(a.content == b.content for a, b in zip(files, again))  # byte-identical, so the same SHA-256


def test_formats_xls_and_xlsx(files):
    xls = [f for f in files if f.file_name.endswith(".xls")]
    xlsx = [f for f in files if f.file_name.endswith(".xlsx")]
    assert len(xls) + len(xlsx) == len(files)
    assert all(f.content.startswith(OLE) for f in xls)
    assert all(f.content.startswith(b"PK\x03\x04") for f in xlsx)
    assert 0.12 <= len(xls) / len(files) <= 0.3  # about a fifth legacy .xls
    assert any("template" in f.tags for f in files) and any("custom" in f.tags for f in files)


def test_every_unit_and_year_except_a_few_missing(files, units):
    yrs = years()
    assert yrs[0] == 2019 and len(yrs) >= 5
    have = {(f.unit, f.year) for f in files}
    expected = {(u.name, y) for u in units for y in yrs}
    missing = expected - have
    assert 2 <= len(missing) <= 3
    assert missing == story_of(SEED)["missing"]
    assert len({y for _, y in missing}) == len(missing)  # never two in the same year
    assert have <= expected


def test_one_resubmission_with_a_later_second_version(files):
    versions = collections.defaultdict(list)
    for f in files:
        versions[(f.unit, f.year)].append(f)
    multi = {k: v for k, v in versions.items() if len(v) > 1}
    assert len(multi) == 1
    (key, (v1, v2)), = multi.items()
    assert key == story_of(SEED)["resubmit"]
    assert (v1.version, v2.version) == (1, 2)
    assert v2.received > v1.received
    assert v1.content != v2.content and v1.file_name != v2.file_name


def test_late_submissions(files):
    late, very_late = [], []
    for f in files:
        s = scheme_for(f.year)
        if f.version == 1 and f.received > s.cutoff:
            (late if f.received <= add_workdays(s.cutoff, s.late_submission_days) else very_late).append(f)
    assert len(late) >= 3
    assert len(very_late) == 1
    on_time = [f for f in files if f.received <= scheme_for(f.year).cutoff]
    assert len(on_time) > 0.9 * len(files)
    # received dates are plausible: around the deadline, never long before it
    for f in files:
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


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, files):
    con = connect(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    messages = []
    summary = build_demo(con, progress=messages.append, seed=SEED, files=files)
    yield con, summary, messages
    con.close()


def test_demo_builds_every_file_accepted(demo_db, files, units):
    con, summary, messages = demo_db
    assert summary["problems"] == []
    assert summary["outcomes"] == {"accepted": len(files)}
    assert con.execute("SELECT count(*) FROM rejections").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == len(units) == 33
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == len(files)
    pairs = con.execute("SELECT count(DISTINCT (unit, year)) FROM submissions").fetchone()[0]
    assert pairs == len({(f.unit, f.year) for f in files}) == len(files) - 1
    unit, year = story_of(SEED)["resubmit"]
    assert con.execute("SELECT max(version) FROM submissions WHERE unit = ? AND year = ?", [unit, year]).fetchone()[0] == 2
    assert con.execute("SELECT max(version) FROM submissions").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM ledger_items").fetchone()[0] > 30 * len(files)
    assert con.execute("SELECT count(*) FROM requests").fetchone()[0] > 0
    assert messages and any("自评表" in m for m in messages)


def test_demo_workflow_reviews_and_penalty(demo_db):
    con, summary, _ = demo_db
    status = dict(((y, s), n) for y, s, n in
                  con.execute("SELECT year, status, count(*) FROM workflow GROUP BY ALL").fetchall())
    yrs = years()
    for y in yrs[:-1]:
        assert status.get((y, "已审核"), 0) >= 28
    assert status.get((yrs[-1], "待审核"), 0) > status.get((yrs[-1], "已审核"), 0)
    returned = con.execute("SELECT count(*) FROM workflow WHERE status = '已退回' AND comment <> ''").fetchone()[0]
    assert returned == 2 == summary["returned"]
    # the resubmitted unit was returned once, with a comment, before version 2
    unit, year = story_of(SEED)["resubmit"]
    actions = [a for a, in con.execute("SELECT action FROM audit WHERE unit = ? AND year = ? ORDER BY id",
                                       [unit, year]).fetchall()]
    assert actions[:3] == ["上传自评表", "退回", "上传自评表"]
    rs = con.execute("SELECT count(*), count(reason) FROM review_scores").fetchone()
    assert rs[0] >= 3 and rs[0] == rs[1]
    assert con.execute("SELECT count(*), sum(k1_count) FROM penalties").fetchone() == (1, 1)
    # historical times, not the build time
    assert con.execute("SELECT max(uploaded_at) FROM submissions").fetchone()[0].year <= yrs[-1] + 1


def test_demo_accounts(demo_db, units):
    from data.users import authenticate

    con, summary, _ = demo_db
    assert authenticate(con, "admin", "admin123")["role"] == "admin"
    assert authenticate(con, "shenhe", "shenhe123")["role"] == "reviewer"
    assert authenticate(con, "lingdao", "lingdao123")["role"] == "leader"
    u1 = authenticate(con, "unit01", "demo123")
    assert u1 == {"name": "unit01", "role": "unit", "unit": units[0].name}
    assert summary["unit_accounts"][units[-1].name] == f"unit{len(units):02d}"
    assert con.execute("SELECT count(*) FROM users WHERE demo").fetchone()[0] == 3 + len(units)


def test_run_demo_if_empty_does_nothing_on_a_loaded_database(demo_db):
    con, _, _ = demo_db
    before = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    msg = run_demo(con, if_empty=True, progress=None)
    assert "已有数据" in msg
    assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == before


def test_clear_empties_every_table(con):
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] > 0
    clear(con)
    assert con.execute("SELECT count(*) FROM units").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM audit").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] > 0
