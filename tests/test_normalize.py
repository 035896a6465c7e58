"""core.normalize: keys of sheet names, headers, labels and enumerated values;
tolerant dates and numbers (workbook.md, "Normalisation", "Must be tolerated")."""
import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.normalize import (EXCEL_EPOCH, ParseError, ScoreError, addr, cell_text, clean_text, col_letter, is_blank,
                            norm_key, parse_date, parse_number, parse_score, score_text, to_halfwidth)

FAST = settings(max_examples=150, deadline=None)


def fullwidth(s: str) -> str:
    """ASCII digits and punctuation -> full-width forms (what a Chinese IME types)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


# ---------------------------------------------------------------- norm_key

@pytest.mark.parametrize("raw, key", [
    ("自评得分", "自评得分"),
    (" 自评得分 ", "自评得分"),
    ("自评\n得分", "自评得分"),
    ("自评\r\n得分", "自评得分"),
    ("自\t评 得\u3000分", "自评得分"),
    ("\u3000单位名称\u3000", "单位名称"),
    ("（分）分值", "(分)分值"),          # only a *trailing* parenthesised part goes
    ("Ａ１", "A1"),
    ("２０１９", "2019"),
])
def test_norm_key_white_space_and_full_width(raw, key):
    assert norm_key(raw, label=False) == key


@pytest.mark.parametrize("raw, key", [
    ("自评得分(分)", "自评得分"),
    ("自评得分（分）", "自评得分"),
    ("形成日期（格式：2019-01-01）", "形成日期"),
    ("分值（分）", "分值"),
    ("单位名称：", "单位名称"),
    ("单位名称:", "单位名称"),
    ("单位名称 ：", "单位名称"),
    ("填报日期（如2020-01-05）：", "填报日期"),
    ("自评\n得分\n（分）", "自评得分"),
])
def test_norm_key_labels_drop_trailing_parenthesis_and_colon(raw, key):
    assert norm_key(raw) == key
    assert norm_key(raw, label=True) == key


@pytest.mark.parametrize("raw, key", [
    ("自评得分(分)", "自评得分(分)"),
    ("形成日期（格式：2019-01-01）", "形成日期(格式:2019-01-01)"),
    ("单位名称：", "单位名称:"),
    ("方正县某中心（挂牌）", "方正县某中心(挂牌)"),
])
def test_norm_key_values_keep_parenthesis_and_colon(raw, key):
    assert norm_key(raw, label=False) == key


def test_norm_key_of_non_text_cells():
    assert norm_key(2019.0, label=False) == "2019"
    assert norm_key(8.5, label=False) == "8.5"
    assert norm_key(None) == ""
    assert norm_key(dt.date(2019, 6, 3), label=False) == "2019-06-03"
    # the key cache must not confuse equal-comparing values of different types
    assert norm_key(True, label=False) == "True"
    assert norm_key(1, label=False) == "1"


@FAST
@given(st.text(alphabet=st.sampled_from("单位名称自评得分AＡ1１ \u3000\t\n（）():："), max_size=20))
def test_norm_key_property(s):
    k = norm_key(s, label=False)
    assert not any(c.isspace() for c in k)
    assert not any(0xFF01 <= ord(c) <= 0xFF5E for c in k)
    assert norm_key(k, label=False) == k  # idempotent
    lk = norm_key(s)
    assert not lk.endswith(":")
    assert not re.search(r"\([^()]*\)$", lk)  # no trailing parenthesised part left


def test_small_helpers():
    assert to_halfwidth("（Ａ１，２）\u3000") == "(A1,2) "
    assert cell_text(8.0) == "8" and cell_text(8.5) == "8.5" and cell_text(None) == ""
    assert cell_text(dt.datetime(2019, 6, 3, 14, 20)) == "2019-06-03 14:20"
    assert clean_text("  方正县 审计局\n") == "方正县 审计局"  # inner white space of free text is kept
    assert is_blank(None) and is_blank("") and is_blank(" \u3000\t") and not is_blank(0) and not is_blank("x")
    assert [col_letter(i) for i in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]
    assert addr(14, 3) == "D15"


# ---------------------------------------------------------------- dates

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))


def text_forms(d: dt.date) -> list[str]:
    return [
        d.isoformat(),                                   # 2019-06-03
        f"{d.year}/{d.month}/{d.day}",                   # 2019/6/3
        f"{d.year}.{d.month}.{d.day}",                   # 2019.6.3
        f"{d.year}年{d.month}月{d.day}日",                # 2019年6月3日
        d.strftime("%Y%m%d"),                            # 20190603
        d.isoformat() + " 14:20",                        # 2019-06-03 14:20
        f"{d.year}/{d.month:02d}/{d.day:02d}",
        f"{d.year}年{d.month:02d}月{d.day:02d}日",
    ]


@FAST
@given(dates, st.sampled_from(["", " ", "  ", "\u3000", "\t", "\n"]), st.booleans())
def test_every_text_form_of_a_date_parses(d, pad, wide):
    for form in text_forms(d):
        s = fullwidth(form) if wide else form
        assert parse_date(pad + s + pad) == d, (pad + s + pad)


@FAST
@given(dates, st.integers(0, 23), st.integers(0, 59))
def test_date_and_datetime_cells_and_excel_serials_parse(d, h, m):
    assert parse_date(d) == d
    assert parse_date(dt.datetime(d.year, d.month, d.day, h, m)) == d
    serial = (d - EXCEL_EPOCH).days
    assert parse_date(serial) == d                        # integer (xls General cell)
    assert parse_date(float(serial)) == d                 # float (xlsx General cell)
    assert parse_date(serial + (h * 60 + m) / 1440) == d  # serial with a time part
    assert parse_date(float(d.strftime("%Y%m%d"))) == d   # 20190603 typed as a number


def test_known_serial():
    assert parse_date(43619) == dt.date(2019, 6, 3)
    assert parse_date(43619.59722) == dt.date(2019, 6, 3)


@pytest.mark.parametrize("bad", [
    "", " ", "abc", "2019", "2019-06", "6/3", "2019-13-01", "2019-02-30", "2019/6-3", "2019年13月1日",
    "20191301", "2019-06-03 25:99x", "43619", "二〇一九年六月三日", "2019-06-0314:20",
    None, True, False, 8, 2019, 8.5, -1, float("nan"), float("inf"), 10 ** 9, dt.time(14, 20),
])
def test_non_dates_raise(bad):
    with pytest.raises(ParseError):
        parse_date(bad)


@FAST
@given(st.text(alphabet="abcxyz年月日-/. ：:", max_size=12))
def test_text_without_digits_is_never_a_date(s):
    with pytest.raises(ParseError):
        parse_date(s)


# ---------------------------------------------------------------- numbers

decimals = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("1000"), places=2, allow_nan=False,
                       allow_infinity=False)


@FAST
@given(decimals, st.sampled_from(["", " ", "  ", "\u3000", "\t"]))
def test_text_forms_of_a_number_parse_exactly(x, pad):
    plain = format(x.normalize(), "f")  # 8.5, 8, -0.25 (no exponent)
    for form in (plain, fullwidth(plain), plain + "分", fullwidth(plain) + "分", plain + " 分"):
        got = parse_number(pad + form + pad)
        assert got == x and isinstance(got, Decimal), form


@FAST
@given(decimals)
def test_float_and_int_cells_parse_exactly(x):
    assert parse_number(float(x)) == x  # the float the spreadsheet stores for what was typed
    if x == x.to_integral_value():
        assert parse_number(int(x)) == x


@pytest.mark.parametrize("raw, value", [
    ("8", "8"), ("8.5", "8.5"), ("８", "8"), (" 8 ", "8"), ("8分", "8"), ("８．５", "8.5"), (".5", "0.5"),
    ("+3", "3"), ("-1", "-1"), (8, "8"), (8.5, "8.5"), (0.1, "0.1"), (2.675, "2.675"),
])
def test_numbers(raw, value):
    assert parse_number(raw) == Decimal(value)


def test_whole_float_cells_read_as_typed():
    assert str(parse_number(5.0)) == "5" and str(parse_number(8.5)) == "8.5" and str(parse_number("8.50")) == "8.50"


@pytest.mark.parametrize("bad", [
    "", " ", "abc", "8 5", "8..5", "8分分", "分", "1,000", "8%", "NaN", "inf", "1e3", "８-", "满分",
    None, True, False, float("nan"), float("inf"), dt.date(2019, 6, 3),
])
def test_garbage_is_not_a_number(bad):
    with pytest.raises(ParseError):
        parse_number(bad)


@FAST
@given(st.text(alphabet="abc分-+. ，,%元", max_size=8))
def test_text_without_digits_is_never_a_number(s):
    with pytest.raises(ParseError):
        parse_number(s)


# --------------------------------------------------------------------------- reviewer scores

@pytest.mark.parametrize("raw, value", [
    (3, "3.00"), (2.5, "2.50"), ("2.5", "2.50"), (" 2.50 ", "2.50"), ("2.500", "2.50"), ("２．５", "2.50"),
    ("３分", "3.00"), ("3 分", "3.00"), (Decimal("1.2"), "1.20"), (0, "0.00"), ("4", "4.00"),
])
def test_scores_read_as_typed(raw, value):
    assert parse_score(raw, "A1：审核分", high=Decimal(4)) == Decimal(value)


@pytest.mark.parametrize("raw, message", [
    (None, "A1：审核分未填写"), ("", "A1：审核分未填写"), ("　 ", "A1：审核分未填写"),
    ("abc", "A1：审核分“abc”不是数字"), ("三", "A1：审核分“三”不是数字"), (True, "A1：审核分“True”不是数字"),
    (float("nan"), "A1：审核分“nan”不是数字"), (Decimal("Infinity"), "A1：审核分“Infinity”不是数字"),
    ("8 5", "A1：审核分“8 5”不是数字"),
    # more than two places are refused, never rounded (2.125 would be 2.13 half up, 2.12 half even)
    ("2.125", "A1：审核分 2.125 最多保留两位小数"), (1.234, "A1：审核分 1.234 最多保留两位小数"),
    (-1, "A1：审核分 -1 超出范围，应在 0 到 4 分之间"), ("4.01", "A1：审核分 4.01 超出范围，应在 0 到 4 分之间"),
])
def test_bad_scores_are_named(raw, message):
    with pytest.raises(ScoreError) as e:
        parse_score(raw, "A1：审核分", high=Decimal(4))
    assert str(e.value) == message


def test_score_without_upper_bound_and_score_text():
    assert parse_score("120", "调整后的分值") == Decimal("120.00")
    with pytest.raises(ScoreError, match="调整后的分值 -0.5 超出范围，不能为负数"):
        parse_score("-0.5", "调整后的分值")
    assert [score_text(v) for v in (4, 2.5, Decimal("2.25"), Decimal("0.00"), None)] == ["4", "2.5", "2.25", "0", "—"]
