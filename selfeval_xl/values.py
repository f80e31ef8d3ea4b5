"""Read the target and actual values written in a 绩效自评表 into one normal form, `Measure`.

Why: staff type these cells by hand, so one target turns up as `≥95%`, `≧ 95 %`, `不低于95%`,
`95%以上` or `辖区企业满意率达95%以上。`, and an actual may be a number, a grade (`好`), a verdict
(`达成预期指标`), a rank (`全省第二`) or a date (`11月底前`). The scorer needs an operator, a number
in base units and a unit, or the kind-specific reading. `parse` is pure and total: it never
raises, and whatever it does not recognise is `text`, left for the scorer to judge.

Decisions where the forms leave a choice open:
- Numbers (int/float/Decimal) are quantities with op "=" and unit ""; NaN is empty (an empty cell).
- Empty: None, "", whitespace, "/", "-", "—" and other bare dashes. "无" is text (it states "none").
- A leading label is dropped only when it ends in a connector (达, 为, 是, 在, 共, 累计 …) or in a
  measure noun (率, 度, 数, 量, 额 …: 完成率100%), or an operator follows it; it is kept in `label`.
  Other prefixes (提高0.5个百分点: a change, not a level) make the cell text.
- Conflicting operators (`≥95%以下`), several numbers (`30%-50%`) or a long unit are text.
- Words around one number (an actual as people type it: `完成93%`, `100%完成`, `共12个，全部完成`,
  `95%（已达标）`, `未完成，80%`): the number is the quantity, the words before it are `label`, the
  words after it `note`, and a verdict they state (全部完成 → met, 基本完成 → partial, 未达标 →
  not_met) is `verdict`; the scorer decides whether the number contradicts it. Only a lead of
  实际/全年/累计/已/共/完成/达到/实现 … or a verdict counts as such words; a verb of change
  (提高0.5个百分点) or other prose (5家企业满意度显著提升) stays text.
- `以上`/`以下` include the number itself (≥/≤), as in Chinese legal usage.
- `approx` is set by 约/大约/近/接近/≈ before and 余/多/左右 after the number; op stays "=",
  display is `≈600人` (so `600余人` and `约600人` display alike).
- `display` keeps the writer's digits and multiplier (`≥9000亿元`, `=5万`); `value` is expanded.
- Units are kept as written (after 万/亿 expansion and `%(百分比)`/`百分比`/`(%)` → `%`,
  `百分点` → `个百分点`); `same_unit` and `convert` know a few aliases and scales only.
- Grades: 好/较好/一般/较差/差 and 优/良/中/低/差, plus 优秀→优 and 中等→中. 良好 is text: it is an
  everyday "in good condition" statement in these tables, not a rating. A copied scale is text.
- Ranks: `全省第二` → scope 全省, position 2; `全国前三` → position 3 with top=True.
- Verdicts: 达成/完成/达到/是 … → met; 部分/基本 … → partial; 未 …/否 → not_met. 合格 is text.
- Dates are ISO-ish: "2022-12-30", "2023-12", "2020", "--11" (month, no year), "--11-30".
  底/末/下旬 → last day of the month (29 for February without a year), 初/上旬 → 10th, 中旬 → 20th;
  year + 底 → 12-31. `deadline` is True when 前/之前/以前/以内/截至/截止 is written.
  A span `2021年1月-12月` is a date with date = its end and `start` = its beginning.
  `10月` is a date (month 10; `12个月` is a quantity); `2022.12` is the decimal 2022.12, while
  `2022.12.30`, `2022-12` and `2022/12` are dates.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, replace
import datetime as _dt
from decimal import Decimal

__all__ = ["Measure", "parse", "same_unit", "convert", "with_unit_of", "KINDS"]

KINDS = ("quantity", "grade", "rank", "verdict", "date", "text", "empty")
MAX_LEN = 100  # longer cells are prose: text, without trying the patterns

EMPTY_MARKS = frozenset({"", "/", "//", "\\", "-", "--", "—", "——", "–", "~", "…", "...", "N/A", "n/a"})

GRADES = {  # written word -> (grade, fraction of the weight)
    "好": ("好", "1"), "较好": ("较好", "0.8"), "一般": ("一般", "0.6"), "较差": ("较差", "0.4"),
    "差": ("差", "0.2"), "优": ("优", "1"), "优秀": ("优", "1"), "良": ("良", "0.8"),
    "中": ("中", "0.6"), "中等": ("中", "0.6"), "低": ("低", "0.4"),
}

VERDICT_DISPLAY = {"met": "达成", "partial": "部分达成", "not_met": "未达成"}

OP_WORDS = {
    "≥": ("不低于", "不少于", "不小于", "至少", "最少", "大于等于", "大于或等于", "不得低于", "不得少于"),
    "≤": ("不高于", "不超过", "不多于", "不大于", "至多", "最多",
          "小于等于", "小于或等于", "不得高于", "不得超过"),
    "<": ("小于", "低于", "少于", "不足", "不到"),
    ">": ("大于", "高于", "超过", "多于"),
}
OP_SYMBOLS = {
    "=": "=", "==": "=", "═": "=", "≥": "≥", ">=": "≥", "=>": "≥", "≧": "≥", "⩾": "≥", "≮": "≥",
    "≤": "≤", "<=": "≤", "=<": "≤", "≦": "≤", "⩽": "≤", "≯": "≤", ">": ">", "<": "<",
}
SUFFIX_OPS = {
    "及其以下": "≤", "及以下": "≤", "或以下": "≤", "以下": "≤", "以内": "≤", "之内": "≤", "内": "≤",
    "及其以上": "≥", "及以上": "≥", "或以上": "≥", "以上": "≥",
}
OPS = {**OP_SYMBOLS, **{w: op for op, words in OP_WORDS.items() for w in words}}

MULTIPLIERS = {"万亿": 12, "千万": 7, "百万": 6, "亿": 8, "万": 4, "千": 3}  # power of ten
UNIT_ALIASES = {"百分比": "%", "百分点": "个百分点"}
# same_unit/convert only: spellings of one unit, and units on one scale (dimension, factor)
CANONICAL_UNITS = {"km": "公里", "千米": "公里", "m": "米", "kg": "公斤", "千克": "公斤", "t": "吨",
                   "平米": "平方米", "日": "天"}
UNIT_SCALES = {
    "米": ("length", Decimal(1)), "公里": ("length", Decimal(1000)),
    "克": ("mass", Decimal("0.001")), "公斤": ("mass", Decimal(1)), "吨": ("mass", Decimal(1000)),
    "平方米": ("area", Decimal(1)), "公顷": ("area", Decimal(10000)), "平方公里": ("area", Decimal(10**6)),
    "%": ("ratio", Decimal(1)), "‰": ("ratio", Decimal("0.1")),
}

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_NAMES = "零一二三四五六七八九"


def _alt(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# before NFKC: characters whose compatibility form would add a digit or lose the meaning
_PRE = {"㎡": "平方米", "m²": "平方米", "㎢": "平方公里", "km²": "平方公里", "㎥": "立方米", "m³": "立方米", "−": "-"}
_PRE_RE = re.compile(_alt(_PRE))
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACE_RE = re.compile(r"\s+")
_EDGE_PUNCT_RE = re.compile(r"[\s。.;；,，、!！?？:：]+$")

_NUM_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+(?:\.[0-9]+)?")
_HEAD_RE = re.compile(rf"(?P<label>.*?)(?P<op>{_alt(OPS)})?(?P<approx>大约|将近|接近|约|近|≈)?(?P<sign>[-+])?", re.S)
_TAIL_RE = re.compile(
    rf"(?P<a1>余|多)?(?P<mult>万亿|千万|百万|亿|万|千(?![克米瓦卡帕焦伏赫兆]))?(?P<a2>余|多)?"
    rf"(?P<unit>.*?)(?P<suffix>{_alt(SUFFIX_OPS)})?(?P<a3>左右)?",
    re.S,
)
_CONNECTOR_RE = re.compile(r"(?:达到?|为|是|:|在|共计?|合计|累计|总计|实现|保持|率|度|数|量|额|值|面积|里程|比例|占比)$")
_BAD_LABEL_RE = re.compile(r"[,;，；、。!?()<>=≥≤≧≦═≈~-]")
_PAREN_RE = re.compile(r"\(([^()]*)\)")
_BAD_UNIT_RE = re.compile(r"[()<>=≥≤≧≦═≈,;:，；：。、!?~-]|^/|/$")

_VERBS = r"(?:全部|全面)?(?:完成|到位|结束|竣工|完工|办结|拨付|支付|实施|开工|启动|交付|验收|上线)"
_DATE_RE = re.compile(
    r"(?P<label>[^0-9]{0,12}?(?:为|是|:|于|在|至|到|截至|截止))?"
    r"(?:(?P<y>(?:19|20)[0-9]{2})年)?(?:(?P<m>[0-9]{1,2})月份?(?:(?P<d>[0-9]{1,2})[日号])?)?"
    r"(?P<edge>底|末|初|上旬|中旬|下旬|全年|上半年|下半年)?"
    rf"(?P<before>之前|以前|以内|前|内)?(?P<verb>{_VERBS})?"
)
_ISO_DATE_RE = re.compile(r"(?P<y>(?:19|20)[0-9]{2})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?:(?P=sep)(?P<d>[0-9]{1,2}))?")
_RANGE_RE = re.compile(r"(?P<left>.+?)(?:-|~|—|–|至)(?P<right>.+)")
_RANK_RE = re.compile(
    r"(?:保持|位居|位列|稳居|居|进入|位于)?"
    r"(?P<scope>全国|全省|全市|全区|全县|全州|全球|省内|市内|区内|县内|同级|同类城市)?"
    r"(?:排名|排位|排|位居|位列|居)?(?P<which>第|前)(?P<n>[0-9]{1,4}|[零〇一二两三四五六七八九十百]{1,5})(?:名|位)?(?:以内)?"
)
_ACHIEVED = r"(?:达成|达到|完成|达标|实现)(?:预期|既定)?(?:指标|目标|任务)?值?"
_VERDICT_RES = (
    ("partial", re.compile(rf"(?:部分|基本上?|大部分|未全部){_ACHIEVED}")),
    ("not_met", re.compile(rf"(?:未|没有|尚未|未能){_ACHIEVED}|否")),
    ("met", re.compile(rf"(?:已经?|全部|均已|已全部|全面|按时|如期|按期|按计划|按要求|顺利|圆满)?{_ACHIEVED}(?:100%)?|是")),
)


@dataclass(frozen=True)
class Measure:
    text: str  # the input as given (str(x) for numbers, "" for None)
    kind: str  # one of KINDS
    op: str | None = None  # quantity: "=", "≥", "≤", ">", "<"
    value: Decimal | None = None  # quantity, in base units after multiplier expansion
    unit: str = ""  # as written after expansion: "元", "吨", "家次", "%", "个百分点", "重量箱/年", ""
    approx: bool = False  # 约500人, 600余人, 500多人
    repeats_bound: bool = False  # an op other than "=" was written (an actual "≥30个" repeats the bound)
    grade: str | None = None  # 好/较好/一般/较差/差 or 优/良/中/低/差
    fraction: Decimal | None = None  # share of the weight the grade earns
    scope: str | None = None  # rank: "全省" (None when not written)
    position: int | None = None  # rank: 2 for 全省第二, 3 for 全国前三
    verdict: str | None = None  # "met" | "partial" | "not_met"
    date: str | None = None  # "2022-12-30", "2023-12", "2020", "--11", "--11-30"
    display: str = ""  # normalised form for a reviewer: "=5家", "≥9000亿元", "全省第二", "达成"
    multiplier: str = ""  # quantity: the multiplier as written ("万", "亿"), kept for display
    label: str = ""  # quantity/date: the words dropped before the value ("辖区企业满意率达")
    top: bool = False  # rank: 前N (within the first N) rather than 第N
    deadline: bool = False  # date: "by this date" was written (前, 之前, 截至 …)
    start: str | None = None  # date: the beginning of a span (2021年1月-12月 → "2021-01")
    note: str = ""  # quantity: the words written after the number ("全部完成" in 12个，全部完成)

    def to_dict(self) -> dict:
        """JSON-safe dict: Decimal → int when integral else float; unset extras omitted."""
        out = {"text": self.text, "kind": self.kind, "op": self.op, "value": _json_number(self.value),
               "unit": self.unit, "approx": self.approx, "display": self.display}
        if self.kind == "quantity":
            out["repeats_bound"] = self.repeats_bound
        extras = {"multiplier": self.multiplier, "label": self.label, "grade": self.grade,
                  "fraction": _json_number(self.fraction), "scope": self.scope, "position": self.position,
                  "top": self.top, "verdict": self.verdict, "date": self.date, "deadline": self.deadline,
                  "start": self.start, "note": self.note}
        out.update({k: v for k, v in extras.items() if v not in (None, "", False)})
        return out


def parse(x) -> Measure:
    """Read one cell value (str, number, date, None, anything) into a Measure. Never raises."""
    try:
        return parse_unguarded(x)
    except Exception:  # a safety net: the patterns are meant never to get here
        try:
            text = "" if x is None else str(x)
        except Exception:
            text = ""
        return Measure(text=text, kind="text", display=text)


def parse_unguarded(x) -> Measure:
    """``parse`` without its safety net, so that a bug in a pattern raises (the tests call this)."""
    if x is None:
        return Measure(text="", kind="empty")
    if isinstance(x, bool):
        return _parse_text(str(x))
    if isinstance(x, (int, float, Decimal)):
        return _from_number(x)
    if isinstance(x, _dt.date):  # datetime is a date too; a time of day is dropped
        return Measure(text=str(x), kind="date", date=f"{x.year:04d}-{x.month:02d}-{x.day:02d}",
                       display=f"{x.year}年{x.month}月{x.day}日")
    return _parse_text(x if isinstance(x, str) else str(x))


def _from_number(x) -> Measure:
    text = str(x)
    d = x if isinstance(x, Decimal) else Decimal(text)
    if d.is_nan():
        return Measure(text=text, kind="empty")
    if d.is_infinite() or abs(d.adjusted()) > MAX_LEN:
        return Measure(text=text, kind="text", display=text)
    return Measure(text=text, kind="quantity", op="=", value=_tidy(d), display="=" + format(d, "f"))


def _normalise(s: str) -> str:
    s = _PRE_RE.sub(lambda m: _PRE[m.group()], s)
    s = unicodedata.normalize("NFKC", s)
    s = _CONTROL_RE.sub("", s)
    s = _SPACE_RE.sub(" ", s).strip()
    return _EDGE_PUNCT_RE.sub("", s)


def _parse_text(raw: str) -> Measure:
    norm = _normalise(raw)
    key = norm.replace(" ", "")
    if key in EMPTY_MARKS:
        return Measure(text=raw, kind="empty")
    if len(key) <= MAX_LEN:
        for reader in (_grade, _verdict, _rank, _date, _worded_quantity, _quantity):
            found = reader(key)
            if found is not None:
                return Measure(text=raw, **found)
    return Measure(text=raw, kind="text", display=norm)


def _grade(key: str) -> dict | None:
    if key not in GRADES:
        return None
    grade, fraction = GRADES[key]
    return {"kind": "grade", "grade": grade, "fraction": Decimal(fraction), "display": grade}


def _verdict(key: str) -> dict | None:
    for verdict, pattern in _VERDICT_RES:
        if pattern.fullmatch(key):
            return {"kind": "verdict", "verdict": verdict, "display": VERDICT_DISPLAY[verdict]}
    return None


def _rank(key: str) -> dict | None:
    m = _RANK_RE.fullmatch(key)
    n = _cn_int(m["n"]) if m else None
    if not n:
        return None
    top = m["which"] == "前"
    scope = m["scope"]
    return {"kind": "rank", "scope": scope, "position": n, "top": top,
            "display": f"{scope or ''}{'前' if top else '第'}{_cn_name(n)}"}


def _cn_int(s: str) -> int | None:
    """'2' → 2, '二' → 2, '十一' → 11, '二十三' → 23, '一百零五' → 105; None if malformed."""
    if s.isascii():
        return int(s)
    total, digit = 0, None
    for ch in s:
        if ch in CN_DIGITS:
            if digit is not None:
                return None
            digit = CN_DIGITS[ch]
        else:  # 十 or 百
            total += (1 if digit is None else digit) * (10 if ch == "十" else 100)
            digit = None
    return total + (digit or 0)


def _cn_name(n: int) -> str:
    if n < 10:
        return CN_NAMES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN_NAMES[tens]) + "十" + (CN_NAMES[ones] if ones else "")
    return str(n)


def _date(key: str) -> dict | None:
    single = _date_point(key, label_ok=True)
    if single is not None:
        del single["year"]
        return single
    m = _RANGE_RE.fullmatch(key)
    if not m:
        return None
    left = _date_point(m["left"], label_ok=True, tail_ok=False)
    right = _date_point(m["right"], label_ok=False, year=left and left["year"])
    if left is None or right is None:
        return None
    shown = right["display"] if right["year"] != left["year"] else right["display"].split("年", 1)[-1]
    return {"kind": "date", "date": right["date"], "start": left["date"], "deadline": right["deadline"],
            "label": left["label"], "display": f"{left['display']}至{shown}"}


def _date_point(key: str, label_ok: bool, tail_ok: bool = True, year: int | None = None) -> dict | None:
    iso = _ISO_DATE_RE.fullmatch(key)
    if iso and (iso["d"] or iso["sep"] != "."):
        label, y, mo, d, edge, before = "", int(iso["y"]), int(iso["m"]), iso["d"] and int(iso["d"]), "", ""
    else:
        m = _DATE_RE.fullmatch(key)
        if not m or not (m["y"] or m["m"]) or (m["label"] and not label_ok):
            return None
        if not tail_ok and (m["before"] or m["verb"]):
            return None
        label, edge, before = m["label"] or "", m["edge"] or "", m["before"] or ""
        y = int(m["y"]) if m["y"] else year
        mo, d = (int(m["m"]) if m["m"] else None), (int(m["d"]) if m["d"] else None)
        month_edge, year_edge = edge in ("上旬", "中旬", "下旬"), edge in ("全年", "上半年", "下半年")
        if (d and edge) or (mo and year_edge) or (not mo and month_edge):
            return None
    if mo is not None and not 1 <= mo <= 12:
        return None
    last = calendar.monthrange(y or 2000, mo)[1] if mo else 31
    if d is not None and not 1 <= d <= last:
        return None
    if mo is None:  # a year, perhaps with 底/初/全年/上半年
        iso_date = {"底": f"{y}-12-31", "末": f"{y}-12-31", "下半年": f"{y}-12-31", "上半年": f"{y}-06-30",
                    "初": f"{y}-01"}.get(edge, f"{y}")
    else:
        day = d or {"底": last, "末": last, "下旬": last, "初": 10, "上旬": 10, "中旬": 20}.get(edge)
        iso_date = (f"{y:04d}" if y else "-") + f"-{mo:02d}" + (f"-{day:02d}" if day else "")
    deadline = bool(before) or label.endswith(("截至", "截止"))
    shown = (f"{y}年" if y else "") + (f"{mo}月" if mo else "") + (f"{d}日" if d else "") + edge
    return {"kind": "date", "date": iso_date, "deadline": deadline, "label": label, "year": y,
            "display": shown + ("前" if deadline else "")}


def _quantity(key: str) -> dict | None:
    numbers = _NUM_RE.findall(key)
    if len(numbers) != 1:
        return None
    n = _NUM_RE.search(key)
    head, tail = _HEAD_RE.fullmatch(key[: n.start()]), _TAIL_RE.fullmatch(key[n.end():])
    if head is None or tail is None:
        return None
    prefix, suffix = OPS.get(head["op"] or ""), SUFFIX_OPS.get(tail["suffix"] or "")
    if prefix and suffix and prefix != suffix:
        return None
    label = head["label"]
    if label and (len(label) > 20 or _BAD_LABEL_RE.search(label) or not (prefix or _CONNECTOR_RE.search(label))):
        return None
    unit = _unit(tail["unit"])
    if unit is None:
        return None
    op = prefix or suffix or "="
    approx = any((head["approx"], tail["a1"], tail["a2"], tail["a3"]))
    sign, number, mult = head["sign"] or "", n.group().replace(",", ""), tail["mult"] or ""
    value = _shift(Decimal(sign + number), MULTIPLIERS.get(mult, 0))
    shown_op = "" if approx and op == "=" else op
    return {"kind": "quantity", "op": op, "value": value, "unit": unit, "approx": approx,
            "repeats_bound": op != "=", "multiplier": mult, "label": label,
            "display": f"{shown_op}{'≈' if approx else ''}{sign}{number}{mult}{unit}"}


# Words that may stand before the one number of an actual (实际完成93%, 全年共12个, 已达到95%).
_LEAD_WORDS_RE = re.compile(
    r"(?:实际|全年|年度|当年|本年|累计|目前|截至目前|截止目前)?(?:已经?|均已|共)?"
    r"(?:完成了?|达到了?|实现了?|共计?|合计|总计|累计|为|达)?")
_SEPARATORS = ",;、"  # after NFKC: ， → ,  ； → ;
_EXTRA_MET_RE = re.compile(rf"超额{_ACHIEVED}")


def _words_verdict(words: str) -> str | None:
    """The verdict a phrase beside the number states (全部完成, 基本完成, 未达标), else None."""
    words = words.strip(" ")
    if _EXTRA_MET_RE.fullmatch(words):
        return "met"
    found = _verdict(words)
    return found["verdict"] if found and words not in ("是", "否") else None


def _worded_quantity(key: str) -> dict | None:
    """One number with unit plus words (see the module docstring), or None."""
    numbers = _NUM_RE.findall(key)
    if len(numbers) != 1 or key.count("(") > 1:
        return None
    n = _NUM_RE.search(key)
    lead, rest = key[: n.start()], key[n.start():]
    verdicts: list[str] = []
    label = ""
    # before the number: "全部完成," (a verdict and a separator) and/or lead words (完成, 实际, 共)
    if lead and lead[-1] in _SEPARATORS:
        said = _words_verdict(lead[:-1])
        if said is None:
            return None
        verdicts.append(said)
        label = lead
    elif lead:
        cut = next((i for i in range(len(lead)) if lead[i] in _SEPARATORS), None)
        if cut is not None:
            said = _words_verdict(lead[:cut])
            if said is None:
                return None
            verdicts.append(said)
        words = lead if cut is None else lead[cut + 1:]
        sign = words[-1] if words[-1:] in ("-", "+") else ""
        words = words[: len(words) - len(sign)]
        if words and not _LEAD_WORDS_RE.fullmatch(words):
            said = _words_verdict(words)  # 全部完成12个, 基本完成80%: a verdict, then the number
            if said is None:
                return None
            verdicts.append(said)
        label = lead[: len(lead) - len(sign)]
        rest = sign + rest
    # after the number: "(已完成)", ",全部完成" or a verdict written on (100%完成)
    note = ""
    core = rest
    m = re.fullmatch(r"(?P<core>.+?)\((?P<inner>[^()]+)\)", rest)
    if m and _words_verdict(m["inner"]) is not None:
        core, note = m["core"], m["inner"]
    else:
        cut = next((i for i in range(len(rest)) if rest[i] in _SEPARATORS), None)
        if cut is not None:
            core, note = rest[:cut], rest[cut + 1:]
            if _words_verdict(note) is None:
                return None
        else:
            for i in range(len(n.group()), len(rest)):
                if _words_verdict(rest[i:]) is not None and _quantity(rest[:i]) is not None:
                    core, note = rest[:i], rest[i:]
                    break
    if note:
        verdicts.append(_words_verdict(note))
    if not (label or note) or len(set(verdicts)) > 1:
        return None
    found = _quantity(core.strip(" "))
    if found is None or found["label"]:
        return None
    found.update(label=label.strip(" "), note=note.strip(" "))
    if verdicts:
        found["verdict"] = verdicts[0]
    return found


def _unit(raw: str) -> str | None:
    unit = raw
    if "(" in unit:  # "%(百分比)" → "%", "(%)" → "%", "%(含)" → "%"
        outer = _PAREN_RE.sub("", unit)
        inner = _PAREN_RE.search(unit)
        unit = outer if outer else (inner.group(1) if inner else unit)
    unit = UNIT_ALIASES.get(unit, unit)
    if len(unit) > 6 or _BAD_UNIT_RE.search(unit) or (unit[:1] in ("%", "‰") and len(unit) > 1):
        return None
    again = _TAIL_RE.fullmatch(unit)  # written again after a number, it must read as itself
    return unit if again and again["unit"] == unit else None


def _shift(value: Decimal, power: int) -> Decimal:
    """value × 10**power, exactly (Decimal arithmetic would round to the context's 28 digits)."""
    sign, digits, exponent = value.as_tuple()
    return _tidy(Decimal((sign, digits, exponent + power)))


def _tidy(value: Decimal) -> Decimal:
    """An integral value as a plain integer Decimal (9E+11 → 900000000000); others unchanged."""
    whole = int(value)
    return Decimal(whole) if whole == value else value


def _json_number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    whole = int(value)
    return whole if whole == value else float(value)


def _canonical_unit(unit: str) -> str:
    unit = UNIT_ALIASES.get(unit, unit)
    return CANONICAL_UNITS.get(unit, unit)


def same_unit(a: Measure, b: Measure) -> bool:
    """Both are quantities in one unit (万元 and 亿元 are both 元 after expansion; km = 公里).

    "" (a bare number) matches only "": use `with_unit_of` first when an actual omits the unit.
    Units are not related by meaning: 次 ≠ 人次, 个 ≠ 家, % ≠ "".
    """
    return a.kind == b.kind == "quantity" and _canonical_unit(a.unit) == _canonical_unit(b.unit)


def convert(value, from_unit: str, to_unit: str) -> Decimal | None:
    """`value` in `to_unit`, or None when the units are not on one scale (米/公里, 公斤/吨, %/‰ …)."""
    try:
        source, target = _canonical_unit(from_unit), _canonical_unit(to_unit)
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if source == target:
            return number
        a, b = UNIT_SCALES.get(source), UNIT_SCALES.get(target)
        if a and b and a[0] == b[0]:
            return number * a[1] / b[1]
    except Exception:
        pass
    return None


def with_unit_of(actual: Measure, target: Measure) -> Measure:
    """A bare-number actual read in the target's multiplier and unit.

    Forms often give the unit once: target `≤90万元`, actual `90` means 90万元. Returns `actual`
    unchanged unless it is a quantity without unit or multiplier and the target has one.
    """
    if not (actual.kind == target.kind == "quantity" and actual.unit == "" and not actual.multiplier
            and (target.unit or target.multiplier)):
        return actual
    shift = MULTIPLIERS.get(target.multiplier, 0)
    return replace(actual, value=_shift(actual.value, shift),
                   unit=target.unit, multiplier=target.multiplier,
                   display=actual.display + target.multiplier + target.unit)
