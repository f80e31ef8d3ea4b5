"""Build the one ``Review`` every writer takes, and its stable JSON form."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from . import checks, national_rules, rules
from .errors import ReadError
from .fmt import json_number as num  # noqa: F401  (review.num: the old public name)
from .model import CategoryTotal, Review, SelfEvaluation, Value
from .reader import read
from .safety import DEFAULT_LIMITS, Limits

DEFAULT_PROFILE = "suzhou-2020"


def profile_for(ev: SelfEvaluation, profile: str | rules.Profile = "auto") -> rules.Profile:
    """The profile to score ``ev`` by: the one given, or under "auto" its form's default."""
    from .layout import LAYOUTS

    if isinstance(profile, rules.Profile):
        p = profile
    elif profile in ("auto", "", None):
        p = rules.load_profile(next((m.DEFAULT_PROFILE for m in LAYOUTS if m.NAME == ev.form), DEFAULT_PROFILE))
    else:
        p = rules.load_profile(profile)
    if ev.form not in p.layouts:  # e.g. --profile hubei-2020 on a Suzhou workbook: its rules do not apply
        titles = {m.NAME: m.TITLE for m in LAYOUTS}
        forms = "、".join(f"《{titles.get(n, n)}》" for n in p.layouts)
        raise ReadError("PROFILE_NOT_FOR_FORM",
                        f"评分规则配置“{p.name}”适用于{forms}，而本文件是《{titles.get(ev.form, ev.form)}》", ev.file,
                        hint="请使用 --profile auto（按表式自动选择）或适用于该表式的配置（selfeval-xl profiles 列出全部）")
    return p


def review(ev: SelfEvaluation, profile: str | rules.Profile = "auto") -> Review:
    p = profile_for(ev, profile)
    scored = tuple(rules.score(i, p) for i in ev.indicators)
    findings = tuple(checks.run(ev, scored, p))
    by_ind = {id(s.indicator): s for s in scored}
    cats = []
    for c in ev.categories:
        ss = [by_ind[id(i)] for i in c.indicators]
        cats.append(CategoryTotal(
            c.name, c.points,
            sum((i.weight.number or Decimal(0) for i in c.indicators), Decimal(0)),
            sum((i.self_score.number or Decimal(0) for i in c.indicators), Decimal(0)),
            sum((s.score for s in ss), Decimal(0)),
        ))
    self_total = sum((c.self for c in cats), Decimal(0))
    computed_total = sum((c.computed for c in cats), Decimal(0))
    execution = {}
    if p.scheme == "ratio":  # 总分 = 预算执行率得分 + Σ 得分, under the profile's caps
        ex = national_rules.execution(ev, p)
        t = national_rules.totals(ev, scored, p, ex)
        self_total, computed_total = t.self_total, t.computed_total
        if ex is not None:
            cap = f"；{t.cap_basis}" if t.cap is not None else ""  # the cap is part of the written basis
            execution = {"execution_self": ex.self, "execution_score": ex.score, "execution_basis": ex.basis + cap}
    return Review(
        evaluation=ev, profile=p.name, scored=scored, findings=findings, categories=tuple(cats),
        self_total=self_total, computed_total=computed_total,
        grade=national_rules.grade_of(computed_total, p), **execution,
    )


def review_file(path: str | Path, profile: str | rules.Profile = "auto", limits: Limits = DEFAULT_LIMITS) -> Review:
    return review(read(path, limits), profile)


def _value(v: Value):
    return num(v.number) if v.number is not None else (v.text or None)


def evaluation_json(ev: SelfEvaluation) -> dict:
    out = {
        "file": ev.file,
        "sheet": ev.sheet,
        "project": {"name": ev.project_name.text, "year": _value(ev.year), "department": ev.department.text},
        "budget": {k: num(v.number) for k, v in ev.budget.items()},
        "funds": {k: num(v.number) for k, v in ev.funds.items()},
        "composition": {
            "total": num(ev.composition_total.number),
            "items": [{"name": i.name, "amount": num(i.amount.number), "cell": i.amount.cell} for i in ev.sub_items],
        },
        "indicators": [
            {"category": i.category, "name": i.name, "target": i.target.text, "weight": num(i.weight.number),
             "actual": i.actual.text, "self_score": num(i.self_score.number), "cell": i.cell}
            for i in ev.indicators
        ],
        "totals": {"stated": num(ev.stated_total.number),
                   "self": num(sum((i.self_score.number or Decimal(0) for i in ev.indicators), Decimal(0)))},
        "narrative": {h: n.text for h, n in ev.narrative.items()},
        "form": ev.form,
    }
    if ev.form == "national":  # 财预〔2020〕10号: 实施单位, the 项目资金 block, 总分 row, 二级 and 偏差原因
        out["project"]["implementer"] = ev.implementer.text
        ex = ev.execution
        out["execution"] = None if ex is None else {
            "unit": ex.unit, "cell": ex.cell,
            "rows": {k: {"label": row.label, "cell": row.cell,
                         **{f: (num(v.number) if v.number is not None else (v.text or None))
                            for f, v in (("initial", row.initial), ("annual", row.annual), ("executed", row.executed),
                                         ("points", row.points), ("rate", row.rate), ("score", row.score))}}
                     for k, row in ex.rows.items()},
        }
        out["totals"]["points"] = num(ev.total_points.number)
        out["printed_grade"] = ev.grade.text or None
        for item, ind in zip(out["indicators"], ev.indicators):
            item.update(subcategory=ind.subcategory, reason=ind.reason.text)
    return out


def to_json(r: Review) -> dict:
    """``check --json``: the evaluation plus scores and findings (keys only ever added)."""
    out = evaluation_json(r.evaluation)
    out["profile"] = r.profile
    out["totals"] = {**out["totals"], "stated": num(r.stated_total), "self": num(r.self_total), "computed": num(r.computed_total)}
    out["categories"] = [
        {"name": c.name, "points": num(c.points), "weight_sum": num(c.weight_sum), "self": num(c.self), "computed": num(c.computed)}
        for c in r.categories
    ]
    for item, s in zip(out["indicators"], r.scored):
        item.update({
            "computed_score": num(s.score),
            "completion": num(s.completion.quantize(Decimal("0.01"))) if s.completion is not None else None,
            "basis": s.basis,
            "measure": {"target": s.target.to_dict(), "actual": s.actual.to_dict()},
        })
    out["grade"] = r.grade
    if r.execution_score is not None:
        out["execution"] = {**(out.get("execution") or {}),  # the block as read (evaluation_json), plus its score
                            "self": num(r.execution_self), "computed": num(r.execution_score), "basis": r.execution_basis}
    out["findings"] = [{"code": f.code, "severity": f.severity, "cell": f.cell, "message": f.message} for f in r.findings]
    return out
