"""Chinese names for finding codes: the one table every document uses.

Codes (``SCORE_MISMATCH`` …) are the stable machine contract (JSON, run.json); a person reading
a Word document or a letter sees the label (评分不符) and, in the 复核意见书, what to correct
(整改要求). A code this table does not know yet (a newer check) is shown by its severity
(其他错误 …), never in English.
"""
from __future__ import annotations

from .model import severity_label

# code -> (label, 整改要求: what the department should do about it)
FINDINGS: dict[str, tuple[str, str]] = {
    "SCORE_MISMATCH": ("评分不符", "按《填表说明》的评分规则重新计算该项自评分，或在说明中写明与规则得分不同的理由。"),
    "SCORE_OVER_WEIGHT": ("自评分超过权重", "自评分不得超过该项权重，请按规则重新评分。"),
    "TOTAL_MISMATCH": ("合计不符", "合计应等于各项自评分之和，请核对后更正合计。"),
    "WEIGHT_SUM": ("权重合计不符", "该类各项权重之和应等于该类分值，请调整权重。"),
    "WEIGHT_SPLIT": ("权重分配不均", "同类指标权重应按该类分值平均分配（尾差计入最后一项），请核对权重。"),
    "BUDGET_BALANCE": ("指标结余数不符", "指标结余数应等于年初预算数加调整预算数减财政拨款数，请核对预算执行数据。"),
    "FUNDS_BALANCE": ("资金结余数不符", "资金结余、结转数应等于财政拨款数减实际支付数，并等于结转数与财政收回数之和，请核对。"),
    "COMPOSITION_SUM": ("资金构成合计不符", "各子项目金额之和应等于项目资金构成合计，请核对子项目金额。"),
    "COMPOSITION_VS_FUNDS": ("资金构成与拨款不一致", "项目资金构成合计应与财政拨款数或实际支付数一致，请核对或说明差额原因。"),
    "GOAL_MISMATCH": ("目标表述不一致", "年度绩效目标文字与指标表中的目标值应一致，请统一。"),
    "ACTUAL_NOT_NUMERIC": ("实际值未量化", "定量指标的实际完成值应填写具体数值，请补充。"),
    "VALUE_UNPARSED": ("需人工核对", "该项目标值或实际完成值无法按规则自动判断，请补充可核对的完成情况。"),
    "UNIT_MISMATCH": ("单位不一致", "目标值与实际完成值的计量单位应一致，请统一单位。"),
    "OVER_ACHIEVED": ("超额完成", "完成率超过130%，请说明目标值设定是否偏低，下年度合理设定目标。"),
    "MISSING_VALUE": ("内容未填", "请补填该项内容。"),
    "FORMULA_NO_VALUE": ("公式无结果", "该单元格公式没有计算结果，请在 Excel 中重新计算并保存后再提交。"),
    "MISSING_FIELD": ("表头未填写", "请补填项目年份、主管部门、年初预算数等表头内容。"),
    "SHEET_NOT_READ": ("工作表无法读取", "该工作表上的自评表无法读取，请按模板格式整理后重新报送。"),
    "UNIT_SCALE_SUSPECT": ("单位疑似填错", "目标值与实际完成值数字接近但单位相差千倍以上，请核对是否把万元、亿元等单位写错。"),
    "DECISION_STALE": ("复核认定待重审", "该指标在复核认定后已修改，复核人员需重新认定。"),
    # national form (财预〔2020〕10号) checks (checks_national.py)
    "BUDGET_SCORE_MISMATCH": ("预算执行率得分不符", "预算执行率得分应为执行率（不超过100%）乘以分值，请按全年执行数÷全年预算数重新计算。"),
    "EXECUTION_RATE_MISMATCH": ("执行率计算不符", "执行率应等于全年执行数÷全年预算数，请重新计算。"),
    "BUDGET_ROWS_SUM": ("资金合计不符", "年度资金总额应等于当年财政拨款、上年结转资金与其他资金之和，请核对。"),
    "DEVIATION_REASON_MISSING": ("未说明偏差原因", "未得满分的指标应填写偏差原因分析及改进措施，请补充。"),
    "ACTUAL_REPEATS_TARGET": ("实际值照抄指标值", "实际完成值应填写实际达到的数值，不应照抄年度指标值，请补充实测值。"),
    "CLASS_WEIGHTS": ("一级指标分值调整", "一级指标分值与默认分配不同，请确认已按规定调整并说明理由。"),
    "GRADE_MISMATCH": ("等级不符", "等级应与总分对应，请核对。"),
}
_FALLBACK = "请核对该单元格内容。"


def finding_label(code: str, severity: str = "") -> str:
    """The Chinese label of a finding code (其他错误/其他警告/其他提示 for an unknown one)."""
    if code in FINDINGS:
        return FINDINGS[code][0]
    return "其他" + severity_label(severity, "问题")


def remedy(code: str) -> str:
    """整改要求 for a finding code."""
    return FINDINGS.get(code, ("", _FALLBACK))[1]


def profile_title(profile: str) -> str:
    """A profile's Chinese title (``suzhou-2020`` -> 苏州市2020年…), falling back to a generic name."""
    from . import rules

    try:
        title = rules.load_profile(profile).title
    except Exception:  # a path that no longer exists, a broken file: the name is still not shown
        title = ""
    return title if title and not title.isascii() else "所选评分规则"
