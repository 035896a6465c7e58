"""Right of reply in a real browser (Debian's chromium through playwright):
2019 is published (公示); the unit signs in, sees 公示 in its 待办, files an
appeal on 我的得分; the reviewer answers it 调整 on 申诉处理; the unit signs
in again and sees the answer. Screenshots go to ``$TMPDIR/gongkai-screens``.
"""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest

from tests import app_fixtures as fx
from tests.test_browser import ARGS, CHROMIUM, _login, _logout, _nav, _shot, serve

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="/usr/bin/chromium is missing (apt-get install chromium fonts-wqy-microhei)")


def _published(path):
    from data.review import approve, snapshot
    from data.store import connect
    from metrics import closing as mc

    fx.prepare(path)
    con = connect(path)
    try:
        approve(con, fx.AUDIT, 2019, actor="shenhe", seen=snapshot(con, fx.AUDIT, 2019))
        approve(con, fx.TOWN, 2019, actor="shenhe", seen=snapshot(con, fx.TOWN, 2019))
        rev = fx.user("shenhe")
        mc.start_review(con, 2019, rev, today=dt.date.today())
        mc.publish(con, 2019, rev, today=dt.date.today())
    finally:
        con.close()
    return path


@pytest.fixture
def server(tmp_path):
    with serve(_published(tmp_path / "browser.duckdb"), tmp_path) as s:
        yield s


def test_unit_appeals_reviewer_answers_unit_sees_answer(server):
    from playwright.sync_api import expect, sync_playwright

    base, db, proc = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400}, locale="zh-CN")
            page.set_default_timeout(30_000)

            # the unit: 待办 says results are in 公示; it files an appeal
            _login(page, base, "shenji", "shenji123")
            page.get_by_role("heading", name="上报自评").wait_for()
            expect(page.get_by_text("考核结果公示中").first).to_be_visible()
            _nav(page, "我的得分")
            page.get_by_role("heading", name="各项指标得分").wait_for()
            page.get_by_label("申诉理由").fill("工作方案已于当年3月印发，附印发文件")
            _shot(page, "21-我的得分-申诉")
            page.get_by_role("button", name="提交申诉").click()
            page.get_by_text("申诉已提交").wait_for()
            _shot(page, "22-我的得分-已申诉")
            _logout(page)

            # the reviewer: 待办 lists the appeal; 申诉处理 answers it 调整
            _login(page, base, "shenhe", "shenhe123")
            page.get_by_role("heading", name="审核队列").wait_for()
            expect(page.get_by_text("申诉待答复").first).to_be_visible()
            _nav(page, "申诉处理")
            expect(page.get_by_text("工作方案已于当年3月印发，附印发文件").first).to_be_visible()
            page.get_by_text("调整", exact=True).first.click()
            page.get_by_label("调整后的分值", exact=False).fill("1.5")
            page.get_by_label("答复理由（必填，单位可见）").fill("补充材料属实，予以调整")
            _shot(page, "23-申诉处理")
            page.get_by_role("button", name="提交答复").click()
            page.get_by_text("申诉已答复：调整").wait_for()
            _shot(page, "24-申诉处理-已答复")
            _logout(page)

            # the unit sees the answer (its 待办 and 我的得分)
            _login(page, base, "shenji", "shenji123")
            page.get_by_role("heading", name="上报自评").wait_for()
            expect(page.get_by_text("补充材料属实，予以调整").first).to_be_visible()
            expect(page.get_by_text("调整为 1.50 分").first).to_be_visible()
            _nav(page, "我的得分")
            page.get_by_role("heading", name="申诉").wait_for()
            _shot(page, "25-我的得分-答复")
        finally:
            browser.close()

    proc.terminate()
    proc.wait(timeout=20)
    from data.store import connect

    con = connect(db)
    try:
        row = con.execute("SELECT unit, status, new_score, answer, filed_by, answered_by FROM appeals").fetchall()
    finally:
        con.close()
    assert len(row) == 1
    unit, status, new, answer, by, ans_by = row[0]
    assert (unit, status, new, answer, by, ans_by) == (fx.AUDIT, "调整", Decimal("1.50"), "补充材料属实，予以调整",
                                                       "shenji", "shenhe")
