"""Taking external links out of a binary Office file (.xls/.et, .doc/.wps) before LibreOffice converts it.

Measured with LibreOffice 7.4 headless (tests/test_office_links.py):
- .doc/.wps: a linked picture (an ``INCLUDEPICTURE "http://…"`` field) is fetched while the
  document loads - the author learns who opened it and when, and a ``file:`` target would be
  read from the reviewer's disk. The field codes that load something (INCLUDEPICTURE,
  INCLUDETEXT, LINK, IMPORT, DDE, DDEAUTO, DATABASE) have their target overwritten, and the
  same target wherever else it is written (the picture's own link in the Data stream).
- .xls/.et: an external reference (a SUPBOOK record naming another workbook, a URL or a DDE
  server) is not fetched by the conversion, but it comes out as an externalLink of the
  converted workbook, which Excel offers to update when the reviewer opens the reviewed copy.
  The SUPBOOK's path is overwritten.

The bytes are edited in place and keep their length (the compound file's sectors and every
offset stay valid): a target becomes underscores, a relative name that resolves to nothing.
Only a copy is edited - inputs are never modified. Hyperlinks (followed only on a click) stay.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

# Field codes whose target LibreOffice or Word loads while opening the document.
LOADING_FIELDS = ("INCLUDEPICTURE", "INCLUDETEXT", "LINK", "IMPORT", "DDE", "DDEAUTO", "DATABASE")
_FIELD_16 = re.compile(rb"\x13\x00((?:[^\x13\x14\x15]\x00|[^\x00][^\x00])+?)(?=\x14\x00|\x15\x00)", re.S)
_FIELD_8 = re.compile(rb"\x13([^\x00\x13\x14\x15]+?)(?=[\x14\x15])")
_KEYWORD = re.compile(r"^\s*(" + "|".join(LOADING_FIELDS) + r")\b\s*", re.I)
SUPBOOK = 0x01AE
_SELF, _ADDIN = 0x0401, 0x3A01  # SUPBOOK cch markers: this workbook, add-in functions


def strip_doc(path: Path) -> list[str]:
    """Overwrite the targets of loading fields in the Word binary file at ``path`` (a copy);
    returns the targets removed (empty: the file was not touched)."""
    import olefile

    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        if not ole.exists("WordDocument"):
            return []
        doc = bytearray(ole.openstream("WordDocument").read())
        targets = _field_targets(bytes(doc))
        if not targets:
            return []
        streams = {"WordDocument": doc}
        for name in ("Data", "1Table", "0Table"):
            if ole.exists(name):
                streams[name] = bytearray(ole.openstream(name).read())
        for data in streams.values():
            for target in targets:
                for enc in ("utf-16-le", "latin-1", "gbk"):
                    try:
                        raw = target.encode(enc)
                    except UnicodeEncodeError:
                        continue
                    _overwrite(data, raw, enc)
        for name, data in streams.items():
            ole.write_stream(name, bytes(data))
    return targets


def _field_targets(doc: bytes) -> list[str]:
    found: list[str] = []
    for pattern, enc in ((_FIELD_16, "utf-16-le"), (_FIELD_8, "gbk")):
        for m in pattern.finditer(doc):
            try:
                code = m.group(1).decode(enc)
            except UnicodeDecodeError:
                continue
            head = _KEYWORD.match(code)
            if not head:
                continue
            rest = code[head.end():]
            quoted = re.search(r'"([^"]+)"', rest)  # LINK/DDE name a class or server first, then the "file"
            tokens = [t for t in rest.split() if not t.startswith("\\") or t.startswith("\\\\")]
            target = quoted.group(1) if quoted else (tokens[0] if tokens else "")
            if target and target not in found:
                found.append(target)
    return found


def _overwrite(data: bytearray, raw: bytes, enc: str) -> None:
    blank = ("_" * (len(raw) // (2 if enc == "utf-16-le" else 1))).encode("utf-16-le" if enc == "utf-16-le" else "latin-1")
    if len(blank) != len(raw):  # a multi-byte GBK target: blank it byte for byte
        blank = b"_" * len(raw)
    start = data.find(raw)
    while start >= 0:
        data[start:start + len(raw)] = blank
        start = data.find(raw, start + len(raw))


def strip_xls(path: Path) -> list[str]:
    """Overwrite the paths of external SUPBOOK records in the BIFF8 workbook at ``path`` (a
    copy); returns the targets removed, as readable paths (empty: not touched)."""
    import olefile

    with olefile.OleFileIO(str(path), write_mode=True) as ole:
        name = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
        if name is None:
            return []
        stream = bytearray(ole.openstream(name).read())
        removed = []
        pos = 0
        while pos + 4 <= len(stream):
            typ, size = struct.unpack_from("<HH", stream, pos)
            body = pos + 4
            if body + size > len(stream):  # a truncated last record: nothing more to read
                break
            if typ == SUPBOOK and size >= 5:
                target = _blank_supbook(stream, body, size)
                if target:
                    removed.append(target)
            pos = body + size
        if removed:
            ole.write_stream(name, bytes(stream))
    return removed


def _blank_supbook(stream: bytearray, body: int, size: int) -> str | None:
    """Blank an external SUPBOOK's virtual path in place; its readable form, or None."""
    cch = struct.unpack_from("<H", stream, body + 2)[0]
    if cch in (_SELF, _ADDIN) or cch == 0:
        return None
    flags = stream[body + 4]
    width = 2 if flags & 1 else 1
    start, end = body + 5, body + 5 + cch * width
    if end > body + size:  # continued in a CONTINUE record: blank what this record holds
        end = body + size - (body + size - start) % width
    raw = bytes(stream[start:end])
    text = raw.decode("utf-16-le" if width == 2 else "latin-1", "replace")
    stream[start:end] = ("_" * ((end - start) // width)).encode("utf-16-le" if width == 2 else "latin-1")
    return readable_path(text)


def readable_path(virtual: str) -> str:
    r"""A BIFF8 encoded path (MS-XLS VirtualPath: ``\x01`` then ``\x01C`` drive, ``\x01@`` UNC,
    ``\x02`` root, ``\x03`` folder, ``\x04`` up, ``\x05`` + length + a URL) as a reader writes it."""
    if not virtual.startswith("\x01"):
        return "".join(c for c in virtual if c >= " ")
    if virtual[1:2] == "\x05" and len(virtual) > 2:
        return virtual[3:3 + ord(virtual[2])]
    out, i = [], 1
    while i < len(virtual):
        c = virtual[i]
        if c == "\x01":
            drive = virtual[i + 1:i + 2]
            out.append("\\\\" if drive == "@" else f"{drive}:\\")
            i += 2
            continue
        out.append({"\x02": "\\", "\x03": "\\", "\x04": "..\\"}.get(c, c if c >= " " else ""))
        i += 1
    return "".join(out)
