"""Excel number formats: what a formatted number looked like to the person who typed it.

Why: typing ``97.2%`` in Excel stores 0.972 with the format ``0.0%``; a cell formatted
``0"亩"`` stores 12 and shows ``12亩``. calamine gives the stored values only (it does turn
date formats into dates), so a reader that trusts the value scores 0.972 % against ≥95 %.
This module reads the formats of an .xlsx/.xlsm (styles.xml ``cellXfs`` → ``numFmtId``) and
renders the ones that change the meaning - percent and a literal unit - to the text the user
saw; plain number formats (``0.00``, ``#,##0``) and dates are left to the value.

.xls/.et formats come from the file's FORMAT/XF records (``biff_formats``) and an .ods cell's shown
text from the file itself (``ods_shown``). Not recovered: formats this renderer does not model (fractions ``# ?/?``,
scientific ``0.0E+00``, thousands scaling ``#,##0,``, conditional sections ``[>100]``): those
cells keep their stored number, as before.
"""
from __future__ import annotations

import re
import zipfile
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["BUILTIN_FORMATS", "biff_formats", "cell_formats", "meaningful", "ods_shown", "render"]

# Built-in numFmtIds that matter here (ECMA-376 18.8.30); 14-22 and 45-47 are dates, which
# calamine already reads as dates.
BUILTIN_FORMATS = {9: "0%", 10: "0.00%"}
DATE_IDS = frozenset(range(14, 23)) | {45, 46, 47}
MAX_STYLES_BYTES = 16 * 2**20  # Excel's own styles.xml stays well under 1 MiB

_TOKEN = re.compile(r'"(?P<q>[^"]*)"|\\(?P<e>.)|\[(?P<b>[^\]]*)\]|_(?P<pad>.)|\*(?P<fill>.)'
                    r'|(?P<num>[0#?][0#?,]*(?:\.[0#?]*)?|\.[0#?]+)|(?P<general>General)|(?P<c>.)', re.S | re.I)
_DATE_LETTERS = set("yYmMdDhHsSeE")  # outside quotes: a date/time (or scientific) format
_UNSUPPORTED = set("/@")  # fractions, text format


def meaningful(code: str) -> bool:
    """Does the format change what the number means to a reader (a percent or literal words)?"""
    parts = _parse(_sections(code)[0]) if code else None
    return parts is not None and (parts["percent"] > 0 or bool("".join(parts["before"] + parts["after"]).strip()))


def render(value: float | int, code: str) -> str | None:
    """``value`` as Excel shows it under ``code``, or None when the format is not modelled."""
    try:
        number = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError, TypeError):
        return None
    if not number.is_finite():
        return None
    sections = _sections(code)
    sign = ""
    if number < 0 and len(sections) >= 2:
        section, number = sections[1], -number
    elif number == 0 and len(sections) >= 3:
        section = sections[2]
    else:
        section = sections[0]
        if number < 0:
            sign, number = "-", -number
    parts = _parse(section)
    if parts is None:
        return None
    number = number * Decimal(100) ** parts["percent"]
    if parts["general"]:
        digits = format(number.normalize(), "f") if number != number.to_integral_value() else str(int(number))
    elif parts["pattern"] is None:
        digits = ""
    else:
        digits = _digits(number, parts["pattern"])
        if digits is None:
            return None
    return sign + "".join(parts["before"]) + digits + "".join(parts["after"])


def _sections(code: str) -> list[str]:
    out, cur, quoted, escape = [], "", False, False
    for ch in code:
        if escape:
            cur, escape = cur + ch, False
        elif ch == "\\":
            cur, escape = cur + ch, True
        elif ch == '"':
            cur, quoted = cur + ch, not quoted
        elif ch == ";" and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur]


def _parse(section: str) -> dict | None:
    """before-literals, the digit pattern, after-literals, percent count; None if unsupported."""
    before, after, pattern, percent, general = [], [], None, 0, False
    for m in _TOKEN.finditer(section):
        lit = None
        if m["q"] is not None:
            lit = m["q"]
        elif m["e"] is not None:
            lit = m["e"]
        elif m["b"] is not None:
            inner = m["b"]
            if inner.startswith("$"):  # [$¥-804]: a currency symbol, then a locale
                lit = inner[1:].split("-", 1)[0]
            elif re.fullmatch(r"[<>=].*", inner):  # conditional sections: not modelled
                return None
            else:
                continue  # [Red], [Color10], [DBNum1] …
        elif m["pad"] is not None or m["fill"] is not None:
            lit = " " if m["pad"] is not None else ""
        elif m["num"] is not None:
            if pattern is not None or general:
                return None  # two digit groups (fractions, 0 0): not modelled
            pattern = m["num"]
            continue
        elif m["general"] is not None:
            if pattern is not None:
                return None
            general = True
            continue
        else:
            ch = m["c"]
            if ch in _DATE_LETTERS or ch in _UNSUPPORTED:
                return None
            if ch == "%":
                percent += 1
            lit = ch
        (after if pattern is not None or general else before).append(lit)
    if pattern is not None and pattern.rstrip(".").endswith(","):
        return None  # thousands scaling (#,##0,): not modelled
    return {"before": before, "after": after, "pattern": pattern, "percent": percent, "general": general}


def _digits(number: Decimal, pattern: str) -> str | None:
    whole_pat, _, frac_pat = pattern.partition(".")
    places = len(frac_pat)
    required = len(frac_pat.rstrip("#?"))
    try:
        q = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    whole, _, frac = format(q, "f").partition(".")
    frac = frac.rstrip("0").ljust(required, "0") if places else ""
    min_int = whole_pat.replace(",", "").count("0")
    whole = whole.lstrip("0") or ""
    whole = whole.rjust(min_int, "0")
    if "," in whole_pat and whole:
        whole = f"{int(whole):,}"
        whole = whole.rjust(min_int, "0") if len(whole) < min_int else whole
    return whole + ("." + frac if frac else "")


# --------------------------------------------------------------------------- reading a workbook

_C_TAG = re.compile(rb"<(?:[\w.-]+:)?c\b([^>]*)>")
_ATTR = re.compile(rb"""\b(r|s|t)\s*=\s*["']([^"']*)["']""")
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d{1,7})")


def cell_formats(zf: zipfile.ZipFile, parts: dict[str, str]) -> dict[str, dict[tuple[int, int], str]]:
    """``{sheet name: {(row, col): format code}}`` for the cells whose format is ``meaningful``.

    ``parts`` maps sheet names to their zip parts. The zip passed ``safety.sniff`` first (no
    DTD/entity in any part, sizes bounded); styles.xml is parsed by lxml without entities or
    network, and the sheets are only searched for ``<c>`` start tags (r, s, t attributes):
    a workbook without percent/unit formats costs one small parse.
    """
    xfs = _meaningful_xfs(zf)
    if not xfs:
        return {}
    wanted = {str(i).encode(): code for i, code in xfs.items()}
    out: dict[str, dict[tuple[int, int], str]] = {}
    for sheet, part in parts.items():
        try:
            data = zf.read(part)
        except KeyError:
            continue
        found: dict[tuple[int, int], str] = {}
        for m in _C_TAG.finditer(data):
            attrs = dict(_ATTR.findall(m.group(1)))
            code = wanted.get(attrs.get(b"s", b"").strip())
            if code is None or attrs.get(b"t", b"n") not in (b"n", b""):
                continue
            ref = _CELL_REF.fullmatch(attrs.get(b"r", b"").decode("ascii", "replace").strip().upper())
            if ref:
                col = 0
                for ch in ref.group(1):
                    col = col * 26 + ord(ch) - 64
                found[(int(ref.group(2)), col)] = code
        if found:
            out[sheet] = found
    return out


def _meaningful_xfs(zf: zipfile.ZipFile) -> dict[int, str]:
    """xf index (the ``s`` of a cell) -> format code, for percent/literal-unit formats only."""
    from lxml import etree

    try:
        if zf.getinfo("xl/styles.xml").file_size > MAX_STYLES_BYTES:
            return {}  # no real styles part is this large: keep the stored values, as before
        data = zf.read("xl/styles.xml")
    except KeyError:
        return {}
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        return {}  # calamine read the values; without styles there is nothing to add
    custom = {}
    for el in root.iterfind("{*}numFmts/{*}numFmt"):
        try:
            custom[int(el.get("numFmtId", ""))] = el.get("formatCode") or ""
        except ValueError:
            continue
    out = {}
    for index, xf in enumerate(root.iterfind("{*}cellXfs/{*}xf")):
        try:
            fid = int(xf.get("numFmtId", "0"))
        except ValueError:
            continue
        if fid in DATE_IDS:
            continue
        code = custom.get(fid, BUILTIN_FORMATS.get(fid))
        if code and meaningful(code):
            out[index] = code
    return out


# --------------------------------------------------------------------------- .ods

_ODS_TYPES = {"percentage": "ods:percentage", "float": "ods:float", "currency": "ods:currency"}
_PLAIN_NUMBER = re.compile(r"[-+]?[\d.,\s]*(?:[Ee][-+]?\d+)?")  # 50,660.00 and 1.2E+03 say nothing more


def ods_shown(zf: zipfile.ZipFile, sheets: set[str], max_rows: int, max_cols: int) -> dict[str, dict[tuple[int, int], tuple[str, str]]]:
    """``{sheet: {(row, col): (kind, text shown)}}`` for .ods number cells whose shown text says
    more than the number (97.2%, 12亩). Positions follow the repeats the way calamine places
    cells; only cells within the limits count (the sniff already refused larger ones)."""
    from lxml import etree

    out: dict[str, dict[tuple[int, int], tuple[str, str]]] = {}
    try:
        fh = zf.open("content.xml")
    except KeyError:
        return out
    table, row, col, rows_rep = None, 0, 0, 1
    with fh:
        context = etree.iterparse(fh, events=("start", "end"), resolve_entities=False, no_network=True,
                                  load_dtd=False, huge_tree=False)
        try:
            for event, el in context:
                local = el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""
                if local == "table":
                    if event == "start":
                        name = _ods_attr(el, "name")
                        table, row = (name if name in sheets else None), 0
                    else:
                        el.clear()
                elif local == "table-row":
                    if event == "start":
                        row += 1
                        col = 0
                        rows_rep = _repeat(_ods_attr(el, "number-rows-repeated"))
                    else:
                        row += rows_rep - 1
                        el.clear()
                elif local in ("table-cell", "covered-table-cell") and event == "end":
                    first = col + 1
                    col += _repeat(_ods_attr(el, "number-columns-repeated"))
                    kind = _ODS_TYPES.get(_ods_attr(el, "value-type") or "")
                    if table is not None and kind and row <= max_rows and first <= max_cols:
                        text = "\n".join("".join(p.itertext()) for p in el if p.tag.rpartition("}")[2] == "p").strip()
                        if text and not _PLAIN_NUMBER.fullmatch(text):
                            out.setdefault(table, {})[(row, first)] = (kind, text)
                    el.clear()
        except etree.XMLSyntaxError:
            return out  # calamine read the values; the sniff names a broken part
    return out


def _ods_attr(el, local: str) -> str | None:
    for key, value in el.attrib.items():
        if key.rpartition("}")[2] == local:
            return value
    return None


def _repeat(text: str | None) -> int:
    digits = (text or "").strip()
    return min(int(digits), 10**7) if digits.isdigit() and len(digits) < 9 else 1


# --------------------------------------------------------------------------- .xls / .et (BIFF8)

_BIFF_NUMBER_CELLS = {0x0203: "number", 0x027E: "rk", 0x0006: "formula", 0x00BD: "mulrk"}


def biff_formats(data: bytes) -> dict[str, dict[tuple[int, int], str]]:
    """``{sheet: {(row, col): format code}}`` for the number cells of a BIFF8 Workbook stream
    whose format is ``meaningful`` (FORMAT and XF records of the globals, then each sheet's
    NUMBER/RK/MULRK/FORMULA records and their XF index). The stream passed ``safety._check_biff``."""
    import struct

    def records(pos: int):
        while pos + 4 <= len(data):
            typ, size = struct.unpack_from("<HH", data, pos)
            yield typ, data[pos + 4:pos + 4 + size]
            pos += 4 + size

    custom: dict[int, str] = {}
    xf_formats: list[int] = []
    sheets: list[tuple[int, str]] = []
    for typ, body in records(0):
        if typ == 0x041E and len(body) >= 5:  # FORMAT: ifmt, XLUnicodeString
            custom[struct.unpack_from("<H", body)[0]] = _biff_string(body, 2)
        elif typ == 0x00E0 and len(body) >= 4:  # XF: ifnt, ifmt
            xf_formats.append(struct.unpack_from("<H", body, 2)[0])
        elif typ == 0x0085 and len(body) >= 8 and body[5] == 0:  # BoundSheet8 of a worksheet
            sheets.append((struct.unpack_from("<I", body)[0], _biff_short_string(body, 6)))
        elif typ == 0x000A:
            break
    wanted: dict[int, str] = {}
    for index, fid in enumerate(xf_formats):
        code = custom.get(fid, BUILTIN_FORMATS.get(fid))
        if fid not in DATE_IDS and code and meaningful(code):
            wanted[index] = code
    out: dict[str, dict[tuple[int, int], str]] = {}
    if not wanted:
        return out
    for start, name in sheets:
        found: dict[tuple[int, int], str] = {}
        for typ, body in records(start):
            if typ == 0x000A:
                break
            kind = _BIFF_NUMBER_CELLS.get(typ)
            if kind is None or len(body) < 6:
                continue
            row, col = struct.unpack_from("<HH", body)
            if kind == "mulrk":
                for k in range((len(body) - 6) // 6):
                    code = wanted.get(struct.unpack_from("<H", body, 4 + 6 * k)[0])
                    if code:
                        found[(row + 1, col + k + 1)] = code
                continue
            if kind == "formula" and len(body) >= 14 and body[12:14] == b"\xff\xff":
                continue  # a cached string/bool/error, not a number
            code = wanted.get(struct.unpack_from("<H", body, 4)[0])
            if code:
                found[(row + 1, col + 1)] = code
        if found:
            out[name] = found
    return out


def _biff_string(body: bytes, pos: int) -> str:
    """XLUnicodeString: cch (u16), flags (bit 0: UTF-16), characters."""
    import struct

    cch = struct.unpack_from("<H", body, pos)[0]
    wide = body[pos + 2] & 1
    raw = body[pos + 3:pos + 3 + cch * (2 if wide else 1)]
    return raw.decode("utf-16-le" if wide else "latin-1", "replace")


def _biff_short_string(body: bytes, pos: int) -> str:
    """ShortXLUnicodeString: cch (u8), flags, characters."""
    cch = body[pos]
    wide = body[pos + 1] & 1 if len(body) > pos + 1 else 0
    raw = body[pos + 2:pos + 2 + cch * (2 if wide else 1)]
    return raw.decode("utf-16-le" if wide else "latin-1", "replace")
