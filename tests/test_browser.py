"""End to end in a real browser: `streamlit run dashboard/app.py` on a small
database, driven by Debian's chromium through playwright.

A unit account signs in and uploads its workbook (已接收); a reviewer signs in,
opens the unit from the 审核队列 and approves it; the database then says
已审核. A leader's sign-in survives a reload and a new tab (session cookie);
after signing out a reload stays signed out; five wrong passwords lock the
account with a message saying when to retry, and then even the right one is refused. Screenshots of every step go to ``$TMPDIR/gongkai-screens`` (never the
repository). Skipped only when /usr/bin/chromium is missing (CI installs it
with apt in .ci/run).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests import app_fixtures as fx

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(tempfile.gettempdir()) / "gongkai-screens"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="/usr/bin/chromium is missing (apt-get install chromium fonts-wqy-microhei)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(db: Path, tmp_path: Path):
    """``streamlit run dashboard/app.py`` on ``db``, until healthy: yields (base URL, db, process);
    the server is stopped afterwards (its output in ``tmp_path/streamlit.log``)."""
    port = _free_port()
    env = dict(os.environ, GONGKAI_DB=str(db), PYTHONPATH=str(ROOT))
    log = open(tmp_path / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail("streamlit did not start:\n" + (tmp_path / "streamlit.log").read_text(errors="replace"))
            time.sleep(0.5)
        yield base, db, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@pytest.fixture
def server(tmp_path):
    with serve(fx.prepare(tmp_path / "browser.duckdb"), tmp_path) as s:
        yield s


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(600)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page, base: str, name: str, password: str) -> None:
    page.goto(base)
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)


def _logout(page) -> None:
    """Sign out and wait for the sign-in form (exactly 登录: "退出登录" contains it too)."""
    page.get_by_role("button", name="退出登录").click()
    page.get_by_role("button", name="登录", exact=True).wait_for()


def _nav(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)


def _choose(page, label: str, option) -> None:
    """Pick ``option`` (text or compiled pattern) in the drop-down labelled ``label``. The page may still be
    re-running just after it appears (a rerun closes an open drop-down): open it again until the option shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator('[data-testid="stSelectbox"]').filter(has=page.get_by_text(label, exact=True)).first
    for attempt in range(5):
        box.click()
        try:
            page.get_by_role("option", name=option).first.click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == 4:
                raise
            page.keyboard.press("Escape")
            page.wait_for_timeout(1_500)


def test_unit_uploads_and_reviewer_approves(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, db, proc = server
    wb = tmp_path / "民政局2019自评表.xlsx"
    wb.write_bytes(fx.workbook(fx.CIVIL))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2200}, locale="zh-CN")
            page.set_default_timeout(30_000)

            page.goto(base)
            page.get_by_role("button", name="登录", exact=True).wait_for()
            _shot(page, "01-登录")
            # a wrong password is refused
            page.get_by_label("用户名").fill("minzheng")
            page.get_by_label("密码").fill("wrong-pass")
            page.get_by_role("button", name="登录", exact=True).click()
            expect(page.get_by_text("用户名或密码错误")).to_be_visible()

            # the unit signs in and uploads
            _login(page, base, "minzheng", "minzheng123")
            page.get_by_role("heading", name="上报自评").wait_for()
            expect(page.get_by_text("方正县民政局").first).to_be_visible()
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(wb))
            page.get_by_text(wb.name).first.wait_for()
            page.get_by_role("button", name="上传并校验").click()
            page.get_by_text("本次上传结果").wait_for(timeout=60_000)
            expect(page.get_by_text("已接收 — 方正县民政局").first).to_be_visible()
            _shot(page, "02-上报自评-已接收")
            page.get_by_role("tab", name="公开及时性").click()
            _shot(page, "03-上报自评-及时性")
            _logout(page)

            # the reviewer signs in, opens the unit from the queue and approves it
            _login(page, base, "shenhe", "shenhe123")
            page.get_by_role("heading", name="审核队列").wait_for()
            _shot(page, "04-审核队列")
            _choose(page, "选择单位", fx.CIVIL)
            page.get_by_role("button", name="审核该单位").click()
            page.get_by_role("heading", name="单位审核").wait_for()
            expect(page.get_by_text("当前版本").first).to_be_visible()
            _shot(page, "05-单位审核")
            page.get_by_role("tab", name="台账与及时性").click()
            _shot(page, "06-单位审核-台账")
            page.get_by_role("tab", name="上报记录与日志").click()
            _shot(page, "07-单位审核-日志")
            page.get_by_role("button", name="通过").click()
            page.get_by_text(f"{fx.CIVIL}：已审核通过").wait_for()
            expect(page.get_by_role("button", name="重新打开")).to_be_visible()
            _shot(page, "08-单位审核-已审核")

            for title, name in (("批量导入", "09-批量导入"), ("总览", "10-总览")):
                if page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).count():
                    _nav(page, title)
                    _shot(page, name)
        finally:
            browser.close()

    # stop the server (it holds the database file), then read the status
    proc.terminate()
    proc.wait(timeout=20)
    from data.store import connect

    con = connect(db)
    try:
        row = con.execute("SELECT status, updated_by FROM workflow WHERE unit = ? AND year = 2019", [fx.CIVIL]).fetchone()
        by = con.execute("SELECT uploaded_by, version FROM submissions WHERE unit = ?", [fx.CIVIL]).fetchall()
    finally:
        con.close()
    assert row == ("已审核", "shenhe")
    assert by == [("minzheng", 1)]


#: every text node the user can see (Material icon names excluded: they are drawn as icons), and the
#: tooltips and accessible names of controls
_VISIBLE_TEXT = r"""() => {
  const out = [];
  const it = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (it.nextNode()) {
    const n = it.currentNode, t = n.nodeValue.trim(), p = n.parentElement;
    if (!t || !p || p.closest('script,style,noscript,[data-testid=stIconMaterial],.material-symbols-rounded')) continue;
    if (getComputedStyle(p).fontFamily.includes('Material')) continue;  // an icon's name, drawn as the icon
    if (t.includes('页面地址“/')) continue;  // the address the test itself mistyped
    out.push(t);
  }
  for (const el of document.querySelectorAll('[aria-label],[title],[placeholder]'))
    for (const a of ['aria-label', 'title', 'placeholder']) { const v = el.getAttribute(a); if (v) out.push(v); }
  return out;
}"""


def _english_on(page) -> list[str]:
    from tests.test_ui_chinese import english

    return sorted({w for t in page.evaluate(_VISIBLE_TEXT) for w in english(t)})


def _tooltips(page) -> list[str]:
    """Hover the tool bar of the first table and the first chart; the tooltips shown."""
    seen = []
    for sel in ('[data-testid="stDataFrame"]', '[data-testid="stPlotlyChart"]'):
        el = page.locator(sel).first
        if not el.count() or not el.is_visible():
            continue
        el.hover()
        page.wait_for_timeout(300)
        # the tool bar shown for the element under the mouse
        buttons = page.locator('[data-testid="stElementToolbar"]:visible [data-testid="stElementToolbarButton"]')
        for i in range(buttons.count()):
            b = buttons.nth(i)
            if b.is_visible():
                b.hover(force=True)
                page.wait_for_timeout(400)
                seen += page.evaluate("() => Array.from(document.querySelectorAll('[role=tooltip],"
                                      "[data-baseweb=tooltip]')).map(e => e.innerText)")
        modebar = page.locator(".modebar-btn")
        for i in range(min(modebar.count(), 4)):
            seen.append(modebar.nth(i).get_attribute("data-title") or "")
    return seen


def test_no_english_for_any_role_and_phones_start_with_the_sidebar_closed(server):
    from playwright.sync_api import expect, sync_playwright

    from tests.test_ui_chinese import english

    base, _, _ = server
    found: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page.set_default_timeout(30_000)
            # a mistyped address: the router answers in Chinese, Streamlit's English dialog is gone
            page.goto(f"{base}/scorcard")
            page.get_by_text("页面地址“/scorcard”不存在").wait_for()
            page.wait_for_timeout(800)
            assert not page.get_by_text("Page not found").count()
            found["login"] = _english_on(page)
            for name in ("admin", "shenhe", "lingdao", "shenji"):
                _login(page, base, name, fx.ACCOUNTS[name][0])
                page.wait_for_timeout(1500)
                links = page.locator('[data-testid="stSidebarNav"] a')
                titles = [links.nth(i).locator('[data-testid="stSidebarNavLinkContainer"], span').last.inner_text().strip()
                          for i in range(links.count())]
                titles = [t.split("\n")[-1].strip() for t in titles]
                for title in titles:
                    _nav(page, title)
                    page.wait_for_timeout(1500)
                    words = _english_on(page) + [w for t in _tooltips(page) for w in english(t)]
                    if title == "管理":  # the 操作日志 with its own two date fields
                        page.get_by_role("tab", name="操作日志").click()
                        _choose(page, "日期", "指定日期")
                        page.get_by_text("起始日期", exact=True).wait_for()
                        _shot(page, "19-管理-操作日志")
                        words += _english_on(page)
                    if words:
                        found[f"{name}/{title}"] = sorted(set(words))
                _logout(page)
            # a phone: the sidebar starts closed after signing in
            phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
            phone.set_default_timeout(30_000)
            phone.goto(base)
            phone.get_by_label("用户名").fill("lingdao")
            phone.get_by_label("密码", exact=True).fill("lingdao123")
            phone.get_by_role("button", name="登录", exact=True).click()
            phone.get_by_role("heading", name="总览").first.wait_for()
            phone.wait_for_timeout(800)
            assert phone.locator('[data-testid="stSidebar"]').get_attribute("data-collapsed") == "true"
            phone.locator('[data-testid="stMetric"]').first.wait_for()
            _shot(phone, "20-手机-总览")
            # choosing a page in the sidebar closes it again (a narrow window, not only a phone's user agent)
            phone.locator('[data-testid="stExpandSidebarButton"]').first.click()
            _nav(phone, "评分卡")
            expect(phone.locator('[data-testid="stSidebar"]')).to_have_attribute("data-collapsed", "true")
            _shot(phone, "20-手机-评分卡")
        finally:
            browser.close()
    assert not any(found.values()), f"English in the browser: {found}"



def test_reviewer_types_a_reason_in_the_editor_and_a_reupload_carries_it_over(server, tmp_path):
    """The unit's version 1 (uploaded by the fixture) is adjusted in the per-indicator editor (the reason
    typed key by key) and returned; the unit uploads version 2 with B1's self score lowered; the reviewer
    sees the earlier adjustment offered with the self-score change, edits its reason and approves; the unit
    sees the new reason on 我的得分."""
    import re

    from playwright.sync_api import expect, sync_playwright

    base, db, proc = server
    reason = "征求意见稿只有通知，没有意见采纳情况说明，扣2分"
    reason2 = "第二版仍未补充意见采纳情况说明，维持3分"
    wb2 = tmp_path / "审计局自评表-第二版.xlsx"
    wb2.write_bytes(fx.workbook(overrides={"B1": 4}, reporter="李四"))
    reason_label = "调整理由（审核分与自评分不同时必填，单位会看到）"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            page.set_default_timeout(45_000)

            def open_audit_unit():
                _nav(page, "单位审核")
                _choose(page, "单位", f"{fx.AUDIT}（部门）")
                page.get_by_text("当前版本").first.wait_for()

            # the reviewer adjusts B1 in the editor, the reason typed as a reviewer types it, and returns
            _login(page, base, "shenhe", "shenhe123")
            open_audit_unit()
            _choose(page, "调整哪一项指标（也可在上表点选一行）", re.compile(r"^B1 "))
            page.get_by_text("B1 重大决策预公开", exact=False).first.wait_for()
            # the form of the indicator shown before is replaced when the rerun ends: wait for one form
            expect(page.get_by_label("审核分（留空 = 按自评分计分）")).to_have_count(1, timeout=45_000)
            expect(page.get_by_label("审核分（留空 = 按自评分计分）")).to_have_attribute("placeholder", "0 到 5.00 之间")
            page.get_by_label("审核分（留空 = 按自评分计分）").fill("3")
            page.get_by_label(reason_label).click()
            page.keyboard.type(reason, delay=5)
            page.get_by_role("button", name="保存调整").click()
            page.get_by_text("B1：审核分已保存").wait_for()
            # the save reruns the page: wait until the redrawn form is the only one
            expect(page.get_by_label(reason_label)).to_have_count(1, timeout=45_000)
            expect(page.get_by_label(reason_label)).to_have_value(reason)
            _shot(page, "30-单位审核-理由编辑")
            page.get_by_label("退回意见（必填，单位会看到）").fill("请补充 B1 的意见采纳情况说明")
            page.get_by_role("button", name="退回", exact=True).click()
            page.get_by_text("已退回，单位将看到退回意见").wait_for()
            _logout(page)

            # the unit sees the return and uploads a changed version
            _login(page, base, "shenji", "shenji123")
            page.get_by_role("heading", name="上报自评").wait_for()
            expect(page.get_by_text("请补充 B1 的意见采纳情况说明").first).to_be_visible()
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(wb2))
            page.get_by_text(wb2.name).first.wait_for()
            page.get_by_role("button", name="上传并校验").click()
            page.get_by_text("本次上传结果").wait_for(timeout=90_000)
            page.get_by_text("已接收").first.wait_for(state="attached")  # inside the result expander
            _logout(page)

            # the reviewer: version 1's adjustment is offered, with the unit's change of its self score
            _login(page, base, "shenhe", "shenhe123")
            open_audit_unit()
            page.get_by_text("第1版的审核调整（共 1 项）").wait_for()
            expect(page.get_by_text("自评分 5.00 → 4.00（单位已修改）").first).to_be_visible()
            expect(page.get_by_text(f"理由：{reason}").first).to_be_visible()
            _shot(page, "31-单位审核-上版调整建议")
            # approving before deciding is refused
            page.get_by_role("button", name="通过", exact=True).click()
            page.get_by_text("还没有处理", exact=False).first.wait_for()
            # 修改: the form opens prefilled; the reviewer rewrites the reason and saves
            page.get_by_role("button", name="修改", exact=True).click()
            page.get_by_text("已按上一版的调整预填，请核对后保存。").wait_for()
            expect(page.get_by_label(reason_label)).to_have_count(1, timeout=45_000)
            area = page.get_by_label(reason_label)
            expect(area).to_have_value(reason)
            expect(page.get_by_label("审核分（留空 = 按自评分计分）")).to_have_value("3.00")
            area.fill("")
            area.click()
            page.keyboard.type(reason2, delay=5)
            page.get_by_role("button", name="保存调整").click()
            page.get_by_text("B1：审核分已保存").wait_for()
            expect(page.get_by_text("第1版的审核调整")).to_have_count(0)
            _shot(page, "32-单位审核-已沿用")
            page.get_by_role("button", name="通过", exact=True).click()
            page.get_by_text(f"{fx.AUDIT}：已审核通过").wait_for()
            _logout(page)

            # the unit sees the reviewer's new reason beside B1
            _login(page, base, "shenji", "shenji123")
            page.get_by_role("heading", name="上报自评").wait_for()
            _nav(page, "我的得分")
            page.get_by_role("heading", name="各项指标得分").wait_for()
            page.get_by_text("考核组调整了 1 项指标的得分").wait_for()
            expect(page.locator('[data-testid="stMarkdownContainer"]').get_by_text(f"理由：{reason2}")).to_be_visible()
            _shot(page, "33-我的得分-调整理由")
        finally:
            browser.close()

    proc.terminate()
    proc.wait(timeout=20)
    from data.store import connect

    con = connect(db)
    try:
        rows = con.execute("""SELECT s.version, r.code, r.score, r.reason FROM review_scores r
                              JOIN submissions s ON s.id = r.submission_id WHERE s.unit = ? ORDER BY s.version""",
                           [fx.AUDIT]).fetchall()
        status = con.execute("SELECT status FROM workflow WHERE unit = ? AND year = 2019", [fx.AUDIT]).fetchone()
    finally:
        con.close()
    # the reason arrived whole on version 1; version 2 carries the edited one
    assert [(v, c, str(sc), r) for v, c, sc, r in rows] == [(1, "B1", "3.00", reason), (2, "B1", "3.00", reason2)]
    assert status == ("已审核",)


def test_sign_in_survives_reload_sign_out_sticks_and_lockout(server):
    from playwright.sync_api import expect, sync_playwright

    base, db, proc = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 1400}, locale="zh-CN")
            page = ctx.new_page()
            page.set_default_timeout(30_000)
            _login(page, base, "lingdao", "lingdao123")
            page.get_by_role("heading", name="总览").wait_for()

            def session_cookie():
                return next((c for c in ctx.cookies() if c["name"] == "gongkai_session"), None)

            deadline = time.monotonic() + 20
            while session_cookie() is None and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            ck = session_cookie()
            assert ck is not None and ck["value"].count(".") == 2
            assert ck["sameSite"] == "Strict" and ck["path"] == "/" and not ck["secure"]  # http here: no Secure
            assert ck["expires"] > time.time() + 6 * 86400  # the absolute limit, 7 days

            # reload: still signed in
            page.reload()
            page.get_by_role("button", name="退出登录").wait_for()
            page.get_by_role("heading", name="总览").wait_for()
            _shot(page, "20-刷新后仍登录")
            # a new tab on another page's address: signed in too
            tab = ctx.new_page()
            tab.goto(f"{base}/scorecard")
            tab.get_by_role("button", name="退出登录").wait_for(timeout=30_000)
            tab.get_by_role("heading", name="评分卡").first.wait_for(timeout=30_000)
            tab.close()

            # sign out, reload: signed out (the cookie is gone and its session revoked)
            _logout(page)
            page.reload()
            page.get_by_role("button", name="登录", exact=True).wait_for()
            page.wait_for_timeout(1500)
            expect(page.get_by_role("button", name="退出登录")).to_have_count(0)
            ck = session_cookie()
            assert ck is None or ck["value"] == ""

            # five wrong passwords: the fifth answer is the lock, saying when to retry
            def attempt(password: str) -> None:
                page.get_by_label("用户名").fill("lingdao")
                page.get_by_label("密码").fill(password)
                page.get_by_role("button", name="登录", exact=True).click()

            attempt("wrong-1")
            page.get_by_text("用户名或密码错误").wait_for()
            page.wait_for_timeout(1500)
            attempt("wrong-2")
            page.wait_for_timeout(1500)
            attempt("wrong-3")
            page.get_by_text("再输错 2 次").wait_for()
            attempt("wrong-4")
            page.get_by_text("再输错 1 次").wait_for()
            attempt("wrong-5")
            page.get_by_text("该账号已被锁定").wait_for()
            expect(page.get_by_text("后再试")).to_be_visible()
            _shot(page, "21-连续输错后锁定")
            # the right password does not get through while locked
            attempt("lingdao123")
            page.wait_for_timeout(2500)
            expect(page.get_by_text("该账号已被锁定")).to_be_visible()
            expect(page.get_by_role("button", name="退出登录")).to_have_count(0)
        finally:
            browser.close()
