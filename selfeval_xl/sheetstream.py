"""The data rows of a big sheet, streamed as SpreadsheetML into a workbook openpyxl wrote.

openpyxl (even write-only, with cached styles) spends ≈ 25 µs per cell binding and
serialising cell objects; 汇总.xlsx for 2,000 projects has ≈ 250,000. So openpyxl writes the
workbook with only the header row of the big sheets (styles, comments, widths, frozen panes,
autofilter, print setup, print titles: everything but the data), and ``splice`` copies that
package into the target, writing each big sheet's ``<row>`` elements as strings straight into
its zip member and its hyperlinks (one relationship per distinct target) where the schema puts
them: CT_Worksheet's ``hyperlinks`` come after ``autoFilter`` … ``dataValidations`` and before
``printOptions``. Memory is one chunk of rows, whatever the number of rows.

A cell is ``None`` / ``""`` (blank), a value (plain look), or ``Cell(value, look, link,
location)``. Text is written as an inline string like openpyxl's write-only mode does, cleaned as
``cells.put`` cleans it (characters a workbook cannot hold dropped, at most ``MAX_TEXT``), and a
string starting with ``= + - @`` gets the look's quotePrefix twin (Excel's hidden apostrophe):
nothing is ever written as a formula.
"""
from __future__ import annotations

import math
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO, Iterable, NamedTuple

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from .cells import FORMULA_START, MAX_TEXT

CHUNK_ROWS = 200  # rows joined into one write to the zip member (≈ 300 KB)
REL_HYPERLINK = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
# CT_Worksheet children that come after <hyperlinks>: the first one present is where they go
AFTER_HYPERLINKS = ("<printOptions", "<pageMargins", "<pageSetup", "<headerFooter", "<rowBreaks", "<colBreaks",
                    "<customProperties", "<cellWatches", "<ignoredErrors", "<smartTags", "<drawing",
                    "<legacyDrawing", "<legacyDrawingHF", "<drawingHF", "<picture", "<oleObjects", "<controls",
                    "<webPublishItems", "<tableParts", "<extLst", "</worksheet>")


class Look(NamedTuple):
    """A cell format registered once in the workbook: its xf index, and the index of the same
    format with quotePrefix (for text that starts like a formula)."""

    xf: int
    quoted: int


class Cell(NamedTuple):
    value: object
    look: Look | None = None
    link: str | None = None
    location: str | None = None


def style_cell(c, *, font=None, fill=None, alignment=None, number_format: str | None = None) -> None:
    """Give an openpyxl cell the parts of a format that are set (None: left as it is)."""
    if font is not None:
        c.font = font
    if fill is not None:
        c.fill = fill
    if alignment is not None:
        c.alignment = alignment
    if number_format:
        c.number_format = number_format


def register(ws, *, font=None, fill=None, alignment=None, number_format: str | None = None) -> Look:
    """The xf indices of one format in the workbook of ``ws`` (openpyxl, not yet saved)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles.cell_style import StyleArray

    ids = []
    for quote in (False, True):
        c = WriteOnlyCell(ws)
        style_cell(c, font=font, fill=fill, alignment=alignment, number_format=number_format)
        if quote:
            c.quotePrefix = True
        style = c._style if c._style is not None else StyleArray()
        ids.append(ws.parent._cell_styles.add(style))  # what openpyxl's Cell.style_id does at save
    return Look(*ids)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attr(text: str) -> str:
    return _escape(text).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


_NEEDS_CLEAN = ILLEGAL_CHARACTERS_RE
# text that cannot go into <t> as it is: markup characters, characters a workbook cannot hold,
# leading or trailing whitespace (xml:space)
_SLOW_TEXT = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f]|^\s|\s\Z")


@dataclass
class SheetRows:
    """The data rows of one big sheet: ``title`` is the sheet's name in the workbook; ``rows``
    yields lists of cells, written from row 2 on."""

    title: str
    ncols: int
    rows: Iterable[list]
    # the look of bare values: pass register(ws) so that formula-like text gets quotePrefix (without
    # it such text is still an inline string, never a formula, but Excel's apostrophe is missing)
    plain: Look = Look(0, 0)


class _Writer:
    def __init__(self, sheet: SheetRows) -> None:
        self.sheet = sheet
        self.letters = [get_column_letter(i) for i in range(1, sheet.ncols + 1)]
        # the <hyperlink> elements, spooled to disk as the rows are written (they follow sheetData)
        self.links = tempfile.TemporaryFile()
        self.pending: list[str] = []
        self.rels: dict[str, str] = {}  # target → rel id (one relationship per distinct target)

    def cell(self, ref: str, value, look: Look, link: str | None, location: str | None) -> str:
        if link:
            rid = self.rels.get(link)
            if rid is None:
                rid = self.rels[link] = f"rIdS{len(self.rels) + 1}"
            self.pending.append(f'<hyperlink ref="{ref}" r:id="{rid}"'
                                + (f' location="{_attr(location)}"/>' if location else "/>"))
        if value is None or value == "":
            return f'<c r="{ref}" s="{look.xf}"/>' if look.xf else ""
        if isinstance(value, str):
            if _NEEDS_CLEAN.search(value):
                value = _NEEDS_CLEAN.sub("", value)
            value = value[:MAX_TEXT]
            s = look.quoted if value.startswith(FORMULA_START) else look.xf
            space = ' xml:space="preserve"' if value[:1].isspace() or value[-1:].isspace() else ""
            style = f' s="{s}"' if s else ""
            return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'
        style = f' s="{look.xf}"' if look.xf else ""
        if hasattr(value, "item"):  # a numpy scalar
            value = value.item()
        if isinstance(value, bool):
            return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
        if isinstance(value, float) and not math.isfinite(value):
            return f'<c r="{ref}"{style}/>' if style else ""
        return f'<c r="{ref}"{style} t="n"><v>{value!r}</v></c>'

    def write_rows(self, out: IO[bytes]) -> int:
        """Write the rows; the number of the last row written (1 when there are none)."""
        letters, plain, cell = self.letters, self.sheet.plain, self.cell
        ps = f' s="{plain.xf}"' if plain.xf else ""
        n = 1
        chunk: list[str] = []
        for cells in self.sheet.rows:
            n += 1
            r = str(n)
            parts = [f'<row r="{r}">']
            for letter, c in zip(letters, cells):
                if c is None or c == "":
                    continue
                t = type(c)  # the fast paths: plain text needing no escaping, a plain number
                if t is str and len(c) <= MAX_TEXT and not _SLOW_TEXT.search(c) and not c.startswith(FORMULA_START):
                    parts.append(f'<c r="{letter}{r}"{ps} t="inlineStr"><is><t>{c}</t></is></c>')
                    continue
                if t is int or (t is float and math.isfinite(c)):
                    parts.append(f'<c r="{letter}{r}"{ps} t="n"><v>{c!r}</v></c>')
                    continue
                if t is Cell:
                    x = cell(letter + r, c.value, c.look or plain, c.link, c.location)
                else:
                    x = cell(letter + r, c, plain, None, None)
                if x:
                    parts.append(x)
            parts.append("</row>")
            chunk.append("".join(parts))
            if len(chunk) >= CHUNK_ROWS:
                self._flush(out, chunk)
        self._flush(out, chunk)
        return n

    def _flush(self, out: IO[bytes], chunk: list[str]) -> None:
        out.write("".join(chunk).encode("utf-8"))
        chunk.clear()
        if self.pending:
            self.links.write("".join(self.pending).encode("utf-8"))
            self.pending.clear()

    def write_hyperlinks(self, out: IO[bytes]) -> None:
        """The <hyperlinks> element (nothing when the rows have no link)."""
        if not self.links.tell():
            return
        out.write(f'<hyperlinks xmlns:r="{NS_R}">'.encode())
        self.links.seek(0)
        shutil.copyfileobj(self.links, out, 1 << 20)
        out.write(b"</hyperlinks>")

    def relationships(self, existing: bytes | None) -> bytes:
        rels = "".join(f'<Relationship Id="{rid}" Type="{REL_HYPERLINK}" Target="{_attr(target)}" TargetMode="External"/>'
                       for target, rid in self.rels.items())
        if existing is None:
            return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships '
                    'xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    + rels + "</Relationships>").encode("utf-8")
        text = existing.decode("utf-8")
        at = text.rindex("</Relationships>")
        return (text[:at] + rels + text[at:]).encode("utf-8")


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its part (``xl/worksheets/sheet1.xml``), from workbook.xml and its rels."""
    from defusedxml.ElementTree import fromstring

    rels = {r.get("Id"): r.get("Target") for r in fromstring(zf.read("xl/_rels/workbook.xml.rels"))}
    out = {}
    for sheet in fromstring(zf.read("xl/workbook.xml")).iter(f"{{{NS_MAIN}}}sheet"):
        target = rels[sheet.get(f"{{{NS_R}}}id")]
        out[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def _rels_name(path: str) -> str:
    folder, _, name = path.lstrip("/").rpartition("/")
    return f"{folder}/_rels/{name}.rels"


def splice(package: IO[bytes], target: IO[bytes] | str, sheets: list[SheetRows]) -> None:
    """Copy the openpyxl-written ``package`` into ``target`` with the rows of ``sheets``
    appended to their sheets' header rows (and their hyperlinks and relationships added)."""
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        parts = sheet_parts(src)
        by_part = {parts[s.title]: _Writer(s) for s in sheets}
        rels_of = {_rels_name(p): p for p in by_part}
        for name in names:
            if name in rels_of:
                continue  # after its sheet: the hyperlinks' relationships are known then
            data = src.read(name)
            w = by_part.get(name)
            if w is None:
                dst.writestr(name, data)
                continue
            text = data.decode("utf-8")
            at = text.index("</sheetData>")
            head, tail = text[:at], text[at:]
            cut = min(i for i in (tail.find(tag) for tag in AFTER_HYPERLINKS) if i >= 0)
            with dst.open(name, "w", force_zip64=True) as out, w.links:
                out.write(head.encode("utf-8"))
                w.write_rows(out)
                out.write(tail[:cut].encode("utf-8"))  # </sheetData> … the elements before <hyperlinks>
                w.write_hyperlinks(out)
                out.write(tail[cut:].encode("utf-8"))
        for part, w in by_part.items():
            rels = _rels_name(part)
            existing = src.read(rels) if rels in names else None
            if w.rels or existing is not None:
                dst.writestr(rels, w.relationships(existing) if w.rels else existing)

