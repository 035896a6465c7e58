"""No English in the user interface.

Every page, for every role, through AppTest: every text the page sends
(titles, Markdown, captions, messages, widget labels, help, placeholders,
options, tab and expander labels, table headers, chart titles, axes, legends
and hover texts) must be Chinese. Streamlit's own words that a page cannot
set are translated in the browser by dashboard/zh.py; the browser test
(tests/test_browser.py) checks what is visible there, tooltips included.
"""
from __future__ import annotations

from data.access import SYSTEM
from tests.app_fixtures import open_page

import json
import re
import tomllib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from data.users import create_user
from tests.test_app_analytics import APP, AUDIT, _clear_caches, _decode, build_db

ROOT = Path(__file__).resolve().parent.parent

#: Latin words a Chinese government office writes itself (file formats, the hash name, indicator codes
#: are matched separately) and the demo/test accounts' names
ALLOWED = {"csv", "excel", "png", "wps", "xlsx", "xlsm", "xls", "ods", "et", "sha", "json", "mb", "pdf",
           "http", "https", "www", "gov", "cn", "admin", "lingdao", "shenji", "shenhe", "minzheng", "fangzheng",
           "toml", "word", "docx", "id", "ui", "url"}
WORD = re.compile(r"[A-Za-z]{2,}")
MARKUP = [re.compile(p) for p in (
    r":material/[a-z_]+:", r":[a-z]+(?:-background|-badge)?\[", r"https?://\S+", r"<[^>]+>", r"%\{[^}]*\}",
    r"\b[A-K]\d\b", r"[?&][a-z_]+=", r"\.(?:xlsx|xlsm|xls|ods|et|wps|csv|pdf|toml)\b", r"\b[a-z_]+/", r"\bUTF-8\b")]

TEXT_FIELDS = {"body", "label", "help", "placeholder", "options", "caption", "text", "title", "value",
               "default_value", "tab_labels", "page_title"}


def english(text: str) -> list[str]:
    for p in MARKUP:
        text = p.sub(" ", text)
    return [w for w in WORD.findall(text) if w.lower() not in ALLOWED]


def _strings(msg, out: list[str], field: str = "") -> None:
    from google.protobuf.message import Message

    if isinstance(msg, Message):
        for fd, v in msg.ListFields():
            if fd.name in ("spec", "data", "arrow_data", "config", "id", "form_id", "key", "icon", "url", "theme"):
                continue
            if isinstance(v, (list, tuple)) or (hasattr(v, "__len__") and not isinstance(v, (str, bytes, Message))):
                for x in v:
                    _strings(x, out, fd.name)
            else:
                _strings(v, out, fd.name)
    elif isinstance(msg, str) and field in TEXT_FIELDS:
        out.append(msg)


def _chart_texts(spec: dict) -> list[str]:
    out = []
    lay = spec.get("layout", {})

    def title(t):
        return t.get("text", "") if isinstance(t, dict) else (t or "")

    out.append(title(lay.get("title")))
    for k, v in lay.items():
        if k.startswith(("xaxis", "yaxis")) and isinstance(v, dict):
            out.append(title(v.get("title")))
            out += [str(x) for x in v.get("ticktext", []) or []]
    out += [str(a.get("text", "")) for a in lay.get("annotations", []) or []]
    for t in spec.get("data", []):
        out.append(str(t.get("name", "")))
        for k in ("text", "hovertemplate"):
            v = t.get(k)
            out += [str(x) for x in v] if isinstance(v, list) else [str(v or "")]
    return out


def page_texts(at: AppTest) -> list[str]:
    out: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error",
                 "button", "download_button", "selectbox", "multiselect", "radio", "checkbox", "toggle",
                 "text_input", "text_area", "number_input", "date_input", "metric", "tab", "expander",
                 "segmented_control", "toast"):
        try:
            elements = at.get(kind)
        except Exception:  # noqa: BLE001 - a kind this Streamlit does not know
            continue
        for e in elements:
            proto = getattr(e, "proto", None)
            if proto is not None:
                _strings(proto, out)
            for attr in ("label", "help", "placeholder"):
                v = getattr(e, attr, None)
                if isinstance(v, str):
                    out.append(v)
    for d in at.get("dataframe"):
        out += [str(c) for c in d.value.columns]
    for p in at.get("plotly_chart"):
        out += _chart_texts(_decode(json.loads(p.proto.spec)))
    return out


USERS = {"admin": {"name": "admin", "role": "admin", "unit": None},
         "reviewer": {"name": "shenhe", "role": "reviewer", "unit": None},
         "leader": {"name": "lingdao", "role": "leader", "unit": None},
         "unit": {"name": "shenji", "role": "unit", "unit": AUDIT}}
PAGES = {"admin": ["upload", "review_queue", "review_unit", "batch_import", "overview", "scorecard", "timeliness",
                   "coverage", "trends", "admin"],
         "reviewer": ["upload", "review_queue", "review_unit", "batch_import", "overview", "scorecard", "timeliness",
                      "coverage", "trends"],
         "leader": ["overview", "scorecard", "timeliness", "coverage", "trends"],
         "unit": ["upload"]}


@pytest.fixture(scope="module")
def ui_db(tmp_path_factory):
    path = build_db(tmp_path_factory.mktemp("zh") / "zh.duckdb")
    from data.store import connect

    con = connect(path)
    create_user(con, "admin", "admin", "admin123", actor=SYSTEM)
    create_user(con, "shenhe", "reviewer", "shenhe123", actor=SYSTEM)
    con.close()
    return path


@pytest.mark.parametrize("role", list(PAGES))
def test_every_page_speaks_chinese(ui_db, role, monkeypatch):
    monkeypatch.setenv("GONGKAI_DB", str(ui_db))
    _clear_caches()
    problems = {}
    try:
        for page in PAGES[role]:
            at = open_page(page, USERS[role]["name"], path=ui_db, timeout=90, review_unit=AUDIT)  # a real session
            texts = page_texts(at)
            assert len(texts) > 10, (page, texts)  # the page's texts were read
            bad = sorted({w for t in texts for w in english(t)})
            if bad:
                problems[page] = bad
    finally:
        _clear_caches()
    assert not problems, f"English words on the pages of the {role}: {problems}"


def test_login_page_speaks_chinese(ui_db, monkeypatch):
    monkeypatch.setenv("GONGKAI_DB", str(ui_db))
    _clear_caches()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert not sorted({w for t in page_texts(at) for w in english(t)})


def test_the_english_check_can_fail():
    assert english("下载 Show/hide columns") == ["Show", "hide", "columns"]
    assert english(":red-badge[逾期] 下载（CSV）A1 http://www.x.gov.cn/a 第1版.xlsx") == []


def test_upload_limit_is_the_readers():
    from data.reader import MAX_FILE_BYTES
    from dashboard.zh import LIMIT_MB

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert cfg["server"]["maxUploadSize"] == LIMIT_MB == MAX_FILE_BYTES // (1024 * 1024) == 20


def _translate(text: str) -> str | None:
    """dashboard/zh.py's dictionary applied as its browser script does (exact text first, then the patterns)."""
    from dashboard.zh import EXACT, PATTERNS

    t = text.strip()
    if t in EXACT:
        return EXACT[t]
    for p, r in PATTERNS:
        if re.search(p, t):
            return re.sub(p, re.sub(r"\$(\d)", r"\\\1", r), t)
    return None


@pytest.mark.parametrize("text, chinese", [
    ("6 options available.", "共 6 个选项。"),
    ("1 option available.", "共 1 个选项。"),
    ("指定日期, selected", "指定日期，已选中"),
    ("Show suggestions", "显示选项"),
    ("20MB per file", "每个文件不超过 20 MB"),
    ("10MB per file", "每个文件不超过 10 MB"),  # a widget's own limit (appeal evidence), not the server's
    ("File must be 10.0MB or smaller.", "文件超过 10.0 MB 上限，请删减内容（如无关工作表、图片）后重新保存"),
    ("Selected Date: November 30, 2026", "已选日期：2026年11月30日"),
    ("Value must be 2020-01-05 or later.", "日期不能早于 2020-01-05。"),
])
def test_streamlit_announcements_are_translated(text, chinese):
    assert _translate(text) == chinese and not english(chinese)


def test_file_sizes_read_naturally():
    from dashboard.ui import file_size

    assert file_size(0) == "0 字节" and file_size(320) == "320 字节"  # a small evidence file is not "0 KB"
    assert file_size(1024) == "1 KB" and file_size(12 * 1024 + 100) == "12 KB"
    assert file_size(int(3.4 * 1024 * 1024)) == "3.4 MB"
