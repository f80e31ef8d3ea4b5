"""Turn each sheet of a workbook into a ``Grid`` of values (after ``safety.sniff`` passed).

Reading is python-calamine: fast, and it reads xlsx/xlsm/xls/ods/et alike, with merged ranges
and cached formula values. On top of calamine: formulas Excel never computed, and the text a
percent/unit number format shows (numfmt). A Word document goes to word.py.
"""
from __future__ import annotations

import datetime as _dt
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .errors import ReadError
from .safety import DEFAULT_LIMITS, Limits, sheet_parts, short_error, sniff


def col_letter(col: int) -> str:
    """1-based column number -> letters (the one definition; ooxml.sheet uses it too; no openpyxl here, see safety)."""
    s = ""
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def ref(sheet: str, row: int, col: int) -> str:
    """``自评表!G14`` from a 1-based row and column."""
    return f"{sheet}!{col_letter(col)}{row}"


@dataclass
class Grid:
    """One sheet's values by 1-based (row, col), with merged ranges resolved."""

    name: str
    cells: dict[tuple[int, int], object]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r1, c1, r2, c2 (1-based)
    no_cached_value: set[tuple[int, int]] = field(default_factory=set)  # formulas Excel never computed
    # numbers whose number format changes their meaning (0.972 as 0.0%, 12 as 0"亩"):
    # (row, col) -> (format code, the text Excel shows); see numfmt; only cells whose format gives a percent or a unit
    shown: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    _owner: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for r1, c1, r2, c2 in self.merges:
            if (r2 - r1 + 1) * (c2 - c1 + 1) > 100_000:
                continue  # absurd merges from a hostile file: ignore rather than blow up
            for r in range(r1, r2 + 1):
                for c in range(c1, c2 + 1):
                    self._owner.setdefault((r, c), (r1, c1))

    @property
    def max_row(self) -> int:
        return max((r for r, _ in self.cells), default=0)

    @property
    def max_col(self) -> int:
        return max((c for _, c in self.cells), default=0)

    def anchor(self, row: int, col: int) -> tuple[int, int]:
        """The top-left cell of the merged range holding (row, col), or the cell itself."""
        return self._owner.get((row, col), (row, col))

    def span(self, row: int, col: int) -> tuple[int, int, int, int]:
        r, c = self.anchor(row, col)
        for m in self.merges:
            if m[0] == r and m[1] == c:
                return m
        return (row, col, row, col)

    def value(self, row: int, col: int) -> object:
        """The value shown at (row, col): a merged cell shows its anchor's value."""
        return self.cells.get(self.anchor(row, col), "")

    def text(self, row: int, col: int) -> str:
        return cell_text(self.value(row, col))

    def ref(self, row: int, col: int) -> str:
        r, c = self.anchor(row, col)
        return ref(self.name, r, c)


def cell_text(v: object) -> str:
    """A cell value as the text a person sees (numbers without a trailing .0)."""
    if v is None or v == "":
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return ""
        return format(Decimal(repr(v)).normalize(), "f") if v != int(v) or abs(v) < 1e15 else repr(v)
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.strftime("%Y年%m月%d日")
    return str(v).strip()


def _calamine_failed(exc: BaseException) -> bool:
    """An error of calamine on a bad file, including pyo3's PanicException (a Rust panic, e.g.
    a BIFF sheet offset past the end of the stream: "range start index 2147483647 out of
    range"). PanicException derives from BaseException, not Exception, so ``except Exception``
    let it escape the reader as a crash. (It is not importable: ``pyo3_runtime`` is synthetic.)"""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def load_grids(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[Grid]:
    """All visible worksheets of a workbook as Grids (after ``sniff`` passed); for a Word
    document its tables and 正文 (word.py)."""
    import python_calamine as pc

    name = str(path)
    kind = sniff(path, limits)
    if kind in ("docx", "doc"):
        from . import word

        return word.load_grids(Path(path), kind, limits)
    try:
        # by content, not by suffix (from_path picks the format from the extension): an .xlsx
        # saved or renamed as .xls/.ods was CORRUPT ("Invalid OLE signature") before
        with path.open("rb") as fh:
            wb = pc.CalamineWorkbook.from_filelike(fh)
    except BaseException as exc:  # calamine raises its own types and plain ones for bad files
        if not _calamine_failed(exc):
            raise
        raise ReadError("CORRUPT", f"无法解析工作簿（{short_error(exc)}）", name) from None
    grids = []
    try:
        for idx, meta in enumerate(wb.sheets_metadata):
            if str(getattr(meta, "typ", "")).endswith("ChartSheet"):
                continue
            sheet = wb.get_sheet_by_index(idx)
            if sheet.total_height > limits.max_rows or sheet.total_width > limits.max_cols:
                raise ReadError("TOO_LARGE", f"工作表“{meta.name}”有 {sheet.total_height} 行 × {sheet.total_width} 列，超过上限 {limits.max_rows} 行 × {limits.max_cols} 列", name)
            grids.append(_grid(meta.name, sheet, limits, name))
    except ReadError:
        raise
    except BaseException as exc:
        if not _calamine_failed(exc):
            raise
        raise ReadError("CORRUPT", f"读取工作表失败（{short_error(exc)}）", name) from None
    finally:
        wb.close()
    if kind == "zip" and path.suffix.lower() != ".ods":
        _mark_uncached_formulas(path, grids)
    if kind == "zip":
        _apply_number_formats(path, grids, limits)
    elif kind == "ole":
        _apply_biff_formats(path, grids)
    return grids


def _apply_biff_formats(path: Path, grids: list[Grid]) -> None:
    """The .xls/.et counterpart of ``_apply_number_formats`` (BIFF8 FORMAT/XF records)."""
    from . import numfmt

    try:
        import olefile

        with olefile.OleFileIO(str(path)) as ole:
            stream = next((s for s in ("Workbook", "Book") if ole.exists(s)), None)
            if stream is None:
                return
            data = ole.openstream(stream).read()
        formats = numfmt.biff_formats(data)
    except Exception:  # noqa: BLE001 - the values were read; a damaged format table only loses formats
        return
    _shown_from_formats({g.name: g for g in grids}, formats)


def _apply_number_formats(path: Path, grids: list[Grid], limits: Limits = DEFAULT_LIMITS) -> None:
    """Record what percent/unit-formatted numbers showed (.xlsx/.xlsm formats, .ods shown
    text; see ``numfmt``).

    The file passed ``sniff`` (DTD/entity refusal, size limits) before this runs; only numbers
    calamine read as numbers get a shown text, so a text cell stays exactly what was typed.
    """
    from . import numfmt

    by_name = {g.name: g for g in grids}
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "xl/workbook.xml" not in names and "content.xml" in names:
                for sheet, cells in numfmt.ods_shown(zf, set(by_name), limits.max_rows, limits.max_cols).items():
                    grid = by_name[sheet]
                    for rc, shown in cells.items():
                        v = grid.cells.get(rc)
                        if isinstance(v, (int, float)) and not isinstance(v, bool):
                            grid.shown[rc] = shown
                return
            parts = {name: part for name, part in sheet_parts(zf).items() if name in by_name}
            formats = numfmt.cell_formats(zf, parts)
    except (zipfile.BadZipFile, KeyError, OSError, zlib.error):
        return
    _shown_from_formats(by_name, formats)


def _shown_from_formats(by_name: dict[str, Grid], formats: dict[str, dict[tuple[int, int], str]]) -> None:
    from . import numfmt

    for sheet, cells in formats.items():
        grid = by_name.get(sheet)
        if grid is None:
            continue
        for rc, code in cells.items():
            v = grid.cells.get(rc)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                text = numfmt.render(v, code)
                if text:
                    grid.shown[rc] = (code, text)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _grid(name: str, sheet, limits: Limits, file: str) -> Grid:
    r0, c0 = sheet.start or (0, 0)
    cells: dict[tuple[int, int], object] = {}
    for i, row in enumerate(sheet.to_python(skip_empty_area=True)):
        for j, v in enumerate(row):
            if v == "" or v is None:
                continue
            if isinstance(v, str):
                if len(v) > limits.max_text:
                    raise ReadError("TOO_LARGE", f"单元格文字 {len(v)} 个字符，超过上限 {limits.max_text}", file, ref(name, r0 + i + 1, c0 + j + 1))
                # control characters (Excel stores them as _x0001_ escapes) are invisible and
                # make openpyxl (IllegalCharacterError) and the .docx writer fail: dropped here
                v = _CONTROL.sub("", v.replace("\r\n", "\n"))
            cells[(r0 + i + 1, c0 + j + 1)] = v
    # calamine passes a reversed range (<mergeCell ref="G10:A1"/>) through as is: normalise, so
    # every consumer (span(), the write-back rebuild) may rely on r1 <= r2 and c1 <= c2
    merges = [(min(a[0], b[0]) + 1, min(a[1], b[1]) + 1, max(a[0], b[0]) + 1, max(a[1], b[1]) + 1)
              for a, b in (sheet.merged_cell_ranges or [])]
    return Grid(name, cells, merges)


_HAS_VALUE = re.compile(rb"<v>[^<]+</v>|<is>")
_CELL_WITH_FORMULA = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*?(?<!/)>(.*?)</c>', re.S)


def _mark_uncached_formulas(path: Path, grids: list[Grid]) -> None:
    """Find formula cells without a cached value (calamine shows them as blank).

    Excel always stores the last computed value; a file written by a script may not. Such a
    cell must be reported, not silently read as empty or 0.
    """
    by_name = {g.name: g for g in grids}
    try:
        with zipfile.ZipFile(path) as zf:
            sheets = sheet_parts(zf)
            for sheet_name, part in sheets.items():
                grid = by_name.get(sheet_name)
                if grid is None or part not in zf.namelist():
                    continue
                data = zf.read(part)
                if b"<f" not in data:
                    continue
                for m in _CELL_WITH_FORMULA.finditer(data):
                    body = m.group(3)
                    if b"<f" in body and not _HAS_VALUE.search(body):
                        col = 0
                        for ch in m.group(1):
                            col = col * 26 + ch - 64
                        grid.no_cached_value.add((int(m.group(2)), col))
    except (zipfile.BadZipFile, KeyError, OSError, zlib.error):
        return
