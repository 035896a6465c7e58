"""The 考核结果通报 (.docx): opened with python-docx, lists and counts checked
against a small hand-made county; fonts and marking as an official document."""
from __future__ import annotations

import datetime as dt
import tomllib
from io import BytesIO

import pytest
from docx import Document
from docx.oxml.ns import qn

from metrics import closing as mc
from metrics.__main__ import main as metrics_main
from metrics.notice import build_notice, load_texts, notice_facts
from core.scheme import SchemeError, parse_scheme
from metrics_fixtures import D, DEPT_REQUIRED, TOWN_REQUIRED, add_account, add_unit, cover, item, max_scores, new_db, submit

REVIEWER = {"name": "考核组乙", "role": "reviewer", "unit": None}


def county(path=":memory:"):
    """2023: 甲镇 100-ish 优秀 (all categories, on time), 乙镇 late submission and
    H1 below 80 %, 丙局 部门 优秀, 丁局 未报送."""
    con = new_db(path)
    for n, t in (("甲镇", "乡镇"), ("乙镇", "乡镇"), ("丙局", "部门"), ("丁局", "部门")):
        add_unit(con, n, t)
    a = submit(con, "甲镇", 2023, "2024-01-05", status="已审核")
    cover(con, a, TOWN_REQUIRED, formed="2023-03-01", published="2023-03-02")
    b = submit(con, "乙镇", 2023, "2024-01-12", scores=max_scores(2023, A1=0, A2=0, A3=0, B1=0), status="已审核")
    cover(con, b, TOWN_REQUIRED[:-2], formed="2023-03-01", published="2023-03-02")  # misses two categories
    for _ in range(3):
        item(con, b, "2023-03-01", "2023-06-01")  # late
    c = submit(con, "丙局", 2023, "2024-01-05", status="已审核")
    add_account(con, REVIEWER["name"], "reviewer")
    cover(con, c, DEPT_REQUIRED, formed="2023-03-01", published="2023-03-02")
    return con


def texts_of(doc):
    return [p.text for p in doc.paragraphs]


def east_asia(run):
    return run._element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))


def test_notice_lists_counts_and_layout():
    con = county()
    f = notice_facts(con, 2023)
    assert (f["assessed"], f["submitted"], f["on_time"]) == (4, 3, 2)
    assert f["late"] == ["乙镇"] and f["missing"] == ["丁局"]
    doc = Document(BytesIO(build_notice(con, 2023, today=dt.date(2024, 3, 1))))
    paras = texts_of(doc)
    assert "关于2023年度政务公开工作考核结果的通报" in paras
    assert paras[0] == "【草稿（实时数据，尚未发布）】"
    assert any("参加考核单位4个，报送自检自评材料3个，其中按时报送2个、逾期报送1个，未报送1个" in p for p in paras)
    grade_of = {u: g for t in f["grades"].values() for g, us in t.items() for u in us}
    assert grade_of["甲镇"] == "优秀" and grade_of["丙局"] == "优秀"
    assert f"{grade_of['乙镇']}（1个）：乙镇。" in paras
    assert "优秀（1个）：甲镇。" in paras and "不合格（0个）：无。" in paras
    assert "（一）乡镇" in paras and "（二）部门" in paras
    # ranking tables per type
    assert len(doc.tables) == 2
    town = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert town[0] == ["排名", "单位名称", "得分", "等次"]
    assert [r[:2] for r in town[1:]] == [["1", "甲镇"], ["2", "乙镇"]]
    dept = [[c.text for c in r.cells] for r in doc.tables[1].rows]
    assert [r[1] for r in dept[1:]] == ["丙局"]  # 丁局 未报送: not ranked
    # problems: the two missed categories (1 unit each), 乙镇 below 80 %, late and missing submissions
    probs = "".join(p for p in paras if p.startswith("（"))
    assert "类信息有1个单位未公开" in probs
    assert "主动公开及时率低于80.0%的单位有1个：乙镇（" in probs
    assert "逾期报送的单位有1个：乙镇" in probs and "未报送的单位有1个：丁局" in probs
    # the closing paragraph comes from the data file
    closing = load_texts()["closing"]
    assert closing and closing[0] in paras
    assert load_texts()["issuer"] in paras and "2024年3月1日" in paras
    # fonts: body 仿宋 16 pt, headings 黑体
    body = next(p for p in doc.paragraphs if p.text.startswith("本年度参加考核单位"))
    assert east_asia(body.runs[0]) == "仿宋" and body.runs[0].font.size.pt == 16
    head = next(p for p in doc.paragraphs if p.text == "一、基本情况")
    assert east_asia(head.runs[0]) == "黑体"
    assert all(east_asia(next(p for p in doc.paragraphs if p.text == h).runs[0]) == "黑体"
               for h in ("二、考核等次", "三、考核排名", "四、存在的主要问题", "五、工作要求"))


def test_notice_marked_draft_then_final(tmp_path, capsys):
    db = tmp_path / "c.duckdb"
    con = county(db)
    mc.start_review(con, 2023, REVIEWER, today=D("2024-01-18"))
    mc.publish(con, 2023, REVIEWER, today=D("2024-02-08"))
    doc = Document(BytesIO(build_notice(con, 2023)))
    assert texts_of(doc)[0] == "【公示稿】"
    assert any("自2024年02月08日起公示至2024年02月20日" in p for p in texts_of(doc))
    mc.finalize(con, 2023, REVIEWER, today=D("2024-02-21"))
    con.close()
    out = tmp_path / "通报.docx"
    assert metrics_main(["notice", "--year", "2023", "-o", str(out), "--db", str(db)]) == 0
    doc = Document(str(out))
    assert texts_of(doc)[0] == "【定稿】"
    assert metrics_main(["notice", "--year", "2023", "-o", str(out), "--snapshot", "published", "--db", str(db)]) == 0
    assert texts_of(Document(str(out)))[0] == "【公示稿】"
    capsys.readouterr()


def test_scheme_publicity_days_key():
    from core.scheme import SCHEME_DIR

    d = tomllib.loads((SCHEME_DIR / "2023.toml").read_text(encoding="utf-8"))
    assert parse_scheme(d, "2023.toml").publicity_days == 5
    d["rules"]["publicity_days"] = 7
    assert parse_scheme(d, "x.toml").publicity_days == 7
    del d["rules"]["publicity_days"]
    assert parse_scheme(d, "x.toml").publicity_days == 5
    d["rules"]["publicity_days"] = 0
    with pytest.raises(SchemeError, match="publicity_days"):
        parse_scheme(d, "x.toml")


def test_notice_lists_the_grades_of_the_scheme(monkeypatch):
    """Grade names come from the year's scheme: a renamed grade is listed under its
    new name (a fixed list of names would drop its units from the notice)."""
    import dataclasses

    from core import scheme as scheme_mod

    real = scheme_mod.scheme_for
    s = real(2023)
    renamed = dataclasses.replace(s, grades=tuple(("一等" if n == "优秀" else n, low) for n, low in s.grades))

    def fake(y):
        return renamed if int(y) == 2023 else real(y)

    monkeypatch.setattr(scheme_mod, "scheme_for", fake)
    monkeypatch.setattr("metrics.notice.scheme_for", fake)
    f = notice_facts(county(), 2023)
    assert list(f["grades"]["乡镇"]) == ["一等", "良好", "合格", "不合格"]
    assert f["grades"]["乡镇"]["一等"] == ["甲镇"] and f["grades"]["部门"]["一等"] == ["丙局"]
