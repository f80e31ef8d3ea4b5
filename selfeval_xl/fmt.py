"""How numbers are written in messages, the report, the chart and mail: one place, so that
a score reads the same everywhere (7.96, 3, 0.38) and money always has its cents (6962.80).
Also how wide text is (terminal columns, Excel column widths, the letter's table)."""
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


def to_decimal(x) -> Decimal:
    """A Decimal from a Decimal, int, float or TOML value, through its shortest text (0.1 stays 0.1)."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


def cents(x: Decimal) -> Decimal:
    """Rounded half up to 0.01 (the way a person rounds by hand)."""
    try:
        return x.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # too many digits to hold cents: show it as it is
        return x


def points(x: Decimal | float | int | None) -> str:
    """Points rounded half up to 0.01, without trailing zeros; '' when missing."""
    return "" if x is None else plain(cents(to_decimal(x)))


def money(x: Decimal | float | int | None) -> str:
    """万元 with two decimals, as the form prints them (6962.80); '' when missing."""
    return "" if x is None else f"{cents(to_decimal(x)):f}"


def percent(x: Decimal | None, places: str = "0.01") -> str:
    """A percentage rounded half up to ``places``, without trailing zeros: 96.5%, 100%; '' when missing."""
    if x is None:
        return ""
    return plain(x.quantize(Decimal(places), rounding=ROUND_HALF_UP)) + "%"


def share(n: int, total: int) -> str:
    """``n`` of ``total`` as a percentage with exactly one decimal (50.0%, as a table column); '' for 0."""
    return f"{n / total * 100:.1f}%" if total else ""


def json_number(x: Decimal | None) -> float | int | None:
    """A Decimal for JSON: an int when whole, else a float."""
    if x is None:
        return None
    return int(x) if x == x.to_integral_value() and abs(x) < 2**53 else float(x)


def columns(text: str) -> int:
    """Display width of ``text`` in columns: 2 for East Asian Wide and Fullwidth characters (UAX #11
    classes W and F: CJK, full-width forms and punctuation such as ，、【】), 1 for everything else.

    This is the one width rule (terminal padding, Excel column widths, the letter's table). It
    replaces code-point thresholds (``> 0x2E80`` / ``> 0x2E7F``) that missed U+2E80 itself or
    counted half-width katakana and private-use characters double. Ambiguous characters (“ ” …
    ① ×) count 1, as in a Chinese Excel/Word with a Latin font for them. wcwidth is deliberately
    not used: the same file must get the same widths on every machine.
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text or "")


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (left- or right-aligned)."""
    fill = " " * max(0, width - columns(text))
    return fill + text if right else text + fill
