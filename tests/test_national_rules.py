"""National rules (财预〔2020〕10号, profile national-2020) clause by clause with worked numbers,
the regional profiles (hubei-2020, national-platform) and profile inheritance, plus hypothesis
properties of the ratio scores and the qualitative bands."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from national_factory import CLEAN, CLEAN_BUDGET, national, with_row
from selfeval_xl import national_rules as nr
from selfeval_xl.errors import ReadError
from selfeval_xl.model import Indicator, Value
from selfeval_xl.review import review
from selfeval_xl.rules import Profile, load_profile, merge, profile_names, score

D = Decimal
P = load_profile("national-2020")
HUBEI = load_profile("hubei-2020")
PLATFORM = load_profile("national-platform")


def ind(target, actual, weight=10, self_score=None, category="产出指标") -> Indicator:
    return Indicator(category, "测试指标", Value("自评表!D12", str(target)), Value("自评表!F12", str(weight), D(str(weight))),
                     Value("自评表!E12", str(actual)), Value("自评表!G12", "", None if self_score is None else D(str(self_score))),
                     "自评表!C12", reason=Value("自评表!H12"))


# --- profiles -------------------------------------------------------------------------------

def test_bundled_profiles_and_their_forms():
    assert {"national-2020", "hubei-2020", "national-platform", "suzhou-2020"} <= set(profile_names())
    assert P.scheme == "ratio" and P.layouts == ("national",)
    assert load_profile("suzhou-2020").scheme == "curves" and load_profile("suzhou-2020").layouts == ("suzhou",)
    assert "预算管理一体化" in PLATFORM.title and "湖北" in HUBEI.title


def test_hubei_overrides_only_what_differs():
    assert HUBEI.layouts == ("national",) and HUBEI.scheme == "ratio"  # inherited
    b = nr.bands(HUBEI)
    assert (b["met"].lo, b["met"].hi) == (D("0.8"), D("1.0"))
    assert (b["partial"].lo, b["partial"].hi) == (D("0.5"), D("0.8"))
    assert (b["not_met"].lo, b["not_met"].hi) == (D("0"), D("0.5"))
    assert b["partial"].phrases == nr.bands(P)["partial"].phrases  # merged key by key, phrases inherited
    assert [g["points"] for g in HUBEI.data["class_weights"]["split"]] == [20, 40, 40]
    assert HUBEI.data["total_grades"] == P.data["total_grades"]
    assert PLATFORM.data["qualitative"] == P.data["qualitative"]


def test_merge_tables_deep_arrays_whole():
    base = {"a": {"x": 1, "y": {"z": 2}}, "arr": [1, 2], "s": "base"}
    over = {"a": {"y": {"w": 3}}, "arr": [9], "n": 1}
    assert merge(base, over) == {"a": {"x": 1, "y": {"z": 2, "w": 3}}, "arr": [9], "s": "base", "n": 1}
    assert base == {"a": {"x": 1, "y": {"z": 2}}, "arr": [1, 2], "s": "base"}  # inputs untouched


def test_next_province_is_a_small_toml_by_path(tmp_path):
    (tmp_path / "anhui.toml").write_text(
        'extends = "national-2020"\nname = "anhui-test"\ntitle = "测试省"\n[qualitative.bands.met]\nfrom = 0.9\n'
        '[total_grades]\n"优" = 95\n', encoding="utf-8")
    p = load_profile(str(tmp_path / "anhui.toml"))
    assert p.name == "anhui-test" and p.scheme == "ratio"
    assert nr.bands(p)["met"].lo == D("0.9") and nr.bands(p)["partial"].lo == D("0.6")
    assert nr.grade_of(D("92"), p) == "良" and nr.grade_of(D("95"), p) == "优"
    # a child extending a local file by relative path
    (tmp_path / "child.toml").write_text('extends = "anhui.toml"\nname = "child"\n[total]\npoints = 110\n', encoding="utf-8")
    c = load_profile(str(tmp_path / "child.toml"))
    assert c.data["total"]["points"] == 110 and nr.bands(c)["met"].lo == D("0.9") and c.title == "测试省"


def test_extends_cycle_and_unknown_parent(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\nname = "a"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\nname = "b"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="循环"):
        load_profile(str(tmp_path / "a.toml"))
    (tmp_path / "c.toml").write_text('extends = "no-such-base"\nname = "c"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="未知的规则配置"):
        load_profile(str(tmp_path / "c.toml"))


def test_profile_for_another_form_is_refused():
    with pytest.raises(ReadError) as err:
        review(national(), "suzhou-2020")
    assert err.value.code == "PROFILE_NOT_FOR_FORM" and "suzhou-2020" in err.value.message


def test_auto_picks_national_2020_when_the_layout_exists():
    assert review(national()).profile == "national-2020"


# --- quantitative indicators --------------------------------------------------------------

def test_forward_met_full():
    s = score(ind("≥100人", "120人", 20), P)
    assert s.score == 20 and s.completion == 120 and s.flags == ()
    assert "得满分" in s.basis


def test_forward_short_is_actual_over_target():
    s = score(ind("≥200人", "150人", 20), P)  # 150 ÷ 200 × 20 = 15
    assert s.score == D("15.00") and s.completion == 75
    assert "实际150人÷指标值200人=75%" in s.basis and "得15分" in s.basis


def test_forward_short_rounds_half_up_to_2_decimals():
    assert score(ind("≥3个", "2个", 10), P).score == D("6.67")  # 2/3 × 10 = 6.666…
    assert score(ind("≥8个", "1个", 1), P).score == D("0.13")  # 0.125 → 0.13 (half up)


def test_equal_target_scored_like_forward():
    assert score(ind("=100%", "98%", 10), P).score == D("9.80")
    assert score(ind("100%", "100%", 10), P).score == 10
    assert score(ind("=12个", "15个", 6), P).score == 6  # above an "=" target: met, not deducted


def test_reverse_short_is_target_over_actual():
    s = score(ind("≤10天", "20天", 8), P)  # 10 ÷ 20 × 8 = 4
    assert s.score == D("4.00") and "指标值÷实际" in s.basis
    assert score(ind("不超过100万元", "125万元", 5), P).score == D("4.00")  # 100/125 × 5
    assert score(ind("≤5%", "3%", 5), P).score == 5


def test_operator_variants_of_the_forms():
    assert score(ind("≧735人次", "735", 10), P).score == 10  # bare actual takes the unit
    assert score(ind("≦5天", "10", 10), P).score == 5
    assert score(ind("═100%", "90%", 10), P).score == 9
    assert score(ind("≥ 95 %", "0.95", 10), P).score == D("0.10")  # 0.95 ≠ 95 %: the ratio as typed
    assert score(ind("10个及以上", "8个", 10), P).score == 8
    assert score(ind("5天及以下", "4天", 10), P).score == 10


def test_strict_bound_equal_is_met():
    assert score(ind(">95%", "95%", 10), P).score == 10
    assert score(ind("<5天", "5天", 10), P).score == 10


def test_never_above_weight_and_over_achievement_not_deducted():
    s = score(ind("≥100人", "300人", 10), P)
    assert s.score == 10 and s.completion == 300 and s.flags == ("OVER_ACHIEVED",)
    assert score(ind("≥100人", "130人", 10), P).flags == ()  # 130 % exactly is not above 130
    assert score(ind("≥100人", "131人", 10), P).flags == ("OVER_ACHIEVED",)


def test_reverse_within_bound_is_not_over_achievement():
    s = score(ind("≤100万元", "50万元", 10), P)
    assert s.score == 10 and s.flags == () and s.completion == 200


def test_actual_repeating_the_bound_is_met_and_flagged():
    s = score(ind("≥266米", "≥266米", 10), P)
    assert s.score == 10 and s.flags == ("ACTUAL_REPEATS_TARGET",) and s.completion == 100
    assert "重复" in s.basis
    assert score(ind("≤5天", "≤5天", 4), P).flags == ("ACTUAL_REPEATS_TARGET",)
    assert score(ind("≥266米", "≥300米", 10), P).flags == ()  # a different bound: read as 300米


def test_units_convert_or_mismatch():
    assert score(ind("≥2公里", "1500米", 10), P).score == D("7.50")
    s = score(ind("≥10个", "8人", 10), P)
    assert s.score == 0 and s.flags == ("UNIT_MISMATCH",)


def test_missing_and_non_numeric_actuals():
    s = score(ind("≥95%", "", 10), P)
    assert s.score == 0 and s.flags == ("MISSING_VALUE",)
    s = score(ind("≥95%", "高于上年", 10), P)
    assert s.score == 0 and s.flags == ("ACTUAL_NOT_NUMERIC",)
    s = score(ind("≥95%", "达成年度指标", 10, self_score=9), P)  # a verdict: its band, self-score 9 inside 8–10
    assert s.score == 9 and s.flags == ("ACTUAL_NOT_NUMERIC",)
    s = score(ind("", "100%", 10), P)
    assert s.score == 0 and s.flags == ("MISSING_VALUE",)


def test_dates_and_ranks():
    assert score(ind("2022年12月底前", "2022年11月", 5), P).score == 5
    late = score(ind("2022年6月底前", "2022年9月", 5, self_score=2), P)
    assert late.score == 2 and "未按时完成" in late.basis  # not met: band 0–60 % = 0–3, 2 accepted
    assert score(ind("2022年6月底前", "2022年9月", 5, self_score=4), P).score == 3
    assert score(ind("全省前三", "全省第二", 5), P).score == 5


# --- qualitative indicators ----------------------------------------------------------------

@pytest.mark.parametrize("actual,own,expected", [
    ("达成年度指标", 9, 9),  # inside 8–10: accepted
    ("达成年度指标", 8, 8),  # the edge belongs to the band
    ("达成年度指标", 7, 8),  # below: nearest edge
    ("部分达成年度指标并具有一定效果", 7, 7),  # 6–8
    ("部分达成年度指标并具有一定效果", 9, 8),
    ("部分达成年度指标并具有一定效果", 5, 6),
    ("未达成年度指标且效果较差", 3, 3),  # 0–6
    ("未达成年度指标且效果较差", 10, 6),
    ("基本完成", 7, 7),
    ("未完成", 8, 6),
    ("好", 9, 9),
    ("一般", 9, 8),
])
def test_qualitative_bands(actual, own, expected):
    s = score(ind("有效提升", actual, 10, self_score=own, category="效益指标"), P)
    assert s.score == D(expected)
    assert ("予以认可" in s.basis) == (own == expected)


def test_qualitative_blank_self_score_takes_upper_edge():
    s = score(ind("有效提升", "部分达成", 10, category="效益指标"), P)
    assert s.score == 8 and "上限" in s.basis


def test_qualitative_same_words_met_and_unjudged_kept():
    assert score(ind("健全", "健全", 10, self_score=10), P).score == 10
    s = score(ind("全天候可用", "全天候", 10, self_score=7), P)
    assert s.score == 7 and s.flags == ("VALUE_UNPARSED",)
    assert score(ind("全天候可用", "全天候", 10, self_score=12), P).score == 10  # capped at 分值


def test_hubei_partial_band_is_50_to_80():
    assert score(ind("有效提升", "部分达成", 10, self_score=5), HUBEI).score == 5  # 50 %: inside for Hubei
    assert score(ind("有效提升", "部分达成", 10, self_score=5), P).score == 6  # below 60 %: edge for national
    assert score(ind("有效提升", "未达成", 10, self_score=6), HUBEI).score == 5


# --- 预算执行率, 总分, 等级 -------------------------------------------------------------------

def _budget(annual, executed, points=10, rate=None, own=None):
    return {"total": (annual, annual, executed, points, rate, own)}


def test_execution_rate_score():
    ex = nr.execution(national(budget=_budget(200, 197, 10, "98.5%", D("9.85"))), P)
    assert ex.rate == D("98.5") and ex.score == D("9.85") and ex.computed
    assert "全年执行数197.00万元÷全年预算数200.00万元" in ex.basis
    assert nr.execution(national(budget=_budget(300, 200, 10)), P).score == D("6.67")  # 66.67 % × 10
    over = nr.execution(national(budget=_budget(100, 120, 10)), P)
    assert over.score == 10 and "超过100%按100%计" in over.basis
    assert nr.execution(national(budget=_budget(100, 50, 20)), HUBEI).score == 10


def test_execution_blank_amounts_use_printed_rate_or_keep_self():
    ex = nr.execution(national(budget=_budget(None, None, 10, "90%", 9)), P)
    assert ex.rate == 90 and ex.score == 9 and not ex.computed
    assert [n[:2] for n in ex.notes] == [("MISSING_VALUE", "自评表!D6"), ("MISSING_VALUE", "自评表!E6")]
    kept = nr.execution(national(budget=_budget(0, None, 10, None, 7)), P)
    assert kept.score == 7 and kept.rate is None and "人工复核" in kept.basis


def test_execution_total_row_left_at_zero_takes_the_rows_under_it():
    """A form sent with 年度资金总额 at 0 (or blank) and the money in 其中：当年财政拨款 / 上年结转资金:
    the rate is Σ 全年执行数 ÷ Σ 全年预算数 of those rows (sub_rows_when_total_blank)."""
    budget = {"total": (0, 0, 0, 10, 0, 0), "current": (90, D("89.974"), D("80.5")),
              "carryover": (None, 10, D("9.474")), "other": (None, None, None)}
    ex = nr.execution(national(budget=budget), P)
    assert round(ex.rate, 3) == D("89.997") and ex.score == 9 and not ex.computed  # 89.974 ÷ 99.974 → 9.00
    assert ex.basis.startswith("年度资金总额为0，按其中各项之和：执行率") and "÷全年预算数99.97万元" in ex.basis
    assert ex.notes == (("MISSING_VALUE", "自评表!D6", "年度资金总额的全年预算数或全年执行数为0，预算执行率按其中各项之和计算"),)
    blank = {**budget, "total": (None, None, None, 10, None, None)}
    assert nr.execution(national(budget=blank), P).basis.startswith("年度资金总额未填写，按其中各项之和")
    r = review(national(budget=budget), P)
    found = {(f.code, f.cell) for f in r.findings}
    assert ("BUDGET_SCORE_MISMATCH", "自评表!H6") in found  # the department gave itself 0
    assert {("BUDGET_ROWS_SUM", c) for c in ("自评表!C6", "自评表!D6", "自评表!E6")} <= found
    # the setting off: the total row alone counts, as before
    off = Profile(P.name, P.title, merge(P.data, {"execution": {"sub_rows_when_total_blank": False}}))
    kept = nr.execution(national(budget=budget), off)
    assert kept.rate == 0 and kept.score == 0 and "按填报的执行率0%" in kept.basis  # the printed 0 %
    # sub-rows without any 全年执行数 give no rate either
    unexecuted = {**budget, "current": (90, 90, None), "carryover": (None, 10, None)}
    assert "按填报的执行率0%" in nr.execution(national(budget=unexecuted), P).basis


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.tuples(st.decimals(min_value=0, max_value=10**6, places=2),
                                st.decimals(min_value=0, max_value=10**6, places=2)), min_size=1, max_size=3))
def test_sub_row_rate_is_the_rate_of_the_sums(parts):
    keys = ("current", "carryover", "other")
    budget = {"total": (None, None, None, 10, None, None), **{k: (a, a, e) for k, (a, e) in zip(keys, parts)}}
    ex = nr.execution(national(budget=budget), P)
    annual, executed = sum(a for a, _ in parts), sum(e for _, e in parts)
    if annual > 0:
        assert ex.score == P.round(10 * min(executed / annual * 100, D(100)) / 100)
    else:
        assert ex.rate is None
    assert 0 <= ex.score <= 10


def test_execution_blank_points_take_default():
    ex = nr.execution(national(budget=_budget(100, 90, None)), P)
    assert ex.points == 10 and ex.score == 9 and ex.notes[0][:2] == ("MISSING_VALUE", "自评表!F6")
    assert nr.execution(national(budget=_budget(100, 90, None)), HUBEI).points == 20


@pytest.mark.parametrize("printed,readings", [
    ("98.5%", [(D("98.5"), 1)]), ("98%", [(D(98), 0)]), (D("0.985"), [(D("98.5"), 1), (D("0.985"), 3)]),
    ("", []), ("—", []),
])
def test_printed_rate_readings(printed, readings):
    from national_factory import val

    assert nr.printed_rates(val("自评表!G6", printed)) == readings


def test_total_and_grade_national():
    r = review(national(), P)
    assert r.execution_score == D("9.85") and r.execution_self == D("9.85")
    assert r.computed_total == D("96.85") and r.self_total == D("96.85") and r.grade == "优"
    assert [nr.grade_of(D(x), P) for x in ("90", "89.99", "80", "79.99", "60", "59.99", "0")] == \
        ["优", "良", "良", "中", "中", "差", "差"]
    assert nr.grade_of(D(90), load_profile("suzhou-2020")) is None


def test_platform_caps_total_by_execution_rate():
    ev = national(budget=_budget(100, 65, 10, "65%", D("6.5")))  # 6.5 + 87 = 93.5 → capped at 79
    r = review(ev, PLATFORM)
    assert r.execution_score == D("6.5") and r.computed_total == 79 and r.self_total == 79 and r.grade == "中"
    assert r.execution_basis.endswith("；预算执行率65%低于70%，总分最高79分")
    assert review(ev, P).computed_total == D("93.5")  # no caps in national-2020
    cases = {D(80): None, D("79.99"): 89, D(70): 89, D("69.9"): 79, D(60): 79, D(59): 69, D(50): 69, D(49): 59, D(10): 59}
    assert {rate: nr.total_cap(rate, PLATFORM)[0] for rate in cases} == cases
    assert nr.total_cap(D(75), PLATFORM)[1] == "预算执行率75%低于80%，总分最高89分"


def test_platform_takes_2_points_for_30_percent_above_target():
    s = score(ind("≥100人", "130人", 10), PLATFORM)
    assert s.score == 8 and "扣2分" in s.basis
    assert score(ind("≥100人", "129人", 10), PLATFORM).score == 10
    assert score(ind("≥100人", "200人", 1), PLATFORM).score == 0  # floored at 0
    assert score(ind("≤100万元", "50万元", 10), PLATFORM).score == 10  # 反向 within the bound: not over
    assert score(ind("≥100人", "130人", 10), P).score == 10


def test_hubei_total_with_its_split():
    rows = [("产出指标", "数量指标", "a", "≥10个", "10个", 40, 40), ("效益指标", "社会效益指标", "b", "≥10个", "5个", 30, 15),
            ("满意度指标", "服务对象满意度指标", "c", "≥90%", "90%", 10, 10)]
    r = review(national(rows, _budget(100, 80, 20, "80%", 16)), HUBEI)
    assert r.execution_score == 16 and r.computed_total == 81 and r.grade == "良"
    assert not [f for f in r.findings if f.code == "CLASS_WEIGHTS"]


# --- properties -----------------------------------------------------------------------------

amounts = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)
weights = st.decimals(min_value=D("0.5"), max_value=D("50"), places=1)


@settings(max_examples=200, deadline=None)
@given(target=amounts, actual=amounts, weight=weights, op=st.sampled_from(["≥", "≤", "=", ">", "<"]))
def test_score_within_0_and_weight(target, actual, weight, op):
    for p in (P, PLATFORM):
        s = score(ind(f"{op}{target}个", f"{actual}个", weight), p)
        assert 0 <= s.score <= weight


@settings(max_examples=150, deadline=None)
@given(target=amounts, a1=amounts, a2=amounts, weight=weights)
def test_forward_monotone_reverse_antitone(target, a1, a2, weight):
    lo, hi = min(a1, a2), max(a1, a2)
    assert score(ind(f"≥{target}吨", f"{lo}吨", weight), P).score <= score(ind(f"≥{target}吨", f"{hi}吨", weight), P).score
    assert score(ind(f"≤{target}吨", f"{lo}吨", weight), P).score >= score(ind(f"≤{target}吨", f"{hi}吨", weight), P).score


@settings(max_examples=200, deadline=None)
@given(own=st.decimals(min_value=D(0), max_value=D(20), places=2), weight=weights,
       band=st.sampled_from([("达成年度指标", "met"), ("部分达成年度指标并具有一定效果", "partial"), ("未达成年度指标且效果较差", "not_met")]),
       profile=st.sampled_from([P, HUBEI]))
def test_band_acceptance(own, weight, band, profile):
    actual, key = band
    b = nr.bands(profile)[key]
    lo, hi = profile.round(weight * b.lo), profile.round(weight * b.hi)
    s = score(ind("有效提升", actual, weight, self_score=own, category="效益指标"), profile)
    if lo <= own <= hi:
        assert s.score == own  # accepted as the rule score
    else:
        assert s.score == (lo if own < lo else hi)  # the nearest band edge
    assert lo <= s.score <= hi <= weight


def test_clean_rows_are_consistent():
    assert sum(r[5] for r in CLEAN) + CLEAN_BUDGET["total"][3] == 100
    assert with_row(CLEAN, 0, actual="90人")[0][4] == "90人"


# Pairs from published national tables (the ids of the team's value_strings table, copied here):
# target | actual | 分值 | self-score | expected rule score | flags
REAL = [
    ("≥266米", "≥266米", 10, 10, 10, ("ACTUAL_REPEATS_TARGET",)),  # 25
    ("≥90%", "≥90%", 5, 5, 5, ("ACTUAL_REPEATS_TARGET",)),  # 27
    ("═100%", "98%", 10, 9, D("9.8"), ()),  # 41: the table gave 9; the ratio gives 9.8
    ("不低于95%", "达成预期指标", 10, 10, 10, ("ACTUAL_NOT_NUMERIC",)),  # 53: met band, 10 accepted
    ("小于0.9‰", "达成预期指标", 10, 7, 8, ("ACTUAL_NOT_NUMERIC",)),  # 55: 7 below the met band 8–10
    ("效果明显", "达成预期指标", 10, 9, 9, ()),  # 101
    ("是", "达成预期指标", 10, 10, 10, ()),  # 109
    ("有效", "有效", 5, 5, 5, ()),  # 105: same words
    ("全天候可用", "全天候", 5, 4, 4, ("VALUE_UNPARSED",)),  # 119: kept
    ("完成时间为2022年12月30日", "完成时间为2022年12月30日", 6, 5, 6, ()),  # 125: on time → full
    ("11月底前", "10月", 5, 5, 5, ()),  # 127
    ("在项目计划完成时间内完成", "达成预期指标", 5, 5, 5, ()),  # 129
    ("0次", "0次", 5, 5, 5, ()),  # 93: a zero target is a ceiling
    ("0次", "1次", 5, 0, 0, ()),
    ("100%", "1000件", 5, 5, 0, ("UNIT_MISMATCH",)),  # 95
    ("0.5个百分点", "高于上年", 5, 5, 0, ("ACTUAL_NOT_NUMERIC",)),  # 139
    ("15%及其以下", "=0.3%", 5, 5, 5, ()),  # 18: 反向 within the bound
    ("≥16万吨", "=12.33万吨", 10, 10, D("7.71"), ()),  # 9: 12.33 ÷ 16 × 10 = 7.706…
    ("≥95", "=103.27", 4, 4, 4, ()),  # 11
]


@pytest.mark.parametrize("target,actual,weight,own,expected,flags", REAL)
def test_real_national_pairs(target, actual, weight, own, expected, flags):
    s = score(ind(target, actual, weight, self_score=own, category="效益指标"), P)
    assert (s.score, s.flags) == (D(expected), flags), s.basis


cell_text = st.one_of(
    st.text(max_size=20),
    st.builds(lambda op, n, u: f"{op}{n}{u}", st.sampled_from(["", "≥", "≤", "=", ">", "<", "≧", "≦", "═", "不少于", "不超过"]),
              st.decimals(min_value=-1000, max_value=10**9, places=3, allow_nan=False), st.sampled_from(["", "%", "人", "万元", "天", "米", "公里"])),
    st.sampled_from(["达成年度指标", "部分达成年度指标并具有一定效果", "未达成年度指标且效果较差", "好", "一般", "/", "……", "有效提升"]),
)


@settings(max_examples=300, deadline=None)
@given(target=cell_text, actual=cell_text, weight=weights,
       own=st.one_of(st.none(), st.decimals(min_value=-5, max_value=60, places=2)),
       profile=st.sampled_from([P, HUBEI, PLATFORM]))
def test_any_cell_text_scores_within_0_and_weight(target, actual, weight, own, profile):
    s = score(ind(target, actual, weight, self_score=own), profile)
    assert 0 <= s.score <= weight and s.basis


@settings(max_examples=200, deadline=None)
@given(annual=st.one_of(st.none(), st.decimals(min_value=-10, max_value=10**7, places=2)),
       executed=st.one_of(st.none(), st.decimals(min_value=-10, max_value=10**7, places=2)),
       points=st.one_of(st.none(), st.decimals(min_value=0, max_value=30, places=1)),
       own=st.one_of(st.none(), st.decimals(min_value=-5, max_value=40, places=2)))
def test_execution_score_within_0_and_points(annual, executed, points, own):
    ex = nr.execution(national(budget={"total": (annual, annual, executed, points, None, own)}), P)
    assert 0 <= ex.score <= ex.points and ex.basis
