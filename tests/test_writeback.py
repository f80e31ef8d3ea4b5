"""The reviewed workbook (issue 4): added columns, marked findings, 复核结果, nothing else lost."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.drawing.image import Image
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from conftest import convert, soffice
from selfeval_xl import office, sources
from selfeval_xl.ooxml import sheet_parts
from selfeval_xl.review import review_file
from selfeval_xl.writeback import (
    ADDED_HEADERS,
    COMMENT_MARK,
    DECISION_HEADERS,
    REVIEW_SHEET,
    SEVERITY_FILLS,
    openpyxl_losses,
    reviewed_name,
    write_reviewed,
)

SECOND_PLACE = "促进我市软件产业高质量发展，保持全省第二的位置"


def _write(src: Path, out_dir: Path | None = None) -> Path:
    """Review ``src`` and write its reviewed copy (beside it, or into ``out_dir``)."""
    target = (out_dir or src.parent) / reviewed_name(src)
    return write_reviewed(review_file(src), src, target)


def _row_of(ws, name: str) -> int:
    return next(c.row for c in ws["C"] if c.value == name)


def _header_col(ws, header_row: int = 70) -> int:
    return next(c.column for c in ws[header_row] if c.value == ADDED_HEADERS[0])


def _label_value(ws, label: str):
    return next(row[1] for row in ws.iter_rows(values_only=True) if row[0] == label)


def _notes(ws) -> list[str]:
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "注意")
    return [r[1] for r in rows[start + 1:] if r[1]]


def _sheet_xml(path: Path, sheet: str) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(sheet_parts(zf)[sheet]).decode("utf-8")


def _cell_xml(xml: str, coord: str) -> str:
    m = re.search(rf'<c r="{coord}"[^>]*?(?:/>|>.*?</c>)', xml, re.S)
    assert m, coord
    return m.group(0)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name, want", [
    ("a.xlsx", "a.复核.xlsx"),
    ("a.XLSX", "a.复核.xlsx"),
    ("a.xlsm", "a.复核.xlsm"),
    ("a.xls", "a.复核.xlsx"),
    ("a.et", "a.复核.xlsx"),
    ("a.ods", "a.复核.xlsx"),
    ("a.复核.xlsx", "a.复核.xlsx"),
    ("a.复核.xlsm", "a.复核.xlsm"),
    ("苏州.2020.xlsx", "苏州.2020.复核.xlsx"),
])
def test_reviewed_name(name, want):
    assert reviewed_name(Path(name)) == want
    assert reviewed_name(Path(want)) == want  # idempotent


# --------------------------------------------------------------------------- the sample


def test_reviewed_sample(sample):
    out = _write(sample)
    assert out.name == "苏州市打造先进制造业基地专项资金_2020.复核.xlsx"
    wb = load_workbook(out)
    assert wb.sheetnames == ["自评表", "项目基本情况", REVIEW_SHEET]

    res = wb[REVIEW_SHEET]
    assert _label_value(res, "规则总分") == pytest.approx(77.51)
    assert _label_value(res, "自评总分（表中合计）") == pytest.approx(77.38)
    assert _label_value(res, "自评分之和") == pytest.approx(77.38)
    assert _label_value(res, "项目名称") == "苏州市打造先进制造业基地专项资金"
    assert _label_value(res, "评分规则") == "suzhou-2020"

    ws = wb["自评表"]
    row = _row_of(ws, SECOND_PLACE)
    g = ws.cell(row, 7)
    assert g.fill.fill_type == "solid" and g.fill.fgColor.rgb.endswith(SEVERITY_FILLS["error"])
    assert g.comment is not None and "0.67" in g.comment.text and COMMENT_MARK in g.comment.text

    # the six columns right of 自评分 (column G is the last in use), values not formulas
    first = _header_col(ws)
    assert first == 8
    assert [ws.cell(70, first + i).value for i in range(6)] == list(ADDED_HEADERS)
    assert ws.cell(70, first).font.b == ws["G70"].font.b
    assert ws.cell(70, first).fill.fgColor.rgb == ws["G70"].fill.fgColor.rgb
    assert ws.cell(row, first + 3).value == pytest.approx(0.67)
    assert ws.cell(row, first + 3).number_format == "0.00"
    assert ws.cell(row, first + 4).value == pytest.approx(0.13)
    assert "全省第二" in ws.cell(row, first + 5).value
    budget = _row_of(ws, "预算执行率")
    assert ws.cell(budget, first + 1).value == "=99.9%"
    assert ws.cell(budget, first + 2).value == pytest.approx(99.9)
    assert ws.cell(budget, first + 2).number_format == '0.0"%"'
    total = next(c.row for c in ws["A"] if c.value == "合计")
    assert ws.cell(total, first + 3).value == pytest.approx(77.51)
    assert 48 <= ws.column_dimensions["M"].width <= 100
    assert ws.cell(budget, first + 5).alignment.wrap_text


def test_findings_list_links_to_cells(sample):
    out = _write(sample)
    review = review_file(sample)
    res = load_workbook(out)[REVIEW_SHEET]
    rows = list(res.iter_rows())
    head = next(i for i, r in enumerate(rows) if r[0].value == "序号")
    listed = [r for r in rows[head + 1:] if isinstance(r[0].value, int) and r[1].value]
    listed = listed[: len(review.findings)]
    assert len(listed) == len(review.findings) == 13
    assert listed[0][2].value == "错误"  # errors first
    assert {r[1].value for r in listed} == {f.code for f in review.findings}
    for r in listed:
        sheet, coord = r[3].value.split("!")
        link = r[3].hyperlink
        assert link is not None and link.location == f"'{sheet}'!{coord}", r[3].value
        assert not link.target  # internal: no external relationship
    second = next(r for r in listed if r[1].value == "SCORE_MISMATCH")
    assert second[3].value == "自评表!G155" and "0.67" in second[4].value


def test_equals_strings_stay_text(sample):
    out = _write(sample)
    ws = load_workbook(out)["自评表"]
    row = next(c.row for c in ws["D"] if c.value == "=5家")
    first = _header_col(ws)
    xml = _sheet_xml(out, "自评表")
    assert "<f>" not in xml and "<f " not in xml
    for col in ("D", "F", ws.cell(row, first).column_letter, ws.cell(row, first + 1).column_letter):
        cell = _cell_xml(xml, f"{col}{row}")
        assert 't="inlineStr"' in cell or 't="s"' in cell, cell
        assert ws[f"{col}{row}"].value == "=5家" and ws[f"{col}{row}"].data_type == "s"


def test_input_untouched(sample):
    before = sources_sha(sample)
    mtime = sample.stat().st_mtime_ns
    out = _write(sample, sample.parent / "out")
    assert out.exists()
    assert sources_sha(sample) == before and sample.stat().st_mtime_ns == mtime
    assert [p.name for p in sample.parent.iterdir() if p.name.startswith(".~")] == []
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left


def sources_sha(path: Path) -> str:
    from selfeval_xl.fsutil import sha256

    return sha256(path)


def test_source_is_never_overwritten(sample):
    with pytest.raises(ValueError):
        write_reviewed(review_file(sample), sample, sample)


def test_failed_write_leaves_no_file(sample, monkeypatch):
    real = Path.write_bytes

    def half_written(self, data):
        real(self, data[:100])
        raise OSError("disk full")

    review = review_file(sample)
    monkeypatch.setattr(Path, "write_bytes", half_written)
    target = sample.parent / "out" / reviewed_name(sample)
    with pytest.raises(OSError):
        write_reviewed(review, sample, target)
    assert list(target.parent.iterdir()) == []


# --------------------------------------------------------------------------- idempotency


def test_review_of_reviewed_replaces(sample, tmp_path):
    first = _write(sample, tmp_path / "one")
    second = _write(first, tmp_path / "two")
    assert second.name == first.name
    a, b = load_workbook(first), load_workbook(second)
    assert a.sheetnames == b.sheetnames and b.sheetnames.count(REVIEW_SHEET) == 1
    assert a["自评表"].max_column == b["自评表"].max_column == 7 + len(ADDED_HEADERS) + len(DECISION_HEADERS) == 15
    assert [c.value for c in b["自评表"][70]] == [c.value for c in a["自评表"][70]]
    row = _row_of(b["自评表"], SECOND_PLACE)
    g = b["自评表"].cell(row, 7)
    assert g.comment.text.count(COMMENT_MARK) == 1 and g.fill.fgColor.rgb.endswith(SEVERITY_FILLS["error"])
    assert _label_value(b[REVIEW_SHEET], "规则总分") == pytest.approx(77.51)
    assert _notes_or_empty(b[REVIEW_SHEET]) == []  # nothing lost in our own output

    # in place, as the CLI does when the reviewed file sits in the output folder
    third = write_reviewed(review_file(second), second, second)
    c = load_workbook(third)
    assert c.sheetnames == b.sheetnames and c["自评表"].max_column == 15


def _notes_or_empty(ws) -> list[str]:
    try:
        return _notes(ws)
    except StopIteration:
        return []


def test_office_comment_kept_and_ours_replaced(sample, tmp_path):
    from openpyxl.comments import Comment

    wb = load_workbook(sample)
    ws = wb["自评表"]
    row = _row_of(ws, SECOND_PLACE)
    ws.cell(row, 7).comment = Comment("经办人：已与主管处室核对", "财务科")
    wb.save(sample)
    first = _write(sample, tmp_path / "one")
    again = _write(first, tmp_path / "two")
    text = load_workbook(again)["自评表"].cell(row, 7).comment.text
    assert text.startswith("经办人：已与主管处室核对")
    assert text.count(COMMENT_MARK) == 1 and "0.67" in text


def test_stale_marks_removed(sample, tmp_path):
    """A cell marked last time and clean now loses our fill and comment."""
    first = _write(sample, tmp_path / "one")
    wb = load_workbook(first)
    ws = wb["自评表"]
    row = _row_of(ws, SECOND_PLACE)
    ws.cell(row, 7).value = 0.67  # the office corrected the score
    wb.save(first)
    again = load_workbook(_write(first, tmp_path / "two"))["自评表"]
    assert again.cell(row, 7).comment is None
    assert again.cell(row, 7).fill.fill_type is None


# --------------------------------------------------------------------------- preservation


def _png(path: Path) -> Path:
    from PIL import Image as PILImage

    PILImage.new("RGB", (120, 40), (200, 30, 30)).save(path)
    return path


def test_preservation(sample, tmp_path):
    wb = load_workbook(sample)
    ws = wb["自评表"]
    dv = DataValidation(type="list", formula1='"是,否"', allow_blank=True)
    dv.add("I71:I162")
    ws.add_data_validation(dv)
    ws.conditional_formatting.add("J71:J162", CellIsRule(operator="greaterThan", formula=["1"],
                                                         fill=PatternFill("solid", fgColor="FFFF00")))
    img = Image(str(_png(tmp_path / "logo.png")))
    ws.add_image(img, "L3")
    wb.defined_names["预算执行率得分"] = DefinedName("预算执行率得分", attr_text="'自评表'!$G$75")
    ws.page_setup.orientation = "landscape"
    ws.print_area = "A1:G164"
    ws.column_dimensions["C"].width = 41.5
    wb.save(sample)

    out = _write(sample, tmp_path / "out")
    wb2 = load_workbook(out)
    ws2 = wb2["自评表"]
    theirs, ours = ws2.data_validations.dataValidation
    assert (str(theirs.sqref), theirs.formula1) == ("I71:I162", '"是,否"')
    decision_col = _header_col(ws2) + len(ADDED_HEADERS)
    assert str(ours.sqref).startswith(f"{ws2.cell(1, decision_col).column_letter}71")
    assert ours.formula1 == '"采纳规则得分,维持自评分"' and not ours.showErrorMessage  # a typed score is accepted
    assert [str(cf.sqref) for cf in ws2.conditional_formatting] == ["J71:J162"]
    assert len(ws2._images) == 1
    with zipfile.ZipFile(out) as zf:
        assert any(n.startswith("xl/media/") for n in zf.namelist())
    assert wb2.defined_names["预算执行率得分"].attr_text == "'自评表'!$G$75"
    assert ws2.page_setup.orientation == "landscape"
    assert ws2.column_dimensions["C"].width == 41.5
    assert ws2.print_title_rows == "$70:$70"
    assert {(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges} <= \
        {(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws2.merged_cells.ranges}
    assert ws2["A1"].font.b and ws2["A1"].font.sz == ws["A1"].font.sz

    first = _header_col(ws2)
    image_col = ws2._images[0].anchor._from.col + 1
    assert first > max(9, 10, image_col), (first, image_col)
    last = first + len(ADDED_HEADERS) + len(DECISION_HEADERS) - 1
    assert ws2.print_area == f"'自评表'!$A$1:${ws2.cell(1, last).column_letter}$164"


def test_whole_row_formats_do_not_push_columns(sample, tmp_path):
    wb = load_workbook(sample)
    ws = wb["自评表"]
    ws.conditional_formatting.add("A71:XFD71", CellIsRule(operator="lessThan", formula=["0"],
                                                          fill=PatternFill("solid", fgColor="FF0000")))
    dv = DataValidation(type="decimal", operator="between", formula1="0", formula2="100")
    dv.add("A75:XFD75")
    ws.add_data_validation(dv)
    wb.save(sample)
    out = _write(sample, tmp_path / "out")
    assert _header_col(load_workbook(out)["自评表"]) == 8


def test_xlsm_keeps_macros(sample, tmp_path):
    src = _fake_xlsm(sample, tmp_path / "带宏.xlsm")
    out = _write(src, tmp_path / "out")
    assert out.name == "带宏.复核.xlsm"
    with zipfile.ZipFile(out) as zf:
        assert zf.read("xl/vbaProject.bin") == VBA_BYTES
        assert "macroEnabled" in zf.read("[Content_Types].xml").decode()
        assert "vbaProject.bin" in zf.read("xl/_rels/workbook.xml.rels").decode()
    wb = load_workbook(out, keep_vba=True)
    assert REVIEW_SHEET in wb.sheetnames
    # written as .xlsx the macros are dropped, and the 注意 section says so
    plain = write_reviewed(review_file(src), src, tmp_path / "plain.xlsx")
    with zipfile.ZipFile(plain) as zf:
        assert "xl/vbaProject.bin" not in zf.namelist()
    assert any("宏" in n for n in _notes(load_workbook(plain)[REVIEW_SHEET]))


VBA_BYTES = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1fake vba project for the test"


def _fake_xlsm(src: Path, dst: Path) -> Path:
    """The sample as a macro-enabled package: a vbaProject.bin part with its content type and relationship."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"<Default ", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1)
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
            zout.writestr(item, data)
        zout.writestr("xl/vbaProject.bin", VBA_BYTES)
    return dst


# --------------------------------------------------------------------------- what openpyxl drops


def test_losses_are_reported(sample, tmp_path):
    wb = load_workbook(sample)
    wb["项目基本情况"]["C1"] = "=LEN(B1)"
    wb.save(sample)
    src = _with_textbox_and_sparklines(sample, tmp_path / "shapes.xlsx")
    notes = openpyxl_losses(src.read_bytes())
    joined = "\n".join(notes)
    assert "迷你图" in joined and "文本框或形状 1 个" in joined and "公式" in joined, joined
    out = _write(src, tmp_path / "out")
    # the patch writer keeps all of it: nothing to report on 复核结果, the parts come back as they were
    assert _notes_or_empty(load_workbook(out)[REVIEW_SHEET]) == []
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        assert b.read("xl/drawings/drawing1.xml") == a.read("xl/drawings/drawing1.xml")
        assert b"x14:sparklineGroups" in b.read(sheet_parts(b)["自评表"])
        assert b.read(sheet_parts(b)["项目基本情况"]) == a.read(sheet_parts(a)["项目基本情况"])


def test_detector_ignores_extension_formulas_and_pointers(sample, tmp_path):
    """<xm:f> inside an x14 extension is not a cell formula; <x14:id> in a cfRule only points
    at the x14 conditional format (reported once, as such), it is not unknown content."""
    cf = (b'<conditionalFormatting sqref="E71:E80"><cfRule type="dataBar" priority="1"><dataBar><cfvo type="min"/>'
          b'<cfvo type="max"/><color rgb="FF638EC6"/></dataBar><extLst><ext uri="{B025F937-C7B1-47D3-B67F-A62EFF666E3E}" '
          b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"><x14:id>{00000000-0000-0000-0000-000000000001}</x14:id>'
          b'</ext></extLst></cfRule></conditionalFormatting>')
    src = _with_textbox_and_sparklines(sample, tmp_path / "shapes.xlsx")
    dst = tmp_path / "cf.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        part = sheet_parts(zin)["自评表"]
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                data = data.replace(b"<printOptions", cf + b"<printOptions", 1)
            zout.writestr(item, data)
    joined = "\n".join(openpyxl_losses(dst.read_bytes()))
    assert "公式" not in joined, joined  # the sparkline's <xm:f> is not a formula
    assert "其他 Excel 扩展内容（id）" not in joined and "迷你图" in joined, joined


def test_nothing_reported_for_the_plain_sample(sample):
    assert openpyxl_losses(sample.read_bytes()) == []


def _with_textbox_and_sparklines(src: Path, dst: Path) -> Path:
    """Add to the form sheet what openpyxl cannot keep: a text box and a sparkline group."""
    sparkline = (b'<extLst><ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}" '
                 b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"><x14:sparklineGroups>'
                 b'<x14:sparklineGroup><x14:sparklines><x14:sparkline><xm:f xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
                 b"'\xe8\x87\xaa\xe8\xaf\x84\xe8\xa1\xa8'!E71:G71</xm:f><xm:sqref xmlns:xm=\"http://schemas.microsoft.com/office/excel/2006/main\">"
                 b"A1</xm:sqref></x14:sparkline></x14:sparklines></x14:sparklineGroup></x14:sparklineGroups></ext></extLst>")
    drawing = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               b'<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
               b'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main">'
               b'<xdr:twoCellAnchor><xdr:from><xdr:col>1</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>1</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>'
               b'<xdr:to><xdr:col>3</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>3</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>'
               b'<xdr:sp macro="" textlink=""><xdr:nvSpPr><xdr:cNvPr id="2" name="TextBox 1"/><xdr:cNvSpPr txBox="1"/></xdr:nvSpPr>'
               b'<xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="1000000" cy="300000"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr>'
               b'<xdr:txBody><a:bodyPr/><a:p><a:r><a:t>note</a:t></a:r></a:p></xdr:txBody></xdr:sp><xdr:clientData/></xdr:twoCellAnchor></xdr:wsDr>')
    rels = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rIdDr1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/drawing" '
            b'Target="../drawings/drawing1.xml"/></Relationships>')
    with zipfile.ZipFile(src) as zin:
        part = sheet_parts(zin)["自评表"]
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == part:
                    data = data.replace(b"</worksheet>", b'<drawing xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rIdDr1"/>' + sparkline + b"</worksheet>")
                if item.filename == "[Content_Types].xml":
                    data = data.replace(b"</Types>", b'<Override PartName="/xl/drawings/drawing1.xml" ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/></Types>')
                zout.writestr(item, data)
            folder, _, base = part.rpartition("/")
            zout.writestr(f"{folder}/_rels/{base}.rels", rels)
            zout.writestr("xl/drawings/drawing1.xml", drawing)
    return dst


def _with_bad_number(src: Path, dst: Path) -> Path:
    """A cell openpyxl refuses to load (``<v>NaN</v>``) but calamine reads: real files from
    other tools carry such values."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        part = sheet_parts(zin)["项目基本情况"]
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                data = data.replace(b'<c r="B1" s="2" t="n"></c>', b'<c r="B1" s="2" t="n"><v>NaN</v></c>', 1)
                assert b"NaN" in data
            zout.writestr(item, data)
    return dst


def test_unloadable_by_openpyxl_is_patched(sample, tmp_path):
    """What openpyxl refuses to load (it used to force a rebuild from values) is simply kept:
    the sheet part comes back as it was, with our columns and notes on the form sheet."""
    src = _with_bad_number(sample, tmp_path / "坏数字.xlsx")
    with pytest.raises(Exception):
        load_workbook(src)
    out = _write(src, tmp_path / "out")
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(out) as b:
        part = sheet_parts(a)["项目基本情况"]
        assert b.read(part) == a.read(part) and b"<v>NaN</v>" in b.read(part)
    grids = {g.name: g for g in sources.load_grids(out)}
    form = grids["自评表"]
    row = next(r for (r, c), v in form.cells.items() if v == SECOND_PLACE)
    assert form.cells[(70, 8)] == ADDED_HEADERS[0] and form.cells[(row, 11)] == pytest.approx(0.67)
    assert "按单元格的值重建" not in "".join(str(v) for v in grids[REVIEW_SHEET].cells.values())
    assert "<f>" not in _sheet_xml(out, "自评表")


def test_unpatchable_is_rebuilt(sample, tmp_path):
    """A part the patch writer must edit that is not well-formed XML (here styles.xml; calamine
    still reads the values) falls back to a workbook rebuilt from the values, and says so."""
    src = tmp_path / "坏样式.xlsx"
    with zipfile.ZipFile(sample) as zin, zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/styles.xml":
                data = data.replace(b"</styleSheet>", b"<unclosed></styleSheet>")
            zout.writestr(item, data)
    out = _write(src, tmp_path / "out")
    wb = load_workbook(out)
    assert any("按单元格的值重建" in n for n in _notes(wb[REVIEW_SHEET]))
    ws = wb["自评表"]
    row = _row_of(ws, SECOND_PLACE)
    assert _header_col(ws) == 8 and ws.cell(row, 11).value == pytest.approx(0.67)
    assert "0.67" in ws.cell(row, 7).comment.text


def test_unloadable_xlsm_keeps_macros(sample, tmp_path):
    src = _fake_xlsm(_with_bad_number(sample, tmp_path / "坏.xlsx"), tmp_path / "坏.xlsm")
    out = _write(src, tmp_path / "out")
    with zipfile.ZipFile(out) as zf:
        assert zf.read("xl/vbaProject.bin") == VBA_BYTES
        assert "macroEnabled" in zf.read("[Content_Types].xml").decode()
    assert REVIEW_SHEET in [g.name for g in sources.load_grids(out)]


# --------------------------------------------------------------------------- converted formats


@pytest.mark.office
@pytest.mark.parametrize("fmt", ["xls", "ods", "et"])
def test_old_formats_are_converted(sample, tmp_path, fmt):
    src = convert(sample, "xls" if fmt == "et" else fmt, tmp_path)
    if fmt == "et":  # WPS .et is BIFF8 under another name
        src = src.rename(src.with_suffix(".et"))
    before = sources_sha(src)
    out = _write(src, tmp_path / "out")
    assert out.name == "苏州市打造先进制造业基地专项资金_2020.复核.xlsx"
    assert sources_sha(src) == before
    wb = load_workbook(out)
    assert _label_value(wb[REVIEW_SHEET], "规则总分") == pytest.approx(77.51)
    assert any(f".{fmt} 格式，已用 LibreOffice 转换" in n for n in _notes(wb[REVIEW_SHEET]))
    ws = wb["自评表"]
    assert _header_col(ws) == 8
    row = next(c.row for c in ws["D"] if c.value == "=5家")
    assert ws.cell(row, 4).data_type == "s"
    assert "<f>" not in _sheet_xml(out, "自评表")
    assert ws.column_dimensions["C"].width > 20  # the form's look came through the conversion


@pytest.mark.office
def test_rebuilt_from_values_without_office(sample, tmp_path, monkeypatch):
    src = convert(sample, "xls", tmp_path)
    monkeypatch.setattr(office, "find_soffice", lambda: None)
    out = _write(src, tmp_path / "out")
    wb = load_workbook(out)
    assert any("按单元格的值重建" in n for n in _notes(wb[REVIEW_SHEET]))
    ws = wb["自评表"]
    assert _header_col(ws) == 8
    row = _row_of(ws, SECOND_PLACE)
    assert ws.cell(row, 7).comment is not None and "0.67" in ws.cell(row, 7).comment.text
    assert ws.cell(row, 11).value == pytest.approx(0.67)
    assert ("A1:G1" in {str(m) for m in ws.merged_cells.ranges})
    d = next(c for c in ws["D"] if c.value == "=5家")
    assert d.data_type == "s"
    assert "<f>" not in _sheet_xml(out, "自评表")


# --------------------------------------------------------------------------- a real client


@pytest.mark.office
def test_libreoffice_reads_the_reviewed_sample(sample, tmp_path):
    out = _write(sample, tmp_path / "out")
    text = _csv_of_first_sheet(out, tmp_path / "csv")
    rows = text.splitlines()
    assert "=5家" in text
    assert "#NAME?" not in text and "Err:" not in text and "#VALUE!" not in text
    second = next(r for r in rows if SECOND_PLACE in r)
    cells = second.split(",")
    assert cells[6] == "0.54" and "0.67" in cells[7:], second
    assert "+0.13" in cells
    budget = next(r for r in rows if r.startswith(",,预算执行率,"))
    assert "99.9%" in budget.split(",")[9]
    header = next(r for r in rows if "目标值（解析）" in r)
    assert header.split(",")[7:] == list(ADDED_HEADERS + DECISION_HEADERS)


def _csv_of_first_sheet(path: Path, outdir: Path) -> str:
    """The first sheet as LibreOffice shows it (formatted values), via headless CSV export."""
    exe = soffice()
    outdir.mkdir()
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    filt = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,1"
    try:
        subprocess.run([exe, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", filt,
                        "--outdir", str(outdir), str(path)], capture_output=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    found = sorted(outdir.glob("*.csv"))  # LibreOffice 7.4 names it <stem>-<sheet>.csv, older ones <stem>.csv
    assert found, "LibreOffice produced no CSV"
    return found[0].read_text(encoding="utf-8")
