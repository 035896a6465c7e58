"""我的账号: who is signed in, and changing one's own password (data.users.change_password)."""
from __future__ import annotations

import streamlit as st

from dashboard.common import current_user, db, db_lock, flash, role_label, show_flash
from data.access import PermissionDenied
from data.sessions import absolute_limit, idle_limit
from data.users import MIN_PASSWORD, UserError, change_password

user = current_user()
if user is None:
    st.error("请先登录。")
    st.stop()
con = db()

st.title("我的账号")
show_flash("account_flash")
st.markdown(f"用户名：**{user['name']}**　角色：{role_label(user['role'])}"
            + (f"　单位：{user['unit']}" if user.get("unit") else ""))
st.caption(f"登录后，刷新页面或在新标签页打开仍保持登录；{idle_limit().total_seconds() / 3600:g} 小时未操作或登录满 "
           f"{absolute_limit().days} 天需重新登录。修改密码后，本账号在其他浏览器或电脑上的登录会立即失效。")

with st.form("account_password", clear_on_submit=True):
    st.markdown("**修改密码**")
    old = st.text_input("原密码", type="password", key="account_old")
    new1 = st.text_input(f"新密码（至少 {MIN_PASSWORD} 个字符，可用汉字）", type="password", key="account_new1")
    new2 = st.text_input("再次输入新密码", type="password", key="account_new2")
    if st.form_submit_button("修改密码", type="primary"):
        if new1 != new2:
            st.error("两次输入的新密码不一致，密码未修改")
        else:
            try:
                with db_lock():
                    change_password(con, user["name"], old, new1, actor=user,
                                    keep_session=st.session_state.get("auth_sid"))
            except (UserError, PermissionDenied) as e:
                st.error(str(e))
            else:
                flash("account_flash", "密码已修改。其他地方的登录已退出，本页面保持登录。")
                st.rerun()
