"""Score the national 项目支出绩效自评表 (财预〔2020〕10号) by a "ratio" profile.

Pure, like rules.py: indicators (proportional scores, qualitative bands), the 预算执行率 row,
the 总分 with the profile's caps, and the 等级. Every number and open choice comes from the
profile (profiles/national-2020.toml and the regional files extending it); each branch below
names the setting it follows, so a new province is a TOML file, not code.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from . import values
from .fmt import money, plain, to_decimal
from .model import Indicator, Scored, SelfEvaluation, Value
from .rules import Profile, _date_key, _pct, _qty, _rate, _same_words

HUNDRED = Decimal(100)
ZERO = Decimal(0)




# --- qualitative bands -------------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    key: str  # met | partial | not_met
    label: str  # 达成年度指标 …
    lo: Decimal  # fraction of 分值
    hi: Decimal
    phrases: tuple[str, ...]

    def describe(self) -> str:
        return f"{_pct(self.lo * HUNDRED)}～{_pct(self.hi * HUNDRED)}"


def bands(p: Profile) -> dict[str, Band]:
    return {k: Band(k, b["label"], to_decimal(b["from"]), to_decimal(b["to"]), tuple(b.get("phrases", ())))
            for k, b in p.data["qualitative"]["bands"].items()}


def band_of(a: values.Measure, t: values.Measure, p: Profile) -> str | None:
    """The band an actual's words put it in (met/partial/not_met), or None when they do not say."""
    q = p.data["qualitative"]
    text = "".join((a.display or a.text).split())
    # The phrase found first in the text wins, the longest on a tie: a qualifier comes before what
    # it qualifies (部分达成年度指标 is partial, 未达成年度指标 not met, 已达成年度指标 met).
    hits = [(text.find(ph), -len(ph), k) for k, b in bands(p).items() for ph in b.phrases if ph and ph in text]
    if hits:
        return min(hits)[2]
    if a.kind == "verdict" and a.verdict in bands(p):
        return a.verdict
    if a.kind == "grade" and a.grade in q.get("grades", {}):
        return q["grades"][a.grade]
    if q.get("same_words_met") and _same_words(t, a):
        return "met"
    return None


# --- one indicator -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Judgement:
    fraction: Decimal | None = None  # share of 分值 (full, proportional, 0)
    band: str | None = None  # or: a qualitative band, the self-score accepted within it
    keep: bool = False  # or: keep the self-score (unjudged)
    completion: Decimal | None = None
    basis: str = ""
    flags: tuple[str, ...] = ()
    forward: bool = True  # 正向/= (False: 反向), for over-achievement


def score_indicator(ind: Indicator, p: Profile) -> Scored:
    """The rule score of one national indicator, its completion and the basis sentence."""
    if p.scheme != "ratio":
        raise ValueError(f"规则配置“{p.name}”的评分方式“{p.scheme}”未知（可用：curves、ratio）")
    t = values.parse(ind.target.reading)  # a formatted cell (0.972 shown as 97.2%) reads as shown
    a = values.parse(ind.actual.reading)
    weight = ind.weight.number if ind.weight.number is not None and ind.weight.number > 0 else ZERO
    j = _judge(t, a, p)
    basis = j.basis
    if j.band is not None:
        points, said = _band_points(j.band, ind.self_score.number, weight, p)
        basis += said
    elif j.keep:
        points = p.round(min(max(ind.self_score.number or ZERO, ZERO), weight))
    else:
        points = p.round(weight * j.fraction)
        basis += "，得满分" if j.fraction == 1 else ("，得0分" if j.fraction == 0 else f"，得{plain(points)}分")
    points, basis = _over_target_deduction(points, j, basis, p)
    return Scored(ind, points, j.completion, basis, t, a, j.flags)


def _judge(t, a, p: Profile) -> _Judgement:
    q = p.data["qualitative"]
    if a.kind == "empty":
        return _Judgement(fraction=ZERO, basis="未填写实际完成值且无说明", flags=("MISSING_VALUE",))
    if t.kind == "quantity":
        return _quantity(t, a, p)
    if t.kind == "empty":
        return _Judgement(fraction=ZERO, basis="未填写年度指标值，无法评价", flags=("MISSING_VALUE",))
    missed = p.data["quantity"]["missed_date_or_rank_band"]
    if t.kind == "rank" and a.kind == "rank" and a.scope == t.scope and a.position and t.position:
        if a.position <= t.position:
            return _Judgement(fraction=Decimal(1), basis=f"排名目标“{t.display}”，实际“{a.display}”，达到目标")
        return _Judgement(band=missed, basis=f"排名目标“{t.display}”，实际“{a.display}”，未达到目标")
    if t.kind == "date" and a.kind == "date" and t.date and a.date:
        if _date_key(a.date, t.date) <= _date_key(t.date, a.date):
            return _Judgement(fraction=Decimal(1), basis=f"时限目标“{t.display}”，实际“{a.display}”，按时完成")
        return _Judgement(band=missed, basis=f"时限目标“{t.display}”，实际“{a.display}”，未按时完成")
    key = band_of(a, t, p)
    if key is not None:
        return _Judgement(band=key, basis=f"定性指标，实际“{a.text.strip()}”")
    if q["unjudged_keeps_self_score"]:
        return _Judgement(keep=True, flags=("VALUE_UNPARSED",),
                          basis=f"定性指标“{t.text.strip()}”与实际“{a.text.strip()}”表述不同，无法按规则判定所属档次，暂采用自评分，请人工复核")
    return _Judgement(fraction=ZERO, flags=("VALUE_UNPARSED",),
                      basis=f"实际“{a.text.strip()}”无法判定是否达成“{t.text.strip()}”")


def _quantity(t, a, p: Profile) -> _Judgement:
    q = p.data["quantity"]
    if a.kind != "quantity":
        key = band_of(a, t, p) if q["verdict_scores_quantity"] and a.kind in ("verdict", "text", "grade") else None
        if key is not None:
            return _Judgement(band=key, flags=("ACTUAL_NOT_NUMERIC",),
                              basis=f"指标值为定量值“{t.display}”，实际完成值“{a.text.strip()}”无具体数值，按所述完成情况")
        return _Judgement(fraction=to_decimal(q["text_actual_score"]), flags=("ACTUAL_NOT_NUMERIC",),
                          basis=f"指标值为定量值“{t.display}”，实际完成值“{a.text.strip()}”无具体数值")
    if q["bare_actual_takes_target_unit"]:
        a = values.with_unit_of(a, t)  # ≥735人次 | 735 means 735人次
    av = a.value if values.same_unit(a, t) else values.convert(a.value, a.unit, t.unit)
    if av is None:
        return _Judgement(fraction=to_decimal(q["unit_mismatch_score"]), flags=("UNIT_MISMATCH",),
                          basis=f"指标值单位“{t.unit or '无'}”与实际单位“{a.unit or '无'}”不一致，无法计算完成比例")
    tv = t.value
    reverse = t.op in ("≤", "<")
    if q["repeated_bound_meets"] and a.repeats_bound and a.op == t.op and av == tv:
        return _Judgement(fraction=Decimal(1), completion=HUNDRED, flags=("ACTUAL_REPEATS_TARGET",), forward=not reverse,
                          basis=f"实际完成值“{a.display}”只重复了指标值的界限，未填写实测值，视为达成")
    strict_equal = q["strict_bound_equal_is_met"]
    if reverse:
        met = av <= tv if (t.op == "≤" or strict_equal) else av < tv
        completion = _rate(tv, av) if av > 0 else None
        if met:
            flags = _over_flags(completion, False, p)
            return _Judgement(fraction=Decimal(1), completion=completion, flags=flags, forward=False,
                              basis=f"反向指标，实际{_bare(a)}未超过指标值{_bare(t)}，达成")
        f = min(Decimal(1), max(ZERO, tv / av)) if av > 0 else ZERO  # a bound of 0 or below missed: no ratio
        return _Judgement(fraction=f, completion=completion, forward=False,
                          basis=f"反向指标，实际{_bare(a)}超过指标值{_bare(t)}，按指标值÷实际={_pct(f * HUNDRED)}计分")
    met = av >= tv if (t.op in ("≥", "=") or strict_equal) else av > tv
    if tv <= 0:  # no ratio to a zero target
        if tv == 0 and t.op == "=" and q["zero_target_is_a_ceiling"]:
            met = av <= 0
        return _Judgement(fraction=Decimal(1) if met else ZERO,
                          basis=f"指标值为{_bare(t)}，实际{_bare(a)}，{'达成' if met else '未达成'}")
    completion = _rate(av, tv)
    if met:
        return _Judgement(fraction=Decimal(1), completion=completion, flags=_over_flags(completion, True, p),
                          basis=f"完成比例{_pct(completion)}（实际{_bare(a)}÷指标值{_bare(t)}），达成指标值")
    f = min(Decimal(1), max(ZERO, av / tv))
    return _Judgement(fraction=f, completion=completion,
                      basis=f"正向指标未达成，按实际{_bare(a)}÷指标值{_bare(t)}={_pct(f * HUNDRED)}计分")


def _bare(m) -> str:
    """A quantity without its operator, for the ratio sentences: 16万吨, 95%."""
    return _qty(m).lstrip("≥≤><=")


def _over_flags(completion: Decimal | None, forward: bool, p: Profile) -> tuple[str, ...]:
    q = p.data["quantity"]
    if completion is None or not (forward or q["reverse_can_over_achieve"]):
        return ()
    return ("OVER_ACHIEVED",) if completion > to_decimal(q["over_achieved_above"]) else ()


def _over_target_deduction(points: Decimal, j: _Judgement, basis: str, p: Profile) -> tuple[Decimal, str]:
    d = p.data.get("over_target_deduction", {})
    off = to_decimal(d.get("points", 0))
    if off <= 0 or j.completion is None or not (j.forward or p.data["quantity"]["reverse_can_over_achieve"]):
        return points, basis
    if j.completion < to_decimal(d["completion_from"]):
        return points, basis
    after = max(ZERO, points - off)
    return after, basis + f"；完成比例达到{_pct(to_decimal(d['completion_from']))}及以上，扣{plain(off)}分，得{plain(after)}分"


def _band_points(key: str, own: Decimal | None, weight: Decimal, p: Profile) -> tuple[Decimal, str]:
    """A qualitative band's rule score: the self-score when inside the band, else per the profile."""
    q = p.data["qualitative"]
    b = bands(p)[key]
    lo, hi = p.round(weight * b.lo), p.round(weight * b.hi)
    head = f"，属于“{b.label}”档（分值的{b.describe()}，即{plain(lo)}～{plain(hi)}分）"
    if own is None:
        edge = hi if q["blank_self_score"] == "upper_edge" else lo
        return edge, head + f"，未填写自评分，按该档{'上限' if edge == hi else '下限'}计{plain(edge)}分"
    tol = p.tol("score")
    if lo - tol <= own <= hi + tol:
        kept = p.round(min(max(own, ZERO), weight))
        return kept, head + f"，自评分{plain(own)}在该档内，予以认可"
    if q["outside_band"] != "nearest_edge":
        raise ValueError(f"规则配置“{p.name}”：qualitative.outside_band 只能为 nearest_edge")
    edge = lo if own < lo else hi
    return edge, head + f"，自评分{plain(own)}不在该档内，按最近的档边界计{plain(edge)}分"


# --- 预算执行率 ----------------------------------------------------------------------------

@dataclass(frozen=True)
class ExecutionScore:
    """The 预算执行率 row scored: the 分值 used, printed 得分, rule score, rate and basis."""

    points: Decimal
    self: Decimal | None
    score: Decimal
    rate: Decimal | None  # percent: 全年执行数 ÷ 全年预算数 (or the printed rate when amounts are blank)
    computed: bool  # rate computed from the amounts (not the printed rate)
    basis: str
    notes: tuple[tuple[str, str, str], ...] = ()  # (code, cell, message) met while scoring


def default_points(p: Profile, kind: str) -> Decimal | None:
    for g in p.data.get("class_weights", {}).get("split", []):
        if kind in g["kinds"]:
            return to_decimal(g["points"])
    return None


def execution(ev: SelfEvaluation, p: Profile) -> ExecutionScore | None:
    """The 预算执行率 score of ``ev`` (None when the form has no 项目资金 total row)."""
    row = ev.execution.total if ev.execution is not None else None
    if row is None:
        return None
    cfg, unit = p.data["execution"], ev.execution.unit
    notes = []
    points = row.points.number
    if points is None:
        points = default_points(p, "execution") if cfg["blank_points_take_default"] else None
        points = points if points is not None else ZERO
        notes.append(("MISSING_VALUE", row.points.cell, f"预算执行率未填写分值，按{plain(points)}分计"))
    annual, executed, own = row.annual.number, row.executed.number, row.score.number
    rate, computed = None, False
    if annual is not None and annual != 0 and executed is not None:
        rate, computed = _rate(executed, annual), True
        basis = f"执行率{_pct(rate)}（全年执行数{money(executed)}{unit}÷全年预算数{money(annual)}{unit}）"
    elif (sums := _sub_row_sums(ev)) is not None and cfg["sub_rows_when_total_blank"]:
        (annual, executed), rate = sums, _rate(sums[1], sums[0])
        blank = "未填写" if row.annual.number is None or row.executed.number is None else "为0"
        notes.append(("MISSING_VALUE", row.annual.cell if row.annual.number in (None, ZERO) else row.executed.cell,
                      f"年度资金总额的全年预算数或全年执行数{blank}，预算执行率按其中各项之和计算"))
        basis = (f"年度资金总额{blank}，按其中各项之和：执行率{_pct(rate)}（全年执行数{money(executed)}{unit}"
                 f"÷全年预算数{money(annual)}{unit}）")
    else:
        if annual is None or annual == 0:
            notes.append(("MISSING_VALUE", row.annual.cell,
                          "未填写全年预算数，无法计算预算执行率" if annual is None else "全年预算数为0，无法计算预算执行率"))
        if executed is None:
            notes.append(("MISSING_VALUE", row.executed.cell, "未填写全年执行数，无法计算预算执行率"))
        printed = printed_rates(row.rate)
        if printed and cfg["printed_rate_when_amounts_blank"]:
            rate = printed[0][0]
            basis = f"全年预算数或全年执行数未填写，按填报的执行率{_pct(rate)}"
    if rate is None:
        keep = cfg["unknown_rate_keeps_self_score"] and own is not None
        score = p.round(min(max(own, ZERO), points)) if keep else ZERO
        basis = "无法计算预算执行率，" + ("暂采用填报得分，请人工复核" if keep else "得0分")
        return ExecutionScore(points, own, score, None, False, basis, tuple(notes))
    cap = to_decimal(cfg["cap_percent"])
    used = min(max(rate, ZERO), cap)
    score = p.round(points * used / HUNDRED)
    over = f"，超过{_pct(cap)}按{_pct(cap)}计" if rate > cap else ""
    basis += f"{over}，得分=执行率×分值{plain(points)}={plain(score)}分"
    return ExecutionScore(points, own, score, rate, computed, basis, tuple(notes))


# The 项目资金 block's rows under 年度资金总额 (其中：当年财政拨款, 上年结转资金, 其他资金).
SUB_ROWS = ("current", "carryover", "other")


def _sub_row_sums(ev: SelfEvaluation) -> tuple[Decimal, Decimal] | None:
    """(Σ 全年预算数, Σ 全年执行数) of the sub-rows, when they give a rate: some 全年预算数 above 0
    and some 全年执行数 filled (a blank sub-row counts 0, as BUDGET_ROWS_SUM counts it)."""
    rows = [ev.execution.rows[k] for k in SUB_ROWS if k in ev.execution.rows]
    annual = [r.annual.number for r in rows if r.annual.number is not None]
    executed = [r.executed.number for r in rows if r.executed.number is not None]
    if not executed or sum(annual, ZERO) <= 0:
        return None
    return sum(annual, ZERO), sum(executed, ZERO)


def printed_rates(v: Value) -> list[tuple[Decimal, int]]:
    """The readings of a printed 执行率 as (percent, decimals of that percent): 98.5% → [(98.5, 1)];
    a bare 0.985 → as a fraction (98.5, 1) and as a percent (0.985, 3); blank → []."""
    text = v.text.strip()
    if v.blank or text in values.EMPTY_MARKS:
        return []
    if "%" in text or "％" in text:
        m = values.parse(text)
        if m.kind != "quantity" or m.unit != "%":
            return []
        return [(m.value, _decimals(m.display))]
    n = v.number
    if n is None:
        m = values.parse(text)
        if m.kind != "quantity" or m.unit:
            return []
        n = m.value
    d = _decimals(text) if text else _decimals(format(n, "f"))
    return [(n * HUNDRED, max(d - 2, 0)), (n, d)]


def _decimals(s: str) -> int:
    digits = "".join(ch for ch in s if ch.isdigit() or ch == ".")
    return min(len(digits.split(".", 1)[1]), 10) if "." in digits else 0


# --- 总分 and 等级 ------------------------------------------------------------------------

@dataclass(frozen=True)
class Totals:
    self_sum: Decimal  # 预算执行率得分 + Σ 得分, as printed
    computed_sum: Decimal  # the same by the rules
    cap: Decimal | None  # the 总分 cap that applies (by 执行率), or None
    cap_basis: str
    self_total: Decimal  # self_sum under the cap
    computed_total: Decimal  # computed_sum under the cap


def total_cap(rate: Decimal | None, p: Profile) -> tuple[Decimal | None, str]:
    """The tightest cap of caps.total whose rate_below exceeds ``rate`` (percent)."""
    if rate is None:
        return None, ""
    hits = [c for c in p.data.get("caps", {}).get("total", []) if rate < to_decimal(c["rate_below"])]
    if not hits:
        return None, ""
    c = min(hits, key=lambda c: to_decimal(c["rate_below"]))
    cap = to_decimal(c["max_total"])
    return cap, f"预算执行率{_pct(rate)}低于{_pct(to_decimal(c['rate_below']))}，总分最高{plain(cap)}分"


def totals(ev: SelfEvaluation, scored, p: Profile, ex: ExecutionScore | None) -> Totals:
    self_sum = sum((s.indicator.self_score.number or ZERO for s in scored), ZERO)
    computed_sum = sum((s.score for s in scored), ZERO)
    if ex is not None:
        self_sum += ex.self or ZERO
        computed_sum += ex.score
    cap, basis = total_cap(ex.rate if ex is not None else None, p)
    under = (lambda x: min(x, cap)) if cap is not None else (lambda x: x)
    return Totals(self_sum, computed_sum, cap, basis, under(self_sum), under(computed_sum))


def grade_of(total: Decimal | None, p: Profile) -> str | None:
    """The 等级 of a 总分 by the profile's total_grades (None without them, e.g. suzhou-2020)."""
    table = p.data.get("total_grades")
    if not table or total is None:
        return None
    for grade, low in sorted(table.items(), key=lambda kv: -to_decimal(kv[1])):
        if total >= to_decimal(low):
            return grade
    return None


def read_grade(text: str, p: Profile) -> str:
    """A printed grade as the profile names it: ``等级：优秀`` → 优 (unknown words unchanged)."""
    s = "".join(text.split())
    for head in ("评价等级", "自评等级", "等级", "评级"):
        if s.startswith(head):
            s = s[len(head):]
    s = s.strip(":：()（）")
    return p.data.get("total_grade_aliases", {}).get(s, s)
