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


# ---- the pre-compiled template against docxtpl's own render ---------------------------------

def _parts(path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _review(kind: str, tmp_path, seed_docx):
    from conftest import SAMPLE, build, content
    from selfeval_xl.reader import read_all
    from selfeval_xl.review import review, review_file

    if kind == "suzhou":
        return review_file(SAMPLE)
    if kind == "national":
        return review_file(SAMPLE.with_name("义务教育营养改善计划专项资金_2022.xlsx"))
    if kind == "word":
        return review(read_all(seed_docx)[0])
    # many findings: the seed with every self-score half a point off and a wrong total
    import copy

    from build_sample import parse_seed
    from conftest import DATA

    c = copy.deepcopy(parse_seed((DATA / "seed_suzhou_2020.txt").read_text(encoding="utf-8")))
    c["total"] = 99
    c["categories"] = [(t, [(n, tg, w, a, (s or 0) + 0.5) for n, tg, w, a, s in rows]) for t, rows in c["categories"]]
    return review_file(build(tmp_path / "多问题.xlsx", content(c)))


@pytest.mark.parametrize("kind", ["suzhou", "national", "word", "many findings"])
@pytest.mark.parametrize("findings", [True, False])
def test_fast_path_writes_what_docxtpl_writes(kind, findings, tmp_path, seed_docx):
    """Every part of the report from the pre-compiled template equals docxtpl's own render and
    save of the same review: document.xml, styles, headers, the chart's bytes; only the zip's
    entry order and the core properties' timestamps may differ."""
    import re

    from selfeval_xl.report import render_report

    r = _review(kind, tmp_path, seed_docx)
    fast = _parts(render_report(r, tmp_path / "fast.docx", findings=findings))
    slow = _parts(render_report(r, tmp_path / "slow.docx", findings=findings, fast=False))
    assert set(fast) == set(slow)
    stamp = re.compile(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>")
    for name in slow:
        a, b = fast[name], slow[name]
        if name == "docProps/core.xml":
            a, b = stamp.sub(b"", a), stamp.sub(b"", b)
        assert a == b, name
    assert len(r.findings) >= (30 if kind == "many findings" else 0)
