"""Taking external links out of an OpenDocument spreadsheet before LibreOffice converts it.

LibreOffice follows what an .ods points at while loading it: a linked image or object
(``xlink:href="http://..."`` or ``file:///etc/...``) is fetched, a linked sheet
(``table:table-source``), a cell-range source or a DDE link pulls in another file, and the
conversion embeds the result - which mail would then send back to the author. Only targets
inside the package (``Pictures/...``, ``./Object 1``) are kept; hyperlinks in text
(``text:a``) are not fetched and stay.
"""
from __future__ import annotations

import io
import re
import zipfile

from lxml import etree

XLINK = "http://www.w3.org/1999/xlink"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
# Elements that make LibreOffice load another document or data source: removed whole.
_SOURCES = {(TABLE, "table-source"), (TABLE, "cell-range-source"), (TABLE, "dde-links"), (TABLE, "dde-source"),
            (OFFICE, "dde-source"), (TEXT, "section-source"), (TABLE, "database-ranges"), (TABLE, "data-pilot-tables")}
# Elements whose xlink:href is only followed on a click: kept as they are.
_CLICK_ONLY = {(TEXT, "a"), ("urn:oasis:names:tc:opendocument:xmlns:drawing:1.0", "a"),
               ("urn:oasis:names:tc:opendocument:xmlns:presentation:1.0", "event-listener"),
               ("urn:oasis:names:tc:opendocument:xmlns:script:1.0", "event-listener")}
_PARTS = ("content.xml", "styles.xml", "settings.xml")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//|^/|^\\\\|^\.\./")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def is_external(href: str) -> bool:
    """A target outside the package: any URL scheme, an absolute or UNC path, or ``../``."""
    return bool(_SCHEME.match(href.strip()))


def without_external_links(data: bytes) -> bytes:
    """The .ods ``data`` with every fetched external reference removed (``data`` itself when
    there is none); not a zip: returned unchanged (the converter will refuse it)."""
    try:
        zin = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return data
    with zin:
        edited = {}
        for name in _PARTS:
            if name in zin.namelist():
                fixed = _strip(zin.read(name))
                if fixed is not None:
                    edited[name] = fixed
        if not edited:
            return data
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zout:
            for info in zin.infolist():
                body = edited.get(info.filename, zin.read(info))
                # mimetype stays first and stored, as ODF requires
                method = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
                zout.writestr(zipfile.ZipInfo(info.filename, date_time=info.date_time), body, compress_type=method)
        return buf.getvalue()


def _strip(xml: bytes) -> bytes | None:
    """The part without external sources and links, or None when it had none."""
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError:
        return None
    changed = False
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        q = etree.QName(el)
        key = (q.namespace, q.localname)
        if key in _SOURCES:
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)
                changed = True
            continue
        href = el.get(f"{{{XLINK}}}href")
        if href is None or key in _CLICK_ONLY or not is_external(href):
            continue
        parent = el.getparent()
        if q.localname in ("image", "object", "object-ole", "plugin", "applet", "frame") and parent is not None:
            parent.remove(el)  # a frame whose only content was the linked image stays empty
        else:
            del el.attrib[f"{{{XLINK}}}href"]
        changed = True
    for el in root.iter(f"{{{TABLE}}}table"):  # a linked sheet also carries its link mode on the table
        for attr in [a for a in el.attrib if a.startswith(f"{{{TABLE}}}") and "link" in a]:
            del el.attrib[attr]
            changed = True
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8") if changed else None
