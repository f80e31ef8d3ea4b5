"""Word 自评价报告 in: the 自评表 read from a .docx/.doc/.wps table, reviewed like the workbook,
returned as a commented .docx, a rebuilt reviewed .xlsx and the report."""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from build_word import build_docx
from conftest import SAMPLE, convert
from selfeval_xl import word
from selfeval_xl.docx_review import write_reviewed_docx
from selfeval_xl.errors import ReadError
from selfeval_xl.pipeline import JobOptions, review_into
from selfeval_xl.reader import read, read_all
from selfeval_xl.review import review
from selfeval_xl.grids import load_grids
from selfeval_xl.safety import sniff

W = word.W_NS
ODF = {"office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
       "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
       "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0"}
SCORE_MISMATCH_NAME = "促进我市软件产业高质量发展，保持全省第二的位置"


@pytest.fixture(scope="module")
def workbook_review():
    return review(read(SAMPLE))


def _codes(r) -> Counter:
    return Counter(f.code for f in r.findings)


def _without_refs(msg: str) -> str:
    return re.sub(r"[^\s（(“]+![A-Z]+\d+", "REF", msg)


def _doc_xml(path: Path):
    with zipfile.ZipFile(path) as zf:
        return etree.fromstring(zf.read("word/document.xml"))


# --------------------------------------------------------------------------- reading


def test_docx_is_sniffed_as_word(seed_docx):
    assert sniff(seed_docx) == "docx"
    names = [g.name for g in load_grids(seed_docx)]
    assert names == ["表1", "正文"]


def test_seed_docx_reviews_exactly_like_the_workbook(seed_docx, workbook_review):
    r = review(read(seed_docx))
    wb = workbook_review
    assert r.computed_total == wb.computed_total == Decimal("77.51")
    assert r.self_total == wb.self_total and r.stated_total == wb.stated_total == Decimal("77.38")
    assert _codes(r) == _codes(wb)
    assert sorted(_without_refs(f.message) for f in r.findings) == sorted(_without_refs(f.message) for f in wb.findings)
    assert [s.score for s in r.scored] == [s.score for s in wb.scored]
    [mismatch] = [f for f in r.findings if f.code == "SCORE_MISMATCH"]
    assert mismatch.cell == "表1!G153" and SCORE_MISMATCH_NAME in mismatch.message
    grid = next(g for g in load_grids(seed_docx) if g.name == "表1")
    assert grid.text(153, 7) == "0.54" and grid.text(153, 3) == SCORE_MISMATCH_NAME
    ev = r.evaluation
    assert ev.sheet == "表1" and ev.title == "苏州市级财政支出项目绩效自评表"
    assert set(ev.narrative) == set(wb.evaluation.narrative)
    assert ev.narrative["年度绩效目标"].cell == "正文!B3"
    assert ev.narrative["年度绩效目标"].text == wb.evaluation.narrative["年度绩效目标"].text


def test_table_merges_come_from_gridspan_and_vmerge(seed_docx):
    grid = next(g for g in load_grids(seed_docx) if g.name == "表1")
    # form row 3 (项目名称 | B3:D3) is table row 1; 市级预算执行情况 spans two rows (A5:A6 -> A3:A4)
    assert grid.text(1, 1) == "项目名称" and grid.span(1, 2) == (1, 2, 1, 4)
    assert grid.text(3, 1) == "市级预算执行情况（万元）" and grid.span(4, 1) == (3, 1, 4, 1)
    assert grid.text(4, 1) == "市级预算执行情况（万元）"  # the covered cell shows its anchor
    assert grid.text(1, 6) == "2020" and grid.ref(1, 7) == "表1!F1"


@pytest.mark.parametrize("drift", [
    dict(merges=False, blank_rows=(5, 12, 40, 100), leading_table=True, numbered=True),
    dict(heading_style=True, numbered=True),
])
def test_drifted_docx_reviews_the_same(tmp_path, seed, workbook_review, drift):
    p = build_docx(seed, tmp_path / "漂移.docx", **drift)
    r = review(read(p))
    assert r.computed_total == Decimal("77.51")
    assert _codes(r) == _codes(workbook_review)
    sheet = "表2" if drift.get("leading_table") else "表1"
    assert r.evaluation.sheet == sheet
    [mismatch] = [f for f in r.findings if f.code == "SCORE_MISMATCH"]
    row = int(mismatch.cell.split("!G")[1])
    grid = next(g for g in load_grids(p) if g.name == sheet)
    assert grid.text(row, 3) == SCORE_MISMATCH_NAME and grid.text(row, 7) == "0.54"
    assert "GOAL_MISMATCH" in _codes(r)  # the narrative was found behind numbered / styled headings


def test_form_nested_in_a_layout_table_is_found(tmp_path, seed_docx):
    """A document that wraps the form in a one-cell layout table: the form is 表1.1."""
    with zipfile.ZipFile(seed_docx) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    root = etree.fromstring(parts["word/document.xml"])
    body = root.find(f"{{{W}}}body")
    form = body.find(f"{{{W}}}tbl")
    outer = etree.Element(f"{{{W}}}tbl")
    tc = etree.SubElement(etree.SubElement(outer, f"{{{W}}}tr"), f"{{{W}}}tc")
    body.replace(form, outer)
    tc.append(form)
    etree.SubElement(tc, f"{{{W}}}p")
    parts["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    p = tmp_path / "嵌套.docx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    [ev] = read_all(p)
    assert ev.sheet == "表1.1"
    r = review(ev)
    assert r.computed_total == Decimal("77.51")
    assert [f.cell for f in r.findings if f.code == "SCORE_MISMATCH"] == ["表1.1!G153"]
    outer_grid = next(g for g in load_grids(p) if g.name == "表1")
    assert SCORE_MISMATCH_NAME in outer_grid.text(1, 1)  # flattened into the layout cell


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """``src`` with its document.xml root passed through ``edit(root)``."""
    with zipfile.ZipFile(src) as zf:
        parts = {i.filename: zf.read(i) for i in zf.infolist()}
    root = etree.fromstring(parts["word/document.xml"])
    edit(root)
    parts["word/document.xml"] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return dst


def test_form_split_over_two_tables_by_a_page_break_reads_as_one(tmp_path, seed_docx, workbook_review):
    import copy

    def split(root):
        tbl = root.find(f"{{{W}}}body").find(f"{{{W}}}tbl")
        rows = tbl.findall(f"{{{W}}}tr")
        second = etree.Element(f"{{{W}}}tbl")
        for child in tbl:
            if child.tag in (f"{{{W}}}tblPr", f"{{{W}}}tblGrid"):
                second.append(copy.deepcopy(child))
        for tr in rows[100:]:  # inside 产出目标: the class label's vertical merge is cut too
            second.append(tr)
        brk = etree.Element(f"{{{W}}}p")
        etree.SubElement(etree.SubElement(brk, f"{{{W}}}r"), f"{{{W}}}br").set(f"{{{W}}}type", "page")
        tbl.addnext(brk)
        brk.addnext(etree.Element(f"{{{W}}}p"))
        brk.getnext().addnext(second)

    p = _rewrite(seed_docx, tmp_path / "分页.docx", split)
    assert len(_doc_xml(p).findall(f".//{{{W}}}body/{{{W}}}tbl")) == 2
    [ev] = read_all(p)
    r = review(ev)
    assert ev.sheet == "表1" and r.computed_total == Decimal("77.51")
    assert _codes(r) == _codes(workbook_review)
    assert [f.cell for f in r.findings if f.code == "SCORE_MISMATCH"] == ["表1!G153"]
    from selfeval_xl.docx_review import anchor_paragraph

    doc = word.parse_file(p)
    anchor = anchor_paragraph(doc, "表1!G153")
    assert word.paragraph_text(anchor) == "0.54"
    body_tables = doc.tables[0].element.getparent().findall(f"{{{W}}}tbl")
    assert anchor.xpath("ancestor::w:tbl[1]", namespaces={"w": W})[0] is body_tables[1]  # in the second part


def test_docx_without_a_form_is_not_a_self_evaluation(tmp_path):
    from docx import Document

    d = Document()
    d.add_paragraph("关于报送2020年度绩效自评价报告的函")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text = "联系人"
    t.cell(0, 1).text = "张三"
    d.save(tmp_path / "函.docx")
    with pytest.raises(ReadError) as e:
        read(tmp_path / "函.docx")
    assert e.value.code == "NOT_SELF_EVALUATION_FORM" and "函.docx" in e.value.message


def _p(text: str, style: str | None = None):
    p = etree.Element(f"{{{W}}}p")
    if style:
        ppr = etree.SubElement(p, f"{{{W}}}pPr")
        etree.SubElement(ppr, f"{{{W}}}pStyle").set(f"{{{W}}}val", style)
    r = etree.SubElement(p, f"{{{W}}}r")
    etree.SubElement(r, f"{{{W}}}t").text = text
    return p


def test_sections_split_at_known_and_sibling_headings_only():
    lines = ["苏州市级财政支出项目绩效自评价报告", "一、项目概况：根据规定设立的专项资金。", "二、项目总目标",
             "支持发展先进制造业。", "（一）项目初审。各处室接收申报材料。", "1. 项目实施管理", "三、年度绩效目标",
             "新一代信息技术研发及产业化项目25个。", "八、其他需要说明的问题", "无。"]
    sections = word.split_sections([_p(t) for t in lines])
    assert [s.heading for s in sections] == ["项目概况", "项目总目标", "年度绩效目标", "其他需要说明的问题"]
    assert sections[0].text == "根据规定设立的专项资金。"
    assert sections[1].text == "支持发展先进制造业。\n（一）项目初审。各处室接收申报材料。\n1. 项目实施管理"
    assert sections[2].text == "新一代信息技术研发及产业化项目25个。"  # ended by the sibling 八、


def test_sections_with_line_break_headings_and_automatic_numbering():
    def listed(text: str, num_id: str):
        p = _p(text)
        ppr = etree.Element(f"{{{W}}}pPr")
        p.insert(0, ppr)
        num = etree.SubElement(ppr, f"{{{W}}}numPr")
        etree.SubElement(num, f"{{{W}}}ilvl").set(f"{{{W}}}val", "0")
        etree.SubElement(num, f"{{{W}}}numId").set(f"{{{W}}}val", num_id)
        return p

    br = _p("年度绩效目标")
    run = etree.SubElement(br, f"{{{W}}}r")
    etree.SubElement(run, f"{{{W}}}br")
    etree.SubElement(run, f"{{{W}}}t").text = "集成电路流片奖励20个。"
    paragraphs = [listed("项目概况", "3"), _p("专项资金。"), br, listed("其他需要说明的问题", "3"), _p("无。"),
                  listed("一项列表里的普通句子，不是标题，因为它在另一个列表里", "7")]
    sections = word.split_sections(paragraphs)
    assert [(s.heading, s.text) for s in sections] == [
        ("项目概况", "专项资金。"), ("年度绩效目标", "集成电路流片奖励20个。"),
        ("其他需要说明的问题", "无。\n一项列表里的普通句子，不是标题，因为它在另一个列表里")]


_BODY = st.text(alphabet="的资金项目管理规范完成率预算执行年度。，；0123456789%", min_size=1, max_size=60).filter(
    lambda t: t.strip() and t.strip() not in word.known_headings())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(word.known_headings().values())), st.lists(_BODY, max_size=4)),
                min_size=1, max_size=7, unique_by=lambda x: x[0]),
       st.sampled_from(["", "{n}、", "（{n}）", "{n}. "]))
def test_sections_property_every_heading_gets_exactly_its_paragraphs(sections, numbering):
    paragraphs = []
    for k, (heading, body) in enumerate(sections, start=1):
        prefix = numbering.format(n="一二三四五六七八九十"[k - 1] if "、" in numbering or "（" in numbering else k)
        paragraphs.append(_p(prefix + heading))
        paragraphs += [_p(t) for t in body]
    got = word.split_sections(paragraphs)
    assert [(s.heading, s.text) for s in got] == [(h, "\n".join(t.strip() for t in b)) for h, b in sections]


# --------------------------------------------------------------------------- outputs


def test_review_into_writes_commented_docx_rebuilt_workbook_and_report(tmp_path, seed_docx, workbook_review):
    from openpyxl import load_workbook

    src = tmp_path / seed_docx.name
    shutil.copy2(seed_docx, src)
    before = src.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    job = review_into(src, out, JobOptions())
    stem = src.stem
    assert job.kind == "word"
    assert job.outputs == [f"{stem}.复核.docx", f"{stem}.复核.xlsx", f"{stem}.自评价报告.docx"]
    assert sorted(p.name for p in out.iterdir()) == sorted(job.outputs)
    assert src.read_bytes() == before
    r = job.projects[0].review
    assert r.computed_total == Decimal("77.51") and r.evaluation.file == src.name
    # the rebuilt workbook: blank-form layout, review columns, 复核结果, the finding on the right row
    wb = load_workbook(out / f"{stem}.复核.xlsx")
    assert wb.sheetnames == ["自评表", "项目基本情况", "复核结果"]
    ws = wb["自评表"]
    [row] = [c.row for c in ws["C"] if c.value == SCORE_MISMATCH_NAME]
    assert ws.cell(row, 7).value == 0.54
    assert "按规则应得0.67" in ws.cell(row, 7).comment.text
    from selfeval_xl.writeback import ADDED_HEADERS

    [head] = [c.row for c in ws["C"] if c.value == "指标名称"]
    assert tuple(ws.cell(head, c).value for c in range(8, 14)) == ADDED_HEADERS  # appended after G
    assert ws.cell(row, 11).value == 0.67  # 规则得分
    review_sheet = [v for row_ in wb["复核结果"].iter_rows(values_only=True) for v in row_ if v is not None]
    assert src.name in review_sheet and 77.51 in review_sheet
    assert any(isinstance(v, str) and "由 Word 文档" in v for v in review_sheet)
    # the reviewed docx: one comment per finding, anchored at the finding's cell
    with zipfile.ZipFile(out / f"{stem}.复核.docx") as zf, zipfile.ZipFile(src) as orig:
        comments = etree.fromstring(zf.read("word/comments.xml"))
        assert set(orig.namelist()) < set(zf.namelist())
        for name in orig.namelist():  # every part but the body is copied unchanged
            if name not in ("word/document.xml", "word/_rels/document.xml.rels", "[Content_Types].xml"):
                assert zf.read(name) == orig.read(name), name
    texts = ["".join(t.text or "" for t in c.iter(f"{{{W}}}t")) for c in comments.iter(f"{{{W}}}comment")]
    assert len(texts) == len(r.findings) == len(workbook_review.findings) == 13
    [mismatch] = [t for t in texts if "SCORE_MISMATCH" in t]
    assert "规则得分：0.67（自评分：0.54）" in mismatch and "评分依据：排名目标" in mismatch
    reviewed = word.parse_file(out / f"{stem}.复核.docx")
    original = word.parse_file(src)
    assert [t.grid.cells for t in reviewed.tables] == [t.grid.cells for t in original.tables]
    assert [word.paragraph_text(p) for p in reviewed.paragraphs] == [word.paragraph_text(p) for p in original.paragraphs]
    table = reviewed.tables[0]
    for f in r.findings:
        if not f.cell.startswith("表1!"):
            continue
        row_, col_ = _rc(f.cell)
        tc = table.tcs[table.grid.anchor(row_, col_)]
        ids = {e.get(f"{{{W}}}id") for e in tc.iter(f"{{{W}}}commentReference")}
        assert any(f.code in texts[int(i)] and f.message in texts[int(i)] for i in ids), f


def test_form_without_a_workbook_builder_is_rebuilt_from_its_tables(tmp_path, seed_docx):
    """A form other than Suzhou (no form.py builder): the tables become sheets 表1 …, and the
    document's own review lands on them cell for cell."""
    from dataclasses import replace

    from openpyxl import load_workbook

    from selfeval_xl.word_review import rebuild_workbook
    from selfeval_xl.writeback import write_reviewed

    r = review(read(seed_docx))
    other = replace(r, evaluation=replace(r.evaluation, form="national"))
    book, book_review = rebuild_workbook(other, seed_docx, tmp_path / "表.xlsx")
    assert book_review is other
    out = write_reviewed(book_review, book, tmp_path / "表.复核.xlsx")
    wb = load_workbook(out)
    assert wb.sheetnames[:2] == ["表1", "正文"] and "复核结果" in wb.sheetnames
    assert wb["表1"]["G153"].value == "0.54" and "按规则应得0.67" in wb["表1"]["G153"].comment.text
    assert wb["表1"]["C153"].value == SCORE_MISMATCH_NAME


def _rc(cell: str) -> tuple[int, int]:
    m = re.match(r".+!([A-Z]+)(\d+)$", cell)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def test_reviewing_a_reviewed_docx_replaces_its_comments(tmp_path, seed_docx):
    r = review(read(seed_docx))
    once = write_reviewed_docx(r, seed_docx, tmp_path / "a.复核.docx")
    twice = write_reviewed_docx(review(read(once)), once, tmp_path / "a.复核.docx")
    with zipfile.ZipFile(twice) as zf:
        comments = etree.fromstring(zf.read("word/comments.xml"))
    assert len(list(comments.iter(f"{{{W}}}comment"))) == len(r.findings)
    root = _doc_xml(twice)
    assert len(list(root.iter(f"{{{W}}}commentReference"))) == len(r.findings)


def test_check_json_on_a_docx(seed_docx, capsys):
    from selfeval_xl.cli import main

    assert main(["check", str(seed_docx), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["computed"] == 77.51
    assert [f["cell"] for f in data["findings"] if f["code"] == "SCORE_MISMATCH"] == ["表1!G153"]


def test_batch_accepts_word_files_and_skips_word_lock_files(tmp_path):
    from selfeval_xl.batch import skip_reason

    for name in ("报告.docx", "报告.doc", "报告.wps"):
        (tmp_path / name).write_bytes(b"x")
        assert skip_reason(tmp_path / name) is None
    (tmp_path / "~$报告.docx").write_bytes(b"x")
    assert "锁定" in skip_reason(tmp_path / "~$报告.docx")
    (tmp_path / "报告.复核.docx").write_bytes(b"x")
    assert skip_reason(tmp_path / "报告.复核.docx") is not None


# --------------------------------------------------------------------------- LibreOffice


@pytest.mark.office
def test_doc_and_wps_are_read_through_libreoffice(tmp_path, seed_docx, workbook_review):
    doc = convert(seed_docx, "doc:MS Word 97", tmp_path)
    assert sniff(doc) == "doc"
    wps = tmp_path / "报告.wps"
    shutil.copy2(doc, wps)
    for p in (doc, wps):
        r = review(read(p))
        assert r.computed_total == Decimal("77.51")
        assert _codes(r) == _codes(workbook_review)
        assert r.evaluation.file == p.name
    out = tmp_path / "out"
    out.mkdir()
    job = review_into(doc, out, JobOptions(report=False))
    assert job.outputs == [f"{doc.stem}.复核.docx", f"{doc.stem}.复核.xlsx"]
    with zipfile.ZipFile(out / f"{doc.stem}.复核.docx") as zf:
        assert len(list(etree.fromstring(zf.read("word/comments.xml")).iter(f"{{{W}}}comment"))) == 13


@pytest.mark.office
def test_doc_without_libreoffice_says_so(tmp_path, seed_docx, monkeypatch):
    doc = convert(seed_docx, "doc:MS Word 97", tmp_path)
    from selfeval_xl import office

    monkeypatch.setattr(office, "find_soffice", lambda: None)
    with pytest.raises(ReadError) as e:
        read(doc)
    assert e.value.code == "CONVERSION_FAILED" and "LibreOffice" in e.value.message and doc.name in e.value.message


def _odt_cells_with_annotations(odt: Path):
    with zipfile.ZipFile(odt) as zf:
        root = etree.fromstring(zf.read("content.xml"))
    out = []
    for ann in root.iter(f"{{{ODF['office']}}}annotation"):
        cell = ann.xpath("ancestor::table:table-cell[1]", namespaces=ODF)
        text = "".join(ann.itertext())
        cell_text = ""
        if cell:
            cell_text = "\n".join("".join(t for t in p.xpath(".//text()[not(ancestor::office:annotation)]", namespaces=ODF))
                                  for p in cell[0].iter(f"{{{ODF['text']}}}p") if not p.xpath("ancestor::office:annotation", namespaces=ODF))
        out.append((text, cell_text.strip()))
    body = [("".join(p.xpath(".//text()[not(ancestor::office:annotation)]", namespaces=ODF)))
            for p in root.iter(f"{{{ODF['text']}}}p", f"{{{ODF['text']}}}h") if not p.xpath("ancestor::office:annotation", namespaces=ODF)]
    return out, body


@pytest.mark.office
def test_reviewed_docx_opens_in_libreoffice_with_one_comment_per_finding_at_its_cell(tmp_path, seed_docx):
    r = review(read(seed_docx))
    reviewed = write_reviewed_docx(r, seed_docx, tmp_path / "报告.复核.docx")
    orig = tmp_path / "报告.docx"
    shutil.copy2(seed_docx, orig)
    from selfeval_xl import office

    odts = office.convert([orig, reviewed], "odt", tmp_path / "odt")
    annotations, body = _odt_cells_with_annotations(odts[reviewed])
    _, original_body = _odt_cells_with_annotations(odts[orig])
    assert body == original_body  # the document's text is unchanged
    assert len(annotations) == len(r.findings) == 13
    grid = next(g for g in load_grids(seed_docx) if g.name == "表1")
    for f in r.findings:
        [(_, cell_text)] = [a for a in annotations if f.message in a[0]]
        if f.cell.startswith("表1!"):
            assert cell_text == grid.text(*_rc(f.cell)), f
    [(_, cell_text)] = [a for a in annotations if "SCORE_MISMATCH" in a[0]]
    assert cell_text == "0.54"
