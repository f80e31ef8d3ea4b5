"""Score one indicator by a rule profile, with a written basis.

Pure: takes an Indicator and a Profile, returns a Scored. The profile (TOML under
selfeval_xl/profiles/) holds every number and every choice the 填表说明 leaves open; this
module only applies them. Each branch below names the profile setting it follows.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path

from . import values
from .fmt import percent, plain
from .model import Indicator, Scored

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Curve:
    full_from: Decimal
    full_to: Decimal | None
    below_per_point: Decimal
    above_per_point: Decimal

    def fraction(self, completion: Decimal) -> Decimal:
        if completion < self.full_from:
            f = 1 - (self.full_from - completion) * self.below_per_point
        elif self.full_to is not None and completion > self.full_to:
            f = 1 - (completion - self.full_to) * self.above_per_point
        else:
            f = Decimal(1)
        return max(Decimal(0), f)

    def describe(self) -> str:
        full = f"{_pct(self.full_from)}～{_pct(self.full_to)}" if self.full_to is not None else f"{_pct(self.full_from)}及以上"
        return full


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    data: dict

    @property
    def scheme(self) -> str:
        """How indicators are scored: "curves" (completion curves, suzhou-2020; the default) or
        "ratio" (proportional scores and qualitative bands, 财预〔2020〕10号: national_rules)."""
        return self.data.get("scheme", "curves")

    @property
    def layouts(self) -> tuple[str, ...]:
        """The forms (layout NAMEs) this profile scores; a profile without ``layout`` is Suzhou's."""
        layout = self.data.get("layout", "suzhou")
        return (layout,) if isinstance(layout, str) else tuple(layout)

    @property
    def decimals(self) -> int:
        return int(self.data["rounding"]["decimals"])

    def tol(self, key: str) -> Decimal:
        return Decimal(str(self.data["tolerance"][key]))

    def setting(self, key: str):
        return self.data["settings"][key]

    def grades(self) -> dict[str, Decimal]:
        return {k: Decimal(str(v)) for k, v in self.data["grades"].items()}

    def curve(self, kind: str) -> Curve:
        c = self.data["curves"][self.data["classes"].get(kind, self.data["classes"]["other"])]
        return Curve(
            Decimal(str(c["full_from"])),
            Decimal(str(c["full_to"])) if "full_to" in c else None,
            Decimal(str(c["below_per_point"])),
            Decimal(str(c.get("above_per_point", 0))),
        )

    def round(self, x: Decimal) -> Decimal:
        try:
            return x.quantize(Decimal(1).scaleb(-self.decimals), rounding=self.data["rounding"]["mode"])
        except InvalidOperation:  # more digits than the context holds (a weight of 1e308 typed in):
            return x  # nothing to round at that size; quantize would raise instead of returning


def profile_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("selfeval_xl.profiles").iterdir() if p.name.endswith(".toml"))


@lru_cache(maxsize=16)
def load_profile(name_or_path: str = "suzhou-2020") -> Profile:
    """A profile by name (bundled) or by path to a TOML file. Raises ValueError if unknown."""
    data = _profile_data(name_or_path, ())
    return Profile(data["name"], data.get("title", data["name"]), data)


def _profile_data(name_or_path: str, chain: tuple[str, ...], base: Path | None = None) -> dict:
    """The TOML of a profile with its ``extends`` chain merged in (the child wins, see ``merge``).

    ``extends`` names a bundled profile or a .toml path (relative to the extending file), so a
    regional profile holds only what differs from the one it extends."""
    path = Path(name_or_path)
    if base is not None and path.suffix == ".toml" and not path.is_absolute():
        path = base / path
    if path.suffix == ".toml" and path.is_file():
        key, text, here = str(path.resolve()), path.read_text(encoding="utf-8"), path.resolve().parent
    else:
        res = resources.files("selfeval_xl.profiles") / f"{name_or_path}.toml"
        if not res.is_file():
            raise ValueError(f"未知的规则配置“{name_or_path}”，可用：{'、'.join(profile_names())}")
        key, text, here = f"bundled:{name_or_path}", res.read_text(encoding="utf-8"), None
    if key in chain:
        raise ValueError(f"规则配置“{name_or_path}”的 extends 形成循环：{' → '.join(chain + (key,))}")
    data = tomllib.loads(text)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return merge(_profile_data(str(parent), chain + (key,), here), data)


def merge(base: dict, override: dict) -> dict:
    """A deep merge of TOML tables: tables merge key by key; anything else (numbers, strings,
    arrays such as total_caps or class_weights.split) is replaced whole by the override."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def score(ind: Indicator, profile: Profile) -> Scored:
    """The rule score of one indicator, its completion rate and the basis sentence."""
    if profile.scheme != "curves":
        from .national_rules import score_indicator

        return score_indicator(ind, profile)
    t = values.parse(ind.target.reading)
    a = values.parse(ind.actual.reading)
    weight = ind.weight.number if ind.weight.number is not None and ind.weight.number > 0 else Decimal(0)
    fraction, completion, basis, flags = _judge(t, a, ind, profile)
    if fraction is None:  # kept self-score (unjudged)
        self_score = ind.self_score.number or Decimal(0)
        points = min(max(self_score, Decimal(0)), weight)
    else:
        points = weight * fraction
    points = profile.round(points)
    if fraction is not None:
        basis += f"，得{plain(points)}分" if fraction not in (0, 1) else ("，得满分" if fraction == 1 else "，得0分")
    return Scored(ind, points, completion, basis, t, a, tuple(flags))


def _judge(t, a, ind: Indicator, p: Profile) -> tuple[Decimal | None, Decimal | None, str, list[str]]:
    """(fraction of the weight or None to keep the self-score, completion %, basis, flags)."""
    grades = p.grades()
    curve = p.curve(ind.kind)
    if a.kind == "empty":
        return Decimal(0), None, "未填写实际完成值且无说明", ["MISSING_VALUE"]
    if a.kind == "grade" and a.grade in grades:
        f = grades[a.grade]
        if t.kind == "grade" and t.grade in grades and f >= grades[t.grade] and p.setting("grade_target_met_by_equal_grade"):
            return Decimal(1), None, f"定性指标，目标等级“{t.grade}”，实际等级“{a.grade}”，达到目标等级，按满分计", []
        return f, None, f"定性指标，等级“{a.grade}”，按权重值的{_pct(f * HUNDRED)}计", []
    if t.kind == "quantity":
        return _quantity(t, a, curve, p)
    if t.kind == "rank" and a.kind == "rank":
        if a.scope == t.scope and a.position is not None and t.position is not None:
            met = a.position <= t.position
            return (Decimal(1) if met else Decimal(0)), None, f"排名目标“{t.display}”，实际“{a.display}”，{'达到' if met else '未达到'}目标", []
    if t.kind == "date" and a.kind == "date" and p.setting("date_met_when_not_later") and t.date and a.date:
        met = _date_key(a.date, t.date) <= _date_key(t.date, a.date)
        return (Decimal(1) if met else Decimal(0)), None, f"时限目标“{t.display}”，实际“{a.display}”，{'按时完成' if met else '未按时完成'}", []
    if t.kind == "empty":
        return Decimal(0), None, "未填写目标值，无法评价", ["MISSING_VALUE"]
    # Qualitative target: the same words, or a verdict.
    if _same_words(t, a):
        return Decimal(1), None, f"实际完成值“{a.text.strip()}”与目标一致", []
    if a.kind == "verdict":
        return _verdict(a, p, "定性目标")
    if p.setting("unjudged_keeps_self_score"):
        return None, None, f"定性目标“{t.text.strip()}”与实际“{a.text.strip()}”表述不同，无法按规则自动判定，暂采用自评分，请人工复核", ["VALUE_UNPARSED"]
    return Decimal(0), None, f"实际“{a.text.strip()}”无法判定是否达到目标“{t.text.strip()}”", ["VALUE_UNPARSED"]


def _quantity(t, a, curve: Curve, p: Profile):
    if a.kind == "verdict" and p.setting("verdict_scores_quantity"):
        f, c, basis, flags = _verdict(a, p, "目标为定量值，实际完成值无具体数值")
        return f, c, basis, flags + ["ACTUAL_NOT_NUMERIC"]
    if a.kind == "text" and _DIGIT.search(a.text) and p.setting("unreadable_number_keeps_self_score"):
        return None, None, (f"目标为定量值“{t.display}”，实际完成值“{a.text.strip()}”含有数字但不是单一数值（如两个不同的数），"
                            "无法按规则自动判定，暂采用自评分，请人工复核"), ["VALUE_UNPARSED"]
    if a.kind != "quantity":
        return Decimal(0), None, f"目标为定量值“{t.display}”，实际完成值“{a.text.strip()}”无具体数值", ["ACTUAL_NOT_NUMERIC"]
    if p.setting("bare_actual_takes_target_unit"):
        a = values.with_unit_of(a, t)  # ≤90万元 | 90 means 90万元
    if a.unit != t.unit:
        return Decimal(str(p.setting("unit_mismatch_score"))), None, f"目标单位“{t.unit or '无'}”与实际单位“{a.unit or '无'}”不一致，无法计算完成率", ["UNIT_MISMATCH"]
    f, completion, basis, flags = _quantity_rate(t, a, curve, p)
    if a.label or a.note:  # words around the number (完成93%, 12个，全部完成): say what was read
        said = {"met": "已完成", "partial": "部分完成", "not_met": "未完成"}.get(a.verdict or "")
        if said and (f == 1) != (a.verdict == "met") and a.verdict != "partial":
            return None, None, (f"实际完成值“{a.text.strip()}”中的数值{_qty(a)}与文字“{said}”相矛盾，"
                                "无法按规则自动判定，暂采用自评分，请人工复核"), ["VALUE_UNPARSED"]
        basis = f"实际完成值“{a.text.strip()}”按其中数值{_qty(a)}计，" + basis
    scale = _scale_gap(t, a)
    if scale:
        basis += f"；注意：实际{_qty(a)}与目标{_qty(t)}的数字相近，但单位相差{scale}倍，疑为单位填写错误，请核实"
        flags = flags + ["UNIT_SCALE_SUSPECT"]
    return f, completion, basis, flags


_DIGIT = re.compile(r"[0-9０-９]")


def _scale_gap(t, a) -> str:
    """"10000" when the written numbers are close (within 2×) but their multipliers (万, 亿,
    千万 …) put them 10³ or more apart (285亿元 against ≤300万元: a likely unit typo), else ""."""
    if t.value in (None, 0) or a.value in (None, 0):
        return ""
    shift = values.MULTIPLIERS.get(a.multiplier, 0) - values.MULTIPLIERS.get(t.multiplier, 0)
    if abs(shift) < 3:
        return ""
    written = abs(a.value / t.value) / Decimal(10) ** shift
    if not Decimal("0.5") <= written <= 2:
        return ""
    return plain(Decimal(10) ** abs(shift))


def _quantity_rate(t, a, curve: Curve, p: Profile):
    """The completion rate of a quantity actual in the target's unit, through the class curve."""
    reverse = t.op in ("≤", "<")
    if a.op == t.op and a.op != "=" and a.value == t.value and p.setting("repeated_bound_meets"):
        return Decimal(1), HUNDRED, f"实际完成值“{a.display}”与目标界限相同，视为达到目标", []
    if reverse:
        within = a.value <= t.value if t.op == "≤" else a.value < t.value
        if within and p.setting("reverse_within_bound_full"):
            return Decimal(1), None, f"反向指标，实际{_qty(a)}未超过目标上限{_qty(t)}", []
        completion = _rate(t.value, a.value) if a.value else HUNDRED
        f = curve.fraction(completion)
        return f, completion, f"反向指标，实际{_qty(a)}超过目标上限{_qty(t)}，完成率（目标÷实际）{_pct(completion)}{_band(curve, completion)}", []
    if t.value == 0:
        met = a.value <= 0
        return (Decimal(1) if met else Decimal(0)), None, f"目标值为0，实际{_qty(a)}，{'达到' if met else '未达到'}目标", []
    completion = _rate(a.value, t.value)
    f = curve.fraction(completion)
    flags = ["OVER_ACHIEVED"] if completion > Decimal(str(p.setting("over_achieved_above"))) else []
    return f, completion, f"完成率{_pct(completion)}（实际{_qty(a)}÷目标{_qty(t)}）{_band(curve, completion)}", flags


_RATE_CAP = Decimal("1e12")  # percent


def _rate(part: Decimal, whole: Decimal) -> Decimal:
    """part ÷ whole in percent, kept within ±1e12 %: a target of 1e-28 made the rate 1e44 % and
    every later quantize (the basis text, the JSON, the report) raise InvalidOperation."""
    return max(-_RATE_CAP, min(_RATE_CAP, part / whole * HUNDRED))


def _verdict(a, p: Profile, lead: str):
    if a.verdict == "met":
        return Decimal(1), None, f"{lead}，实际“{a.text.strip()}”表明已达成", []
    if a.verdict == "partial":
        f = Decimal(str(p.setting("partial_verdict_fraction")))
        return f, None, f"{lead}，实际“{a.text.strip()}”表明部分达成，按权重值的{_pct(f * HUNDRED)}计", []
    return Decimal(0), None, f"{lead}，实际“{a.text.strip()}”表明未达成", []


def _band(curve: Curve, completion: Decimal) -> str:
    if completion < curve.full_from:
        return f"，低于{_pct(curve.full_from)}，每低1个百分点扣权重值的{_pct(curve.below_per_point * HUNDRED)}"
    if curve.full_to is not None and completion > curve.full_to:
        return f"，超过{_pct(curve.full_to)}，每超过1%扣权重值的{_pct(curve.above_per_point * HUNDRED)}"
    return f"，在{curve.describe()}之间" if curve.full_to is not None else f"，达到{curve.describe()}"


def _same_words(t, a) -> bool:
    def key(m) -> str:
        return "".join(ch for ch in (m.display or m.text) if ch not in " \t\n。.，,;；")

    return bool(key(t)) and key(t) == key(a)


def _date_key(d: str, other: str) -> str:
    """Comparable form of values.Measure.date (2022-12-30, 2023-12, --11-30): when either side
    has no year (11月底前), compare month and day only."""
    if d.startswith("--") or other.startswith("--"):
        return d[2:] if d.startswith("--") else d[5:]
    return d


def _qty(m) -> str:
    return m.display.lstrip("=") if m.display else plain(m.value) + m.unit


def _pct(x: Decimal | None) -> str:
    """Percentages in a score's basis: one decimal (96.5%)."""
    return percent(x, "0.1")
