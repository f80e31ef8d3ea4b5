"""One worksheet part, edited in place: cells appended to their rows, columns, merges, validations.

The sheet is parsed with lxml and written back as the same tree: rows and cells we do not
touch keep every attribute, prefix and child (shared formulas, rows without ``r``, x14
extensions ...). Cells we add always carry ``r``; a following sibling that relies on its
position (no ``r``) is given its ``r`` first, so nothing moves.
"""
from __future__ import annotations

import re

from lxml import etree

from . import ns_of, parse, serialize

MAX_COL = 16384
MAX_ROW = 1048576
# CT_Worksheet child order (ECMA-376 Part 1, 18.3.1.99)
WORKSHEET_ORDER = (
    "sheetPr", "dimension", "sheetViews", "sheetFormatPr", "cols", "sheetData", "sheetCalcPr", "sheetProtection",
    "protectedRanges", "scenarios", "autoFilter", "sortState", "dataConsolidate", "customSheetViews", "mergeCells",
    "phoneticPr", "conditionalFormatting", "dataValidations", "hyperlinks", "printOptions", "pageMargins",
    "pageSetup", "headerFooter", "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors",
    "smartTags", "drawing", "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls",
    "webPublishItems", "tableParts", "extLst",
)
_REF = re.compile(r"\$?([A-Za-z]{1,3})\$?(\d+)")
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FORMULA_START = ("=", "+", "-", "@")
MAX_TEXT = 32_767


def col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


from ..grids import col_letter  # noqa: E402,F401 - one definition (grids imports no lxml)


def split_ref(coord: str) -> tuple[int, int] | None:
    """``G155`` -> (155, 7); None for anything else."""
    m = _REF.fullmatch((coord or "").strip())
    return (int(m.group(2)), col_number(m.group(1))) if m else None


def range_bounds(ref: str) -> tuple[int, int, int, int] | None:
    """``A1:G3`` / ``A:C`` / ``3:5`` / ``B2`` -> (r1, c1, r2, c2)."""
    a, _, b = (ref or "").replace("$", "").strip().partition(":")
    b = b or a
    ma, mb = re.fullmatch(r"([A-Za-z]{0,3})(\d*)", a), re.fullmatch(r"([A-Za-z]{0,3})(\d*)", b)
    if not ma or not mb or not (ma.group(0) and mb.group(0)):
        return None
    c1 = col_number(ma.group(1)) if ma.group(1) else 1
    c2 = col_number(mb.group(1)) if mb.group(1) else MAX_COL
    r1 = int(ma.group(2)) if ma.group(2) else 1
    r2 = int(mb.group(2)) if mb.group(2) else MAX_ROW
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def clean_text(text: str) -> str:
    return _ILLEGAL.sub("", text)[:MAX_TEXT]


class Worksheet:
    def __init__(self, data: bytes):
        self.root = parse(data)
        self.ns = ns_of(self.root)
        self.data = self.child("sheetData", create=True)
        self._rows: dict[int, etree._Element] | None = None
        self._cells: dict[int, list[tuple[int, etree._Element]]] = {}  # id(row) -> its cells, until edited
        self._merges: list[tuple[int, int, int, int]] | None = None

    # ---------------------------------------------------------------- elements

    def q(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"

    def child(self, local: str, create: bool = False) -> etree._Element | None:
        el = self.root.find(self.q(local))
        if el is None and create:
            el = etree.Element(self.q(local))
            self.insert(el)
        return el

    def insert(self, el: etree._Element) -> etree._Element:
        """Put a top-level element where CT_Worksheet's sequence wants it."""
        local = etree.QName(el).localname
        pos = WORKSHEET_ORDER.index(local)
        for other in self.root:
            if isinstance(other.tag, str) and etree.QName(other).localname in WORKSHEET_ORDER[pos + 1:]:
                other.addprevious(el)
                return el
        self.root.append(el)
        return el

    # ---------------------------------------------------------------- rows and cells

    def rows(self) -> dict[int, etree._Element]:
        if self._rows is None:
            self._rows, n = {}, 0
            for row in self.data.iterchildren(self.q("row")):
                n = _int(row.get("r"), n + 1)
                self._rows[n] = row
        return self._rows

    def cells(self, row_el: etree._Element) -> list[tuple[int, etree._Element]]:
        """(column, element) of a row's cells, by ``r`` or by position after the previous one."""
        cached = self._cells.get(id(row_el))
        if cached is not None and cached[0] is row_el:
            return cached[1]
        out, n = [], 0
        for c in row_el.iterchildren(self.q("c")):
            ref = c.get("r")
            if ref:
                letters = ref.rstrip("0123456789").lstrip("$").rstrip("$")
                n = col_number(letters) if letters.isalpha() and len(letters) <= 3 else n + 1
            else:
                n += 1
            out.append((n, c))
        self._cells[id(row_el)] = (row_el, out)
        return out

    def _edited(self, row_el) -> None:
        self._cells.pop(id(row_el), None)

    def row(self, r: int, create: bool = True) -> etree._Element | None:
        rows = self.rows()
        if r in rows or not create:
            return rows.get(r)
        el = etree.Element(self.q("row"), r=str(r))
        after = [n for n in rows if n > r]
        if after:
            nxt = rows[min(after)]
            self._pin_rows_from(nxt)
            nxt.addprevious(el)
        else:
            self.data.append(el)
        rows[r] = el
        return el

    def _pin_rows_from(self, row_el) -> None:
        """Give ``row_el`` and its following rows their ``r`` before a row is put in front."""
        number = {id(el): n for n, el in self.rows().items()}
        el = row_el
        while el is not None:
            if isinstance(el.tag, str) and el.get("r") is None and id(el) in number:
                el.set("r", str(number[id(el)]))
            el = el.getnext()

    def cell(self, r: int, c: int) -> etree._Element | None:
        row = self.row(r, create=False)
        if row is None:
            return None
        return next((el for n, el in self.cells(row) if n == c), None)

    def put(self, r: int, c: int, value, style: int | None) -> etree._Element:
        """Write ``value`` (str -> inline string, always text; number; None -> styled empty) at (r, c)."""
        row = self.row(r)
        cells = self.cells(row)
        old = next((el for n, el in cells if n == c), None)
        el = etree.Element(self.q("c"), r=f"{col_letter(c)}{r}")
        if style:
            el.set("s", str(style))
        if isinstance(value, str):
            el.set("t", "inlineStr")
            is_ = etree.SubElement(el, self.q("is"))
            t = etree.SubElement(is_, self.q("t"))
            t.text = clean_text(value)
            if t.text != t.text.strip() or "\n" in t.text:
                t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        elif value is not None:
            etree.SubElement(el, self.q("v")).text = _number(value)
        if old is not None:
            row.replace(old, el)
            cells[:] = [(n, el if e is old else e) for n, e in cells]
            return el
        at = next((i for i, (n, _) in enumerate(cells) if n > c), None)
        if at is None:
            row.append(el)
            cells.append((c, el))
        else:
            for n, e in cells[at:]:
                if e.get("r") is None:
                    e.set("r", f"{col_letter(n)}{r}")
            cells[at][1].addprevious(el)
            cells.insert(at, (c, el))
        _widen_spans(row, c)
        return el

    def remove_columns(self, first: int, last: int) -> None:
        """Delete every cell, merge, validation and column width wholly inside first..last."""
        for r, row in self.rows().items():
            for n, el in self.cells(row):
                if first <= n <= last:
                    nxt = el.getnext()
                    if nxt is not None and nxt.get("r") is None and etree.QName(nxt).localname == "c":
                        nxt.set("r", f"{col_letter(n + 1)}{r}")  # keeps its place
                    row.remove(el)
                    self._edited(row)
        self._merges = None
        merges = self.child("mergeCells")
        if merges is not None:
            for m in list(merges):
                b = range_bounds(m.get("ref") or "")
                if b and first <= b[1] and b[3] <= last:
                    merges.remove(m)
            _recount(merges, self.q("mergeCell"))
        dvs = self.child("dataValidations")
        if dvs is not None:
            for dv in list(dvs):
                bounds = [range_bounds(x) for x in (dv.get("sqref") or "").split()]
                if bounds and all(b and first <= b[1] and b[3] <= last for b in bounds):
                    dvs.remove(dv)
            if not len(dvs):
                self.root.remove(dvs)
            else:
                _recount(dvs, self.q("dataValidation"))
        self.set_width(first, last, None)

    def text(self, el: etree._Element, sst: list[str]) -> str:
        t = el.get("t")
        if t == "inlineStr":
            is_ = el.find(self.q("is"))
            return "".join(x.text or "" for x in is_.iter(self.q("t"))) if is_ is not None else ""
        v = el.find(self.q("v"))
        if v is None or v.text is None:
            return ""
        if t == "s":
            try:
                return sst[int(v.text)]
            except (ValueError, IndexError):
                return ""
        return v.text

    def style(self, el: etree._Element | None) -> int:
        return _int(el.get("s"), 0) if el is not None else 0

    # ---------------------------------------------------------------- ranges

    def merges(self) -> list[tuple[int, int, int, int]]:
        if self._merges is None:
            merges = self.child("mergeCells")
            self._merges = []
            for m in merges if merges is not None else []:
                b = range_bounds(m.get("ref") or "") if isinstance(m.tag, str) else None
                if b:
                    self._merges.append(b)
        return self._merges

    def add_merge(self, r1: int, c1: int, r2: int, c2: int) -> None:
        merges = self.child("mergeCells", create=True)
        etree.SubElement(merges, self.q("mergeCell"), ref=f"{col_letter(c1)}{r1}:{col_letter(c2)}{r2}")
        self._merges = None
        _recount(merges, self.q("mergeCell"))

    def last_used_column(self) -> int:
        """The rightmost column anything on the sheet occupies: any cell (with or without a
        value), merges, validations and conditional formats (also the x14 ones in extLst),
        the autofilter. Ranges reaching the last column (whole-row formats) do not count:
        they apply to any column we add."""
        cols = [0]
        for row in self.rows().values():
            cells = self.cells(row)
            if cells:
                cols.append(max(n for n, _ in cells))
        refs = [m.get("ref") for m in self.root.iter(self.q("mergeCell"))]
        refs += [a.get("ref") for a in self.root.iter(self.q("autoFilter"))]
        for el in self.root.iter(self.q("dataValidation"), self.q("conditionalFormatting")):
            refs += (el.get("sqref") or "").split()
        for el in self.root.iter("{http://schemas.microsoft.com/office/excel/2006/main}sqref"):
            refs += (el.text or "").split()
        for ref in refs:
            b = range_bounds(ref or "")
            if b and b[3] < MAX_COL:
                cols.append(b[3])
        return max(cols)

    # ---------------------------------------------------------------- columns

    def widths(self) -> dict[int, float]:
        out = {}
        cols = self.child("cols")
        for col in cols if cols is not None else []:
            if not isinstance(col.tag, str) or not col.get("width"):
                continue
            lo, hi = _int(col.get("min"), 1), _int(col.get("max"), 1)
            for c in range(lo, min(hi, lo + 1000) + 1):
                out[c] = float(col.get("width"))
        return out

    def default_width(self) -> float:
        fmt = self.child("sheetFormatPr")
        if fmt is not None and fmt.get("defaultColWidth"):
            return float(fmt.get("defaultColWidth"))
        base = float(fmt.get("baseColWidth")) if fmt is not None and fmt.get("baseColWidth") else 8
        return base + 0.71

    def set_width(self, first: int, last: int, width: float | None) -> None:
        """Columns first..last get ``width`` (None: back to default); other ranges are split around them."""
        cols = self.child("cols", create=width is not None)
        if cols is None:
            return
        for col in list(cols):
            if not isinstance(col.tag, str):
                continue
            lo, hi = _int(col.get("min"), 1), _int(col.get("max"), 1)
            if hi < first or lo > last:
                continue
            if lo < first:
                left = _copy(col)
                left.set("max", str(first - 1))
                col.addprevious(left)
            if hi > last:
                right = _copy(col)
                right.set("min", str(last + 1))
                col.addnext(right)
            cols.remove(col)
        if width is not None:
            new = etree.Element(self.q("col"), min=str(first), max=str(last), width=_number(width), customWidth="1")
            after = [c for c in cols if isinstance(c.tag, str) and _int(c.get("min"), 1) > last]
            if after:
                after[0].addprevious(new)
            else:
                cols.append(new)
        if not len(cols):
            self.root.remove(cols)

    # ---------------------------------------------------------------- validations, dimension

    def add_list_validation(self, sqref: str, items: tuple[str, ...], prompt: str) -> None:
        """A dropdown that still accepts other input (no error alert): the reviewer may type a number."""
        dvs = self.child("dataValidations", create=True)
        dv = etree.SubElement(dvs, self.q("dataValidation"), type="list", allowBlank="1", showInputMessage="1",
                              showErrorMessage="0", promptTitle=prompt[:32], prompt=prompt[:255], sqref=sqref)
        etree.SubElement(dv, self.q("formula1")).text = '"' + ",".join(items) + '"'
        _recount(dvs, self.q("dataValidation"))

    def widen_dimension(self, last_col: int) -> None:
        dim = self.child("dimension")
        b = range_bounds(dim.get("ref") or "") if dim is not None else None
        if b and b[3] < last_col:
            dim.set("ref", f"{col_letter(b[1])}{b[0]}:{col_letter(last_col)}{b[2]}")

    def to_bytes(self) -> bytes:
        return serialize(self.root)


def _copy(el):
    import copy

    return copy.deepcopy(el)


def _recount(parent, tag) -> None:
    if parent.get("count") is not None:
        parent.set("count", str(len(parent.findall(tag))))


def _widen_spans(row, col: int) -> None:
    """``spans`` is an optimisation hint (first:last column of the row): keep it true."""
    spans = row.get("spans")
    if not spans:
        return
    parts = spans.split()
    lo, _, hi = parts[-1].partition(":")
    if _int(hi, 0) < col:
        parts[-1] = f"{lo}:{col}"
        row.set("spans", " ".join(parts))


def _number(x) -> str:
    f = float(x)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else repr(f)


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
