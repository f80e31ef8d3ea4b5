"""Rendering: ``render_report(review, target)`` fills the template with ``context.build_context``,
adds the chart, applies font overrides and Word's cell-property order, and writes atomically.
"""
from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import jinja2
from lxml import etree
from markupsafe import Markup

from ..errors import TemplateError, template_line
from ..fsutil import atomic_path
from ..model import Review
from .compiled import Compiled, FastTemplate, Unsupported
from .context import _CONTROL, build_context
from .template import DEFAULT_FONTS, FONT_STYLES, ReportTemplate, _template_error, default_template, load_template, sandbox_env

# --------------------------------------------------------------------------- rendering


def render_report(review: Review, target: Path | str, template: Path | str | None = None, findings: bool = True,
                  fonts: dict[str, str] | None = None, fast: bool = True) -> Path:
    """Write the 自评价报告 for ``review`` to ``target`` (atomically) and return ``target``.

    ``template``: another docxtpl template (default: the bundled one). ``findings=False``
    leaves out the 附件 with the review findings. ``fonts``: font faces by role (keys of
    DEFAULT_FONTS), applied to the styles of the rendered document. ``fast=False``: docxtpl's
    own render and save (the reference the fast path is tested against; see ``render_docx``).
    """
    from docx.shared import Mm
    from docxtpl import InlineImage

    loaded = load_template(template if template is not None else default_template(review.evaluation.form))

    def chart(tpl, context):  # ≤ 60 mm tall: a page before it stays ≥ 70 % full
        png = context.pop("chart_png", None)
        context["chart"] = InlineImage(tpl, io.BytesIO(png), width=Mm(120)) if png else None

    tpl = render_docx(loaded, build_context(review, findings=findings), fonts=fonts, images=chart, fast=fast)
    target = Path(target)
    with atomic_path(target) as tmp:
        tpl.save(tmp)
    return target


def render_docx(loaded: ReportTemplate, context: dict, fonts: dict[str, str] | None = None, images=None,
                fast: bool = True):
    """``loaded`` filled with ``context`` — the one render path of the 自评价报告 and the 复核汇总报告.

    ``images(tpl, context)`` puts pictures that need the DocxTemplate into the context. A template
    problem raises TemplateError naming the part, the line and its text; the rendered document
    gets its core properties unescaped, Word's cell-property order and the font overrides.
    Returns an object with ``save(path or binary file)``.

    By default the template is rendered on the fast path (``compiled``: the Jinja body compiled
    once per template, the zip written directly; the same document.xml as docxtpl). A template
    the fast path cannot handle — known when it is loaded (``loaded.slow_reason``), or found
    during a render (``Unsupported``: e.g. a picture in a header) — is rendered by docxtpl, as
    is every template with ``fast=False``."""
    overrides = check_fonts(fonts)
    compiled = loaded.compiled if fast else None
    if compiled is None:
        tpl = _docxtpl(loaded)
        if images is not None:
            images(tpl, context)
        return _render_docxtpl(loaded, tpl, context, overrides)
    stand_in = FastTemplate(compiled, lambda: _docxtpl(loaded))
    if images is not None:
        images(stand_in, context)
    if stand_in.real() is None:  # the callback used nothing but InlineImage
        try:
            return _render_fast(loaded, compiled, stand_in, context, overrides)
        except Unsupported:
            pass  # start over on docxtpl's path; the pictures made for stand_in now go to it
    return _render_docxtpl(loaded, stand_in.go_real(), context, overrides)


def _docxtpl(loaded: ReportTemplate):
    tpl = template_class()(io.BytesIO(loaded.data))
    tpl.init_docx()
    return tpl


def _render_docxtpl(loaded: ReportTemplate, tpl, context: dict, overrides: dict[str, str]):
    try:
        tpl.render(context, jinja_env=sandbox_env(), autoescape=True)
    except etree.XMLSyntaxError as exc:
        raise _not_word(loaded, exc) from None
    except Exception as exc:
        part = getattr(tpl, "current_rendering_part", None)
        partname = str(part.partname) if getattr(part, "partname", None) is not None else None
        raise _render_error(exc, loaded, partname) from None
    doc = tpl.docx
    unescape_properties(doc)
    _fix_cell_properties(doc.element.body)
    _apply_fonts(doc.styles.element, overrides)
    return tpl


def _not_word(loaded: ReportTemplate, exc: Exception | None = None) -> TemplateError:
    why = exc if exc is not None else "渲染结果不是合法的 XML"
    return TemplateError(f"报告模板“{loaded.name}”渲染后不是有效的 Word 文档（{why}），"
                         "请检查模板中的标签是否被拆开或放错了位置")


def _render_error(exc: Exception, loaded: ReportTemplate, partname: str | None) -> Exception:
    """The TemplateError for an exception raised while a part rendered (or ``exc`` itself: a bug of ours)."""
    if isinstance(exc, etree.XMLSyntaxError):
        return _not_word(loaded, exc)
    lineno = template_line(exc)
    if not isinstance(exc, jinja2.TemplateError) and lineno is None:
        return exc  # not raised by template code: a bug of ours, let it surface
    return _template_error(exc, loaded.name, partname, loaded.sources.get(partname or ""), lineno)


class RenderedDocx:
    """A .docx rendered on the fast path: its bytes, saved like a DocxTemplate."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, target) -> None:
        if hasattr(target, "write"):
            target.write(self.data)
        else:
            Path(target).write_bytes(self.data)


def _render_fast(loaded: ReportTemplate, compiled: Compiled, stand_in: FastTemplate, context: dict,
                 overrides: dict[str, str]) -> RenderedDocx:
    """docxtpl's ``render`` (body, headers/footers, core properties) and our post-processing,
    each step as docxtpl does it, without python-docx's package (see ``compiled``)."""
    from docx.opc.oxml import serialize_part_xml
    from docx.oxml import parse_xml
    from docxtpl import DocxTemplate

    env = sandbox_env()

    def part(partname: str, rendering: str) -> str:
        stand_in.rendering = rendering
        try:
            xml = env.from_string(loaded.sources[partname]).render(context)
        except Unsupported:
            raise
        except Exception as exc:
            raise _render_error(exc, loaded, partname) from None
        finally:
            stand_in.rendering = None
        # the rest of DocxTemplate.render_xml_part (its re.sub(r"\n<w:p([ >])", r"<w:p\1") as two replaces)
        xml = xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
        xml = xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
        return resolve_listing(xml)

    body_xml = part(compiled.body_partname, "body")
    try:
        body = fix_tables(body_xml)
    except etree.XMLSyntaxError as exc:
        raise _not_word(loaded, exc) from None
    if body is None:
        raise _not_word(loaded)
    for n, docpr in enumerate(_DOCPR(body), start=1001):  # DocxTemplate.fix_docpr_ids
        docpr.attrib["id"] = str(n)
    _fix_cell_properties(body)
    replaced = {compiled.body_name: compiled.document_xml(body)}
    for name, partname in compiled.templated.items():  # headers and footers holding tags
        try:
            replaced[name] = serialize_part_xml(parse_xml(part(partname, partname).encode("utf-8")))
        except etree.XMLSyntaxError as exc:
            raise _not_word(loaded, exc) from None

    def prop(name: str, text: str) -> str:
        value = _property_value(env, text, context)
        return Markup(value).unescape() if value and "&" in value else value  # unescape_properties

    replaced[compiled.core_name] = compiled.core_xml(prop)
    styles = compiled.styles(overrides, _apply_fonts)
    if styles is not None:
        replaced[styles[0]] = styles[1]
    return RenderedDocx(compiled.package(replaced, stand_in.pictures.images))


_NS = {"wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
       "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
_LISTING_CHARS = re.compile("[\t\a\n\f]")
_DOCPR = etree.XPath("//wp:docPr", namespaces=_NS)
_TCPR_TO_FIX = etree.XPath(".//w:tcPr[w:vMerge or w:shd]", namespaces=_NS)


_P_OPEN = re.compile(r"<w:p(?: [^>]*)?>")
_W = _NS["w"]
# a row with more cells than the grid has columns; a row whose cells span at least the grid;
# a cell whose span docxtpl and this count could read differently (two tcPr, two gridSpan)
_ROW_WIDER = etree.XPath(".//w:tr[count(w:tc) > $n]", namespaces=_NS)
_ROW_FULL = etree.XPath(".//w:tr[count(w:tc[not(w:tcPr[1]/w:gridSpan)]) + sum(w:tc/w:tcPr[1]/w:gridSpan[1]/@w:val) >= $n]",
                        namespaces=_NS)
_ODD_CELL = etree.XPath(".//w:tc[count(w:tcPr) > 1 or w:tcPr[count(w:gridSpan) > 1]]", namespaces=_NS)


def fix_tables(xml: str):
    """docxtpl's ``fix_tables`` (parse with recover=True; fit each table's w:tblGrid to its
    widest row), with the row-by-row Python check done by XPath: a grid needs fixing only if a
    row has more cells than it has columns, or no row spans all its columns. Only then (never
    for the bundled templates) docxtpl's own function re-does the work, so the tree is the same."""
    from docxtpl import DocxTemplate

    tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
    if tree is None or tree.nsmap.get("w") != _W:
        return DocxTemplate.fix_tables(None, xml)  # its own behaviour (or error) for the odd document
    for tbl in tree.iter(f"{{{_W}}}tbl"):
        grid = tbl.find(f"{{{_W}}}tblGrid")
        if grid is None:
            return DocxTemplate.fix_tables(None, xml)
        n = len(grid.findall(f"{{{_W}}}gridCol"))
        if _ROW_WIDER(tbl, n=n) or (n and not _ROW_FULL(tbl, n=n)) or _ODD_CELL(tbl):
            return DocxTemplate.fix_tables(None, xml)
    return tree




def resolve_listing(xml: str) -> str:
    """docxtpl's ``resolve_listing`` (a tab, bell, newline or form feed in a w:t becomes a w:tab,
    a new paragraph, a w:br, a page break), run only over the paragraphs that hold one: the same
    result, without its three nested regex callbacks for each of the ~20,000 paragraphs.

    docxtpl rewrites each span ``<w:p ...>`` … first ``</w:p>`` that its regex finds scanning
    left to right. The span holding position i, if any, is the one starting at the first
    ``<w:p`` opening after the last ``</w:p>`` before i (any span starting earlier ends at or
    before that ``</w:p>``), so it is found from i alone; the other spans are left unchanged by
    docxtpl (nothing to replace in them)."""
    from docxtpl import DocxTemplate

    out, pos = [], 0
    for m in _LISTING_CHARS.finditer(xml):
        i = m.start()
        if i < pos:
            continue  # in the span just resolved
        e = xml.rfind("</w:p>", pos, i)
        opening = _P_OPEN.search(xml, e + 6 if e >= 0 else pos)
        if opening is None or opening.start() > i:
            continue  # not inside a paragraph: docxtpl leaves it
        close = xml.find("</w:p>", opening.end())
        if close < 0:
            break  # no paragraph ends after it: nor anything later
        end = close + 6
        out.append(xml[pos:opening.start()])
        out.append(DocxTemplate.resolve_listing(None, xml[opening.start():end]))  # that one paragraph
        pos = end
    if not out:
        return xml
    out.append(xml[pos:])
    return "".join(out)


def _property_value(env, text: str, context: dict) -> str:
    """A core property rendered as docxtpl does, clipped to the 255 characters a core property
    holds (python-docx raises past that): a project name of 10,000 characters must not fail the
    document (fuzz mutant 83, seed 2). Never cut inside an escaped entity (``&amp;``)."""
    value = env.from_string(text).render(context)
    if len(value) > CORE_PROPERTY_MAX:
        value = value[:CORE_PROPERTY_MAX]
        amp = value.rfind("&")
        if amp > CORE_PROPERTY_MAX - 10 and ";" not in value[amp:]:
            value = value[:amp]
    return value


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
            """As docxtpl, but each value clipped (``_property_value``)."""
            from jinja2 import Environment

            env = jinja_env if jinja_env is not None else Environment()
            props = self.docx.core_properties
            for name in ("author", "comments", "identifier", "language", "subject", "title"):
                setattr(props, name, _property_value(env, getattr(props, name), context))

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


def _fix_cell_properties(body) -> None:
    """docxtpl's {% vm %} and {% cellbg %} insert w:vMerge / w:shd out of schema order, which
    Word may refuse ("unreadable content"); put every cell's properties back in order."""
    from docx.oxml.ns import qn

    rank = {qn(f"w:{n}"): i for i, n in enumerate(_TCPR_ORDER)}
    for tcPr in _TCPR_TO_FIX(body):
        kids = list(tcPr)
        ordered = sorted(kids, key=lambda k: rank.get(k.tag, len(rank)))
        if ordered != kids:
            for k in kids:
                tcPr.remove(k)
            tcPr.extend(ordered)


def _apply_fonts(styles_root, overrides: dict[str, str]) -> None:
    """Set the East Asian (and, for ``latin``/``page_number``, the Latin) font on the styles
    (``styles_root``: styles.xml's w:styles)."""
    if not overrides:
        return
    from docx.oxml.ns import qn

    styles = {s.get(qn("w:styleId")): s for s in styles_root.findall(qn("w:style"))}

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
            defaults = styles_root.find(qn("w:docDefaults"))
            rpr_default = defaults.find(qn("w:rPrDefault")) if defaults is not None else None
            if rpr_default is not None:
                rfonts(rpr_default).set(qn("w:eastAsia"), face)


