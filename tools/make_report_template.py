"""Generate templates/自评报告.docx and templates/项目支出绩效自评报告.docx, the docxtpl templates of
the Word 自评价报告 for the Suzhou form and for the national form (财预〔2020〕10号).

    python tools/make_report_template.py [output.docx [national-output.docx]]

The template is built with python-docx so that it is reproducible and reviewable as code; staff
may still open the generated file in Word, restyle it and pass it with ``--report-template``.
Layout follows GB/T 9704-2012 (党政机关公文格式): A4, margins top 37 / bottom 35 / left 28 /
right 26 mm, body 3号仿宋_GB2312 (16 pt) on an exact 28.95 pt line pitch (22 lines a page),
title 2号方正小标宋简体, 一、 headings 黑体, （一） headings 楷体_GB2312, page numbers
``— 1 —`` in 4号宋体 (odd pages right, even pages left, one character in from the margin).

Every font is set on a style (never on a run) with the East Asian slot filled, so that
``report.render_report(fonts=...)`` can swap fonts by editing styles only. The variables used
here are documented in ``selfeval_xl/report.py`` (``build_context``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Mm

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "templates" / "自评报告.docx"
NATIONAL_OUTPUT = ROOT / "templates" / "项目支出绩效自评报告.docx"

sys.path.insert(0, str(ROOT))
from selfeval_xl.report import DEFAULT_FONTS as FONTS  # noqa: E402  (one table of default fonts, by role)

LINE_PITCH_PT = 28.95  # 22 lines on the 225 mm type area
TEXT_WIDTH_MM = 210 - 28 - 26  # 156 mm

# style id -> (name, role of the East Asian font, size pt, options)
STYLES: dict[str, tuple[str, str, float, dict]] = {
    "Normal": ("Normal", "body", 16, {"indent": True, "line": "exact", "jc": "both"}),
    "Title": ("Title", "title", 22, {"jc": "center", "line": ("exact", 36)}),
    "Subtitle": ("Subtitle", "heading2", 16, {"jc": "center", "line": "exact", "after": 14}),
    "Heading1": ("heading 1", "heading1", 16, {"indent": True, "line": "exact", "outline": 0, "keep": True, "jc": "both"}),
    "Heading2": ("heading 2", "heading2", 16, {"indent": True, "line": "exact", "outline": 1, "keep": True, "jc": "both"}),
    "Caption": ("caption", "heading1", 12, {"jc": "center", "line": "single", "before": 8, "after": 4, "keep": True}),
    "Figure": ("图片", "body", 10.5, {"jc": "center", "line": "single", "before": 4, "keep": True}),
    # Tables: 五号 on an exact 14 pt pitch (≈ single spacing). Exact, so that a cell holding
    # only digits (Latin font) sits on the same baseline as its CJK neighbours.
    "TableText": ("表格文字", "table", 10.5, {"line": ("exact", 14)}),
    "TableCenter": ("表格居中", "table", 10.5, {"line": ("exact", 14), "jc": "center"}),
    "TableHead": ("表格表头", "heading1", 10.5, {"line": ("exact", 14), "jc": "center"}),
    "AttachmentLabel": ("附件标识", "heading1", 16, {"line": "exact"}),
    "Footer": ("footer", "page_number", 14, {"line": "single", "latin_as_east": True}),
}
# Fonts missing on stock Windows -> the face Word should fall back to (w:altName in the font
# table), so a report opened there keeps the right look without --font.
ALT_NAMES: dict[str, str] = {"仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体", "方正小标宋简体": "黑体"}
# Styles kept from python-docx's default template (everything else is dropped).
KEEP_STYLES = {"DefaultParagraphFont", "TableNormal", "NoList", "TableGrid"}


def _el(xml: str):
    """Parse one w: element written without its namespace declaration."""
    tag_end = xml.index(" ") if " " in xml.split(">", 1)[0] else xml.index(">")
    return parse_xml(xml[:tag_end] + f" {nsdecls('w')}" + xml[tag_end:])


def _rfonts(east: str, latin: str) -> str:
    return f'<w:rFonts w:ascii="{latin}" w:hAnsi="{latin}" w:eastAsia="{east}" w:cs="{latin}"/>'


def _style_xml(style_id: str, name: str, role: str, size: float, o: dict) -> str:
    east = FONTS[role]
    latin = east if o.get("latin_as_east") else FONTS["latin"]
    ppr = []
    if o.get("keep"):
        ppr.append("<w:keepNext/><w:keepLines/>")
    ppr.append("<w:widowControl/>")
    before, after = int(o.get("before", 0) * 20), int(o.get("after", 0) * 20)
    line = o.get("line", "exact")
    if line == "exact":
        line = ("exact", LINE_PITCH_PT)
    if line == "single":
        ppr.append(f'<w:spacing w:before="{before}" w:after="{after}" w:line="240" w:lineRule="auto"/>')
    else:
        ppr.append(f'<w:spacing w:before="{before}" w:after="{after}" w:line="{round(line[1] * 20)}" w:lineRule="exact"/>')
    if o.get("indent"):
        # two characters: firstLineChars for Word/WPS, firstLine (2 x 16 pt) for everything else
        ppr.append(f'<w:ind w:firstLineChars="200" w:firstLine="{round(size * 2 * 20)}"/>')
    else:
        ppr.append('<w:ind w:firstLineChars="0" w:firstLine="0"/>')
    ppr.append(f'<w:jc w:val="{o.get("jc", "left")}"/>')
    if "outline" in o:
        ppr.append(f'<w:outlineLvl w:val="{o["outline"]}"/>')
    half = round(size * 2)
    rpr = (f"{_rfonts(east, latin)}<w:b w:val=\"0\"/><w:bCs w:val=\"0\"/><w:color w:val=\"000000\"/>"
           f'<w:kern w:val="0"/><w:sz w:val="{half}"/><w:szCs w:val="{half}"/>'
           '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>')
    based = "" if style_id == "Normal" else '<w:basedOn w:val="Normal"/>'
    default = ' w:default="1"' if style_id == "Normal" else ""
    nxt = '<w:next w:val="Normal"/>' if style_id.startswith(("Heading", "Title", "Subtitle", "Caption")) else ""
    return (f'<w:style {nsdecls("w")} w:type="paragraph"{default} w:styleId="{style_id}">'
            f'<w:name w:val="{name}"/>{based}{nxt}<w:uiPriority w:val="9"/><w:qFormat/>'
            f"<w:pPr>{''.join(ppr)}</w:pPr><w:rPr>{rpr}</w:rPr></w:style>")


def _styles(doc) -> None:
    root = doc.styles.element
    # docDefaults: explicit fonts (no theme slots, whose East Asian face follows the theme
    # language: ja-JP in python-docx's default template) and zh-CN as the East Asian language.
    rpr = root.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    for child in list(rpr):
        rpr.remove(child)
    for frag in (_rfonts(FONTS["body"], FONTS["latin"]), '<w:kern w:val="0"/>', '<w:sz w:val="32"/>', '<w:szCs w:val="32"/>',
                 '<w:lang w:val="en-US" w:eastAsia="zh-CN" w:bidi="ar-SA"/>'):
        rpr.append(_el(frag))
    ppr = root.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr"))
    for child in list(ppr):
        ppr.remove(child)
    ppr.append(parse_xml(f'<w:spacing {nsdecls("w")} w:after="0" w:line="240" w:lineRule="auto"/>'))
    for st in root.findall(qn("w:style")):
        if st.get(qn("w:styleId")) not in KEEP_STYLES:
            root.remove(st)
    for sid, (name, role, size, o) in STYLES.items():
        root.append(parse_xml(_style_xml(sid, name, role, size, o)))
    # Table Grid: single-line black borders, single spacing
    grid = next(s for s in root.findall(qn("w:style")) if s.get(qn("w:styleId")) == "TableGrid")
    for rsid in grid.findall(qn("w:rsid")):
        grid.remove(rsid)


def _settings(doc) -> None:
    settings = doc.settings.element
    lang = settings.find(qn("w:themeFontLang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")
    rsids = settings.find(qn("w:rsids"))
    if rsids is not None:
        settings.remove(rsids)
    doc.settings.odd_and_even_pages_header_footer = True


def _font_table(doc) -> None:
    """The font table lists our faces (zh-CN charset 86) with their w:altName fallbacks."""
    part = next(r.target_part for r in doc.part.rels.values() if r.reltype.endswith("/fontTable"))
    fonts = []
    for face in dict.fromkeys(FONTS.values()):
        alt = f'<w:altName w:val="{ALT_NAMES[face]}"/>' if face in ALT_NAMES else ""
        charset = "00" if face.isascii() else "86"
        fonts.append(f'<w:font w:name="{face}">{alt}<w:charset w:val="{charset}"/><w:family w:val="auto"/>'
                     '<w:pitch w:val="variable"/></w:font>')
    part._blob = ("<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
                  f'<w:fonts {nsdecls("w")}>' + "".join(fonts) + "</w:fonts>").encode("utf-8")


def _drop_extra_parts(doc) -> None:
    """Drop python-docx's stylesWithEffects copy (400 kB of unused styles) and the thumbnail."""
    part = doc.part
    for rid, rel in list(part.rels.items()):
        if rel.reltype.endswith("/stylesWithEffects"):
            part.drop_rel(rid)
    pkg = doc.part.package
    for rid, rel in list(pkg.rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del pkg.rels[rid]
    for rid, rel in list(part.rels.items()):
        if rel.reltype.endswith("/customXml"):
            part.drop_rel(rid)


def _section(doc) -> None:
    s = doc.sections[0]
    s.page_width, s.page_height = Mm(210), Mm(297)
    s.top_margin, s.bottom_margin = Mm(37), Mm(35)
    s.left_margin, s.right_margin = Mm(28), Mm(26)
    s.header_distance = Mm(15)
    s.footer_distance = Mm(21)  # the page number's dash sits about 7 mm below the type area
    grid = s._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = parse_xml(f'<w:docGrid {nsdecls("w")}/>')
        s._sectPr.append(grid)
    for attr in list(grid.attrib):
        del grid.attrib[attr]
    grid.set(qn("w:linePitch"), str(round(LINE_PITCH_PT * 20)))  # no type: no character grid
    for footer, jc, ind in ((s.footer, "right", "right"), (s.even_page_footer, "left", "left")):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0]
        p.style = doc.styles["footer"]
        p._p.get_or_add_pPr().append(parse_xml(f'<w:ind {nsdecls("w")} w:{ind}="280"/>'))  # one 14 pt char
        p._p.get_or_add_pPr().append(parse_xml(f'<w:jc {nsdecls("w")} w:val="{jc}"/>'))
        _page_field(p)


def _page_field(p) -> None:
    def run(inner: str) -> None:
        p._p.append(parse_xml(f'<w:r {nsdecls("w")}>{inner}</w:r>'))

    run('<w:t xml:space="preserve">— </w:t>')
    run('<w:fldChar w:fldCharType="begin"/>')
    run('<w:instrText xml:space="preserve"> PAGE </w:instrText>')
    run('<w:fldChar w:fldCharType="separate"/>')
    run("<w:t>1</w:t>")
    run('<w:fldChar w:fldCharType="end"/>')
    run('<w:t xml:space="preserve"> —</w:t>')


def _twips(mm: float) -> int:
    return round(mm / 25.4 * 1440)


def _table(doc, widths_mm: list[float], rows: list[list], header_rows: int = 1, styles: list[str] | None = None,
           valign: str = "center", together: bool = False):
    """A fixed-layout bordered table. ``rows`` holds cell texts; a cell may be a tuple
    (text, span) to merge ``span`` columns, or (text, span, style). ``together``: a short
    table kept on one page (every row but the last is kept with the next)."""
    table = doc.add_table(rows=0, cols=len(widths_mm))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    tblPr = table._tbl.tblPr
    for old in tblPr.findall(qn("w:tblW")):
        tblPr.remove(old)
    tblPr.append(parse_xml(f'<w:tblW {nsdecls("w")} w:w="{sum(_twips(w) for w in widths_mm)}" w:type="dxa"/>'))
    tblPr.append(parse_xml(
        f'<w:tblBorders {nsdecls("w")}>' + "".join(
            f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
            for side in ("top", "left", "bottom", "right", "insideH", "insideV")) + "</w:tblBorders>"))
    tblPr.append(parse_xml(f'<w:tblLayout {nsdecls("w")} w:type="fixed"/>'))
    tblPr.append(parse_xml(
        f'<w:tblCellMar {nsdecls("w")}><w:top w:w="28" w:type="dxa"/><w:left w:w="57" w:type="dxa"/>'
        '<w:bottom w:w="28" w:type="dxa"/><w:right w:w="57" w:type="dxa"/></w:tblCellMar>'))
    _sort_children(tblPr, TBLPR_ORDER)
    grid = table._tbl.tblGrid
    for col, w in zip(grid.findall(qn("w:gridCol")), widths_mm):
        col.set(qn("w:w"), str(_twips(w)))
    col_styles = styles or ["TableCenter"] * len(widths_mm)
    for r, cells in enumerate(rows):
        row = table.add_row()
        trPr = row._tr.get_or_add_trPr()
        trPr.append(parse_xml(f'<w:cantSplit {nsdecls("w")}/>'))
        if r < header_rows:
            trPr.append(parse_xml(f'<w:tblHeader {nsdecls("w")}/>'))
        col = 0
        for spec in cells:
            text, span, style = spec if isinstance(spec, tuple) and len(spec) == 3 else (
                (*spec, None) if isinstance(spec, tuple) else (spec, 1, None))
            cell = row.cells[col]
            if span > 1:
                cell = cell.merge(row.cells[col + span - 1])
            style = style or ("TableHead" if r < header_rows else col_styles[col])
            tcPr = cell._tc.get_or_add_tcPr()
            tcW = tcPr.find(qn("w:tcW"))
            if tcW is None:
                tcW = parse_xml(f'<w:tcW {nsdecls("w")}/>')
                tcPr.insert(0, tcW)
            tcW.set(qn("w:w"), str(sum(_twips(w) for w in widths_mm[col:col + span])))
            tcW.set(qn("w:type"), "dxa")
            va = "center" if r < header_rows else valign
            tcPr.append(parse_xml(f'<w:vAlign {nsdecls("w")} w:val="{va}"/>'))
            _sort_children(tcPr, TCPR_ORDER)
            for k, line in enumerate(text if isinstance(text, list) else [text]):
                p = cell.paragraphs[0] if k == 0 else cell.add_paragraph()
                p.style = doc.styles[STYLES[style][0]]
                if together and r < len(rows) - 1:
                    p.paragraph_format.keep_with_next = True
                if line:
                    p.add_run(line)
            col += span
    return table


TBLPR_ORDER = ["tblStyle", "tblpPr", "tblOverlap", "bidiVisual", "tblStyleRowBandSize", "tblStyleColBandSize", "tblW", "jc",
               "tblCellSpacing", "tblInd", "tblBorders", "shd", "tblLayout", "tblCellMar", "tblLook"]
TCPR_ORDER = ["cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap", "tcMar", "textDirection",
              "tcFitText", "vAlign", "hideMark"]


def _sort_children(el, order: list[str]) -> None:
    rank = {qn(f"w:{n}"): i for i, n in enumerate(order)}
    kids = list(el)
    kids.sort(key=lambda k: rank.get(k.tag, len(order)))
    for k in kids:
        el.remove(k)
        el.append(k)


def _document(extra_styles: dict | None = None):
    """An empty GB/T 9704 document (styles, page, page numbers) and its paragraph writer.
    ``extra_styles`` (id -> (name, font role, size, options), as STYLES) are added for this
    document only (the letter's 落款 styles)."""
    doc = Document()
    _styles(doc)
    styles = {**STYLES, **(extra_styles or {})}
    for sid, (name, role, size, o) in (extra_styles or {}).items():
        doc.styles.element.append(parse_xml(_style_xml(sid, name, role, size, o)))
    _settings(doc)
    _font_table(doc)
    _drop_extra_parts(doc)
    _section(doc)
    body = doc.element.body
    for p in list(body.findall(qn("w:p"))):
        body.remove(p)

    def para(text: str = "", style: str = "Normal"):
        p = doc.add_paragraph(style=doc.styles[styles[style][0]])
        if text:
            p.add_run(text)
        return p

    return doc, para


def _findings_annex(doc, para) -> None:
    """附件：自查提示 (both reports): what the department should check before submitting."""
    para("{%p if show_findings %}")
    label = para("附件", "AttachmentLabel")
    label.paragraph_format.page_break_before = True
    para("自查提示", "Title")
    para("{{ findings_sentence }}")
    para("{%p if findings %}")
    # The problem's Chinese name (labels.py) on its own line above the message.
    _table(doc, [10, 12, 26, 108], [
        ["序号", "级别", "单元格", "问题及说明"],
        ["{%tr for f in findings %}"],
        ["{{ f.no }}", "{{ f.severity }}", "{{ f.cell }}", ["{{ f.label }}", "{{ f.message }}"]],
        ["{%tr endfor %}"],
    ], styles=["TableCenter", "TableCenter", "TableText", "TableText"])
    para("{%p endif %}")
    para("{%p endif %}")


def _finish(doc, title: str, author: str = "selfeval-xl") -> Document:
    """Document properties, and the last section's properties moved to the very end of the body."""
    props = doc.core_properties
    props.title = title
    props.author = author
    props.comments = ""
    props.language = "zh-CN"
    # keep the last section's properties at the very end of the body
    body = doc.element.body
    sect = body.find(qn("w:sectPr"))
    body.remove(sect)
    body.append(sect)
    return doc


def build() -> Document:
    doc, para = _document()

    def narrative(key: str) -> None:
        para("{%p for para in narrative." + key + " %}")
        para("{{ para }}")
        para("{%p endfor %}")

    # Title block
    para("{{ project.name }}", "Title")
    para("{{ project.title_year }}绩效自评价报告", "Title")
    para("主管部门：{{ project.department }}", "Subtitle")

    para("一、项目基本情况", "Heading1")
    para("（一）项目概况", "Heading2")
    narrative("overview")
    para("（二）项目总目标", "Heading2")
    narrative("goal")
    para("（三）年度绩效目标", "Heading2")
    narrative("annual_goal")
    para("（四）项目实施情况", "Heading2")
    narrative("implementation")

    para("二、预算执行及资金使用", "Heading1")
    para("（一）预算执行情况", "Heading2")
    para("{{ budget.sentence }}")
    para("表1  市级预算执行情况（万元）", "Caption")
    _table(doc, [39, 39, 39, 39], [
        ["年初预算数", "当年使用上年结余、结转及当年调整预算数", "财政拨款数", "指标结余数"],
        ["{{ budget.initial }}", "{{ budget.adjustment }}", "{{ budget.allocated }}", "{{ budget.balance }}"],
    ], together=True)
    para("（二）资金使用情况", "Heading2")
    para("{{ funds.sentence }}")
    para("表2  市级财政资金使用情况（万元）", "Caption")
    _table(doc, [31.2] * 5, [
        ["财政拨款数", "实际支付数", "资金结余、结转数", "其中：结转数", "其中：财政收回数"],
        ["{{ funds.allocated }}", "{{ funds.paid }}", "{{ funds.balance }}", "{{ funds.carried }}", "{{ funds.recovered }}"],
    ], together=True)
    para("（三）项目资金构成", "Heading2")
    para("{{ composition.sentence }}")
    para("表3  项目资金构成（万元）", "Caption")
    _table(doc, [14, 110, 32], [
        ["序号", "子项目名称", "实际金额（万元）"],
        ["{%tr for item in composition.sub_items %}"],
        ["{{ item.no }}", "{{ item.name }}", "{{ item.amount }}"],
        ["{%tr endfor %}"],
        [("合计", 2), "{{ composition.total }}"],
    ], styles=["TableCenter", "TableText", "TableCenter"])

    para("三、绩效目标实现情况", "Heading1")
    para("{{ totals.sentence }}")
    para("（一）各类指标得分", "Heading2")
    para("表4  各类指标得分汇总", "Caption")
    # The department's report: its own scores. The bureau's re-scored totals are in the 复核意见书.
    _table(doc, [44, 26, 26, 30, 30], [
        ["类别", "分值", "指标个数", "权重合计", "自评分"],
        ["{%tr for cat in categories %}"],
        ["{{ cat.name }}", "{{ cat.points }}", "{{ cat.count }}", "{{ cat.weight_sum }}", "{{ cat.self }}"],
        ["{%tr endfor %}"],
        ["合计", "{{ totals.points }}", "{{ totals.count }}", "{{ totals.weight_sum }}", "{{ totals.self }}"],
    ], together=True)
    para("{%p if chart %}")
    para("{{ chart }}", "Figure")
    para("图1  各类指标分值与自评分", "Caption")
    para("{%p endif %}")
    para("（二）各项指标完成情况", "Heading2")
    para("{{ totals.table_note }}")
    para("表5  绩效指标完成情况", "Caption")
    _table(doc, [22, 54, 26, 14, 26, 14], [
        ["类别", "指标名称", "目标值", "权重", "实际完成值", "自评分"],
        ["{%tr for cat in categories %}"],
        ["{%tr for ind in cat.indicators %}"],
        ["{% vm %}{{ cat.label_cell }}", "{{ ind.name }}", "{{ ind.target }}", "{{ ind.weight }}", "{{ ind.actual }}",
         "{{ ind.self_score }}"],
        ["{%tr endfor %}"],
        [("{{ cat.name }}小计", 3), "{{ cat.weight_sum }}", "", "{{ cat.self }}"],
        ["{%tr endfor %}"],
        [("合计", 3), "{{ totals.weight_sum }}", "", "{{ totals.self }}"],
    ], styles=["TableCenter", "TableText", "TableCenter", "TableCenter", "TableCenter", "TableCenter"],
        # top: a class block spans pages, its label belongs at the block's start; and LibreOffice
        # centres the cells of rows inside a vertical merge inconsistently
        valign="top")

    para("四、偏差分析", "Heading1")
    para("{{ deviation.sentence }}")
    para("（一）未得满分的指标", "Heading2")
    para("{%p for d in deviation.below %}")
    para("{{ d.no }}. {{ d.text }}")
    para("{%p endfor %}")
    para("{%p if not deviation.below %}")
    para("无。")
    para("{%p endif %}")
    para("（二）超额完成的指标", "Heading2")
    para("{%p for d in deviation.over %}")
    para("{{ d.no }}. {{ d.text }}")
    para("{%p endfor %}")
    para("{%p if not deviation.over %}")
    para("无。")
    para("{%p endif %}")

    para("五、项目管理成效", "Heading1")
    narrative("effect")
    para("六、存在的问题及原因", "Heading1")
    narrative("problems")
    para("七、改进建议", "Heading1")
    narrative("suggestions")

    _findings_annex(doc, para)
    return _finish(doc, "{{ project.name }}{{ project.title_year }}绩效自评价报告")


def build_national() -> Document:
    """The report for the national form: 一、项目基本情况 二、绩效目标实现情况 (with 等级) 三、偏差及原因
    四、改进措施 and the findings annex; variables under ``national`` (report.build_context)."""
    doc, para = _document()

    def paragraphs(key: str) -> None:
        para("{%p for para in " + key + " %}")
        para("{{ para }}")
        para("{%p endfor %}")

    para("{{ project.name }}", "Title")
    para("{{ project.title_year }}项目支出绩效自评报告", "Title")
    para("主管部门：{{ project.department }}　实施单位：{{ national.implementer }}", "Subtitle")

    para("一、项目基本情况", "Heading1")
    para("{{ national.overview }}")
    para("（一）项目资金", "Heading2")
    para("{{ national.execution.sentence }}")
    para("表1  项目资金（{{ national.execution.unit }}）", "Caption")
    _table(doc, [30, 26, 26, 26, 14, 18, 14], [
        ["资金", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
        ["{%tr for row in national.execution.rows %}"],
        ["{{ row.label }}", "{{ row.initial }}", "{{ row.annual }}", "{{ row.executed }}", "{{ row.points }}",
         "{{ row.rate }}", "{{ row.score }}"],
        ["{%tr endfor %}"],
    ], styles=["TableText"] + ["TableCenter"] * 6)
    para("（二）年度总体目标", "Heading2")
    para("1. 预期目标")
    paragraphs("national.goal.expected")
    para("2. 实际完成情况")
    paragraphs("national.goal.actual")

    para("二、绩效目标实现情况", "Heading1")
    para("{{ national.totals.sentence }}")
    para("（一）各类指标得分", "Heading2")
    para("表2  各类指标得分汇总", "Caption")
    _table(doc, [44, 26, 26, 30, 30], [
        ["类别", "分值", "指标个数", "分值合计", "自评得分"],
        ["{%tr for cat in national.classes %}"],
        ["{{ cat.name }}", "{{ cat.points }}", "{{ cat.count }}", "{{ cat.weight_sum }}", "{{ cat.self }}"],
        ["{%tr endfor %}"],
        ["总分", "{{ national.totals.points }}", "{{ national.totals.count }}", "{{ national.totals.weight_sum }}",
         "{{ national.totals.self }}"],
    ], together=True)
    para("{%p if chart %}")
    para("{{ chart }}", "Figure")
    para("图1  各类指标分值与自评得分", "Caption")
    para("{%p endif %}")
    para("（二）各项指标完成情况", "Heading2")
    para("{{ national.table_note }}")
    para("表3  绩效指标完成情况", "Caption")
    _table(doc, [18, 20, 40, 24, 24, 14, 16], [
        ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分"],
        ["{%tr for cat in categories %}"],
        ["{%tr for ind in cat.indicators %}"],
        ["{% vm %}{{ cat.label_cell }}", "{{ ind.subcategory }}", "{{ ind.name }}", "{{ ind.target }}", "{{ ind.actual }}",
         "{{ ind.weight }}", "{{ ind.self_score }}"],
        ["{%tr endfor %}"],
        ["{%tr endfor %}"],
    ], styles=["TableCenter", "TableCenter", "TableText", "TableCenter", "TableCenter", "TableCenter", "TableCenter"],
        valign="top")

    para("三、偏差及原因", "Heading1")
    para("{{ national.deviation.sentence }}")
    para("{%p for d in national.deviation.entries %}")
    para("{{ d.no }}. {{ d.text }}")
    para("{%p endfor %}")
    para("四、改进措施", "Heading1")
    paragraphs("national.improvements")

    _findings_annex(doc, para)
    return _finish(doc, "{{ project.name }}{{ project.title_year }}项目支出绩效自评报告")


def save_template(make, path: Path, what: str) -> None:
    """``make()``'s document saved at ``path`` (its folder made), said on the console: every generator's last step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    make().save(path)
    print(f"已生成{what}：{path}")


def main(argv: list[str]) -> int:
    save_template(build, Path(argv[1]) if len(argv) > 1 else OUTPUT, "报告模板")
    save_template(build_national, Path(argv[2]) if len(argv) > 2 else NATIONAL_OUTPUT, "报告模板")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
