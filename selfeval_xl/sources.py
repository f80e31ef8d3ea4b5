"""Open a workbook safely and turn each sheet into a ``Grid`` of values.

Before anything parses the file we look at its bytes: magic number, encryption, the zip's
declared sizes (a zip bomb must fail in milliseconds, not after the parser has eaten the
memory) and XML entity declarations. Reading itself is python-calamine: fast, and it reads
xlsx/xlsm/xls/ods/et alike, with merged ranges and cached formula values.
"""
from __future__ import annotations

import datetime as _dt
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .errors import ReadError

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".et", ".ods"}
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Limits:
    """What one file may cost. A breach is a TOO_LARGE error, never a slow death."""

    max_file_bytes: int = 100 * 2**20
    max_unpacked_bytes: int = 400 * 2**20  # sum of the zip's declared uncompressed sizes
    max_ratio: int = 200  # declared uncompressed / compressed, per entry above 1 MiB
    max_rows: int = 20_000
    max_cols: int = 512
    max_text: int = 32_767  # Excel's own cell limit
    timeout_s: float = 120.0  # per file, enforced by the batch runner


DEFAULT_LIMITS = Limits()


def col_letter(col: int) -> str:
    """1-based column number -> letters."""
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


def sniff(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """Decide what the file is from its bytes: 'zip' (xlsx/xlsm/ods) or 'ole' (xls/et).

    Raises ReadError for anything we will not parse: not a workbook, encrypted, too large,
    truncated, or carrying XML entity declarations.
    """
    name = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ReadError("NOT_A_WORKBOOK", f"无法读取文件（{exc.strerror or exc}）", name) from None
    if size == 0:
        raise ReadError("EMPTY", "文件大小为 0 字节", name)
    if size > limits.max_file_bytes:
        raise ReadError("TOO_LARGE", f"文件 {size / 2**20:.1f} MB，超过上限 {limits.max_file_bytes / 2**20:.0f} MB", name)
    if head.startswith(OLE2_MAGIC):
        if _is_encrypted(path):
            raise ReadError("ENCRYPTED", "请在 Excel/WPS 中取消打开密码后另存，再重新处理", name)
        return "ole"
    if not head.startswith(ZIP_MAGIC):
        raise ReadError("NOT_A_WORKBOOK", "文件内容不是 Excel/WPS/ODS 格式（可能是改了扩展名的其他文件）", name)
    _check_zip(path, limits)
    return "zip"


def _is_encrypted(path: Path) -> bool:
    try:
        import msoffcrypto

        with path.open("rb") as fh:
            return bool(msoffcrypto.OfficeFile(fh).is_encrypted())
    except Exception:  # msoffcrypto raises on plain .xls variants it does not know: not encrypted
        return False


_ENTITY = re.compile(rb"<!(DOCTYPE|ENTITY)", re.I)


def _check_zip(path: Path, limits: Limits) -> None:
    name = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > limits.max_unpacked_bytes:
                raise ReadError("TOO_LARGE", f"解压后共 {total / 2**20:.0f} MB，超过上限 {limits.max_unpacked_bytes / 2**20:.0f} MB（疑似压缩炸弹）", name)
            for i in infos:
                if i.file_size > 2**20 and i.file_size > limits.max_ratio * max(i.compress_size, 1):
                    raise ReadError("TOO_LARGE", f"压缩包成员 {i.filename} 压缩比 {i.file_size // max(i.compress_size, 1)}:1，超过上限 {limits.max_ratio}:1（疑似压缩炸弹）", name)
            names = {i.filename for i in infos}
            if not ({"xl/workbook.xml", "xl/workbook.bin", "content.xml"} & names):
                raise ReadError("NOT_A_WORKBOOK", "压缩包中没有工作簿（可能是 Word 文档或其他压缩文件）", name)
            for i in infos:
                if i.filename.endswith((".xml", ".rels")):
                    with zf.open(i) as fh:
                        if _ENTITY.search(fh.read(2048)):
                            raise ReadError("UNSAFE_CONTENT", f"{i.filename} 含有 XML 实体声明（DOCTYPE/ENTITY），为安全起见拒绝处理", name)
    except ReadError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise ReadError("CORRUPT", f"压缩结构损坏（{exc}），文件可能不完整，请重新获取原文件", name) from None


def load_grids(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[Grid]:
    """All visible worksheets of a workbook as Grids (after ``sniff`` passed)."""
    import python_calamine as pc

    name = str(path)
    kind = sniff(path, limits)
    try:
        wb = pc.CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own types and plain ones for bad files
        raise ReadError("CORRUPT", f"无法解析工作簿（{_short(exc)}）", name) from None
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
    except Exception as exc:
        raise ReadError("CORRUPT", f"读取工作表失败（{_short(exc)}）", name) from None
    finally:
        wb.close()
    if kind == "zip" and path.suffix.lower() != ".ods":
        _mark_uncached_formulas(path, grids)
    return grids


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
                v = v.replace("\r\n", "\n")
            cells[(r0 + i + 1, c0 + j + 1)] = v
    merges = [(a[0] + 1, a[1] + 1, b[0] + 1, b[1] + 1) for a, b in (sheet.merged_cell_ranges or [])]
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
            sheets = _sheet_parts(zf)
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
    except (zipfile.BadZipFile, KeyError, OSError):
        return


def _sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    wb = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    targets = {m.group(1): m.group(2) for m in re.finditer(r'<Relationship[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels)}
    targets.update({m.group(2): m.group(1) for m in re.finditer(r'<Relationship[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)})
    out = {}
    for m in re.finditer(r'<sheet\b[^>]*?name="([^"]+)"[^>]*?r:id="([^"]+)"', wb):
        target = targets.get(m.group(2), "")
        part = target.lstrip("/") if target.startswith("/") else "xl/" + target
        out[_unescape(m.group(1))] = part
    return out


def _unescape(s: str) -> str:
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace("&amp;", "&")


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
