"""The dashboard's write path through Streamlit's AppTest: login, the pages of
each role, uploads, the review cycle, batch import, administration, and the
isolation of unit accounts.

Every test gets its own small database (``tests/app_fixtures.py``) named by
``GONGKAI_DB``; the cached connection is closed and every cache cleared
before and after each test so nothing leaks between tests.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from google.protobuf import text_format
from streamlit.testing.v1 import AppTest

from data.access import SYSTEM
from data.review import snapshot
from data.store import connect
from tests import app_fixtures as fx
from tests.app_fixtures import app_db  # noqa: F401 - the fixture
from tests.app_fixtures import new_app
from tests.app_fixtures import show as open_page  # (at, page): these modules build the app first

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

WRITE_PAGES = {"upload": ("unit", "reviewer", "admin"),
               "review_queue": ("reviewer", "admin"),
               "review_unit": ("reviewer", "admin"),
               "batch_import": ("reviewer", "admin"),
               "admin": ("admin",)}
ANALYTICS_PAGES = ("overview", "scorecard", "timeliness", "coverage", "trends")
ROLE_USER = {"unit": "shenji", "reviewer": "shenhe", "leader": "lingdao", "admin": "admin"}


pytestmark = pytest.mark.both_backends  # every page on the DuckDB file and on PostgreSQL


def page_text(at: AppTest) -> str:
    """Every text the page shows (all elements, incl. widget labels/options and table cells)."""
    out = []

    def walk(node):
        ch = getattr(node, "children", None)
        if isinstance(ch, dict):
            for c in ch.values():
                walk(c)
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(text_format.MessageToString(proto, as_utf8=True))

    walk(at._tree)
    for d in at.dataframe:
        v = d.value
        out.append(v.to_string() if hasattr(v, "to_string") else str(v))
    return "\n".join(out)


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert found, f"no button {label!r}: {[b.label for b in at.button]}"
    return found[0]


def db(path):
    return connect(path)


def status_of(path, unit, year=2019):
    con = db(path)
    try:
        row = con.execute("SELECT status FROM workflow WHERE unit = ? AND year = ?", [unit, year]).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def card(path, unit, year=2019):
    from metrics.engine import score_year

    con = db(path)
    try:
        return score_year(con, year, unit=unit).iloc[0]
    finally:
        con.close()


def upload_through_page(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader[0].set_value([(n, c, XLSX) for n, c in files])
    at.run()
    button(at, "上传并校验").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --------------------------------------------------------------------------- pages × roles

@pytest.mark.parametrize("role", ["unit", "reviewer", "leader", "admin"])
def test_every_page_renders_for_each_role_that_may_see_it(app_db, role):
    allowed = [p for p, roles in WRITE_PAGES.items() if role in roles]
    if role != "unit":
        allowed += list(ANALYTICS_PAGES)
    forbidden = [p for p, roles in WRITE_PAGES.items() if role not in roles]
    if role == "unit":
        forbidden += list(ANALYTICS_PAGES)
    for page in allowed:
        at = open_page(new_app(ROLE_USER[role]), page)
        assert at.title, f"{role}: {page} shows no title"
        assert not [e.value for e in at.error if "权限" in str(e.value)], (role, page)
    for page in forbidden:
        at = new_app(ROLE_USER[role])
        at.run()
        with pytest.raises(ValueError):
            at.switch_page(f"app_pages/{page}.py")


def test_pages_also_render_for_a_year_without_submissions(app_db):
    for page in ("upload", "review_queue", "review_unit", "batch_import", "admin"):
        at = open_page(new_app("admin", year=2023), page)
        assert at.title


def test_review_unit_page_of_an_unsubmitted_unit(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.CIVIL), "review_unit")
    assert any("尚未报送" in str(i.value) for i in at.info)


# --------------------------------------------------------------------------- login

def test_login_wrong_then_right_password(app_db):
    at = new_app()
    at.run()
    assert [t.value for t in at.title] == ["政务公开年度考核分析平台"]
    at.text_input(key="login_name").input("shenhe")
    at.text_input(key="login_password").input("wrong-password")
    button(at, "登录").click()
    at.run()
    assert "auth_user" not in at.session_state
    assert any("用户名或密码错误" in str(e.value) for e in at.error)

    at.text_input(key="login_name").input("shenhe")
    at.text_input(key="login_password").input("shenhe123")
    button(at, "登录").click()
    at.run()
    assert not at.exception
    assert at.session_state["auth_user"] == {"name": "shenhe", "role": "reviewer", "unit": None}
    at.run()
    assert "审核队列" in [t.value for t in at.title]
    assert "考核组" in page_text(at)


def test_logout_and_disabled_account(app_db):
    at = new_app("shenhe")
    at.run()
    button(at, "退出登录").click()
    at.run()
    assert "auth_user" not in at.session_state
    assert [t.value for t in at.title] == ["政务公开年度考核分析平台"]

    from data.users import set_active
    at = new_app("shenhe")
    at.run()
    con = db(app_db)
    set_active(con, "shenhe", False, actor=SYSTEM)
    con.close()
    at.run()
    assert "auth_user" not in at.session_state
    assert [t.value for t in at.title] == ["政务公开年度考核分析平台"]


def test_role_and_unit_come_from_the_database_not_the_session(app_db):
    # a session claiming admin rights for a unit account gets the unit's pages only
    at = AppTest.from_file(str(APP), default_timeout=60)
    for k, v in fx.signed_in("shenji", auth_user={"name": "shenji", "role": "admin", "unit": fx.TOWN}).items():
        at.session_state[k] = v
    at.run()
    assert at.session_state["auth_user"] == fx.user("shenji")
    with pytest.raises(ValueError):
        at.switch_page("app_pages/admin.py")
    text = page_text(at)
    assert fx.AUDIT in text
    for other in fx.OTHER_UNITS:
        assert other not in text


# --------------------------------------------------------------------------- uploads

def test_upload_valid_and_invalid_files_through_the_page(app_db):
    at = open_page(new_app("shenji"), "upload")
    new = fx.workbook(reporter="李四")
    upload_through_page(at, [("新版自评表.xlsx", new), ("错表.xlsx", fx.bad_workbook())])
    text = page_text(at)
    assert "已接收" in text and "已拒收" in text
    assert "主动公开台账!C3" in text  # the unknown category, located
    assert "自评打分" in text
    labels = [b.label for b in at.get("download_button")]
    assert "下载问题清单（CSV）" in labels and "下载问题清单（Excel）" in labels
    con = db(app_db)
    assert con.execute("SELECT max(version) FROM submissions WHERE unit = ?", [fx.AUDIT]).fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM rejections WHERE file_name = '错表.xlsx'").fetchone()[0] == 1
    assert con.execute("SELECT received FROM submissions WHERE unit = ? AND version = 2",
                       [fx.AUDIT]).fetchone()[0] == dt.date.today()
    con.close()
    # the same bytes again: unchanged
    upload_through_page(at, [("新版自评表.xlsx", new)])
    assert "未变化" in page_text(at)


def test_upload_handler_directly(app_db):
    from data.review import ReviewError
    from data.uploads import issues_frame, submit_files

    con = db(app_db)
    try:
        res = submit_files(con, [("a.xlsx", fx.workbook(reporter="王五")), ("b.xlsx", fx.bad_workbook()),
                                 ("c.et", b"whatever")],
                           user=fx.user("shenji"), received=dt.date(2020, 1, 9))
        assert [r.outcome for r in res] == ["accepted", "rejected", "rejected"]
        issues = issues_frame(res)
        assert list(issues.columns) == ["文件", "位置", "级别", "问题"]
        assert "另存为 .xlsx" in " ".join(issues["问题"])
        # errors before warnings within a file
        for _, grp in issues.groupby("文件", sort=False):
            levels = list(grp["级别"])
            assert levels == sorted(levels, key=lambda s: s != "错误")
        with pytest.raises(ReviewError):
            submit_files(con, [("a.xlsx", b"")], user=fx.user("lingdao"), received=dt.date(2020, 1, 9))
    finally:
        con.close()


def test_error_list_downloads_are_csv_with_bom_and_xlsx(app_db):
    import io

    import openpyxl

    from data.exports import csv_bytes, xlsx_bytes
    from data.uploads import issues_frame, submit_files
    con = db(app_db)
    try:
        res = submit_files(con, [("b.xlsx", fx.bad_workbook())], user=fx.user("shenhe"), received=dt.date(2020, 1, 9))
    finally:
        con.close()
    df = issues_frame(res)
    raw = csv_bytes(df)
    assert raw.startswith(b"\xef\xbb\xbf") and "位置" in raw.decode("utf-8-sig")
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(df))).active
    assert [c.value for c in ws[1]] == ["文件", "位置", "级别", "问题"]
    assert ws.max_row == len(df) + 1


# --------------------------------------------------------------------------- the review cycle

def test_full_cycle_upload_return_reupload_adjust_approve(app_db):
    unit_at = open_page(new_app("minzheng"), "upload")
    upload_through_page(unit_at, [("民政局.xlsx", fx.workbook(fx.CIVIL))])
    assert "已接收" in page_text(unit_at)
    assert status_of(app_db, fx.CIVIL) == "待审核"
    first_total = card(app_db, fx.CIVIL)["total"]

    # the reviewer opens the unit from the queue
    rev = open_page(new_app("shenhe"), "review_queue")
    rev.selectbox(key="review_queue_pick").select(fx.CIVIL)
    button(rev, "审核该单位").click()
    rev.run()
    assert not rev.exception
    assert [t.value for t in rev.title] == ["单位审核"]
    assert rev.session_state["review_unit"] == fx.CIVIL
    # (a browser now has the 单位审核 address; AppTest keeps requesting the page it was switched to)
    rev.switch_page("app_pages/review_unit.py")

    # 退回 needs a comment
    button(rev, "退回").click()
    rev.run()
    assert any("必须填写退回意见" in str(e.value) for e in rev.error)
    # the ledgers' counts (metrics.summary.fact_counts) under each ledger of the unit
    caps = [c.value for c in rev.caption if str(c.value).startswith("计入本年度：")]
    assert len(caps) == 2 and all(re.fullmatch(r"计入本年度：按时 \d+，逾期 \d+，未到期 \d+；不计入（日期不在\d{4}年内）：\d+", c)
                                  for c in caps), caps
    print("LEDGER CAPTIONS", caps)
    assert status_of(app_db, fx.CIVIL) == "待审核"
    rev.text_area(key="review_return_note").input("B1 缺少征求意见的佐证材料，请补充")
    button(rev, "退回").click()
    rev.run()
    assert status_of(app_db, fx.CIVIL) == "已退回"

    # the unit sees the comment and uploads again
    unit_at.run()
    assert "B1 缺少征求意见的佐证材料" in page_text(unit_at)
    upload_through_page(unit_at, [("民政局-修改.xlsx", fx.workbook(fx.CIVIL, overrides={"J1": 1}))])
    assert status_of(app_db, fx.CIVIL) == "待审核"
    second = card(app_db, fx.CIVIL)
    assert second["version"] == 2 and second["total"] == first_total + 1

    # the reviewer lowers A1 (4 → 2.5) in the one-indicator form: without a reason it is refused
    rev.run()
    _reason_form(rev, "A1", "2.5", "")
    assert any("必须填写调整理由" in str(e.value) for e in rev.error)
    assert card(app_db, fx.CIVIL)["total"] == second["total"]
    _reason_form(rev, "A1", "2.5", "分工文件未盖章")
    adjusted = card(app_db, fx.CIVIL)
    assert adjusted["total"] == second["total"] - Decimal("1.5")
    assert adjusted["self_total"] == second["self_total"]
    # the header shows the new total at once
    assert any(m.value == f"{adjusted['total']:.2f}" for m in rev.metric), [m.value for m in rev.metric]

    # penalties need a reason; with one the total drops by 3 per K1
    pen_form = [n for n in rev.number_input if "K1" in n.label][0]
    pen_form.set_value(1)
    button(rev, "保存扣分").click()
    rev.run()
    assert any("理由" in str(e.value) for e in rev.error)
    pen_form = [n for n in rev.number_input if "K1" in n.label][0]
    pen_form.set_value(1)
    [t for t in rev.text_area if t.label.startswith("理由")][0].input("县政务公开办通报〔2019〕3号")
    button(rev, "保存扣分").click()
    rev.run()
    assert card(app_db, fx.CIVIL)["total"] == adjusted["total"] - 3

    # approve; the unit then cannot upload again
    button(rev, "通过").click()
    rev.run()
    assert status_of(app_db, fx.CIVIL) == "已审核"
    assert "重新打开" in [b.label for b in rev.button]
    unit_at.run()
    text = page_text(unit_at)
    assert "已审核通过" in text
    from data.uploads import submit_files
    con = db(app_db)
    try:
        res = submit_files(con, [("v3.xlsx", fx.workbook(fx.CIVIL, reporter="赵六"))], user=fx.user("minzheng"),
                           received=dt.date.today())
    finally:
        con.close()
    assert res[0].outcome == "rejected" and "重新打开" in res[0].report.errors[0].message

    # reopen → 待审核 again; the audit trail has every step
    button(rev, "重新打开").click()
    rev.run()
    assert status_of(app_db, fx.CIVIL) == "待审核"
    con = db(app_db)
    try:
        actions = [r[0] for r in con.execute("SELECT action FROM audit WHERE unit = ? ORDER BY id", [fx.CIVIL]).fetchall()]
    finally:
        con.close()
    for a in ("上传自评表", "退回", "调整审核分", "扣分与一票否决", "审核通过", "重新打开"):
        assert a in actions, actions


def test_review_page_download_original_and_history(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    downloads = {b.label for b in at.get("download_button")}
    assert "下载原始文件" in downloads
    text = page_text(at)
    assert "审计局自评表.xlsx" in text and "上传·已接收" in text


def test_review_page_coverage_tab_counts_the_missing_categories(app_db):
    c = card(app_db, fx.AUDIT)
    names = [n for n in (c["missing_categories"] or "").split("、") if n]
    assert int(c["required_categories"]) - int(c["covered_categories"]) == len(names) > 0
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    shown = {m.label: m.value for m in at.metric}
    assert shown["缺失类别"] == f"{len(names)} 个"
    assert shown["已覆盖 / 必公开"] == f"{c['covered_categories']} / {c['required_categories']}"


# --------------------------------------------------------------------------- isolation of unit accounts

def test_unit_user_never_sees_another_unit(app_db):
    con = db(app_db)
    town_sid = con.execute("SELECT id FROM submissions WHERE unit = ?", [fx.TOWN]).fetchone()[0]
    con.close()
    at = new_app("shenji", review_unit=fx.TOWN, upload_unit=fx.TOWN, review_unit_select=fx.TOWN)
    at = open_page(at, "upload")
    text = page_text(at)
    assert fx.AUDIT in text
    for other in fx.OTHER_UNITS:
        assert other not in text, other
    assert fx.TOWN_SECRET not in text
    # the reviewer pages are not even registered for a unit account
    for page in ("review_unit", "review_queue", "batch_import", "admin"):
        with pytest.raises(ValueError):
            at.switch_page(f"app_pages/{page}.py")
    # run directly, a reviewer page refuses the unit account
    direct = AppTest.from_file(str(APP.parent / "app_pages" / "review_unit.py"), default_timeout=60)
    direct.session_state["auth_user"] = fx.user("shenji")
    direct.session_state["review_unit"] = fx.TOWN
    direct.run()
    assert any("没有访问此页面的权限" in str(e.value) for e in direct.error)
    assert fx.TOWN_SECRET not in page_text(direct) and fx.TOWN not in page_text(direct)
    # acting on another unit is refused
    from data.review import ReviewError
    from data.history import get_original_file
    from data.uploads import submit_files
    con = db(app_db)
    try:
        with pytest.raises(ReviewError):
            submit_files(con, [("x.xlsx", fx.workbook(fx.TOWN, "乡镇"))], user=fx.user("shenji"),
                         unit=fx.TOWN, received=dt.date.today())
        with pytest.raises(ReviewError):
            get_original_file(con, town_sid, unit=fx.AUDIT)
        res = submit_files(con, [("x.xlsx", fx.workbook(fx.TOWN, "乡镇", reporter="冒名"))], user=fx.user("shenji"),
                           received=dt.date.today())
        assert res[0].outcome == "rejected"
        assert con.execute("SELECT count(*) FROM submissions WHERE unit = ?", [fx.TOWN]).fetchone()[0] == 1
    finally:
        con.close()


def test_unit_user_uploading_another_units_workbook_through_the_page(app_db):
    at = open_page(new_app("shenji", upload_unit=fx.TOWN), "upload")
    upload_through_page(at, [("方正镇.xlsx", fx.workbook(fx.TOWN, "乡镇", reporter="冒名"))])
    assert "已拒收" in page_text(at)
    con = db(app_db)
    try:
        assert con.execute("SELECT count(*) FROM submissions WHERE unit = ?", [fx.TOWN]).fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM submissions WHERE unit = ?", [fx.AUDIT]).fetchone()[0] == 1
    finally:
        con.close()


def test_reviewer_uploads_for_a_chosen_unit(app_db):
    at = open_page(new_app("shenhe", upload_unit=fx.ECO), "upload")
    assert at.selectbox(key="upload_unit").value == fx.ECO
    upload_through_page(at, [("生态.xlsx", fx.workbook(fx.ECO))])
    assert "已接收" in page_text(at)
    # a workbook of another unit than the chosen one is refused
    upload_through_page(at, [("审计.xlsx", fx.workbook(reporter="某某"))])
    assert "已拒收" in page_text(at)


# --------------------------------------------------------------------------- batch import

def test_batch_import_page(app_db):
    at = open_page(new_app("shenhe"), "batch_import")
    at.date_input(key="batch_received").set_value(dt.date(2020, 1, 13))
    at.file_uploader[0].set_value([("生态.xlsx", fx.workbook(fx.ECO), XLSX), ("坏.xlsx", fx.bad_workbook(), XLSX),
                                   ("民政.xls", fx.workbook(fx.CIVIL, fmt="xls"), "application/vnd.ms-excel")])
    at.run()
    button(at, "开始导入").click()
    at.run()
    assert not at.exception
    tables = [d.value for d in at.dataframe]
    result = next(t for t in tables if list(t.columns) == ["文件", "结果", "单位", "年度", "版本", "错误数", "警告数"])
    assert list(result["结果"]) == ["已接收", "已拒收", "已接收"]
    assert list(result["单位"])[0] == fx.ECO and int(result["错误数"].iloc[1]) >= 2
    con = db(app_db)
    try:
        got = dict(con.execute("SELECT unit, received FROM submissions WHERE unit IN (?, ?)", [fx.ECO, fx.CIVIL]).fetchall())
    finally:
        con.close()
    assert got == {fx.ECO: dt.date(2020, 1, 13), fx.CIVIL: dt.date(2020, 1, 13)}
    assert card(app_db, fx.ECO)["late_submission"] is True


# --------------------------------------------------------------------------- administration

def test_admin_registry_users_and_calendar(app_db):
    at = open_page(new_app("admin"), "admin")
    # a bad registry file is refused with the line named
    up = [u for u in at.file_uploader if "单位名录" in u.label][0]
    up.set_value(("units.csv", "单位名称,单位类型,附加必公开类别\n新单位,街道,\n".encode("utf-8"), "text/csv"))
    at.run()
    assert any("单位名录有 1 处错误" in str(e.value) for e in at.error)
    up = [u for u in at.file_uploader if "单位名录" in u.label][0]
    up.set_value(("units.csv", "\ufeff单位名称,单位类型,附加必公开类别\n方正县新单位,部门,政策解读\n".encode("utf-8"), "text/csv"))
    at.run()
    button(at, "确认导入").click()
    at.run()
    con = db(app_db)
    assert con.execute("SELECT unit_type, extra_categories FROM units WHERE name = '方正县新单位'").fetchone() == ("部门", ["C19"])
    con.close()

    # add a user, disable and enable, reset the password
    form = at.text_input
    [t for t in form if t.label == "用户名"][0].input("xinren")
    [s for s in at.selectbox if s.label == "角色"][0].select("unit")
    [s for s in at.selectbox if s.label.startswith("所属单位")][0].select("方正县新单位")
    [t for t in form if t.label == "密码（至少 8 位）"][0].input("xinren123")
    [t for t in form if t.label == "再次输入密码"][0].input("xinren123")
    button(at, "新增账号").click()
    at.run()
    assert not at.exception
    from data.users import authenticate
    con = db(app_db)
    assert authenticate(con, "xinren", "xinren123") == {"name": "xinren", "role": "unit", "unit": "方正县新单位"}
    con.close()
    at.selectbox(key="admin_user_pick").select("xinren")
    button(at, "停用").click()
    at.run()
    con = db(app_db)
    assert authenticate(con, "xinren", "xinren123") is None
    con.close()
    at.selectbox(key="admin_user_pick").select("xinren")
    button(at, "启用").click()
    at.run()
    at.selectbox(key="admin_reset_pick").select("xinren")
    [t for t in at.text_input if t.label == "新密码（至少 8 位）"][0].input("newpass1")
    [t for t in at.text_input if t.label == "再次输入新密码"][0].input("newpass1")
    button(at, "重置密码").click()
    at.run()
    con = db(app_db)
    assert authenticate(con, "xinren", "newpass1") is not None
    con.close()
    # the administrator cannot disable the account in use
    at.selectbox(key="admin_user_pick").select("admin")
    button(at, "停用").click()
    at.run()
    assert any("不能停用当前登录的账号" in str(e.value) for e in at.error)

    # calendar: a bad CSV is refused, a good one is loaded and listed
    at.number_input(key="admin_cal_year").set_value(2030)
    at.run()
    cal_up = [u for u in at.file_uploader if "节假日" in u.label][0]
    cal_up.set_value(("2030.csv", "日期,类型\n2030-10-01,放假\n".encode("utf-8"), "text/csv"))
    at.run()
    button(at, "导入 2030 年日历").click()
    at.run()
    assert any("日历未导入" in str(e.value) for e in at.error)
    cal_up = [u for u in at.file_uploader if "节假日" in u.label][0]
    cal_up.set_value(("2030.csv", "日期,类型\n2030-10-01,节假日\n2030-10-12,调休上班\n".encode("utf-8"), "text/csv"))
    at.run()
    button(at, "导入 2030 年日历").click()
    at.run()
    assert not at.exception
    assert "2030-10-12" in page_text(at)
    con = db(app_db)
    assert con.execute("SELECT source FROM calendar_years WHERE year = 2030").fetchone() == ("admin",)
    con.close()


def test_admin_scheme_tab_validates_every_scheme_file(app_db):
    at = open_page(new_app("admin"), "admin")
    schemes = next(d.value for d in at.dataframe if "校验结果" in d.value.columns)
    assert len(schemes) >= 1 and set(schemes["校验结果"]) == {"通过"}
    up = [u for u in at.file_uploader if "toml" in u.label][0]
    up.set_value(("2099.toml", b"year = 2099\n", "application/toml"))
    at.run()
    assert any("校验未通过" in str(e.value) for e in at.error)


# --------------------------------------------------------------------------- found by the UI walk-through

@pytest.mark.parametrize("role", ["unit", "reviewer", "leader", "admin"])
def test_no_widget_falls_back_to_streamlits_english_placeholder(app_db, role):
    """A multiselect without a placeholder shows "Choose options" once cleared, a selectbox
    whose option is the empty string shows "Choose an option": both English to a county clerk."""
    allowed = [p for p, roles in WRITE_PAGES.items() if role in roles]
    if role != "unit":
        allowed += list(ANALYTICS_PAGES)
    for page in allowed:
        at = open_page(new_app(ROLE_USER[role]), page)
        for m in at.multiselect:
            assert m.proto.placeholder.strip(), (page, m.label)
        for s in at.selectbox:
            assert "" not in list(s.proto.options) or s.proto.placeholder.strip(), (page, s.label)


def test_queue_with_every_filter_cleared_says_so(app_db):
    at = open_page(new_app("shenhe"), "review_queue")
    at.multiselect(key="review_queue_status").set_value([]).run()
    assert not at.exception
    assert any("没有符合筛选条件的单位" in str(i.value) for i in at.info)


def test_queue_counts_are_metrics_queue_counts(app_db):
    from data.ingest import ingest_bytes
    from metrics.readouts import review_queue
    from metrics.summary import queue_counts

    con = db(app_db)
    try:  # 民政局 first received after the cut-off (2020-01-10); 方正镇 approved
        r = ingest_bytes(con, "民政局自评表.xlsx", fx.workbook(fx.CIVIL), received=dt.date(2020, 1, 13),
                         actor="minzheng")
        assert r.outcome == "accepted", r.report.rows()
        con.execute("UPDATE workflow SET status = '已审核' WHERE unit = ? AND year = 2019", [fx.TOWN])
        counts = queue_counts(review_queue(con, 2019))
    finally:
        con.close()
    assert counts == {"units": 5, "statuses": {"未报送": 2, "待审核": 2, "已退回": 0, "已审核": 1}, "late": 1}
    at = open_page(new_app("shenhe"), "review_queue")
    shown = {m.label: m.value for m in at.metric}
    assert shown == {"单位总数": "5", "待审核": "2", "已退回": "0", "已审核": "1", "未报送": "2"}
    assert any("其中 1 个单位逾期报送" in c.value for c in at.caption)


def test_admin_scheme_tab_states_answer_deadlines_without_the_sentinel_date(app_db):
    at = open_page(new_app("admin"), "admin")
    text = page_text(at)
    assert "1900-01-01" not in text
    assert "2019-05-15 之前收到的15 个工作日" in text and "2019-05-15 起收到的20 个工作日" in text
    unit_box = [s for s in at.selectbox if s.label.startswith("所属单位")][0]
    assert list(unit_box.proto.options)[0].startswith("（请选择")


def test_review_header_tells_first_received_date_from_the_current_versions(app_db):
    from data.uploads import submit_files

    con = db(app_db)
    try:
        res = submit_files(con, [("审计局-第2版.xlsx", fx.workbook(reporter="王五"))], user=fx.user("shenhe"),
                           unit=fx.AUDIT, received=dt.date(2020, 2, 3))
        assert res[0].outcome == "accepted"
    finally:
        con.close()
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    text = page_text(at)
    # I1 counts the first accepted version (2020-01-08): the header must not pass it off as version 2's date
    assert "首次报送收到日期：2020-01-08" in text and "本版收到日期：2020-02-03" in text


def test_saving_unchanged_penalties_says_nothing_changed(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    for attempt in range(2):
        [n for n in at.number_input if "K1" in n.label][0].set_value(1)
        [t for t in at.text_area if t.label.startswith("理由")][0].input("县政务公开办通报〔2019〕3号")
        button(at, "保存扣分").click()
        at.run()
        assert not at.exception
    assert any("没有变化" in str(i.value) for i in at.info)
    con = db(app_db)
    try:
        assert con.execute("SELECT count(*) FROM audit WHERE unit = ? AND action = '扣分与一票否决'",
                           [fx.AUDIT]).fetchone()[0] == 1
    finally:
        con.close()


def test_unit_sees_points_deducted_and_rejection_summary(app_db):
    from data.review import set_penalties

    con = db(app_db)
    try:
        set_penalties(con, fx.AUDIT, 2019, 1, False, "县政务公开办通报〔2019〕3号", "shenhe",
                      seen=snapshot(con, fx.AUDIT, 2019))
    finally:
        con.close()
    at = open_page(new_app("shenji"), "upload")
    assert any("K1 被上级通报批评 1 次（扣 3.00 分）" in str(w.value) for w in at.warning)
    upload_through_page(at, [("错表.xlsx", fx.bad_workbook())])
    # the history says how many errors first, not "…请填写等2个错误"
    assert "共2个错误，第一个：" in page_text(at)


def test_upload_page_warns_when_the_deadline_has_passed(app_db):
    # 民政局 has not submitted for 2019 and the 2019 deadline (2020-01-10) is long past
    at = open_page(new_app("minzheng"), "upload")
    assert any("报送截止日（2020-01-10）已过" in str(w.value) for w in at.warning)
    # 审计局 has submitted: no such warning
    at = open_page(new_app("shenji"), "upload")
    assert not any("已过" in str(w.value) for w in at.warning)


def _reason_form(at, code: str, score: str, reason: str):
    """Fill the one-indicator form of 单位审核 (selectbox, 审核分, the reason's text area) and save."""
    at.selectbox(key="review_ed_pick").set_value(code).run()
    at.text_input(key=f"review_ed_score_{code}_False").input(score)
    at.text_area(key=f"review_ed_reason_{code}_False").input(reason)
    button(at, "保存调整").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_reasons_are_typed_in_a_text_area_and_saved_whole(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    # the grid shows; nothing in it is editable
    assert not at.get("arrow_data_editor") and not at.get("data_editor")
    long_reason = "征求意见的佐证材料只有通知，没有意见采纳情况说明；" * 3
    _reason_form(at, "B1", "3", "")
    assert any("必须填写调整理由" in str(e.value) for e in at.error)
    _reason_form(at, "B1", "3", long_reason)
    sid = int(card(app_db, fx.AUDIT)["submission_id"])
    con = db(app_db)
    try:
        row = con.execute("SELECT score, reason FROM review_scores WHERE submission_id = ? AND code = 'B1'",
                          [sid]).fetchone()
    finally:
        con.close()
    assert row == (Decimal("3.00"), long_reason.strip())       # every character, nothing dropped


def test_a_reupload_offers_the_earlier_adjustments_as_proposals(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    _reason_form(at, "A1", "1", "分工文件未盖章")
    _reason_form(at, "B1", "3", "缺少征求意见佐证")
    at.text_area(key="review_return_note").input("请补充 B1 佐证")
    button(at, "退回").click()
    at.run()
    assert status_of(app_db, fx.AUDIT) == "已退回"
    # the unit uploads a new version in which it changed B1's self score
    unit_at = open_page(new_app("shenji"), "upload")
    upload_through_page(unit_at, [("审计局-第二版.xlsx", fx.workbook(overrides={"B1": 4}, reporter="李四"))])
    assert card(app_db, fx.AUDIT)["version"] == 2
    at.run()
    t = page_text(at)
    assert "第1版的审核调整（共 2 项）" in t and "自评分 5.00 → **4.00**（单位已修改）" in t
    # the return comment is still the reviewer's, not attributed to the unit that re-uploaded
    assert "）：请补充 B1 佐证（单位已于" in t and "上次退回意见（shenhe " in t and "（shenji" not in t
    # approving before deciding is refused
    button(at, "通过").click()
    at.run()
    assert any("还没有处理" in str(e.value) for e in at.error) and status_of(app_db, fx.AUDIT) == "待审核"
    # A1 accepted as it was; B1 edited (prefilled, the reason changed) and saved
    [b for b in at.button if b.key == "review_ed_accept_A1"][0].click()
    at.run()
    [b for b in at.button if b.key == "review_ed_edit_B1"][0].click()
    at.run()
    assert at.text_input(key="review_ed_score_B1_True").value == "3.00"
    assert at.text_area(key="review_ed_reason_B1_True").value == "缺少征求意见佐证"
    at.text_area(key="review_ed_reason_B1_True").input("缺少征求意见佐证（第二版仍未补充）")
    button(at, "保存调整").click()
    at.run()
    sid = int(card(app_db, fx.AUDIT)["submission_id"])
    con = db(app_db)
    try:
        rows = con.execute("SELECT code, score, reason FROM review_scores WHERE submission_id = ? ORDER BY code",
                           [sid]).fetchall()
    finally:
        con.close()
    assert rows == [("A1", Decimal("1.00"), "分工文件未盖章"), ("B1", Decimal("3.00"), "缺少征求意见佐证（第二版仍未补充）")]
    assert "审核调整（共" not in page_text(at)       # nothing left to decide
    button(at, "通过").click()
    at.run()
    assert status_of(app_db, fx.AUDIT) == "已审核"


def test_a_proposal_can_be_dropped(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    _reason_form(at, "A1", "1", "分工文件未盖章")
    at.text_area(key="review_return_note").input("请修改")
    button(at, "退回").click()
    at.run()
    upload_through_page(open_page(new_app("shenji"), "upload"),
                        [("审计局-第二版.xlsx", fx.workbook(reporter="李四"))])
    at.run()
    [b for b in at.button if b.key == "review_ed_drop_A1"][0].click()
    at.run()
    assert "审核调整（共" not in page_text(at)
    assert card(app_db, fx.AUDIT)["total"] == card(app_db, fx.AUDIT)["self_total"]


def test_a_mistaken_return_is_undone_on_the_page(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    at.text_area(key="review_return_note").input("误操作")
    button(at, "退回").click()
    at.run()
    button(at, "撤销退回").click()
    at.run()
    assert any("必须填写原因" in str(e.value) for e in at.error) and status_of(app_db, fx.AUDIT) == "已退回"
    at.text_area(key="review_unreturn_note").input("误退回，材料无需修改")
    button(at, "撤销退回").click()
    at.run()
    assert status_of(app_db, fx.AUDIT) == "待审核"


def test_the_log_viewer_filters_by_a_period_or_two_chinese_dates(app_db):
    at = open_page(new_app("admin"), "admin")
    con = db(app_db)
    n = con.execute("SELECT count(*) FROM audit").fetchone()[0]
    con.close()
    assert n >= 2  # the fixture's two uploads were logged today

    def shown() -> str:
        return " ".join(c.value for c in at.caption if "每页" in c.value)

    assert [s for s in at.selectbox if s.key == "admin_audit_period"][0].options[:2] == ["全部日期", "今天"]
    assert not [d for d in at.date_input if d.key.startswith("admin_audit_")]  # no date fields until asked for
    at.selectbox(key="admin_audit_period").select("今天").run()
    assert f"共 {n} 条" in shown()
    at.selectbox(key="admin_audit_period").select("指定日期").run()
    start, end = at.date_input(key="admin_audit_from__"), at.date_input(key="admin_audit_to__")
    assert (start.label, end.label) == ("起始日期", "截止日期")
    yesterday = dt.date.today() - dt.timedelta(days=1)
    start.set_value(yesterday)
    end.set_value(yesterday)
    at.run()
    assert "共 0 条" in shown()
    at.date_input(key="admin_audit_from__").set_value(dt.date.today()).run()
    assert any("起始日期" in e.value and "晚于截止日期" in e.value for e in at.error)
    at.date_input(key="admin_audit_to__").set_value(dt.date.today()).run()
    assert not at.error and f"共 {n} 条" in shown()
