"""A sheet's comments part and the VML shapes that show them (legacy notes).

Our notes are appended: to the office's own comment on the same cell (as a further run, so its
rich text and box stay as they were) or as a new comment with a new shape. Every note we write
starts with a mark; ``strip`` takes off exactly the text from that mark on, and the whole
comment and shape only when nothing of the office's is left. The VML is edited as text: Excel
writes it as loose HTML-ish XML (``<br>``) that an XML parser may refuse.
"""
from __future__ import annotations

import re

from lxml import etree

from . import CT, NS, RT, Package, ns_of, parse, serialize
from .sheet import Worksheet, split_ref

V = "urn:schemas-microsoft-com:vml"
O = "urn:schemas-microsoft-com:office:office"
X = "urn:schemas-microsoft-com:office:excel"
_VML_NS = f'xmlns:v="{V}" xmlns:o="{O}" xmlns:x="{X}"'
_VML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_SHAPE_ID = re.compile(r"_x0000_s(\d+)$")
_IDMAP = re.compile(r'<(?:\w+:)?idmap\b[^>]*\bdata\s*=\s*"([\d,\s]*)"')
SHAPETYPE = (f'<v:shapetype {_VML_NS} id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
             '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>')
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


class Notes:
    def __init__(self, pkg: Package, sheet_part: str, ws: Worksheet):
        self.pkg, self.sheet_part, self.ws = pkg, sheet_part, ws
        rels = pkg.rels(sheet_part)
        rel = next((r for r in rels.of_type(RT["comments"]) if r.part), None)
        self.part = rel.part if rel else None
        self.root = parse(pkg.get(self.part)) if self.part and pkg.get(self.part) else None
        legacy = ws.child("legacyDrawing")
        vml_rel = rels.get(legacy.get(f"{{{NS['r']}}}id")) if legacy is not None else None
        self.vml_part = vml_rel.part if vml_rel and vml_rel.part else None
        self.vml = pkg.get(self.vml_part).decode("utf-8", "replace") if self.vml_part and pkg.get(self.vml_part) else None
        self.changed = False
        self.vml_changed = False
        self._vml_tree = None
        self._by_ref: dict[str, etree._Element] | None = None
        self._shape_at: dict[tuple[int, int], etree._Element] | None = None  # 1-based (row, col) -> VML shape
        self._next_id = 0
        self._unsorted = False
        self._has_type = False  # the note shapetype checked (and added when missing)

    # ---------------------------------------------------------------- reading

    def _q(self, local: str) -> str:
        return f"{{{ns_of(self.root)}}}{local}"

    def _comments(self) -> dict[str, etree._Element]:
        """ref -> comment element, built once and kept up to date by add/strip."""
        if self.root is None:
            return {}
        if self._by_ref is None:
            lst = self.root.find(self._q("commentList"))
            self._by_ref = {c.get("ref"): c for c in (lst if lst is not None else []) if isinstance(c.tag, str)}
        return self._by_ref

    def _texts(self, comment) -> list[etree._Element]:
        text = comment.find(self._q("text"))
        return [] if text is None else [t for t in text.iter(self._q("t"))
                                        if etree.QName(t.getparent()).localname != "rPh"]

    def text_of(self, ref: str) -> str | None:
        c = self._comments().get(ref)
        return None if c is None else "".join(t.text or "" for t in self._texts(c))

    # ---------------------------------------------------------------- our notes off

    def strip(self, mark: str) -> list[str]:
        """Remove our notes (from ``mark`` on); return the refs that carried one."""
        found = []
        for ref, comment in list(self._comments().items()):
            texts = self._texts(comment)
            hit = next((t for t in texts if mark in (t.text or "")), None)
            if hit is None:
                continue
            found.append(ref)
            hit.text = hit.text.split(mark, 1)[0]
            after = False
            for t in texts:
                if t is hit:
                    after = True
                    continue
                if after:
                    run = t.getparent()
                    if etree.QName(run).localname == "r":
                        run.getparent().remove(run)
                    else:
                        t.text = ""
            rest = "".join(t.text or "" for t in self._texts(comment))
            if rest.strip():
                last = self._texts(comment)[-1]
                last.text = (last.text or "").rstrip()
                hit_run = hit.getparent()
                if not (hit.text or "") and etree.QName(hit_run).localname == "r":
                    hit_run.getparent().remove(hit_run)
            else:
                comment.getparent().remove(comment)
                del self._by_ref[ref]
                self._remove_shape(ref)
            self.changed = True
        return found

    # ---------------------------------------------------------------- our notes on

    def add(self, ref: str, text: str, author: str) -> None:
        """Append ``text`` to the comment on ``ref`` or create one (with its shape)."""
        if self.root is None:
            self._create()
        comment = self._comments().get(ref)
        if comment is not None and self._texts(comment) and "".join(t.text or "" for t in self._texts(comment)).strip():
            box = comment.find(self._q("text"))
            runs = box.findall(self._q("r"))
            if runs:
                run = etree.SubElement(box, self._q("r"))
                for extra in box.findall(self._q("rPh")) + box.findall(self._q("phoneticPr")):
                    box.append(extra)  # CT_Rst: t, r*, rPh*, phoneticPr
                t = etree.SubElement(run, self._q("t"))
                t.text = "\n\n" + text
            else:
                t = box.find(self._q("t"))
                t.text = (t.text or "").rstrip() + "\n\n" + text
            t.set(_XML_SPACE, "preserve")
            full = "".join(x.text or "" for x in self._texts(comment))
        else:
            if comment is not None:
                comment.getparent().remove(comment)
            comment = etree.Element(self._q("comment"), ref=ref, authorId=str(self._author(author)))
            self._comments()[ref] = comment
            box = etree.SubElement(comment, self._q("text"))
            t = etree.SubElement(box, self._q("t"))
            t.text = text
            t.set(_XML_SPACE, "preserve")
            self._insert_sorted(comment)
            full = text
        self._ensure_shape(ref, full)
        self.changed = True

    def _author(self, name: str) -> int:
        authors = self.root.find(self._q("authors"))
        if authors is None:
            authors = etree.Element(self._q("authors"))
            self.root.insert(0, authors)
        names = [a.text or "" for a in authors.iterchildren(self._q("author"))]
        if name in names:
            return names.index(name)
        etree.SubElement(authors, self._q("author")).text = name
        return len(names)

    def _insert_sorted(self, comment) -> None:
        """Append; the list is put in row/column order once, when saved (as Excel writes it)."""
        lst = self.root.find(self._q("commentList"))
        if lst is None:
            lst = etree.SubElement(self.root, self._q("commentList"))
            ext = self.root.find(self._q("extLst"))
            if ext is not None:
                ext.addprevious(lst)
        lst.append(comment)
        self._unsorted = True

    def _create(self) -> None:
        self.part = self.pkg.free_name("xl/comments%d.xml")
        self.root = etree.Element(f"{{{NS['main']}}}comments", nsmap={None: NS["main"]})
        etree.SubElement(self.root, f"{{{NS['main']}}}authors")
        etree.SubElement(self.root, f"{{{NS['main']}}}commentList")
        self.pkg.rels(self.sheet_part).add(RT["comments"], self.part)
        self.pkg.add_override(self.part, CT["comments"])

    # ---------------------------------------------------------------- VML

    def _vml_root(self):
        """The VML tree (parsed lazily); None when the part cannot be parsed even after the
        usual repair (Excel writes ``<br>`` unclosed): then it is left as it is."""
        if self._vml_tree is None and self.vml is not None:
            text = self.vml
            for attempt in (text, re.sub(r"<br\s*>", "<br/>", text, flags=re.I)):
                try:
                    self._vml_tree = etree.fromstring(attempt.encode("utf-8"), _VML_PARSER)
                    break
                except etree.XMLSyntaxError:
                    continue
            else:
                self._vml_tree = False
        return self._vml_tree if self._vml_tree is not False else None

    def _ensure_vml(self):
        if self.vml is None:
            self.vml_part = self.pkg.free_name("xl/drawings/vmlDrawing%d.vml")
            block = self._free_idmap()
            self.vml = (f'<xml {_VML_NS}><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/>'
                        "</o:shapelayout></xml>")
            self._first_id = block * 1024 + 1
            rid = self.pkg.rels(self.sheet_part).add(RT["vmlDrawing"], self.vml_part)
            self.pkg.ensure_default("vml", CT["vml"])
            legacy = etree.Element(self.ws.q("legacyDrawing"))
            legacy.set(f"{{{NS['r']}}}id", rid)
            self.ws.insert(legacy)
            self.vml_changed = True
        root = self._vml_root()
        if root is None or self._has_type:
            return root
        self._has_type = True
        if not any(el.get("id") == "_x0000_t202" for el in root.iter(f"{{{V}}}shapetype")):
            layout = next(root.iter(f"{{{O}}}shapelayout"), None)
            shapetype = _fragment(SHAPETYPE)
            if layout is not None:
                layout.addnext(shapetype)
            else:
                root.insert(0, shapetype)
            self.vml_changed = True
        return root

    def _free_idmap(self) -> int:
        used = set()
        for name, data in self.pkg.parts.items():
            if name.endswith(".vml"):
                for m in _IDMAP.finditer(data.decode("utf-8", "replace")):
                    used |= {int(x) for x in re.findall(r"\d+", m.group(1))}
        n = 1
        while n in used:
            n += 1
        return n

    def _shapes(self, root) -> dict[tuple[int, int], etree._Element]:
        """1-based (row, col) -> the note's shape, indexed once; the next free shape number."""
        if self._shape_at is None:
            self._shape_at = {}
            for shape in root.iter(f"{{{V}}}shape"):
                data = shape.find(f"{{{X}}}ClientData")
                if data is None or data.get("ObjectType") != "Note":
                    continue
                r, c = data.findtext(f"{{{X}}}Row"), data.findtext(f"{{{X}}}Column")
                if r and c and r.strip().isdigit() and c.strip().isdigit():
                    self._shape_at.setdefault((int(r) + 1, int(c) + 1), shape)
        return self._shape_at

    def _remove_shape(self, ref: str) -> None:
        pos = split_ref(ref)
        root = self._vml_root()
        if root is None or pos is None:
            return
        shape = self._shapes(root).pop(pos, None)
        if shape is not None:
            shape.getparent().remove(shape)
            self._next_id = 0  # numbered again from what is left
            self.vml_changed = True

    def _ensure_shape(self, ref: str, text: str) -> None:
        pos = split_ref(ref)
        if pos is None:
            return
        root = self._ensure_vml()
        if root is None or pos in self._shapes(root):
            return
        if not self._next_id:
            ids = [int(m.group(1)) for el in root.iter() if isinstance(el.tag, str)
                   for m in [_SHAPE_ID.match(el.get("id") or "")] if m]
            self._next_id = max(ids) + 1 if ids else getattr(self, "_first_id", None) or self._free_idmap() * 1024 + 1
        shape_id = self._next_id
        self._next_id += 1
        row, col = pos[0] - 1, pos[1] - 1
        lines = sum(1 + len(line) // 22 for line in text.split("\n"))
        height = min(60 + 12 * lines, 450)
        shape = (f'<v:shape {_VML_NS} id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;'
                 f'margin-left:80pt;margin-top:2pt;width:240pt;height:{height}pt;z-index:{shape_id % 1024};'
                 'visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
                 '<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
                 '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
                 '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
                 f"<x:Anchor>{col + 1}, 15, {max(row - 1, 0)}, 10, {col + 5}, 15, {row + 3 + lines // 2}, 4</x:Anchor>"
                 f"<x:AutoFill>False</x:AutoFill><x:Row>{row}</x:Row><x:Column>{col}</x:Column>"
                 "</x:ClientData></v:shape>")
        el = _fragment(shape)
        root.append(el)
        self._shapes(root)[pos] = el
        self.vml_changed = True

    # ---------------------------------------------------------------- save

    def save(self) -> None:
        if self.changed and self.root is not None:
            lst = self.root.find(self._q("commentList"))
            if self._unsorted and lst is not None:
                items = sorted((c for c in lst if isinstance(c.tag, str)), key=lambda c: _order(c.get("ref")))
                for c in items:
                    lst.append(c)  # moves it to the end, in order
            if lst is not None and not len(lst) and self.part:
                self._drop_all()
                return
            self.pkg.put(self.part, serialize(self.root))
        if self.vml_changed and self.vml_part:
            self.pkg.put(self.vml_part, self._vml_bytes())

    def _vml_bytes(self) -> bytes:
        root = self._vml_root()
        return etree.tostring(root, encoding="UTF-8", xml_declaration=False) if root is not None else self.vml.encode("utf-8")

    def _drop_all(self) -> None:
        """No comment left (all were ours): take off the comments part; the VML only when it
        holds nothing else (form controls live there too)."""
        rels = self.pkg.rels(self.sheet_part)
        for r in rels.of_type(RT["comments"]):
            rels.remove(r.id)
        self.pkg.remove(self.part)
        root = self._vml_root()
        if self.vml_part and root is not None and next(root.iter(f"{{{V}}}shape"), None) is None:
            legacy = self.ws.child("legacyDrawing")
            if legacy is not None:
                rels.remove(legacy.get(f"{{{NS['r']}}}id"))
                self.ws.root.remove(legacy)
            self.pkg.remove(self.vml_part)
        elif self.vml_changed and self.vml_part:
            self.pkg.put(self.vml_part, self._vml_bytes())


def _fragment(xml: str):
    return etree.fromstring(xml.encode("utf-8"), _VML_PARSER)


def _order(ref: str | None) -> tuple[int, int]:
    pos = split_ref(ref or "")
    return pos or (0, 0)


__all__ = ["Notes"]
