"""A Word 自评价报告 (.docx; .doc/.wps via LibreOffice) as the Grids the layouts read.

Departments submit the report as a Word document: the 自评表 is a table in it, the narrative
sections are paragraphs. Every table becomes a ``Grid`` named ``表1``, ``表2`` … (top-level
tables in body order; a table nested in a cell of 表1 is ``表1.1``), with merged ranges from
``w:gridSpan``/``w:vMerge``/``w:hMerge`` and the paragraphs of a cell joined with newlines, so the
layouts find the form exactly as on a sheet and name its cells ``表1!F12``. The body paragraphs
(outside tables) become one more Grid, ``正文``. Tables separated only by empty paragraphs (a form
typed over two pages, split by a blank line or page break) are one table, rows numbered on. The
narrative Grid: row n holds the n-th section, its heading in
column A (numbering such as 一、 stripped) and its text in column B - the shape of a workbook's
narrative sheet, so each layout's own narrative reader finds the sections it knows, unchanged.

``parse`` is the one traversal of the document: the reader takes its Grids, and
``docx_review`` takes the elements behind each cell to anchor comments, so a finding's
``表1!G30`` always lands on the cell it was read from.

The package has passed ``safety.sniff`` (zip limits, no DTD anywhere) before lxml parses it,
and lxml runs without DTDs, entities or network. Table sizes are checked against the same
``Limits`` as sheets.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ReadError
from .grids import Grid, ref
from .safety import DEFAULT_LIMITS, Limits

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
DOCUMENT_PART = "word/document.xml"
STYLES_PART = "word/styles.xml"
NARRATIVE_SHEET = "正文"
TABLE_PREFIX = "表"
MAX_NESTING = 8  # tables inside tables inside ...: deeper is a hostile file, not a form


def w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


# Wrappers whose children are content of the same level (content controls, custom XML, tracked
# insertions/moves): looked through when walking blocks, rows and cells.
_WRAPPERS = {w("sdt"), w("sdtContent"), w("customXml"), w("ins"), w("moveTo"), w("smartTag")}
# Subtrees whose text is not part of the paragraph as printed in the flow: deleted or moved-away
# text, text boxes and drawings (floating; their Fallback copies would double it).
_SKIP_TEXT = {w("del"), w("moveFrom"), w("txbxContent"), w("drawing"), w("pict"), w("object"),
              f"{{{MC_NS}}}AlternateContent", w("footnoteReference"), w("endnoteReference"), w("instrText")}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class TableGrid(Grid):
    """A table's Grid, with the title printed above it (the layouts read the title from the
    sheet; in a document it is a paragraph before the table - see reader)."""

    caption: str = ""


@dataclass
class Table:
    """One table: its Grid and, for every cell position, the ``w:tc`` it was read from."""

    name: str
    element: object
    grid: Grid
    tcs: dict[tuple[int, int], object] = field(default_factory=dict)  # (row, col) of every covered position -> w:tc


@dataclass
class Section:
    """One narrative section of the body: heading paragraph and its text paragraphs."""

    heading: str  # as the layouts match it: numbering and a trailing colon stripped
    heading_p: object
    paragraphs: list = field(default_factory=list)  # w:p elements of the text
    inline: str = ""  # text on the heading line after a colon (项目概况：……)

    @property
    def text(self) -> str:
        parts = [self.inline] if self.inline else []
        parts += [t for t in (paragraph_text(p).strip() for p in self.paragraphs) if t]
        return "\n".join(parts)


@dataclass
class Document:
    """What ``parse`` found: tables (document order, nested after their parent) and sections."""

    tables: list[Table]
    sections: list[Section]
    paragraphs: list  # every body-level w:p (outside tables), in order

    def grids(self) -> list[Grid]:
        out = [t.grid for t in self.tables]
        out.append(narrative_grid(self.sections))
        return out


# --------------------------------------------------------------------------- entry points


def load_grids(path: Path, kind: str, limits: Limits = DEFAULT_LIMITS) -> list[Grid]:
    """All tables and the 正文 of a Word file that passed ``safety.sniff`` (kind docx or doc)."""
    path = Path(path)
    if kind == "doc":
        with tempfile.TemporaryDirectory(prefix="selfeval-doc-") as tmp:
            docx = convert_to_docx(path, Path(tmp), limits)
            return parse_file(docx, limits, path.name).grids()
    return parse_file(path, limits).grids()


def parse_file(path: Path, limits: Limits = DEFAULT_LIMITS, file: str = "") -> "Document":
    """Parse a .docx (already sniffed) into a Document; ReadError for a damaged package.
    ``file`` is the name to show in messages (the submitted .doc for a converted copy)."""
    name = file or Path(path).name
    try:
        with zipfile.ZipFile(path) as zf:
            data = zf.read(DOCUMENT_PART)
            styles = zf.read(STYLES_PART) if STYLES_PART in zf.namelist() else None
    except KeyError:
        raise ReadError("CORRUPT", "Word 文档中没有正文部分（word/document.xml）", name) from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise ReadError("CORRUPT", f"压缩结构损坏（{exc}），文件可能不完整，请重新获取原文件", name) from None
    return parse(parse_xml(data, DOCUMENT_PART, name), limits, name, _heading_styles(styles, name))


def convert_to_docx(path: Path, tmp: Path, limits: Limits = DEFAULT_LIMITS, removed: list[str] | None = None) -> Path:
    """LibreOffice's .docx of a .doc/.wps (a copy is converted: soffice leaves lock files beside
    what it opens). Fields that would load something from outside (a linked picture fetched from
    a URL, an included file) lose their target first (ole_links), listed in ``removed``. The
    result is sniffed like any submitted file."""
    from . import office
    from .safety import sniff

    name = Path(path).name
    if office.find_soffice() is None:
        raise ReadError("CONVERSION_FAILED", "读取 .doc/.wps 需要 LibreOffice，本机未安装；请安装 LibreOffice，或在 Word/WPS 中另存为 .docx 后再处理", name)
    src_dir = tmp / "in"
    src_dir.mkdir(parents=True, exist_ok=True)
    copy = src_dir / f"document{Path(path).suffix.lower() or '.doc'}"
    shutil.copyfile(path, copy)
    from .ole_links import strip_doc

    try:
        targets = strip_doc(copy)
    except Exception:  # noqa: BLE001 - a compound file olefile cannot edit is converted as it is
        targets = []
    if removed is not None:
        removed.extend(targets)
    try:
        out = office.convert([copy], "docx:MS Word 2007 XML", tmp / "out", timeout=limits.timeout_s).get(copy)
    except OSError as exc:
        raise ReadError("CONVERSION_FAILED", f"LibreOffice 转换失败（{exc}）", name) from None
    if out is None:
        raise ReadError("CONVERSION_FAILED", "LibreOffice 无法打开该文件（可能已损坏，或不是 Word/WPS 文档），请在 Word/WPS 中另存为 .docx 后再处理", name)
    try:
        if sniff(out, limits) != "docx":
            raise ReadError("CONVERSION_FAILED", "LibreOffice 转换结果不是 Word 文档", name)
    except ReadError as err:
        err.file = name
        err.args = (err.message,)
        raise
    return out


def parse_xml(data: bytes, part: str, file: str):
    """One package part, parsed without DTD, entities or network."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_blank_text=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ReadError("CORRUPT", f"{part} 不是有效的 XML（{str(exc)[:200]}），文件可能已损坏，请在 Word/WPS 中打开并另存后再处理", file) from None
    if root.getroottree().docinfo.doctype:
        raise ReadError("UNSAFE_CONTENT", f"{part} 含有文档类型声明（DOCTYPE），为安全起见拒绝处理", file)
    return root


def parse(root, limits: Limits, file: str, heading_styles: set[str] = frozenset()) -> Document:
    """The Document of a parsed ``word/document.xml`` root."""
    if root.tag != w("document"):
        raise ReadError("NOT_A_WORKBOOK", "压缩包中的 word/document.xml 不是 Word 文档的正文，文件不是电子表格也不是 Word 文档", file)
    body = root.find(w("body"))
    if body is None:
        raise ReadError("CORRUPT", "Word 文档的正文（w:body）缺失", file)
    tables: list[Table] = []
    paragraphs: list = []
    groups: list[tuple[list, list]] = []  # (tables, paragraphs before them)
    joinable = False  # nothing but empty paragraphs since the last table
    for el in blocks(body):
        if el.tag == w("p"):
            paragraphs.append(el)
            joinable = joinable and not paragraph_text(el).strip()
        else:
            if joinable:
                groups[-1][0].append(el)
            else:
                groups.append(([el], list(paragraphs)))
            joinable = True
    for count, (tbls, before) in enumerate(groups, start=1):
        first = len(tables)
        _read_table(tbls, f"{TABLE_PREFIX}{count}", tables, limits, file, 0)
        tables[first].grid.caption = _caption(before)
    return Document(tables, split_sections(paragraphs, heading_styles), paragraphs)


# --------------------------------------------------------------------------- walking


def blocks(parent):
    """The w:p and w:tbl children of a body or cell, in order, looking through wrappers."""
    for child in parent:
        tag = child.tag
        if tag == w("p") or tag == w("tbl"):
            yield child
        elif tag in _WRAPPERS:
            yield from blocks(child)


def _children(parent, tag: str):
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(child, tag)


def paragraph_text(p) -> str:
    """A paragraph's text as printed: runs, tabs and line breaks; no deleted text or text boxes."""
    out: list[str] = []

    def walk(el) -> None:
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP_TEXT:
                continue
            if tag == w("t"):
                out.append(child.text or "")
            elif tag == w("tab") and el.tag == w("r"):
                out.append("\t")
            elif tag in (w("br"), w("cr")):
                out.append("\n")
            elif tag == w("noBreakHyphen"):
                out.append("-")
            else:
                walk(child)

    walk(p)
    return _CONTROL.sub("", "".join(out))


def cell_text(tc) -> str:
    """The text of a cell: its paragraphs joined with newlines; a nested table as its rows
    (cells separated by a space), so a cell that holds a small table still reads as text."""
    lines: list[str] = []
    for el in blocks(tc):
        if el.tag == w("p"):
            lines.append(paragraph_text(el))
        else:
            for tr in _children(el, w("tr")):
                cells = [cell_text(c).replace("\n", " ").strip() for c in _children(tr, w("tc"))]
                lines.append(" ".join(c for c in cells if c))
    return "\n".join(line.rstrip() for line in lines).strip()


def _val(el, tag: str) -> str | None:
    """The w:val of a property child (``""`` when the child is there without w:val), or None."""
    if el is None:
        return None
    child = el.find(w(tag))
    if child is None:
        return None
    return child.get(w("val"), "")


def _int_val(el, tag: str, default: int) -> int:
    v = _val(el, tag)
    if v is None or not v.strip().isdigit():
        return default
    digits = v.strip()
    return int(digits) if len(digits) < 10 else 10**9


# --------------------------------------------------------------------------- tables


def _read_table(tbls: list, name: str, out: list[Table], limits: Limits, file: str, depth: int) -> None:
    """Append the Table of ``tbls`` and then its nested tables (表1.1, 表1.2 …) to ``out``.

    ``tbls`` are one table, or several separated only by empty paragraphs: a form typed over two
    pages is often two tables with a blank line or page break between them, and reads as one
    (rows numbered on), so its header block and indicator table stay on one sheet.
    """
    if depth > MAX_NESTING:
        raise ReadError("TOO_LARGE", f"表格嵌套超过 {MAX_NESTING} 层，文件已损坏或被篡改", file, name)
    cells: dict[tuple[int, int], object] = {}
    tcs: dict[tuple[int, int], object] = {}
    merges: list[tuple[int, int, int, int]] = []
    # open vertical merges: start column -> [r1, c1, r2, c2, tc]
    open_v: dict[int, list] = {}
    merged_cells = 0
    nested: list = []
    rows = [(k, tr) for k, tbl in enumerate(tbls) for tr in _children(tbl, w("tr"))]
    if len(rows) > limits.max_rows:
        raise ReadError("TOO_LARGE", f"{name} 有 {len(rows)} 行，超过上限 {limits.max_rows} 行", file)
    part = 0
    for r, (k, tr) in enumerate(rows, start=1):
        if k != part:  # a vertical merge never runs from one table into the next
            merges.extend(tuple(e[:4]) for e in open_v.values())
            open_v.clear()
            part = k
        trpr = tr.find(w("trPr"))
        col = 1 + min(_int_val(trpr, "gridBefore", 0), limits.max_cols)
        prev: list | None = None  # the cell to the left, for legacy w:hMerge
        for tc in _children(tr, w("tc")):
            tcpr = tc.find(w("tcPr"))
            span = max(1, _int_val(tcpr, "gridSpan", 1))
            end = col + span - 1
            if end > limits.max_cols:
                raise ReadError("TOO_LARGE", f"{name} 第 {r} 行的单元格延伸到第 {end} 列，超过上限 {limits.max_cols} 列", file, ref(name, r, col))
            text = cell_text(tc)
            if len(text) > limits.max_text:
                raise ReadError("TOO_LARGE", f"单元格文字 {len(text)} 个字符，超过上限 {limits.max_text}", file, ref(name, r, col))
            nested.extend(el for el in _descendant_tables(tc))
            vmerge = _val(tcpr, "vMerge")
            hmerge = _val(tcpr, "hMerge")
            above = open_v.get(col)
            if vmerge is not None and vmerge != "restart" and above and above[2] == r - 1 and above[3] == end:
                above[2] = r  # continues the merge started above
                for c in range(col, end + 1):
                    tcs[(r, c)] = above[4]
                if text:
                    key = (above[0], above[1])
                    cells[key] = f"{cells[key]}\n{text}" if key in cells else text
                prev = None
                col = end + 1
                continue
            if hmerge is not None and hmerge != "restart" and prev is not None and prev[2] == r:
                prev[3] = end
                for c in range(col, end + 1):
                    tcs[(r, c)] = prev[4]
                col = end + 1
                continue
            for c in list(open_v):
                if open_v[c][1] <= end and open_v[c][3] >= col:
                    merges.append(tuple(open_v.pop(c)[:4]))
            entry = [r, col, r, end, tc]
            open_v[col] = entry
            prev = entry
            for c in range(col, end + 1):
                tcs[(r, c)] = tc
            if text:
                cells[(r, col)] = text
            col = end + 1
    merges.extend(tuple(e[:4]) for e in open_v.values())
    merges = sorted(m for m in merges if (m[0], m[1]) != (m[2], m[3]))
    for r1, c1, r2, c2 in merges:
        merged_cells += (r2 - r1 + 1) * (c2 - c1 + 1)
    if merged_cells > limits.max_merged_cells:
        raise ReadError("TOO_LARGE", f"{name} 的合并单元格共覆盖 {merged_cells} 个单元格，超过上限 {limits.max_merged_cells}", file)
    # the rows a merge covers take every position of it (a continuation row may be shorter)
    for r1, c1, r2, c2 in merges:
        anchor = tcs.get((r1, c1))
        for rr in range(r1, r2 + 1):
            for cc in range(c1, c2 + 1):
                tcs.setdefault((rr, cc), anchor)
    out.append(Table(name, tbls[0], TableGrid(name, cells, merges), tcs))
    for k, inner in enumerate(nested, start=1):
        _read_table([inner], f"{name}.{k}", out, limits, file, depth + 1)


def _descendant_tables(tc):
    """Tables directly inside a cell (not those inside them: they are read with their parent)."""
    for el in blocks(tc):
        if el.tag == w("tbl"):
            yield el


def _caption(paragraphs: list) -> str:
    """The title printed above a table: the nearest of the last few paragraphs naming a form."""
    for p in reversed(paragraphs[-6:]):
        t = paragraph_text(p).strip()
        if t and ("自评表" in t or "自评价报告" in t or "自评报告" in t) and len(t) <= 60:
            return t
    return ""


# --------------------------------------------------------------------------- narrative

_CN_NUM = "一二三四五六七八九十"
# Numbering styles of a heading, each a class: the same class as a known heading's numbering
# is a sibling heading (its section ends the one before it).
_NUMBERING = (
    ("chapter", re.compile(rf"^第[{_CN_NUM}\d]+[部分章节]\s*[、.．:：]?\s*")),
    ("cn", re.compile(rf"^[{_CN_NUM}]+\s*[、.．]\s*")),
    ("cn-paren", re.compile(rf"^[（(]\s*[{_CN_NUM}]+\s*[)）]\s*[、.．]?\s*")),
    ("arabic", re.compile(r"^\d{1,2}\s*[、.．](?!\d)\s*")),
    ("arabic-paren", re.compile(r"^[（(]\s*\d{1,2}\s*[)）]\s*[、.．]?\s*")),
)
_SHORT_HEADING = 40  # characters: a numbered line longer than this is a sentence, not a heading


def known_headings() -> dict[str, str]:
    """Normalised -> printed narrative headings of every layout (each layout's NARRATIVE_HEADINGS)."""
    from . import layout
    from .model import NARRATIVE_HEADINGS

    names = list(NARRATIVE_HEADINGS)
    for m in layout.LAYOUTS:
        names += list(getattr(m, "NARRATIVE_HEADINGS", ()))
    return {_norm(h): h for h in names}


def _norm(text: str) -> str:
    s = unicodedata.normalize("NFKC", text)
    s = re.sub(r"\s+", "", s)
    return s.replace("(", "（").replace(")", "）").replace(":", "：")


def _numbering(text: str) -> tuple[str | None, str]:
    """(numbering class, text without it) of a line."""
    s = unicodedata.normalize("NFKC", text).strip()
    for cls, pattern in _NUMBERING:
        m = pattern.match(s)
        if m and m.end() < len(s):
            return cls, s[m.end():].strip()
    return None, s


def split_sections(paragraphs: list, heading_styles: set[str] = frozenset()) -> list[Section]:
    """The body paragraphs cut into sections at their headings.

    A heading is (1) a line that is, without its numbering and a trailing colon, a narrative
    heading some layout knows (项目概况, 一、项目概况, （一）项目概况：, 项目概况：text…, or the heading and a
    line break before the text); (2) a short line numbered in the same style as such a heading
    (typed, or Word's automatic list at the same level), or in the top style 一、 (a sibling
    section: it ends the one before it); (3) a short line in a level-1 heading style. Sub-items
    (1. …, （1）…, 一是…) inside a section stay its text. Paragraphs before the first heading
    (the report title) belong to no section.
    """
    known = known_headings()
    sections: list[Section] = []
    sibling_classes = {"cn", "chapter"}
    sibling_lists: set[tuple[str, str]] = set()  # Word list numbering (numId, ilvl) of known headings
    lines = [(p, paragraph_text(p).strip()) for p in paragraphs]
    for p, text in lines:  # the numbering styles the known headings use in this document
        cls, head, _, _ = _heading_parts(text)
        if _norm(head) in known:
            if cls:
                sibling_classes.add(cls)
            if _list_key(p):
                sibling_lists.add(_list_key(p))
    for p, text in lines:
        if not text:
            continue
        cls, head, colon, inline = _heading_parts(text)
        if _norm(head) in known and (colon or "\n" in text or len(head) <= _SHORT_HEADING):
            sections.append(Section(known[_norm(head)], p, inline=inline.strip()))
            continue
        short = len(text) <= _SHORT_HEADING and "\n" not in text and not text.endswith(("。", "；", ";"))
        if short and (cls in sibling_classes or _style(p) in heading_styles or (_list_key(p) or ()) in sibling_lists):
            sections.append(Section(_numbering(text)[1].rstrip("：:"), p))
            continue
        if sections:
            sections[-1].paragraphs.append(p)
    return sections


def _heading_parts(text: str) -> tuple[str | None, str, str, str]:
    """(numbering class, heading candidate, colon, text after it) of a paragraph: the first line
    without its numbering, cut at a colon (项目概况：……); a line break after a heading (项目概况↵……)
    counts like the colon."""
    first, _, more = text.partition("\n")
    cls, rest = _numbering(first)
    head, colon, inline = _split_colon(rest)
    if more.strip():
        inline = f"{inline}\n{more}" if inline else more
    return cls, head, colon, inline


def _list_key(p) -> tuple[str, str] | None:
    """A paragraph's automatic list numbering (w:numPr numId, ilvl): numbered headings typed with
    Word's list feature carry no 一、 in their text."""
    ppr = p.find(w("pPr"))
    num = ppr.find(w("numPr")) if ppr is not None else None
    if num is None:
        return None
    num_id = _val(num, "numId")
    return (num_id, _val(num, "ilvl") or "0") if num_id not in (None, "", "0") else None


def _split_colon(text: str) -> tuple[str, str, str]:
    m = re.match(r"^(.{1,30}?)\s*([:：])\s*(.*)$", text, re.S)
    if m:
        return m.group(1), m.group(2), m.group(3)
    return text, "", ""


def _style(p) -> str:
    ppr = p.find(w("pPr"))
    return _val(ppr, "pStyle") or ""


def _heading_styles(styles: bytes | None, file: str) -> set[str]:
    """Style ids of level-1 headings (Heading 1 / 标题 1, or outline level 0) in styles.xml."""
    if not styles:
        return set()
    root = parse_xml(styles, STYLES_PART, file)
    out = set()
    for st in root.iter(w("style")):
        sid = st.get(w("styleId")) or ""
        name = (_val(st, "name") or "").strip().lower().replace(" ", "")
        ppr = st.find(w("pPr"))
        if name in ("heading1", "标题1") or _val(ppr, "outlineLvl") == "0":
            out.add(sid)
    return out


def narrative_grid(sections: list[Section]) -> Grid:
    """The 正文 sheet: row n = section n, heading in A, text in B (what the layouts read)."""
    cells: dict[tuple[int, int], object] = {}
    for r, s in enumerate(sections, start=1):
        cells[(r, 1)] = s.heading
        if s.text:
            cells[(r, 2)] = s.text
    return Grid(NARRATIVE_SHEET, cells)
