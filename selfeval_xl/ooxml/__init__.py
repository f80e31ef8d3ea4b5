"""The OPC package of an .xlsx/.xlsm: parts, content types, relationships, the sheet map.

What the patch writer (writeback) and the safety scan (safety) need to know about the
package, in one place, modelled on python-docx's ``opc`` layer: a ``Package`` holds every part
as the bytes it was read with, so a part nobody edits is written back byte for byte; edited
parts are set with ``put``. XML is parsed with lxml without DTDs, entities or network access
(safety.sniff has already refused any DTD before we get here).
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass

from lxml import etree

__all__ = ["Package", "Rels", "SheetRef", "NS", "RT", "CT", "parse", "serialize", "join_part", "rels_name",
           "sheet_parts"]

NS = {
    "main": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
    "vt": "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes",
    "xdr": "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing",
}
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
RT = {  # relationship types (transitional)
    "officeDocument": f"{_R}/officeDocument",
    "worksheet": f"{_R}/worksheet",
    "sharedStrings": f"{_R}/sharedStrings",
    "styles": f"{_R}/styles",
    "comments": f"{_R}/comments",
    "vmlDrawing": f"{_R}/vmlDrawing",
    "drawing": f"{_R}/drawing",
    "table": f"{_R}/table",
    "extendedProperties": f"{_R}/extended-properties",
}
CT = {
    "worksheet": "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml",
    "comments": "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml",
    "vml": "application/vnd.openxmlformats-officedocument.vmlDrawing",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_blank_text=False, strip_cdata=False)


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, _PARSER)


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def join_part(folder: str, target: str) -> str:
    """The zip name a relationship target points at, from the folder of its source part."""
    if target.startswith("/"):
        return posixpath.normpath(target.lstrip("/"))
    return posixpath.normpath(posixpath.join(folder, target)).lstrip("/") if folder else posixpath.normpath(target)


def rels_name(part: str) -> str:
    """``xl/worksheets/sheet1.xml`` -> ``xl/worksheets/_rels/sheet1.xml.rels``."""
    folder, _, base = part.rpartition("/")
    return f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"


def relative(source_part: str, target_part: str) -> str:
    """The relative Target from ``source_part``'s folder to ``target_part``."""
    return posixpath.relpath(target_part, posixpath.dirname(source_part) or ".")


@dataclass
class Rel:
    id: str
    type: str
    target: str  # as written
    external: bool
    part: str | None  # the zip name for an internal target


class Rels:
    """The relationships of one part (its ``_rels/*.rels``), editable; ``changed`` after edits."""

    def __init__(self, package: "Package", source: str):
        self.package, self.source, self.name = package, source, rels_name(source)
        data = package.get(self.name)
        self.root = parse(data) if data else etree.Element(f"{{{NS['rel']}}}Relationships", nsmap={None: NS["rel"]})
        self.changed = False

    def __iter__(self):
        folder = posixpath.dirname(self.source)
        for el in self.root:
            if not isinstance(el.tag, str) or etree.QName(el).localname != "Relationship":
                continue
            external = el.get("TargetMode") == "External"
            target = el.get("Target") or ""
            yield Rel(el.get("Id") or "", el.get("Type") or "", target, external,
                      None if external else join_part(folder, target))

    def of_type(self, rtype: str) -> list[Rel]:
        return [r for r in self if r.type == rtype or r.type.endswith("/" + rtype.rpartition("/")[2])]

    def get(self, rid: str) -> Rel | None:
        return next((r for r in self if r.id == rid), None)

    def add(self, rtype: str, target_part: str) -> str:
        ids = {r.id for r in self}
        n = len(ids) + 1
        while f"rId{n}" in ids:
            n += 1
        rid = f"rId{n}"
        etree.SubElement(self.root, f"{{{NS['rel']}}}Relationship", Id=rid, Type=rtype,
                         Target=relative(self.source, target_part))
        self.changed = True
        return rid

    def remove(self, rid: str) -> None:
        for el in list(self.root):
            if isinstance(el.tag, str) and el.get("Id") == rid:
                self.root.remove(el)
                self.changed = True

    def save(self) -> None:
        if self.changed:
            self.package.put(self.name, serialize(self.root))


@dataclass(frozen=True)
class SheetRef:
    name: str
    index: int  # position in <sheets> (what localSheetId counts)
    sheet_id: str
    rid: str
    part: str  # zip name, "" when the relationship is missing
    state: str  # visible / hidden / veryHidden


_SHEET_RE = re.compile(r"<(?:\w+:)?sheet\b([^>]*)/?>")
_ATTR_RE = re.compile(r'([\w:]+)\s*=\s*("[^"]*"|\'[^\']*\')')


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> zip name of its part, read straight from a ZipFile (the safety scan's
    view; tolerant of prefixes, attribute order and quotes, never parses with entities)."""
    wb_name = _workbook_part(zf.read("_rels/.rels").decode("utf-8", "replace")) if "_rels/.rels" in zf.namelist() else "xl/workbook.xml"
    rels = _rels_map(zf.read(rels_name(wb_name)).decode("utf-8", "replace"), posixpath.dirname(wb_name))
    out = {}
    for m in _SHEET_RE.finditer(zf.read(wb_name).decode("utf-8", "replace")):
        attrs = _attrs(m.group(1))
        rid = next((v for k, v in attrs.items() if k.endswith(":id") or k == "id"), "")
        if "name" in attrs and rid in rels:
            out[_unescape(attrs["name"])] = rels[rid]
    return out


def _attrs(text: str) -> dict[str, str]:
    return {k: v[1:-1] for k, v in _ATTR_RE.findall(text)}


def _rels_map(xml: str, folder: str) -> dict[str, str]:
    out = {}
    for m in re.finditer(r"<(?:\w+:)?Relationship\b([^>]*)>", xml):
        a = _attrs(m.group(1))
        if a.get("TargetMode") != "External" and "Id" in a and "Target" in a:
            out[a["Id"]] = join_part(folder, _unescape(a["Target"]))
    return out


def _workbook_part(root_rels: str) -> str:
    for m in re.finditer(r"<(?:\w+:)?Relationship\b([^>]*)>", root_rels):
        a = _attrs(m.group(1))
        if a.get("Type", "").endswith("/officeDocument"):
            return join_part("", _unescape(a.get("Target", "xl/workbook.xml")))
    return "xl/workbook.xml"


def _unescape(s: str) -> str:
    return (s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'")
            .replace("&amp;", "&"))


class Package:
    """Every part of a zip package in memory; ``save`` writes them back in their order."""

    def __init__(self, data: bytes):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            self.infos = [i for i in zf.infolist() if not i.is_dir()]
            self.parts: dict[str, bytes] = {i.filename: zf.read(i) for i in self.infos}
        self.changed: set[str] = set()
        self._rels: dict[str, Rels] = {}
        root_rels = self.get("_rels/.rels")
        self.workbook_part = _workbook_part(root_rels.decode("utf-8", "replace")) if root_rels else "xl/workbook.xml"
        if self.workbook_part not in self.parts:
            raise ValueError("no workbook part")
        self.content_types = parse(self.parts["[Content_Types].xml"])
        self._ct_changed = False
        self._sst: list[str] | None = None

    # ---------------------------------------------------------------- parts

    def get(self, name: str) -> bytes | None:
        return self.parts.get(name)

    def put(self, name: str, data: bytes) -> None:
        self.parts[name] = data
        self.changed.add(name)

    def remove(self, name: str) -> None:
        if self.parts.pop(name, None) is not None:
            self.changed.add(name)
        self.remove_override(name)

    def free_name(self, pattern: str) -> str:
        """The first unused part name ``pattern % n`` (n from 1)."""
        n = 1
        while pattern % n in self.parts:
            n += 1
        return pattern % n

    def rels(self, source: str) -> Rels:
        if source not in self._rels:
            self._rels[source] = Rels(self, source)
        return self._rels[source]

    # ---------------------------------------------------------------- content types

    def content_type(self, name: str) -> str | None:
        for el in self.content_types:
            if isinstance(el.tag, str) and el.get("PartName", "").lstrip("/") == name:
                return el.get("ContentType")
        ext = name.rpartition(".")[2].lower()
        for el in self.content_types:
            if isinstance(el.tag, str) and (el.get("Extension") or "").lower() == ext:
                return el.get("ContentType")
        return None

    def add_override(self, name: str, ctype: str) -> None:
        self.remove_override(name)
        etree.SubElement(self.content_types, f"{{{NS['ct']}}}Override", PartName="/" + name, ContentType=ctype)
        self._ct_changed = True

    def remove_override(self, name: str) -> None:
        for el in list(self.content_types):
            if isinstance(el.tag, str) and el.get("PartName", "").lstrip("/") == name:
                self.content_types.remove(el)
                self._ct_changed = True

    def ensure_default(self, ext: str, ctype: str) -> None:
        for el in self.content_types:
            if isinstance(el.tag, str) and (el.get("Extension") or "").lower() == ext.lower():
                return
        default = etree.Element(f"{{{NS['ct']}}}Default", Extension=ext, ContentType=ctype)
        self.content_types.insert(0, default)  # Defaults first, as every writer does
        self._ct_changed = True

    # ---------------------------------------------------------------- workbook

    def sheets(self, workbook: etree._Element) -> list[SheetRef]:
        rels = self.rels(self.workbook_part)
        out = []
        sheets = workbook.find(f"{{{ns_of(workbook)}}}sheets")
        elements = [el for el in (sheets if sheets is not None else []) if isinstance(el.tag, str)]
        for i, el in enumerate(elements):
            rid = el.get(f"{{{_R}}}id") or ""
            rel = rels.get(rid)
            out.append(SheetRef(el.get("name") or "", i, el.get("sheetId") or "", rid,
                                rel.part if rel and rel.part else "", el.get("state") or "visible"))
        return out

    def shared_strings(self) -> list[str]:
        """The shared string table as plain texts (runs joined), read once."""
        if self._sst is None:
            self._sst = []
            rel = next(iter(self.rels(self.workbook_part).of_type(RT["sharedStrings"])), None)
            data = self.get(rel.part) if rel and rel.part else None
            if data:
                root = parse(data)
                ns = ns_of(root)
                for si in root.iterchildren(f"{{{ns}}}si"):
                    self._sst.append("".join(t.text or "" for t in si.iter(f"{{{ns}}}t")
                                             if etree.QName(t.getparent()).localname != "rPh"))
        return self._sst

    # ---------------------------------------------------------------- save

    def to_bytes(self) -> bytes:
        for rels in self._rels.values():
            rels.save()
        if self._ct_changed:
            self.put("[Content_Types].xml", serialize(self.content_types))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            done = set()
            for info in self.infos:
                if info.filename in self.parts:
                    out.writestr(_fresh(info), self.parts[info.filename])
                    done.add(info.filename)
            for name, data in self.parts.items():
                if name not in done:
                    out.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                                 compress_type=zipfile.ZIP_DEFLATED)
        return buf.getvalue()


def _fresh(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A copy of ``info`` for writing (name, date, method, attributes; sizes recomputed)."""
    new = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    new.compress_type = info.compress_type if info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) else zipfile.ZIP_DEFLATED
    new.external_attr = info.external_attr
    new.create_system = info.create_system
    return new


def ns_of(el: etree._Element) -> str:
    """The namespace of an element (SpreadsheetML main, transitional or strict, any prefix)."""
    return etree.QName(el).namespace or ""
