"""Users' text in the app is text: no Markdown image, link or formatting from
unit-controlled text (evidence, comments, reasons, file names), through AppTest."""
from __future__ import annotations

import re
from urllib.parse import unquote


from data.review import return_submission, set_penalties, snapshot
from data.store import connect
from dashboard.text import md, md_link, web_url
from tests import app_fixtures as fx
from tests.app_fixtures import app_db  # noqa: F401 - the fixture
from tests import wbfactory as wf
from tests.test_app_write import new_app, open_page, upload_through_page


PIXEL = "![t](http://host/pixel.png)"
LINK = "[点我](http://x.example/?leak)"
BOLD = "**大字** # 标题"


def markdown_bodies(at) -> list[str]:
    """The source of every element Streamlit renders as Markdown."""
    out = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader", "header"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [e.label for e in at.expander]
    out += [e.label for e in at.button]
    return out


def unescaped_image_or_link(body: str) -> list[str]:
    """Markdown images in ``body`` whose brackets are not escaped, and links that are not the app's own
    link to a web address shown as itself (the text is the address: nothing disguised)."""
    bad = re.findall(r"(?<!\\)!(?<!\\)\[", body)
    for text, target in re.findall(r"(?<!\\)\[((?:\\.|[^\]\\])*)\]\(([^)\s]*)\)", body):
        if not (target.startswith(("http://", "https://")) and unquote(target) == re.sub(r"\\(.)", r"\1", text)):
            bad.append(f"[{text}]({target})")
    return bad


def test_md_escapes_every_markdown_construct():
    assert md(PIXEL) == r"\!\[t\]\(http\://host/pixel\.png\)"
    assert md("**x** _y_ `z` <b> $a$ :red[r] # h\n- item") == (
        r"\*\*x\*\* \_y\_ \`z\` \<b\> \$a\$ \:red\[r\] \# h" + "  \n" + r"\- item")
    assert md(None) == ""
    assert md(3) == "3"


def test_md_link_only_for_web_addresses():
    assert md_link("规章制度", "http://gov.cn/a b") == "[规章制度](http://gov.cn/a%20b)"
    assert md_link("x", "http://h/x)![i](http://e/p.png") == "[x](http://h/x%29!%5Bi%5D%28http://e/p.png)"
    assert md_link("js", "javascript:alert(1)") == "js"
    assert md_link(PIXEL, None) == md(PIXEL)


def test_web_url_only_for_http_addresses():
    assert web_url(" http://gov.cn/a ") == "http://gov.cn/a"
    assert web_url("HTTPS://gov.cn") == "HTTPS://gov.cn"
    assert web_url("www.gov.cn/x") == "http://www.gov.cn/x"
    assert web_url("javascript:alert(1)") == ""
    assert web_url("data:text/html,x") == ""
    assert web_url(None) == ""


def test_review_page_shows_evidence_comment_and_reason_as_text(app_db):
    sheets = wf.valid_sheets(unit=fx.AUDIT)
    sheets["自评打分"].rows[2][6] = PIXEL  # the evidence of A1
    sheets["自评打分"].rows[3][6] = "http://gov.cn/x)![i](http://host/p.png"
    con = connect(app_db)
    try:
        from data.ingest import ingest_bytes

        assert ingest_bytes(con, LINK + ".xlsx", wf.build(sheets), received=fx.RECEIVED).outcome == "accepted"
        return_submission(con, fx.AUDIT, 2019, "请补充 " + LINK + " " + BOLD, "shenhe",
                          seen=snapshot(con, fx.AUDIT, 2019))
        set_penalties(con, fx.AUDIT, 2019, 1, False, "通报 " + PIXEL, "shenhe", seen=snapshot(con, fx.AUDIT, 2019))
    finally:
        con.close()
    at = open_page(new_app("shenhe", review_unit=fx.AUDIT), "review_unit")
    bodies = markdown_bodies(at)
    joined = "\n".join(bodies)
    assert md(PIXEL) in joined  # the evidence is shown, as text
    assert md("请补充 " + LINK) in joined  # the comment is shown, as text
    assert md("通报 " + PIXEL) in joined  # the penalty reason, as text
    for b in bodies:
        assert not unescaped_image_or_link(b), b
        assert "**大字**" not in b


def test_unit_sees_the_return_comment_and_its_file_names_as_text(app_db):
    con = connect(app_db)
    try:
        return_submission(con, fx.AUDIT, 2019, LINK + " " + PIXEL, "shenhe", seen=snapshot(con, fx.AUDIT, 2019))
    finally:
        con.close()
    at = open_page(new_app("shenji"), "upload")
    upload_through_page(at, [(PIXEL + ".xlsx", fx.bad_workbook())])
    bodies = markdown_bodies(at)
    joined = "\n".join(bodies)
    assert md(LINK + " " + PIXEL) in joined
    assert md(PIXEL + ".xlsx") in joined  # the result line of the uploaded file
    for b in bodies:
        assert not unescaped_image_or_link(b), b
