"""Rendering: ``render_report(review, target)`` fills the template with ``context.build_context``,
adds the chart, applies font overrides and Word's cell-property order, and writes atomically.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import jinja2
from lxml import etree

from ..errors import TemplateError, template_line
from ..fsutil import atomic_path
from ..model import Review
from .context import _CONTROL, build_context
from .template import DEFAULT_FONTS, FONT_STYLES, ReportTemplate, _template_error, default_template, load_template, sandbox_env

# --------------------------------------------------------------------------- rendering


def render_report(review: Review, target: Path | str, template: Path | str | None = None, findings: bool = True,
                  fonts: dict[str, str] | None = None) -> Path:
    """Write the 自评价报告 for ``review`` to ``target`` (atomically) and return ``target``.

    ``template``: another docxtpl template (default: the bundled one). ``findings=False``
    leaves out the 附件 with the review findings. ``fonts``: font faces by role (keys of
    DEFAULT_FONTS), applied to the styles of the rendered document.
    """
    from docx.shared import Mm
    from docxtpl import InlineImage

    loaded = load_template(template if template is not None else default_template(review.evaluation.form))

    def chart(tpl, context):  # ≤ 60 mm tall: a page before it stays ≥ 70 % full
        png = context.pop("chart_png", None)
        context["chart"] = InlineImage(tpl, io.BytesIO(png), width=Mm(120)) if png else None

    tpl = render_docx(loaded, build_context(review, findings=findings), fonts=fonts, images=chart)
    target = Path(target)
    with atomic_path(target) as tmp:
        tpl.save(tmp)
    return target


def render_docx(loaded: ReportTemplate, context: dict, fonts: dict[str, str] | None = None, images=None):
    """``loaded`` filled with ``context`` — the one render path of the 自评价报告 and the 复核汇总报告.

    ``images(tpl, context)`` puts pictures that need the DocxTemplate into the context. A template
    problem raises TemplateError naming the part, the line and its text; the rendered document
    gets its core properties unescaped, Word's cell-property order and the font overrides.
    Returns the DocxTemplate, for the caller to save."""
    overrides = check_fonts(fonts)
    tpl = template_class()(io.BytesIO(loaded.data))
    tpl.init_docx()
    if images is not None:
        images(tpl, context)
    try:
        tpl.render(context, jinja_env=sandbox_env(), autoescape=True)
    except etree.XMLSyntaxError as exc:
        raise TemplateError(f"报告模板“{loaded.name}”渲染后不是有效的 Word 文档（{exc}），"
                            "请检查模板中的标签是否被拆开或放错了位置") from None
    except Exception as exc:
        lineno = template_line(exc)
        if not isinstance(exc, jinja2.TemplateError) and lineno is None:
            raise  # not raised by template code: a bug of ours, let it surface
        part = getattr(tpl, "current_rendering_part", None)
        partname = str(part.partname) if getattr(part, "partname", None) is not None else None
        raise _template_error(exc, loaded.name, partname, loaded.sources.get(partname or ""), lineno) from None
    doc = tpl.docx
    unescape_properties(doc)
    _fix_cell_properties(doc)
    _apply_fonts(doc, overrides)
    return tpl


@lru_cache(maxsize=1)
def template_class():
    """DocxTemplate that pre-processes each part's XML once per process: ``patch_xml`` (docxtpl's
    regex clean-up of the tags Word splits) is a pure function of the part's source, which is
    the same for every report rendered from one template, so its result is kept (by source
    text, a few entries). The rendered document is the same."""
    from docxtpl import DocxTemplate

    cache: OrderedDict[str, str] = OrderedDict()
    lock = threading.Lock()

    class _Template(DocxTemplate):
        def patch_xml(self, src_xml):
            with lock:
                hit = cache.get(src_xml)
            if hit is None:
                hit = super().patch_xml(src_xml)
                with lock:
                    cache[src_xml] = hit
                    while len(cache) > 16:
                        cache.popitem(last=False)
            return hit

        def render_properties(self, context, jinja_env=None):
            """As docxtpl, but each value is clipped to the 255 characters a core property holds
            (python-docx raises past that): a project name of 10,000 characters must not fail the
            document (fuzz mutant 83, seed 2). Never cut inside an escaped entity (``&amp;``)."""
            from jinja2 import Environment

            env = jinja_env if jinja_env is not None else Environment()
            props = self.docx.core_properties
            for name in ("author", "comments", "identifier", "language", "subject", "title"):
                value = env.from_string(getattr(props, name)).render(context)
                if len(value) > CORE_PROPERTY_MAX:
                    value = value[:CORE_PROPERTY_MAX]
                    amp = value.rfind("&")
                    if amp > CORE_PROPERTY_MAX - 10 and ";" not in value[amp:]:
                        value = value[:amp]
                setattr(props, name, value)

    return _Template


CORE_PROPERTY_MAX = 255  # characters python-docx allows in a core property (title, author …)


def unescape_properties(doc) -> None:
    """docxtpl renders the core properties (title, ...) with the autoescaping environment, but
    they are plain text, escaped again when saved: undo the first escaping."""
    from markupsafe import Markup

    props = doc.core_properties
    for name in ("author", "comments", "identifier", "language", "subject", "title"):
        value = getattr(props, name)
        if value and "&" in value:
            setattr(props, name, Markup(value).unescape())


def check_fonts(fonts: dict[str, str] | None) -> dict[str, str]:
    if not fonts:
        return {}
    unknown = sorted(set(fonts) - set(DEFAULT_FONTS))
    if unknown:
        raise ValueError(f"未知的字体设置：{'、'.join(unknown)}（可用：{'、'.join(DEFAULT_FONTS)}）")
    out = {}
    for role, face in fonts.items():
        if not isinstance(face, str) or not face.strip() or _CONTROL.search(face):
            raise ValueError(f"字体设置“{role}”的字体名无效：{face!r}")
        out[role] = face.strip()
    return out


_TCPR_ORDER = ["cnfStyle", "tcW", "gridSpan", "hMerge", "vMerge", "tcBorders", "shd", "noWrap", "tcMar", "textDirection",
               "tcFitText", "vAlign", "hideMark", "headers", "cellIns", "cellDel", "cellMerge", "tcPrChange"]


def _fix_cell_properties(doc) -> None:
    """docxtpl's {% vm %} and {% cellbg %} insert w:vMerge / w:shd out of schema order, which
    Word may refuse ("unreadable content"); put every cell's properties back in order."""
    from docx.oxml.ns import qn

    rank = {qn(f"w:{n}"): i for i, n in enumerate(_TCPR_ORDER)}
    for tcPr in doc.element.body.xpath(".//w:tcPr[w:vMerge or w:shd]"):
        kids = list(tcPr)
        ordered = sorted(kids, key=lambda k: rank.get(k.tag, len(rank)))
        if ordered != kids:
            for k in kids:
                tcPr.remove(k)
            tcPr.extend(ordered)


def _apply_fonts(doc, overrides: dict[str, str]) -> None:
    """Set the East Asian (and, for ``latin``/``page_number``, the Latin) font on the styles."""
    if not overrides:
        return
    from docx.oxml.ns import qn

    styles = {s.get(qn("w:styleId")): s for s in doc.styles.element.findall(qn("w:style"))}

    def rfonts(rpr_parent, create: bool = True):
        rpr = rpr_parent.find(qn("w:rPr"))
        if rpr is None:
            if not create:
                return None
            rpr = etree.SubElement(rpr_parent, qn("w:rPr"))
        rf = rpr.find(qn("w:rFonts"))
        if rf is None:
            rf = etree.Element(qn("w:rFonts"))
            rpr.insert(0, rf)
        for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
            rf.attrib.pop(qn(f"w:{attr}"), None)
        return rf

    for role, face in overrides.items():
        if role == "latin":
            for sid, st in styles.items():
                if st.get(qn("w:type")) == "paragraph" and sid not in FONT_STYLES["page_number"]:
                    rf = rfonts(st)
                    for slot in ("ascii", "hAnsi", "cs"):
                        rf.set(qn(f"w:{slot}"), face)
            continue
        for sid in FONT_STYLES[role]:
            st = styles.get(sid)
            if st is None:
                continue
            rf = rfonts(st)
            rf.set(qn("w:eastAsia"), face)
            if role == "page_number":
                for slot in ("ascii", "hAnsi", "cs"):
                    rf.set(qn(f"w:{slot}"), face)
        if role == "body":
            defaults = doc.styles.element.find(qn("w:docDefaults"))
            rpr_default = defaults.find(qn("w:rPrDefault")) if defaults is not None else None
            if rpr_default is not None:
                rfonts(rpr_default).set(qn("w:eastAsia"), face)


