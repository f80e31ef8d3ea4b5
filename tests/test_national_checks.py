"""National findings: a clean evaluation with none, and each code planted in a constructed
SelfEvaluation (tests/national_factory.py) and found at its exact cell with both numbers."""
from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE
from national_factory import CLEAN, CLEAN_BUDGET, cell_of, national, with_row
from selfeval_xl import checks
from selfeval_xl.pipeline import project_summary
from selfeval_xl.review import review, to_json

D = Decimal
TOTAL_ROW = 12 + len(CLEAN)  # the 总分 row of the factory's layout


def findings(ev, profile="national-2020"):
    return review(ev, profile).findings


def only(fs, code):
    hit = [f for f in fs if f.code == code]
    assert len(hit) == 1, (code, fs)
    return hit[0]


def budget(**rows):
    b = dict(CLEAN_BUDGET)
    b.update(rows)
    return b


def test_clean_national_has_no_findings_and_its_numbers():
    r = review(national(), "national-2020")
    assert r.findings == ()
    assert (r.execution_score, r.self_total, r.computed_total, r.grade) == (D("9.85"), D("96.85"), D("96.85"), "优")
    assert [c.computed for c in r.categories] == [50, 27, 10]
    for p in ("hubei-2020", "national-platform"):  # the same form under the regional rules
        codes = {f.code for f in findings(national(), p)}
        assert codes <= {"CLASS_WEIGHTS"}, codes


def test_new_codes_have_severities():
    assert {c: checks.SEVERITY[c] for c in ("BUDGET_SCORE_MISMATCH", "EXECUTION_RATE_MISMATCH", "BUDGET_ROWS_SUM",
                                              "DEVIATION_REASON_MISSING", "ACTUAL_REPEATS_TARGET", "CLASS_WEIGHTS",
                                              "GRADE_MISMATCH")} == {
        "BUDGET_SCORE_MISMATCH": "error", "EXECUTION_RATE_MISMATCH": "warning", "BUDGET_ROWS_SUM": "warning",
        "DEVIATION_REASON_MISSING": "warning", "ACTUAL_REPEATS_TARGET": "warning", "CLASS_WEIGHTS": "info",
        "GRADE_MISMATCH": "error"}


def test_budget_score_mismatch_at_total_row_score():
    fs = findings(national(budget=budget(total=(100, 100, D("98.5"), 10, "98.5%", D("9.5")))))
    f = only(fs, "BUDGET_SCORE_MISMATCH")
    assert f.cell == "自评表!H6" and f.severity == "error"
    assert "9.5" in f.message and "9.85" in f.message and "相差0.35" in f.message
    assert [x.code for x in fs] == ["BUDGET_SCORE_MISMATCH"]  # the 总分 follows the printed scores


@pytest.mark.parametrize("printed,finding", [
    ("95%", True), ("98.5%", False), (D("0.985"), False), (D("98.5"), False), ("", False), ("98%", False),
    ("97%", True), (D("0.95"), True),
])
def test_execution_rate_mismatch(printed, finding):
    fs = findings(national(budget=budget(total=(100, 100, D("98.5"), 10, printed, D("9.85")))))
    hit = [f for f in fs if f.code == "EXECUTION_RATE_MISMATCH"]
    assert bool(hit) == finding, fs
    if finding:
        assert hit[0].cell == "自评表!G6" and "98.5%" in hit[0].message


def test_execution_rate_rounding_to_printed_decimals():
    def codes(printed):
        b = budget(total=(1000, 1000, D("984.56"), 10, printed, D("9.85")),
                   current=(800, 800, D("784.56")))
        return [f.code for f in findings(national(budget=b))]
    assert "EXECUTION_RATE_MISMATCH" not in codes("98.46%")
    assert "EXECUTION_RATE_MISMATCH" not in codes("98.5%")
    assert "EXECUTION_RATE_MISMATCH" in codes("98.4%")  # 98.456 rounds to 98.5, not 98.4


def test_budget_rows_sum_per_column():
    fs = findings(national(budget=budget(current=(80, 70, D("78.5")))))
    f = only(fs, "BUDGET_ROWS_SUM")
    assert f.cell == "自评表!D6" and f.severity == "warning"
    assert "全年预算数为100.00万元" in f.message and "当年财政拨款70.00+上年结转资金20.00+其他资金0.00=90.00万元" in f.message
    # sub-rows all blank: nothing to compare
    assert not [x for x in findings(national(budget={"total": CLEAN_BUDGET["total"]})) if x.code == "BUDGET_ROWS_SUM"]


def test_budget_rows_sum_in_yuan():
    b = {"total": (1000000, 1000000, 985000, 10, "98.5%", D("9.85")), "current": (1000000, 1000000, 980000),
         "carryover": ("—", "—", "—"), "other": (None, None, None)}
    f = only(findings(national(budget=b, unit="元")), "BUDGET_ROWS_SUM")
    assert f.cell == "自评表!E6"  # 全年执行数; the dashed 上年结转资金 counts as 0
    assert f.message == ("年度资金总额的全年执行数为985000.00元，而当年财政拨款980000.00+上年结转资金0.00+其他资金0.00"
                         "=980000.00元，相差5000.00元")


def test_deviation_reason_missing_by_self_score():
    rows = with_row(CLEAN, 4, reason="")
    f = only(findings(national(rows)), "DEVIATION_REASON_MISSING")
    assert f.cell == cell_of(4, "H") == "自评表!H16"
    assert "分值30" in f.message and "自评分27" in f.message
    assert only(findings(national(with_row(CLEAN, 4, reason="无"))), "DEVIATION_REASON_MISSING").cell == "自评表!H16"


def test_deviation_reason_missing_by_rule_score():
    rows = with_row(CLEAN, 0, actual="90人")  # rule 18, self 20
    fs = findings(national(rows))
    assert only(fs, "SCORE_MISMATCH").cell == "自评表!G12"
    f = only(fs, "DEVIATION_REASON_MISSING")
    assert f.cell == "自评表!H12" and "规则得分18" in f.message
    assert not [x for x in findings(national(with_row(rows, 0, reason="招生不足"))) if x.code == "DEVIATION_REASON_MISSING"]


def test_actual_repeats_target():
    fs = findings(national(with_row(CLEAN, 0, actual="≥100人")))
    f = only(fs, "ACTUAL_REPEATS_TARGET")
    assert f.cell == "自评表!E12" and f.severity == "warning" and "≥100人" in f.message
    assert [x.code for x in fs] == ["ACTUAL_REPEATS_TARGET"]  # scored as met: no score finding


def test_class_weights_info_not_error():
    rows = with_row(with_row(CLEAN, 0, weight=30, score=30), 4, weight=20, score=18)  # 产出 60, 效益 20
    fs = findings(national(rows))
    f = only(fs, "CLASS_WEIGHTS")
    assert f.severity == "info" and f.cell == "自评表!A12"
    assert "产出指标60" in f.message and "效益指标20" in f.message and "产出指标50" in f.message
    assert "WEIGHT_SUM" not in {x.code for x in fs}  # still 100 in all


def test_class_weights_hubei_counts_benefit_and_satisfaction_together():
    rows = [("产出指标", "数量指标", "a", "≥10个", "10个", 40, 40), ("效益指标", "社会效益指标", "b", "≥10个", "10个", 25, 25),
            ("满意度指标", "服务对象满意度指标", "c", "≥90%", "90%", 15, 15)]
    b = {"total": (100, 100, 100, 20, "100%", 20)}
    assert findings(national(rows, b), "hubei-2020") == ()
    f = only(findings(national(rows, b), "national-2020"), "CLASS_WEIGHTS")
    assert f.cell == "自评表!F6"  # the first split that differs: 预算执行率 20 against 10


def test_grade_mismatch():
    f = only(findings(national(grade="良")), "GRADE_MISMATCH")
    assert f.cell == f"自评表!H{TOTAL_ROW}" and f.severity == "error"
    assert "“良”" in f.message and "96.85" in f.message and "“优”" in f.message
    assert findings(national(grade="优秀")) == () and findings(national(grade="优")) == ()
    assert "不是本规则的等级" in only(findings(national(grade="合格")), "GRADE_MISMATCH").message
    low = with_row(CLEAN, 4, actual="未达成年度指标且效果较差", score=10)  # total 79.85 → 中
    assert findings(national(low, grade="中")) == ()


def test_total_mismatch_and_missing():
    f = only(findings(national(stated=95)), "TOTAL_MISMATCH")
    assert f.cell == f"自评表!G{TOTAL_ROW}" and "96.85" in f.message and "95" in f.message
    f = only(findings(national(stated=None)), "MISSING_VALUE")
    assert f.cell == f"自评表!G{TOTAL_ROW}" and "96.85" in f.message


def test_weight_sum_with_execution():
    rows = with_row(CLEAN, 0, weight=30, score=30)  # Σ 分值 100 + 10 = 110
    f = only(findings(national(rows)), "WEIGHT_SUM")
    assert f.cell == f"自评表!F{TOTAL_ROW}" and "110" in f.message and "100" in f.message


def test_weight_sum_of_a_class_label():
    f = only(findings(national(class_points={"产出指标": 45})), "WEIGHT_SUM")
    assert f.cell == "自评表!A12" and "产出指标（45分）" in f.message and "50" in f.message


def test_existing_indicator_codes_apply():
    fs = findings(national(with_row(CLEAN, 0, actual="", score=0, reason="未开展")))
    assert only(fs, "MISSING_VALUE").cell == "自评表!E12"
    fs = findings(national(with_row(CLEAN, 0, actual="120家", score=0, reason="单位不符")))
    assert only(fs, "UNIT_MISMATCH").cell == "自评表!E12"
    fs = findings(national(with_row(CLEAN, 0, actual="200人")))
    f = only(fs, "OVER_ACHIEVED")
    assert f.cell == "自评表!E12" and f.severity == "info"
    fs = findings(national(with_row(CLEAN, 4, score=20)))  # 20 outside 24–30 for 达成年度指标
    f = only(fs, "SCORE_MISMATCH")
    assert f.cell == "自评表!G16" and "24" in f.message


def test_suzhou_only_checks_never_fire_on_national():
    rows = with_row(CLEAN, 0, weight=33, score=33)  # an uneven split, which WEIGHT_SPLIT would flag
    codes = {f.code for f in findings(national(rows, grade="良", stated=1))}
    assert not codes & {"BUDGET_BALANCE", "FUNDS_BALANCE", "COMPOSITION_SUM", "COMPOSITION_VS_FUNDS", "WEIGHT_SPLIT",
                        "GOAL_MISMATCH"}


def test_no_execution_block_does_not_crash():
    r = review(national(budget=None), "national-2020")
    assert r.execution_score is None and r.computed_total == D(87)
    assert {f.code for f in r.findings} <= {"WEIGHT_SUM", "CLASS_WEIGHTS"}


def test_platform_cap_in_total_mismatch():
    b = budget(total=(100, 100, 65, 10, "65%", D("6.5")), current=(80, 80, 45))
    f = only(findings(national(budget=b, stated=D("93.5")), "national-platform"), "TOTAL_MISMATCH")
    assert "总分最高79分" in f.message and "总分应为79" in f.message and "相差14.5" in f.message
    assert findings(national(budget=b, stated=79), "national-platform") == ()
    assert findings(national(budget=b), "national-2020") == ()  # 93.5, no cap


def test_json_and_summary_carry_grade_and_execution():
    r = review(national(), "national-2020")
    data = to_json(r)
    ex = data["execution"]  # the block as read (evaluation_json) plus its score
    assert data["grade"] == "优" and (ex["self"], ex["computed"], ex["basis"]) == (9.85, 9.85, r.execution_basis)
    assert (ex["rows"]["current"]["annual"], ex["rows"]["current"]["executed"]) == (80, 78.5)
    assert {k: data["totals"][k] for k in ("stated", "self", "computed")} == {"stated": 96.85, "self": 96.85, "computed": 96.85}
    s = project_summary(r)
    assert s["grade"] == "优" and s["profile"] == "national-2020"
    json.dumps(data, ensure_ascii=False)


def test_cli_profiles_lists_titles_and_forms():
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "profiles"], capture_output=True, timeout=60)
    lines = out.stdout.decode("utf-8").splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in lines}
    assert set(rows) >= {"national-2020", "hubei-2020", "national-platform", "suzhou-2020"}
    assert "预算管理一体化" in rows["national-platform"][1] and rows["national-platform"][2].startswith("适用表式：")
    assert "苏州市级财政支出项目绩效自评表" in rows["suzhou-2020"][2]


@pytest.mark.parametrize("profile", ["hubei-2020", "national-platform"])
def test_cli_check_refuses_a_national_profile_on_the_suzhou_form(profile):
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(SAMPLE), "--profile", profile],
                         capture_output=True, timeout=120)
    assert out.returncode == 2
    err = out.stderr.decode("utf-8")
    assert f"评分规则配置“{profile}”" in err and "--profile auto" in err


def test_suzhou_review_has_no_grade():
    from selfeval_xl.review import review_file

    r = review_file(SAMPLE)
    assert r.grade is None and r.execution_score is None and r.computed_total == D("77.51")
    assert to_json(r)["grade"] is None and "execution" not in to_json(r)


def test_blank_weight_is_missing_value():
    f = only(findings(national(with_row(CLEAN, 3, weight=None, score=0))), "MISSING_VALUE")
    assert f.cell == "自评表!F15" and "未填写分值" in f.message


def test_check_json_reports_profile_refusal():
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(SAMPLE), "--json", "--profile", "national-2020"],
                         capture_output=True, timeout=120)
    assert out.returncode == 2
    assert json.loads(out.stdout)["error"]["code"] == "PROFILE_NOT_FOR_FORM"


def test_human_summary_shows_execution_and_grade():
    from selfeval_xl.printout import review_summary

    text = review_summary(review(national(), "national-2020"))
    assert "预算执行率" in text and "9.85" in text and "等级 优" in text


amounts = st.decimals(min_value=D("1"), max_value=D("1000000"), places=2)


@settings(max_examples=200, deadline=None)
@given(annual=amounts, share=st.decimals(min_value=D("0.01"), max_value=D("1.2"), places=4),
       style=st.sampled_from(["pct1", "pct2", "pct0", "fraction3", "fraction4"]))
def test_a_correctly_rounded_printed_rate_is_never_flagged(annual, share, style):
    from decimal import ROUND_HALF_UP

    executed = (annual * share).quantize(D("0.01"))
    rate = executed / annual * 100
    q = lambda x, e: x.quantize(D(1).scaleb(-e), rounding=ROUND_HALF_UP)
    printed = {"pct1": f"{q(rate, 1)}%", "pct2": f"{q(rate, 2)}%", "pct0": f"{q(rate, 0)}%",
               "fraction3": q(rate / 100, 3), "fraction4": q(rate / 100, 4)}[style]
    b = {"total": (annual, annual, executed, 10, printed, None)}
    fs = review(national(budget=b), "national-2020").findings
    assert "EXECUTION_RATE_MISMATCH" not in {f.code for f in fs}


def test_deviation_reason_above_completion_is_a_profile_setting(tmp_path):
    rows = with_row(CLEAN, 0, actual="140人")  # 140 %: full marks, OVER_ACHIEVED only
    assert {f.code for f in findings(national(rows))} == {"OVER_ACHIEVED"}
    (tmp_path / "gx.toml").write_text('extends = "national-2020"\nname = "gx-test"\n[settings]\n'
                                      'deviation_reason_above_completion = 130\n', encoding="utf-8")
    f = only(findings(national(rows), str(tmp_path / "gx.toml")), "DEVIATION_REASON_MISSING")
    assert f.cell == "自评表!H12" and "140%" in f.message
