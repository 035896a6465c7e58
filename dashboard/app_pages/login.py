"""登录: user name and password (data.users.sign_in: bcrypt, throttling, audit);
the session then survives a reload and new tabs (dashboard.common)."""
from __future__ import annotations

import streamlit as st

from dashboard.common import db, db_lock, role_label, sign_in
from data.users import LoginFailed, sign_in as check_sign_in
from demo.accounts import working_demo_accounts

con = db()

_, mid, _ = st.columns([1, 2, 1])
with mid:
    st.title("政务公开年度考核分析平台")
    st.caption("各乡镇、各县直部门上报自检自评材料，考核组审核评分，领导查看考核结果。")
    notice = st.session_state.pop("login_notice", None)
    if notice:
        st.warning(notice)
    n_users = con.execute("SELECT count(*) FROM users WHERE active").fetchone()[0]
    if n_users == 0:
        st.warning("系统中还没有任何账号。请在服务器上运行\n\n"
                   "`python -m data users add admin --role admin` 创建管理员账号，"
                   "或运行 `python -m demo --db 新文件.duckdb` 另建一个演示数据库（含演示账号）。")
    with st.form("login_form"):
        name = st.text_input("用户名", key="login_name")
        password = st.text_input("密码", type="password", key="login_password")
        submitted = st.form_submit_button("登录", type="primary", width="stretch")
    if submitted:
        try:
            with db_lock():
                user, sid, token = check_sign_in(con, name or "", password or "")
        except LoginFailed as e:
            st.error(str(e), icon=":material/lock:" if getattr(e, "until", None) else None)
        else:
            sign_in(user, sid, token)
            st.rerun()
    demo = working_demo_accounts(con)  # only on a database marked as a demo; only passwords that still work
    if demo:
        with st.expander("演示账号（演示数据库）", icon=":material/info:"):
            st.caption("这是演示数据库，可用下列账号体验各角色；正式使用前请由管理员停用演示账号。")
            staff = [a for a in demo if a["role"] != "unit"]
            units = [a for a in demo if a["role"] == "unit"]
            rows = staff + units[: max(0, 8 - len(staff))]
            st.dataframe([{"用户名": a["name"], "密码": a["password"], "角色": role_label(a["role"]),
                           "单位": a["unit"] or ""} for a in rows], hide_index=True, width="stretch")
            if len(demo) > len(rows):
                st.caption(f"另有 {len(demo) - len(rows)} 个填报单位演示账号（按单位名录顺序 unit01、unit02……，密码相同）。")
