"""Findings of the national 项目支出绩效自评表 (财预〔2020〕10号): 项目资金 block, 总分, 一级 split,
偏差原因 and 等级. Called by ``checks.run`` for ``form == "national"`` after the shared indicator
findings; pure, same Finding shape, each message states both numbers and points at the cell.
"""
from __future__ import annotations

from decimal import Decimal

from . import national_rules as nr
from .checks import SEVERITY
from .fmt import money, plain
from .model import Finding, SelfEvaluation
from .rules import Profile, _pct

ZERO = Decimal(0)
SUB_ROWS = nr.SUB_ROWS
COLUMNS = {"initial": "年初预算数", "annual": "全年预算数", "executed": "全年执行数"}


def _f(code: str, cell: str, message: str) -> Finding:
    return Finding(code, SEVERITY[code], cell, message)


def run(ev: SelfEvaluation, scored, p: Profile) -> list[Finding]:
    ex = nr.execution(ev, p)
    return (_execution(ev, ex, p) + _rows_sum(ev, p) + _total(ev, scored, ex, p) + _class_weights(ev, ex, p)
            + _reasons(scored, p) + _grade(ev, p))


def _execution(ev: SelfEvaluation, ex: nr.ExecutionScore | None, p: Profile) -> list[Finding]:
    if ex is None:
        return []
    row = ev.execution.total
    out = [_f(code, cell, msg) for code, cell, msg in ex.notes]
    if ex.self is None:
        out.append(_f("MISSING_VALUE", row.score.cell, f"预算执行率未填写得分，按规则应得{plain(ex.score)}（{ex.basis}）"))
    elif abs(ex.self - ex.score) > p.tol("score"):
        out.append(_f("BUDGET_SCORE_MISMATCH", row.score.cell,
                      f"预算执行率得分{plain(ex.self)}，按规则应得{plain(ex.score)}（{ex.basis}），相差{plain(abs(ex.score - ex.self))}"))
    if ex.computed:
        readings = nr.printed_rates(row.rate)
        units = Decimal(str(p.data["execution"]["rate_tolerance_units"]))
        if readings and not any(abs(ex.rate - r) <= units * Decimal(1).scaleb(-d) for r, d in readings):
            shown = row.rate.text.strip() or plain(row.rate.number)
            out.append(_f("EXECUTION_RATE_MISMATCH", row.rate.cell,
                          f"填报的执行率{shown}，按全年执行数{money(row.executed.number)}÷全年预算数{money(row.annual.number)}"
                          f"应为{_pct(ex.rate)}"))
    return out


def _rows_sum(ev: SelfEvaluation, p: Profile) -> list[Finding]:
    """年度资金总额 = 当年财政拨款 + 上年结转资金 + 其他资金, per column where sub-rows are filled."""
    if ev.execution is None or ev.execution.total is None:
        return []
    rows, unit, tol = ev.execution.rows, ev.execution.unit, p.tol("money")
    subs = [rows[k] for k in SUB_ROWS if k in rows]
    out = []
    for col, label in COLUMNS.items():
        total = getattr(rows["total"], col).number
        parts = [getattr(r, col).number for r in subs]
        if total is None or all(x is None for x in parts):
            continue
        if None in parts and not p.data["execution"]["blank_sub_row_is_zero"]:
            continue
        s = sum((x or ZERO for x in parts), ZERO)
        if abs(s - total) > tol:
            terms = "+".join(f"{r.label.replace('其中：', '').strip('：: ')}{money(x or ZERO)}" for r, x in zip(subs, parts))
            out.append(_f("BUDGET_ROWS_SUM", getattr(rows["total"], col).cell,
                          f"年度资金总额的{label}为{money(total)}{unit}，而{terms}={money(s)}{unit}，相差{money(abs(s - total))}{unit}"))
    return out


def _total(ev: SelfEvaluation, scored, ex, p: Profile) -> list[Finding]:
    t = nr.totals(ev, scored, p, ex)
    out = []
    stated = ev.stated_total.number
    parts = "预算执行率得分与各项指标得分之和" if ex is not None else "各项指标得分之和"
    capped = f"（{t.cap_basis}）" if t.cap is not None and t.self_sum > t.cap else ""
    if stated is None:
        out.append(_f("MISSING_VALUE", ev.stated_total.cell, f"未填写总分（{parts}为{plain(t.self_total)}{capped}）"))
    elif abs(stated - t.self_total) > p.tol("score"):
        out.append(_f("TOTAL_MISMATCH", ev.stated_total.cell,
                      f"填报总分{plain(stated)}，而{parts}为{plain(t.self_sum)}{capped}，总分应为{plain(t.self_total)}，"
                      f"相差{plain(abs(t.self_total - stated))}"))
    weights = sum((s.indicator.weight.number or ZERO for s in scored), ZERO) + (ex.points if ex is not None else ZERO)
    points = ev.total_points.number if ev.total_points.number is not None else Decimal(str(p.data["total"]["points"]))
    if abs(weights - points) > p.tol("weight"):
        cell = ev.total_points.cell or ev.stated_total.cell
        with_ex = "（含预算执行率）" if ex is not None else ""
        out.append(_f("WEIGHT_SUM", cell, f"各项分值之和{with_ex}为{plain(weights)}，与总分分值{plain(points)}不一致"))
    return out


def _class_weights(ev: SelfEvaluation, ex, p: Profile) -> list[Finding]:
    """CLASS_WEIGHTS (info): the 一级 split differs from the profile's default (allowed by the rules)."""
    split = p.data.get("class_weights", {}).get("split", [])
    if not split:
        return []
    have: dict[str, Decimal] = {}
    cells: dict[str, str] = {}
    for c in ev.categories:
        pts = c.points if c.points is not None else sum((i.weight.number or ZERO for i in c.indicators), ZERO)
        have[c.kind] = have.get(c.kind, ZERO) + pts
        cells.setdefault(c.kind, c.cell)
    if ex is not None:
        have["execution"] = ex.points
        cells["execution"] = ev.execution.total.points.cell or ev.execution.total.cell
    shown, wanted, differ = [], [], []
    for g in split:
        got = sum((have.get(k, ZERO) for k in g["kinds"]), ZERO)
        want = Decimal(str(g["points"]))
        shown.append(f"{g['name']}{plain(got)}")
        wanted.append(f"{g['name']}{plain(want)}")
        if abs(got - want) > p.tol("weight"):
            differ.append(g)
    if not differ:
        return []
    first = next((cells[k] for g in differ for k in g["kinds"] if k in cells), "")
    cell = first or (ev.categories[0].cell if ev.categories else ev.stated_total.cell)
    return [_f("CLASS_WEIGHTS", cell, f"一级指标分值为{'、'.join(shown)}，与本规则的默认分配（{'、'.join(wanted)}）不同；"
                                      f"财预〔2020〕10号允许按项目实际调整，仅作提示")]


def _reasons(scored, p: Profile) -> list[Finding]:
    """DEVIATION_REASON_MISSING: below 分值 (self or rule score) with an empty 偏差原因 cell; and
    MISSING_VALUE for a blank 分值 (a row without one is an indicator only when it has values)."""
    empty = {"", *p.setting("empty_reason_marks")}
    above = Decimal(str(p.setting("deviation_reason_above_completion")))
    tol = p.tol("score")
    out = []
    for s in scored:
        ind = s.indicator
        w, own = ind.weight.number, ind.self_score.number
        if w is None:
            out.append(_f("MISSING_VALUE", ind.weight.cell, f"“{ind.name}”未填写分值，按0分计"))
            continue
        if w <= 0:
            continue
        if "".join(ind.reason.text.split()) not in empty:
            continue
        if (own is not None and own < w - tol) or s.score < w - tol:
            said = f"自评分{plain(own)}，" if own is not None else ""
            out.append(_f("DEVIATION_REASON_MISSING", ind.reason.cell or ind.cell,
                          f"“{ind.name}”分值{plain(w)}，{said}规则得分{plain(s.score)}，未达满分但未填写偏差原因分析及改进措施"))
        elif above and s.completion is not None and s.completion >= above:
            out.append(_f("DEVIATION_REASON_MISSING", ind.reason.cell or ind.cell,
                          f"“{ind.name}”完成比例{_pct(s.completion)}，达到{_pct(above)}及以上，未填写偏差原因分析及改进措施"))
    return out


def _grade(ev: SelfEvaluation, p: Profile) -> list[Finding]:
    """GRADE_MISMATCH: the printed 等级 is not the grade of the stated 总分."""
    if ev.grade.blank or not p.data.get("total_grades"):
        return []
    stated = ev.stated_total.number
    printed = nr.read_grade(ev.grade.text or plain(ev.grade.number), p)
    if printed not in p.data["total_grades"]:
        names = "、".join(p.data["total_grades"])
        return [_f("GRADE_MISMATCH", ev.grade.cell, f"填报的等级“{ev.grade.text.strip()}”不是本规则的等级（{names}）")]
    expected = nr.grade_of(stated, p)
    if expected is None or expected == printed:
        return []
    return [_f("GRADE_MISMATCH", ev.grade.cell,
               f"填报的等级为“{printed}”，而总分{plain(stated)}对应的等级为“{expected}”（{_bands_text(p)}）")]


def _bands_text(p: Profile) -> str:
    items = sorted(p.data["total_grades"].items(), key=lambda kv: -Decimal(str(kv[1])))
    out = []
    for k, (g, low) in enumerate(items):
        if k == 0:
            out.append(f"{g}≥{plain(Decimal(str(low)))}")
        elif Decimal(str(low)) > 0:
            out.append(f"{g}{plain(Decimal(str(low)))}～{plain(Decimal(str(items[k - 1][1])))}")
        else:
            out.append(f"{g}<{plain(Decimal(str(items[k - 1][1])))}")
    return "，".join(out)

