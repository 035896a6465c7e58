"""Accounts through the pages (AppTest): sign-in lockout, resuming from the
cookie, sessions ended by an administrator, changing one's own password, the
administrator's account tools and the filtered audit log, reviews that act on
what the reviewer saw, and comments credited to their author."""
from __future__ import annotations

import pytest

from data.ingest import ingest_bytes
from data.review import return_submission, snapshot
from tests import app_fixtures as fx
from tests.app_fixtures import app_db  # noqa: F401 - the fixture
from tests.test_app_write import APP, AppTest, button, db, new_app, open_page, page_text, status_of


def sign_in_through_form(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    button(at, "登录").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in at.error)


# --------------------------------------------------------------------------- sign-in

def test_five_wrong_passwords_lock_with_the_retry_time_and_the_right_one_is_refused(app_db):
    at = new_app()
    at.run()
    for i in range(4):
        sign_in_through_form(at, "shenhe", f"wrong-{i}")
        assert "用户名或密码错误" in errors(at)
    sign_in_through_form(at, "shenhe", "wrong-5")
    assert "该账号已被锁定" in errors(at) and "后再试" in errors(at)
    sign_in_through_form(at, "shenhe", "shenhe123")
    assert "该账号已被锁定" in errors(at)
    assert "auth_user" not in at.session_state
    con = db(app_db)
    try:
        acts = [r[0] for r in con.execute("SELECT action FROM audit WHERE actor = 'shenhe' ORDER BY id").fetchall()]
    finally:
        con.close()
    assert acts == ["登录失败"] * 5 + ["账号锁定", "登录失败"]


def test_sign_in_sets_the_cookie_and_a_new_session_resumes_from_it(app_db, monkeypatch):
    at = new_app()
    at.run()
    sign_in_through_form(at, "lingdao", "lingdao123")
    at.run()
    token = at.session_state["auth_token"]
    scripts = [h.proto.body for h in at.get("html")]
    assert any(f"gongkai_session={token}" in b and "SameSite=Strict" in b for b in scripts), scripts
    # a reload / new tab: a fresh Streamlit session whose request carries the cookie
    from dashboard import common

    monkeypatch.setattr(common, "cookie_token", lambda: token)
    fresh = AppTest.from_file(str(APP), default_timeout=60)
    fresh.session_state["year"] = 2019
    fresh.run()
    assert not fresh.exception
    assert fresh.session_state["auth_user"] == fx.user("lingdao")
    assert any(t.value.startswith("总览") for t in fresh.title)
    # signing out ends the session: a later reload with the old cookie lands on the login form
    button(fresh, "退出登录").click()
    fresh.run()
    assert [t.value for t in fresh.title] == ["政务公开年度考核分析平台"]
    assert any("Max-Age=0" in h.proto.body for h in fresh.get("html"))
    again = AppTest.from_file(str(APP), default_timeout=60)
    again.run()
    assert "auth_user" not in again.session_state
    assert [t.value for t in again.title] == ["政务公开年度考核分析平台"]
    # a forged token is ignored
    monkeypatch.setattr(common, "cookie_token", lambda: token[:-3] + "abc")
    forged = AppTest.from_file(str(APP), default_timeout=60)
    forged.run()
    assert "auth_user" not in forged.session_state


@pytest.mark.parametrize("change, notice", [("reset", "密码已被重置"), ("disable", "账号已停用"),
                                            ("role", "角色或单位已变更")])
def test_an_open_page_signs_out_when_the_administrator_changes_the_account(app_db, change, notice):
    from data import users

    at = open_page(new_app("shenhe"), "review_queue")
    con = db(app_db)
    try:
        if change == "reset":
            users.reset_password(con, "shenhe", "another-pass", actor="admin")
        elif change == "disable":
            users.set_active(con, "shenhe", False, actor="admin")
        else:
            users.set_role(con, "shenhe", "leader", actor="admin")
    finally:
        con.close()
    at.run()
    assert "auth_user" not in at.session_state
    assert [t.value for t in at.title] == ["政务公开年度考核分析平台"]
    assert any(notice in str(w.value) for w in at.warning), [w.value for w in at.warning]


def test_change_own_password_page(app_db):
    at = open_page(new_app("shenji"), "account")
    assert "我的账号" in [t.value for t in at.title]

    def submit(old, new1, new2):
        at.text_input(key="account_old").input(old)
        at.text_input(key="account_new1").input(new1)
        at.text_input(key="account_new2").input(new2)
        button(at, "修改密码").click()
        at.run()
        assert not at.exception

    submit("wrong-old", "new-password", "new-password")
    assert "原密码不正确" in errors(at)
    submit("shenji123", "short", "short")
    assert "至少 8 个字符" in errors(at)
    submit("shenji123", "new-password", "other-password")
    assert "不一致" in errors(at)
    long_pw = "县政务公开办的新密码" * 10  # 100 characters, 300 bytes
    submit("shenji123", long_pw, long_pw)
    assert not errors(at)
    assert any("密码已修改" in str(s.value) for s in at.success)
    assert at.session_state["auth_user"] == fx.user("shenji")  # this page stays signed in
    from data.users import authenticate
    con = db(app_db)
    try:
        assert authenticate(con, "shenji", long_pw) is not None
        assert authenticate(con, "shenji", "shenji123") is None
    finally:
        con.close()


# --------------------------------------------------------------------------- administration

def test_admin_refuses_bad_names_and_short_passwords_without_a_traceback(app_db):
    at = open_page(new_app("admin"), "admin")

    def add(name, pw):
        [t for t in at.text_input if t.label == "用户名"][0].input(name)
        [s for s in at.selectbox if s.label == "角色"][0].select("leader")
        [t for t in at.text_input if t.label == "密码（至少 8 位）"][0].input(pw)
        [t for t in at.text_input if t.label == "再次输入密码"][0].input(pw)
        button(at, "新增账号").click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]

    add("admin\u200b", "password-1")
    assert "不可见" in errors(at)
    add("**boss**", "password-1")
    assert "不能使用" in errors(at)
    add("ＡＤＭＩＮ", "password-1")
    assert "已存在" in errors(at)
    add("newboss", "1234567")
    assert "至少 8 个字符" in errors(at)
    long_pw = "密" * 40  # 120 bytes: the first version raised ValueError here
    add("新领导", long_pw)
    assert not errors(at)
    from data.users import authenticate
    con = db(app_db)
    try:
        assert authenticate(con, "新领导", long_pw)["role"] == "leader"
    finally:
        con.close()


def test_admin_unlocks_and_changes_a_role(app_db):
    from data.users import authenticate
    con = db(app_db)
    try:
        for _ in range(5):
            authenticate(con, "shenji", "wrong")
    finally:
        con.close()
    at = open_page(new_app("admin"), "admin")
    assert "锁定至" in page_text(at)
    at.selectbox(key="admin_unlock_pick").select("shenji")
    button(at, "解锁").click()
    at.run()
    assert not at.exception and any("已解锁 shenji" in str(s.value) for s in at.success)
    at.selectbox(key="admin_role_pick").select("lingdao")
    at.selectbox(key="admin_role_role").select("reviewer")
    button(at, "保存角色").click()
    at.run()
    assert not at.exception and not errors(at)
    con = db(app_db)
    try:
        assert authenticate(con, "shenji", "shenji123") is not None
        assert con.execute("SELECT role FROM users WHERE name = 'lingdao'").fetchone() == ("reviewer",)
    finally:
        con.close()


def test_admin_audit_log_filters_by_user_unit_action_and_date(app_db):
    from data.users import authenticate
    con = db(app_db)
    try:
        authenticate(con, "shenji", "wrong-pass")
        authenticate(con, "shenji", "shenji123")
        authenticate(con, "fangzheng", "fangzheng123")
    finally:
        con.close()
    at = open_page(new_app("admin"), "admin")
    log = lambda: next(d.value for d in at.dataframe if "操作人" in d.value.columns and "修改前" in d.value.columns)  # noqa: E731
    at.selectbox(key="admin_audit_actor").select("shenji")
    at.run()
    assert set(log()["操作"]) == {"登录", "登录失败", "上传自评表"} and set(log()["操作人"]) == {"shenji"}
    at.selectbox(key="admin_audit_actor").select("全部")
    at.selectbox(key="admin_audit_unit").select(fx.TOWN)
    at.multiselect(key="admin_audit_actions").select("登录")
    at.run()
    assert list(log()["操作人"]) == ["fangzheng"]
    at.selectbox(key="admin_audit_unit").select("全部单位")
    at.multiselect(key="admin_audit_actions").unselect("登录").select("登录失败")
    at.run()
    assert list(log()["操作人"]) == ["shenji"] and any("共 1 条" in c.value for c in at.caption)


# --------------------------------------------------------------------------- reviews act on what was seen

def test_approve_refused_when_a_new_version_came_after_the_page_was_opened(app_db):
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    assert "第1版（共1版） · 修改计数 1" in page_text(at)
    con = db(app_db)
    try:
        res = ingest_bytes(con, "v2.xlsx", fx.workbook(reporter="李四"), received=fx.RECEIVED, actor="shenji")
        assert res.version == 2
    finally:
        con.close()
    button(at, "通过").click()
    at.run()
    assert not at.exception
    msg = errors(at)
    assert "您看到的是第1版 · 修改计数 1，当前为第2版 · 修改计数 2" in msg and "未保存" in msg
    assert status_of(app_db, fx.AUDIT) == "待审核"
    # the page now shows version 2; approving it works
    assert "第2版（共2版） · 修改计数 2" in page_text(at)
    button(at, "通过").click()
    at.run()
    assert status_of(app_db, fx.AUDIT) == "已审核"


def test_saving_scores_refused_when_another_reviewer_changed_the_unit(app_db):
    from data.review import set_penalties
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    at.selectbox(key="review_ed_pick").set_value("A1").run()  # the page as the reviewer last saw it
    con = db(app_db)
    try:  # meanwhile an administrator records a penalty
        set_penalties(con, fx.AUDIT, 2019, 1, False, "通报", "admin", seen=snapshot(con, fx.AUDIT, 2019))
    finally:
        con.close()
    at.text_input(key="review_ed_score_A1_False").input("2.5")
    at.text_area(key="review_ed_reason_A1_False").input("分工文件未盖章")
    button(at, "保存调整").click()
    at.run()
    assert "其他审核人员或单位已修改" in errors(at)
    con = db(app_db)
    try:
        assert con.execute("SELECT count(*) FROM review_scores").fetchone()[0] == 0
    finally:
        con.close()


def con_card_sid(path):
    con = db(path)
    try:
        return con.execute("SELECT id FROM submissions WHERE unit = ? ORDER BY version DESC LIMIT 1",
                           [fx.AUDIT]).fetchone()[0]
    finally:
        con.close()


def test_the_reviewers_comment_is_credited_to_the_reviewer_after_a_reupload(app_db):
    con = db(app_db)
    try:
        return_submission(con, fx.AUDIT, 2019, "B1 缺佐证", "shenhe", seen=snapshot(con, fx.AUDIT, 2019))
        ingest_bytes(con, "v2.xlsx", fx.workbook(reporter="李四"), received=fx.RECEIVED, actor="shenji")
    finally:
        con.close()
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    captions = [str(c.value) for c in at.caption]
    line = next(c for c in captions if c.startswith("上次退回意见"))  # the unit uploaded since
    assert line.startswith("上次退回意见（shenhe ") and "B1 缺佐证" in line and "shenji" not in line
    # the unit sees who wrote it too
    up = open_page(new_app("shenji"), "upload")
    assert any("上次意见（shenhe" in str(i.value) for i in up.info), [i.value for i in up.info]
