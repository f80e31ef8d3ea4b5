"""Look at a file's bytes before anything parses it, and refuse what would hurt.

Magic number, encryption, the zip's declared sizes (a zip bomb must fail in milliseconds, not
after the parser has eaten the memory), XML entity declarations, and the farthest cell a sheet
will hold (calamine allocates the whole rectangle at once). ``grids`` reads only files that
passed ``sniff``. Importing this module pulls in neither lxml nor openpyxl (the ``check`` CLI
and every batch worker import it): lxml is imported only when a sheet is scanned.
"""
from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import ReadError

SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".et", ".ods"}
WORD_SUFFIXES = {".docx", ".doc", ".wps"}  # a 自评价报告 with the form as a table (see word.py)
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
    # cells covered by merged ranges in one sheet: openpyxl (write-back) creates one
    # object per covered cell, so a merge A1:XFD1048576 hangs it for hours
    max_merged_cells: int = 1_000_000
    # <row> and <c> elements in one sheet, with or without a value: a formatting bomb (~1M
    # styled empty rows in 16 MB) passes every limit above, then costs the write-back minutes
    max_elements: int = 500_000


DEFAULT_LIMITS = Limits()

# Files that passed ``sniff``, by identity and version. A batch worker checks each file twice
# (reader.read, then writeback before openpyxl parses it) and the check parses every sheet with
# lxml - for the sample about as long as calamine's whole read (benchmarks/bench.py, issue 9).
# Any rewrite changes size/mtime/ctime/inode and is checked again; refusals are never remembered.
_PASSED: dict[tuple, str] = {}


def sniff(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """Decide what the file is from its bytes: 'zip' (xlsx/xlsm/ods) or 'ole' (xls/et), or a
    Word document: 'docx' (a zip with word/document.xml) or 'doc' (OLE with a WordDocument
    stream, or an OLE .doc/.wps: .doc and WPS .wps are read through LibreOffice).

    Raises ReadError for anything we will not parse: not a workbook, encrypted, too large,
    truncated, or carrying XML entity declarations.
    """
    path = Path(path)
    try:
        st = path.stat()
        key = (str(path.absolute()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, limits)
    except (OSError, ValueError):
        key = None  # _sniff says why
    kind = _PASSED.get(key) if key is not None else None
    if kind is None:
        kind = _sniff(path, limits)
        if key is not None:
            if len(_PASSED) >= 256:
                _PASSED.clear()
            _PASSED[key] = kind
    return kind


def _sniff(path: Path, limits: Limits) -> str:
    name = str(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise ReadError("NOT_FOUND", "请检查文件名和路径", name) from None
    except OSError as exc:
        raise ReadError("NOT_A_WORKBOOK", f"无法读取文件（{exc.strerror or exc}）", name) from None
    if size == 0:
        raise ReadError("EMPTY", "文件大小为 0 字节", name)
    if size > limits.max_file_bytes:
        raise ReadError("TOO_LARGE", f"文件 {size / 2**20:.1f} MB，超过上限 {limits.max_file_bytes / 2**20:.0f} MB", name)
    if head.startswith(OLE2_MAGIC):
        if _is_encrypted(path):
            raise ReadError("ENCRYPTED", "请在 Excel/WPS/Word 中取消打开密码后另存，再重新处理", name)
        if _is_word_ole(path):
            return "doc"
        _check_biff(path, limits)
        return "ole"
    if not head.startswith(ZIP_MAGIC):
        raise ReadError("NOT_A_WORKBOOK", "文件内容不是 Excel/WPS/ODS 格式（可能是改了扩展名的其他文件）", name)
    return _check_zip(path, limits)


def _is_word_ole(path: Path) -> bool:
    """An OLE file that is a Word/WPS text document rather than a BIFF workbook."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            if ole.exists("Workbook") or ole.exists("Book"):
                return False
            if ole.exists("WordDocument"):
                return True
    except Exception:  # a damaged container: _check_biff says CORRUPT
        return False
    return path.suffix.lower() in (".doc", ".wps")


def _is_encrypted(path: Path) -> bool:
    try:
        import msoffcrypto

        with path.open("rb") as fh:
            return bool(msoffcrypto.OfficeFile(fh).is_encrypted())
    except Exception:  # msoffcrypto raises on plain .xls variants it does not know: not encrypted
        return False


# A DTD anywhere in a part, in any of the encodings an XML parser accepts without a declaration
# (a 2 KiB prefix check was bypassed by a long comment or whitespace before the DOCTYPE).
# BIFF records that place a cell, row and column first (the ones calamine turns into cells):
# FORMULA, NUMBER, LABEL, BOOLERR, RK, LABELSST, MULRK.
_BIFF_CELLS = {0x0006, 0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x00BD}
_BIFF8_CELLS = 65536 * 256  # the largest sheet a .xls can describe


def _check_biff(path: Path, limits: Limits) -> None:
    """The .xls/.et counterpart of ``_Extent``, on the BIFF records calamine will read.

    Measured with calamine 0.37: a cell record at row/column 0xFFFF, or a DIMENSIONS record
    of 2**32 rows, makes calamine allocate the whole rectangle and abort the process; a sheet
    offset past the end of the stream panics. Those are refused here, before calamine runs.
    """
    import struct

    import olefile

    name = str(path)
    try:
        with olefile.OleFileIO(str(path)) as ole:
            stream = next((s for s in ("Workbook", "Book") if ole.exists(s)), None)
            if stream is None:
                return  # calamine says what is missing
            size = ole.get_size(stream)
            if size > limits.max_unpacked_bytes:
                raise ReadError("TOO_LARGE", f"工作簿数据 {size / 2**20:.0f} MB，超过上限 {limits.max_unpacked_bytes / 2**20:.0f} MB", name)
            data = ole.openstream(stream).read()
    except ReadError:
        raise
    except Exception as exc:  # olefile raises plain types on a damaged container
        raise ReadError("CORRUPT", f"OLE 结构损坏（{short_error(exc)}），文件可能不完整，请重新获取原文件", name) from None

    def records(pos: int):
        while pos + 4 <= len(data):
            typ, size = struct.unpack_from("<HH", data, pos)
            yield typ, data[pos + 4:pos + 4 + size]
            pos += 4 + size

    offsets = []
    for typ, body in records(0):
        if typ == 0x0085 and len(body) >= 4:  # BoundSheet8: where the sheet's records start
            offsets.append(struct.unpack_from("<I", body)[0])
        elif typ == 0x000A:  # EOF of the globals
            break
    for start in offsets:
        if start >= len(data):
            raise ReadError("CORRUPT", f"工作表记录位置 {start} 超出数据范围（{len(data)} 字节），文件已损坏", name)
        merged = 0
        for typ, body in records(start):
            if typ == 0x000A:
                break
            if typ == 0x00E5 and len(body) >= 2:  # MERGEDCELLS: count, then (rf, rl, cf, cl) u16 each
                for k in range(min(struct.unpack_from("<H", body)[0], (len(body) - 2) // 8)):
                    rf, rl, cf, cl = struct.unpack_from("<HHHH", body, 2 + 8 * k)
                    merged += (abs(rl - rf) + 1) * (abs(cl - cf) + 1)
                    if max(rf, rl) + 1 > limits.max_rows or max(cf, cl) + 1 > limits.max_cols or merged > limits.max_merged_cells:
                        raise ReadError("TOO_LARGE", f"合并单元格区域（第 {rf + 1}–{rl + 1} 行、第 {cf + 1}–{cl + 1} 列）超过上限", name)
            if typ == 0x0200 and len(body) in (10, 14):  # DIMENSIONS: calamine reserves rows × cols
                rf, rl, cf, cl = struct.unpack_from("<HHHH" if len(body) == 10 else "<IIHH", body)
                end_r, end_c = (rl - 1, cl - 1) if rl >= 1 and cl >= 1 else (rf, cf)
                cells = ((end_r - rf + 1) % 2**32) * ((end_c - cf + 1) % 2**32)
                if cells > _BIFF8_CELLS:
                    raise ReadError("TOO_LARGE", f"工作表声明的区域有 {cells} 个单元格，超过 .xls 的上限（{_BIFF8_CELLS}），文件已损坏或被篡改", name)
            elif typ in _BIFF_CELLS and len(body) >= 4:
                row, col = struct.unpack_from("<HH", body)
                if typ == 0x00BD and len(body) >= 6:  # MULRK: first and last column
                    col = max(col, struct.unpack_from("<H", body, len(body) - 2)[0])
                if row + 1 > limits.max_rows or col + 1 > limits.max_cols:
                    raise ReadError("TOO_LARGE", f"工作表在第 {row + 1} 行、第 {col + 1} 列有内容，超过上限 {limits.max_rows} 行 × {limits.max_cols} 列", name)


_ENTITY = re.compile(b"|".join(re.escape(w.encode(enc)) for w in ("<!DOCTYPE", "<!ENTITY")
                               for enc in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")), re.I)
_CHUNK = 1 << 18
_SST = re.compile(rb"<(?:[\w.-]+:)?sst\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_UNIQUE = re.compile(rb"\buniqueCount\s*=\s*[\"']\s*(\d+)")
_FAST_CELL = re.compile(rb"<(?:[\w.-]+:)?c\s[^>]*?\br\s*=\s*[\"']\s*([A-Za-z]{1,8})\s*(\d{1,18})\s*[\"'][^>]*(?<!/)>")


def _check_zip(path: Path, limits: Limits) -> str:
    """The zip checks; returns 'zip' for a workbook, 'docx' for a Word document."""
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
                # Deflate never grows data by more than ~5 bytes per 64 KiB block: more compressed
                # bytes than that means the declared (uncompressed) size was forged to pass the
                # checks above. (Both calamine's zip reader and Python's zipfile stop at the
                # declared size - measured - so this is about a clear message, not memory.)
                if i.compress_size > i.file_size + i.file_size // 1000 + 64:
                    raise ReadError("TOO_LARGE", f"压缩包成员 {i.filename} 声明解压后 {i.file_size} 字节，但压缩数据有 {i.compress_size} 字节，大小被篡改（疑似压缩炸弹）", name)
            locked = next((i.filename for i in infos if i.flag_bits & 0x1), None)
            if locked:  # zipfile would raise RuntimeError on it (Excel never writes ZIP passwords)
                raise ReadError("ENCRYPTED", f"压缩包成员 {locked} 设置了 ZIP 密码，Excel/WPS 不会生成这样的文件，请获取未加密的原文件", name)
            names = {i.filename for i in infos}
            if "word/document.xml" in names and not ({"xl/workbook.xml", "xl/workbook.bin", "content.xml"} & names):
                for i in infos:  # every XML part is searched for DTDs; word.py checks the tables
                    if not i.is_dir():
                        _scan_part(zf, i, False, limits, name)
                return "docx"
            if not ({"xl/workbook.xml", "xl/workbook.bin", "content.xml"} & names):
                raise ReadError("NOT_A_WORKBOOK", "压缩包中没有工作簿（可能是 Word 文档或其他压缩文件）", name)
            if "xl/workbook.xml" not in names and "content.xml" not in names:
                # .xlsb: its binary sheets cannot be checked for absurd cell positions before
                # calamine allocates them (see _Extent), so it is not read at all.
                raise ReadError("NOT_A_WORKBOOK", "不支持 .xlsb（Excel 二进制工作簿），请在 Excel/WPS 中另存为 .xlsx 后再处理", name)
            try:
                sheets = set(sheet_parts(zf).values())
            except KeyError:  # no workbook.xml.rels: calamine will say what is wrong
                sheets = set()
            for i in infos:
                if i.is_dir():
                    continue
                is_sheet = i.filename in sheets or "worksheets/" in i.filename or i.filename == "content.xml"
                _scan_part(zf, i, is_sheet, limits, name)
            return "zip"
    except ReadError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, zlib.error) as exc:
        raise ReadError("CORRUPT", f"压缩结构损坏（{exc}），文件可能不完整，请重新获取原文件", name) from None


def _scan_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, is_sheet: bool, limits: Limits, file: str) -> None:
    """Read one zip member to its end (bounded by its declared size, which zipfile enforces).

    Every XML-looking member is searched for a DTD over its whole length. Sheets (the parts
    calamine turns into cell ranges) are then parsed with lxml - no DTD, no network, no entity
    expansion - to find the farthest cell holding a value (``_Extent``) before calamine does.
    The first pass also refuses a value-holding ``<c r="...">`` past the limits by regex
    (~70 MB/s against lxml's ~3 here), so a 200k-row sheet fails in milliseconds; lxml in the
    second pass stays the exact check (cells without ``r``, escaped references, .ods repeats).
    """
    from .grids import col_letter  # grids imports this module at its top

    extent = _Extent(limits, file, info.filename)
    row_digits, col_letters = len(str(limits.max_rows)), len(col_letter(limits.max_cols))
    tail = b""
    with zf.open(info) as fh:
        chunk = fh.read(_CHUNK)
        head = chunk.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
        if not (is_sheet or info.filename.endswith((".xml", ".rels")) or head.startswith(b"<")):
            return  # images and other binary members: nobody parses them as XML
        sst = _SST.search(chunk)  # calamine reserves uniqueCount strings up front: 2**31 of them aborted it
        unique = _UNIQUE.search(sst.group(1)) if sst else None
        if unique and int(unique.group(1)[:19]) > info.file_size // 4 + 1024:
            raise ReadError("TOO_LARGE", f"共享字符串表声明有 {unique.group(1)[:20].decode()} 个字符串，但只有 {info.file_size} 字节，文件已损坏或被篡改", file)
        while chunk:
            if _ENTITY.search(tail + chunk):
                raise ReadError("UNSAFE_CONTENT", f"{info.filename} 含有 XML 实体声明（DOCTYPE/ENTITY），为安全起见拒绝处理", file)
            tail = chunk[-64:]
            if is_sheet:
                extent.count(len(_ELEMENT.findall(chunk)))
                for letters, digits in _FAST_CELL.findall(chunk):
                    if len(digits) >= row_digits or len(letters) >= col_letters:  # else surely inside
                        extent._check(_int(digits.decode(), 0), _col_number(letters.decode()))
            chunk = fh.read(_CHUNK)
    if not is_sheet:
        return
    from lxml import etree

    parser = etree.XMLPullParser(events=("end",), tag=_EXTENT_TAGS, resolve_entities=False, no_network=True,
                                 load_dtd=False, huge_tree=False)
    with zf.open(info) as fh:
        while chunk := fh.read(_CHUNK):
            _feed(parser, extent, chunk, info.filename, file)
    _feed(parser, extent, None, info.filename, file)


def _feed(parser, extent: "_Extent", chunk: bytes | None, part: str, file: str) -> None:
    from lxml import etree

    try:
        if chunk is None:
            root = parser.close()
            events = [(None, root)] if extent.events == 0 and root is not None else []
        else:
            parser.feed(chunk)
            events = parser.read_events()
        for _, el in events:
            if extent.events == 0 and el.getroottree().docinfo.doctype:
                raise ReadError("UNSAFE_CONTENT", f"{part} 含有文档类型声明（DOCTYPE），为安全起见拒绝处理", file)
            extent.events += 1
            if _ is not None:
                extent.end(el)
    except etree.XMLSyntaxError as exc:
        raise ReadError("CORRUPT", f"工作表 {part} 不是有效的 XML（{short_error(exc)}），文件可能已损坏，请在 Excel/WPS 中打开并另存后再处理", file) from None


_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?(?:row|c)[\s/>]")  # xlsx row and cell elements (the first pass's count)
_EXTENT_TAGS = ("{*}row", "{*}c", "{*}table", "{*}table-row", "{*}table-cell", "{*}covered-table-cell", "{*}mergeCell")
_REF = re.compile(r"\s*([A-Za-z]*)\s*(\d*)\s*\Z")


class _Extent:
    """The farthest row and column that will hold a value once calamine reads a sheet.

    calamine allocates the whole rectangle up to the farthest cell at once
    (``Range::from_sparse``): one value at XFD1048576 in a 20 KB file asks for 512 GiB and the
    process aborts ("memory allocation of 549755813888 bytes failed", SIGABRT) - no exception
    to catch. An .ods repeat count does the same (a 41 KB file: 38 s and 6 GB). So the limits
    are checked here, on the XML, the way calamine places cells: xlsx ``<row r>``/``<c r>``
    (or the next position when ``r`` is missing), ods ``number-rows/columns-repeated``. Only
    cells with content count (calamine ignores empty ones); the scan stops at the first breach.
    Only "end" events of the row/cell elements are delivered (cheap): a row is entered when its
    first cell ends, or at its own end when it has no cell.
    """

    def __init__(self, limits: Limits, file: str, part: str):
        self.limits, self.file, self.part = limits, file, part
        self.events = 0
        self.row = self.col = 0
        self.row_end = 0  # ods: last row covered by the current (repeated) table-row
        self.current = None  # the row element entered last
        self.rows_seen = 0
        self.merged = 0  # cells covered by merged ranges so far
        self.elements = 0  # <row>/<c> elements, with or without a value

    def _enter(self, row_el) -> None:
        self.current = row_el
        self.col = 0
        local = row_el.tag.rpartition("}")[2] if isinstance(row_el.tag, str) else ""
        if local == "row":
            self.row = _int(row_el.get("r"), self.row + 1)
        elif local == "table-row":
            first = self.row
            self.row += _int(_attr(row_el, "number-rows-repeated"), 1)
            self.row_end = max(self.row, first + 1)

    def end(self, el) -> None:
        local = el.tag.rpartition("}")[2]
        if local == "c":
            parent = el.getparent()
            if parent is not self.current and parent is not None:
                self._enter(parent)
            ref = el.get("r")
            m = _REF.match(ref) if ref else None
            if m:
                col = _col_number(m.group(1)) if m.group(1) else self.col + 1
                row = _int(m.group(2), self.row)
            else:
                row, col = self.row, self.col + 1
            self.col = col
            if len(el):
                self._check(row, col)
                el.clear()
        elif local in ("table-cell", "covered-table-cell"):
            parent = el.getparent()
            if parent is not self.current and parent is not None:
                self._enter(parent)
            first = self.col
            self.col += _int(_attr(el, "number-columns-repeated"), 1)
            spans = (_int(_attr(el, "number-rows-spanned"), 1), _int(_attr(el, "number-columns-spanned"), 1))
            if spans != (1, 1):
                self._merged(self.row_end, first + 1, self.row_end + spans[0] - 1, first + spans[1])
            if len(el) or _attr(el, "value-type") is not None:
                self._check(self.row_end, max(self.col, first + 1))
                el.clear()
        elif local == "mergeCell":
            a, _, b = (el.get("ref") or "").partition(":")
            ma, mb = _REF.match(a), _REF.match(b or a)
            if ma and mb and ma.group(1) and mb.group(1):
                self._merged(_int(ma.group(2), 1), _col_number(ma.group(1)), _int(mb.group(2), 1), _col_number(mb.group(1)))
        elif local in ("row", "table-row"):
            if el is not self.current:
                self._enter(el)  # a row without cells still moves the row counter
            self.rows_seen += 1
            if self.rows_seen % 512 == 0:  # drop the rows done so far (memory stays flat)
                el.clear()
                parent = el.getparent()
                if parent is not None:
                    del parent[:parent.index(el)]
        elif local == "table":
            self.row = self.col = self.row_end = 0
            self.current = None
            el.clear()

    def count(self, n: int) -> None:
        """``n`` more row/cell elements seen (by the first pass), valued or not."""
        self.elements += n
        if self.elements > self.limits.max_elements:
            raise ReadError("TOO_LARGE", f"工作表 {self.part} 有超过 {self.limits.max_elements} 个行或单元格元素（含没有内容、只有格式的空行空格），超过上限（疑似格式炸弹），请删除多余的空行后再处理", self.file)

    def _merged(self, r1: int, c1: int, r2: int, c2: int) -> None:
        """A merged range: inside the limits, and not too many covered cells in all."""
        if max(r1, r2) > self.limits.max_rows or max(c1, c2) > self.limits.max_cols:
            raise ReadError("TOO_LARGE", f"工作表 {self.part} 的合并单元格延伸到第 {max(r1, r2)} 行、第 {max(c1, c2)} 列，超过上限 {self.limits.max_rows} 行 × {self.limits.max_cols} 列", self.file)
        self.merged += (abs(r2 - r1) + 1) * (abs(c2 - c1) + 1)
        if self.merged > self.limits.max_merged_cells:
            raise ReadError("TOO_LARGE", f"工作表 {self.part} 的合并单元格共覆盖 {self.merged} 个单元格，超过上限 {self.limits.max_merged_cells}", self.file)

    def _check(self, row: int, col: int) -> None:
        if row > self.limits.max_rows or col > self.limits.max_cols:
            raise ReadError("TOO_LARGE", f"工作表 {self.part} 在第 {row} 行、第 {col} 列有内容，超过上限 {self.limits.max_rows} 行 × {self.limits.max_cols} 列", self.file)


def _attr(el, local: str) -> str | None:
    for key, value in el.attrib.items():
        if key.rpartition("}")[2] == local:
            return value
    return None


def _int(text: str | None, default: int) -> int:
    """A row number or repeat count as calamine would use it; absurd lengths stay absurd."""
    digits = (text or "").strip()
    if not digits.isdigit():
        return default
    return int(digits) if len(digits) < 18 else 10**18


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters[:8].upper():
        n = n * 26 + ord(ch) - 64
    return n if len(letters) <= 8 else 10**18


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> zip part: the ``ooxml`` package's one sheet map (any prefix, quote or
    attribute order), imported here on first use so that importing ``safety`` stays lxml-free."""
    from .ooxml import sheet_parts as opc_sheet_parts

    return opc_sheet_parts(zf)


def short_error(exc: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters) for a Chinese error text."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
