"""The reviewed workbook: the submitted file, unchanged, plus what the review found.

A reviewer wants the office's own file back, not a new report: the same sheets, styles,
merges, validations and images, with

* six columns appended to the right of the indicator table (parsed target and actual,
  completion, rule score, difference, basis) -- appended, never inserted, because openpyxl's
  ``insert_cols`` does not move formulas, merges or validations;
* every cell with a finding filled by severity and carrying a comment with the message(s);
* a new sheet 复核结果 with the totals, the findings (each linked to its cell) and a 注意
  section listing what could not be carried over (openpyxl drops text boxes, sparklines,
  Excel-2010 extensions and cached formula results; see DOMAIN.md §5).

The source is read into memory and never written; the output is saved atomically. Reviewing
a reviewed workbook again replaces what the previous run added instead of adding more.
"""
from __future__ import annotations

import html
import io
import re
import tempfile
import warnings
import zipfile
from copy import copy
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.cell.cell import MergedCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, range_boundaries
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.print_settings import PrintArea

from . import office, sources
from .cells import print_a4_one_page_wide, put
from .fsutil import atomic_path
from .model import Finding, Review, Scored

__all__ = ["reviewed_name", "write_reviewed", "ADDED_HEADERS", "REVIEW_SHEET", "SEVERITY_FILLS", "SEVERITY_NAMES"]

REVIEWED_MARK = ".复核"
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
SEVERITY_FILLS = {"error": "FFC7CE", "warning": "FFEB9C", "info": "DDEBF7"}
SEVERITY_NAMES = {"error": "错误", "warning": "警告", "info": "提示"}
SEVERITY_ORDER = ("error", "warning", "info")
# Comments we add start with this line, so a later run can take them off again without
# touching a comment the office wrote itself.
COMMENT_MARK = "【复核】"
COMMENT_AUTHOR = "selfeval-xl"
CONVERTED_SUFFIXES = {".xls", ".et", ".ods"}

PERCENT_FORMAT = '0.0"%"'
SCORE_FORMAT = "0.00"
DIFF_FORMAT = "+0.00;-0.00;0.00"
LINK_FONT = Font(color="0563C1", underline="single")
MAX_COLUMN = 16384  # XFD


# --------------------------------------------------------------------------- names


def reviewed_name(source: Path) -> str:
    """``<stem>.复核.xlsx`` for a submitted workbook.

    ``.xlsm`` stays ``.xlsm`` (its macros are kept); ``.xls``/``.et``/``.ods`` become ``.xlsx``
    (they are converted). A file that already is a reviewed workbook keeps its name, so
    reviewing it again replaces it rather than producing ``X.复核.复核.xlsx``.
    """
    source = Path(source)
    stem = source.stem
    if stem.endswith(REVIEWED_MARK):
        stem = stem[: -len(REVIEWED_MARK)]
    suffix = ".xlsm" if source.suffix.lower() == ".xlsm" else ".xlsx"
    from .fsutil import fit_name

    return fit_name(stem, f"{REVIEWED_MARK}{suffix}")  # a long stem is shortened by bytes, kept unique


def _is_reviewed(path: Path) -> bool:
    return Path(path).stem.endswith(REVIEWED_MARK)


# --------------------------------------------------------------------------- entry point


def write_reviewed(review: Review, source: Path, target: Path) -> Path:
    """Write the reviewed copy of ``source`` to ``target`` (atomically) and return ``target``.

    ``source`` is only read. ``target`` may be the source itself only when the source is a
    reviewed workbook (``X.复核.xlsx``): that is the idempotent re-review, and the atomic
    replace means the old file stays whole until the new one is complete.
    """
    source, target = Path(source), Path(target)
    if _same_file(source, target) and not _is_reviewed(source):
        raise ValueError(f"复核版不能覆盖原文件：{source.name}")
    with tempfile.TemporaryDirectory(prefix="selfeval-wb-") as tmp:
        wb, notices = _open(source, target, Path(tmp))
        ev = review.evaluation
        ws = wb[ev.sheet]
        sheet_index, first = _clear_previous_review(wb, ws, ev.header_row)
        _add_columns(ws, review, first or last_used_column(ws) + 1)
        _mark_findings(wb, review.findings)
        _add_review_sheet(wb, review, notices, source.name, sheet_index)
        with atomic_path(target) as out:
            wb.save(out)
        if wb.vba_archive is not None:
            wb.vba_archive.close()
    return target


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


# --------------------------------------------------------------------------- opening


def _open(source: Path, target: Path, tmp: Path) -> tuple[Workbook, list[str]]:
    """The workbook to write into, and the notices about what it could not keep.

    xlsx/xlsm are loaded from bytes in memory (the source file is never held open).
    xls/et/ods go through LibreOffice when it is installed; otherwise, or when the
    conversion fails, the workbook is rebuilt from the cell values.
    """
    kind = sources.sniff(source)  # refuses encrypted files and zip bombs before openpyxl parses
    data = source.read_bytes()
    notices: list[str] = []
    foreign = _foreign_format(source, kind, data)
    keep_vba = not foreign and source.suffix.lower() == ".xlsm" and target.suffix.lower() == ".xlsm"
    if foreign:
        notices += _old_macro_notice(data)
        converted = _convert_with_office(data, foreign, tmp)
        if converted is None:
            reason = f"原文件为 {foreign} 格式，本机未安装 LibreOffice 或转换失败"
            return _rebuild_from_values(source, data, False), [_rebuilt_notice(reason), *notices]
        notices.insert(0, f"原文件为 {foreign} 格式，已用 LibreOffice 转换为 .xlsx 后写入复核内容，个别格式可能与原文件略有不同。")
        data = converted.read_bytes()
    try:
        with warnings.catch_warnings():
            # openpyxl warns about every extension it drops; the 注意 section says it in Chinese.
            warnings.simplefilter("ignore")
            wb = load_workbook(io.BytesIO(data), keep_vba=keep_vba, rich_text=True)
    except Exception as exc:  # openpyxl is stricter than calamine (bad numbers, dates, XML): keep the values
        reason = f"原文件中有 openpyxl 无法读取的内容（{sources._short(exc)}）"
        return _rebuild_from_values(source, data, keep_vba), [_rebuilt_notice(reason), *notices]
    return wb, notices + openpyxl_losses(data, keep_vba)


def _rebuilt_notice(reason: str) -> str:
    return (f"{reason}，复核版按单元格的值重建：保留了文字、数值和合并单元格，原有的字体、边框、列宽、公式、批注和图片"
            "没有保留。请以原文件为准核对格式。")


def _foreign_format(source: Path, kind: str, data: bytes) -> str | None:
    """The suffix to convert from (".xls", ".et", ".ods"), or None for an OOXML workbook.

    Decided by the suffix and by the bytes: an .xls saved under an .xlsx name (it happens)
    must be converted too, or openpyxl would fail on it.
    """
    suffix = source.suffix.lower()
    if suffix in CONVERTED_SUFFIXES:
        return suffix
    if kind == "ole":
        return ".xls"
    if data[30:38] == b"mimetype" and b"opendocument.spreadsheet" in data[38:120]:
        return ".ods"
    return None


def _convert_with_office(data: bytes, suffix: str, tmp: Path) -> Path | None:
    """LibreOffice's .xlsx of the workbook ``data``, or None (not installed, or nothing produced).

    A copy is converted, not the source: soffice writes lock files beside what it opens,
    and a neutral name avoids surprises with unusual file names. WPS ``.et`` is BIFF8, so
    the copy is called ``.xls``.
    """
    if office.find_soffice() is None:
        return None
    src_dir = tmp / "in"
    src_dir.mkdir()
    copy_path = src_dir / ("book.xls" if suffix == ".et" else f"book{suffix}")
    copy_path.write_bytes(data)
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


def _rebuild_from_values(source: Path, data: bytes, keep_vba: bool) -> Workbook:
    """A plain workbook with the cell values and merges: the fallback when the file cannot
    be opened with its formatting. ``keep_vba``: carry an .xlsm's macros over unchanged
    (openpyxl copies the VBA parts from ``vba_archive`` and marks the package macro-enabled,
    so an .xlsm stays a valid .xlsm)."""
    wb = Workbook()
    wb.remove(wb.active)
    for grid in sources.load_grids(source):
        ws = wb.create_sheet(grid.name)
        for (row, col), value in grid.cells.items():
            put(ws.cell(row, col), value)
        for r1, c1, r2, c2 in grid.merges:
            if (r1, c1) != (r2, c2):
                ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
        _guess_widths(ws, grid)
    if keep_vba:
        archive = zipfile.ZipFile(io.BytesIO(data))
        needed = {"xl/vbaProject.bin", "[Content_Types].xml", "_rels/.rels"}
        if needed <= set(archive.namelist()):
            wb.vba_archive = archive
    return wb


def _guess_widths(ws, grid) -> None:
    """Column widths from the longest text (CJK counted double), so the rebuilt sheet is readable."""
    longest: dict[int, int] = {}
    merged = {(r1, c1) for r1, c1, r2, c2 in grid.merges if c2 > c1}
    for (row, col), value in grid.cells.items():
        if (row, col) in merged:
            continue
        text = sources.cell_text(value).split("\n")[0]
        longest[col] = max(longest.get(col, 0), _display_width(text))
    for col, n in longest.items():
        ws.column_dimensions[get_column_letter(col)].width = min(max(8, n + 2), 50)


# --------------------------------------------------------------------------- what openpyxl drops

# Parts openpyxl neither reads nor writes back: prefix -> what the reader is told.
_DROPPED_PARTS: tuple[tuple[str, str], ...] = (
    ("xl/embeddings/", "嵌入的对象（OLE 对象、附件）"),
    ("xl/activeX/", "ActiveX 控件"),
    ("xl/ctrlProps/", "表单控件（按钮、复选框、下拉框等）"),
    ("xl/threadedComments/", "新版“批注”（对话式批注；旧式批注文字保留）"),
    ("xl/slicers/", "切片器"),
    ("xl/timelines/", "日程表"),
    ("xl/model/", "数据模型（Power Pivot）"),
    ("xl/connections.xml", "外部数据连接"),
    ("xl/webextensions/", "Office 加载项"),
    ("customXml/", "自定义 XML 数据"),
)
# First element inside an <ext> of a sheet: what Excel 2010+ put there.
_EXTENSION_NAMES = {
    "sparklineGroups": "迷你图",
    "dataValidations": "扩展数据验证（如引用其他工作表的下拉列表）",
    "conditionalFormattings": "扩展条件格式（数据条、图标集等）",
    "slicerList": "切片器",
    "timelineRefs": "日程表",
    "webExtensions": "Office 加载项",
    "protectedRanges": "允许编辑区域",
    "ignoredErrors": "忽略错误标记",
}
_SHAPE = re.compile(rb"<(?:\w+:)?(?:sp|grpSp|cxnSp)[\s>]")
_DIAGRAM = re.compile(rb"drawingml/2006/diagram")
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_EXT_FIRST_CHILD = re.compile(rb"<(?:\w+:)?ext\b[^>]*>\s*<(?:\w+:)?(\w+)")
_REL = re.compile(r'<Relationship\b[^>]*>')


def openpyxl_losses(data: bytes, keep_vba: bool = False) -> list[str]:
    """What a load+save with openpyxl will lose from this workbook, in Chinese.

    Found by looking at the package itself (parts, drawings, sheet XML), because openpyxl
    drops these silently or with an English warning the reviewer never sees.
    """
    notes: list[str] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return notes
    with zf:
        names = zf.namelist()
        sheets = _sheet_parts(zf)
        for sheet, part in sheets.items():
            notes += _sheet_losses(zf, sheet, part, names)
        for prefix, what in _DROPPED_PARTS:
            if any(n.startswith(prefix) for n in names):
                notes.append(f"工作簿含{what}，复核版中没有保留。")
        if "xl/vbaProject.bin" in names and not keep_vba:
            notes.append("工作簿含宏（VBA），复核版为 .xlsx，宏没有保留。")
        if any(n.startswith("xl/charts/chart") for n in names):
            notes.append("图表由 openpyxl 重新写出，数据保留，个别格式（配色、样式）可能变化。")
        if _has_foreign_comments(zf, names):
            notes.append("原有批注的文字保留，批注框的大小和格式恢复为默认。")
        if any(n.startswith("xl/media/") for n in names) and not _pillow_available():
            notes.append("本机未安装 Pillow，工作簿中的图片没有保留。")
    return notes


def _sheet_losses(zf: zipfile.ZipFile, sheet: str, part: str, names: list[str]) -> list[str]:
    """Losses inside one worksheet: formula results, extensions, shapes in its drawing."""
    if part not in names:
        return []
    xml = zf.read(part)
    notes = []
    formulas = len(_FORMULA.findall(xml))
    if formulas:
        notes.append(f"工作表“{sheet}”有 {formulas} 个公式：复核版保留公式，但不保存其计算结果，Excel 打开时会重新计算；"
                     "只读取已存结果的程序（如部分预览、导入工具）会把这些单元格显示为空。")
    kinds = []
    for m in _EXT_FIRST_CHILD.finditer(xml):
        name = m.group(1).decode("ascii", "replace")
        kinds.append(_EXTENSION_NAMES.get(name, f"其他 Excel 扩展内容（{name}）"))
    if b"legacyDrawingHF" in xml:
        kinds.append("页眉页脚中的图片")
    for drawing in _related_parts(zf, part, "/drawing"):
        if drawing in names:
            content = zf.read(drawing)
            shapes = len(_SHAPE.findall(content))
            if shapes:
                kinds.append(f"文本框或形状 {shapes} 个")
            if _DIAGRAM.search(content):
                kinds.append("SmartArt 图形")
    for what in dict.fromkeys(kinds):
        notes.append(f"工作表“{sheet}”含{what}，复核版中没有保留。")
    return notes


def _has_foreign_comments(zf: zipfile.ZipFile, names: list[str]) -> bool:
    """Comments other than the ones a previous review added (those are rewritten anyway)."""
    for name in names:
        if name.startswith("xl/comments") and name.endswith(".xml"):
            xml = zf.read(name).decode("utf-8", "replace")
            for body in re.findall(r"<(?:\w+:)?comment\b.*?</(?:\w+:)?comment>", xml, re.S):
                if COMMENT_MARK not in html.unescape(body):
                    return True
    return False


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    try:
        return sources._sheet_parts(zf)  # the reader's own mapping of sheet names to parts
    except (KeyError, ValueError):
        return {}


def _related_parts(zf: zipfile.ZipFile, part: str, type_suffix: str) -> list[str]:
    """Targets of ``part``'s relationships whose type ends with ``type_suffix``, as zip names."""
    folder, _, base = part.rpartition("/")
    rels_name = f"{folder}/_rels/{base}.rels"
    try:
        rels = zf.read(rels_name).decode("utf-8", "replace")
    except KeyError:
        return []
    out = []
    for rel in _REL.findall(rels):
        rtype = re.search(r'Type="([^"]+)"', rel)
        target = re.search(r'Target="([^"]+)"', rel)
        if not (rtype and target) or not rtype.group(1).endswith(type_suffix) or 'TargetMode="External"' in rel:
            continue
        out.append(_join_part(folder, target.group(1)))
    return out


def _join_part(folder: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts = folder.split("/") if folder else []
    for piece in target.split("/"):
        if piece == "..":
            if parts:
                parts.pop()
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _pillow_available() -> bool:
    try:
        import PIL  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- a previous run


def _clear_previous_review(wb: Workbook, ws, header_row: int) -> tuple[int | None, int | None]:
    """Take off what an earlier run added, so a re-review replaces rather than duplicates.

    Returns the index the old 复核结果 sheet had and the first column of the old added
    columns (the new ones go to the same places), each None when there was none.
    """
    index = None
    if REVIEW_SHEET in wb.sheetnames:
        index = wb.sheetnames.index(REVIEW_SHEET)
        del wb[REVIEW_SHEET]
    start = _own_columns(ws, header_row)
    if start:
        _clear_columns(ws, start, start + len(ADDED_COLUMNS) - 1)
    for sheet in wb.worksheets:
        _clear_own_comments(sheet)
    return index, start


def _own_columns(ws, header_row: int) -> int | None:
    """The column where an earlier run put 目标值（解析）on the header row."""
    for (row, col), cell in list(ws._cells.items()):
        if row == header_row and cell.value == ADDED_HEADERS[0]:
            return col
    return None


def _clear_columns(ws, first: int, last: int) -> None:
    """Delete every cell (value, style, comment, link) and merge in columns first..last."""
    for rng in list(ws.merged_cells.ranges):
        if rng.min_col >= first and rng.max_col <= last:
            ws.unmerge_cells(str(rng))
    # ws._cells is the only way to delete cells without creating the empty ones in between.
    for key in [k for k in ws._cells if first <= k[1] <= last]:
        del ws._cells[key]


def _clear_own_comments(ws) -> None:
    """Remove our comment text (and the severity fill that came with it) from every cell."""
    ours = {f"00{c}" for c in SEVERITY_FILLS.values()} | {f"FF{c}" for c in SEVERITY_FILLS.values()}
    for cell in list(ws._cells.values()):
        comment = cell.comment
        if comment is None or COMMENT_MARK not in comment.text:
            continue
        before = comment.text.split(COMMENT_MARK, 1)[0].rstrip()
        cell.comment = Comment(before, comment.author or "") if before else None
        if cell.fill is not None and cell.fill.fill_type == "solid" and str(cell.fill.fgColor.rgb).upper() in ours:
            cell.fill = PatternFill(fill_type=None)


# --------------------------------------------------------------------------- the added columns


def _add_columns(ws, review: Review, first: int) -> None:
    """Write the six review columns from column ``first`` on the indicator sheet."""
    ev = review.evaluation
    header = ws.cell(ev.header_row, ev.last_column)
    header_rows = _row_span(ws, ev.header_row, ev.last_column)
    for i, (title, width) in enumerate(ADDED_COLUMNS):
        col = first + i
        cell = ws.cell(ev.header_row, col)
        put(cell, title)
        _copy_look(header, cell, with_fill=True)
        cell.alignment = _aligned(header.alignment, wrap=True)
        if header_rows > 1:
            ws.merge_cells(start_row=ev.header_row, start_column=col, end_row=ev.header_row + header_rows - 1, end_column=col)
        ws.column_dimensions[get_column_letter(col)].width = _basis_width(review, width) if i == len(ADDED_COLUMNS) - 1 else width
    rows, styles = [], {}
    for scored in review.scored:
        row = _row_of(scored.indicator.cell)
        if row:
            _write_indicator_row(ws, row, first, scored, styles)
            rows.append(row)
    total_row = _row_of(ev.stated_total.cell) if _sheet_of(ev.stated_total.cell) == ev.sheet else None
    if total_row:
        _write_total_row(ws, total_row, first, review, styles)
        rows.append(total_row)
    if rows:
        _extend_print_area(ws, ev.header_row, max(rows), first + len(ADDED_COLUMNS) - 1)


def _basis_width(review: Review, minimum: float) -> float:
    """Wide enough for the longest basis on one line (up to a limit).

    The form's rows have no stored height, and LibreOffice does not grow them for wrapped
    text, so a narrow wrapped column would show half sentences.
    """
    longest = max((_display_width(s.basis) for s in review.scored), default=0)
    return float(min(max(minimum, longest + 2), 100))


def _display_width(text: str) -> int:
    """Width in Excel character units: CJK and full-width characters count double."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text or "")


def _write_indicator_row(ws, row: int, first: int, scored: Scored, styles: dict) -> None:
    ind = scored.indicator
    self_score = ind.self_score.number
    values = (
        (scored.target.display or ind.target.text, None),
        (scored.actual.display or ind.actual.text, None),
        (_float(scored.completion), PERCENT_FORMAT),
        (_float(scored.score), SCORE_FORMAT),
        (_float(scored.score - self_score) if self_score is not None else None, DIFF_FORMAT),
        (scored.basis, None),
    )
    _write_row(ws, row, first, values, ws.cell(row, _col_of(ind.self_score.cell) or first - 1), styles)


def _write_total_row(ws, row: int, first: int, review: Review, styles: dict) -> None:
    stated = review.stated_total if review.stated_total is not None else review.self_total
    values = (
        (None, None), (None, None), (None, None),
        (_float(review.computed_total), SCORE_FORMAT),
        (_float(review.computed_total - stated), DIFF_FORMAT),
        ("规则总分：各指标规则得分之和", None),
    )
    _write_row(ws, row, first, values, ws.cell(row, review.evaluation.last_column), styles)


def _write_row(ws, row: int, first: int, values, model_cell, styles: dict) -> None:
    """One row of the added columns, bordered and lettered like the form's own cell."""
    for i, (value, fmt) in enumerate(values):
        cell = ws.cell(row, first + i)
        put(cell, value)
        _style_like(cell, model_cell, i, fmt, i == len(values) - 1, styles)


def _style_like(cell, model_cell, index: int, fmt: str | None, last: bool, styles: dict) -> None:
    """Font and border of ``model_cell``, plus the column's format and alignment.

    Assigning style objects is slow in openpyxl (each one is searched for in the workbook's
    style lists), so the first cell of each kind is styled the slow way and the rest copy
    its style ids (``styles``: one dict per workbook, since the ids index its lists).
    """
    key = (tuple(model_cell._style or ()), index, fmt)  # a new cell's style is None
    cached = styles.get(key)
    if cached is not None:
        cell._style = copy(cached)
        return
    _copy_look(model_cell, cell, with_fill=False)
    if fmt:
        cell.number_format = fmt
    cell.alignment = Alignment(vertical="center", wrap_text=last, horizontal="left" if last or index < 2 else "right")
    styles[key] = copy(cell._style)


def _copy_look(src, dst, with_fill: bool) -> None:
    dst.font = copy(src.font)
    dst.border = copy(src.border)
    if with_fill:
        dst.fill = copy(src.fill)


def _aligned(alignment: Alignment, wrap: bool) -> Alignment:
    a = copy(alignment)
    a.wrap_text = wrap
    return a


def _row_span(ws, row: int, col: int) -> int:
    """How many rows the merge holding (row, col) covers (1 when not merged)."""
    for rng in ws.merged_cells.ranges:
        if rng.min_row == row and rng.min_col <= col <= rng.max_col:
            return rng.max_row - rng.min_row + 1
    return 1


def _extend_print_area(ws, first_row: int, last_row: int, last_col: int) -> None:
    """Widen a print area that covers the indicator table so the new columns print too."""
    area = ws.print_area
    if not area:
        return
    ranges = PrintArea.from_string(area).ranges
    for rng in ranges:
        if rng.min_row <= last_row and rng.max_row >= first_row and rng.max_col < last_col:
            rng.expand(right=last_col - rng.max_col)
    ws.print_area = [r.coord for r in ranges]


def last_used_column(ws) -> int:
    """The rightmost column anything occupies: cells, merges, validations, conditional
    formats, tables, the autofilter, images and charts. ``ws.max_column`` counts cells only,
    so columns appended after it could land under a validation or an image.

    Ranges reaching the sheet's last column (whole-row formats such as ``A1:XFD1``) apply
    to any column we add, so they do not push the new columns anywhere.
    """
    cols = [ws.max_column if ws._cells else 0]
    ranges = list(ws.merged_cells.ranges)
    for dv in ws.data_validations.dataValidation:
        ranges += dv.sqref.ranges
    for cf in ws.conditional_formatting:
        ranges += cf.sqref.ranges
    cols += [r.max_col for r in ranges if r.max_col < MAX_COLUMN]
    for ref in [t.ref for t in ws.tables.values()] + ([ws.auto_filter.ref] if ws.auto_filter.ref else []):
        cols.append(range_boundaries(ref)[2])
    for obj in [*ws._images, *ws._charts]:
        cols.append(_anchor_last_col(ws, obj))
    return max(c for c in cols if c and c < MAX_COLUMN) if any(cols) else 0


def _anchor_last_col(ws, obj) -> int:
    """The last (1-based) column a drawing object reaches."""
    anchor = obj.anchor
    if isinstance(anchor, str):  # added in this session, not yet positioned by openpyxl
        col = column_index_from_string(coordinate_from_string(anchor)[0]) - 1
        width = getattr(obj, "width", 0) or 0
        return _emu_to_last_col(ws, col, 0, int(width * 9525))
    kind = type(anchor).__name__
    if kind == "TwoCellAnchor":
        return anchor.to.col + 1
    if kind == "OneCellAnchor":
        return _emu_to_last_col(ws, anchor._from.col, anchor._from.colOff, anchor.ext.width)
    if kind == "AbsoluteAnchor":
        return _emu_to_last_col(ws, 0, anchor.pos.x, anchor.ext.width)
    return 0


def _emu_to_last_col(ws, col0: int, offset: int, width: int) -> int:
    """Walk the column widths from 0-based ``col0`` until ``offset + width`` EMU are covered."""
    widths = {}
    for dim in ws.column_dimensions.values():
        if dim.width and dim.min and dim.max:
            for c in range(dim.min, min(dim.max, dim.min + 1000) + 1):
                widths[c] = dim.width
    default = ws.sheet_format.defaultColWidth or (ws.sheet_format.baseColWidth or 8) + 0.43
    remaining = (offset or 0) + (width or 0)
    col = col0 + 1
    while col < 16384:
        col_emu = int((widths.get(col, default) * 7 + 5) * 9525)
        if remaining <= col_emu:
            return col
        remaining -= col_emu
        col += 1
    return col


# --------------------------------------------------------------------------- findings on cells


def _mark_findings(wb: Workbook, findings: tuple[Finding, ...]) -> None:
    """Fill each finding's cell by its worst severity and comment it with all its messages."""
    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        loc = _locate(wb, f.cell)
        if loc:
            by_cell.setdefault(loc, []).append(f)
    for (sheet, coord), found in by_cell.items():
        cell = wb[sheet][coord]
        if isinstance(cell, MergedCell):
            continue  # overlapping merges (a damaged file): no writable anchor; 复核结果 still lists it
        worst = _by_severity(found)[0]
        colour = SEVERITY_FILLS.get(worst.severity)
        if colour:
            cell.fill = PatternFill(fill_type="solid", fgColor=colour, bgColor=colour)
        _comment(cell, found)


def _comment(cell, found: list[Finding]) -> None:
    lines = [f"[{SEVERITY_NAMES.get(f.severity, f.severity)}] {f.message}" for f in found]
    ours = COMMENT_MARK + "\n" + "\n".join(lines)
    old = cell.comment
    text = f"{old.text.rstrip()}\n\n{ours}" if old is not None and old.text.strip() else ours
    author = old.author if old is not None and old.author else COMMENT_AUTHOR
    height = min(60 + 18 * sum(1 + len(line) // 22 for line in text.split("\n")), 600)
    cell.comment = Comment(text, author, height=height, width=320)


def _locate(wb: Workbook, ref: str) -> tuple[str, str] | None:
    """(sheet, anchor coordinate) of a finding's ``自评表!G14`` (merged cells -> their anchor)."""
    sheet, coord = _split_ref(ref)
    if not sheet or sheet not in wb.sheetnames or sheet == REVIEW_SHEET:
        return None
    try:
        col, row = coordinate_from_string(coord.split(":")[0].replace("$", ""))
    except ValueError:
        return None
    ws = wb[sheet]
    col_idx = column_index_from_string(col)
    for rng in ws.merged_cells.ranges:
        if rng.min_row <= row <= rng.max_row and rng.min_col <= col_idx <= rng.max_col:
            return sheet, f"{get_column_letter(rng.min_col)}{rng.min_row}"
    return sheet, f"{col}{row}"


def _split_ref(ref: str) -> tuple[str, str]:
    if not ref or "!" not in ref:
        return "", ""
    sheet, coord = ref.rsplit("!", 1)
    if len(sheet) >= 2 and sheet[0] == sheet[-1] == "'":
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, coord


def _row_of(ref: str) -> int | None:
    _, coord = _split_ref(ref)
    m = re.fullmatch(r"\$?[A-Z]{1,3}\$?(\d+)", coord or "")
    return int(m.group(1)) if m else None


def _col_of(ref: str) -> int | None:
    _, coord = _split_ref(ref)
    m = re.fullmatch(r"\$?([A-Z]{1,3})\$?\d+", coord or "")
    return column_index_from_string(m.group(1)) if m else None


def _sheet_of(ref: str) -> str:
    return _split_ref(ref)[0]


# --------------------------------------------------------------------------- 复核结果


REVIEW_WIDTHS = (26, 24, 12, 16, 80)  # A..E of 复核结果; E holds the long texts
LINE_HEIGHT = 15  # points per wrapped line at the default 11 pt


@dataclass
class _Sheet:
    """A cursor over the 复核结果 sheet: one call per line, so the layout reads top to bottom."""

    ws: object
    row: int = 1

    def line(self, *values, fmt: dict[int, str] | None = None, bold: bool = False) -> int:
        for i, value in enumerate(values, start=1):
            cell = self.ws.cell(self.row, i)
            put(cell, value)
            if fmt and i in fmt:
                cell.number_format = fmt[i]
            if bold:
                cell.font = Font(bold=True)
            cell.alignment = Alignment(vertical="top")
        self.row += 1
        return self.row - 1

    def text(self, first_col: int, value: str, label=None) -> int:
        """A long text from ``first_col`` to E (merged, wrapped, the row made tall enough).

        Row heights are set here because LibreOffice does not grow rows for wrapped text
        in a file that stores none.
        """
        row = self.line(label, value) if first_col == 2 else self.line(value)
        if isinstance(label, int):
            self.ws.cell(row, 1).alignment = Alignment(vertical="top", horizontal="center")
        cell = self.ws.cell(row, first_col)
        if first_col < 5:
            self.ws.merge_cells(start_row=row, start_column=first_col, end_row=row, end_column=5)
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        self.fit(row, value, sum(REVIEW_WIDTHS[first_col - 1:]))
        return row

    def fit(self, row: int, value: str, width: float) -> None:
        lines = sum(max(1, -(-_display_width(part) // int(width - 1))) for part in str(value).split("\n"))
        if lines > 1:
            self.ws.row_dimensions[row].height = LINE_HEIGHT * lines + 2

    def gap(self) -> None:
        self.row += 1


def _add_review_sheet(wb: Workbook, review: Review, notices: list[str], file_name: str, index: int | None) -> None:
    ws = wb.create_sheet(REVIEW_SHEET, index)
    for i, width in enumerate(REVIEW_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    print_a4_one_page_wide(ws, "landscape")
    out = _Sheet(ws)
    out.line("绩效自评复核结果")
    ws.cell(1, 1).font = Font(bold=True, size=14)
    out.text(1, f"按评分规则 {review.profile} 自动复核生成。原表内容未改动：有问题的单元格已按级别着色（红色错误、黄色警告、"
                "蓝色提示）并附批注；指标表右侧新增的列是解析后的目标值和实际值、完成率、按规则的得分及依据。")
    out.gap()
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


def _summary(out: _Sheet, review: Review, file_name: str) -> None:
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


def _categories(out: _Sheet, review: Review) -> None:
    out.line("类别", "分值", "权重合计", "自评", "规则", bold=True)
    fmt = {2: SCORE_FORMAT, 3: SCORE_FORMAT, 4: SCORE_FORMAT, 5: SCORE_FORMAT}
    for c in review.categories:
        row = out.line(c.name, _float(c.points), _float(c.weight_sum), _float(c.self), _float(c.computed), fmt=fmt)
        out.ws.cell(row, 5).alignment = Alignment(horizontal="left", indent=2)  # column E is the wide 说明 column


def _findings(out: _Sheet, review: Review) -> None:
    counts = review.severity_counts()
    summary = "，".join(f"{SEVERITY_NAMES[s]} {counts.get(s, 0)}" for s in SEVERITY_ORDER)
    out.line(f"复核发现 {len(review.findings)} 条：{summary}", bold=True)
    if not review.findings:
        out.line("未发现问题。")
        return
    out.line("序号", "代码", "级别", "单元格", "说明", bold=True)
    for i, f in enumerate(_by_severity(review.findings), start=1):
        row = out.line(i, f.code, SEVERITY_NAMES.get(f.severity, f.severity), f.cell, f.message)
        out.ws.cell(row, 1).alignment = Alignment(vertical="top", horizontal="center")
        out.ws.cell(row, 5).alignment = Alignment(vertical="top", wrap_text=True)
        out.fit(row, f.message, REVIEW_WIDTHS[4])
        link = _link_location(f.cell)
        if link:
            cell = out.ws.cell(row, 4)
            cell.hyperlink = Hyperlink(ref=cell.coordinate, location=link, display=f.cell)
            cell.font = LINK_FONT


def _by_severity(findings) -> list[Finding]:
    """Errors first, then warnings, then notes; within each, the order the checks gave."""
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    return sorted(findings, key=lambda f: rank.get(f.severity, len(rank)))


def _link_location(ref: str) -> str | None:
    """``'自评表'!G155``: the internal hyperlink target of a finding's cell."""
    sheet, coord = _split_ref(ref)
    if not sheet or not coord:
        return None
    quoted = sheet.replace("'", "''")
    return f"'{quoted}'!{coord}"


# --------------------------------------------------------------------------- cells


def _float(x: Decimal | None) -> float | None:
    return float(x) if x is not None else None
