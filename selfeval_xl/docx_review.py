"""The reviewed Word document: the submitted .docx, unchanged, plus one comment (批注) per finding.

A bureau that received a 自评价报告 in Word wants that document back with its remarks in the
margin, not a different file. So only three parts change: ``word/document.xml`` gains, for each
finding, a comment range around the first paragraph of the finding's table cell (or narrative
section) and a comment reference; ``word/comments.xml`` holds the comments (created, or
appended to when the author already commented); the relationship and content type of the
comments part are added when missing. Every other part is copied byte for byte, and no text
of the document is touched.

Comments are written with lxml rather than python-docx's ``add_comment`` (python-docx 1.2):
python-docx re-serialises every part it loaded, and the cell anchors come from the same
traversal (``word.parse``) the reader used, so ``表1!G30`` is the cell the value was read from.
"""
from __future__ import annotations

import datetime as _dt
import re
import zipfile
from pathlib import Path

from . import word
from .fsutil import atomic_path
from .naming import COMMENT_MARK, is_reviewed, reviewed_docx_name  # noqa: F401  (reviewed_docx_name: public here)
from .model import Finding, Review, Scored, severity_label
from .ooxml.sheet import col_number
from .safety import DEFAULT_LIMITS

__all__ = ["reviewed_docx_name", "write_reviewed_docx", "comment_lines", "COMMENT_AUTHOR"]

COMMENT_AUTHOR = "selfeval-xl"
COMMENT_INITIALS = "复核"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
COMMENTS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments"
COMMENTS_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.comments+xml"
DOC_RELS = "word/_rels/document.xml.rels"
CONTENT_TYPES = "[Content_Types].xml"
_REF = re.compile(r"^(?P<sheet>.+)!\$?(?P<col>[A-Z]{1,3})\$?(?P<row>\d{1,7})")


def comment_lines(f: Finding, scored: Scored | None) -> list[str]:
    """The comment of one finding: what, and for an indicator the rule score and its basis."""
    lines = [f"{COMMENT_MARK}{severity_label(f.severity)}（{f.code}）", f.message]
    if scored is not None:
        from .fmt import points

        own = scored.indicator.self_score
        lines.append(f"规则得分：{points(scored.score)}（自评分：{own.text or '未填'}）")
        lines.append(f"评分依据：{scored.basis}")
    return lines


def write_reviewed_docx(reviews: "Review | list[Review]", source: Path, target: Path, limits=DEFAULT_LIMITS) -> Path:
    """Write ``source`` (a .docx that passed sniff) with one comment per finding of each review
    (one per form in the document) to ``target``, atomically; ``source`` is only read."""
    source, target = Path(source), Path(target)
    reviews = [reviews] if isinstance(reviews, Review) else list(reviews)
    if source.resolve() == target.resolve() and not is_reviewed(source):
        raise ValueError(f"复核版不能覆盖原文件：{source.name}")
    with zipfile.ZipFile(source) as zf:
        infos = zf.infolist()
        parts = {i.filename: zf.read(i) for i in infos if not i.is_dir()}
    root = word.parse_xml(parts[word.DOCUMENT_PART], word.DOCUMENT_PART, source.name)
    styles = parts.get(word.STYLES_PART)
    doc = word.parse(root, limits, source.name, word._heading_styles(styles, source.name))
    rels = word.parse_xml(parts[DOC_RELS], DOC_RELS, source.name) if DOC_RELS in parts else _new_rels()
    comments_part = _comments_part(rels)
    if comments_part in parts:
        comments = word.parse_xml(parts[comments_part], comments_part, source.name)
        _remove_ours(root, comments)
    else:
        comments = _new_comments()
    next_id = 1 + max([_int(c.get(word.w("id"))) for c in comments.iter(word.w("comment"))]
                      + [_int(e.get(word.w("id"))) for e in root.iter(word.w("commentRangeStart"), word.w("commentReference"))]
                      + [-1])
    date = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    for review in reviews:
        by_cell = _scored_by_cell(review)
        for f in review.findings:
            p = anchor_paragraph(doc, f.cell)
            _anchor(p, next_id)
            comments.append(_comment(next_id, comment_lines(f, by_cell.get(f.cell)), date))
            next_id += 1
    from lxml import etree

    parts[word.DOCUMENT_PART] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    parts[comments_part] = etree.tostring(comments, xml_declaration=True, encoding="UTF-8", standalone=True)
    if not _has_comments_rel(rels):
        _add_rel(rels, comments_part)
    parts[DOC_RELS] = etree.tostring(rels, xml_declaration=True, encoding="UTF-8", standalone=True)
    ct = word.parse_xml(parts[CONTENT_TYPES], CONTENT_TYPES, source.name)
    _add_content_type(ct, "/" + comments_part)
    parts[CONTENT_TYPES] = etree.tostring(ct, xml_declaration=True, encoding="UTF-8", standalone=True)
    changed = {word.DOCUMENT_PART, comments_part, DOC_RELS, CONTENT_TYPES}
    with atomic_path(target) as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            written = set()
            with zipfile.ZipFile(source) as zf:
                for info in infos:
                    if info.is_dir() or info.filename in written:
                        continue
                    data = parts[info.filename] if info.filename in changed else zf.read(info)
                    dst.writestr(_copy_info(info), data)
                    written.add(info.filename)
            for name in sorted(changed - written):
                dst.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), parts[name], zipfile.ZIP_DEFLATED)
    return target


# --------------------------------------------------------------------------- anchors


def anchor_paragraph(doc: "word.Document", cell: str):
    """The w:p a finding's comment goes on: the first paragraph of its table cell (``表1!G30``;
    a position the table does not have goes to the nearest cell of that row, then to the
    table's last cell), of its narrative section (``正文!B3``), or the document's first
    paragraph for a finding about the whole file."""
    m = _REF.match(cell or "")
    if m:
        sheet, row, col = m.group("sheet"), int(m.group("row")), col_number(m.group("col"))
        table = next((t for t in doc.tables if t.name == sheet), None)
        if table is not None and table.tcs:
            tc = table.tcs.get(table.grid.anchor(row, col))
            if tc is None:
                in_row = sorted(c for (r, c) in table.tcs if r == row)
                left = [c for c in in_row if c <= col]
                if left or in_row:
                    tc = table.tcs[(row, (left or in_row)[-1])]
                else:
                    tc = table.tcs[max(table.tcs)]
            return _first_paragraph(tc)
        if sheet == word.NARRATIVE_SHEET and 1 <= row <= len(doc.sections):
            s = doc.sections[row - 1]
            return s.paragraphs[0] if col >= 2 and s.paragraphs else s.heading_p
    for p in doc.paragraphs:
        if word.paragraph_text(p).strip():
            return p
    if doc.paragraphs:
        return doc.paragraphs[0]
    return _first_paragraph(doc.tables[0].element)


def _first_paragraph(el):
    for child in word.blocks(el) if el.tag == word.w("tc") else el.iter(word.w("p")):
        if child.tag == word.w("p"):
            return child
        if child.tag == word.w("tbl"):
            return _first_paragraph(child)
    from lxml import etree

    return etree.SubElement(el, word.w("p"))  # a cell without a paragraph (invalid, but seen)


def _anchor(p, cid: int) -> None:
    """commentRangeStart at the start of the paragraph's content, End and the reference run at its end."""
    from lxml import etree

    W = word.w
    start = etree.Element(W("commentRangeStart"))
    start.set(W("id"), str(cid))
    ppr = p.find(W("pPr"))
    p.insert(0 if ppr is None else p.index(ppr) + 1, start)
    end = etree.SubElement(p, W("commentRangeEnd"))
    end.set(W("id"), str(cid))
    run = etree.SubElement(p, W("r"))
    ref = etree.SubElement(run, W("commentReference"))
    ref.set(W("id"), str(cid))


def _scored_by_cell(review: Review) -> dict[str, Scored]:
    out: dict[str, Scored] = {}
    for s in review.scored:
        ind = s.indicator
        for v in (ind.self_score, ind.actual, ind.target, ind.weight):
            if v.cell:
                out.setdefault(v.cell, s)
        out.setdefault(ind.cell, s)
    return out


# --------------------------------------------------------------------------- parts


def _comment(cid: int, lines: list[str], date: str):
    from lxml import etree

    W = word.w
    c = etree.Element(W("comment"), nsmap={"w": word.W_NS})
    c.set(W("id"), str(cid))
    c.set(W("author"), COMMENT_AUTHOR)
    c.set(W("date"), date)
    c.set(W("initials"), COMMENT_INITIALS)
    for line in lines:
        p = etree.SubElement(c, W("p"))
        r = etree.SubElement(p, W("r"))
        t = etree.SubElement(r, W("t"))
        t.text = word._CONTROL.sub("", line)
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    return c


def _new_comments():
    from lxml import etree

    return etree.Element(word.w("comments"), nsmap={"w": word.W_NS})


def _new_rels():
    from lxml import etree

    return etree.Element(f"{{{REL_NS}}}Relationships", nsmap={None: REL_NS})


def _comments_part(rels) -> str:
    for rel in rels:
        if rel.get("Type") == COMMENTS_REL:
            target = rel.get("Target") or "comments.xml"
            return target.lstrip("/") if target.startswith("/") else "word/" + target
    return "word/comments.xml"


def _has_comments_rel(rels) -> bool:
    return any(rel.get("Type") == COMMENTS_REL for rel in rels)


def _add_rel(rels, part: str) -> None:
    from lxml import etree

    ids = {rel.get("Id") for rel in rels}
    n = 1
    while f"rIdSelfeval{n}" in ids:
        n += 1
    rel = etree.SubElement(rels, f"{{{REL_NS}}}Relationship")
    rel.set("Id", f"rIdSelfeval{n}")
    rel.set("Type", COMMENTS_REL)
    rel.set("Target", part[len("word/"):] if part.startswith("word/") else "/" + part)


def _add_content_type(ct, part_name: str) -> None:
    from lxml import etree

    for o in ct:
        if o.get("PartName", "").lower() == part_name.lower():
            return
    o = etree.SubElement(ct, f"{{{CT_NS}}}Override")
    o.set("PartName", part_name)
    o.set("ContentType", COMMENTS_CT)


def _remove_ours(root, comments) -> None:
    """A reviewed document reviewed again: take our previous comments off first (not the author's)."""
    W = word.w
    ours = set()
    for c in list(comments.iter(W("comment"))):
        text = "".join(t.text or "" for t in c.iter(W("t")))
        if c.get(W("author")) == COMMENT_AUTHOR and text.startswith(COMMENT_MARK):
            ours.add(c.get(W("id")))
            c.getparent().remove(c)
    if not ours:
        return
    for el in list(root.iter(W("commentRangeStart"), W("commentRangeEnd"), W("commentReference"))):
        if el.get(W("id")) in ours:
            parent = el.getparent()
            if el.tag == W("commentReference") and parent.tag == W("r") and len(parent) == 1:
                parent.getparent().remove(parent)
            else:
                parent.remove(el)


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    new.compress_type = zipfile.ZIP_DEFLATED
    new.external_attr = info.external_attr
    return new


def _int(s) -> int:
    try:
        return int(s)
    except (TypeError, ValueError):
        return -1
