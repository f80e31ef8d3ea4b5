"""How numbers are written in messages, the report, the chart and mail: one place, so that
a score reads the same everywhere (7.96, 3, 0.38) and money always has its cents (6962.80)."""
from __future__ import annotations

import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def plain(x: Decimal) -> str:
    """A number as typed, without trailing zeros and without rounding (weights, targets)."""
    s = format(x, "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def year_text(text) -> str:
    """The project year as written, without a trailing 年/年度: 2021, 2021年, 2021年度 → 2021."""
    s = unicodedata.normalize("NFKC", "" if text is None else str(text)).strip()
    for tail in ("年度", "年"):
        if s.endswith(tail):
            return s[: -len(tail)].strip()
    return s


def year_label(text) -> str:
    """``2021年度`` from however the year was typed (2021, 2021年, 2021年度); "" when blank."""
    y = year_text(text)
    return f"{y}年度" if y else ""


def _dec(x) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def cents(x: Decimal) -> Decimal:
    """Rounded half up to 0.01 (the way a person rounds by hand)."""
    try:
        return x.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to hold cents: show it as it is
        return x


def points(x: Decimal | float | int | None) -> str:
    """Points rounded half up to 0.01, without trailing zeros; '' when missing."""
    return "" if x is None else plain(cents(_dec(x)))


def money(x: Decimal | float | int | None) -> str:
    """万元 with two decimals, as the form prints them (6962.80); '' when missing."""
    return "" if x is None else f"{cents(_dec(x)):f}"


def columns(text: str) -> int:
    """Terminal columns of ``text`` (CJK and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (left- or right-aligned)."""
    fill = " " * max(0, width - columns(text))
    return fill + text if right else text + fill
