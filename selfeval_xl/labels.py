"""Chinese names of the finding codes and what a bureau should ask of a department about each.

The codes (checks.SEVERITY) are stable identifiers for programs; people read these labels in
汇总.xlsx, the 复核汇总报告 and 对比.xlsx. A code without an entry (a new check, another
branch's form) is shown as the code itself, never dropped.
"""
from __future__ import annotations

LABELS: dict[str, str] = {
    "SCORE_MISMATCH": "自评分与规则得分不一致",
    "SCORE_OVER_WEIGHT": "自评分超过权重",
    "TOTAL_MISMATCH": "合计与自评分之和不一致",
    "WEIGHT_SUM": "权重合计与类别分值不符",
    "WEIGHT_SPLIT": "权重未按平均分配",
    "BUDGET_BALANCE": "指标结余数计算不符",
    "FUNDS_BALANCE": "资金结余、结转数计算不符",
    "COMPOSITION_SUM": "资金构成子项之和与合计不符",
    "COMPOSITION_VS_FUNDS": "资金构成合计与拨款数、支付数均不一致",
    "GOAL_MISMATCH": "年度绩效目标与指标表目标值不一致",
    "ACTUAL_NOT_NUMERIC": "定量指标的实际完成值无数值",
    "VALUE_UNPARSED": "定性表述需人工判断",
    "UNIT_MISMATCH": "目标值与实际完成值单位不一致",
    "OVER_ACHIEVED": "超额完成较多（目标可能偏低）",
    "MISSING_VALUE": "必填内容未填写",
    "FORMULA_NO_VALUE": "公式单元格没有计算结果",
    "DUPLICATE_PROJECT": "同一项目重复报送",
}

# One recommendation per finding type, addressed to the departments (the report drafts its
# 建议 from the types found, most frequent first; staff edit the draft in Word).
ADVICE: dict[str, str] = {
    "SCORE_MISMATCH": "严格按《填表说明》的评分规则计算每项指标的自评分，按完成率逐项核对后再填报，避免凭印象打分。",
    "SCORE_OVER_WEIGHT": "自评分不得超过该指标的权重，填报后应逐项检查。",
    "TOTAL_MISMATCH": "“合计”应等于各项指标自评分之和，建议在表中用公式求和并在报送前核对。",
    "WEIGHT_SUM": "各类指标的权重之和应等于该类别的分值，设置指标时应先核对权重分配。",
    "WEIGHT_SPLIT": "同一类别内的权重应按填表说明平均分配，确需调整的应说明理由。",
    "BUDGET_BALANCE": "预算执行情况各栏应勾稽一致（指标结余数＝年初预算数＋调整数－财政拨款数），请与财务数据核对后填报。",
    "FUNDS_BALANCE": "资金使用情况各栏应勾稽一致（结余、结转数＝财政拨款数－实际支付数＝结转数＋财政收回数），请与会计账簿核对。",
    "COMPOSITION_SUM": "项目资金构成各子项金额之和应等于合计数，请核对子项目金额。",
    "COMPOSITION_VS_FUNDS": "项目资金构成合计应与财政拨款数或实际支付数一致，不一致的应在说明中写明原因。",
    "GOAL_MISMATCH": "年度绩效目标的文字表述应与指标表中的目标值一致，修改指标时同步修改目标表述。",
    "ACTUAL_NOT_NUMERIC": "定量指标的实际完成值应填写具体数值和单位，不宜只写“高于上年”“达到预期”等定性表述。",
    "VALUE_UNPARSED": "定性指标的实际完成情况应写明可核实的事实或等级，便于复核。",
    "UNIT_MISMATCH": "实际完成值应使用与目标值相同的计量单位。",
    "OVER_ACHIEVED": "完成率远超目标的指标，目标值可能设定偏低，编制下年度绩效目标时应结合实际适当提高。",
    "MISSING_VALUE": "目标值、实际完成值、权重、自评分和合计均为必填内容，报送前应检查是否填写完整。",
    "FORMULA_NO_VALUE": "报送前应在 Excel 或 WPS 中打开并保存工作簿，使公式单元格有计算结果。",
    "DUPLICATE_PROJECT": "同一项目只应报送一份自评表，请确认重复报送的文件并撤回多余的一份。",
}

SEVERITY_TEXT = {"error": "错误", "warning": "警告", "info": "提示"}
SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}


def label(code: str | None) -> str:
    """The Chinese name of a finding code (the code itself when it has none)."""
    return LABELS.get(code or "", code or "")


def advice(code: str | None) -> str | None:
    return ADVICE.get(code or "")
