"""Tests for selfeval_xl.values: the table of real strings, seed checks and properties."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfeval_xl import values
from selfeval_xl.values import KINDS, Measure, convert, parse, same_unit, with_unit_of

DATA = Path(__file__).parent / "data"
SPLIT_OPERATORS = {"=", "≥", "≤", ">", "<", "≧", "≦", "═", "＝", ">=", "<="}


def _table(name: str) -> list[dict[str, str]]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        if line and not line.startswith("#"):
            cells = line.split("\t")
            rows.append(dict(zip(header, cells + [""] * (len(header) - len(cells)))))
    return rows


def _value_strings() -> list[str]:
    """Every string of value_strings.tsv; operator | number | unit split over cells is joined."""
    found = []
    for row in _table("value_strings.tsv"):
        parts = row["strings"].split(" | ")
        if parts[0].strip() in SPLIT_OPERATORS and len(parts) >= 3:
            parts = ["".join(parts[:3])] + parts[3:]
        found.extend(p for p in parts if p not in found)
    return found


KIND_ROWS = _table("value_kinds.tsv")


def test_kinds_table_covers_every_published_string():
    listed = {row["text"] for row in KIND_ROWS}
    missing = [s for s in _value_strings() if s not in listed]
    assert not missing
    assert len(listed) == len(KIND_ROWS), "duplicate rows in value_kinds.tsv"


def _check_detail(m: Measure, detail: str) -> None:
    for pair in filter(None, detail.split(";")):
        key, expected = pair.split("=", 1)
        got = getattr(m, key)
        if isinstance(got, bool) or got is None:
            assert str(got) == expected or (got is None and expected == ""), (key, got)
        elif isinstance(got, Decimal):
            assert got == Decimal(expected), (key, got)
        else:
            assert str(got) == expected, (key, got)


@pytest.mark.parametrize("row", KIND_ROWS, ids=[r["text"] for r in KIND_ROWS])
def test_kinds_table(row):
    m = parse(row["text"])
    assert m.text == row["text"]
    assert m.kind == row["kind"]
    if row["kind"] == "quantity":
        assert (m.op, m.value, m.unit) == (row["op"], Decimal(row["value"]), row["unit"])
    else:
        assert m.op is None and m.value is None
    _check_detail(m, row["detail"])


@pytest.mark.parametrize("row", KIND_ROWS, ids=[r["text"] for r in KIND_ROWS])
def test_display_parses_back_to_the_same_reading(row):
    m = parse(row["text"])
    again = parse(m.display)
    keys = ("kind", "op", "value", "unit", "approx", "grade", "fraction", "scope", "position", "top",
            "verdict", "date", "deadline", "start")
    if m.kind != "text":
        assert {k: getattr(again, k) for k in keys} == {k: getattr(m, k) for k in keys}
    assert again.display == m.display


# --- exact seed checks -------------------------------------------------------------------------


def q(text):
    m = parse(text)
    return m.op, m.value, m.unit


def test_seed_quantities():
    assert q("=99.9%") == ("=", Decimal("99.9"), "%")
    assert q("≥9000亿元") == ("≥", Decimal(900000000000), "元")
    assert q("15%及其以下") == ("≤", Decimal(15), "%")
    assert q("=0") == ("=", Decimal(0), "")
    assert q("0.5个百分点") == ("=", Decimal("0.5"), "个百分点")
    assert parse("≥30个").repeats_bound is True
    assert parse("=30个").repeats_bound is False
    assert parse("600余人").approx is True
    assert parse("≥9000亿元").display == "≥9000亿元"
    assert parse("15%及其以下").display == "≤15%"


def test_seed_qualitative():
    rank = parse("全省第二")
    assert (rank.kind, rank.scope, rank.position) == ("rank", "全省", 2)
    assert (parse("好").kind, parse("好").fraction) == ("grade", Decimal(1))
    assert parse("较好").fraction == Decimal("0.8")
    assert parse("高于上年").kind == "text"


# --- inputs that are not text --------------------------------------------------------------------


@pytest.mark.parametrize(
    "x, value, display",
    [(0, 0, "=0"), (42, 42, "=42"), (99.9, Decimal("99.9"), "=99.9"), (1e-07, Decimal("1E-7"), "=0.0000001"),
     (Decimal("12.50"), Decimal("12.5"), "=12.50"), (Decimal("1E+3"), 1000, "=1000")],
)
def test_numbers_are_quantities(x, value, display):
    m = parse(x)
    assert (m.text, m.kind, m.op, m.value, m.unit, m.display) == (str(x), "quantity", "=", value, "", display)


@pytest.mark.parametrize("x", [None, "", "   ", "\u3000\t\n", "/", "-", "—", float("nan"), Decimal("NaN")])
def test_empty(x):
    m = parse(x)
    assert m.kind == "empty" and m.display == ""
    assert m.text == ("" if x is None else str(x))


@pytest.mark.parametrize("x", [float("inf"), Decimal("-Infinity"), Decimal("1E+999999"), True, object(), b"5"])
def test_odd_inputs_do_not_raise(x):
    assert parse(x).kind in KINDS


def test_dates_from_cells():
    m = parse(datetime.datetime(2022, 12, 30, 8, 15))
    assert (m.kind, m.date, m.display) == ("date", "2022-12-30", "2022年12月30日")
    assert parse(datetime.date(2021, 1, 5)).date == "2021-01-05"


def test_long_and_strange_strings():
    for s in ["好" * 10_000, "9" * 10_000, "≥" + "9" * 10_000 + "%", "😀≥95%😀", "\x00≥95%\x07", "=\u200b5家"]:
        assert parse(s).kind in KINDS
    assert q("\x00≥95%\x07") == ("≥", Decimal(95), "%")
    assert q("=\u200b5家") == ("=", Decimal(5), "家")


def test_to_dict_is_json_safe():
    d = parse("≥9000亿元").to_dict()
    assert d["value"] == 900000000000 and isinstance(d["value"], int)
    assert {"text", "kind", "op", "value", "unit", "approx", "display"} <= d.keys()
    assert parse("=99.9%").to_dict()["value"] == 99.9
    assert parse("较好").to_dict()["fraction"] == 0.8
    assert parse("全国前三").to_dict()["top"] is True
    for text in [None, "", "11月底前", "达成", "全省第二", "≥30个", "健全"]:
        json.dumps(parse(text).to_dict(), ensure_ascii=False)


# --- unit helpers --------------------------------------------------------------------------------


def test_same_unit():
    assert same_unit(parse("≥9000亿元"), parse("=9387万元"))
    assert same_unit(parse("100km"), parse("98公里"))
    assert not same_unit(parse("≥95%"), parse("96"))
    assert not same_unit(parse("5次"), parse("5人次"))
    assert not same_unit(parse("5个"), parse("5家"))
    assert not same_unit(parse("好"), parse("好"))


def test_convert():
    assert convert(Decimal("1.5"), "公里", "米") == Decimal(1500)
    assert convert(2000, "公斤", "吨") == Decimal(2)
    assert convert(Decimal("0.9"), "‰", "%") == Decimal("0.09")
    assert convert(5, "元", "元") == Decimal(5)
    assert convert(5, "%", "") is None
    assert convert(5, "次", "人次") is None
    assert convert("x", "米", "公里") is None


def test_with_unit_of():
    target = parse("≤90万元")
    m = with_unit_of(parse("90"), target)
    assert (m.op, m.value, m.unit, m.display) == ("=", Decimal(900000), "元", "=90万元")
    assert with_unit_of(parse("96"), parse("≥ 95 %")).unit == "%"
    assert with_unit_of(parse("=0"), parse("=660万重量箱/年")).value == 0
    already = parse("50个")
    assert with_unit_of(already, parse("≥50个")) is already
    assert with_unit_of(parse("好"), target).kind == "grade"


# --- properties ----------------------------------------------------------------------------------

PREFIX_OPS = [("", "="), ("=", "="), ("＝", "="), ("═", "="), ("==", "="), ("≥", "≥"), (">=", "≥"),
              ("≧", "≥"), ("＞＝", "≥"), ("≤", "≤"), ("<=", "≤"), ("≦", "≤"), (">", ">"), ("＞", ">"),
              ("<", "<"), ("＜", "<"), ("不低于", "≥"), ("不少于", "≥"), ("至少", "≥"), ("大于等于", "≥"),
              ("不小于", "≥"), ("不高于", "≤"), ("不超过", "≤"), ("不多于", "≤"), ("至多", "≤"),
              ("小于等于", "≤"), ("小于", "<"), ("低于", "<"), ("大于", ">"), ("高于", ">"), ("超过", ">")]
SUFFIX_OPS = [("及其以下", "≤"), ("及以下", "≤"), ("以下", "≤"), ("以内", "≤"), ("之内", "≤"),
              ("及以上", "≥"), ("以上", "≥"), ("及其以上", "≥")]
UNITS = ["", "元", "个", "家", "家次", "人次", "次", "吨", "亩", "米", "公里", "km", "TB", "%", "‰",
         "个百分点", "重量箱/年", "元/亩", "批次/千人", "次/月", "工作日", "平方米", "件", "座"]
MULTIPLIERS = ["", "千", "万", "亿"]


def _with_thousands(digits: str) -> str:
    groups = []
    while len(digits) > 3:
        digits, groups = digits[:-3], [digits[-3:]] + groups
    return ",".join([digits] + groups)


@st.composite
def quantity_strings(draw):
    """(text, op, value, unit) for a written quantity."""
    whole = draw(st.integers(min_value=0, max_value=10**12))
    decimals = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=4)))
    digits = str(whole)
    if draw(st.booleans()):
        digits = _with_thousands(digits)
    number = digits + ("." + decimals if decimals else "")
    unit = draw(st.sampled_from(UNITS))
    mult = "" if unit in ("%", "‰", "个百分点") else draw(st.sampled_from(MULTIPLIERS))
    if mult == "千" and unit in ("米",):
        mult = ""
    if draw(st.booleans()):
        written, op = draw(st.sampled_from(SUFFIX_OPS))
        text = f"{number}{mult}{unit}{written}"
    else:
        written, op = draw(st.sampled_from(PREFIX_OPS))
        text = f"{written}{number}{mult}{unit}"
    value = Decimal(number.replace(",", "")) * 10 ** values.MULTIPLIERS.get(mult, 0)
    return text, op, value, unit


@settings(max_examples=400)
@given(quantity_strings())
def test_quantity_strings_parse_back(case):
    text, op, value, unit = case
    m = values.parse_unguarded(text)
    assert (m.kind, m.op, m.value, m.unit) == ("quantity", op, value, unit)
    assert m.repeats_bound == (op != "=")


def _full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


PADDING = st.sampled_from(["", " ", "  ", "\u3000", "\t", " \n"])


@settings(max_examples=300)
@given(st.one_of(quantity_strings().map(lambda c: c[0]), st.sampled_from([r["text"] for r in KIND_ROWS])),
       PADDING, PADDING, st.booleans())
def test_width_and_spaces_do_not_matter(text, left, right, wide):
    variant = left + (_full_width(text) if wide else text) + right
    assert replace(values.parse_unguarded(variant), text="") == replace(values.parse_unguarded(text), text="")


@settings(max_examples=500)
@given(st.text())
def test_any_text_is_total(text):
    m = values.parse_unguarded(text)  # no safety net: a bug shows here
    assert m.kind in KINDS and m.text == text
    assert parse(text) == m


@settings(max_examples=200)
@given(st.text(alphabet="0123456789.,，=≥≤<>≧≦═％%万亿千元个人次/年月日底前以上下内约余多第全省好差一二十 -—。", max_size=16))
def test_value_like_text_is_total(text):
    m = values.parse_unguarded(text)
    assert m.kind in KINDS
    if m.kind == "quantity":
        again = values.parse_unguarded(m.display)
        assert (again.op, again.value, again.unit, again.approx) == (m.op, m.value, m.unit, m.approx)


@settings(max_examples=300)
@given(quantity_strings())
def test_display_round_trip(case):
    m = values.parse_unguarded(case[0])
    again = values.parse_unguarded(m.display)
    assert (again.kind, again.op, again.value, again.unit) == ("quantity", m.op, m.value, m.unit)
    assert again.display == m.display


# --- one number with words around it (issue 13) -------------------------------------------------

LEAD_WORDS = ["", "完成", "实际完成", "实际", "共", "共计", "全年", "全年完成", "达到", "已", "已完成", "累计完成", "实现"]
TRAIL_WORDS = [("", None), ("，全部完成", "met"), ("（已完成）", "met"), ("完成", "met"), ("，基本完成", "partial"),
               ("，未达标", "not_met"), ("(已达标)", "met"), ("；超额完成", "met")]


@st.composite
def worded_strings(draw):
    """(text, value, unit, lead, note, verdict) for one bare number with words around it."""
    whole = draw(st.integers(min_value=0, max_value=10**9))
    decimals = draw(st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=3)))
    number = str(whole) + ("." + decimals if decimals else "")
    unit = draw(st.sampled_from(UNITS))
    mult = "" if unit in ("%", "‰", "个百分点") else draw(st.sampled_from(MULTIPLIERS))
    if mult == "千" and unit in ("米",):
        mult = ""
    lead = draw(st.sampled_from(LEAD_WORDS))
    trail, verdict = draw(st.sampled_from(TRAIL_WORDS))
    if not lead and not trail:
        trail, verdict = "，全部完成", "met"
    value = Decimal(number) * 10 ** values.MULTIPLIERS.get(mult, 0)
    note = trail.strip("，；()（）") if trail else ""
    return f"{lead}{number}{mult}{unit}{trail}", value, unit, lead, note, verdict


@settings(max_examples=400)
@given(worded_strings())
def test_one_number_with_words_is_that_number(case):
    text, value, unit, lead, note, verdict = case
    m = values.parse_unguarded(text)
    assert (m.kind, m.op, m.value, m.unit) == ("quantity", "=", value, unit), m
    assert (m.label, m.note, m.verdict) == (lead, note, verdict)
    # the display is the number alone: it reads back as the same quantity without the words
    again = values.parse_unguarded(m.display)
    assert (again.value, again.unit, again.label, again.note) == (value, unit, "", "")


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6),
       st.sampled_from(["个", "%", "人次", "家"]), st.sampled_from(["完成{a}{u}，完成{b}{u}", "{a}{u}（{b}{u}）", "实际{a}{u}，目标{b}{u}"]))
def test_two_numbers_are_never_one_quantity(a, b, unit, pattern):
    m = values.parse_unguarded(pattern.format(a=a, b=b, u=unit))
    assert m.kind != "quantity" or (a == b and m.value == a)


@pytest.mark.parametrize("text", ["提高0.5个百分点", "5家企业满意度显著提升", "完成93%，完成12个", "比上年增长5%"])
def test_words_that_are_not_a_reading_stay_text(text):
    assert values.parse_unguarded(text).kind == "text"
