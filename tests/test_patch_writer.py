"""The patch writer (issue 16): what the review does not need to change comes back byte for byte;
several forms in one workbook; decisions pre-filled; the sample reads as before in LibreOffice."""
from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import tempfile
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.comments import Comment
from openpyxl.packaging.custom import StringProperty

from conftest import DATA, convert, soffice
from selfeval_xl.grids import load_grids
from selfeval_xl.ooxml import Package, sheet_parts
from selfeval_xl.ooxml.styles import Styles
from selfeval_xl.reader import read_all
from selfeval_xl.review import review, review_file
from selfeval_xl.writeback import (
    ADDED_HEADERS,
    COMMENT_MARK,
    DECISION_CHOICES,
    DECISION_HEADERS,
    REVIEW_SHEET,
    reviewed_name,
    write_reviewed,
)

SECOND_PLACE = "促进我市软件产业高质量发展，保持全省第二的位置"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"
XM = "http://schemas.microsoft.com/office/excel/2006/main"
EXTENSIONS = (
    f'<extLst><ext uri="{{78C0D931-6437-407d-A8EE-F0AAD7539E65}}" xmlns:x14="{X14}"><x14:conditionalFormattings>'
    f'<x14:conditionalFormatting xmlns:xm="{XM}"><x14:cfRule type="dataBar" id="{{00000000-0000-0000-0000-00000000000A}}">'
    '<x14:dataBar minLength="0" maxLength="100"><x14:cfvo type="autoMin"/><x14:cfvo type="autoMax"/></x14:dataBar>'
    "</x14:cfRule><xm:sqref>E71:E80</xm:sqref></x14:conditionalFormatting></x14:conditionalFormattings></ext>"
    f'<ext uri="{{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}}" xmlns:x14="{X14}"><x14:dataValidations count="1" xmlns:xm="{XM}">'
    '<x14:dataValidation type="list" allowBlank="1" showErrorMessage="1"><x14:formula1><xm:f>项目基本情况!$A$1:$A$5</xm:f>'
    "</x14:formula1><xm:sqref>F71:F75</xm:sqref></x14:dataValidation></x14:dataValidations></ext>"
    f'<ext uri="{{05C60535-1F16-4fd2-B633-F4F36F0B64E0}}" xmlns:x14="{X14}"><x14:sparklineGroups xmlns:xm="{XM}">'
    '<x14:sparklineGroup displayEmptyCellsAs="gap"><x14:colorSeries rgb="FF376092"/><x14:sparklines><x14:sparkline>'
    "<xm:f>自评表!E71:G71</xm:f><xm:sqref>A166</xm:sqref></x14:sparkline></x14:sparklines></x14:sparklineGroup>"
    "</x14:sparklineGroups></ext></extLst>"
)
DATA_BAR = ('<conditionalFormatting sqref="E71:E80"><cfRule type="dataBar" priority="1"><dataBar><cfvo type="min"/>'
            '<cfvo type="max"/><color rgb="FF638EC6"/></dataBar><extLst><ext uri="{B025F937-C7B1-47D3-B67F-A62EFF666E3E}" '
            f'xmlns:x14="{X14}"><x14:id>{{00000000-0000-0000-0000-00000000000A}}</x14:id></ext></extLst></cfRule>'
            "</conditionalFormatting>")
TEXT_BOX = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" '
            'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><xdr:twoCellAnchor>'
            "<xdr:from><xdr:col>1</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>165</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            "<xdr:to><xdr:col>4</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>168</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            '<xdr:sp macro="" textlink=""><xdr:nvSpPr><xdr:cNvPr id="2" name="TextBox 1"/><xdr:cNvSpPr txBox="1"/></xdr:nvSpPr>'
            '<xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="3000000" cy="600000"/></a:xfrm><a:prstGeom prst="rect">'
            "<a:avLst/></a:prstGeom></xdr:spPr><xdr:txBody><a:bodyPr/><a:p><a:r><a:t>填表人备注文本框</a:t></a:r></a:p></xdr:txBody>"
            "</xdr:sp><xdr:clientData/></xdr:twoCellAnchor></xdr:wsDr>")
RICH = ('<text><r><rPr><b/><sz val="9"/><rFont val="宋体"/></rPr><t>财务科：</t></r>'
        '<r><rPr><sz val="9"/><color rgb="FFFF0000"/><rFont val="宋体"/></rPr><t xml:space="preserve">{}</t></r></text>')


def _fidelity_workbook(sample: Path, dst: Path) -> Path:
    """The sample carrying what real office workbooks carry: a chart, custom properties, a
    theme and comments (openpyxl), then by XML edits a text box, x14 data bar, x14 list
    validation from another sheet, sparklines, rich comments and a cached formula value."""
    wb = load_workbook(sample)
    form, info = wb["自评表"], wb["项目基本情况"]
    row = next(c.row for c in form["C"] if c.value == SECOND_PLACE)
    info["C1"] = "=LEN(A1)"
    chart = BarChart()
    chart.add_data(Reference(form, min_col=5, min_row=71, max_row=75))
    info.add_chart(chart, "E2")
    form["B3"].comment = Comment("B3", "财务科")
    form.cell(row, 7).comment = Comment(f"G{row}", "财务科")
    wb.custom_doc_props.append(StringProperty(name="审核人", value="张三"))
    tmp = dst.with_suffix(".tmp.xlsx")
    wb.save(tmp)
    with zipfile.ZipFile(tmp) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        parts = sheet_parts(zin)
        form_part, info_part = parts["自评表"], parts["项目基本情况"]
        form_rels = form_part.replace("worksheets/", "worksheets/_rels/") + ".rels"
        for item in zin.infolist():
            data = zin.read(item.filename).decode("utf-8") if not item.filename.endswith(".bin") else None
            if item.filename == form_part:
                data = data.replace("<printOptions", DATA_BAR + "<printOptions", 1)
                data = data.replace("<legacyDrawing", '<drawing xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                                    'relationships" r:id="rIdTextBox"/><legacyDrawing', 1)
                data = data.replace("</worksheet>", EXTENSIONS + "</worksheet>")
            elif item.filename == info_part:
                data = re.sub(r'<c r="C1"([^>]*)><f>LEN\(A1\)</f><v\s*>\s*</v></c>', r'<c r="C1"\1><f>LEN(A1)</f><v>6</v></c>', data)
                assert "<v>6</v>" in data
            elif item.filename == form_rels:
                data = data.replace("</Relationships>", '<Relationship Id="rIdTextBox" Type="http://schemas.openxmlformats.org/'
                                    'officeDocument/2006/relationships/drawing" Target="/xl/drawings/textbox1.xml"/></Relationships>')
            elif item.filename == "[Content_Types].xml":
                data = data.replace("</Types>", '<Override PartName="/xl/drawings/textbox1.xml" '
                                    'ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/></Types>')
            elif item.filename.startswith("xl/comments/"):
                data = re.sub(r"<text><t>(B3|G\d+)</t></text>",
                              lambda m: RICH.format("项目名称以批复为准" if m.group(1) == "B3" else "自评分已与主管处室核对"), data)
                assert data.count("<rFont") == 4
            zout.writestr(item, data.encode("utf-8") if data is not None else zin.read(item.filename))
        zout.writestr("xl/drawings/textbox1.xml", TEXT_BOX)
    tmp.unlink()
    return dst


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.fixture
def fidelity(sample, tmp_path) -> Path:
    return _fidelity_workbook(sample, tmp_path / "全功能.xlsx")


def test_every_part_not_edited_is_byte_identical(fidelity, tmp_path):
    out = write_reviewed(review_file(fidelity), fidelity, tmp_path / "out" / reviewed_name(fidelity))
    before, after = _parts(fidelity), _parts(out)
    with zipfile.ZipFile(fidelity) as zf:
        form = sheet_parts(zf)["自评表"]
    with zipfile.ZipFile(out) as zf:
        review_part = sheet_parts(zf)[REVIEW_SHEET]
    edited = {form, "xl/comments/comment1.xml", "xl/drawings/commentsDrawing1.vml", "xl/styles.xml", "xl/workbook.xml",
              "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    assert set(after) == set(before) | {review_part}
    changed = {n for n in before if before[n] != after[n]}
    assert changed == edited, changed
    # what is in them is still there
    for name in ("xl/charts/chart1.xml", "xl/drawings/textbox1.xml", "xl/theme/theme1.xml", "docProps/custom.xml"):
        assert after[name] == before[name]
    sheet = after[form].decode("utf-8")
    for feature in ("x14:sparklineGroups", "x14:dataValidations", "<xm:f>项目基本情况!$A$1:$A$5</xm:f>", "x14:dataBar",
                    "<x14:id>{00000000-0000-0000-0000-00000000000A}</x14:id>", 'r:id="rIdTextBox"', "<dataBar>"):
        assert feature in sheet, feature
    assert b"<f>LEN(A1)</f><v>6</v>" in after[sheet_parts(zipfile.ZipFile(out))["项目基本情况"]]
    comments = after["xl/comments/comment1.xml"].decode("utf-8")
    assert comments.count("<rFont") == 4 and "财务科：" in comments and "项目名称以批复为准" in comments
    # the office's rich comment on the scored cell keeps its runs; our note follows as a further run
    g = re.search(r'<comment ref="G(\d+)"[^>]*>(.*?)</comment>', comments, re.S)
    assert g and "自评分已与主管处室核对" in g.group(2) and COMMENT_MARK in g.group(2) and g.group(2).count("<r>") == 3
    # our reader still sees the cached formula value
    grids = {grid.name: grid for grid in load_grids(out)}
    assert grids["项目基本情况"].cells[(1, 3)] == 6


def test_rereview_of_the_fidelity_workbook_changes_only_our_parts(fidelity, tmp_path):
    first = write_reviewed(review_file(fidelity), fidelity, tmp_path / "one" / reviewed_name(fidelity))
    second = write_reviewed(review_file(first), first, tmp_path / "two" / reviewed_name(first))
    a, b = _parts(first), _parts(second)
    assert set(a) == set(b)
    review_part = sheet_parts(zipfile.ZipFile(second))[REVIEW_SHEET]  # names the file it was made from
    # every part comes out the same: our columns, notes and formats replaced, not added
    for name in a:
        if name != review_part:
            assert a[name] == b[name], name
    comments = b["xl/comments/comment1.xml"].decode("utf-8")
    assert comments.count(COMMENT_MARK) == a["xl/comments/comment1.xml"].decode("utf-8").count(COMMENT_MARK)
    # and taking our notes off gives the office's comment back exactly
    g = re.search(r'<comment ref="G\d+"[^>]*>(.*?)</comment>', comments, re.S).group(1)
    assert g.count("<r>") == 3


@pytest.mark.office
def test_libreoffice_opens_the_fidelity_workbook(fidelity, tmp_path):
    out = write_reviewed(review_file(fidelity), fidelity, tmp_path / "out" / reviewed_name(fidelity))
    back = convert(out, "xlsx", tmp_path / "lo")  # LibreOffice loads it and saves its own reading
    wb = load_workbook(back)
    assert wb.sheetnames == ["自评表", "项目基本情况", REVIEW_SHEET]
    ws = wb["自评表"]
    header = [c.value for c in ws[70]]
    assert header[7:15] == list(ADDED_HEADERS + DECISION_HEADERS)
    row = next(c.row for c in ws["C"] if c.value == SECOND_PLACE)
    note = ws.cell(row, 7).comment.text
    assert note.startswith("财务科：自评分已与主管处室核对") and COMMENT_MARK in note and "0.67" in note
    assert ws["B3"].comment.text == "财务科：项目名称以批复为准"
    assert ws.cell(row, 11).value == pytest.approx(0.67)
    parts = _parts(back)
    assert any(n.startswith("xl/charts/") for n in parts)  # the chart
    assert any(b"\xe5\xa1\xab\xe8\xa1\xa8\xe4\xba\xba\xe5\xa4\x87\xe6\xb3\xa8" in v for n, v in parts.items()
               if n.startswith("xl/drawings/") and n.endswith(".xml"))  # the text box "填表人备注文本框"
    form_xml = next(v for n, v in parts.items() if n == sheet_parts(zipfile.ZipFile(back))["自评表"])
    assert b"sparklineGroup" in form_xml and b"dataBar" in form_xml


# --------------------------------------------------------------------------- the sample, before and after


@pytest.mark.office
def test_sample_review_reads_as_before_in_libreoffice(sample, tmp_path):
    """The previous (openpyxl) writer's review of the sample, as LibreOffice shows it
    (tests/data/reviewed_sample_before/, exported once from that writer), is what the patch
    writer's shows: every cell of the form sheets; on 复核结果 all but the intro sentence,
    which now also explains the two decision columns."""
    out = write_reviewed(review_file(sample), sample, tmp_path / "out" / reviewed_name(sample))
    exe = soffice()
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    filt = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
    try:
        subprocess.run([exe, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", filt,
                        "--outdir", str(tmp_path / "csv"), str(out)], capture_output=True, timeout=300)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    for sheet in ("自评表", "项目基本情况", REVIEW_SHEET):
        before = _csv(DATA / "reviewed_sample_before" / f"{sheet}.csv")
        now = _csv(next((tmp_path / "csv").glob(f"*-{sheet}.csv")))
        assert len(now) == len(before), sheet
        for i, (old, new) in enumerate(zip(before, now)):
            if sheet == REVIEW_SHEET and i == 1:
                assert new[0].startswith(old[0].rstrip("。")), new[0]
                continue
            assert new[:len(old)] == old, (sheet, i, old, new)
            assert all(v == "" for v in new[len(old):]) or new[len(old):] == list(DECISION_HEADERS), (sheet, i, new)


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


# --------------------------------------------------------------------------- several forms, decisions


def _two_forms(sample: Path, dst: Path) -> Path:
    wb = load_workbook(sample)
    copy = wb.copy_worksheet(wb["自评表"])
    copy.title = "自评表（二）"
    copy["B3"] = "第二个项目"
    wb.save(dst)
    return dst


def test_two_forms_in_one_workbook(sample, tmp_path):
    src = _two_forms(sample, tmp_path / "两张表.xlsx")
    evaluations = read_all(src)
    assert [e.sheet for e in evaluations] == ["自评表", "自评表（二）"]
    reviews = [review(e) for e in evaluations]
    out = write_reviewed(reviews, src, tmp_path / "out" / reviewed_name(src))
    wb = load_workbook(out)
    assert wb.sheetnames == ["自评表", "项目基本情况", "自评表（二）", REVIEW_SHEET]
    for name in ("自评表", "自评表（二）"):
        ws = wb[name]
        assert [c.value for c in ws[70]][7:15] == list(ADDED_HEADERS + DECISION_HEADERS), name
        row = next(c.row for c in ws["C"] if c.value == SECOND_PLACE)
        assert ws.cell(row, 11).value == pytest.approx(0.67)
        assert COMMENT_MARK in ws.cell(row, 7).comment.text, name
    res = [r for r in wb[REVIEW_SHEET].iter_rows(values_only=True)]
    titles = [r[0] for r in res if r[0] and str(r[0]).startswith("项目 ")]
    assert titles == ["项目 1：工作表“自评表”", "项目 2：工作表“自评表（二）”"]
    assert [r[1] for r in res if r[0] == "项目名称"] == ["苏州市打造先进制造业基地专项资金", "第二个项目"]
    assert [r[1] for r in res if r[0] == "规则总分"] == [pytest.approx(77.51), pytest.approx(77.51)]
    # re-reviewing with one form only replaces, and leaves the other sheet's earlier columns alone
    again = write_reviewed(reviews, out, out)
    assert load_workbook(again).sheetnames == wb.sheetnames


def test_decisions_prefilled(sample, tmp_path):
    r = review_file(sample)
    ind = next(s.indicator for s in r.scored if s.indicator.name == SECOND_PLACE)
    other = next(s.indicator for s in r.scored if s.indicator.name == "预算执行率")
    decisions = {("自评表", ind.cell): ("采纳规则得分", "排名达到目标"),
                 ("自评表", other.cell.split("!")[1]): (Decimal("19.5"), "")}
    out = write_reviewed(r, sample, tmp_path / "out" / reviewed_name(sample), decisions=decisions)
    ws = load_workbook(out)["自评表"]
    first = next(c.column for c in ws[70] if c.value == DECISION_HEADERS[0])
    row = int(ind.cell.split("!")[1][1:])
    assert (ws.cell(row, first).value, ws.cell(row, first + 1).value) == ("采纳规则得分", "排名达到目标")
    budget = int(other.cell.split("!")[1][1:])
    assert ws.cell(budget, first).value == 19.5 and ws.cell(budget, first + 1).value is None
    undecided = [s.indicator for s in r.scored if s.indicator not in (ind, other)]
    assert all(ws.cell(int(i.cell.split("!")[1][1:]), first).value is None for i in undecided)
    dv = next(d for d in ws.data_validations.dataValidation if d.type == "list")
    assert dv.formula1 == '"' + ",".join(DECISION_CHOICES) + '"'
    rows = {int(i.cell.split("!")[1][1:]) for i in (s.indicator for s in r.scored)}
    covered = {c for rng in dv.sqref.ranges for c in range(rng.min_row, rng.max_row + 1)}
    assert covered == rows and {rng.min_col for rng in dv.sqref.ranges} == {first}


def test_formula_starts_get_quote_prefix(sample, tmp_path):
    """`=5家` copied into the appended columns is text with Excel's apostrophe (quotePrefix),
    not the first row's style copied over it."""
    out = write_reviewed(review_file(sample), sample, tmp_path / "out" / reviewed_name(sample))
    ws = load_workbook(out)["自评表"]
    row = next(c.row for c in ws["D"] if c.value == "=5家")
    first = next(c.column for c in ws[70] if c.value == ADDED_HEADERS[0])
    for col in (first, first + 1):
        cell = ws.cell(row, col)
        assert cell.value == "=5家" and cell.data_type == "s" and cell.quotePrefix, (col, cell.value)
    assert not ws.cell(row, first + 5).quotePrefix  # the basis does not start like a formula


def test_styles_appended_once(sample, tmp_path):
    first = write_reviewed(review_file(sample), sample, tmp_path / "one" / reviewed_name(sample))
    second = write_reviewed(review_file(first), first, tmp_path / "two" / reviewed_name(first))
    counts = []
    for path in (sample, first, second):
        styles = Styles(Package(path.read_bytes()).get("xl/styles.xml"))
        counts.append(tuple(len(styles.items(n)) for n in ("cellXfs", "fonts", "fills")))
    assert counts[1] == counts[2] and counts[1] > counts[0]
    used = {f.severity for f in review_file(sample).findings}
    assert counts[1][2] - counts[0][2] == len(used)  # one fill per severity used


# --------------------------------------------------------------------------- XML the writer must keep as it is


def _prefixed_without_r(sample: Path, dst: Path, rows: set[int]) -> Path:
    """The form sheet with SpreadsheetML under an ``x:`` prefix, no ``r`` on the given rows and
    their cells (positions implied by order), and a shared formula below the form."""
    with zipfile.ZipFile(sample) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        part = sheet_parts(zin)["自评表"]
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                xml = data.decode("utf-8")

                def strip(m):
                    row = m.group(0)
                    cols = re.findall(r'<c r="([A-Z]+)\d+"', row)
                    assert cols == [chr(65 + i) for i in range(len(cols))], cols  # contiguous from A
                    return re.sub(r' r="[A-Z]*\d+"', "", row)

                for r in rows:
                    xml, n = re.subn(rf'<row r="{r}"[^>]*>.*?</row>', strip, xml, count=1, flags=re.S)
                    assert n == 1
                xml = xml.replace("</sheetData>", '<row r="170"><c r="A170"><f t="shared" ref="A170:B170" si="0">1+1</f>'
                                  '<v>2</v></c><c r="B170"><f t="shared" si="0"/><v>2</v></c></row></sheetData>')
                xml = re.sub(r"<(/?)(?!\?)([A-Za-z])", r"<\1x:\2", xml)  # every element under x:
                xml = xml.replace('<x:worksheet xmlns="', '<x:worksheet xmlns:x="', 1)
                data = xml.encode("utf-8")
            zout.writestr(item, data)
    return dst


def test_prefixes_rows_without_r_and_shared_formulas_kept(sample, tmp_path):
    r = review_file(sample)
    second = int(next(s.indicator.cell for s in r.scored if s.indicator.name == SECOND_PLACE).split("!")[1][1:])
    src = _prefixed_without_r(sample, tmp_path / "前缀.xlsx", {1, 2, 70, second})
    out = write_reviewed(r, src, tmp_path / "out" / reviewed_name(src))
    with zipfile.ZipFile(out) as zf:
        xml = zf.read(sheet_parts(zf)["自评表"]).decode("utf-8")
    assert "<c " not in xml and "<row " not in xml and 'xmlns="' not in xml  # nothing unprefixed came in
    assert '<x:f t="shared" ref="A170:B170" si="0">1+1</x:f><x:v>2</x:v>' in xml and '<x:f t="shared" si="0"/>' in xml
    row1 = re.search(r"<x:row\b[^>]*>.*?</x:row>", xml, re.S).group(0)  # the first row, untouched: still no r
    assert " r=" not in row1 and "苏州市级财政支出项目绩效自评价报告" in row1
    grid = {g.name: g for g in load_grids(out)}["自评表"]
    assert grid.cells[(70, 8)] == ADDED_HEADERS[0] and grid.cells[(70, 14)] == DECISION_HEADERS[0]
    assert grid.cells[(70, 7)] == "自评分" and grid.cells[(second, 3)] == SECOND_PLACE  # the office's cells did not move
    assert grid.cells[(second, 11)] == pytest.approx(0.67) and grid.cells[(second, 7)] == pytest.approx(0.54)
    assert grid.cells[(1, 1)] == "苏州市级财政支出项目绩效自评价报告"


APP_XML = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
           'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"><Application>Microsoft Excel</Application>'
           '<HeadingPairs><vt:vector size="4" baseType="variant"><vt:variant><vt:lpstr>工作表</vt:lpstr></vt:variant>'
           '<vt:variant><vt:i4>2</vt:i4></vt:variant><vt:variant><vt:lpstr>命名范围</vt:lpstr></vt:variant>'
           '<vt:variant><vt:i4>1</vt:i4></vt:variant></vt:vector></HeadingPairs>'
           '<TitlesOfParts><vt:vector size="3" baseType="lpstr"><vt:lpstr>自评表</vt:lpstr><vt:lpstr>项目基本情况</vt:lpstr>'
           "<vt:lpstr>自评表!Print_Titles</vt:lpstr></vt:vector></TitlesOfParts></Properties>")


def test_app_titles_list_the_review_sheet_once(sample, tmp_path):
    """docProps/app.xml as Excel writes it: the worksheet titles (and their count) gain 复核结果,
    before the named ranges; a re-review does not add it twice."""
    src = tmp_path / "带标题.xlsx"
    with zipfile.ZipFile(sample) as zin, zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, APP_XML.encode("utf-8") if item.filename == "docProps/app.xml" else zin.read(item.filename))
    first = write_reviewed(review_file(src), src, tmp_path / "one" / reviewed_name(src))
    second = write_reviewed(review_file(first), first, tmp_path / "two" / reviewed_name(first))
    for path in (first, second):
        app = zipfile.ZipFile(path).read("docProps/app.xml").decode("utf-8")
        titles = re.findall(r"<vt:lpstr>(.*?)</vt:lpstr>", re.search(r"<TitlesOfParts>.*</TitlesOfParts>", app).group(0))
        assert titles == ["自评表", "项目基本情况", REVIEW_SHEET, "自评表!Print_Titles"], titles
        assert "<vt:i4>3</vt:i4>" in app and 'size="4"' in re.search(r"<TitlesOfParts>.*", app).group(0)
