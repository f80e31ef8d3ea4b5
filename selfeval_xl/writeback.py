"""The reviewed workbook: the submitted file, unchanged, plus what the review found.

A reviewer wants the office's own file back, not a new report. The package is patched, not
re-saved (``ooxml``): every part the review does not need to change is copied byte for byte
(charts, text boxes, sparklines, x14 validations, cached formula values, custom properties,
the theme ...), and only these are edited:

* the form sheet(s): six columns appended right of the indicator table (parsed target and
  actual, completion, rule score, difference, basis) and two for the reviewer's decision
  (复核认定 with a dropdown, 复核说明), empty unless ``decisions`` fills them; every cell with a
  finding filled by severity;
* the comments part + VML of a sheet with findings (our notes appended, the office's kept);
* styles.xml (our fills, fonts and formats appended once), workbook.xml + its rels +
  [Content_Types].xml (the 复核结果 sheet), docProps/app.xml (sheet titles);
* a new sheet 复核结果 with the totals, the findings (each linked to its cell) and a 注意
  section listing what could not be carried over (for an .xlsx: nothing).

.xls/.et/.ods are converted by LibreOffice (external links stripped first) and then patched;
without LibreOffice, or when a file cannot be patched, the workbook is rebuilt from its values
with openpyxl and patched. The source is only read; the output is written atomically.
Reviewing a reviewed workbook replaces what the previous run added and nothing else.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Mapping, Sequence

from lxml import etree

from . import grids, office, safety
from .fmt import columns
from .fsutil import atomic_write_bytes
from .model import SEVERITIES, Finding, Review, Scored, severity_label, severity_rank
from .ooxml import CT, NS, RT, Package, parse, serialize
from .ooxml.comments import Notes
from .ooxml.sheet import FORMULA_START, MAX_COL, Worksheet, clean_text, col_letter, range_bounds, split_ref
from .ooxml.styles import Styles
from .naming import COMMENT_MARK, is_reviewed, reviewed_name  # noqa: F401  (public here: callers import it)
from .openpyxl_losses import openpyxl_losses  # noqa: F401  (public: what an openpyxl round trip loses)

__all__ = ["reviewed_name", "write_reviewed", "ADDED_HEADERS", "DECISION_HEADERS", "DECISION_CHOICES",
           "REVIEW_SHEET", "SEVERITY_FILLS", "openpyxl_losses"]

REVIEW_SHEET = "复核结果"
# The appended columns: header text and width. The first header is how a later run
# recognises its own columns, so it must never change.
ADDED_COLUMNS: tuple[tuple[str, float], ...] = (
    ("目标值（解析）", 16),
    ("实际值（解析）", 16),
    ("完成率", 10),
    ("规则得分", 10),
    ("差异（规则−自评）", 18),
    ("评分依据", 48),  # widened to the longest basis, see _basis_width
)
ADDED_HEADERS = tuple(h for h, _ in ADDED_COLUMNS)
# The reviewer's decision per indicator (issue 17 reads them back): a choice from the dropdown,
# or a score typed in; and a free-text reason. Empty unless ``decisions`` pre-fills them.
DECISION_COLUMNS: tuple[tuple[str, float], ...] = (("复核认定", 14), ("复核说明", 30))
DECISION_HEADERS = tuple(h for h, _ in DECISION_COLUMNS)
DECISION_CHOICES = ("采纳规则得分", "维持自评分")
ALL_COLUMNS = ADDED_COLUMNS + DECISION_COLUMNS
SEVERITY_FILLS = {"error": "FFC7CE", "warning": "FFEB9C", "info": "DDEBF7"}
# Comments we add start with this line, so a later run can take them off again without
# touching a comment the office wrote itself.
COMMENT_AUTHOR = "selfeval-xl"
CONVERTED_SUFFIXES = {".xls", ".et", ".ods"}

PERCENT_FORMAT = '0.0"%"'
SCORE_FORMAT = "0.00"
DIFF_FORMAT = "+0.00;-0.00;0.00"
LINK_COLOR = "0563C1"
MACRO_MAIN = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"
PLAIN_MAIN = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


# --------------------------------------------------------------------------- entry point

Decisions = Mapping[tuple[str, str], tuple[object, str]]


def write_reviewed(reviews: Review | Sequence[Review], source: Path, target: Path,
                   decisions: Decisions | None = None, *, source_name: str | None = None,
                   notices: tuple[str, ...] = ()) -> Path:
    """Write the reviewed copy of ``source`` to ``target`` (atomically) and return ``target``.

    ``reviews``: one Review, or the Reviews of several forms of the same file (one per sheet):
    every form sheet is annotated, one 复核结果 sheet covers them all. ``decisions`` pre-fills
    复核认定/复核说明: (sheet, indicator name cell) -> (认定, 说明), the cell as in
    ``Indicator.cell`` (``自评表!C155``) or bare (``C155``); 认定 may be a number.

    ``source`` is only read. ``target`` may be the source itself only when the source is a
    reviewed workbook (``X.复核.xlsx``): that is the idempotent re-review, and the atomic
    replace means the old file stays whole until the new one is complete.
    ``source_name`` is the file named on 复核结果 (default ``source``'s name) and ``notices`` are
    added to its 注意 section - for a workbook rebuilt from a Word document (word_review).
    """
    reviews = [reviews] if isinstance(reviews, Review) else list(reviews)
    extra, name = list(notices), source_name or Path(source).name
    if not reviews:
        raise ValueError("没有可写入的复核结果")
    source, target = Path(source), Path(target)
    if _same_file(source, target) and not is_reviewed(source):
        raise ValueError(f"复核版不能覆盖原文件：{source.name}")
    with tempfile.TemporaryDirectory(prefix="selfeval-wb-") as tmp:
        base, opened, rebuilt = _open(source, target, Path(tmp))
        notices = [*extra, *opened]
        try:
            data = patch(base, reviews, notices, name, decisions or {})
        except (etree.XMLSyntaxError, ValueError, KeyError, IndexError) as exc:
            if rebuilt:
                raise
            reason = f"原文件的结构无法直接写入（{safety.short_error(exc)}）"
            keep_vba = _keeps_vba(source, target, base)
            base = _rebuild_from_values(source, base, keep_vba)
            data = patch(base, reviews, [_rebuilt_notice(reason), *notices], name, decisions or {})
    atomic_write_bytes(target, data)
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


# --------------------------------------------------------------------------- opening


def _open(source: Path, target: Path, tmp: Path) -> tuple[bytes, list[str], bool]:
    """The .xlsx/.xlsm bytes to patch, the notices about what was lost, whether it was rebuilt.

    xlsx/xlsm are patched as they are (an .xlsm written as .xlsx loses its macros, and says
    so). xls/et/ods go through LibreOffice when it is installed (external links taken out of
    an .ods first); otherwise, or when the conversion fails, the workbook is rebuilt from the
    cell values.
    """
    kind = safety.sniff(source)  # refuses encrypted files and zip bombs before anything parses them
    data = source.read_bytes()
    notices: list[str] = []
    foreign = _foreign_format(source, kind, data)
    if foreign:
        notices += _old_macro_notice(data)
        if foreign == ".ods":
            from .odf import without_external_links

            data = without_external_links(data)
        converted = _convert_with_office(data, foreign, tmp, notices)
        if converted is None:
            reason = f"原文件为 {foreign} 格式，本机未安装 LibreOffice 或转换失败"
            return _rebuild_from_values(source, data, False), [_rebuilt_notice(reason), *notices], True
        notices.insert(0, f"原文件为 {foreign} 格式，已用 LibreOffice 转换为 .xlsx 后写入复核内容，个别格式可能与原文件略有不同。")
        return converted.read_bytes(), notices, False
    if not _keeps_vba(source, target, data):
        stripped = _without_macros(data)
        if stripped is not data:
            notices.append("工作簿含宏（VBA），复核版为 .xlsx，宏没有保留。")
            data = stripped
    return data, notices, False


def _keeps_vba(source: Path, target: Path, data: bytes) -> bool:
    return source.suffix.lower() == ".xlsm" and target.suffix.lower() == ".xlsm"


def _without_macros(data: bytes) -> bytes:
    """An .xlsm's package as a plain .xlsx: the VBA project, its relationship and the
    macro-enabled content type taken off (an .xlsx with macros inside is refused by Excel).
    Returns ``data`` itself when there is nothing to take off."""
    try:
        pkg = Package(data)
    except Exception:  # noqa: BLE001  (not a package we can patch: the caller's fallback decides)
        return data
    rels = pkg.rels(pkg.workbook_part)
    vba = [r for r in rels if r.type.endswith("/vbaProject")]
    ct = pkg.get("[Content_Types].xml") or b""
    if not vba and MACRO_MAIN not in ct:
        return data
    for r in vba:
        rels.remove(r.id)
        if r.part:
            pkg.remove(r.part)
            pkg.remove(f"{r.part.rpartition('/')[0]}/_rels/{r.part.rpartition('/')[2]}.rels")
    for el in pkg.content_types:
        if isinstance(el.tag, str) and el.get("ContentType", "").encode() == MACRO_MAIN:
            el.set("ContentType", PLAIN_MAIN.decode())
            pkg._ct_changed = True
    return pkg.to_bytes()


def _rebuilt_notice(reason: str) -> str:
    return (f"{reason}，复核版按单元格的值重建：保留了文字、数值和合并单元格，原有的字体、边框、列宽、公式、批注和图片"
            "没有保留。请以原文件为准核对格式。")


def _foreign_format(source: Path, kind: str, data: bytes) -> str | None:
    """The suffix to convert from (".xls", ".et", ".ods"), or None for an OOXML workbook.

    Decided by the suffix and by the bytes: an .xls saved under an .xlsx name (it happens)
    must be converted too.
    """
    suffix = source.suffix.lower()
    if suffix in CONVERTED_SUFFIXES:
        return suffix
    if kind == "ole":
        return ".xls"
    if data[30:38] == b"mimetype" and b"opendocument.spreadsheet" in data[38:120]:
        return ".ods"
    return None


def _convert_with_office(data: bytes, suffix: str, tmp: Path, notices: list[str] | None = None) -> Path | None:
    """LibreOffice's .xlsx of the workbook ``data``, or None (not installed, or nothing produced).

    A copy is converted, not the source: soffice writes lock files beside what it opens,
    and a neutral name avoids surprises with unusual file names. WPS ``.et`` is BIFF8, so
    the copy is called ``.xls``; its external references are taken out first (ole_links),
    which ``notices`` is told.
    """
    if office.find_soffice() is None:
        return None
    src_dir = tmp / "in"
    src_dir.mkdir()
    copy_path = src_dir / ("book.xls" if suffix == ".et" else f"book{suffix}")
    copy_path.write_bytes(data)
    if suffix in (".xls", ".et"):
        from .ole_links import strip_xls

        try:
            removed = strip_xls(copy_path)
        except Exception:  # noqa: BLE001 - a compound file olefile cannot edit is converted as it is
            removed = []
        if removed and notices is not None:
            notices.append(f"原文件引用了外部工作簿或数据源（{'、'.join(removed[:5])}{'等' if len(removed) > 5 else ''}），"
                           "为安全起见转换前已去除这些链接，相关公式保留原值。")
    try:
        result = office.convert([copy_path], "xlsx", tmp / "out")
    except (OSError, ValueError):
        return None
    return result.get(copy_path)


def _old_macro_notice(data: bytes) -> list[str]:
    """An .xls with a VBA project loses it in .xlsx: say so rather than drop it silently."""
    if "_VBA_PROJECT".encode("utf-16-le") in data:
        return ["原文件含宏（VBA），复核版为 .xlsx，宏没有保留。"]
    return []


def _rebuild_from_values(source: Path, data: bytes, keep_vba: bool) -> bytes:
    """A plain workbook with the cell values and merges (openpyxl): the fallback when the file
    cannot be converted or patched. ``keep_vba``: carry an .xlsm's macros over unchanged
    (openpyxl copies the VBA parts from ``vba_archive`` and marks the package macro-enabled)."""
    import io
    import zipfile

    from openpyxl import Workbook

    from .cells import put

    wb = Workbook()
    wb.remove(wb.active)
    for grid in grids.load_grids(source):
        ws = wb.create_sheet(grid.name)
        for (row, col), value in grid.cells.items():
            put(ws.cell(row, col), value)
        for r1, c1, r2, c2 in grid.merges:
            if (r1, c1) != (r2, c2):
                ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
        _guess_widths(ws, grid)
    archive = None
    if keep_vba:
        archive = zipfile.ZipFile(io.BytesIO(data))
        needed = {"xl/vbaProject.bin", "[Content_Types].xml", "_rels/.rels"}
        if needed <= set(archive.namelist()):
            wb.vba_archive = archive
    buf = io.BytesIO()
    wb.save(buf)
    if archive is not None:
        archive.close()
    return buf.getvalue()


def _guess_widths(ws, grid) -> None:
    """Column widths from the longest text (CJK counted double), so the rebuilt sheet is readable."""
    from openpyxl.utils import get_column_letter

    longest: dict[int, int] = {}
    merged = {(r1, c1) for r1, c1, r2, c2 in grid.merges if c2 > c1}
    for (row, col), value in grid.cells.items():
        if (row, col) in merged:
            continue
        text = grids.cell_text(value).split("\n")[0]
        longest[col] = max(longest.get(col, 0), columns(text))
    for col, n in longest.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(8, n + 2), 50)


# --------------------------------------------------------------------------- the patch


@dataclass
class _Book:
    """The parts being edited, parsed once each, written back in ``finish``."""

    pkg: Package
    workbook: etree._Element
    styles: Styles
    styles_part: str
    sheets: dict[str, object] = field(default_factory=dict)  # name -> SheetRef
    worksheets: dict[str, Worksheet] = field(default_factory=dict)
    notes: dict[str, Notes] = field(default_factory=dict)
    xf_cache: dict[tuple, int] = field(default_factory=dict)

    def sheet(self, name: str) -> Worksheet | None:
        if name not in self.worksheets:
            ref = self.sheets.get(name)
            data = self.pkg.get(ref.part) if ref and ref.part else None
            if data is None:
                return None
            self.worksheets[name] = Worksheet(data)
        return self.worksheets[name]

    def notes_of(self, name: str) -> Notes:
        if name not in self.notes:
            self.notes[name] = Notes(self.pkg, self.sheets[name].part, self.sheet(name))
        return self.notes[name]

    def xf(self, base: int | None, **changes) -> int:
        key = (base, tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                                  for k, v in changes.items())))
        if key not in self.xf_cache:
            self.xf_cache[key] = self.styles.derive(base, **changes)
        return self.xf_cache[key]

    def finish(self) -> bytes:
        for name, notes in self.notes.items():
            notes.save()
        for name, ws in self.worksheets.items():
            self.pkg.put(self.sheets[name].part, ws.to_bytes())
        if self.styles.changed:
            self.pkg.put(self.styles_part, self.styles.to_bytes())
        self.pkg.put(self.pkg.workbook_part, serialize(self.workbook))
        return self.pkg.to_bytes()


def patch(data: bytes, reviews: list[Review], notices: list[str], file_name: str,
          decisions: Decisions) -> bytes:
    """The reviewed package of the .xlsx/.xlsm ``data``: see the module docstring."""
    pkg = Package(data)
    workbook = parse(pkg.get(pkg.workbook_part))
    rels = pkg.rels(pkg.workbook_part)
    style_rel = next((r for r in rels.of_type(RT["styles"]) if r.part), None)
    styles_part = style_rel.part if style_rel else "xl/styles.xml"
    if style_rel is None:
        rels.add(RT["styles"], styles_part)
        pkg.add_override(styles_part, "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml")
    book = _Book(pkg, workbook, Styles(pkg.get(styles_part)), styles_part)
    book.styles.changed = style_rel is None or book.styles.changed
    index = _remove_review_sheet(book)
    book.sheets = {s.name: s for s in pkg.sheets(workbook)}
    for name, ref in book.sheets.items():
        if ref.part and pkg.rels(ref.part).of_type(RT["comments"]):
            _clear_own_notes(book, name)
    for review in reviews:
        ws = book.sheet(review.evaluation.sheet)
        if ws is None:
            raise ValueError(f"工作表“{review.evaluation.sheet}”不在工作簿中")
        _add_columns(book, ws, review, decisions)
    _mark_findings(book, [f for r in reviews for f in r.findings])
    _add_review_sheet(book, reviews, notices, file_name, index)
    return book.finish()


# --------------------------------------------------------------------------- a previous run


def _remove_review_sheet(book: _Book) -> int | None:
    """Take off the 复核结果 sheet an earlier run added; return its position (the new one goes there)."""
    pkg = book.pkg
    for ref in pkg.sheets(book.workbook):
        if ref.name != REVIEW_SHEET:
            continue
        sheets = book.workbook.find(f"{{{_ns(book.workbook)}}}sheets")
        sheets.remove([el for el in sheets if isinstance(el.tag, str)][ref.index])
        pkg.rels(pkg.workbook_part).remove(ref.rid)
        if ref.part:
            pkg.remove(ref.part)
            from .ooxml import rels_name

            pkg.remove(rels_name(ref.part))
        _app_titles(pkg, remove=REVIEW_SHEET)
        return ref.index
    return None


def _clear_own_notes(book: _Book, sheet: str) -> None:
    """Remove our comment text, and the severity fill that came with it, from one sheet."""
    ws = book.sheet(sheet)
    ours = {book.styles.solid_fill(rgb) for rgb in SEVERITY_FILLS.values()}
    for ref in book.notes_of(sheet).strip(COMMENT_MARK):
        pos = split_ref(ref)
        cell = ws.cell(*pos) if pos else None
        if cell is None:
            continue
        s = ws.style(cell)
        if book.styles.xf_attr(s, "fillId") in ours:
            cell.set("s", str(book.styles.without_fill(s, ours)))


def _own_columns(book: _Book, ws: Worksheet, header_row: int) -> int | None:
    """The column where an earlier run put 目标值（解析）on the header row."""
    row = ws.row(header_row, create=False)
    if row is None:
        return None
    sst = None
    for col, cell in ws.cells(row):
        if cell.get("t") == "s" and sst is None:
            sst = book.pkg.shared_strings()
        if ws.text(cell, sst or []) == ADDED_HEADERS[0]:
            return col
    return None


# --------------------------------------------------------------------------- the added columns


def _add_columns(book: _Book, ws: Worksheet, review: Review, decisions: Decisions) -> None:
    """Write the review and decision columns from the first free column on the indicator sheet."""
    ev = review.evaluation
    first = _own_columns(book, ws, ev.header_row)
    if first:
        ws.remove_columns(first, first + len(ALL_COLUMNS) - 1)
    else:
        first = _first_free_column(book, ev.sheet, ws)
    last = first + len(ALL_COLUMNS) - 1
    header = ws.cell(ev.header_row, ev.last_column)
    header_style = book.xf(ws.style(header), alignment={"wrapText": "1"}, keep_alignment=True, quote_prefix=False)
    span = _row_span(ws, ev.header_row, ev.last_column)
    for i, (title, width) in enumerate(ALL_COLUMNS):
        col = first + i
        ws.put(ev.header_row, col, title, header_style)
        for r in range(ev.header_row + 1, ev.header_row + span):
            ws.put(r, col, None, header_style)
        if span > 1:
            ws.add_merge(ev.header_row, col, ev.header_row + span - 1, col)
        if title == ADDED_HEADERS[-1]:
            width = _basis_width(review, width)
        ws.set_width(col, col, width)
    rows = []
    for scored in review.scored:
        row = _row_of(scored.indicator.cell)
        if row:
            decision = _decision(decisions, ev.sheet, scored.indicator.cell)
            _write_indicator_row(book, ws, row, first, scored, decision)
            rows.append(row)
    total_row = _row_of(ev.stated_total.cell) if _sheet_of(ev.stated_total.cell) == ev.sheet else None
    if total_row:
        _write_total_row(book, ws, total_row, first, review)
    ind_rows = sorted(set(rows))
    if ind_rows:
        ws.add_list_validation(_sqref(first + len(ADDED_COLUMNS), ind_rows), DECISION_CHOICES,
                               "复核认定：选择或填入认定的分数")
    if rows or total_row:
        _extend_print_area(book, ev.sheet, ev.header_row, max(rows + [total_row or 0]), last)
    ws.widen_dimension(last)


def _first_free_column(book: _Book, sheet: str, ws: Worksheet) -> int:
    """Right of everything the sheet occupies, drawings included (a column appended under an
    image or a chart would be hidden by it)."""
    last = max(ws.last_used_column(), _drawing_last_column(book, sheet, ws), _tables_last_column(book, sheet))
    return min(last, MAX_COL - len(ALL_COLUMNS)) + 1


def _drawing_last_column(book: _Book, sheet: str, ws: Worksheet) -> int:
    drawing = ws.child("drawing")
    part = book.sheets[sheet].part
    if drawing is None:
        return 0
    rel = book.pkg.rels(part).get(drawing.get(f"{{{NS['r']}}}id") or "")
    data = book.pkg.get(rel.part) if rel and rel.part else None
    if not data:
        return 0
    root = parse(data)
    xdr = NS["xdr"]
    widths, default = ws.widths(), ws.default_width()
    out = 0
    for anchor in root:
        if not isinstance(anchor.tag, str):
            continue
        kind = etree.QName(anchor).localname
        frm = anchor.find(f"{{{xdr}}}from")
        if kind == "twoCellAnchor":
            to = anchor.find(f"{{{xdr}}}to")
            out = max(out, _int(to.findtext(f"{{{xdr}}}col"), 0) + 1 if to is not None else 0)
        elif kind in ("oneCellAnchor", "absoluteAnchor"):
            ext = anchor.find(f"{{{xdr}}}ext")
            cx = _int(ext.get("cx"), 0) if ext is not None else 0
            if kind == "oneCellAnchor" and frm is not None:
                col0, off = _int(frm.findtext(f"{{{xdr}}}col"), 0), _int(frm.findtext(f"{{{xdr}}}colOff"), 0)
            else:
                pos = anchor.find(f"{{{xdr}}}pos")
                col0, off = 0, _int(pos.get("x"), 0) if pos is not None else 0
            out = max(out, _emu_to_last_col(widths, default, col0, off + cx))
    return out


def _tables_last_column(book: _Book, sheet: str) -> int:
    part = book.sheets[sheet].part
    out = 0
    for rel in book.pkg.rels(part).of_type(RT["table"]):
        data = book.pkg.get(rel.part) if rel.part else None
        if data:
            b = range_bounds(parse(data).get("ref") or "")
            out = max(out, b[3] if b and b[3] < MAX_COL else 0)
    return out


def _emu_to_last_col(widths: dict[int, float], default: float, col0: int, emu: int) -> int:
    """Walk the column widths from 0-based ``col0`` until ``emu`` are covered."""
    col = col0 + 1
    while col < MAX_COL:
        col_emu = int((widths.get(col, default) * 7 + 5) * 9525)
        if emu <= col_emu:
            return col
        emu -= col_emu
        col += 1
    return col


_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _decision(decisions: Decisions, sheet: str, cell: str) -> tuple[object, str]:
    coord = _split_ref(cell)[1] if "!" in cell else cell
    for key in ((sheet, cell), (sheet, coord), (sheet, f"{_quoted(sheet)}!{coord}")):
        if key in decisions:
            value, note = decisions[key]
            return value, note or ""
    return None, ""


def _sqref(col: int, rows: list[int]) -> str:
    """``N71:N80 N82:N90``: the rows as contiguous runs."""
    runs, start, prev = [], rows[0], rows[0]
    for r in rows[1:] + [None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        letter = col_letter(col)
        runs.append(f"{letter}{start}" if start == prev else f"{letter}{start}:{letter}{prev}")
        if r is not None:
            start = prev = r
    return " ".join(runs)


def _basis_width(review: Review, minimum: float) -> float:
    """Wide enough for the longest basis on one line (up to a limit).

    The form's rows have no stored height, and LibreOffice does not grow them for wrapped
    text, so a narrow wrapped column would show half sentences.
    """
    longest = max((columns(s.basis) for s in review.scored), default=0)
    return float(min(max(minimum, longest + 2), 100))


def _write_indicator_row(book: _Book, ws: Worksheet, row: int, first: int, scored: Scored,
                         decision: tuple[object, str]) -> None:
    ind = scored.indicator
    self_score = ind.self_score.number
    verdict, reason = decision
    values = (
        (scored.target.display or ind.target.text, None),
        (scored.actual.display or ind.actual.text, None),
        (_float(scored.completion), PERCENT_FORMAT),
        (_float(scored.score), SCORE_FORMAT),
        (_float(scored.score - self_score) if self_score is not None else None, DIFF_FORMAT),
        (scored.basis, None),
        (_verdict_value(verdict), SCORE_FORMAT),
        (reason or None, None),
    )
    col = _col_of(ind.self_score.cell) or first - 1
    _write_row(book, ws, row, first, values, ws.cell(row, col))


def _verdict_value(verdict: object) -> float | str | None:
    """A carried-over 复核认定 as the cell it was: a score the reviewer typed as a number comes
    back from read_decisions as its text ("2", "0.6") and is written as a number again, so that
    a re-run does not turn it into number-stored-as-text; any other text stays as typed."""
    if isinstance(verdict, (int, float, Decimal)) and not isinstance(verdict, bool):
        return _float(verdict)
    if verdict in (None, ""):
        return None
    text = str(verdict)
    return float(text) if _PLAIN_NUMBER.fullmatch(text) else text


def _write_total_row(book: _Book, ws: Worksheet, row: int, first: int, review: Review) -> None:
    stated = review.stated_total if review.stated_total is not None else review.self_total
    values = (
        (None, None), (None, None), (None, None),
        (_float(review.computed_total), SCORE_FORMAT),
        (_float(review.computed_total - stated), DIFF_FORMAT),
        ("规则总分：各指标规则得分之和", None),
        (None, None), (None, None),
    )
    _write_row(book, ws, row, first, values, ws.cell(row, review.evaluation.last_column))


_WRAPPED = {ADDED_HEADERS[-1], DECISION_HEADERS[-1]}
_LEFT = {ADDED_HEADERS[0], ADDED_HEADERS[1], *_WRAPPED, DECISION_HEADERS[0]}


def _write_row(book: _Book, ws: Worksheet, row: int, first: int, values, model_cell) -> None:
    """One row of the added columns, bordered and lettered like the form's own cell."""
    model = ws.style(model_cell)
    for i, (value, fmt) in enumerate(values):
        title = ALL_COLUMNS[i][0]
        text = isinstance(value, str)
        style = book.xf(model, num_fmt=book.styles.num_fmt(fmt) if fmt and not text else 0, fill=0,
                        alignment={"vertical": "center", "wrapText": "1" if title in _WRAPPED else None,
                                   "horizontal": "left" if title in _LEFT else "right"},
                        quote_prefix=text and value.startswith(FORMULA_START))
        ws.put(row, first + i, value, style)


def _row_span(ws: Worksheet, row: int, col: int) -> int:
    """How many rows the merge holding (row, col) covers (1 when not merged)."""
    for r1, c1, r2, c2 in ws.merges():
        if r1 == row and c1 <= col <= c2:
            return r2 - r1 + 1
    return 1


def _extend_print_area(book: _Book, sheet: str, first_row: int, last_row: int, last_col: int) -> None:
    """Widen a print area that covers the indicator table so the new columns print too."""
    index = book.sheets[sheet].index
    names = book.workbook.find(f"{{{_ns(book.workbook)}}}definedNames")
    for dn in names if names is not None else []:
        if not isinstance(dn.tag, str) or dn.get("name") != "_xlnm.Print_Area" or dn.get("localSheetId") != str(index):
            continue
        parts = []
        for piece in (dn.text or "").split(","):
            where, _, rng = piece.rpartition("!")
            b = range_bounds(rng)
            if b and b[0] <= last_row and b[2] >= first_row and b[3] < last_col:
                rng = f"${col_letter(b[1])}${b[0]}:${col_letter(last_col)}${b[2]}"
            parts.append(f"{where}!{rng}" if where else rng)
        dn.text = ",".join(parts)


# --------------------------------------------------------------------------- findings on cells


def _mark_findings(book: _Book, findings: list[Finding]) -> None:
    """Fill each finding's cell by its worst severity and comment it with all its messages."""
    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        loc = _locate(book, f.cell)
        if loc:
            by_cell.setdefault(loc, []).append(f)
    for (sheet, coord), found in by_cell.items():
        ws = book.sheet(sheet)
        row, col = split_ref(coord)
        worst = _by_severity(found)[0]
        colour = SEVERITY_FILLS.get(worst.severity)
        cell = ws.cell(row, col)
        if colour:
            style = book.xf(ws.style(cell), fill=book.styles.solid_fill(colour))
            if cell is None:
                ws.put(row, col, None, style)
            else:
                cell.set("s", str(style))
        lines = [f"[{severity_label(f.severity)}] {clean_text(f.message)}" for f in found]
        book.notes_of(sheet).add(coord, COMMENT_MARK + "\n" + "\n".join(lines), COMMENT_AUTHOR)


def _locate(book: _Book, ref: str) -> tuple[str, str] | None:
    """(sheet, anchor coordinate) of a finding's ``自评表!G14`` (merged cells -> their anchor)."""
    sheet, coord = _split_ref(ref)
    if not sheet or sheet not in book.sheets or sheet == REVIEW_SHEET:
        return None
    pos = split_ref(coord.split(":")[0])
    ws = book.sheet(sheet)
    if pos is None or ws is None:
        return None
    row, col = pos
    hits = [(r1, c1) for r1, c1, r2, c2 in ws.merges() if r1 <= row <= r2 and c1 <= col <= c2]
    if len(hits) > 1:
        return None  # overlapping merges (a damaged file): no writable anchor; 复核结果 still lists it
    if hits:
        row, col = hits[0]
    return sheet, f"{col_letter(col)}{row}"


def _split_ref(ref: str) -> tuple[str, str]:
    if not ref or "!" not in ref:
        return "", ""
    sheet, coord = ref.rsplit("!", 1)
    if len(sheet) >= 2 and sheet[0] == sheet[-1] == "'":
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, coord


def _row_of(ref: str) -> int | None:
    pos = split_ref(_split_ref(ref)[1])
    return pos[0] if pos else None


def _col_of(ref: str) -> int | None:
    pos = split_ref(_split_ref(ref)[1])
    return pos[1] if pos else None


def _sheet_of(ref: str) -> str:
    return _split_ref(ref)[0]


def _quoted(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


# --------------------------------------------------------------------------- 复核结果


REVIEW_WIDTHS = (26, 24, 12, 16, 80)  # A..E of 复核结果; E holds the long texts
LINE_HEIGHT = 15  # points per wrapped line at the default 11 pt


@dataclass(frozen=True)
class _Look:
    bold: bool = False
    size: float | None = None
    fmt: str | None = None
    horizontal: str | None = None
    wrap: bool = False
    indent: int | None = None
    link: bool = False


class _ReviewSheet:
    """The 复核结果 sheet as cells, merges, heights and links; a cursor adds one line per call,
    so the layout reads top to bottom; ``xml`` renders it with formats from the workbook."""

    def __init__(self, book: _Book):
        self.book = book
        self.row = 1
        self.cells: dict[tuple[int, int], tuple[object, _Look]] = {}
        self.merges: list[tuple[int, int, int, int]] = []
        self.heights: dict[int, float] = {}
        self.links: list[tuple[str, str, str]] = []
        self._styles: dict[tuple, int] = {}

    def set(self, row: int, col: int, value, look: _Look = _Look()) -> None:
        self.cells[(row, col)] = (value, look)

    def line(self, *values, fmt: dict[int, str] | None = None, bold: bool = False) -> int:
        for i, value in enumerate(values, start=1):
            self.set(self.row, i, value, _Look(bold=bold, fmt=(fmt or {}).get(i)))
        self.row += 1
        return self.row - 1

    def text(self, first_col: int, value: str, label=None) -> int:
        """A long text from ``first_col`` to E (merged, wrapped, the row made tall enough).

        Row heights are set here because LibreOffice does not grow rows for wrapped text
        in a file that stores none.
        """
        row = self.line(label, value) if first_col == 2 else self.line(value)
        if isinstance(label, int):
            self.set(row, 1, label, _Look(horizontal="center"))
        self.set(row, first_col, value, _Look(wrap=True))
        if first_col < 5:
            self.merges.append((row, first_col, row, 5))
        self.fit(row, value, sum(REVIEW_WIDTHS[first_col - 1:]))
        return row

    def fit(self, row: int, value: str, width: float) -> None:
        lines = sum(max(1, -(-columns(part) // int(width - 1))) for part in str(value).split("\n"))
        if lines > 1:
            self.heights[row] = LINE_HEIGHT * lines + 2

    def gap(self) -> None:
        self.row += 1

    def _style(self, look: _Look, value) -> int:
        key = (look, isinstance(value, str) and value.startswith(FORMULA_START), isinstance(value, str))
        if key not in self._styles:
            self._styles[key] = self._new_style(look, value)
        return self._styles[key]

    def _new_style(self, look: _Look, value) -> int:
        styles = self.book.styles
        font = None
        if look.bold or look.size:
            font = styles.font(0, bold=True if look.bold else None, size=look.size)
        if look.link:
            font = styles.font(0, color=LINK_COLOR, underline=True)
        text = isinstance(value, str)
        return self.book.xf(0, num_fmt=styles.num_fmt(look.fmt) if look.fmt and not text else None, font=font,
                            alignment={"vertical": "top", "horizontal": look.horizontal,
                                       "wrapText": "1" if look.wrap else None, "indent": look.indent},
                            quote_prefix=text and value.startswith(FORMULA_START))

    def xml(self, ns: str) -> bytes:
        ws = Worksheet(f'<worksheet xmlns="{ns}" xmlns:r="{NS["r"]}"><sheetData/></worksheet>'.encode())
        pr = etree.Element(ws.q("sheetPr"))
        etree.SubElement(pr, ws.q("pageSetUpPr"), fitToPage="1")
        ws.insert(pr)
        for i, width in enumerate(REVIEW_WIDTHS, start=1):
            ws.set_width(i, i, width)
        for (row, col) in sorted(self.cells):
            value, look = self.cells[(row, col)]
            if value is None and look == _Look():
                continue
            ws.put(row, col, value, self._style(look, value))
        for row, height in self.heights.items():
            el = ws.row(row)
            el.set("ht", str(height))
            el.set("customHeight", "1")
        for r1, c1, r2, c2 in self.merges:
            ws.add_merge(r1, c1, r2, c2)
        if self.links:
            links = ws.insert(etree.Element(ws.q("hyperlinks")))
            for ref, location, display in self.links:
                etree.SubElement(links, ws.q("hyperlink"), ref=ref, location=location, display=display)
        ws.insert(etree.Element(ws.q("pageMargins"), left="0.7", right="0.7", top="0.75", bottom="0.75",
                                header="0.3", footer="0.3"))
        ws.insert(etree.Element(ws.q("pageSetup"), paperSize="9", orientation="landscape", fitToWidth="1",
                                fitToHeight="0"))
        return ws.to_bytes()


def _add_review_sheet(book: _Book, reviews: list[Review], notices: list[str], file_name: str,
                      index: int | None) -> None:
    out = _ReviewSheet(book)
    out.line("绩效自评复核结果")
    out.set(1, 1, "绩效自评复核结果", _Look(bold=True, size=14))
    profiles = "、".join(dict.fromkeys(r.profile for r in reviews))
    out.text(1, f"按评分规则 {profiles} 自动复核生成。原表内容未改动：有问题的单元格已按级别着色（红色错误、黄色警告、"
                "蓝色提示）并附批注；指标表右侧新增的列是解析后的目标值和实际值、完成率、按规则的得分及依据，"
                "“复核认定”“复核说明”两列供复核人填写（认定可选“采纳规则得分”“维持自评分”或直接填分数）。")
    for n, review in enumerate(reviews, start=1):
        out.gap()
        if len(reviews) > 1:
            out.line(f"项目 {n}：工作表“{review.evaluation.sheet}”", bold=True)
        _summary(out, review, file_name)
        out.gap()
        _categories(out, review)
        out.gap()
        _findings(out, review)
    if notices:
        out.gap()
        out.line("注意", bold=True)
        for i, text in enumerate(notices, start=1):
            out.text(2, text, label=i)
    pkg = book.pkg
    part = pkg.free_name("xl/worksheets/sheet%d.xml")
    pkg.put(part, out.xml(_ns(book.workbook)))
    pkg.add_override(part, CT["worksheet"])
    rid = pkg.rels(pkg.workbook_part).add(RT["worksheet"], part)
    sheets = book.workbook.find(f"{{{_ns(book.workbook)}}}sheets")
    present = [s for s in sheets if isinstance(s.tag, str)]
    ids = [_int(s.get("sheetId"), 0) for s in present]
    el = etree.Element(f"{{{_ns(book.workbook)}}}sheet", name=REVIEW_SHEET, sheetId=str(max(ids + [0]) + 1))
    el.set(f"{{{NS['r']}}}id", rid)
    if index is None or index >= len(present):
        sheets.append(el)
    else:
        present[index].addprevious(el)
    _app_titles(pkg, add=REVIEW_SHEET, position=index)


def _summary(out: _ReviewSheet, review: Review, file_name: str) -> None:
    ev = review.evaluation
    stated = review.stated_total
    base = stated if stated is not None else review.self_total
    out.text(2, file_name, label="文件")
    out.text(2, ev.project_name.text, label="项目名称")
    out.text(2, ev.department.text, label="主管部门")
    out.line("年度", _float(ev.year.number) if ev.year.number is not None else ev.year.text)
    out.line("评分规则", review.profile)
    out.line("自评总分（表中合计）", _float(stated) if stated is not None else "未填", fmt={2: SCORE_FORMAT})
    out.line("自评分之和", _float(review.self_total), fmt={2: SCORE_FORMAT})
    out.line("规则总分", _float(review.computed_total), fmt={2: SCORE_FORMAT})
    out.line("差异（规则总分−自评总分）", _float(review.computed_total - base), fmt={2: DIFF_FORMAT})


def _categories(out: _ReviewSheet, review: Review) -> None:
    out.line("类别", "分值", "权重合计", "自评", "规则", bold=True)
    fmt = {2: SCORE_FORMAT, 3: SCORE_FORMAT, 4: SCORE_FORMAT, 5: SCORE_FORMAT}
    for c in review.categories:
        row = out.line(c.name, _float(c.points), _float(c.weight_sum), _float(c.self), _float(c.computed), fmt=fmt)
        # column E is the wide 说明 column
        out.set(row, 5, _float(c.computed), _Look(fmt=SCORE_FORMAT, horizontal="left", indent=2))


def _findings(out: _ReviewSheet, review: Review) -> None:
    counts = review.severity_counts()
    summary = "，".join(f"{s.label} {counts.get(s, 0)}" for s in SEVERITIES)
    out.line(f"复核发现 {len(review.findings)} 条：{summary}", bold=True)
    if not review.findings:
        out.line("未发现问题。")
        return
    out.line("序号", "代码", "级别", "单元格", "说明", bold=True)
    for i, f in enumerate(_by_severity(review.findings), start=1):
        row = out.line(i, f.code, severity_label(f.severity), f.cell, f.message)
        out.set(row, 1, i, _Look(horizontal="center"))
        out.set(row, 5, f.message, _Look(wrap=True))
        out.fit(row, f.message, REVIEW_WIDTHS[4])
        link = _link_location(f.cell)
        if link:
            out.set(row, 4, f.cell, _Look(link=True))
            out.links.append((f"D{row}", link, f.cell))


def _by_severity(findings) -> list[Finding]:
    """Errors first, then warnings, then notes; within each, the order the checks gave."""
    return sorted(findings, key=lambda f: severity_rank(f.severity))


def _link_location(ref: str) -> str | None:
    """``'自评表'!G155``: the internal hyperlink target of a finding's cell."""
    sheet, coord = _split_ref(ref)
    if not sheet or not coord:
        return None
    return f"{_quoted(sheet)}!{coord}"


# --------------------------------------------------------------------------- docProps/app.xml


def _app_titles(pkg: Package, add: str | None = None, remove: str | None = None, position: int | None = None) -> None:
    """Keep the sheet titles in docProps/app.xml true (TitlesOfParts + the worksheet count in
    HeadingPairs); a file without them is left alone."""
    rel = next((r for r in pkg.rels("").of_type(RT["extendedProperties"]) if r.part), None)
    part = rel.part if rel else "docProps/app.xml"
    data = pkg.get(part)
    if not data:
        return
    root = parse(data)
    ep, vt = NS["ep"], NS["vt"]
    titles = root.find(f"{{{ep}}}TitlesOfParts/{{{vt}}}vector")
    pairs = root.find(f"{{{ep}}}HeadingPairs/{{{vt}}}vector")
    if titles is None or pairs is None:
        return
    variants = list(pairs)
    if len(variants) < 2:
        return
    label, count = variants[0].find(f"{{{vt}}}lpstr"), variants[1].find(f"{{{vt}}}i4")
    if label is None or count is None or label.text not in ("Worksheets", "工作表"):
        return
    n = _int(count.text, 0)
    items = list(titles)
    if remove is not None:
        hit = next((el for el in items[:n] if el.text == remove), None)
        if hit is None:
            return
        titles.remove(hit)
        n -= 1
    if add is not None:
        el = etree.Element(f"{{{vt}}}lpstr")
        el.text = add
        pos = n if position is None else min(position, n)  # among the worksheet titles, before named ranges
        current = list(titles)
        if pos < len(current):
            current[pos].addprevious(el)
        else:
            titles.append(el)
        n += 1
    count.text = str(n)
    titles.set("size", str(len(titles)))
    pkg.put(part, serialize(root))


# --------------------------------------------------------------------------- helpers


def _ns(el) -> str:
    return etree.QName(el).namespace or NS["main"]


def _int(text, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _float(x: Decimal | None) -> float | None:
    return float(x) if x is not None else None

