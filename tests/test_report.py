"""The Word 自评价报告: content and order, escaping, template errors and the sandbox, GB/T 9704
layout, and the real client (LibreOffice → PDF, checked with poppler and looked at)."""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from conftest import ROOT, SAMPLE, soffice
from selfeval_xl import chart, office, report
from selfeval_xl.errors import TemplateError
from selfeval_xl.model import Narrative, Value
from selfeval_xl.review import review_file

# CT_TcPr child order in ECMA-376 Part 1 (Word refuses a w:tcPr whose children are out of this order).
TCPR_ORDER = ["cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap", "tcMar", "textDirection",
              "tcFitText", "vAlign", "hideMark", "headers", "cellIns", "cellDel", "cellMerge", "tcPrChange"]

HEADINGS = [
    "一、项目基本情况", "（一）项目概况", "（二）项目总目标", "（三）年度绩效目标", "（四）项目实施情况",
    "二、预算执行及资金使用", "（一）预算执行情况", "（二）资金使用情况", "（三）项目资金构成",
    "三、绩效目标实现情况", "（一）各类指标得分", "（二）各项指标完成情况",
    "四、偏差分析", "（一）未得满分的指标", "（二）超额完成的指标",
    "五、项目管理成效", "六、存在的问题及原因", "七、改进建议",
]
NAME = "苏州市打造先进制造业基地专项资金"


@pytest.fixture(scope="module")
def sample_review(tmp_path_factory):
    src = tmp_path_factory.mktemp("sample") / SAMPLE.name
    shutil.copy2(SAMPLE, src)
    return review_file(src)


@pytest.fixture(scope="module")
def sample_docx(sample_review, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / report.report_name(SAMPLE)
    assert report.render_report(sample_review, out) == out
    return out


def _texts(path: Path) -> list[str]:
    return [p.text for p in Document(path).paragraphs]


def _tables(path: Path):
    return Document(path).tables


def _minimal_template(path: Path, *paragraphs: str, footer: str | None = None) -> Path:
    doc = Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    if footer is not None:
        doc.sections[0].footer.paragraphs[0].text = footer
    doc.save(path)
    return path


def _with(review, **ev_changes):
    return dataclasses.replace(review, evaluation=dataclasses.replace(review.evaluation, **ev_changes))


# --------------------------------------------------------------------------- names, template


def test_report_name():
    assert report.report_name(Path("in/苏州市某项目_2020.xlsx")) == "苏州市某项目_2020.自评价报告.docx"
    assert report.report_name("a.b.xls") == "a.b.自评价报告.docx"


def test_bundled_template_is_found_and_cached():
    path = report.default_template()
    assert path.is_file() and path.name == "自评报告.docx"
    assert report.load_template() is report.load_template()
    assert report.load_template(path) is report.load_template()


def test_template_cache_follows_file_changes(tmp_path):
    t = _minimal_template(tmp_path / "t.docx", "{{ project.name }}")
    first = report.load_template(t)
    assert report.load_template(t) is first
    before = t.stat().st_mtime_ns
    _minimal_template(t, "{{ project.name }}（修改后）")
    os.utime(t, ns=(before + 2_000_000_000, before + 2_000_000_000))
    assert report.load_template(t) is not first


def test_committed_template_matches_generator(tmp_path):
    spec = importlib.util.spec_from_file_location("make_report_template", ROOT / "tools" / "make_report_template.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    generated = tmp_path / "gen.docx"
    mod.build().save(generated)
    committed = zipfile.ZipFile(ROOT / "templates" / "自评报告.docx")
    fresh = zipfile.ZipFile(generated)
    assert sorted(committed.namelist()) == sorted(fresh.namelist())
    for name in fresh.namelist():
        if name.endswith(".xml") or name.endswith(".rels"):
            assert committed.read(name) == fresh.read(name), f"{name}: run python tools/make_report_template.py"
    assert mod.FONTS == report.DEFAULT_FONTS


# --------------------------------------------------------------------------- content


def test_content_order_and_headings(sample_docx, sample_review):
    texts = _texts(sample_docx)
    assert texts[0] == NAME
    assert texts[1] == "2020年度绩效自评价报告"
    assert texts[2] == "主管部门：苏州市工业和信息化局"
    positions = [texts.index(h) for h in HEADINGS]
    assert positions == sorted(positions), "sections out of order"
    assert texts.index("附件") > positions[-1] and texts.index("自查提示") > texts.index("附件")

    doc = Document(sample_docx)
    styles = {p.text: p.style.style_id for p in doc.paragraphs if p.text in HEADINGS}
    for h in HEADINGS:
        assert styles[h] == ("Heading1" if h[0] in "一二三四五六七" else "Heading2"), h

    # narrative: paragraphs and numbering kept, in the right sections
    def section(start: str, end: str) -> list[str]:
        return texts[texts.index(start) + 1:texts.index(end)]

    assert section("（一）项目概况", "（二）项目总目标")[0].startswith("根据苏州市打造先进制造业基地规定")
    problems = section("六、存在的问题及原因", "七、改进建议")
    assert [p[:2] for p in problems] == ["一是", "二是", "三是"]
    advice = section("七、改进建议", "附件")
    assert [p[:2] for p in advice] == ["一是", "二是", "三是"] and "①相关处室" in advice[2] and "④进一步" in advice[2]
    effect = section("五、项目管理成效", "六、存在的问题及原因")
    assert effect[1].startswith("（一）项目初审。")  # the leading spaces are gone, the numbering is not
    impl = section("（四）项目实施情况", "二、预算执行及资金使用")
    assert impl[0] == "1. 项目实施管理" and "2. 资金管理" in impl

    body = "\n".join(texts)
    assert "资金执行率（实际支付数÷财政拨款数）为98.96%" in body  # 56974.96 / 57572.29
    # the department's report: its own scores in the body, the rule scores only in the 自查提示 annex
    assert "自评分合计77.38分（表内填报合计77.38分）" in body and "77.51" not in body.split("自查提示")[0]
    assert "其中1项自评分与评分规则不一致，见附件自查提示" in body

    # 四、偏差分析: one numbered paragraph per indicator below full marks / over-achieved
    below = [s for s in sample_review.scored if s.indicator.weight.number is not None and s.indicator.self_score.number
             is not None and s.indicator.self_score.number < s.indicator.weight.number - Decimal("0.005")]
    over = [s for s in sample_review.scored if "OVER_ACHIEVED" in s.flags]
    dev_below = section("（一）未得满分的指标", "（二）超额完成的指标")
    dev_over = section("（二）超额完成的指标", "五、项目管理成效")
    assert len(dev_below) == len(below) >= 1 and len(dev_over) == len(over) >= 1
    assert any(p.startswith("1. 预算执行率（投入目标）：目标值=100%，实际完成值=99.9%，完成率99.9%") for p in dev_below)
    assert any(p.endswith("保持全省第二的位置（影响力目标）：目标值全省第二，实际完成值全省第二；权重0.67分，自评分0.54分。")
               for p in dev_below)  # below full marks by its own score


def test_tables(sample_docx, sample_review):
    tables = _tables(sample_docx)
    assert len(tables) == 6
    budget, funds, composition, classes, indicators, findings = tables
    assert [c.text for c in budget.rows[1].cells] == ["50660.00", "6962.80", "57572.29", "50.51"]
    assert [c.text for c in funds.rows[1].cells] == ["57572.29", "56974.96", "597.33", "597.33", "0.00"]
    ev = sample_review.evaluation
    assert len(composition.rows) == 1 + len(ev.sub_items) + 1
    assert composition.rows[1].cells[1].text == ev.sub_items[0].name
    assert composition.rows[-1].cells[0].text == "合计" and composition.rows[-1].cells[-1].text == "57559.49"

    assert [c.text for c in classes.rows[1].cells] == ["投入目标", "26", "10", "26", "25.96"]
    assert [c.text for c in classes.rows[-1].cells] == ["合计", "80", "92", "80", "77.38"]

    # indicator table: header + rows + one subtotal per class + total; class cells merged
    n = len(ev.indicators)
    assert len(indicators.rows) == 1 + n + len(ev.categories) + 1
    assert [c.text for c in indicators.rows[0].cells] == ["类别", "指标名称", "目标值", "权重", "实际完成值", "自评分"]
    first = indicators.rows[1].cells
    assert first[0].text == "投入目标\n（26分）" and first[1].text == ev.indicators[0].name
    tbl = indicators._tbl
    restarts = [v for v in tbl.iter(qn("w:vMerge")) if v.get(qn("w:val")) == "restart"]
    continues = [v for v in tbl.iter(qn("w:vMerge")) if v.get(qn("w:val")) == "continue"]
    assert len(restarts) == len(ev.categories) and len(continues) == n - len(ev.categories)
    for tcPr in tbl.iter(qn("w:tcPr")):  # schema order (Word refuses vMerge/shd out of place)
        tags = [k.tag.split("}")[1] for k in tcPr]
        assert tags == sorted(tags, key=TCPR_ORDER.index), tags
    last = [c.text for c in indicators.rows[-1].cells]
    assert last[0] == "合计" and last[-1] == "77.38"
    subtotals = [r for r in indicators.rows if r.cells[0].text.endswith("小计")]
    assert [r.cells[0].text for r in subtotals] == [f"{c.name}小计" for c in ev.categories]

    assert len(findings.rows) == 1 + len(sample_review.findings)
    row = findings.rows[1].cells
    assert row[1].text == "错误" and row[2].text.startswith("自评表!") and row[3].text.startswith("评分不符\n")
    assert [c.text for c in findings.rows[0].cells] == ["序号", "级别", "单元格", "问题及说明"]


def test_chart_is_embedded(sample_docx):
    if chart.find_cjk_font() is None:
        pytest.skip("no CJK font on this machine: the chart is left out")
    names = zipfile.ZipFile(sample_docx).namelist()
    assert any(n.startswith("word/media/") and n.endswith(".png") for n in names)
    assert "图1  各类指标分值与自评分" in _texts(sample_docx)


def test_findings_false_leaves_out_the_attachment(sample_review, tmp_path):
    out = report.render_report(sample_review, tmp_path / "r.docx", findings=False)
    texts = _texts(out)
    assert "附件" not in texts and "复核发现" not in texts and "七、改进建议" in texts
    assert len(_tables(out)) == 5


def test_escaping_and_line_breaks_survive(sample_review, tmp_path):
    ev = sample_review.evaluation
    tricky = "R&D <5% \"引号\" 'x'"
    narrative = dict(ev.narrative)
    narrative["项目概况"] = Narrative("项目概况", f"{tricky}\n第二段 {{{{ 7*7 }}}} {{%p if x %}} </w:t>\r\n\n  ①第三段\t含制表符\x0b", "项目基本情况!B2")
    narrative["项目总目标"] = Narrative("项目总目标", "", "项目基本情况!B3")
    r = _with(sample_review, narrative=narrative, project_name=Value("自评表!B3", "A&B<项目>"))
    out = report.render_report(r, tmp_path / "esc.docx")
    texts = _texts(out)
    i = texts.index("（一）项目概况")
    assert texts[i + 1] == tricky  # exactly, every character
    assert texts[i + 2] == "第二段 {{ 7*7 }} {%p if x %} </w:t>"  # data is never a template
    assert texts[i + 3] == "①第三段 含制表符"
    assert texts[i + 4] == "（二）项目总目标" and texts[i + 5] == report.NOT_FILLED
    assert texts[0] == "A&B<项目>"
    xml = zipfile.ZipFile(out).read("word/document.xml").decode("utf-8")
    assert "R&amp;D &lt;5% " in xml
    assert Document(out).core_properties.title == "A&B<项目>2020年度绩效自评价报告"


# --------------------------------------------------------------------------- template errors


def test_broken_template_names_the_line(sample_review, tmp_path):
    bad = _minimal_template(tmp_path / "bad.docx", "第一段", "第二段", "项目：{{ project.name }", "第四段")
    with pytest.raises(TemplateError) as exc:
        report.load_template(bad)
    msg = str(exc.value)
    assert "bad.docx" in msg and re.search(r"第\d+行", msg) and "语法错误" in msg
    assert "项目：{{ project.name }" in msg  # the offending text
    assert exc.value.lineno == 4  # docxtpl puts one paragraph a line, after the <w:body> line
    with pytest.raises(TemplateError):
        report.render_report(sample_review, tmp_path / "out.docx", template=bad)
    assert not (tmp_path / "out.docx").exists()

    unknown_tag = _minimal_template(tmp_path / "tag.docx", "{% frobnicate %}")
    with pytest.raises(TemplateError, match=r"第\d+行.*frobnicate"):
        report.load_template(unknown_tag)

    in_footer = _minimal_template(tmp_path / "footer.docx", "正文", footer="{% if %}")
    with pytest.raises(TemplateError, match="页脚"):
        report.load_template(in_footer)


def test_not_a_docx_or_missing(tmp_path):
    junk = tmp_path / "junk.docx"
    junk.write_bytes(b"not a zip")
    with pytest.raises(TemplateError, match="无法打开"):
        report.load_template(junk)
    with pytest.raises(TemplateError, match="不存在"):
        report.load_template(tmp_path / "missing.docx")


@pytest.mark.parametrize("expr", ["''.__class__.__mro__", "project.__class__.__subclasses__()",
                                  "cycler.__init__.__globals__", "project.name.format.__globals__"])
def test_sandbox_blocks_attribute_escapes(sample_review, tmp_path, expr):
    evil = _minimal_template(tmp_path / "evil.docx", "正文", "{{ " + expr + " }}")
    with pytest.raises(TemplateError) as exc:
        report.render_report(sample_review, tmp_path / "evil-out.docx", template=evil)
    assert "安全限制" in str(exc.value) or "不存在" in str(exc.value)
    assert exc.value.lineno == 3 and expr in str(exc.value)
    assert not (tmp_path / "evil-out.docx").exists()


def test_sandbox_security_error_is_reported_as_such(sample_review, tmp_path):
    evil = _minimal_template(tmp_path / "evil.docx", "{{ ''.__class__.__mro__ }}")
    with pytest.raises(TemplateError, match="安全限制"):
        report.render_report(sample_review, tmp_path / "o.docx", template=evil)


def test_undefined_variable_is_an_error(sample_review, tmp_path):
    t = _minimal_template(tmp_path / "typo.docx", "{{ projcet.name }}")
    with pytest.raises(TemplateError, match="不存在的变量.*projcet"):
        report.render_report(sample_review, tmp_path / "o.docx", template=t)


def test_custom_template_and_font_overrides(sample_review, tmp_path):
    t = _minimal_template(tmp_path / "mine.docx", "{{ project.name }}：{{ totals.computed }}分",
                          "{%p for c in categories %}", "{{ c.name }} {{ c.computed }}", "{%p endfor %}")
    out = report.render_report(sample_review, tmp_path / "mine-out.docx", template=t)
    assert _texts(out) == [f"{NAME}：77.51分", "投入目标 25.96", "产出目标 19.62", "结果目标 26.6", "影响力目标 5.33"]

    out = report.render_report(sample_review, tmp_path / "win.docx", fonts={"body": "仿宋", "heading2": "楷体", "latin": "Arial"})
    styles = {s.style_id: s for s in Document(out).styles if s.type == 1}
    rf = styles["Normal"].element.rPr.rFonts
    assert rf.get(qn("w:eastAsia")) == "仿宋" and rf.get(qn("w:ascii")) == "Arial"
    assert styles["Heading2"].element.rPr.rFonts.get(qn("w:eastAsia")) == "楷体"
    assert styles["Heading1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"  # untouched
    with pytest.raises(ValueError, match="未知的字体设置"):
        report.render_report(sample_review, tmp_path / "x.docx", fonts={"正文": "仿宋"})


def test_render_is_atomic(sample_review, tmp_path):
    target = tmp_path / "out" / "r.docx"
    target.parent.mkdir()
    target.write_bytes(b"old")
    bad = _minimal_template(tmp_path / "bad.docx", "{{ nosuch.thing }}")
    with pytest.raises(TemplateError):
        report.render_report(sample_review, target, template=bad)
    assert target.read_bytes() == b"old"
    report.render_report(sample_review, target)
    assert zipfile.is_zipfile(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.docx"]


# --------------------------------------------------------------------------- GB/T 9704 layout


def test_gbt9704_layout(sample_docx):
    doc = Document(sample_docx)
    s = doc.sections[0]
    assert (round(s.page_width.mm), round(s.page_height.mm)) == (210, 297)
    assert [round(x.mm) for x in (s.top_margin, s.bottom_margin, s.left_margin, s.right_margin)] == [37, 35, 28, 26]
    grid = s._sectPr.find(qn("w:docGrid"))
    assert grid is None or grid.get(qn("w:type")) in (None, "default")  # no linesAndChars grid

    styles = {st.style_id: st for st in doc.styles if st.type == 1}

    def east(sid):
        return styles[sid].element.rPr.rFonts.get(qn("w:eastAsia"))

    normal = styles["Normal"]
    assert east("Normal") == "仿宋_GB2312" and normal.font.size == Pt(16)
    pf = normal.paragraph_format
    assert pf.line_spacing == Pt(28.95) and str(pf.line_spacing_rule).startswith("EXACTLY")
    assert normal.element.pPr.find(qn("w:ind")).get(qn("w:firstLineChars")) == "200"
    assert east("Title") == "方正小标宋简体" and styles["Title"].font.size == Pt(22)
    assert east("Heading1") == "黑体" and east("Heading2") == "楷体_GB2312"
    assert east("TableText") == "宋体" and Pt(10.5) <= styles["TableText"].font.size <= Pt(12)
    for sid in styles:  # theme fonts would override the East Asian names
        rf = styles[sid].element.rPr.rFonts if styles[sid].element.rPr is not None else None
        assert rf is None or rf.get(qn("w:eastAsiaTheme")) is None, sid
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    assert defaults.find(".//" + qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"
    assert doc.settings.element.find(qn("w:themeFontLang")).get(qn("w:eastAsia")) == "zh-CN"

    # page numbers "— 1 —" (PAGE field), 宋体 14 pt, odd right / even left
    assert doc.settings.odd_and_even_pages_header_footer
    for footer, align in ((s.footer, "right"), (s.even_page_footer, "left")):
        p = footer.paragraphs[0]
        xml = p._p.xml
        assert "PAGE" in "".join(t.text for t in p._p.iter(qn("w:instrText")))
        assert p.text.startswith("— ") and p.text.endswith(" —")
        assert p._p.pPr.find(qn("w:jc")).get(qn("w:val")) == align, xml
    footer_style = styles["Footer"]
    assert footer_style.font.size == Pt(14) and footer_style.element.rPr.rFonts.get(qn("w:eastAsia")) == "宋体"


# --------------------------------------------------------------------------- chart


def test_chart_font_probe_rejects_fonts_without_chinese():
    from PIL import ImageFont

    dejavu = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if dejavu.exists():
        assert not chart.has_cjk(ImageFont.truetype(str(dejavu), 24))
    found = chart.find_cjk_font()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but no CJK font found (fonts-noto-cjk)")
        pytest.skip("no CJK font installed")
    assert chart.has_cjk(ImageFont.truetype(found[0], 24, index=found[1]))


def test_bar_chart_png():
    if chart.find_cjk_font() is None:
        assert chart.bar_chart([("投入目标", Decimal(26), Decimal(25), Decimal(24))]) is None
        return
    from io import BytesIO

    from PIL import Image

    png = chart.bar_chart([("投入目标", Decimal(26), Decimal("25.96"), Decimal("25.96")), ("影响力目标", None, Decimal("5.2"), Decimal(-1))])
    img = Image.open(BytesIO(png))
    assert img.format == "PNG" and img.size[0] > img.size[1] > 300


# --------------------------------------------------------------------------- PDF


def test_to_pdf_batches_and_name_collisions(tmp_path, monkeypatch):
    calls = []

    def fake_convert(sources, fmt, outdir, timeout=300):
        calls.append([Path(s) for s in sources])
        outdir.mkdir(parents=True, exist_ok=True)
        out = {}
        for s in sources:
            dst = outdir / (Path(s).stem + ".pdf")
            dst.write_bytes(b"%PDF-1.4 " + str(s).encode())
            out[Path(s)] = dst
        return out

    monkeypatch.setattr(office, "convert", fake_convert)
    a, b, c = tmp_path / "x" / "r.docx", tmp_path / "y" / "r.docx", tmp_path / "x" / "s.docx"
    res = office.to_pdf([a, b, c], tmp_path / "pdf")
    assert calls[0] == [a, c]  # one call for all files with distinct names
    assert res[a] == tmp_path / "pdf" / "r.pdf" and res[c] == tmp_path / "pdf" / "s.pdf"
    assert res[b] == tmp_path / "pdf" / "r (2).pdf" and str(b).encode() in res[b].read_bytes()


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {name} (poppler-utils) is not installed")
        pytest.skip(f"{name} (poppler-utils) not installed")
    return exe


@pytest.mark.office
@pytest.mark.slow
def test_real_client_pdf(sample_docx, tmp_path):
    soffice()
    pdffonts, pdfinfo, pdftotext = _tool("pdffonts"), _tool("pdfinfo"), _tool("pdftotext")
    pdf = office.to_pdf([sample_docx], tmp_path)[sample_docx]
    assert pdf is not None and pdf.stat().st_size > 10_000

    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, timeout=60).stdout
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert m and abs(float(m.group(1)) - 595.3) < 1.5 and abs(float(m.group(2)) - 841.9) < 1.5, info
    assert int(re.search(r"Pages:\s+(\d+)", info).group(1)) >= 10

    fonts = subprocess.run([pdffonts, str(pdf)], capture_output=True, text=True, timeout=60).stdout
    rows = fonts.splitlines()[2:]
    cjk = [r for r in rows if re.search(r"CJK|Song|Hei|Kai|Fang|Ming|Gothic|SimSun|FangSong|SimHei|KaiTi|WenQuanYi|Droid Sans Fallback", r, re.I)]
    assert cjk, f"no CJK font in the PDF (Chinese would show as boxes):\n{fonts}"
    assert all(" yes " in r for r in cjk), f"CJK font not embedded:\n{fonts}"
    assert not any("Type 3" in r for r in rows), fonts

    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    flat = re.sub(r"\s+", "", text)
    for needle in [NAME, "绩效自评价报告", "主管部门：苏州市工业和信息化局", *HEADINGS, "附件", "自查提示",
                   "77.38", "0.67", "57559.49", "57572.29", "56974.96", "98.96%", "— 1 —".replace(" ", "")]:
        assert needle.replace(" ", "") in flat, needle

    # render page 1 and the indicator table's first page; keep page 1 for a human to look at
    pdftoppm = _tool("pdftoppm")
    subprocess.run([pdftoppm, "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], timeout=120, check=True)
    page1 = next(tmp_path.glob("page*.png"))
    from PIL import Image

    img = Image.open(page1).convert("L")
    assert img.size[0] < img.size[1]  # portrait A4
    dark = sum(img.histogram()[:128])
    assert dark > 2000  # text was drawn


def test_sparse_workbook_still_renders(sample_review, tmp_path):
    """A workbook with blanks everywhere yields a report that says so instead of failing."""
    ev = sample_review.evaluation
    blank = {k: Value(v.cell) for k, v in ev.budget.items()}
    r = dataclasses.replace(
        _with(sample_review, narrative={}, sub_items=(), categories=(), budget=blank,
              funds={k: Value(v.cell) for k, v in ev.funds.items()}, composition_total=Value(ev.composition_total.cell),
              year=Value(ev.year.cell), department=Value(ev.department.cell), stated_total=Value(ev.stated_total.cell),
              performance_points=None),
        scored=(), findings=(), categories=(), self_total=Decimal(0), computed_total=Decimal(0))
    out = report.render_report(r, tmp_path / "sparse.docx")
    texts = _texts(out)
    body = "\n".join(texts)
    assert texts[1] == "绩效自评价报告" and "主管部门：（未填写）" in texts
    assert "财政拨款数或实际支付数未填写，无法计算资金执行率。" in body
    assert texts.count(report.NOT_FILLED) == 7
    assert "逐项核对本表，未发现需自查的问题。" in body
    positions = [texts.index(h) for h in HEADINGS]
    assert positions == sorted(positions)


def test_a_very_long_project_name_still_gives_a_report(sample_review, tmp_path):
    """A core property holds 255 characters (python-docx raises past that): a 10,000-character
    project name (fuzz seed 2, mutant 83) gives a report whose title is clipped, body complete."""
    import dataclasses

    from docx import Document

    r = sample_review
    long_name = "苏州市" + "x" * 10_000 + "&专项"
    ev = r.evaluation
    r = dataclasses.replace(r, evaluation=dataclasses.replace(ev, project_name=dataclasses.replace(ev.project_name, text=long_name)))
    out = report.render_report(r, tmp_path / "long.docx")
    doc = Document(out)
    assert len(doc.core_properties.title) <= 255 and doc.core_properties.title.startswith("苏州市xxx")
    assert any(long_name in p.text for p in doc.paragraphs)
