"""The fast render path: a template prepared once per process, each report written as a zip directly.

docxtpl's ``render`` + ``save`` re-does per report what depends on the template only: python-docx
parses every XML part of the package, ``patch_xml`` runs its regexes over the body, and on save
python-docx serialises every part again. ``Compiled`` (made once per loaded template, see
``template._load``) keeps the Jinja source docxtpl would compile, the bytes of document.xml around
its ``<w:body>`` and every other part's bytes. A render then does only what docxtpl does after
Jinja — the same functions, in the same order: ``render_xml_part``'s clean-up (``resolve_listing``
only when a tab/bell/newline/form feed is in the text, otherwise it changes nothing),
``fix_tables``, ``fix_docpr_ids``, and our ``render`` post-processing (cell-property order, fonts)
— and writes the package: every template part byte for byte except document.xml, the core
properties (rendered as docxtpl renders them), the picture parts with their relationships and
content type, styles.xml when fonts are overridden, and headers/footers that hold Jinja tags.
document.xml comes out byte-identical to docxtpl's (tests/test_report_fast.py).

What the fast path does not do, so a template that needs it is rendered by docxtpl instead
(``Compiled.prepare`` returns None with the reason, or a render raises ``Unsupported`` and the
caller starts over on the docxtpl path): Jinja tags in footnotes (docxtpl renders them once per
section), a package without core properties (python-docx would invent them), a main part it
cannot find, and any use of the DocxTemplate beyond an InlineImage in the body (a picture in a
header, a hyperlinked picture, a Subdoc ...).
"""
from __future__ import annotations

import hashlib
import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field

from lxml import etree

RT_IMAGE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"
RT_CORE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
RT_FOOTNOTES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/footnotes"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_TAG = re.compile(r"\{[{%#]")
_BODY_MARK = b"<w:body/>"


class Unsupported(Exception):
    """Raised during a fast render for something only the docxtpl path does; the caller re-renders."""


@dataclass
class Compiled:
    """A template prepared for the fast path (see the module docstring)."""

    entries: list[tuple[zipfile.ZipInfo, bytes]]  # the template's zip entries, in order
    body_name: str  # zip name of the main part (word/document.xml)
    body_partname: str  # its part name (/word/document.xml), as the error messages name it
    head: bytes  # document.xml up to <w:body>, as python-docx serialises it
    tail: bytes  # after </w:body>
    next_shape_id: int  # python-docx's StoryPart.next_id of the template's body
    rels_name: str
    rel_ids: frozenset[str]
    core_name: str
    templated: dict[str, str] = field(default_factory=dict)  # header/footer zip name -> part name, parts with tags
    _styles: dict = field(default_factory=dict, repr=False)  # fonts -> styles.xml bytes

    @classmethod
    def prepare(cls, data: bytes, tpl) -> tuple["Compiled | None", str]:
        """(Compiled, "") or (None, why the fast path cannot render this template)."""
        from docx.opc.constants import RELATIONSHIP_TYPE as RT
        from docx.opc.oxml import serialize_part_xml

        doc_part = tpl.docx.part
        pkg = doc_part.package
        zf = zipfile.ZipFile(io.BytesIO(data))
        entries = [(info, zf.read(info)) for info in zf.infolist()]
        names = {info.filename for info, _ in entries}
        body_name = str(doc_part.partname).lstrip("/")
        rels_name = posixpath.join(posixpath.dirname(body_name), "_rels", posixpath.basename(body_name) + ".rels")
        if body_name not in names or "[Content_Types].xml" not in names:
            return None, "main document part not found under its own name"
        core = [rel for rel in pkg.rels.values() if rel.reltype == RT_CORE and not rel.is_external]
        if not core or str(core[0].target_part.partname).lstrip("/") not in names:
            return None, "no core properties part"
        for rel in list(doc_part.rels.values()):
            if rel.reltype == RT_FOOTNOTES and not rel.is_external:
                if _TAG.search(rel.target_part.blob.decode("utf-8", "replace")):
                    return None, "Jinja tags in the footnotes"
        templated = {}
        for uri in (tpl.HEADER_URI, tpl.FOOTER_URI):
            for _rid, part in tpl.get_headers_footers(uri):
                name = str(part.partname).lstrip("/")
                if name not in names:
                    return None, f"{part.partname} not found under its own name"
                if _TAG.search(tpl.patch_xml(tpl.get_part_xml(part))):
                    templated[name] = str(part.partname)
        root = doc_part.element
        ids = [int(v) for v in root.xpath("//@id") if v.isdigit()]
        shell = etree.fromstring(serialize_part_xml(root))  # a copy: the template's tree stays as it is
        body = shell.find(f"{{{shell.nsmap['w']}}}body")
        for child in list(body):
            body.remove(child)
        body.text = None
        head, sep, tail = serialize_part_xml(shell).partition(_BODY_MARK)
        if not sep:
            return None, "document.xml has no w:body"
        rels = {rel.rId for rel in doc_part.rels.values()}
        return cls(entries, body_name, str(doc_part.partname), head, tail, max(ids) + 1 if ids else 1, rels_name,
                   frozenset(rels), str(core[0].target_part.partname).lstrip("/"), templated), ""

    # ------------------------------------------------------------------ per render

    def styles(self, overrides: dict[str, str], apply) -> tuple[str, bytes] | None:
        """(zip name, styles.xml with the font overrides) — computed once per set of fonts."""
        if not overrides:
            return None
        key = tuple(sorted(overrides.items()))
        hit = self._styles.get(key)
        if hit is None:
            from docx.opc.oxml import serialize_part_xml
            from docx.oxml import parse_xml

            name = next((info.filename for info, _ in self.entries if info.filename.endswith("/styles.xml")
                         and posixpath.dirname(info.filename) == posixpath.dirname(self.body_name)), None)
            if name is None:
                raise Unsupported("no styles part")
            root = parse_xml(self._blob(name))
            apply(root, overrides)
            hit = self._styles[key] = (name, serialize_part_xml(root))
        return hit

    def _blob(self, name: str) -> bytes:
        return next(b for info, b in self.entries if info.filename == name)

    def core_xml(self, render_value) -> bytes:
        """docProps/core.xml with its text properties rendered (``render_value(name, text)``)."""
        from docx.opc.coreprops import CoreProperties
        from docx.opc.oxml import serialize_part_xml
        from docx.oxml import parse_xml

        blob = self._blob(self.core_name)
        element = parse_xml(blob)
        props = CoreProperties(element)
        for name in ("author", "comments", "identifier", "language", "subject", "title"):
            setattr(props, name, render_value(name, getattr(props, name)))
        return serialize_part_xml(element)

    def document_xml(self, body) -> bytes:
        """document.xml with ``body`` as its w:body: put into a copy of the template's root the way
        docxtpl's ``map_tree`` does (lxml then drops the body's namespace declarations the root
        already has), serialised as python-docx does."""
        from docx.opc.oxml import serialize_part_xml

        root = etree.fromstring(self.head + _BODY_MARK + self.tail)
        root.replace(root.find(body.tag), body)
        return serialize_part_xml(root)

    def package(self, replaced: dict[str, bytes], images: list[tuple[str, str, bytes]]) -> bytes:
        """The .docx: the template's entries with ``replaced`` (zip name -> bytes), plus ``images``
        (rId, zip name, PNG bytes) related from the main part."""
        replaced = dict(replaced)
        if images:
            replaced[self.rels_name] = _add_rels(self._blob(self.rels_name), self.body_name, images)
            replaced["[Content_Types].xml"] = _add_png_default(self._blob("[Content_Types].xml"))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for info, blob in self.entries:
                z.writestr(_info(info.filename), replaced.pop(info.filename, blob))
            for name, blob in replaced.items():  # a rels part the template did not have
                z.writestr(_info(name), blob)
            for _rid, name, png in images:
                z.writestr(_info(name, zipfile.ZIP_STORED), png)  # PNG is compressed already
        return out.getvalue()

    def media_name(self, taken: set[str]) -> str:
        """``word/media/imageN.png`` with the smallest N no part uses (python-docx's naming)."""
        names = {info.filename for info, _ in self.entries} | taken
        n = 1
        while f"word/media/image{n}.png" in names:
            n += 1
        return f"word/media/image{n}.png"

    def next_rid(self, taken: set[str]) -> str:
        """python-docx's ``_Relationships._next_rId``: the first free rIdN from rId1."""
        used = self.rel_ids | taken
        n = 1
        while f"rId{n}" in used:
            n += 1
        return f"rId{n}"


def _info(name: str, method: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = method
    zi.external_attr = 0o600 << 16
    return zi


def _add_rels(blob: bytes, body_name: str, images: list[tuple[str, str, bytes]]) -> bytes:
    root = etree.fromstring(blob)
    base = posixpath.dirname(body_name)
    for rid, name, _png in images:
        etree.SubElement(root, f"{{{REL_NS}}}Relationship", Id=rid, Type=RT_IMAGE, Target=posixpath.relpath(name, base))
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, standalone=True)


def _add_png_default(blob: bytes) -> bytes:
    root = etree.fromstring(blob)
    if any(d.get("Extension", "").lower() == "png" for d in root.iter(f"{{{CT_NS}}}Default")):
        return blob
    root.insert(0, etree.Element(f"{{{CT_NS}}}Default", Extension="png", ContentType="image/png"))  # any order is valid
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, standalone=True)


class Pictures:
    """What an InlineImage needs from ``tpl.current_rendering_part`` while the body renders on the
    fast path (python-docx's ``StoryPart.new_pic_inline``): the same rId, shape id, name and size
    as python-docx would give, so document.xml is the same. The picture parts are kept here."""

    def __init__(self, compiled: Compiled) -> None:
        self.compiled = compiled
        self.images: list[tuple[str, str, bytes]] = []  # (rId, zip name, bytes)
        self._by_sha: dict[str, str] = {}

    def new_pic_inline(self, image_descriptor, width=None, height=None):
        from docx.image.image import Image
        from docx.oxml.shape import CT_Inline

        image_descriptor.seek(0)
        blob = image_descriptor.read()
        image = Image.from_blob(blob)
        if image.ext != "png":
            raise Unsupported(f"picture of type {image.ext}")
        sha = hashlib.sha1(blob).hexdigest()
        rid = self._by_sha.get(sha)
        if rid is None:  # the same picture twice: one part, one relationship (as python-docx)
            rid = self.compiled.next_rid({r for r, _, _ in self.images})
            name = self.compiled.media_name({n for _, n, _ in self.images})
            self.images.append((rid, name, blob))
            self._by_sha[sha] = rid
        cx, cy = image.scaled_dimensions(width, height)
        return CT_Inline.new_pic_inline(self.compiled.next_shape_id, rid, "image.png", cx, cy)

    def __getattr__(self, name):  # anything else a picture wants (a hyperlink, ...): docxtpl's path
        raise Unsupported(f"current_rendering_part.{name}")


class FastTemplate:
    """Stands in for the DocxTemplate given to ``render_docx``'s ``images`` callback.

    ``InlineImage(tpl, ...)`` only keeps ``tpl`` and, while the body renders, calls
    ``tpl.current_rendering_part.new_pic_inline``. Any other use of the template (``new_subdoc``,
    ``build_url_id``, ``.docx`` ...) turns this render over to docxtpl: ``real()`` then holds the
    DocxTemplate, and every later call, the pictures' included, goes to it."""

    def __init__(self, compiled: Compiled, make_real) -> None:
        self._compiled = compiled
        self._make_real = make_real
        self._real = None
        self.pictures = Pictures(compiled)
        self.rendering: str | None = None  # the part being rendered on the fast path

    def real(self):
        return self._real

    def go_real(self):
        if self._real is None:
            self._real = self._make_real()
        return self._real

    @property
    def current_rendering_part(self):
        if self._real is not None:
            return self._real.current_rendering_part
        if self.rendering != "body":
            raise Unsupported("a picture outside the body")
        return self.pictures

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.go_real(), name)
