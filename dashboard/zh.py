"""The one place where Streamlit's own English is made Chinese, and the page
layout tuned for 1440 px screens and phones.

Streamlit has no Chinese locale: its widgets carry English words the pages
cannot set ("Upload", "50MB per file", "Choose date", the table tool bar's
"Show/hide columns", "Download as CSV", "Search", "Fullscreen", "Page not
found …"). :func:`install` adds, once per page run, a small script that
rewrites those words (text, tooltips, ``aria-label``, ``title``,
``placeholder``) wherever they appear, now and whenever Streamlit draws them
again, and the style sheet of the whole app (layout, phone sizes, hidden
English that has no Chinese counterpart).

:data:`EXACT` and :data:`PATTERNS` are the dictionary; the browser test fails
on any English it finds outside them (tests/test_browser.py).
"""
from __future__ import annotations

import json

import streamlit as st

from data.reader import MAX_FILE_BYTES

LIMIT_MB = MAX_FILE_BYTES // (1024 * 1024)

#: whole texts (trimmed) → Chinese
EXACT: dict[str, str] = {
    # file uploader
    "Upload": "选择文件", "Browse files": "选择文件", "Drag and drop file here": "将文件拖到这里",
    "Drag and drop files here": "将文件拖到这里", "Drag and drop a file here": "将文件拖到这里",
    "file upload": "上传文件", "Remove file": "移除文件", "Delete": "删除", "Clear": "清除",
    "Uploading...": "正在上传……", "Show more files": "显示更多文件", "Show less": "收起",
    # tables
    "Show/hide columns": "显示/隐藏列", "Download as CSV": "下载为 CSV", "Search": "搜索",
    "Fullscreen": "全屏", "Exit fullscreen": "退出全屏", "Close fullscreen": "退出全屏", "Add row": "添加行",
    "Delete row": "删除行", "Delete rows": "删除行", "Clear selection": "清除选择", "Copy to clipboard": "复制",
    "Sort ascending": "升序排列", "Sort descending": "降序排列", "Autosize": "自动列宽", "Pin column": "固定列",
    "Unpin column": "取消固定", "Hide column": "隐藏列", "Format": "格式", "Automatic": "自动",
    "Select all": "全选", "Reset": "还原", "Search...": "搜索……", "Type to search": "输入以搜索",
    # selects, multiselects, dates, numbers
    "Choose an option": "请选择", "Choose options": "请选择", "No results": "无匹配项", "Clear all": "全部清除",
    "Selected values": "已选项", "Select...": "请选择", "Open": "展开", "Close": "关闭",
    "Choose date": "选择日期", "Choose date range": "选择日期范围", "Choose date and time": "选择日期和时间",
    "Previous month.": "上个月", "Next month.": "下个月", "Previous month": "上个月", "Next month": "下个月",
    "Month": "月", "Year": "年", "Increment": "增加", "Decrement": "减少",
    "Show password": "显示输入的字符", "Hide password": "隐藏输入的字符",  # not "密码": a label of its own
    # app frame
    "Skip to main content": "跳到主要内容", "App pages": "页面", "Sidebar": "侧边栏",
    "Collapse sidebar": "收起侧边栏", "Expand sidebar": "展开侧边栏", "Show more": "展开", "View more": "展开",
    "View less": "收起", "Link to heading": "本节链接", "Running...": "正在运行……", "Stop": "停止",
    "Please wait...": "请稍候……", "Connecting": "正在连接", "Main menu": "菜单", "Rerun": "重新运行",
    "Settings": "设置", "Print": "打印", "Clear cache": "清除缓存",
    "Page not found": "页面不存在", "Dismiss": "关闭",
    "Download": "下载", "Copy": "复制", "Copied": "已复制",
    "Something went wrong": "出现错误",
    "Show suggestions": "显示选项", "Suggestions": "选项", "Start date must be before end date.": "起始日期必须早于截止日期。",
    "Selected date unavailable.": "所选日期不可用。",
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")

#: (regular expression, replacement) tried in order when no exact text matches
PATTERNS: list[tuple[str, str]] = [
    # the limit the widget states (the server's, or a widget's own: appeal evidence is smaller)
    (r"^(\d+(?:\.\d+)?)\s*([KMG]B) per file$", "每个文件不超过 $1 $2"),
    (r"^Limit (\d+(?:\.\d+)?)\s*([KMG]B) per file(.*)$", "每个文件不超过 $1 $2$3"),
    (r"^File must be ([\d.]+)\s*([KMG]B) or smaller\.?$", "文件超过 $1 $2 上限，请删减内容（如无关工作表、图片）后重新保存"),
    (r"^(.+) files? type not allowed\.?$", "不支持此文件类型：$1"),
    (r"^Help for (.+)$", "“$1”的说明"),
    (r"^Remove (.+)$", "移除 $1"),
    *[(rf"^Selected Date: {m} (\d{{1,2}}), (\d{{4}})$", f"已选日期：$2年{n}月$1日") for n, m in enumerate(_MONTHS, 1)],
    *[(rf"^{m} (\d{{4}})$", f"$1年{n}月") for n, m in enumerate(_MONTHS, 1)],
    *[(rf"^{m}$", f"{n}月") for n, m in enumerate(_MONTHS, 1)],
    *[(rf"^{d}$", z) for d, z in zip(("Su", "Mo", "Tu", "We", "Th", "Fr", "Sa"), "日一二三四五六")],
    (r"^Selected Date: (.+)$", "已选日期：$1"),
    (r"^day, (.+)$", "日，$1"), (r"^month, (.+)$", "月，$1"), (r"^year, (.+)$", "年，$1"),
    (r"^You have requested page /?(.*), but no corresponding file was found in the app's pages/ directory\. "
     r"Running the app's main page\.$", "您访问的页面地址“/$1”不存在，已为您打开首页。"),
    (r"^The page that you have requested does not seem to exist\. Running the app's main page\.$",
     "您访问的页面不存在，已为您打开首页。"),
    (r"^(\d+) rows? selected$", "已选 $1 行"),
    # a drop-down's screen-reader announcements (a hidden live region that stays in the page once opened)
    (r"^(\d+) options? available\.?$", "共 $1 个选项。"),
    (r"^Entered group (.+), with (\d+) options?\. (.*)$", "进入分组“$1”，共 $2 个选项。$3"),
    (r"^(.+), selected$", "$1，已选中"),
    (r"^Value must be (.+) or later\.$", "日期不能早于 $1。"),
    (r"^Value must be (.+) or earlier\.$", "日期不能晚于 $1。"),
]

_SCRIPT = """
(function () {
  if (window.__gkZh) { return; }
  window.__gkZh = true;
  var EXACT = %(exact)s;
  var PATTERNS = %(patterns)s.map(function (p) { return [new RegExp(p[0]), p[1]]; });
  var ATTRS = ["aria-label", "title", "placeholder", "data-title"];
  function tr(s) {
    if (!s || !/[A-Za-z]/.test(s)) { return null; }
    var t = s.trim();
    if (Object.prototype.hasOwnProperty.call(EXACT, t)) { return s.replace(t, EXACT[t]); }
    for (var i = 0; i < PATTERNS.length; i++) {
      if (PATTERNS[i][0].test(t)) { return s.replace(t, t.replace(PATTERNS[i][0], PATTERNS[i][1])); }
    }
    return null;
  }
  function skip(el) {
    return !el || el.closest("script,style,textarea,input,[data-testid=stIconMaterial],.material-symbols-rounded,[contenteditable=true]");
  }
  function fixText(node) {
    if (skip(node.parentElement)) { return; }
    var was = node.nodeValue.trim();
    var r = tr(node.nodeValue);
    if (r !== null && r !== node.nodeValue) { node.nodeValue = r; }
    if (was === "Page not found") {  // the router already said so in Chinese: close Streamlit's dialog
      var dlg = node.parentElement.closest("[role=dialog]");
      var btn = dlg && dlg.querySelector("button");
      if (btn) { setTimeout(function () { btn.click(); }, 50); }
    }
  }
  function fixEl(el) {
    for (var i = 0; i < ATTRS.length; i++) {
      var v = el.getAttribute && el.getAttribute(ATTRS[i]);
      if (v) { var r = tr(v); if (r !== null && r !== v) { el.setAttribute(ATTRS[i], r); } }
    }
  }
  function walk(root) {
    if (root.nodeType === 3) { fixText(root); return; }
    if (root.nodeType !== 1) { return; }
    fixEl(root);
    var els = root.querySelectorAll("[aria-label],[title],[placeholder],[data-title]");
    for (var i = 0; i < els.length; i++) { fixEl(els[i]); }
    var it = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (it.nextNode()) { fixText(it.currentNode); }
  }
  walk(document.body);
  // a narrow screen: the sidebar covers the page, so close it once a page is chosen in it (Streamlit itself
  // does so only for a phone's user agent, not for a tablet or a narrow window)
  document.addEventListener("click", function (e) {
    var link = e.target && e.target.closest && e.target.closest('[data-testid="stSidebarNav"] a');
    if (!link || !window.matchMedia("(max-width: 767px)").matches) { return; }
    var tries = 0;
    setTimeout(function close() {  // the page may still be drawing: try again for a few seconds until it is closed
      var b = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
      var bar = document.querySelector('[data-testid="stSidebar"]');
      if (bar && bar.getAttribute("data-collapsed") === "true") { return; }
      if (b) { b.click(); }
      if (++tries < 12) { setTimeout(close, 400); }
    }, 150);
  }, true);
  new MutationObserver(function (muts) {
    for (var i = 0; i < muts.length; i++) {
      var m = muts[i];
      if (m.type === "characterData") { fixText(m.target); }
      else if (m.type === "attributes") { fixEl(m.target); }
      else { for (var j = 0; j < m.addedNodes.length; j++) { walk(m.addedNodes[j]); } }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true,
                             attributeFilter: ATTRS});
})();
"""

#: the app's style sheet (the only CSS of the project)
CSS = """
/* 1440 px: use the width (Streamlit's default padding leaves a 980 px column beside the sidebar) */
[data-testid="stMainBlockContainer"] { padding-left: 2rem; padding-right: 2rem; padding-top: 3rem; max-width: 100%; }
/* the script element of this module takes no room */
[data-testid="stElementContainer"]:has(.gk-zh) { display: none; }
/* charts keep a readable size on a phone and scroll sideways (viz.show) */
@media (max-width: 700px) {
  [class*="st-key-gkwide_"] { overflow-x: auto; overflow-y: hidden; }
  [class*="st-key-gkwide_"] > div { min-width: 560px; }
}
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-left: 0.75rem; padding-right: 0.75rem; padding-top: 2.5rem; }
  h1 { font-size: 1.6rem !important; }
  [data-testid="stMetricValue"] { font-size: 1.5rem; }
  /* a heading's link icon: shown only on hover with a mouse, but always on a touch screen */
  [data-testid="stHeaderActionElements"] a[href^="#"] { display: none; }
  /* a row of figures: two a line instead of one card per screen line */
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stMetric"]) {
    flex-direction: row !important; flex-wrap: wrap !important; gap: 0.5rem !important; }
  [data-testid="stHorizontalBlock"]:has(> [data-testid="stColumn"] [data-testid="stMetric"]) > [data-testid="stColumn"] {
    min-width: calc(50% - 0.25rem) !important; max-width: calc(50% - 0.25rem) !important;
    flex: 1 1 calc(50% - 0.25rem) !important; }
}
"""


def install() -> None:
    """Add the translation script and the style sheet (call once per run, from the router)."""
    patterns = [[p, r] for p, r in PATTERNS]
    script = _SCRIPT % {"exact": json.dumps(EXACT, ensure_ascii=False),
                        "patterns": json.dumps(patterns, ensure_ascii=False)}
    st.html(f"<style>{CSS}</style>")
    st.html(f'<span class="gk-zh"></span><script>{script}</script>', unsafe_allow_javascript=True)
