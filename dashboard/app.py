"""政务公开年度考核分析平台 — the Streamlit entry point (router).

``streamlit run dashboard/app.py``. Not signed in: only the login page.
Signed in, the pages depend on the role (from the ``users`` table):

* 填报单位 (unit): 上报自评 — its own unit only;
* 考核组 (reviewer): 上报自评 (代报), 审核队列, 单位审核, 批量导入 and the analytics pages;
* 领导 (leader): the analytics pages, read-only;
* 管理员 (admin): everything, plus 管理.

The year is chosen once, in the sidebar (``st.session_state["year"]``).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.scheme import years as scheme_years
from core.logs import configure as configure_logging
from dashboard import common, zh
from dashboard.text import md
from data.store import is_demo

configure_logging()
HERE = Path(__file__).resolve().parent
PAGES = HERE / "app_pages"

# "auto": the sidebar is open on a desktop screen and collapsed on a phone
st.set_page_config(page_title="政务公开年度考核分析平台", page_icon=":material/assignment:", layout="wide",
                   initial_sidebar_state="auto")
zh.install()  # Streamlit's own English words in Chinese, and the app's style sheet

con = common.db()  # opens the database and fills the working-day calendar once
user = common.refresh_user(con)  # resumes from the browser's cookie after a reload or in a new tab
common.sync_cookie()

if is_demo(con):  # every page, signed in or not: nobody mistakes the demonstration county for real results
    st.warning("**演示数据**：这是演示数据库（虚构的方正县），数据和账号仅供体验，不是真实的考核结果。",
               icon=":material/science:")


def _page(file: str, title: str, icon: str, url: str, default: bool = False):
    return st.Page(PAGES / file, title=title, icon=icon, url_path=url, default=default)


ALL_URLS = ("upload", "my_results", "review_queue", "review_unit", "appeals", "year_close", "batch_import",
            "overview", "scorecard", "timeliness", "coverage", "trends", "reconcile", "admin", "account")

KNOWN_URLS = {"", "start", "login", *ALL_URLS}


def unknown_address() -> str | None:
    """The last part of a mistyped address (``/scorcard``), else None. Streamlit then runs the
    default page and would say so in English; the router says it in Chinese instead."""
    from urllib.parse import unquote, urlparse

    try:
        url = st.context.url
    except Exception:  # pragma: no cover - outside a browser session (tests)
        return None
    if not url:
        return None
    path = unquote(urlparse(url).path)
    base = "/" + (st.get_option("server.baseUrlPath") or "").strip("/")
    if base != "/" and path.startswith(base):
        path = path[len(base):]
    last = path.strip("/").rsplit("/", 1)[-1]
    return last if last not in KNOWN_URLS else None


if (bad := unknown_address()) is not None:
    st.warning(f"页面地址“/{md(bad)}”不存在，已为您打开" + ("首页。请从左侧菜单选择页面。" if user else "登录页。"),
               icon=":material/link_off:")

if user is None:
    # every page address leads to the login form (a bookmarked page opens after signing in)
    login = [st.Page(PAGES / "login.py", title="登录", icon=":material/login:", url_path="start", default=True)]
    login += [st.Page(PAGES / "login.py", title="登录", icon=":material/login:", url_path=u) for u in ("login", *ALL_URLS)]
    common.run_page(st.navigation(login, position="hidden"))
    st.stop()

role = user["role"]
DEFAULT = {"unit": "upload", "reviewer": "review_queue", "leader": "overview", "admin": "review_queue"}
want = DEFAULT.get(role)

specs = {
    "填报": [("upload.py", "上报自评", ":material/upload_file:", "upload"),
             ("my_results.py", "我的得分", ":material/gavel:", "my_results")],
    "审核": [("review_queue.py", "审核队列", ":material/inbox:", "review_queue"),
             ("review_unit.py", "单位审核", ":material/fact_check:", "review_unit"),
             ("appeals.py", "申诉处理", ":material/gavel:", "appeals"),
             ("year_close.py", "年度流程", ":material/flag:", "year_close"),
             ("batch_import.py", "批量导入", ":material/move_to_inbox:", "batch_import")],
    "统计分析": [("overview.py", "总览", ":material/dashboard:", "overview"),
                ("scorecard.py", "评分卡", ":material/leaderboard:", "scorecard"),
                ("timeliness.py", "及时性", ":material/schedule:", "timeliness"),
                ("coverage.py", "覆盖缺口", ":material/grid_view:", "coverage"),
                ("trends.py", "趋势", ":material/trending_up:", "trends"),
                ("reconcile.py", "年报勾稽", ":material/rule:", "reconcile")],
    "系统管理": [("admin.py", "管理", ":material/settings:", "admin")],
    "账号": [("account.py", "我的账号", ":material/account_circle:", "account")],
}
allowed = {
    "填报": role in common.UPLOAD_ROLES,
    "审核": role in common.REVIEW_ROLES,
    "统计分析": role in common.ANALYTICS_ROLES,
    "系统管理": role == "admin",
    "账号": True,
}
#: pages only some roles of a section see
ONLY = {"my_results": ("unit",)}
for sec in specs:
    specs[sec] = [s for s in specs[sec] if role in ONLY.get(s[3], (role,))]
available = [s[3] for sec, items in specs.items() if allowed[sec] for s in items]
if want not in available:
    want = available[0] if available else None
nav: dict[str, list] = {}
for section, items in specs.items():
    if not allowed[section]:
        continue
    nav[section] = [_page(f, t, i, u, default=(u == want)) for f, t, i, u in items]

# ---- sidebar: the year, who is signed in, sign out
ys = scheme_years()
if st.session_state.get("year") not in ys:
    st.session_state["year"] = common.default_year(con)
with st.sidebar:
    st.markdown("### 政务公开年度考核")
    st.selectbox("考核年度", ys, key="year", format_func=lambda y: f"{y}年度",
                 help="所有页面都按这里选定的年度显示和计分")
    who = f"**{md(user['name'])}**　{common.role_label(role)}"
    if role == "unit":
        who += f"  \n{md(user['unit'])}"
    st.markdown(f"当前用户：{who}")
    if st.button("退出登录", icon=":material/logout:", key="logout_button"):
        common.sign_out(con)
        st.rerun()

if not nav:
    st.error("此账号没有可用的页面，请联系管理员。")
    st.stop()

common.run_page(st.navigation(nav, expanded=True))
