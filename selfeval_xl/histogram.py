"""The 复核汇总报告's histogram of 复核得分 (projects per 10-point band), drawn with Pillow.

Same approach as ``chart.py`` (its CJK font finder; no matplotlib): without a font that really
draws Chinese the picture is left out (None) and the report keeps the table.
"""
from __future__ import annotations

from .chart import _font, canvas, find_cjk_font, png_bytes

BAND = 10  # points per band
COLOR = (68, 114, 196)


def bands(scores: list[float], band: int = BAND) -> list[tuple[str, int]]:
    """(label, count) per band [lo, lo+band) from the lowest band with data (at most 50) up to
    100; 100 itself counts in the last band, a score above 100 in a band of its own."""
    vals = [float(s) for s in scores if s is not None and s == s]
    if not vals:
        return []
    lo = min(50, int(min(vals) // band * band))
    hi = max(100, int(max(vals) // band * band + (band if max(vals) > 100 else 0)))
    out = []
    for start in range(lo, hi, band):
        end = start + band
        last = end >= 100 and start < 100
        n = sum(1 for v in vals if start <= v < end or (last and v == end))
        out.append((f"{start}–{end}分" if start or end != band else f"{end}分以下", n))
    return out


def histogram(counts: list[tuple[str, int]], scale: int = 2, palette: bool = True) -> bytes | None:
    """A bar per band with its count above it; PNG bytes, or None without a CJK font."""
    if not counts or find_cjk_font() is None:
        return None
    s = scale
    width, height = 820 * s, 360 * s
    left, right, top, bottom = 64 * s, 20 * s, 30 * s, 50 * s
    img, d, ink = canvas(width, height, palette)
    f_label, f_tick = _font(18 * s), _font(16 * s)
    peak = max(n for _, n in counts) or 1
    step = 1
    while peak / step > 6:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    ymax = step * (peak // step + 1)
    plot_h, plot_w = height - top - bottom, width - left - right

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ymax)

    tick = 0
    while tick <= ymax:
        d.line([(left, y(tick)), (width - right, y(tick))], fill=ink((225, 225, 225) if tick else (80, 80, 80)), width=s)
        d.text((left - 8 * s, y(tick)), str(tick), font=f_tick, fill=ink((60, 60, 60)), anchor="rm")
        tick += step
    d.text((left - 8 * s, top - 14 * s), "项目数", font=f_tick, fill=ink((60, 60, 60)), anchor="lm")
    slot = plot_w / len(counts)
    for i, (name, n) in enumerate(counts):
        x0, x1 = left + slot * i + slot * 0.15, left + slot * (i + 1) - slot * 0.15
        if n:
            d.rectangle([x0, y(n), x1, y(0)], fill=ink(COLOR))
        d.text(((x0 + x1) / 2, y(n) - 3 * s), str(n), font=f_label, fill=ink((30, 30, 30)), anchor="md")
        d.text(((x0 + x1) / 2, height - bottom + 8 * s), name, font=f_label, fill=ink((30, 30, 30)), anchor="mt")
    return png_bytes(img, s)
