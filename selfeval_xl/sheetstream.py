"""The rows of a big sheet written as SpreadsheetML text, spliced into a package openpyxl saved.

openpyxl's write-only mode still makes a cell object, a style lookup and an lxml element per
cell: for 汇总.xlsx of 2,000 projects (~250,000 cells) that was ~70 % of the time. Here the rows
of the big sheets are written as text into a temporary file as they come (memory stays flat);
openpyxl still writes everything else - styles (each look registered once, ``style_id``), the
header row with its comments, panes, filter, print setup - and ``splice`` puts the rows and
their hyperlinks into the saved package. Cells are what ``cells.put`` makes: text is always an
inline string (never a formula), ``= + - @`` starts carry the quote-prefix style the caller
chose, illegal XML characters are dropped and text is cut at Excel's cell limit.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

from .cells import ILLEGAL_CHARACTERS_RE, MAX_TEXT
from .grids import col_letter

_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_LINK_TYPE = _R + "/hyperlink"
# CT_Worksheet children that follow <hyperlinks> (ECMA-376 Part 1, 18.3.1.99): the links go before the first.
_AFTER_LINKS = ("<printOptions", "<pageMargins", "<pageSetup", "<headerFooter", "<rowBreaks", "<colBreaks",
                "<customProperties", "<cellWatches", "<ignoredErrors", "<smartTags", "<drawing", "<legacyDrawing",
                "<legacyDrawingHF", "<picture", "<oleObjects", "<controls", "<webPublishItems", "<tableParts",
                "<extLst", "</worksheet>")


class Cell(NamedTuple):
    """One cell to stream: its value, style index (0 = none), and an external link (+ location)."""

    value: object
    style: int = 0
    link: str | None = None
    location: str | None = None


class StreamedRows:
    """Rows after the header, as ``<row>`` text in a temporary file, and their hyperlinks."""

    def __init__(self, ncols: int, first_row: int = 2):
        self.letters = [col_letter(i) for i in range(1, ncols + 1)]
        self.next_row = first_row
        self.body = tempfile.TemporaryFile()
        self.links = tempfile.TemporaryFile()  # <hyperlink> elements
        self.rels = tempfile.TemporaryFile()  # their <Relationship> elements
        self.nlinks = 0
        self._links: list[str] = []  # buffered: a write per link would compress per call
        self._rels: list[str] = []

    def append(self, cells: list[Cell | None]) -> None:
        r = self.next_row
        out = [f'<row r="{r}">']
        for letter, c in zip(self.letters, cells):
            if c is None:
                continue
            xml = _cell(f"{letter}{r}", c.value, c.style)
            if xml:
                out.append(xml)
            if c.link:
                self._link(f"{letter}{r}", c.link, c.location)
        out.append("</row>")
        self.body.write("".join(out).encode("utf-8"))
        self.next_row += 1

    @property
    def rows(self) -> int:
        """Rows written, the header included."""
        return self.next_row - 1

    def _link(self, ref: str, target: str, location: str | None) -> None:
        self.nlinks += 1
        rid = f"rStreamLink{self.nlinks}"
        loc = f" location={quoteattr(location)}" if location else ""
        self._links.append(f'<hyperlink ref="{ref}" r:id="{rid}"{loc}/>')
        self._rels.append(f'<Relationship Id="{rid}" Type="{_LINK_TYPE}" Target={quoteattr(target)} TargetMode="External"/>')
        if len(self._links) >= 2000:
            self.flush()

    def flush(self) -> None:
        self.links.write("".join(self._links).encode("utf-8"))
        self.rels.write("".join(self._rels).encode("utf-8"))
        self._links.clear()
        self._rels.clear()

    def close(self) -> None:
        for f in (self.body, self.links, self.rels):
            f.close()


def _cell(ref: str, value, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        if value != value or value in (float("inf"), float("-inf")):
            return f'<c r="{ref}"{s}/>' if style else ""
        return f'<c r="{ref}"{s} t="n"><v>{value!r}</v></c>'
    text = str(value)
    if ILLEGAL_CHARACTERS_RE.search(text):
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
    if not text:  # nothing left a workbook can hold
        return f'<c r="{ref}"{s}/>' if style else ""
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        text = escape(text, {"\r": "&#13;"})  # a bare CR would be read back as LF
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def splice(path: Path, sheets: dict[str, StreamedRows]) -> None:
    """Put each sheet's streamed rows after its header row, and its hyperlinks, into the
    package at ``path`` (rewritten in place through a temporary file beside it)."""
    from .ooxml import rels_name, sheet_parts

    path = Path(path)
    for rows in sheets.values():
        rows.flush()
    with zipfile.ZipFile(path) as zin:
        parts = sheet_parts(zin)
        by_part = {parts[name]: rows for name, rows in sheets.items()}
        rels_of = {rels_name(part): part for part in by_part}
        fd, tmp = tempfile.mkstemp(prefix=".~splice-", suffix=".xlsx", dir=path.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
                names = zin.namelist()
                for info in zin.infolist():
                    if info.filename in by_part:
                        _write_sheet(zout, info.filename, zin.read(info).decode("utf-8"), by_part[info.filename])
                    elif info.filename in rels_of:
                        _write_rels(zout, info.filename, zin.read(info).decode("utf-8"), by_part[rels_of[info.filename]])
                    else:
                        zout.writestr(info, zin.read(info))
                for rels, part in rels_of.items():
                    if rels not in names and by_part[part].nlinks:
                        _write_rels(zout, rels, None, by_part[part])
            shutil.copymode(path, tmp)  # mkstemp's 0600 would replace the mode the caller chose
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _write_sheet(zout: zipfile.ZipFile, name: str, xml: str, rows: StreamedRows) -> None:
    """openpyxl's sheet part with the streamed rows before ``</sheetData>`` and, when there are
    links, ``<hyperlinks>`` where CT_Worksheet's order puts it."""
    end = xml.index("</sheetData>")
    at = end
    if rows.nlinks:
        if "<hyperlinks" in xml:  # the header row (openpyxl's part) never has links
            raise ValueError(f"{name} already has hyperlinks")
        at = min(i for i in (xml.find(tag, end) for tag in _AFTER_LINKS) if i >= 0)
    with zout.open(name, "w", force_zip64=True) as out:
        out.write(xml[:end].encode("utf-8"))
        rows.body.seek(0)
        shutil.copyfileobj(rows.body, out)
        out.write(xml[end:at].encode("utf-8"))
        if rows.nlinks:
            out.write(f'<hyperlinks xmlns:r="{_R}">'.encode("utf-8"))
            rows.links.seek(0)
            shutil.copyfileobj(rows.links, out)
            out.write(b"</hyperlinks>")
        out.write(xml[at:].encode("utf-8"))


def _write_rels(zout: zipfile.ZipFile, name: str, xml: str | None, rows: StreamedRows) -> None:
    xml = xml or '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
    end = xml.rindex("</Relationships>")
    with zout.open(name, "w", force_zip64=True) as out:
        out.write(xml[:end].encode("utf-8"))
        rows.rels.seek(0)
        shutil.copyfileobj(rows.rels, out)
        out.write(xml[end:].encode("utf-8"))
