"""管理 (administrators): the unit registry, user accounts, the indicator
schemes per year, the working-day calendar, and the full audit log."""
from __future__ import annotations

import datetime as dt
import tomllib

import pandas as pd
import streamlit as st

from dashboard.common import (ROLE_LABEL, after_write, db, db_lock, require_role, show_flash)
from dashboard.ui import LATE_BG as BAD, PENDING_BG as WARN, audit_viewer, dstr, fit_height, fmt2, num, show_error
from dashboard.text import md
from data.registry import RegistryError, get_units, load_units, parse_registry
from data.exports import csv_bytes
from data.access import PermissionDenied
from data.users import (MAX_FAILURES, MIN_PASSWORD, UserError, create_user, list_users, locked_names, reset_password,
                        set_active, set_role, unlock_user)
from data import calendar as cal
from core.scheme import SchemeError, load_catalogue, load_scheme_file, parse_scheme, scheme_changes, scheme_dir

user = require_role("admin")
con = db()
catalogue = load_catalogue()
cat_name = {c.code: c.name for c in catalogue.categories}

st.title("管理")
show_flash("admin_flash")


def _done(message: str) -> None:
    after_write("admin_flash", message)


def request_rules_text(rules) -> str:
    """The answer deadlines of a scheme in words: "2019-05-15 之前收到的 15 个工作日（延期 30）…；
    2019-05-15 起收到的 20 个工作日…" (the first rule's sentinel start, e.g. 1900-01-01, is not shown)."""
    rules = sorted(rules, key=lambda r: r.start)
    parts = []
    for n, r in enumerate(rules):
        if n == 0 and len(rules) > 1 and r.start.year <= 1900:
            when = f"{rules[1].start.isoformat()} 之前收到的"
        elif n == 0 and r.start.year <= 1900:
            when = ""
        else:
            when = f"{r.start.isoformat()} 起收到的"
        parts.append(f"{when}{r.days} 个工作日（延期后 {r.extended_days} 个工作日，{r.basis}）" if r.basis
                     else f"{when}{r.days} 个工作日（延期后 {r.extended_days} 个工作日）")
    return "；".join(parts)


tabs = st.tabs(["单位名录", "用户账号", "指标体系", "工作日历", "操作日志"])

# --------------------------------------------------------------------------- registry
with tabs[0]:
    units = get_units(con)
    st.markdown(f"**单位名录**：共 {len(units)} 个单位"
                f"（乡镇 {sum(u.unit_type == '乡镇' for u in units.values())} 个，"
                f"部门 {sum(u.unit_type == '部门' for u in units.values())} 个）")
    reg = pd.DataFrame([{"单位名称": u.name, "单位类型": u.unit_type,
                         "附加必公开类别": "、".join(cat_name.get(c, c) for c in u.extra_categories)}
                        for u in units.values()], columns=["单位名称", "单位类型", "附加必公开类别"])
    st.dataframe(reg, hide_index=True, width="stretch", key="admin_units", height=fit_height(len(reg), max_rows=15))
    if len(reg):
        st.download_button("导出单位名录（CSV）", csv_bytes(reg), file_name="单位名录.csv", mime="text/csv",
                           icon=":material/download:", key="admin_units_export")
    st.markdown("**导入单位名录**（新增或更新）")
    st.caption("UTF-8 编码的 CSV，表头为“单位名称,单位类型,附加必公开类别”；单位类型为“乡镇”或“部门”；"
               "附加必公开类别用“、”分隔，可留空。已有单位按名称更新，名录中没有的单位不会被删除。")
    rnonce = st.session_state.setdefault("admin_registry_nonce", 0)
    f = st.file_uploader("选择单位名录 CSV", type=["csv"], key=f"admin_registry_file_{rnonce}")
    if f is not None:
        raw = f.getvalue()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            st.error("文件不是 UTF-8 编码的 CSV：请在 Excel 中“另存为 → CSV UTF-8（逗号分隔）”后重新选择。")
        else:
            try:
                parsed = parse_registry(text, f.name)
            except RegistryError as e:
                show_error(e, f"单位名录有 {len(e.issues)} 处错误，未导入任何内容：", key="admin_registry_errors")
            else:
                new = [u for u in parsed if u.name not in units]
                st.success(f"文件校验通过：共 {len(parsed)} 个单位，其中新增 {len(new)} 个，更新 {len(parsed) - len(new)} 个。")
                if st.button("确认导入", type="primary", key="admin_registry_load"):
                    with db_lock():
                        added, updated = load_units(con, parsed, actor=user)
                    st.session_state["admin_registry_nonce"] = rnonce + 1
                    _done(f"单位名录已导入：新增 {added} 个，更新 {updated} 个")

# --------------------------------------------------------------------------- users
def _user_write(fn, ok: str) -> None:
    """Run one account change; refusals (UserError, PermissionDenied) are shown, success reruns."""
    try:
        with db_lock():
            fn()
    except (UserError, PermissionDenied) as e:
        show_error(e)
    else:
        _done(ok)


with tabs[1]:
    users = list_users(con)
    view = pd.DataFrame({"用户名": users["name"], "角色": users["role"].map(lambda r: ROLE_LABEL.get(r, r)),
                         "单位": users["unit"].fillna(""), "状态": users["active"].map(lambda a: "启用" if a else "已停用"),
                         "登录锁定": users["locked_until"].map(lambda t: f"锁定至 {dstr(t)}" if t is not None and t == t else ""),
                         "演示账号": users["demo"].map(lambda d: "是" if d else ""),
                         "创建时间": users["created_at"].map(dstr)})
    st.dataframe(view, hide_index=True, width="stretch", key="admin_users_table", height=fit_height(len(view), max_rows=12))
    st.caption(f"密码至少 {MIN_PASSWORD} 个字符，长度和字符不限（可用汉字）。同一用户名 15 分钟内连续输错密码 "
               f"{MAX_FAILURES} 次即锁定 15 分钟；可在下方“解锁”。重置密码、修改角色或单位、停用账号后，"
               "该账号已登录的页面会立即退出。")
    c1, c2 = st.columns(2)
    with c1.form("admin_add_user", clear_on_submit=True):
        st.markdown("**新增账号**")
        name = st.text_input("用户名", max_chars=32, help="汉字、字母、数字和 _ . - ，1 到 32 个字符")
        role = st.selectbox("角色", list(ROLE_LABEL), format_func=lambda r: ROLE_LABEL[r], index=3)
        unit_names = list(get_units(con))
        unit = st.selectbox("所属单位（仅“填报单位”账号需要）", [""] + unit_names,
                            format_func=lambda n: n or "（请选择；领导、考核组、管理员账号不选）")
        pw1 = st.text_input(f"密码（至少 {MIN_PASSWORD} 位）", type="password")
        pw2 = st.text_input("再次输入密码", type="password")
        if st.form_submit_button("新增账号", type="primary"):
            if pw1 != pw2:
                st.error("两次输入的密码不一致")
            else:
                _user_write(lambda: create_user(con, name, role, pw1, unit=unit or None, actor=user),
                            f"已新增账号 {(name or '').strip()}（{ROLE_LABEL[role]}）")
    with c1.form("admin_role_form"):
        st.markdown("**修改角色或单位**")
        names0 = list(users["name"])
        who_r = st.selectbox("账号", names0, key="admin_role_pick")
        new_role = st.selectbox("新角色", list(ROLE_LABEL), format_func=lambda r: ROLE_LABEL[r], key="admin_role_role")
        new_unit = st.selectbox("所属单位（仅“填报单位”账号需要）", [""] + list(get_units(con)), key="admin_role_unit",
                                format_func=lambda n: n or "（不选）")
        if st.form_submit_button("保存角色"):
            _user_write(lambda: set_role(con, who_r, new_role, new_unit or None, actor=user),
                        f"已修改 {who_r} 的角色（该账号需要重新登录）")
    names = list(users["name"])
    with c2:
        st.markdown("**停用 / 启用账号**")
        who = st.selectbox("账号", names, key="admin_user_pick",
                           format_func=lambda n: f"{n}（{'启用' if bool(users[users['name'] == n]['active'].iloc[0]) else '已停用'}）")
        b1, b2 = st.columns(2)
        if b1.button("停用", key="admin_user_disable", disabled=not names):
            _user_write(lambda: set_active(con, who, False, actor=user), f"已停用账号 {who}")
        if b2.button("启用", key="admin_user_enable", disabled=not names):
            _user_write(lambda: set_active(con, who, True, actor=user), f"已启用账号 {who}")
        with st.form("admin_reset_pw", clear_on_submit=True):
            st.markdown("**重置密码**")
            who_pw = st.selectbox("账号", names, key="admin_reset_pick")
            n1 = st.text_input(f"新密码（至少 {MIN_PASSWORD} 位）", type="password")
            n2 = st.text_input("再次输入新密码", type="password")
            if st.form_submit_button("重置密码"):
                if n1 != n2:
                    st.error("两次输入的密码不一致")
                else:
                    _user_write(lambda: reset_password(con, who_pw, n1, actor=user), f"已重置 {who_pw} 的密码")
        locked = locked_names(con)
        st.markdown(f"**登录锁定**（{len(locked)} 个）")
        if locked:
            lk = st.selectbox("被锁定的用户名", [n for n, _ in locked], key="admin_unlock_pick",
                              format_func=lambda n: f"{n}（锁定至 {dstr(dict(locked)[n])}）")
            if st.button("解锁", key="admin_unlock"):
                _user_write(lambda: unlock_user(con, lk, actor=user), f"已解锁 {lk}")
        else:
            st.caption("当前没有被锁定的用户名。")

# --------------------------------------------------------------------------- schemes
with tabs[2]:
    st.caption(f"每个考核年度一份指标体系文件（{scheme_dir().name}/<年度>.toml），由县政务公开办确定后交信息化人员放入系统。"
               "这里逐一校验并查看各年度的指标和分值。")
    files = sorted(scheme_dir().glob("*.toml"))
    loaded, rows = {}, []
    for p in files:
        try:
            s = load_scheme_file(p)
        except SchemeError as e:
            rows.append({"文件": p.name, "年度": p.stem, "校验结果": "有错误", "说明": str(e)})
        else:
            loaded[s.year] = s
            rows.append({"文件": p.name, "年度": str(s.year), "校验结果": "通过",
                         "说明": f"{s.name}；{len(s.indicators)} 项指标，基础分 {fmt2(s.base_max)}；截止日 {s.cutoff}"})
    st.dataframe(pd.DataFrame(rows, columns=["文件", "年度", "校验结果", "说明"]).style.apply(
        lambda r: [BAD if r["校验结果"] != "通过" else ""] * len(r), axis=1), hide_index=True, width="stretch",
        key="admin_schemes")
    if loaded:
        ys = sorted(loaded)
        y = st.selectbox("查看年度", ys, index=len(ys) - 1, key="admin_scheme_year", format_func=lambda v: f"{v}年度")
        s = loaded[y]
        c = st.columns(4)
        c[0].metric("考核期", f"{s.year_start:%m-%d} 至 {s.year_end:%m-%d}")
        c[1].metric("报送截止日", s.cutoff.isoformat())
        c[2].metric("主动公开时限", f"{s.proactive_days} 个工作日")
        c[3].metric("K1 每次扣分", fmt2(s.k1_points))
        st.caption("等次：" + "，".join(f"{n} ≥ {num(v):g}" for n, v in s.grades) + f"，否则 {s.fail_grade}；"
                   + "依申请答复时限：" + request_rules_text(s.request_rules))
        st.dataframe(pd.DataFrame([{"编号": i.code, "一级指标": i.group, "二级指标": i.text, "分值": num(i.max),
                                    "类型": {"self": "自评", "auto": "自动计算", "bonus": "加分项"}[i.type],
                                    "依据": i.plan} for i in s.indicators]),
                     hide_index=True, width="stretch", key="admin_scheme_ind",
                     column_config={"分值": st.column_config.NumberColumn(format="%.2f")})
        for t, codes in s.required.items():
            st.markdown(f"**{t}必公开类别**（{len(codes)} 类）：" + "、".join(cat_name.get(c, c) for c in codes))
        prev = [v for v in ys if v < y]
        if prev:
            ch = scheme_changes(loaded[prev[-1]], s)
            st.markdown(f"**与 {prev[-1]} 年度相比**：" + ("；".join(ch) if ch else "指标和分值没有变化"))
    st.markdown("**校验一份新的指标体系文件**（只校验，不会放入系统）")
    tf = st.file_uploader("选择 .toml 文件", type=["toml"], key="admin_scheme_file")
    if tf is not None:
        try:
            s = parse_scheme(tomllib.loads(tf.getvalue().decode("utf-8")), tf.name)
        except (SchemeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            st.error(f"校验未通过：{md(e)}")
        else:
            st.success(f"校验通过：{s.name}，{len(s.indicators)} 项指标，基础分 {fmt2(s.base_max)}。"
                       f"放入 {scheme_dir().name}/{s.year}.toml 并重启服务后生效。")

# --------------------------------------------------------------------------- calendar
with tabs[3]:
    st.caption("计算工作日需要国务院每年公布的节假日和调休上班安排。系统内置了已公布年份的安排；"
               "缺少官方安排的年份只能按周一至周五计算，相关得分标为“暂定”，可在这里导入该年的节假日安排。")
    schemes = {}
    for p in files:
        try:
            sc = load_scheme_file(p)
            schemes[sc.year] = sc
        except SchemeError:
            pass
    prov_rows = []
    need = set()
    for y, sc in sorted(schemes.items()):
        miss = cal.missing_calendar_years(con, sc)  # reads only: the calendar is built when the file is opened
        need.update(cal.needed_years(sc))
        prov_rows.append({"考核年度": f"{y}年度", "计分状态": "暂定" if miss else "正式",
                          "缺少官方日历的年份": "、".join(str(m) for m in miss)})
    st.markdown("**各考核年度的计分状态**")
    if prov_rows:
        st.dataframe(pd.DataFrame(prov_rows).style.apply(
            lambda r: [WARN if r["计分状态"] == "暂定" else ""] * len(r), axis=1),
            hide_index=True, width="stretch", key="admin_cal_prov")
    st.markdown("**各年份的工作日历来源**")
    status = cal.calendar_status(con, sorted(need) if need else None)
    st.dataframe(pd.DataFrame([{"年份": r["year"], "来源": r["label"], "全年工作日": r["workdays"],
                                "导入时间": dstr(r["loaded_at"])} for r in status]),
                 hide_index=True, width="stretch", key="admin_cal_status")
    st.markdown("**导入某年的节假日和调休上班日**")
    this = dt.date.today().year
    cy = st.number_input("年份", min_value=2000, max_value=2100, value=max(need) if need else this, step=1,
                         key="admin_cal_year")
    st.download_button(f"下载 {int(cy)} 年日历 CSV 模板", cal.calendar_csv_template(int(cy)).encode("utf-8"),
                       file_name=f"{int(cy)}年节假日.csv", mime="text/csv", icon=":material/download:",
                       key="admin_cal_template")
    st.caption("CSV 表头为“日期,类型”；类型为“节假日”或“调休上班”（调休上班日应为周六或周日）。"
               "导入后该年按“周一至周五 + 调休上班 − 节假日”计算工作日。")
    cnonce = st.session_state.setdefault("admin_cal_nonce", 0)
    cf = st.file_uploader("选择节假日 CSV", type=["csv"], key=f"admin_cal_file_{cnonce}")
    if cf is not None and st.button(f"导入 {int(cy)} 年日历", type="primary", key="admin_cal_load"):
        try:
            with db_lock():
                info = cal.load_calendar_csv(con, int(cy), cf.getvalue(), actor=user)
        except cal.CalendarError as e:
            show_error(e, f"日历未导入（未作任何更改），共 {len(e.issues)} 处问题：", key="admin_cal_errors")
        else:
            st.session_state["admin_cal_nonce"] = cnonce + 1
            _done(f"已导入 {info['year']} 年日历：节假日 {info['holidays']} 天，调休上班 {info['makeup_days']} 天，"
                  f"全年工作日 {info['workdays']} 天")
    ov = con.execute("""SELECT day, is_workday, note, loaded_by, loaded_at FROM calendar_overrides
                        ORDER BY day""").fetchall()
    st.markdown(f"**管理员导入的日期**（{len(ov)} 天）")
    if ov:
        st.dataframe(pd.DataFrame([{"日期": d.isoformat(), "星期": "一二三四五六日"[d.weekday()],
                                    "类型": "调休上班" if w else "节假日", "说明": n or "", "导入人": b or "",
                                    "导入时间": dstr(t)} for d, w, n, b, t in ov]),
                     hide_index=True, width="stretch", key="admin_cal_overrides")
        admin_years = sorted({r["year"] for r in cal.calendar_status(con) if r["source"] == cal.ADMIN})
        if admin_years:
            c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
            ry = c1.selectbox("撤销导入的年份", admin_years, key="admin_cal_reset_year")
            if c2.button("撤销导入", key="admin_cal_reset"):
                with db_lock():
                    src = cal.reset_calendar_year(con, int(ry), actor=user)
                _done(f"已撤销 {ry} 年的导入，改用：{cal.SOURCE_LABEL.get(src, src)}")
    else:
        st.caption("尚未导入。")

# --------------------------------------------------------------------------- audit
with tabs[4]:
    audit_viewer(con, key="admin_audit")
