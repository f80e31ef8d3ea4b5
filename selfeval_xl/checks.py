"""Find every place where the workbook disagrees with itself or with the rules.

Pure: takes the evaluation and its scored indicators, returns Findings. Each message states
both numbers, so a reader can act on it without opening the workbook.
"""
from __future__ import annotations

import re
from decimal import Decimal

from . import values
from .model import Finding, Scored, SelfEvaluation
from .fmt import money, plain
from .rules import Profile

# code -> severity. The codes are a stable contract (README); severities are our judgement.
SEVERITY: dict[str, str] = {
    "SCORE_MISMATCH": "error",
    "SCORE_OVER_WEIGHT": "error",
    "TOTAL_MISMATCH": "error",
    "WEIGHT_SUM": "error",
    "WEIGHT_SPLIT": "warning",
    "BUDGET_BALANCE": "error",
    "FUNDS_BALANCE": "error",
    "COMPOSITION_SUM": "error",
    "COMPOSITION_VS_FUNDS": "warning",
    "GOAL_MISMATCH": "warning",
    "ACTUAL_NOT_NUMERIC": "warning",
    "VALUE_UNPARSED": "info",
    "UNIT_MISMATCH": "warning",
    "UNIT_SCALE_SUSPECT": "warning",
    "OVER_ACHIEVED": "info",
    "MISSING_VALUE": "warning",
    "FORMULA_NO_VALUE": "error",
    # National form (财预〔2020〕10号), checks_national.py:
    "BUDGET_SCORE_MISMATCH": "error",
    "EXECUTION_RATE_MISMATCH": "warning",
    "BUDGET_ROWS_SUM": "warning",
    "DEVIATION_REASON_MISSING": "warning",
    "ACTUAL_REPEATS_TARGET": "warning",
    "CLASS_WEIGHTS": "info",
    "GRADE_MISMATCH": "error",
    "DECISION_STALE": "warning",  # decisions.carry_over: a decided indicator changed since
    "MISSING_FIELD": "warning",  # a blank required header field (项目年份, 主管部门, 年初预算数)
    "SHEET_NOT_READ": "error",  # another sheet of the file holds a form that could not be read
}


def run(ev: SelfEvaluation, scored: list[Scored] | tuple[Scored, ...], profile: Profile) -> list[Finding]:
    findings = list(ev.notices)
    findings += _indicator_findings(scored, profile)
    if ev.form == "national":  # its own money block and totals; no Suzhou balances or split
        from . import checks_national

        return findings + _weights(ev, profile) + checks_national.run(ev, scored, profile) + _goals(ev, profile)
    findings += _totals(ev, scored, profile)
    findings += _weights(ev, profile)
    findings += _money(ev, profile)
    findings += _goals(ev, profile)
    return findings


def _f(code: str, cell: str, message: str) -> Finding:
    return Finding(code, SEVERITY[code], cell, message)


def _indicator_findings(scored, p: Profile) -> list[Finding]:
    out = []
    tol = p.tol("score")
    for s in scored:
        ind = s.indicator
        name = f"“{ind.name}”"
        for flag in s.flags:
            cell = ind.target.cell if flag == "MISSING_VALUE" and s.target.kind == "empty" else ind.actual.cell
            out.append(_f(flag, cell, f"{name}：{s.basis}"))
        own = ind.self_score.number
        if own is None:
            out.append(_f("MISSING_VALUE", ind.self_score.cell, f"{name}未填写自评分，规则得分{plain(s.score)}"))
            continue
        if ind.weight.number is not None and own > ind.weight.number + tol:
            out.append(_f("SCORE_OVER_WEIGHT", ind.self_score.cell, f"{name}自评分{plain(own)}超过权重{plain(ind.weight.number)}"))
        if abs(own - s.score) > tol:
            out.append(_f("SCORE_MISMATCH", ind.self_score.cell,
                          f"{name}自评分{plain(own)}，按规则应得{plain(s.score)}（{s.basis}），相差{plain(abs(s.score - own))}"))
    return out


def _totals(ev: SelfEvaluation, scored, p: Profile) -> list[Finding]:
    stated = ev.stated_total.number
    own = sum((s.indicator.self_score.number or Decimal(0) for s in scored), Decimal(0))
    if stated is not None and abs(stated - own) > p.tol("score"):
        return [_f("TOTAL_MISMATCH", ev.stated_total.cell, f"合计{plain(stated)}与各项自评分之和{plain(own)}不一致，相差{plain(abs(own - stated))}")]
    if stated is None:
        return [_f("MISSING_VALUE", ev.stated_total.cell, f"未填写合计（各项自评分之和为{plain(own)}）")]
    return []


def _weights(ev: SelfEvaluation, p: Profile) -> list[Finding]:
    out = []
    tol = p.tol("weight")
    split_kinds = set(p.setting("weight_split_classes"))
    for cat in ev.categories:
        ws = [i.weight.number for i in cat.indicators]
        total = sum((w for w in ws if w is not None), Decimal(0))
        if cat.points is not None and abs(total - cat.points) > tol:
            out.append(_f("WEIGHT_SUM", cat.cell, f"{cat.label}各项权重之和为{plain(total)}，与该类分值{plain(cat.points)}不一致"))
        if cat.kind not in split_kinds or not ws:
            continue
        points = cat.points if cat.points is not None else total
        each = p.round(points / len(ws))
        remainder = p.round(points - each * (len(ws) - 1))
        # a profile written before this setting existed: the remainder on the last row, as then
        rows = p.data["settings"].get("weight_split_remainder_rows", ["last"])
        remainder_at = {k for k, where in ((0, "first"), (len(ws) - 1, "last")) if where in rows}
        for k, ind in enumerate(cat.indicators):
            w = ind.weight.number
            if w is None:
                out.append(_f("MISSING_VALUE", ind.weight.cell, f"“{ind.name}”未填写权重"))
                continue
            expected = remainder if k == len(ws) - 1 and k in remainder_at else each
            if abs(w - each) > tol and not (k in remainder_at and abs(w - remainder) <= tol):
                out.append(_f("WEIGHT_SPLIT", ind.weight.cell,
                              f"“{ind.name}”权重{plain(w)}，按该类分值{plain(points)}÷{len(ws)}项平均分摊应为{plain(expected)}"))
    return out


def _money(ev: SelfEvaluation, p: Profile) -> list[Finding]:
    out = []
    tol = p.tol("money")
    b, f = {k: v.number for k, v in ev.budget.items()}, {k: v.number for k, v in ev.funds.items()}
    if not b or not f:  # a form without the Suzhou money blocks (the national form)
        return out
    if None not in (b["initial"], b["adjustment"], b["allocated"], b["balance"]):
        expect = b["initial"] + b["adjustment"] - b["allocated"]
        if abs(expect - b["balance"]) > tol:
            out.append(_f("BUDGET_BALANCE", ev.budget["balance"].cell,
                          f"指标结余数{money(b['balance'])}万元，按“年初预算数+当年调整预算数-财政拨款数”应为{money(expect)}万元"))
    if None not in (f["allocated"], f["paid"], f["balance"]):
        expect = f["allocated"] - f["paid"]
        if abs(expect - f["balance"]) > tol:
            out.append(_f("FUNDS_BALANCE", ev.funds["balance"].cell,
                          f"资金结余、结转数{money(f['balance'])}万元，按“财政拨款数-实际支付数”应为{money(expect)}万元"))
    if None not in (f["balance"], f["carried"], f["recovered"]):
        parts = f["carried"] + f["recovered"]
        if abs(parts - f["balance"]) > tol:
            out.append(_f("FUNDS_BALANCE", ev.funds["carried"].cell,
                          f"结转数{plain(f['carried'])}+财政收回数{plain(f['recovered'])}={money(parts)}万元，与资金结余、结转数{money(f['balance'])}万元不一致"))
    total = ev.composition_total.number
    amounts = [i.amount.number for i in ev.sub_items]
    if total is not None and ev.sub_items:
        s = sum((a for a in amounts if a is not None), Decimal(0))
        if abs(s - total) > tol:
            out.append(_f("COMPOSITION_SUM", ev.composition_total.cell,
                          f"项目资金构成合计{money(total)}万元，各子项目金额之和为{money(s)}万元，相差{money(abs(s - total))}万元"))
    if total is not None and f["allocated"] is not None:
        alloc, paid = f["allocated"], f["paid"]
        if abs(total - alloc) > tol and (paid is None or abs(total - paid) > tol):
            paid_txt = f"，也不等于实际支付数{money(paid)}万元" if paid is not None else ""
            out.append(_f("COMPOSITION_VS_FUNDS", ev.composition_total.cell,
                          f"项目资金构成合计{money(total)}万元，与财政拨款数{money(alloc)}万元相差{money(abs(total - alloc))}万元{paid_txt}"))
    return out


# A number in the prose, with what may follow it: a multiplier, then (checked per indicator)
# the indicator's unit. 13000人以上, 200个村庄, 9000亿元, 97%.
_PROSE_NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(万亿|千万|百万|亿|万|千)?")
# Words and characters that say nothing about which indicator is meant (项目, 数量, 以上 …).
_GENERIC_WORDS = re.compile("|".join(sorted((
    "项目", "数量", "个数", "人数", "次数", "户数", "家数", "指标", "完成", "实现", "达到", "年度", "全年", "当年",
    "支持", "扶持", "累计", "合计", "共计", "不低于", "不少于", "不超过", "以上", "以下", "以内", "左右"), key=len, reverse=True)))
_GENERIC_CHARS = frozenset("个人次家项率的和及与等约余多共") | frozenset("0123456789.,，、；;：:（）()“”\"'《》<>≥≤=≈%‰ ")


def _distinctive(text: str) -> set[str]:
    return set(_GENERIC_WORDS.sub(" ", text)) - _GENERIC_CHARS


_LONGER_UNITS = ("个百分点", "百分点", "人次", "家次", "户次", "个月", "万人次")
_PHRASE_SPLIT = re.compile(r"[；;。\n，,]")


def _goals(ev: SelfEvaluation, p: Profile) -> list[Finding]:
    """Targets quoted in the 年度绩效目标 text that differ from the table.

    Each number in the text is tried against the indicators whose target is a quantity in the
    unit written right after the number (万/亿 convert: 1.2亿元 is 12000万元). Among those, the
    indicator meant must have at least ``goal_name_coverage`` of its name's distinctive
    characters in the phrase (资助家庭经济困难学生13000人以上 → 资助家庭经济困难学生人数; 完成200个
    村庄环境整治 → 整治村庄数量), and be clearly ahead of every other such indicator
    (``goal_margin``, on the balance of that cover and the share of the phrase its name explains).
    No finding when unsure: no such indicator, two about equally likely, or any of them with a
    target equal to the number.
    """
    section = ev.narrative.get("年度绩效目标")
    if section is None or not section.text:
        return []
    need = Decimal(str(p.setting("goal_name_coverage")))
    margin = Decimal(str(p.setting("goal_margin")))
    candidates = []
    for i in ev.indicators:
        if i.kind == "input":
            continue
        target = values.parse(i.target.reading)
        chars = _distinctive(i.name)
        if target.kind == "quantity" and target.unit and chars and target.value is not None:
            candidates.append((i, target, chars))
    if not candidates:
        return []
    # the unit written after a number is the longest known one (2个百分点 is not 2个, 5人次 not 5人)
    units = sorted({t.unit for _, t, _ in candidates} | set(_LONGER_UNITS), key=len, reverse=True)
    out, seen = [], set()
    for phrase in _PHRASE_SPLIT.split(section.text):
        phrase = phrase.strip()
        if not phrase:
            continue
        for m in _PROSE_NUMBER.finditer(phrase):
            number = Decimal(m.group(1).replace(",", ""))
            after = phrase[m.end():]
            written = m.group(2) or ""
            context = _distinctive(phrase[:m.start()] + " " + phrase[m.end():])
            written_unit = next((u for u in units if after.startswith(u)), None)
            scored = []
            for ind, target, chars in candidates:
                if target.unit != written_unit:
                    continue
                said = number * Decimal(10) ** values.MULTIPLIERS.get(written, 0)
                shared = len(chars & context)
                cover = Decimal(shared) / len(chars)
                if cover < need:
                    continue
                # rank by the balance of cover and precision (F1): the longer name wins only when
                # the phrase also names what the shorter one lacks (获评省级示范智能车间 vs 省级智能车间)
                f1 = 2 * Decimal(shared) / (len(chars) + len(context))
                scored.append((f1, ind, target, said, chars))
            if not scored:
                continue
            scored.sort(key=lambda x: x[0], reverse=True)
            best, others = scored[0], scored[1:]
            # clearly meant: ahead of every other by the margin, or a more specific name that the
            # phrase covers whole (获评省级示范智能车间数量 over 省级智能车间数量)
            whole = best[4] <= context
            if any(not (best[0] - o[0] >= margin or (whole and o[4] < best[4])) for o in others):
                continue
            if any(s[3] == s[2].value for s in scored):
                continue
            f1, ind, target, said, _ = best
            if said != target.value and ind.cell not in seen:
                seen.add(ind.cell)
                out.append(_f("GOAL_MISMATCH", ind.target.cell,
                              f"“{ind.name}”表中目标值为{target.display}，而年度绩效目标（{section.cell}）写的是“{phrase}”"))
    return out
