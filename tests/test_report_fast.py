"""The report's fast paths: the palette chart decodes to the RGB drawing's pixels, and the
pre-compiled template writes the same document.xml as docxtpl's own render."""
from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import pytest
from PIL import Image, ImageChops

from selfeval_xl import chart, histogram

GROUPS = [("投入目标", Decimal(26), Decimal("25.96"), Decimal("25.96")), ("产出目标", Decimal(40), Decimal("38.5"), Decimal(31)),
          ("效益目标", Decimal(24), Decimal(24), Decimal("20.25")), ("影响力目标", None, Decimal("5.2"), Decimal(-1))]


def _needs_font():
    if chart.find_cjk_font() is None:
        pytest.skip("no CJK font installed")


@pytest.mark.parametrize("draw, args", [(chart.bar_chart, GROUPS), (chart.bar_chart, GROUPS[:1]),
                                        (histogram.histogram, [("50–60分", 1), ("60–70分", 3), ("90–100分", 12)])])
def test_palette_png_has_the_rgb_pixels(draw, args):
    _needs_font()
    fast, rgb = Image.open(BytesIO(draw(args))), Image.open(BytesIO(draw(args, palette=False)))
    assert fast.mode == "P" and rgb.mode == "RGB" and fast.size == rgb.size
    assert round(fast.info["dpi"][0]) == round(rgb.info["dpi"][0]) == 192
    assert ImageChops.difference(fast.convert("RGB"), rgb).getbbox() is None  # every pixel the same
    # the three series colours and the anti-aliased text greys are all there
    colours = {c for _, c in fast.convert("RGB").getcolors(256)}
    if draw is chart.bar_chart and len(args) > 1:
        assert {(191, 191, 191), (68, 114, 196), (237, 125, 49), (30, 30, 30), (255, 255, 255)} <= colours
        assert len(colours) > 50  # text is anti-aliased, not 1-bit


def test_palette_png_is_smaller():
    _needs_font()
    assert len(chart.bar_chart(GROUPS)) < 0.7 * len(chart.bar_chart(GROUPS, palette=False))
