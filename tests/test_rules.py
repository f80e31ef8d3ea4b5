"""Each clause of the 填表说明, with the rule text's own numbers, plus hypothesis properties."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfeval_xl.model import Indicator, Value
from selfeval_xl.rules import load_profile, profile_names, score

P = load_profile("suzhou-2020")
D = Decimal
KINDS = {"input": "投入目标", "output": "产出目标", "outcome": "结果目标", "impact": "影响力目标"}


def ind(target, actual, weight="1", kind="output", self_score=None) -> Indicator:
    return Indicator(KINDS[kind], "测试指标", Value("自评表!D1", str(target)), Value("自评表!E1", str(weight), D(str(weight))),
                     Value("自评表!F1", str(actual)), Value("自评表!G1", "", None if self_score is None else D(str(self_score))), "自评表!C1")


def test_budget_execution_99_9_percent_gives_7_96():
    s = score(ind("=100%", "=99.9%", 8, "input"), P)
    assert s.score == D("7.96")
    assert s.completion == D("99.9")
    assert "99.9%" in s.basis


def test_outcome_77_06_percent_scores_zero():
    s = score(ind("≥16万吨", "=12.33万吨", "1.4", "outcome"), P)
    assert s.score == 0
    assert s.completion.quantize(D("0.01")) == D("77.06")


@pytest.mark.parametrize("actual,expected", [("=130个", "1.00"), ("=140个", "0.90"), ("=100个", "1.00"), ("=131个", "0.99")])
def test_output_band_100_to_130(actual, expected):
    assert score(ind("=100个", actual, 1), P).score == D(expected)


def test_exactly_130_is_full_and_basis_says_so():
    s = score(ind("=100个", "=130个", 1), P)
    assert s.score == 1
    assert "100%～130%" in s.basis and "满分" in s.basis


def test_outcome_has_no_upper_penalty():
    assert score(ind("≥100个", "=300个", 1, "outcome"), P).score == 1


def test_output_below_deducts_5_percent_per_point():
    # 90 % completion: 10 points below → 50 % deducted
    assert score(ind("=10个", "=9个", 2), P).score == D("1.00")


@pytest.mark.parametrize("grade,fraction", [("好", "1"), ("较好", "0.8"), ("一般", "0.6"), ("较差", "0.4"), ("差", "0.2")])
def test_grades(grade, fraction):
    s = score(ind("健全", grade, 3, "input"), P)
    assert s.score == P.round(D(3) * D(fraction))


def test_no_value_and_no_explanation_scores_zero():
    s = score(ind("≥10个", "", 1), P)
    assert s.score == 0 and "MISSING_VALUE" in s.flags


def test_reverse_indicator_within_bound_full():
    s = score(ind("15%及其以下", "=0.3%", 1, "input"), P)
    assert s.score == 1 and "反向" in s.basis


def test_reverse_indicator_beyond_bound_uses_target_over_actual():
    # 10 ÷ 12.5 = 80 % → 20 points below → 100 % deducted
    assert score(ind("≤10%", "=12.5%", 1), P).score == 0
    # 10 ÷ 10.1 = 99.0099 % → 0.99 points below × 5 % → 0.9505 → 0.95
    assert score(ind("≤10%", "=10.1%", 1), P).score == D("0.95")


def test_rank_equal_or_better_is_met():
    assert score(ind("全省第二", "全省第二", "0.67", "impact"), P).score == D("0.67")
    assert score(ind("全省第二", "全省第一", "0.67", "impact"), P).score == D("0.67")
    assert score(ind("全省第二", "全省第三", "0.67", "impact"), P).score == 0


def test_actual_repeating_bound_meets():
    s = score(ind("≥30个", "≥30个", "1.4", "outcome"), P)
    assert s.score == D("1.4") and s.completion == 100


def test_impact_follows_outcome_as_in_seed():
    # 2.1 个百分点 against 1 个百分点 = 210 %: full marks in the seed
    assert score(ind("1个百分点", "2.1个百分点", "0.67", "impact"), P).score == D("0.67")


def test_no_number_in_actual_gives_zero_and_flag():
    s = score(ind("0.5个百分点", "高于上年", "0.67", "impact"), P)
    assert s.score == 0 and s.flags == ("ACTUAL_NOT_NUMERIC",)


def test_units_convert_between_multipliers():
    assert score(ind("≥1亿元", "=9000万元", 1, "outcome"), P).score == D("0.50")  # 90 %: 10 × 5 % off


def test_irreconcilable_units_give_zero_and_flag():
    s = score(ind("=100%", "=1000件", 1), P)
    assert s.score == 0 and "UNIT_MISMATCH" in s.flags


def test_bare_actual_takes_target_unit():
    assert score(ind("≥50个", "50", 1), P).score == 1


def test_qualitative_target_met_by_word_or_verdict():
    assert score(ind("规范", "规范", 2, "input"), P).score == 2
    assert score(ind("有效", "达成预期指标", 2, "outcome"), P).score == 2


def test_half_up_rounding():
    # 0.125 → 0.13 (half up), not banker's 0.12
    assert P.round(D("0.125")) == D("0.13")


def test_profiles_discoverable():
    assert "suzhou-2020" in profile_names()
    with pytest.raises(ValueError):
        load_profile("no-such-profile")


# ---- properties -------------------------------------------------------------------

pcts = st.decimals(min_value=0, max_value=400, places=2, allow_nan=False, allow_infinity=False)
weights = st.decimals(min_value=D("0.01"), max_value=30, places=2)


@settings(max_examples=200, deadline=None)
@given(pcts, weights, st.sampled_from(list(KINDS)))
def test_score_between_zero_and_weight(actual, weight, kind):
    s = score(ind("=100%", f"={actual}%", weight, kind), P)
    assert 0 <= s.score <= weight


@settings(max_examples=200, deadline=None)
@given(pcts, pcts, weights)
def test_output_score_monotone_below_band(a, b, weight):
    lo, hi = sorted((min(a, D(100)), min(b, D(100))))
    s_lo = score(ind("=100%", f"={lo}%", weight), P).score
    s_hi = score(ind("=100%", f"={hi}%", weight), P).score
    assert s_lo <= s_hi


@settings(max_examples=200, deadline=None)
@given(pcts, weights)
def test_output_curve_matches_rule_text(actual, weight):
    """fraction = 1 − 5 %·(100 − c) below, 1 in [100, 130], 1 − 1 %·(c − 130) above; floor 0."""
    c = actual
    if c < 100:
        f = 1 - (100 - c) * D("0.05")
    elif c > 130:
        f = 1 - (c - 130) * D("0.01")
    else:
        f = D(1)
    expected = P.round(weight * max(D(0), f))
    assert score(ind("=100%", f"={actual}%", weight), P).score == expected


@settings(max_examples=200, deadline=None)
@given(pcts, weights)
def test_outcome_curve_matches_rule_text(actual, weight):
    f = D(1) if actual >= 100 else max(D(0), 1 - (100 - actual) * D("0.05"))
    assert score(ind("≥100%", f"={actual}%", weight, "outcome"), P).score == P.round(weight * f)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30), weights, st.sampled_from(list(KINDS)))
def test_any_text_scores_without_error(target, actual, weight, kind):
    s = score(ind(target, actual, weight, kind), P)
    assert 0 <= s.score <= weight and s.basis


def test_bare_actual_takes_target_multiplier_too():
    # ≤90万元 | 90 (TX1 项目总成本): 90 means 90万元, within the bound
    assert score(ind("≤90万元", "90", 1), P).score == 1
    assert score(ind("≥50个", "45", 1), P).score == D("0.50")  # 90 %


def test_deadline_met_when_not_later():
    assert score(ind("2022年12月30日", "2022年12月20日", 1), P).score == 1
    assert score(ind("11月底前", "10月", 1), P).score == 1
    assert score(ind("11月底前", "2022年12月", 1), P).score == 0
