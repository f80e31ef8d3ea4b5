"""Which template, and loading it: the bundled templates per form, the sandboxed Jinja2
environment (autoescape, StrictUndefined), a loaded template kept per (path, size, mtime), and
template errors in Chinese with the line and its text.
"""
from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2

from ..errors import TemplateError
from ..sandbox import SafeSandbox

TEMPLATE_NAME = "自评报告.docx"
# The report of the national form (财预〔2020〕10号): its own sections, so the Suzhou-only ones
# (市级预算执行情况, 项目资金构成, 项目管理成效 ...) are not printed empty.
NATIONAL_TEMPLATE_NAME = "项目支出绩效自评报告.docx"

# Font roles -> default face. GB/T 9704: body 仿宋_GB2312, title 方正小标宋简体, 一、 黑体,
# （一） 楷体_GB2312, page numbers 宋体; tables 宋体. Windows without the GB2312 faces has
# 仿宋 / 楷体: pass fonts={"body": "仿宋", "heading2": "楷体"}.
DEFAULT_FONTS: dict[str, str] = {
    "body": "仿宋_GB2312",
    "title": "方正小标宋简体",
    "heading1": "黑体",
    "heading2": "楷体_GB2312",
    "table": "宋体",
    "page_number": "宋体",
    "latin": "Times New Roman",
}
# role -> style ids of the bundled template that carry that role's East Asian font
FONT_STYLES: dict[str, tuple[str, ...]] = {
    "body": ("Normal", "Figure"),
    "title": ("Title",),
    "heading1": ("Heading1", "Caption", "TableHead", "AttachmentLabel"),
    "heading2": ("Heading2", "Subtitle"),
    "table": ("TableText", "TableCenter"),
    "page_number": ("Footer",),
}
_PART_NAMES = {"document": "正文", "footer": "页脚", "header": "页眉", "footnotes": "脚注"}


# --------------------------------------------------------------------------- names, paths


def default_template(form: str = "suzhou") -> Path:
    """The bundled template for a form (``SelfEvaluation.form``)."""
    from ..resources import template_file

    return template_file(NATIONAL_TEMPLATE_NAME if form == "national" else TEMPLATE_NAME)


# --------------------------------------------------------------------------- template loading


class _Env(SafeSandbox):
    """Sandboxed, autoescaping, strict; compiled templates are kept per source text, so a
    worker that renders many reports from one template compiles it once."""

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
        self._compiled: OrderedDict[str, jinja2.Template] = OrderedDict()
        self._lock = threading.Lock()

    def from_string(self, source, globals=None, template_class=None):  # noqa: A002 (jinja's signature)
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        with self._lock:
            t = self._compiled.get(source)
            if t is not None:
                self._compiled.move_to_end(source)
                return t
        t = super().from_string(source)
        with self._lock:
            self._compiled[source] = t
            while len(self._compiled) > 64:
                self._compiled.popitem(last=False)
        return t


_ENV: _Env | None = None


def sandbox_env() -> _Env:
    global _ENV
    if _ENV is None:
        _ENV = _Env()
    _ENV.autoescape = True  # docxtpl sets it again on render; never let it be switched off
    return _ENV


@dataclass(frozen=True)
class ReportTemplate:
    """A loaded and syntax-checked template: the file's bytes and each part's Jinja source.

    ``compiled``: the template prepared for the fast render path (``compiled.Compiled``), or
    None when only docxtpl can render it (``slow_reason`` says why)."""

    path: Path
    data: bytes
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    compiled: object = field(default=None, compare=False, repr=False)
    slow_reason: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        return self.path.name


def load_template(path: Path | str | None = None) -> ReportTemplate:
    """Load, check and cache a template (the bundled one when ``path`` is None).

    Cached per process and per file version (path, size, mtime): a worker rendering many
    reports reads and compiles the template once. Raises TemplateError for a missing,
    unreadable or syntactically broken template.
    """
    p = Path(path) if path is not None else default_template()
    try:
        st = p.stat()
    except OSError:
        raise TemplateError(f"报告模板“{p}”不存在或无法读取") from None
    if not p.is_file():
        raise TemplateError(f"报告模板“{p}”不是文件")
    return _load(str(p.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: str, size: int, mtime_ns: int) -> ReportTemplate:
    from docxtpl import DocxTemplate

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise TemplateError(f"报告模板“{p.name}”无法读取：{exc}") from None
    tpl = DocxTemplate(io.BytesIO(data))
    try:
        tpl.init_docx()
    except Exception as exc:  # python-docx: not a zip, not a Word document, broken XML, ...
        raise TemplateError(f"报告模板“{p.name}”无法打开，不是有效的 Word（.docx）文件：{type(exc).__name__}: {exc}") from None
    sources = _part_sources(tpl)
    env = sandbox_env()
    for partname, src in sources.items():
        try:
            env.from_string(src)
        except jinja2.TemplateSyntaxError as exc:
            raise _template_error(exc, p.name, partname, src) from None
    from .compiled import Compiled

    try:
        compiled, why = Compiled.prepare(data, tpl)
    except Exception as exc:  # anything unexpected in the package: docxtpl renders it as before
        compiled, why = None, f"{type(exc).__name__}: {exc}"
    return ReportTemplate(p, data, sources, compiled, why)


def _part_sources(tpl) -> dict[str, str]:
    """The Jinja source docxtpl compiles for each part (body, headers, footers), keyed by part name."""
    out = {}
    body = tpl.patch_xml(tpl.get_xml())
    out[str(tpl.docx._part.partname)] = _with_lines(body)
    for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
        for _rel, part in tpl.get_headers_footers(uri):
            out[str(part.partname)] = _with_lines(tpl.patch_xml(tpl.get_part_xml(part)))
    return out


def _with_lines(xml: str) -> str:
    # exactly what DocxTemplate.render_xml_part does before compiling: one paragraph a line
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)


def _line_text(source: str | None, lineno: int | None) -> str:
    if not source or not lineno:
        return ""
    lines = source.splitlines()
    if not 0 < lineno <= len(lines):
        return ""
    text = re.sub(r"<[^>]+>", "", lines[lineno - 1])
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= 160 else text[:157] + "…"


def _where(partname: str | None) -> str:
    if not partname:
        return ""
    stem = Path(partname).stem.rstrip("0123456789")
    return _PART_NAMES.get(stem, stem)


def _template_error(exc: Exception, name: str, partname: str | None, source: str | None, lineno: int | None = None) -> TemplateError:
    lineno = getattr(exc, "lineno", None) or lineno
    text = _line_text(source, lineno)
    where = _where(partname)
    loc = f"{where}第{lineno}行" if lineno else where or "某处"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        kind = "语法错误"
    elif isinstance(exc, jinja2.exceptions.SecurityError):
        kind = "使用了被禁止的写法（安全限制：模板不能访问对象内部属性或调用不安全的方法）"
    elif isinstance(exc, jinja2.UndefinedError):
        kind = "引用了不存在的变量或属性"
    else:
        kind = "渲染失败"
    detail = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).strip().rstrip(".")
    msg = f"报告模板“{name}”{loc}{kind}：{detail}"
    if text:
        msg += f"。出错处内容：“{text}”"
    err = TemplateError(msg)
    err.template, err.part, err.lineno, err.text = name, partname, lineno, text  # type: ignore[attr-defined]
    return err


