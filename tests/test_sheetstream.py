"""Rows streamed into an openpyxl-written package (sheetstream) and the 汇总.xlsx built with it:
what Excel, openpyxl and LibreOffice read back, and the worksheet XML's schema order."""
from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from defusedxml.ElementTree import fromstring
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill

from batchdata import current_run

from selfeval_xl.sheetstream import CHUNK_ROWS, Cell, SheetRows, register, sheet_parts, splice
from selfeval_xl.overview import write_workbook
from selfeval_xl.tables import load_run, records

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
# ECMA-376 Part 1, CT_Worksheet: the order of a worksheet's children
CT_WORKSHEET = ("sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr",
                "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState", "dataConsolidate",
                "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting", "dataValidations",
                "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter", "rowBreaks", "colBreaks",
                "customProperties", "cellWatches", "ignoredErrors", "smartTags", "drawing", "legacyDrawing",
                "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems", "tableParts",
                "extLst")


def _package(title: str = "数据"):
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title)
    ws.freeze_panes = "B2"  # write-only: the sheet's top is written with the first row
    ws.print_options.gridLines = True
    ws.append(["名称", "数", "链接", "说明"])
    return wb, ws


def _splice(wb, sheets, target: Path) -> Path:
    buf = io.BytesIO()
    wb.save(buf)
    splice(buf, target, sheets)
    return target


def _check_schema_order(path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        for name, part in sheet_parts(zf).items():
            root = fromstring(zf.read(part))
            tags = [c.tag.removeprefix(MAIN) for c in root]
            ranks = [CT_WORKSHEET.index(t) for t in tags]
            assert ranks == sorted(ranks), (name, tags)
            rels_name = part.replace("worksheets/", "worksheets/_rels/") + ".rels"
            rels = {r.get("Id"): r for r in fromstring(zf.read(rels_name))} if rels_name in zf.namelist() else {}
            for link in root.iter(MAIN + "hyperlink"):
                rel = rels[link.get(REL + "id")]
                assert rel.get("TargetMode") == "External" and rel.get("Type").endswith("/hyperlink")


def test_rows_across_chunks_with_links_styles_and_risky_text(tmp_path):
    wb, ws = _package()
    fill = register(ws, fill=PatternFill("solid", fgColor="FFF2CC"))
    link = register(ws, font=Font(color="0563C1", underline="single"))
    wrap = register(ws, alignment=Alignment(wrap_text=True, vertical="top"))
    n = CHUNK_ROWS * 2 + 7
    texts = ["=1+1", "+86", "-2", "@SUM(A1)", "a<b>&c", " 前后空格 ", "坏\x01字符", "#N/A"]

    def rows():
        for i in range(n):
            yield [texts[i % len(texts)], Cell(i * 0.5, fill) if i % 3 else i,
                   Cell("打开", link, f"目录/{i % 10}.xlsx", f"'自评表'!G{i + 2}"), Cell(None if i % 2 else "说明", wrap)]

    ws.auto_filter.ref = f"A1:D{n + 1}"
    out = _splice(wb, [SheetRows("数据", 4, rows(), register(ws))], tmp_path / "t.xlsx")
    _check_schema_order(out)
    back = load_workbook(out)["数据"]
    assert back.max_row == n + 1 and back.freeze_panes == "B2" and back.auto_filter.ref == f"A1:D{n + 1}"
    values = list(back.iter_rows(min_row=2, values_only=True))
    assert values[0] == ("=1+1", 0, "打开", "说明") and values[1] == ("+86", 0.5, "打开", None)
    assert values[6][0] == "坏字符" and values[7][0] == "#N/A" and values[5][0] == " 前后空格 "
    assert values[-1] == (texts[(n - 1) % len(texts)].replace("\x01", ""), (n - 1) * 0.5, "打开", "说明" if (n - 1) % 2 == 0 else None)
    for r in range(2, 10):
        c = back.cell(r, 1)
        assert c.data_type == "s" and c.quotePrefix == (c.value[:1] in "=+-@"), c.value
    assert back["B3"].fill.fgColor.rgb.endswith("FFF2CC") and back["B2"].fill.fill_type is None
    assert back["D3"].alignment.wrap_text  # a styled blank keeps its format
    assert back["C2"].font.underline == "single"
    links = [back.cell(r, 3).hyperlink for r in range(2, n + 2)]
    assert [(h.target, h.location) for h in links[:2]] == [("目录/0.xlsx", "'自评表'!G2"), ("目录/1.xlsx", "'自评表'!G3")]
    assert all(h is not None for h in links) and links[-1].location == f"'自评表'!G{n + 1}"
    with zipfile.ZipFile(out) as zf:
        part = sheet_parts(zf)["数据"]
        sheet = zf.read(part)
        rels = zf.read(part.replace("worksheets/", "worksheets/_rels/") + ".rels")
    assert b"<f>" not in sheet and b"<f " not in sheet  # nothing is a formula
    assert rels.count(b"<Relationship ") == 10  # one relationship per distinct target


def test_no_rows_leaves_the_header(tmp_path):
    wb, ws = _package()
    out = _splice(wb, [SheetRows("数据", 4, iter(()))], tmp_path / "t.xlsx")
    _check_schema_order(out)
    assert list(load_workbook(out)["数据"].iter_rows(values_only=True)) == [("名称", "数", "链接", "说明")]


def test_non_finite_numbers_are_blank(tmp_path):
    wb, ws = _package()
    out = _splice(wb, [SheetRows("数据", 4, iter([["a", math.nan], ["b", math.inf], ["c", True]]))], tmp_path / "t.xlsx")
    assert list(load_workbook(out)["数据"].iter_rows(min_row=2, values_only=True)) == [
        ("a", None, None, None), ("b", None, None, None), ("c", True, None, None)]


def test_summary_xml_follows_the_schema(tmp_path):
    outbox = current_run(tmp_path / "本次")
    path = write_workbook(outbox / "汇总.xlsx", records(load_run(outbox), outbox))
    _check_schema_order(path)
    ws = load_workbook(path)["项目"]
    assert ws.cell(1, 5).comment is not None  # the header comments (openpyxl's part) survive the splice


@pytest.mark.office
def test_libreoffice_reads_the_summary_as_written(tmp_path):
    """LibreOffice opens 汇总.xlsx and reads the same values and links (a headless conversion keeps no
    view, so the frozen panes are not compared)."""
    from conftest import convert

    outbox = current_run(tmp_path / "本次")
    path = write_workbook(outbox / "汇总.xlsx", records(load_run(outbox), outbox))
    back = convert(path, "xlsx", tmp_path / "lo")
    ours, theirs = load_workbook(path), load_workbook(back)
    assert theirs.sheetnames == ours.sheetnames
    for name in ours.sheetnames:
        a = list(ours[name].iter_rows(values_only=True))
        b = list(theirs[name].iter_rows(values_only=True))
        assert a == b, name
    lo = theirs["项目"]
    assert lo.cell(2, 16).hyperlink.target.endswith("财政/a1.复核.xlsx")
    f = theirs["复核发现"].cell(4, 6).hyperlink
    assert f.target.endswith("财政/a1.复核.xlsx") and f.location.replace("$", "") in ("'自评表'!G10", "自评表!G10")

    def links(wb, folder: Path, name: str, cols) -> list:  # LibreOffice rewrites them relative to its copy
        return [(c.coordinate, (folder / unquote(c.hyperlink.target)).resolve()) for row in wb[name].iter_rows()
                for c in row if c.column in cols and c.hyperlink]

    for name, cols in (("项目", (16, 17)), ("复核发现", (6,))):  # every link, to the same existing file
        mine = links(ours, path.parent, name, cols)
        assert mine and mine == links(theirs, back.parent, name, cols), name
        assert all(p.is_file() for _, p in mine)
    assert theirs["项目"]["B6"].value == "=健康宣传经费" and theirs["项目"]["B6"].data_type == "s"


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=6),
       numbers=st.lists(st.one_of(st.none(), st.integers(-10**9, 10**9),
                                  st.floats(allow_nan=False, allow_infinity=False, width=32)), min_size=1, max_size=6))
def test_streamed_cells_read_back_as_written(tmp_path_factory, texts, numbers):
    """Any text (characters a workbook cannot hold dropped, spaces and CR kept, = + - @ starts
    quote-prefixed) and any number comes back from the spliced package as cells.put stores it."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb, ws = _package()
    pairs = list(zip(texts, numbers))
    rows = [[Cell(text), Cell(number)] for text, number in pairs]
    path = _splice(wb, [SheetRows("数据", 4, rows, register(ws))], tmp_path_factory.mktemp("s") / "t.xlsx")
    got = list(load_workbook(path)["数据"].iter_rows(min_row=2, max_row=len(pairs) + 1))
    for (text, number), row in zip(pairs, got):
        clean = ILLEGAL_CHARACTERS_RE.sub("", text)
        assert row[0].value == clean if clean else row[0].value in (None, "")  # nothing left: blank or empty text
        if clean:
            assert row[0].data_type == "s" and bool(row[0].quotePrefix) == clean.startswith(("=", "+", "-", "@"))
        assert row[1].value == number
