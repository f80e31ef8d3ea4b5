"""The report's bar chart (points per indicator class: 分值 / 自评分 / 规则得分), drawn with Pillow.

matplotlib is not a dependency; Pillow is. The labels are Chinese, so a CJK font must be found
on the machine (fontconfig, then known paths on Linux/Windows/macOS). A font that lacks CJK
glyphs would draw boxes ("tofu"), so each candidate is tested by rendering two different
ideographs: a font without them draws the same .notdef box twice. Without a usable font the
chart is left out (``bar_chart`` returns None) rather than drawn with boxes.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .fmt import points

# Known CJK font files, most preferred first (sans faces read better in a chart).
KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
)
WINDOWS_FONTS = ("simhei.ttf", "msyh.ttc", "msyh.ttf", "simsun.ttc", "simfang.ttf", "simkai.ttf", "Deng.ttf")
PROBE = ("类", "值")  # two ideographs that look different in any real CJK font

SERIES = (("分值", (191, 191, 191)), ("自评分", (68, 114, 196)), ("规则得分", (237, 125, 49)))
# Palette slots of the non-grey fills (see ``canvas``): grey g is slot g, and anti-aliased text
# (grey ink on white) only blends into slots between the ink's grey and 255, never these.
FILL_SLOTS = {(68, 114, 196): 1, (237, 125, 49): 2}


def _candidates() -> list[str]:
    out: list[str] = []
    env = os.environ.get("SELFEVAL_CJK_FONT")
    if env:
        out.append(env)
    fc = shutil.which("fc-match")
    if fc:
        for pattern in ("sans-serif:lang=zh-cn", "serif:lang=zh-cn", ":lang=zh"):
            try:
                res = subprocess.run([fc, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10)
                if res.returncode == 0 and res.stdout.strip():
                    out.append(res.stdout.strip())
            except (OSError, subprocess.SubprocessError):
                pass
    out.extend(KNOWN_FONTS)
    windir = os.environ.get("WINDIR") or os.environ.get("SystemRoot")
    if windir:
        out.extend(str(Path(windir) / "Fonts" / name) for name in WINDOWS_FONTS)
    seen: set[str] = set()
    return [c for c in out if not (c in seen or seen.add(c))]


def has_cjk(font: ImageFont.FreeTypeFont) -> bool:
    masks = [font.getmask(ch) for ch in PROBE]
    if any(m.getbbox() is None for m in masks):
        return False
    return bytes(masks[0]) != bytes(masks[1])


def _face_index(path: str) -> int:
    """In a collection (.ttc), prefer the Simplified Chinese face (Noto CJK puts JP first)."""
    if not path.lower().endswith(".ttc"):
        return 0
    for i in range(12):
        try:
            name = " ".join(ImageFont.truetype(path, 12, index=i).getname())
        except OSError:
            break
        if " SC" in name or "Simplified" in name or "Hans" in name:
            return i
    return 0


@lru_cache(maxsize=1)
def find_cjk_font() -> tuple[str, int] | None:
    """(path, face index) of a font that really draws Chinese, or None. Cached per process."""
    for path in _candidates():
        if not path or not Path(path).is_file():
            continue
        try:
            index = _face_index(path)
            font = ImageFont.truetype(path, 24, index=index)
        except OSError:
            continue
        if has_cjk(font):
            return path, index
    return None


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    found = find_cjk_font()
    assert found is not None
    return ImageFont.truetype(found[0], size, index=found[1])


def canvas(width: int, height: int, palette: bool = True):
    """A white image and its drawing context, and ``ink(rgb)`` giving the fill value to draw with.

    ``palette`` (the default): an 8-bit palette image whose slot g is grey g, except the few
    FILL_SLOTS (bar colours). Text is drawn anti-aliased (fontmode "L"): on white, blending grey
    ink with 255 lands on the slot of the blended grey, so the picture decodes to the same pixels
    as the RGB drawing (tests/test_report.py checks) and encodes ~3× faster and 2× smaller (a
    chart has ~230 colours). Only where text overlaps a coloured bar do its edge pixels blend
    into dark greys instead of a tint of the bar. ``palette=False``: the plain RGB drawing.
    """
    if not palette:
        img = Image.new("RGB", (width, height), "white")
        return img, ImageDraw.Draw(img), lambda rgb: rgb
    img = Image.new("P", (width, height), 255)
    pal = [v for g in range(256) for v in (g, g, g)]
    for rgb, slot in FILL_SLOTS.items():
        pal[3 * slot:3 * slot + 3] = rgb
    img.putpalette(pal)
    d = ImageDraw.Draw(img)
    d.fontmode = "L"  # anti-aliased text, as in RGB (ImageDraw's default for "P" is "1")

    def ink(rgb: tuple[int, int, int]) -> int:
        r, g, b = rgb
        if r == g == b:
            return r
        return FILL_SLOTS[rgb]  # KeyError: a new colour needs its slot in FILL_SLOTS

    return img, d, ink


def png_bytes(img: Image.Image, scale: int) -> bytes:
    """PNG bytes at 96 dpi × scale. zlib level: RGB 1 (level 6 costs 60 ms for 25 % less); palette 3
    (measured on the report's chart: level 1 10 ms 33 KB, 3 10 ms 31 KB, 6 16 ms 25 KB, 9 48 ms 22 KB)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(96 * scale, 96 * scale), compress_level=3 if img.mode == "P" else 1)
    return buf.getvalue()


def bar_chart(groups: list[tuple], scale: int = 2, palette: bool = True) -> bytes | None:
    """A grouped bar chart as PNG bytes: for each class (name, 分值, 自评分[, 规则得分]): two or three series.

    A missing 分值 (class printed without points) is drawn as no bar. Returns None when no
    CJK font is available (the report then says so instead of showing boxes).
    """
    if not groups or find_cjk_font() is None:
        return None
    s = scale
    width, height = 820 * s, 400 * s
    left, right, top, bottom = 64 * s, 20 * s, 70 * s, 50 * s
    img, d, ink = canvas(width, height, palette)
    f_label, f_small, f_tick = _font(20 * s), _font(16 * s), _font(16 * s)

    values = [max(float(v), 0.0) for g in groups for v in g[1:] if v is not None]
    peak = max(values + [1.0])
    step = 1.0
    while peak / step > 6:  # 1, 2, 5, 10, 20, 50, ... so that there are at most 6 grid lines
        step = step * 2.5 if str(step).lstrip("0.")[:1] == "2" else step * 2
    ymax = step * (int(peak / step) + 1)
    plot_h = height - top - bottom
    plot_w = width - left - right

    def y(v: float) -> float:
        return top + plot_h * (1 - v / ymax)

    # grid and y ticks
    tick = 0.0
    while tick <= ymax + 1e-9:
        yy = y(tick)
        d.line([(left, yy), (width - right, yy)], fill=ink((225, 225, 225) if tick else (80, 80, 80)), width=s)
        label = points(tick)
        tw = d.textlength(label, font=f_tick)
        d.text((left - 8 * s - tw, yy), label, font=f_tick, fill=ink((60, 60, 60)), anchor="lm")
        tick += step
    d.text((left - 8 * s, top - 16 * s), "分", font=f_tick, fill=ink((60, 60, 60)), anchor="rm")

    # legend
    x = left
    for name, color in SERIES[:len(groups[0]) - 1]:
        d.rectangle([x, 18 * s, x + 14 * s, 32 * s], fill=ink(color))
        d.text((x + 20 * s, 25 * s), name, font=f_label, fill=ink((30, 30, 30)), anchor="lm")
        x += 20 * s + d.textlength(name, font=f_label) + 28 * s

    # bars
    n = len(groups)
    slot = plot_w / n
    k = len(groups[0]) - 1  # series drawn: (分值, 自评分) or (分值, 自评分, 规则得分)
    bar_w = min(slot * 0.8 / k, 56 * s)
    for i, (name, *vals) in enumerate(groups):
        cx = left + slot * (i + 0.5)
        x0 = cx - bar_w * k / 2
        for j, (v, (_, color)) in enumerate(zip(vals, SERIES)):
            if v is None:
                continue
            bx = x0 + j * bar_w
            top_y = y(max(float(v), 0.0))
            d.rectangle([bx + s, top_y, bx + bar_w - s, y(0)], fill=ink(color))
            d.text((bx + bar_w / 2, top_y - 3 * s), points(v), font=f_small, fill=ink((30, 30, 30)), anchor="md")
        d.text((cx, height - bottom + 8 * s), name, font=f_label, fill=ink((30, 30, 30)), anchor="mt")

    return png_bytes(img, s)
