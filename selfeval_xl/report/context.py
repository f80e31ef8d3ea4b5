"""What a report says: ``build_context(review)`` turns a ``Review`` into the template's
variables (every number already formatted text). Pure: no docx, no template, no files;
one function per section of the report (national: ``_national``).

The variables are listed in ``selfeval_xl/report/__init__.py``.
"""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ..fmt import cents, money, percent
from ..fmt import points as score
from ..fmt import year_label as fmt_year_label
from ..labels import finding_label, profile_title
from ..model import Review, Value, severity_label, severity_rank

NARRATIVE_KEYS = {
    "overview": "项目概况",
    "goal": "项目总目标",
    "annual_goal": "年度绩效目标",
    "implementation": "项目实施情况",
    "effect": "项目管理成效",
    "problems": "项目管理存在的问题及原因",
    "suggestions": "进一步加强项目管理的建议",
}
NOT_FILLED = "（自评表未填写。）"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


# --------------------------------------------------------------------------- formatting


def clean(text: str) -> str:
    """Characters Word cannot store (control characters) removed; tabs become spaces."""
    return _CONTROL.sub("", str(text).replace("\t", " "))


def paragraphs(text: str | None) -> list[str]:
    """The narrative's paragraphs: one per line, indentation dropped (the style indents)."""
    out = [clean(line).strip().strip("\u3000").strip() for line in (text or "").splitlines()]
    return [p for p in out if p]


def _value_text(v: Value) -> str:
    if v.text:
        return clean(v.text).strip()
    return score(v.number) if v.number is not None else ""


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith(("。", "！", "？", "；")) else text + "。"


# --------------------------------------------------------------------------- context


def build_context(review: Review, findings: bool = True) -> dict[str, Any]:
    """The template variables (see the module docstring). ``chart_png`` holds the chart's PNG
    bytes; ``render_report`` turns it into the ``chart`` image."""
    from ..chart import bar_chart

    ev = review.evaluation
    year = _value_text(ev.year)
    year_label = fmt_year_label(year)
    project = {
        "name": clean(ev.project_name.text).strip() or "（未填写项目名称）",
        "year": year,
        "year_label": year_label,
        # the title's year: none when the project's name already says it (no year twice)
        "title_year": "" if year and year.removesuffix("年") in clean(ev.project_name.text) else year_label,
        "department": clean(ev.department.text).strip() or "（未填写）",
        "file": ev.file,
    }

    by_heading = {h: paragraphs(n.text) or [NOT_FILLED] for h, n in ev.narrative.items()}
    narrative: dict[str, Any] = {k: by_heading.get(h) or [NOT_FILLED] for k, h in NARRATIVE_KEYS.items()}
    narrative["by_heading"] = by_heading

    b = {k: ev.budget[k].number if k in ev.budget else None for k in ("initial", "adjustment", "allocated", "balance")}
    budget = {k: money(v) for k, v in b.items()}
    parts = [f"{label}{money(b[k])}万元" for k, label in (("initial", "年初预算数"),
             ("adjustment", "当年使用上年结余、结转及当年调整预算数"), ("allocated", "财政拨款数"), ("balance", "指标结余数"))
             if b[k] is not None]
    budget["sentence"] = (f"{year_label}项目" + "，".join(parts) + "。") if parts else "自评表未填写市级预算执行情况。"

    f = {k: ev.funds[k].number if k in ev.funds else None for k in ("allocated", "paid", "balance", "carried", "recovered")}
    funds: dict[str, Any] = {k: money(v) for k, v in f.items()}
    allocated = f["allocated"] if f["allocated"] is not None else b["allocated"]
    rate = (f["paid"] / allocated * 100) if f["paid"] is not None and allocated else None
    funds["rate"] = percent(rate)
    if rate is not None:
        extra = ""
        if f["balance"] is not None:
            extra = f"，资金结余、结转数{money(f['balance'])}万元"
            if f["carried"] is not None or f["recovered"] is not None:
                extra += f"（其中结转数{money(f['carried']) or '—'}万元，财政收回数{money(f['recovered']) or '—'}万元）"
        funds["sentence"] = (f"财政拨款数{money(allocated)}万元，实际支付数{money(f['paid'])}万元{extra}，"
                             f"资金执行率（实际支付数÷财政拨款数）为{percent(rate)}。")
    elif allocated == 0 and f["paid"] is not None:
        funds["sentence"] = f"财政拨款数为0，实际支付数{money(f['paid'])}万元，无法计算资金执行率。"
    else:
        funds["sentence"] = "财政拨款数或实际支付数未填写，无法计算资金执行率。"

    items = [{"no": str(i), "name": clean(s.name).strip(), "amount": money(s.amount.number) or _value_text(s.amount),
              "cell": s.amount.cell} for i, s in enumerate(ev.sub_items, 1)]
    item_sum = sum((s.amount.number for s in ev.sub_items if s.amount.number is not None), Decimal(0))
    total = ev.composition_total.number if ev.composition_total.number is not None else (item_sum if items else None)
    comp_sentence = f"项目资金构成共{len(items)}个子项目，实际金额合计{money(total)}万元" if total is not None else \
        f"项目资金构成共{len(items)}个子项目，未填写合计"
    if ev.composition_total.number is not None and items and cents(item_sum) != cents(ev.composition_total.number):
        comp_sentence += f"（各子项目金额之和为{money(item_sum)}万元，与合计不一致）"
    if total is not None and allocated is not None and cents(total) != cents(allocated):
        gap = total - allocated
        comp_sentence += f"，比财政拨款数{money(allocated)}万元{'多' if gap > 0 else '少'}{money(abs(gap))}万元"
    composition = {"sub_items": items, "total": money(total), "count": len(items), "sentence": comp_sentence + "。"}

    mismatch_cells = {x.cell for x in review.findings if x.code == "SCORE_MISMATCH"}
    by_indicator = {id(x.indicator): x for x in review.scored}
    categories = []
    below, over = [], []
    totals_by_name = {c.name: c for c in review.categories}
    for cat in ev.categories:
        rows = []
        for ind in cat.indicators:
            s = by_indicator.get(id(ind))
            mismatch = ind.self_score.cell in mismatch_cells
            row = {
                "name": clean(ind.name).strip(), "target": _value_text(ind.target), "weight": score(ind.weight.number),
                "actual": _value_text(ind.actual), "self_score": score(ind.self_score.number) if ind.self_score.number is not None
                else _value_text(ind.self_score),
                "score": score(s.score) if s else "", "completion": percent(s.completion, "0.1") if s else "",
                "basis": clean(s.basis) if s else "", "cell": ind.cell,  # completion as the rules' basis prints it
                "mismatch": mismatch, "fill": "FCE4D6" if mismatch else "FFFFFF", "category": cat.name,
            }
            if ev.form == "national":
                row["subcategory"] = clean(ind.subcategory).strip()
                row["reason"] = clean(ind.reason.text).strip()
            rows.append(row)
            w, own = ind.weight.number, ind.self_score.number
            if s is None:
                continue
            # the department's report: below full marks by its own self-score
            if w is not None and own is not None and own < w - Decimal("0.005"):
                below.append(_deviation(row, deduction=w - own))
            if "OVER_ACHIEVED" in s.flags:
                over.append(_deviation(row))
        t = totals_by_name.get(cat.name)
        label = clean(cat.label or cat.name).strip()
        categories.append({
            "name": cat.name, "label": label, "label_cell": _break_points(label), "points": score(cat.points), "count": len(rows),
            "weight_sum": score(t.weight_sum if t else None), "self": score(t.self if t else None),
            "computed": score(t.computed if t else None), "indicators": rows,
        })
    for lst in (below, over):
        for i, d in enumerate(lst, 1):
            d["no"] = str(i)

    n_ind = sum(c["count"] for c in categories)
    points = ev.performance_points
    if points is None and all(c.points is not None for c in ev.categories) and ev.categories:
        points = sum((c.points for c in ev.categories), Decimal(0))
    weight_sum = sum((c.weight_sum for c in review.categories), Decimal(0))
    stated = review.stated_total
    kinds = "、".join(c.name.removesuffix("目标") for c in ev.categories)
    # The body is the department's own account (its self-scores); what the rules would give is
    # in the 自查提示 annex, and the bureau's scores in its 复核意见书 (finalize).
    sentence = (f"项目绩效实现情况{'满分' + score(points) + '分，' if points is not None else ''}"
                f"共设{kinds}{len(ev.categories)}类{n_ind}项指标，自评分合计{score(review.self_total)}分"
                f"（表内填报合计{score(stated) + '分' if stated is not None else '未填写'}）。")
    n_mis = sum(1 for c in categories for r in c["indicators"] if r["mismatch"])
    table_note = "表5列出全部指标的目标值、权重、实际完成值和自评分"
    table_note += f"；其中{n_mis}项自评分与评分规则不一致，见附件自查提示。" if n_mis and findings else "。"
    totals = {
        "label": ev.performance_label or "项目绩效实现情况", "points": score(points), "count": str(n_ind),
        "weight_sum": score(weight_sum), "stated": score(stated), "self": score(review.self_total),
        "computed": score(review.computed_total), "sentence": sentence, "table_note": table_note,
    }

    lost = sum((d["deduction"] for d in below), Decimal(0))
    dev_sentence = f"按自评分，{len(below)}项指标未得满分" + (f"，合计扣减{score(lost)}分" if below else "")
    dev_sentence += f"；{len(over)}项指标超额完成，目标值设定是否合理需予以说明。" if over else "；没有超额完成的指标。"
    for d in below + over:
        d.pop("deduction", None)
    deviation = {"below": below, "over": over, "sentence": dev_sentence}

    fs = sorted(review.findings, key=lambda x: severity_rank(x.severity)) if findings else []
    counts = review.severity_counts()
    finding_rows = [{"no": str(i), "code": x.code, "label": finding_label(x.code, x.severity),
                     "severity": severity_label(x.severity),
                     "severity_code": x.severity, "cell": x.cell or "（整个文件）", "message": clean(x.message)}
                    for i, x in enumerate(fs, 1)]
    rules_title = profile_title(review.profile)
    if review.findings:
        findings_sentence = (f"按《{rules_title}》逐项核对本表，发现以下{len(review.findings)}条需自查的问题"
                             f"（错误{counts.get('error', 0)}条，警告{counts.get('warning', 0)}条，提示{counts.get('info', 0)}条），"
                             "请在报送前逐项核对、修改或说明。")
    else:
        findings_sentence = f"按《{rules_title}》逐项核对本表，未发现需自查的问题。"

    chart_png = bar_chart([(c.name, c.points, t.self)
                           for c, t in zip(ev.categories, review.categories)]) if ev.categories else None
    context = {
        "project": project, "narrative": narrative, "budget": budget, "funds": funds, "composition": composition,
        "categories": categories, "totals": totals, "deviation": deviation,
        "show_findings": bool(findings), "findings": finding_rows, "findings_sentence": findings_sentence,
        "counts": {k: str(v) for k, v in counts.items()}, "profile": review.profile, "profile_title": rules_title,
        "chart": None, "chart_png": chart_png,
    }
    if ev.form == "national":
        context["national"] = _national(review, context)
    return context


def _self_grade(total: Decimal | None, profile: str) -> str | None:
    """The 等级 a self-assessed total earns by the profile's grade bands (None without bands)."""
    from ..national_rules import grade_of
    from ..rules import load_profile

    try:
        return grade_of(total, load_profile(profile)) if total is not None else None
    except (ValueError, KeyError):
        return None


def _national(review: Review, ctx: dict[str, Any]) -> dict[str, Any]:
    """The ``national`` variables: the national form's 项目资金, 年度总体目标, 总分 and 等级, 偏差原因."""
    ev = review.evaluation
    project = ctx["project"]
    implementer = clean(ev.implementer.text).strip() or "（未填写）"
    unit = ev.execution.unit if ev.execution else "万元"

    def amount(v: Value) -> str:
        return money(v.number) if v.number is not None else _value_text(v)

    rows = []
    for key, r in (ev.execution.rows.items() if ev.execution else ()):
        computed = score(review.execution_score) if key == "total" and review.execution_score is not None else ""
        rows.append({"label": clean(r.label).replace("\n", "").strip(), "initial": amount(r.initial), "annual": amount(r.annual),
                     "executed": amount(r.executed), "points": _value_text(r.points), "rate": _value_text(r.rate),
                     "score": _value_text(r.score), "computed": computed})
    total = ev.execution.total if ev.execution else None
    if total is not None and total.annual.number is not None and total.executed.number is not None:
        rate = total.executed.number / total.annual.number * 100 if total.annual.number else None
        said = f"全年预算数{money(total.annual.number)}{unit}，全年执行数{money(total.executed.number)}{unit}"
        said += f"，预算执行率{percent(rate)}" if rate is not None else "，全年预算数为0，无法计算预算执行率"
        if total.points.number is not None:
            said += f"；预算执行率分值{score(total.points.number)}分，自评得分{_value_text(total.score) or '未填写'}"
            said += "分" if total.score.number is not None else ""
        execution_sentence = said + "。"
    else:
        execution_sentence = "自评表未填写全年预算数或全年执行数，无法计算预算执行率。"

    goal = {"expected": paragraphs(ev.narrative["年度绩效目标"].text) if "年度绩效目标" in ev.narrative else [],
            "actual": paragraphs(ev.narrative["年度总体目标实际完成情况"].text) if "年度总体目标实际完成情况" in ev.narrative else []}
    goal = {k: v or [NOT_FILLED] for k, v in goal.items()}

    classes = []
    exec_points = total.points.number if total is not None else None
    if total is not None:
        classes.append({"name": "预算执行率", "points": score(exec_points), "count": "", "weight_sum": score(exec_points),
                        "self": _value_text(total.score), "computed": score(review.execution_score)})
    for c in ctx["categories"]:
        classes.append({"name": c["name"], "points": c["points"], "count": str(c["count"]), "weight_sum": c["weight_sum"],
                        "self": c["self"], "computed": c["computed"]})
    weight_sum = sum((c.weight_sum for c in review.categories), Decimal(0)) + (exec_points or Decimal(0))
    stated = review.stated_total
    printed_grade = ev.grade.text
    # The department's report (issue 17): its own total and the 等级 that total earns by the form's
    # grade bands; the bureau's re-scored total and grade are in the 复核意见书.
    grade = _self_grade(stated, review.profile) or ""
    sentence = f"本项目共设{'、'.join(c['name'] for c in ctx['categories'])}{len(ctx['categories'])}类{ctx['totals']['count']}项绩效指标"
    sentence += "，另设预算执行率" if total is not None else ""
    sentence += f"。自评总分{score(stated) + '分' if stated is not None else '未填写'}"
    if printed_grade:
        sentence += f"，自评等级“{printed_grade}”"
    if grade and grade != printed_grade:
        sentence += f"（按{profile_title(review.profile)}的等级划分，该分数对应等级为“{grade}”）"
    sentence += "。"
    # Review.self_total includes the 预算执行率 得分 once the review sets execution_self (model.Review);
    # a review that does not score the execution part leaves it out, so it is added from the form here.
    own = review.self_total
    if review.execution_self is None and total is not None and total.score.number is not None:
        own += total.score.number
    totals = {"points": _value_text(ev.total_points), "count": ctx["totals"]["count"], "weight_sum": score(weight_sum),
              "stated": score(stated), "self": score(own), "computed": score(review.computed_total), "grade": grade,
              "printed_grade": printed_grade, "sentence": sentence}

    table_note = "表3列出全部绩效指标的年度指标值、实际完成值、分值和自评得分；自查发现的问题见附件。"

    items = []
    for ind in ev.indicators:
        w, own = ind.weight.number, ind.self_score.number
        short = w is not None and own is not None and own < w - Decimal("0.005")  # by its own score
        reason = clean(ind.reason.text).strip()
        if not (short or reason):
            continue
        where = ind.category + (f"／{ind.subcategory}" if ind.subcategory else "")
        text = (f"{clean(ind.name).strip()}（{where}）：年度指标值{_value_text(ind.target) or '未填写'}，实际完成值"
                f"{_value_text(ind.actual) or '未填写'}；分值{score(w) or '—'}分，自评得分{score(own) if own is not None else '未填写'}"
                + ("分" if own is not None else "")
                + f"。偏差原因分析及改进措施：{_sentence(reason) if reason else '自评表未填写。'}")
        items.append({"no": str(len(items) + 1), "text": text})
    missing = sum(1 for d in items if d["text"].endswith("偏差原因分析及改进措施：自评表未填写。"))
    dev_sentence = (f"{len(items)}项指标未得满分或填写了偏差原因" + (f"，其中{missing}项未填写偏差原因分析及改进措施。" if missing else "。")
                    if items else "各项绩效指标均得满分，未填写偏差原因。")

    improvements = []
    for heading in ("改进措施", "存在问题"):
        n = ev.narrative.get(heading)
        if n and paragraphs(n.text) and _says_something(n.text):
            improvements += [f"{heading}：{p}" if heading == "存在问题" else p for p in paragraphs(n.text)]
    reasons = [(clean(i.name).strip(), clean(i.reason.text).strip()) for i in ev.indicators if _says_something(i.reason.text)]
    improvements += [f"{name}：{_sentence(r)}" for name, r in reasons]
    other = ev.narrative.get("其他需要说明事项")
    if other and paragraphs(other.text):
        improvements.append(f"其他需要说明事项：{_sentence(' '.join(paragraphs(other.text)))}")
    overview = (f"{project['name']}，主管部门为{project['department']}，实施单位为{implementer}；"
                f"本报告依据{project['year_label']}项目支出绩效自评表（{ev.file}）编写。")
    return {
        "implementer": implementer, "overview": overview,
        "execution": {"unit": unit, "rows": rows, "sentence": execution_sentence},
        "goal": goal, "classes": classes, "totals": totals, "table_note": table_note,
        "deviation": {"entries": items, "sentence": dev_sentence},
        "improvements": improvements or ["自评表未填写改进措施。"],
    }


def _says_something(text: str) -> bool:
    """A free text that says something (not empty, not 无 / / / —)."""
    t = clean(text or "").strip().strip("。.")
    return t not in ("", "无", "/", "-", "—", "——", "暂无")


def _break_points(label: str) -> str:
    """``产出目标（20分）`` -> ``产出目标\n（20分）`` (a line break in the narrow 类别 column)."""
    i = label.find("（")
    return label[:i] + "\n" + label[i:] if i > 0 else label


def _deviation(row: dict, deduction: Decimal | None = None) -> dict:
    comp = f"，完成率{row['completion']}" if row["completion"] else ""
    own = f"自评分{row['self_score']}分" if row["self_score"] else "未填写自评分"
    text = (f"{row['name']}（{row['category']}）：目标值{row['target'] or '未填写'}，实际完成值{row['actual'] or '未填写'}{comp}；"
            f"权重{row['weight'] or '—'}分，{own}。")
    return {"no": "", "name": row["name"], "category": row["category"], "target": row["target"], "actual": row["actual"],
            "completion": row["completion"], "weight": row["weight"], "self_score": row["self_score"], "score": row["score"],
            "basis": row["basis"], "text": text, "deduction": deduction}


