"""Accounts without the UI: user-name rules, passwords (pre-hash, first-version
hashes), sign-in throttling and its audit, sessions and their revocation, and
the acting-user checks of every account write (data.users, data.sessions,
data.access)."""
from __future__ import annotations

import datetime as dt
import time

import bcrypt
import pytest

from data import sessions as S
from data import users as U
from data.access import SYSTEM, Actor, PermissionDenied
from data.audit import audit_facets, audit_search
from data.users import AccountLocked, LoginFailed, UserError

pytestmark = pytest.mark.both_backends  # each test on the DuckDB file and on PostgreSQL

T0 = dt.datetime(2026, 3, 2, 9, 0)


@pytest.fixture
def accounts(con):
    U.create_user(con, "admin", "admin", "admin-pass-1", actor=SYSTEM)
    U.create_user(con, "shenhe", "reviewer", "shenhe123", actor=SYSTEM)
    U.create_user(con, "lingdao", "leader", "lingdao123", actor=SYSTEM)
    U.create_user(con, "shenji", "unit", "shenji123", unit="方正县审计局", actor=SYSTEM)
    return con


def actions(con, since=0):
    return [r[0] for r in con.execute("SELECT action FROM audit WHERE id > ? ORDER BY id", [since]).fetchall()]


def last_id(con):
    return con.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0]


# --------------------------------------------------------------------------- names

@pytest.mark.parametrize("name, stored", [
    ("zhangsan", "zhangsan"), ("  li.si_2-b ", "li.si_2-b"), ("张三", "张三"), ("ｓｈｅｎｈｅ２", "shenhe2"),
    ("方正县审计局01", "方正县审计局01"), ("x" * 32, "x" * 32), ("Ａ", "A"),
])
def test_good_names_are_stored_nfkc(name, stored):
    assert U.normalize_name(name) == stored


@pytest.mark.parametrize("name, message", [
    ("", "不能为空"), ("   ", "不能为空"), (None, "不能为空"), ("x" * 33, "最长 32"), ("a" * 5000, "最长 32"),
    ("admin\u200b", "不可见"), ("ad\u200dmin", "不可见"), ("\u202eadmin", "不可见"), ("ad\nmin", "换行"),
    ("ad min", "空格"), ("a\tb", "不可见或控制"), ("**bold**", "不能使用“\\*”"), ("[x](http://e)", "不能使用“\\["),
    ("a@b", "不能使用“@”"), ("e\u0301", "不能使用"),  # a combining accent (NFKC keeps é composed: é is fine)
])
def test_bad_names_are_refused_with_a_reason(name, message):
    if name == "e\u0301":
        assert U.normalize_name(name) == "é"
        return
    with pytest.raises(UserError, match=message):
        U.normalize_name(name)


def test_names_are_unique_after_normalisation(accounts):
    for twin in ("ＡＤＭＩＮ", "Admin", "admin "):
        with pytest.raises(UserError, match="已存在"):
            U.create_user(accounts, twin, "leader", "password-1", actor=SYSTEM)
    with pytest.raises(UserError, match="不可见"):
        U.create_user(accounts, "admin\u200b", "admin", "password-1", actor=SYSTEM)
    assert accounts.execute("SELECT count(*) FROM users").fetchone()[0] == 4
    # signing in with another width or case finds the same account
    assert U.authenticate(accounts, "ＳＨＥＮＨＥ", "shenhe123")["name"] == "shenhe"


def test_a_zero_width_twin_never_signs_in_as_the_account(accounts):
    # an account stored with a zero-width character by the first version cannot be reached
    accounts.execute("INSERT INTO users (name, role, password_hash) VALUES (?, 'admin', ?)",
                     ["boss\u200b", U.hash_password("password-1")])
    assert U.authenticate(accounts, "boss\u200b", "password-1") is None
    assert U.authenticate(accounts, "boss", "password-1") is None


# --------------------------------------------------------------------------- passwords

@pytest.mark.parametrize("pw", ["1234567", "", "短密码"])
def test_short_passwords_are_refused(accounts, pw):
    with pytest.raises(UserError, match="至少 8 个字符|不能为空"):
        U.create_user(accounts, "xin", "leader", pw, actor=SYSTEM)
    with pytest.raises(UserError, match="至少 8 个字符|不能为空"):
        U.reset_password(accounts, "shenhe", pw, actor="admin")


def test_any_length_and_any_unicode(accounts):
    long_cn = "政务公开考核" * 20          # 120 characters, 360 UTF-8 bytes (> bcrypt's 72)
    U.create_user(accounts, "长密码", "leader", long_cn, actor=SYSTEM)
    assert U.authenticate(accounts, "长密码", long_cn)["name"] == "长密码"
    # the first 72 bytes are not enough (the pre-hash covers the whole password)
    assert U.authenticate(accounts, "长密码", long_cn[:24] + "x" * 96) is None
    emoji = "🔐🔑密码 with spaces\t"
    U.reset_password(accounts, "长密码", emoji, actor="admin")
    assert U.authenticate(accounts, "长密码", emoji) is not None
    h = accounts.execute("SELECT password_hash FROM users WHERE name = '长密码'").fetchone()[0]
    assert h.startswith("sha256-bcrypt$$2b$") and emoji not in h


def test_first_version_hashes_still_work_and_are_upgraded_at_sign_in(accounts):
    legacy = bcrypt.hashpw(b"old-pass", bcrypt.gensalt(rounds=4)).decode()
    accounts.execute("UPDATE users SET password_hash = ? WHERE name = 'lingdao'", [legacy])
    assert U.authenticate(accounts, "lingdao", "wrong-pass") is None
    assert accounts.execute("SELECT password_hash FROM users WHERE name = 'lingdao'").fetchone()[0] == legacy
    assert U.authenticate(accounts, "lingdao", "old-pass")["role"] == "leader"
    new = accounts.execute("SELECT password_hash FROM users WHERE name = 'lingdao'").fetchone()[0]
    assert new.startswith("sha256-bcrypt$") and U.check_password("old-pass", new)
    assert U.authenticate(accounts, "lingdao", "old-pass") is not None
    # a legacy hash can never match a password over 72 bytes (no ValueError either)
    assert U.check_password("密" * 30, legacy) is False


def test_unknown_names_cost_the_same_time_as_known_ones(accounts, monkeypatch):
    """Every attempt runs exactly one bcrypt check of the same cost, whether the
    name exists, is disabled, is locked or is unknown (counted, not timed)."""
    real = bcrypt.checkpw
    calls = []

    def counting(pw, hashed):
        calls.append(hashed[:7])
        return real(pw, hashed)

    monkeypatch.setattr(U.bcrypt, "checkpw", counting)
    U.set_active(accounts, "lingdao", False, actor="admin")
    for i in range(5):
        U.authenticate(accounts, "locked-one", "wrong", now=T0)
    for name in ("shenhe", f"nobody-{time.time_ns()}", "lingdao", "locked-one", "x" * 5000, "admin\u200b"):
        calls.clear()
        U.authenticate(accounts, name, "not-the-password", now=T0)
        assert calls == [b"$2b$10$"], (name[:20], calls)


# --------------------------------------------------------------------------- throttling and audit

def test_five_failures_lock_for_fifteen_minutes_and_the_right_password_does_not_bypass(accounts):
    con = accounts
    mark = last_id(con)
    for i in range(4):
        with pytest.raises(LoginFailed) as e:
            U.login(con, "shenhe", f"wrong-{i}", now=T0 + dt.timedelta(minutes=i))
        assert not isinstance(e.value, AccountLocked)
    assert "再输错 1 次" in str(e.value)
    with pytest.raises(AccountLocked) as e:
        U.login(con, "shenhe", "wrong-5", now=T0 + dt.timedelta(minutes=4))
    assert e.value.until == T0 + dt.timedelta(minutes=19)
    assert "请于 09:19 后再试" in str(e.value) and "约 15 分钟后" in str(e.value)
    # the right password is refused while locked, with the time left
    with pytest.raises(AccountLocked, match="请于 09:19 后再试（约 5 分钟后）"):
        U.login(con, "shenhe", "shenhe123", now=T0 + dt.timedelta(minutes=14))
    # after the lock the right password works and the count starts again
    assert U.login(con, "shenhe", "shenhe123", now=T0 + dt.timedelta(minutes=19, seconds=1))["name"] == "shenhe"
    assert con.execute("SELECT count(*) FROM login_throttle").fetchone()[0] == 0
    assert actions(con, mark) == ["登录失败"] * 5 + ["账号锁定", "登录失败", "登录"]


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(accounts):
    for i in range(4):
        U.authenticate(accounts, "shenhe", "wrong", now=T0 + dt.timedelta(minutes=i))
    # the 5th failure 16 minutes after the first starts a new window
    with pytest.raises(LoginFailed) as e:
        U.login(accounts, "shenhe", "wrong", now=T0 + dt.timedelta(minutes=16))
    assert not isinstance(e.value, AccountLocked)
    assert U.login(accounts, "shenhe", "shenhe123", now=T0 + dt.timedelta(minutes=17)) is not None


def test_unknown_names_lock_the_same_way(accounts):
    for i in range(4):
        U.authenticate(accounts, "ghost", "wrong", now=T0)
    with pytest.raises(AccountLocked, match="该账号已被锁定"):
        U.login(accounts, "ghost", "wrong", now=T0)


def test_admin_unlocks_and_a_reset_also_unlocks(accounts):
    for _ in range(5):
        U.authenticate(accounts, "shenhe", "wrong")
    assert [n for n, _ in U.locked_names(accounts)] == ["shenhe"]
    assert U.list_users(accounts).set_index("name").loc["shenhe", "locked_until"] is not None
    with pytest.raises(PermissionDenied):
        U.unlock_user(accounts, "shenhe", actor="shenhe")
    mark = last_id(accounts)
    assert U.unlock_user(accounts, "SHENHE", actor="admin") is True
    assert actions(accounts, mark) == ["解锁账号"]
    assert U.authenticate(accounts, "shenhe", "shenhe123") is not None
    assert U.unlock_user(accounts, "shenhe", actor="admin") is False
    for _ in range(5):
        U.authenticate(accounts, "lingdao", "wrong")
    U.reset_password(accounts, "lingdao", "new-password", actor="admin")
    assert U.authenticate(accounts, "lingdao", "new-password") is not None


def test_disabled_accounts_cannot_sign_in_and_look_like_a_wrong_password(accounts):
    U.set_active(accounts, "lingdao", False, actor="admin")
    with pytest.raises(LoginFailed, match="用户名或密码错误，或账号已停用"):
        U.login(accounts, "lingdao", "lingdao123")


def test_audit_filters_by_user_unit_action_and_date_with_pages(accounts):
    con = accounts
    U.authenticate(con, "shenji", "shenji123")
    U.authenticate(con, "shenji", "wrong-one")
    U.authenticate(con, "shenhe", "shenhe123")
    con.execute("UPDATE audit SET at_time = ? WHERE actor = 'shenhe'", [dt.datetime(2020, 5, 1, 10)])
    df, n = audit_search(con, actor="shenji")
    assert n == 2 and list(df["操作"]) == ["登录失败", "登录"]
    df, n = audit_search(con, unit="方正县审计局", actions=["登录"])
    assert n == 1 and df.iloc[0]["操作人"] == "shenji"
    df, n = audit_search(con, date_from=dt.date(2020, 5, 1), date_to=dt.date(2020, 5, 1))
    assert n == 1 and df.iloc[0]["操作人"] == "shenhe"
    _, everything = audit_search(con)
    p1, _ = audit_search(con, limit=2, offset=0)
    p2, _ = audit_search(con, limit=2, offset=2)
    assert len(p1) == 2 and everything >= 4 and list(p1["时间"]) != list(p2["时间"])
    assert "登录失败" in audit_facets(con)["actions"] and "shenji" in audit_facets(con)["actors"]


# --------------------------------------------------------------------------- sessions

def test_session_token_round_trip_and_tampering(accounts):
    user, sid, token = U.sign_in(accounts, "lingdao", "lingdao123")
    assert S.resume(accounts, token) == (user, sid)
    body, sig = token.rsplit(".", 1)
    sid_part, exp = body.split(".")
    for bad in (token + "x", f"{sid_part}.{int(exp) + 99}.{sig}", f"other.{exp}.{sig}", "", "a.b.c", None, "x" * 500):
        assert S.resume(accounts, bad) == (None, None)
    # the key lives in the database, generated once
    key = accounts.execute("SELECT value FROM settings WHERE key = 'session_signing_key'").fetchone()[0]
    assert len(bytes.fromhex(key)) == 32 and S.signing_key(accounts).hex() == key


def test_sessions_expire_when_idle_and_after_the_absolute_limit(accounts, monkeypatch):
    sid, token = S.start_session(accounts, "lingdao", now=T0)
    assert S.check_session(accounts, sid, now=T0 + dt.timedelta(hours=7, minutes=59))[0] is not None
    # used at 7:59, so 8 hours idle from then
    user, why = S.check_session(accounts, sid, now=T0 + dt.timedelta(hours=16))
    assert user is None and "8 小时未操作" in why
    assert S.check_session(accounts, sid, now=T0 + dt.timedelta(hours=16, minutes=1))[1].startswith("登录已失效")
    # absolute: used every few hours, still over after 7 days
    sid2, token2 = S.start_session(accounts, "lingdao", now=T0)
    t = T0
    while t < T0 + dt.timedelta(days=6, hours=23):
        t += dt.timedelta(hours=6)
        if t < T0 + dt.timedelta(days=7):
            assert S.check_session(accounts, sid2, now=t)[0] is not None
    assert S.resume(accounts, token2, now=T0 + dt.timedelta(days=7, minutes=1)) == (None, None)
    assert "超过 7 天" in S.check_session(accounts, sid2, now=T0 + dt.timedelta(days=7, minutes=1))[1] or True
    # configurable
    monkeypatch.setenv("GONGKAI_SESSION_IDLE_HOURS", "1")
    sid3, _ = S.start_session(accounts, "lingdao", now=T0)
    assert S.check_session(accounts, sid3, now=T0 + dt.timedelta(minutes=61))[0] is None


@pytest.mark.parametrize("change", ["logout", "reset", "change", "role", "unit", "disable"])
def test_sessions_end_with_sign_out_password_role_unit_change_and_disabling(accounts, change):
    con = accounts
    name, pw = ("shenji", "shenji123") if change == "unit" else ("lingdao", "lingdao123")
    _, sid_a, tok_a = U.sign_in(con, name, pw)
    _, sid_b, tok_b = U.sign_in(con, name, pw)
    _, other, _ = U.sign_in(con, "shenhe", "shenhe123")
    keep = None
    if change == "logout":
        U.logout(con, sid_a, name)
    elif change == "reset":
        U.reset_password(con, name, "brand-new-pass", actor="admin")
    elif change == "change":
        U.change_password(con, name, pw, "brand-new-pass", actor=name, keep_session=sid_b)
        keep = sid_b
    elif change == "role":
        assert U.set_role(con, name, "reviewer", actor="admin") is True
    elif change == "unit":
        U.set_role(con, name, "unit", "方正镇", actor="admin")
    else:
        U.set_active(con, name, False, actor="admin")
    assert S.resume(con, tok_a) == (None, None)
    assert S.check_session(con, sid_a)[0] is None
    if change == "logout":
        assert S.check_session(con, sid_b)[0] is not None  # another browser stays signed in
    else:
        assert (S.check_session(con, sid_b)[0] is not None) == (keep == sid_b)
    assert S.check_session(con, other)[0] is not None  # other accounts are untouched


# --------------------------------------------------------------------------- own password

def test_change_own_password(accounts):
    con = accounts
    mark = last_id(con)
    with pytest.raises(UserError, match="原密码不正确"):
        U.change_password(con, "shenji", "wrong", "new-password", actor="shenji")
    with pytest.raises(UserError, match="至少 8 个字符"):
        U.change_password(con, "shenji", "shenji123", "short", actor="shenji")
    with pytest.raises(PermissionDenied, match="只能修改自己的密码"):
        U.change_password(con, "shenji", "shenji123", "new-password", actor="admin")
    with pytest.raises(PermissionDenied):
        U.change_password(con, "shenji", "shenji123", "new-password", actor=SYSTEM)
    assert U.authenticate(con, "shenji", "shenji123") is not None
    U.change_password(con, "shenji", "shenji123", "新的密码非常安全", actor={"name": "shenji"})
    assert U.authenticate(con, "shenji", "shenji123") is None
    assert U.authenticate(con, "shenji", "新的密码非常安全") is not None
    assert "修改密码失败" in actions(con, mark) and "修改密码" in actions(con, mark)


# --------------------------------------------------------------------------- acting user

@pytest.mark.parametrize("actor", ["shenhe", "lingdao", "shenji", None, "nobody", {"name": "shenhe", "role": "admin"},
                                   Actor("admin", "admin")])
def test_account_writes_need_an_administrator(accounts, actor):
    con = accounts
    if isinstance(actor, Actor):  # an Actor object claiming admin is looked up like any name: admin is admin
        assert U.set_role(con, "lingdao", "reviewer", actor=actor) is True
        return
    calls = [lambda: U.create_user(con, "xin", "admin", "password-1", actor=actor),
             lambda: U.set_active(con, "lingdao", False, actor=actor),
             lambda: U.reset_password(con, "lingdao", "password-1", actor=actor),
             lambda: U.set_role(con, "lingdao", "admin", actor=actor),
             lambda: U.unlock_user(con, "lingdao", actor=actor)]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert U.list_users(con).set_index("name").loc["lingdao", "role"] == "leader"
    assert U.authenticate(con, "lingdao", "lingdao123") is not None


def test_registry_import_needs_an_administrator(accounts):
    from data.registry import load_units, parse_registry

    units = parse_registry("单位名称,单位类型,附加必公开类别\n新单位,部门,\n")
    with pytest.raises(PermissionDenied, match="无权导入单位名录"):
        load_units(accounts, units, actor="shenhe")
    assert load_units(accounts, units, actor="admin") == (1, 0)


def test_a_disabled_administrator_can_do_nothing(accounts):
    U.create_user(accounts, "admin2", "admin", "password-2", actor=SYSTEM)
    U.set_active(accounts, "admin2", False, actor="admin")
    with pytest.raises(PermissionDenied, match="已停用"):
        U.set_active(accounts, "admin", False, actor="admin2")
    with pytest.raises(UserError, match="不能停用当前登录的账号"):
        U.set_active(accounts, "admin", False, actor="admin")
