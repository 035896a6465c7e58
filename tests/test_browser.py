"""End to end in a real browser: `streamlit run dashboard/app.py` on a small
database, driven by Debian's chromium through playwright.

A unit account signs in and uploads its workbook (已接收); a reviewer signs in,
opens the unit from the 审核队列 and approves it; the database then says
已审核. Screenshots of every step go to ``$TMPDIR/gongkai-screens`` (never the
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


@pytest.fixture
def server(tmp_path):
    db = fx.prepare(tmp_path / "browser.duckdb")
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


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(600)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _login(page, base: str, name: str, password: str) -> None:
    page.goto(base)
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for(timeout=30_000)


def _nav(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=30_000)


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
            page.get_by_role("button", name="登录").wait_for()
            _shot(page, "01-登录")
            # a wrong password is refused
            page.get_by_label("用户名").fill("minzheng")
            page.get_by_label("密码").fill("wrong-pass")
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_text("用户名或密码错误")).to_be_visible()

            # the unit signs in and uploads
            _login(page, base, "minzheng", "minzheng123")
            page.get_by_role("heading", name="上报自评").wait_for()
            expect(page.get_by_text("方正县民政局").first).to_be_visible()
            page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(wb))
            page.get_by_text(wb.name).first.wait_for()
            page.get_by_role("button", name="上传并校验").click()
            page.get_by_text("本次上传结果").wait_for(timeout=60_000)
            expect(page.get_by_text("已接收").first).to_be_visible()
            _shot(page, "02-上报自评-已接收")
            page.get_by_role("tab", name="公开及时性").click()
            _shot(page, "03-上报自评-及时性")
            page.get_by_role("button", name="退出登录").click()
            page.get_by_role("button", name="登录").wait_for()

            # the reviewer signs in, opens the unit from the queue and approves it
            _login(page, base, "shenhe", "shenhe123")
            page.get_by_role("heading", name="审核队列").wait_for()
            _shot(page, "04-审核队列")
            box = page.locator('[data-testid="stSelectbox"]').filter(has_text="选择单位")
            box.click()
            page.get_by_role("option", name=fx.CIVIL).click()
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
