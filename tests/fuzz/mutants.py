"""Seeded mutants of the sample 自评表 for the fuzz harness (issue 8).

``make(seed, index)`` always returns the same bytes for the same (seed, index), so a failing
mutant is reproduced with ``python -m tests.fuzz.run_fuzz --seed S --only INDEX --keep``.

Families (a fixed schedule, so any 20 consecutive indices cover all of them):
- ``cell``      one to three cells get another type or hostile content (numbers, dates,
                booleans, error cells, formulas with/without cached values, 1e308, long,
                control, RTL and emoji text, full-width copies, empty cells, negative weights);
- ``structure`` rows/columns deleted or duplicated, class labels shuffled or missing, a second
                indicator table, merges broken/overlapping/absurd, the narrative sheet missing;
- ``file``      the zip itself: truncated, bytes flipped, entries removed or duplicated,
                declared sizes forged, bombs, a 200k-row sheet, far cells, XML entities;
- ``format``    the same sample as .xls (BIFF8 records patched) and .ods (content.xml patched),
                from ``bases/`` (converted once with LibreOffice and committed), and as a Word
                自评价报告 .docx (``bases/sample.docx``, ``tools/build_word.py``; document.xml
                patched: spans, merges, rows, cells, text, nesting, DTDs, damaged zip).

Everything works on the XML/bytes directly (lxml, zipfile, struct), never through openpyxl:
the point is to produce files no well-behaved writer would.
"""
from __future__ import annotations

import copy
import functools
import io
import random
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE = ROOT / "samples" / "苏州市打造先进制造业基地专项资金_2020.xlsx"
BASE_XLS = HERE / "bases" / "sample.xls"
BASE_ODS = HERE / "bases" / "sample.ods"
BASE_DOCX = HERE / "bases" / "sample.docx"
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET1 = "xl/worksheets/sheet1.xml"  # 自评表
SHEET2 = "xl/worksheets/sheet2.xml"  # 项目基本情况 (narrative)


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


@dataclass
class Mutant:
    index: int
    seed: int
    family: str
    ops: list[str] = field(default_factory=list)
    name: str = ""
    data: bytes = b""
    expect: str = ""  # "" = any graceful outcome; else the required ReadError code ("TOO_LARGE", ...)
    fast: bool = False  # must finish (ok or error) in well under a second of reading

    def describe(self) -> str:
        return f"#{self.index} [{self.family}] " + "; ".join(self.ops)


# ---------------------------------------------------------------------------- references

def col_num(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def col_letter(col: int) -> str:
    s = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def split_ref(ref: str) -> tuple[int, int] | None:
    m = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?(\d+)", ref or "")
    return (int(m.group(2)), col_num(m.group(1))) if m else None


# ---------------------------------------------------------------------------- zip package

class Package:
    """The zip entries of an xlsx/ods in order; parts replaced as bytes."""

    def __init__(self, data: bytes):
        self.entries: list[tuple[str, bytes]] = []
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                self.entries.append((info.filename, zf.read(info)))

    def names(self) -> list[str]:
        return [n for n, _ in self.entries]

    def get(self, name: str) -> bytes:
        return next(d for n, d in self.entries if n == name)

    def set(self, name: str, data: bytes) -> None:
        for i, (n, _) in enumerate(self.entries):
            if n == name:
                self.entries[i] = (name, data)
                return
        self.entries.append((name, data))

    def remove(self, name: str) -> None:
        self.entries = [(n, d) for n, d in self.entries if n != name]

    def to_bytes(self, method: int = zipfile.ZIP_DEFLATED, level: int = 6) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", method, compresslevel=level if method == zipfile.ZIP_DEFLATED else None) as zf:
            for n, d in self.entries:
                info = zipfile.ZipInfo(n, date_time=(2020, 12, 31, 0, 0, 0))
                info.compress_type = method
                zf.writestr(info, d)
        return buf.getvalue()


# ---------------------------------------------------------------------------- worksheet XML

class Sheet:
    """A worksheet part as an lxml tree, with row/column surgery that renumbers references."""

    def __init__(self, xml: bytes):
        self.root = etree.fromstring(xml)
        self.data = self.root.find(q("sheetData"))

    def to_bytes(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", standalone=True)

    # -- reading
    def rows(self) -> list:
        return list(self.data.iterfind(q("row")))

    def cells(self) -> list:
        return list(self.data.iter(q("c")))

    @staticmethod
    def pos(c) -> tuple[int, int] | None:
        return split_ref(c.get("r", ""))

    @staticmethod
    def text(c) -> str:
        if c.get("t") == "inlineStr":
            return "".join(c.find(q("is")).itertext()) if c.find(q("is")) is not None else ""
        v = c.find(q("v"))
        return v.text or "" if v is not None else ""

    def cell_at(self, row: int, col: int):
        index = getattr(self, "_index", None)
        if index is None:
            index = self._index = {self.pos(c): c for c in self.cells() if self.pos(c)}
        c = index.get((row, col))
        if c is not None and self.pos(c) == (row, col) and c.getparent() is not None:
            return c
        self._index = None  # stale after surgery: rebuild once
        for c in self.cells():
            if self.pos(c) == (row, col):
                return c
        return None

    def find_text(self, pred) -> list:
        return [c for c in self.cells() if pred(self.text(c))]

    def valued(self) -> list:
        return [c for c in self.cells() if len(c)]

    def table_rows(self) -> tuple[int, int]:
        """(header row, total row) of the indicator table (the sample's when a mutation hid them)."""
        head = next((self.pos(c)[0] for c in self.cells() if self.text(c) == "指标名称" and self.pos(c)), 70)
        total = next((self.pos(c)[0] for c in self.cells() if self.text(c) == "合计" and self.pos(c) and self.pos(c)[0] > head), 163)
        return head, max(total, head + 2)

    # -- writing a value
    @staticmethod
    def clear(c) -> None:
        for child in list(c):
            c.remove(child)
        for a in ("t",):
            if a in c.attrib:
                del c.attrib[a]

    def put(self, c, kind: str, value: str = "", formula: str | None = None) -> None:
        """kind: n (number as typed), s (inline string), b, e, d, str (formula string), raw-s (shared index)."""
        self.clear(c)
        if formula is not None:
            f = etree.SubElement(c, q("f"))
            f.text = formula
        if kind == "s":
            c.set("t", "inlineStr")
            is_ = etree.SubElement(c, q("is"))
            t = etree.SubElement(is_, q("t"))
            t.text = value
            if value != value.strip():
                t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            return
        if kind in ("b", "e", "d", "str", "s-index"):
            c.set("t", "s" if kind == "s-index" else kind)
        if value != "" or kind != "n":
            v = etree.SubElement(c, q("v"))
            v.text = value

    def ensure(self, row: int, col: int):
        c = self.cell_at(row, col)
        if c is not None:
            return c
        r = next((x for x in self.rows() if x.get("r") == str(row)), None)
        if r is None:
            r = etree.SubElement(self.data, q("row"), r=str(row))
        c = etree.SubElement(r, q("c"), r=f"{col_letter(col)}{row}")
        self._index = None
        return c

    # -- merges
    def merges(self) -> list[str]:
        mc = self.root.find(q("mergeCells"))
        return [m.get("ref") for m in mc] if mc is not None else []

    def set_merges(self, refs: list[str]) -> None:
        mc = self.root.find(q("mergeCells"))
        if mc is None:
            mc = etree.Element(q("mergeCells"))
            self.data.addnext(mc)
        for m in list(mc):
            mc.remove(m)
        for ref in refs:
            etree.SubElement(mc, q("mergeCell"), ref=ref)
        mc.set("count", str(len(refs)))
        if not refs:
            mc.getparent().remove(mc)

    def _shift_merges(self, fn) -> None:
        out = []
        for ref in self.merges():
            a, _, b = ref.partition(":")
            pa, pb = split_ref(a), split_ref(b or a)
            if not pa or not pb:
                out.append(ref)
                continue
            na, nb = fn(*pa), fn(*pb)
            if na is None or nb is None:
                continue
            out.append(f"{col_letter(na[1])}{na[0]}:{col_letter(nb[1])}{nb[0]}")
        self.set_merges(out)

    # -- rows and columns
    def _renumber(self, row_el, new: int) -> None:
        row_el.set("r", str(new))
        for c in row_el.iterfind(q("c")):
            p = self.pos(c)
            if p:
                c.set("r", f"{col_letter(p[1])}{new}")

    def delete_rows(self, first: int, count: int, shift_merges: bool) -> None:
        for r in self.rows():
            n = int(r.get("r", "0"))
            if first <= n < first + count:
                self.data.remove(r)
            elif n >= first + count:
                self._renumber(r, n - count)
        if shift_merges:
            self._shift_merges(lambda row, col: None if first <= row < first + count
                               else ((row - count if row >= first + count else row), col))

    def duplicate_row(self, row: int, shift_merges: bool) -> None:
        import copy

        src = next((r for r in self.rows() if r.get("r") == str(row)), None)
        if src is None:
            return
        for r in reversed(self.rows()):
            n = int(r.get("r", "0"))
            if n > row:
                self._renumber(r, n + 1)
        dup = copy.deepcopy(src)
        self._renumber(dup, row + 1)
        src.addnext(dup)
        if shift_merges:
            self._shift_merges(lambda r, c: ((r + 1 if r > row else r), c))

    def delete_col(self, col: int, shift_merges: bool) -> None:
        for c in self.cells():
            p = self.pos(c)
            if not p:
                continue
            if p[1] == col:
                c.getparent().remove(c)
            elif p[1] > col:
                c.set("r", f"{col_letter(p[1] - 1)}{p[0]}")
        if shift_merges:
            self._shift_merges(lambda r, c: None if c == col else (r, c - 1 if c > col else c))

    def duplicate_col(self, col: int, shift_merges: bool) -> None:
        import copy

        for row in self.rows():
            cells = list(row.iterfind(q("c")))
            for c in reversed(cells):
                p = self.pos(c)
                if p and p[1] > col:
                    c.set("r", f"{col_letter(p[1] + 1)}{p[0]}")
            for c in cells:
                p = self.pos(c)
                if p and p[1] == col:
                    dup = copy.deepcopy(c)
                    dup.set("r", f"{col_letter(col + 1)}{p[0]}")
                    c.addnext(dup)
        if shift_merges:
            self._shift_merges(lambda r, c: (r, c + 1 if c > col else c))


# ---------------------------------------------------------------------------- hostile values

CONTROL = "".join(chr(i) for i in range(1, 32) if i not in (9, 10, 13))
RTL = "\u202e\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd\u202c"
EMOJI = "\U0001F600\U0001F44D\U0001F3FD\U0001F468\u200d\U0001F469\u200d\U0001F467\u2764\ufe0f\U0001F1E8\U0001F1F3"

TEXTS = [
    "", " ", "\u3000", "\n\n", "测" * 10_000, "x" * 10_000, "年" * 40_000,  # the last one is over max_text
    "=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "=HYPERLINK(\"http://example.invalid\",\"x\")",
    "../../../etc/passwd", "..\\..\\windows\\win.ini", "/abs/path", "C:\\x", "CON", "NUL.txt", "AUX", "a/b\\c:d*e?f\"g<h>i|j",
    "{{ 7*7 }}", "{% for x in range(10**9) %}x{% endfor %}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "<script>alert(1)</script>", "&amp;&lt;", "R&D <5%", "%s%s%n", "'; DROP TABLE x; --",
    RTL, EMOJI, "\u200b\u200c\u200d\ufeff", "\u0301\u0301\u0301", "𠀀𪚥𰻞", "ｆｕｌｌ　ｗｉｄｔｈ",
    "1e308", "-1e308", "1e999", "NaN", "Infinity", "-0", "0x1F", "9" * 400, "0." + "0" * 400 + "1",
    "1" + "0" * 400 + "%", "=99.9%", "≥" * 50, "%%%", "１２３４５６７８９０", "1,234,567.89万", "-5", "−3.2",
    "≥1e308个", "≤-1e308%", "=" + "9" * 30 + "亿", "完成" * 2000, "好较好一般较差差", "全省第九九九九九九九九九名",
    "2020年13月45日", "9999年12月31日", "0年0月0日", "第-1名", "＝１３１个", "≥100%≥100%", "1/0", "#DIV/0!",
]
NUMBERS = ["0", "-1", "1e308", "-1e308", "5e-324", "-5e-324", "1.7976931348623157e308", "123456789012345678901234567890",
           "3.14159", "-0", "1e16", "-77.38", "100000000", "0.000001", "NaN", "INF", "-inf", "1e400", "abc", "", " 12 ",
           "0x10", "1,5", "１２"]
ERRORS = ["#DIV/0!", "#N/A", "#REF!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA", "#SPILL!", "garbage"]
DATES = ["2020-12-31T00:00:00", "1900-01-01T00:00:00", "9999-12-31T23:59:59", "2020-13-45T99:99:99", "not a date", "0000-00-00"]
FORMULAS = [("SUM(G71:G80)", "77.38", "n"), ("1/0", "#DIV/0!", "e"), ("\"a\"&\"b\"", "ab", "str"), ("NOW()", "44197.5", "n"),
            ("A1", None, "n"), ("INDIRECT(\"A\"&ROW())", None, "n"), ("1+", None, "n"), ("REPT(\"x\",32767)", "x" * 32767, "str"),
            ("SUM(" * 200 + "1" + ")" * 200, None, "n"), ("TRUE()", "1", "b")]


def fullwidth(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch == " ":
            out.append("\u3000")
        elif 0x21 <= o <= 0x7E:
            out.append(chr(o + 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


# ---------------------------------------------------------------------------- cell family

def _pick_cell(rng: random.Random, sh: Sheet):
    """A cell worth mutating: usually in the indicator table (target/weight/actual/score)."""
    head, total = sh.table_rows()
    roll = rng.random()
    if roll < 0.45:
        row = rng.randint(head + 1, total)
        col = rng.choice([4, 5, 6, 7, 3, 2])
        return sh.ensure(row, col)
    if roll < 0.65:  # labels: headers, class labels, 合计, field labels
        labels = sh.find_text(lambda t: t in ("指标名称", "目标值", "权重", "实际完成值", "自评分", "类别", "项目", "合计",
                                              "项目名称", "项目年份", "年初预算数", "财政拨款数", "实际支付数", "子项目名称")
                              or bool(re.match(r"^(投入|产出|结果|影响力)目标", t)) or t.startswith("项目绩效实现情况"))
        if labels:
            return rng.choice(labels)
    if roll < 0.8:  # the money blocks and the project fields (above the table)
        above = [c for c in sh.valued() if sh.pos(c) and sh.pos(c)[0] < head]
        if above:
            return rng.choice(above)
    return rng.choice(sh.valued())


# Cell kinds that are one value of one cell type: kind -> (values, type, description).
_TYPED = {
    "number": (NUMBERS[:14], "n", "number {}"),
    "rawnum": (NUMBERS[14:], "n", "<v>{!r}</v> (t=n)"),  # a numeric cell whose <v> is not a number
    "huge": (["1e308", "-1e308", "1.7976931348623157e308", "-1.7976931348623157e308"], "n", "{}"),
    "bool": (["0", "1", "2", "true"], "b", "bool {}"),
    "error": (ERRORS, "e", "error {}"),
    "date": (DATES, "d", "date {}"),
}


def _cell_op(rng: random.Random, sh: Sheet, c) -> str:
    ref = c.get("r", "?")
    kind = rng.choice(["number", "text", "text", "bool", "error", "date", "formula", "formula", "empty", "remove",
                       "fullwidth", "huge", "shared", "rawnum"])
    if kind in _TYPED:
        pool, typ, describe = _TYPED[kind]
        v = rng.choice(pool)
        sh.put(c, typ, v)
        return f"{ref} = {describe.format(v)}"
    if kind == "text":
        v = rng.choice(TEXTS)
        sh.put(c, "s", v)
        return f"{ref} = text {v[:30]!r}{'…' if len(v) > 30 else ''} (len {len(v)})"
    if kind == "formula":
        f, cached, t = rng.choice(FORMULAS)
        if rng.random() < 0.4:
            cached = None
        if cached is None:
            sh.put(c, "n", "", formula=f)
        else:
            sh.put(c, t, cached, formula=f)
        return f"{ref} = formula ={f[:30]} cached={cached if cached is None else cached[:20]!r}"
    if kind == "empty":
        sh.clear(c)
        return f"{ref} emptied"
    if kind == "remove":
        c.getparent().remove(c)
        return f"{ref} removed"
    if kind == "fullwidth":
        t = sh.text(c)
        sh.put(c, "s", fullwidth(t) if t else "１２３")
        return f"{ref} full-width copy"
    if kind == "shared":
        v = rng.choice(["0", "99999", "-1", "abc"])
        sh.put(c, "s-index", v)
        return f"{ref} = shared string index {v} (no sharedStrings part)"
    raise AssertionError(kind)


def _weights_op(rng: random.Random, sh: Sheet) -> str:
    head, total = sh.table_rows()
    mode = rng.choice(["negative", "zero", "huge", "text"])
    n = 0
    for row in range(head + 1, total):
        c = sh.cell_at(row, 5)
        if c is None or not len(c) or rng.random() < 0.5:
            continue
        t = sh.text(c)
        if mode == "negative":
            sh.put(c, "n", "-" + t.lstrip("-") if t else "-1")
        elif mode == "zero":
            sh.put(c, "n", "0")
        elif mode == "huge":
            sh.put(c, "n", rng.choice(["1e308", "-1e308"]))
        else:
            sh.put(c, "s", f"{t}分")
        n += 1
    return f"weights: {mode} in {n} rows"


TINY = ["0.0000000000000000000000000001个", "=1e-28", "5e-324", "≤0.00000000000000000000000000001", "0.0001%", "0", "-0.000001"]
HUGE = ["999999999999999个", "99999999999999999999999999999999999999个", "≥9999999999999999999999999999999%", "1e14", "=1e300个",
        "-999999999999999"]


def _extreme_pair(rng: random.Random, sh: Sheet) -> str:
    """Target and actual of one row at opposite extremes: completion rates of 1e40 % and more."""
    head, total = sh.table_rows()
    row = rng.randint(head + 1, total - 1)
    t, a = rng.choice(TINY), rng.choice(HUGE)
    if rng.random() < 0.5:
        t, a = a, t
    for col, v in ((4, t), (6, a)):
        c = sh.ensure(row, col)
        if re.fullmatch(r"-?[\d.e]+", v):
            sh.put(c, "n", v)
        else:
            sh.put(c, "s", v)
    return f"row {row}: target {t!r}, actual {a!r}"


def _control_op(rng: random.Random, sh: Sheet, c) -> tuple[str, bool]:
    """Control characters: Excel's _xHHHH_ escapes (valid XML), or raw (invalid XML)."""
    ref = c.get("r", "?")
    if rng.random() < 0.5:
        sh.put(c, "s", "".join(f"_x{ord(ch):04X}_" for ch in CONTROL) + "预算执行率")
        return f"{ref} = _xHHHH_ control escapes", False
    return f"{ref} = raw control characters", True


def cell_mutant(rng: random.Random, m: Mutant) -> None:
    pkg = Package(SAMPLE.read_bytes())
    sh = Sheet(pkg.get(SHEET1))
    raw_control = None
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        roll = rng.random()
        if roll < 0.1:
            m.ops.append(_weights_op(rng, sh))
        elif roll < 0.16:
            m.ops.append(_extreme_pair(rng, sh))
        elif roll < 0.18:
            c = _pick_cell(rng, sh)
            op, raw = _control_op(rng, sh, c)
            m.ops.append(op)
            if raw:
                raw_control = c.get("r")
                sh.put(c, "s", "@@CONTROL@@")
        else:
            m.ops.append(_cell_op(rng, sh, _pick_cell(rng, sh)))
    if rng.random() < 0.15:  # the narrative sheet too
        n2 = Sheet(pkg.get(SHEET2))
        c = rng.choice(n2.valued())
        m.ops.append("narrative " + _cell_op(rng, n2, c))
        pkg.set(SHEET2, n2.to_bytes())
    xml = sh.to_bytes()
    if raw_control:
        xml = xml.replace(b"@@CONTROL@@", CONTROL.encode() + "预算".encode())
    pkg.set(SHEET1, xml)
    _maybe_shared(rng, pkg, m)
    m.data = pkg.to_bytes()


def _maybe_shared(rng: random.Random, pkg: Package, m: Mutant) -> None:
    """Excel writes shared strings, not the sample's inline strings: convert a third of the mutants."""
    if rng.random() < 0.33:
        try:
            to_shared_strings(pkg)
        except (etree.XMLSyntaxError, KeyError):
            return  # the mutation broke the XML on purpose: keep it as it is
        m.ops.append("strings moved to sharedStrings.xml")


def to_shared_strings(pkg: Package, extra: str = "") -> None:
    """Move every inline string of the worksheets into xl/sharedStrings.xml, as Excel does."""
    table: dict[str, int] = {}
    count = 0
    for part in [n for n in pkg.names() if n.startswith("xl/worksheets/") and n.endswith(".xml")]:
        sh = Sheet(pkg.get(part))
        for c in sh.cells():
            if c.get("t") == "inlineStr":
                text = sh.text(c)
                idx = table.setdefault(text, len(table))
                sh.clear(c)
                c.set("t", "s")
                etree.SubElement(c, q("v")).text = str(idx)
                count += 1
        pkg.set(part, sh.to_bytes())
    sst = etree.Element(q("sst"), nsmap={None: NS}, count=str(count), uniqueCount=str(len(table)))
    for text in table:
        si = etree.SubElement(sst, q("si"))
        t = etree.SubElement(si, q("t"))
        t.text = text
        t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    xml = etree.tostring(sst, xml_declaration=True, encoding="UTF-8", standalone=True)
    if extra:
        xml = xml.replace(b"</sst>", extra.encode() + b"</sst>")
    pkg.set("xl/sharedStrings.xml", xml)
    rels = pkg.get("xl/_rels/workbook.xml.rels").decode()
    if "sharedStrings" not in rels:
        pkg.set("xl/_rels/workbook.xml.rels", rels.replace("</Relationships>", (
            '<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
            'Target="sharedStrings.xml" Id="rId99"/></Relationships>')).encode())
        ct = pkg.get("[Content_Types].xml").decode()
        pkg.set("[Content_Types].xml", ct.replace("</Types>", (
            '<Override PartName="/xl/sharedStrings.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')).encode())


# ---------------------------------------------------------------------------- structure family

CLASS = re.compile(r"^(投入|产出|结果|影响力)目标")


def structure_mutant(rng: random.Random, m: Mutant) -> None:
    pkg = Package(SAMPLE.read_bytes())
    sh = Sheet(pkg.get(SHEET1))
    ops = ["del_rows", "dup_row", "del_col", "dup_col", "shuffle_class", "drop_class", "unknown_class",
           "second_table", "second_table_sheet", "merges_broken", "merges_overlap", "merges_absurd",
           "narrative_missing", "narrative_part_missing", "sheet_order", "header_renamed", "total_row",
           "no_refs", "rows_shuffled", "dimension", "hidden_form", "sheet_names"]
    for _ in range(rng.choice([1, 1, 2])):
        op = ops[(m.index // 20 + len(m.ops)) % len(ops)] if not m.ops else rng.choice(ops)
        m.ops.append(_structure_op(rng, pkg, sh, op))
    pkg.set(SHEET1, sh.to_bytes())
    _maybe_shared(rng, pkg, m)
    m.data = pkg.to_bytes()


def _structure_op(rng: random.Random, pkg: Package, sh: Sheet, op: str) -> str:
    head, total = sh.table_rows()
    shift = rng.random() < 0.6
    if op == "del_rows":
        where = rng.choice(["table", "header", "total", "top", "any"])
        first = {"table": rng.randint(head + 1, max(head + 1, total - 1)), "header": head, "total": total,
                 "top": rng.randint(1, 10), "any": rng.randint(1, total + 5)}[where]
        count = rng.choice([1, 1, 2, 5, 30])
        sh.delete_rows(first, count, shift)
        return f"delete rows {first}..{first + count - 1} ({where}, merges {'shifted' if shift else 'kept'})"
    if op == "dup_row":
        row = rng.choice([head, total, rng.randint(head + 1, total - 1), rng.randint(1, head)])
        sh.duplicate_row(row, shift)
        return f"duplicate row {row}"
    if op == "del_col":
        col = rng.randint(1, 8)
        sh.delete_col(col, shift)
        return f"delete column {col_letter(col)}"
    if op == "dup_col":
        col = rng.randint(1, 7)
        sh.duplicate_col(col, shift)
        return f"duplicate column {col_letter(col)}"
    if op == "shuffle_class":
        cells = sh.find_text(lambda t: bool(CLASS.match(t)))
        texts = [sh.text(c) for c in cells]
        rng.shuffle(texts)
        for c, t in zip(cells, texts):
            sh.put(c, "s", t)
        return "class labels shuffled: " + "/".join(t[:4] for t in texts)
    if op == "drop_class":
        cells = sh.find_text(lambda t: bool(CLASS.match(t)))
        drop = cells if rng.random() < 0.4 else rng.sample(cells, rng.randint(1, len(cells)))
        for c in drop:
            sh.clear(c)
        return f"class labels removed: {len(drop)} of {len(cells)}"
    if op == "unknown_class":
        cells = sh.find_text(lambda t: bool(CLASS.match(t)))
        c = rng.choice(cells)
        v = rng.choice(["其他目标（5分）", "效益目标（30分）", "满意度（10分）", "投入目标（-26分）", "产出目标（1e308分）", "产出目标（分）"])
        sh.put(c, "s", v)
        return f"class label {c.get('r')} -> {v}"
    if op == "second_table":
        import copy

        last = max(int(r.get("r")) for r in sh.rows())
        offset = last + 2 - head
        for r in sh.rows():
            n = int(r.get("r"))
            if head <= n <= total:
                dup = copy.deepcopy(r)
                sh._renumber(dup, n + offset)
                sh.data.append(dup)
        return f"second indicator table copied below row {last}"
    if op == "second_table_sheet":
        part = "xl/worksheets/sheet3.xml"
        other = Sheet(pkg.get(SHEET1))
        if rng.random() < 0.5:
            c = other.find_text(lambda t: t == "项目名称")
            if c:
                other.put(other.cell_at(split_ref(c[0].get("r"))[0], split_ref(c[0].get("r"))[1] + 1), "s", "另一个项目")
        pkg.set(part, other.to_bytes())
        wb = pkg.get("xl/workbook.xml").decode()
        sheet = ('<sheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
                 'name="自评表(2)" sheetId="3" state="visible" r:id="rId9"/>')
        first = rng.random() < 0.5
        wb = wb.replace("<sheets>", "<sheets>" + sheet) if first else wb.replace("</sheets>", sheet + "</sheets>")
        pkg.set("xl/workbook.xml", wb.encode())
        rels = pkg.get("xl/_rels/workbook.xml.rels").decode().replace(
            "</Relationships>", '<Relationship Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
            'Target="/xl/worksheets/sheet3.xml" Id="rId9"/></Relationships>')
        pkg.set("xl/_rels/workbook.xml.rels", rels.encode())
        ct = pkg.get("[Content_Types].xml").decode().replace(
            "</Types>", '<Override PartName="/xl/worksheets/sheet3.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        pkg.set("[Content_Types].xml", ct.encode())
        return f"second form sheet added {'first' if first else 'last'}"
    if op == "merges_broken":
        merges = sh.merges()
        keep = [x for x in merges if rng.random() < 0.3]
        sh.set_merges(keep)
        return f"merges removed: {len(merges) - len(keep)} of {len(merges)}"
    if op == "merges_overlap":
        extra = []
        for _ in range(rng.randint(1, 6)):
            r1, c1 = rng.randint(1, total + 3), rng.randint(1, 7)
            extra.append(f"{col_letter(c1)}{r1}:{col_letter(c1 + rng.randint(0, 4))}{r1 + rng.randint(0, 20)}")
        sh.set_merges(sh.merges() + extra)
        return "overlapping merges " + ",".join(extra)
    if op == "merges_absurd":
        v = rng.choice(["A1:XFD1048576", "G10:A1", "A0:B2", "ZZZZ1:A1", "A1", "A1:A1", "B3:B3000000", "$A$1:$B$2", "A1:B2:C3", ""])
        sh.set_merges(sh.merges() + [v] * rng.randint(1, 3))
        return f"absurd merge {v!r}"
    if op == "narrative_missing":
        wb = pkg.get("xl/workbook.xml").decode()
        wb = re.sub(r'<sheet [^>]*name="项目基本情况"[^>]*/>', "", wb)
        pkg.set("xl/workbook.xml", wb.encode())
        if rng.random() < 0.5:
            pkg.remove(SHEET2)
        return "narrative sheet removed from the workbook"
    if op == "narrative_part_missing":
        pkg.remove(SHEET2)
        return "narrative sheet part removed (dangling relationship)"
    if op == "sheet_order":
        wb = pkg.get("xl/workbook.xml").decode()
        sheets = re.findall(r"<sheet [^>]*/>", wb)
        body = "".join(reversed(sheets))
        wb = re.sub(r"<sheets>.*</sheets>", "<sheets>" + body.replace("\\", "\\\\") + "</sheets>", wb)
        pkg.set("xl/workbook.xml", wb.encode())
        return "sheet order reversed"
    if op == "header_renamed":
        labels = sh.find_text(lambda t: t in ("指标名称", "目标值", "权重", "实际完成值", "自评分", "类别"))
        c = rng.choice(labels)
        v = rng.choice(["", "指标名称", "自评分", " 实际 完成值 ", "ACTUAL", fullwidth(sh.text(c)), sh.text(c) + "（备注）"])
        sh.put(c, "s", v)
        return f"header {c.get('r')} -> {v!r}"
    if op == "total_row":
        c = sh.find_text(lambda t: t == "合计")[0]
        mode = rng.choice(["clear", "move_up", "twice"])
        if mode == "clear":
            sh.clear(c)
        elif mode == "move_up":
            sh.put(sh.ensure(head + 3, 1), "s", "合计")
        else:
            sh.put(sh.ensure(total + 2, 1), "s", "合计")
        return f"total row: {mode}"
    if op == "no_refs":
        rows = rng.sample(sh.rows(), min(len(sh.rows()), rng.randint(1, 40)))
        for r in rows:
            for c in r.iterfind(q("c")):
                c.attrib.pop("r", None)
            if rng.random() < 0.5:
                r.attrib.pop("r", None)
        return f"r attributes removed in {len(rows)} rows"
    if op == "rows_shuffled":
        rows = sh.rows()
        for r in rows:
            sh.data.remove(r)
        rng.shuffle(rows)
        for r in rows:
            sh.data.append(r)
        return "row elements in random document order"
    if op == "dimension":
        d = sh.root.find(q("dimension"))
        v = rng.choice(["A1:XFD1048576", "A1", "Z9:A1", "garbage"])
        if d is not None:
            d.set("ref", v)
        return f"dimension ref={v}"
    if op == "hidden_form":
        wb = pkg.get("xl/workbook.xml").decode()
        state = rng.choice(["hidden", "veryHidden"])
        wb = wb.replace('name="自评表" sheetId="1" state="visible"', f'name="自评表" sheetId="1" state="{state}"')
        pkg.set("xl/workbook.xml", wb.encode())
        return f"form sheet {state}"
    if op == "sheet_names":
        wb = pkg.get("xl/workbook.xml").decode()
        v = rng.choice(["../../evil", "CON", "a" * 31, "自评表", "", "'quoted'", "&lt;x&gt;", "项目基本情况", "x!y", "自评表!G14",
                        "A1", "=1+1", "复核结果", "   ", "\u202e表"])
        which = rng.choice(["项目基本情况", "自评表"])
        wb = wb.replace(f'name="{which}"', f'name="{v}"')
        pkg.set("xl/workbook.xml", wb.encode())
        return f"sheet {which} renamed {v!r}"
    raise AssertionError(op)


# ---------------------------------------------------------------------------- file family

def _far_row_xml(variant: str) -> bytes:
    return {
        "plain": b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
        "lower": b'<row r="1048576"><c r="xfd1048576"><v>1</v></c></row>',
        "quotes": b"<row r='1048576'><c r = 'XFD1048576' ><v>1</v></c></row>",
        "prefix": (b'<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="1048576">'
                   b'<x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>'),
        "row_only": b'<row r="4000000000"><c><v>1</v></c></row>',
        "wrap": b'<row r="2"><c r="A99999999999999999999"><v>1</v></c></row>',
        "col": b'<row r="2"><c r="ZZZZZZ2"><v>1</v></c></row>',
        "gt_in_attr": b'<row r="2"><c foo="&gt;>" r="XFD1048576"><v>1</v></c></row>',
        "wide": b'<row r="2"><c r="A2"><v>1</v></c><c r="XFD2"><v>1</v></c></row>',
        "tall": b'<row r="2"><c r="A2"><v>1</v></c></row><row r="1048576"><c r="A1048576"><v>1</v></c></row>',
    }[variant]


@functools.lru_cache(maxsize=None)
def _padded(mb: int, where: str) -> tuple[bytes, int]:
    """The sample with its narrative sheet padded to ``mb`` MiB (cached: slow to compress)."""
    pkg = Package(SAMPLE.read_bytes())
    x = pkg.get(SHEET2)
    pad = mb * 2**20
    if where == "sheetData":
        big = x.replace(b"<sheetData>", b"<sheetData>" + b" " * pad, 1)
    elif where == "comment":
        big = x.replace(b"<sheetData>", b"<!--" + b"x" * pad + b"--><sheetData>", 1)
    else:
        big = x.replace(b"</sheetData>", b'<row r="30"><c r="A30" t="inlineStr"><is><t>' + b"a" * pad
                        + b"</t></is></c></row></sheetData>", 1)
    pkg.set(SHEET2, big)
    return pkg.to_bytes(level=9), len(big)


@functools.lru_cache(maxsize=None)
def _many_entries(n: int) -> bytes:
    """The sample plus ``n`` entries of 1 MiB zeros, written raw (one deflate stream reused)."""
    base = SAMPLE.read_bytes()
    zero = bytes(2**20)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = co.compress(zero) + co.flush()
    crc = zlib.crc32(zero)
    out = bytearray()
    central = bytearray()
    count = 0
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        items = [(i.filename, zf.read(i)) for i in zf.infolist()]
    entries = []
    for name, data in items:
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        entries.append((name, co.compress(data) + co.flush(), zlib.crc32(data), len(data)))
    entries += [(f"xl/media/pad{i}.bin", raw, crc, len(zero)) for i in range(n)]
    for name, comp, c, size in entries:
        nb = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x5A21, c, len(comp), size, len(nb), 0) + nb + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x5A21, c, len(comp), size,
                               len(nb), 0, 0, 0, 0, 0, offset) + nb
        count += 1
    cd = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, len(central), cd, 0)
    return bytes(out)


@functools.lru_cache(maxsize=None)
def _sheet_with_rows(n: int) -> bytes:
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in range(1, n + 1))
    return b'<worksheet xmlns="%s"><sheetData>%s</sheetData></worksheet>' % (NS.encode(), rows)


@functools.lru_cache(maxsize=None)
def _huge_package(n: int) -> bytes:
    pkg = Package(SAMPLE.read_bytes())
    pkg.set(SHEET2, _sheet_with_rows(n))
    return pkg.to_bytes(level=1)


def _forge_cd(data: bytes, name: str, *, size: int | None = None, csize: int | None = None,
              local: bool = False, crc: int | None = None) -> bytes:
    """Patch the central directory (and optionally the local header) entry of ``name``."""
    out = bytearray(data)
    eocd = out.rfind(b"PK\x05\x06")
    cd = struct.unpack_from("<I", out, eocd + 16)[0]
    p = cd
    while out[p:p + 4] == b"PK\x01\x02":
        n, e, c = struct.unpack_from("<HHH", out, p + 28)
        if out[p + 46:p + 46 + n] == name.encode():
            lh = struct.unpack_from("<I", out, p + 42)[0]
            if crc is not None:
                struct.pack_into("<I", out, p + 16, crc)
            if csize is not None:
                struct.pack_into("<I", out, p + 20, csize)
            if size is not None:
                struct.pack_into("<I", out, p + 24, size)
            if local:
                if crc is not None:
                    struct.pack_into("<I", out, lh + 14, crc)
                if csize is not None:
                    struct.pack_into("<I", out, lh + 18, csize)
                if size is not None:
                    struct.pack_into("<I", out, lh + 22, size)
        p += 46 + n + e + c
    return bytes(out)


XXE_DTD = b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS = (b'<!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
    b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%s;" % (str(i - 1).encode() if i > 1 else b"") for _ in range(10)))
    for i in range(1, 10)) + b"]>")


def _with_prolog(xml: bytes, prolog: bytes) -> bytes:
    body = xml.split(b"?>", 1)[1] if xml.startswith(b"<?xml") else xml
    return b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + prolog + body


FILE_OPS = ["truncate", "flip", "remove_entry", "forge_small", "huge_rows", "bomb_ratio", "xxe", "far_cell",
            "flip_cd", "duplicate_entry", "garbage", "methods", "xxe_padded", "forge_both", "not_zip",
            "xxe_other_part", "far_cell", "encrypted_flag", "bomb_sum", "xxe_utf16", "shared_strings"]


def file_mutant(rng: random.Random, m: Mutant) -> None:
    base = SAMPLE.read_bytes()
    op = FILE_OPS[(m.index // 20) % len(FILE_OPS)] if rng.random() < 0.7 else rng.choice(FILE_OPS)
    pkg = Package(base)
    if op == "truncate":
        cut = rng.choice([1, 4, 22, 100, rng.randint(1, len(base) - 1), len(base) - rng.randint(1, 200)])
        m.data = base[:cut]
        m.ops.append(f"truncated to {cut} of {len(base)} bytes")
    elif op == "flip":
        data = bytearray(base)
        n = rng.choice([1, 2, 5, 20, 100])
        where = []
        for _ in range(n):
            i = rng.randrange(len(data))
            data[i] ^= rng.randint(1, 255)
            where.append(i)
        m.data = bytes(data)
        m.ops.append(f"{n} bytes flipped at {sorted(where)[:8]}")
    elif op == "flip_cd":
        data = bytearray(base)
        cd = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)[0]
        for _ in range(rng.choice([1, 3, 10])):
            i = rng.randrange(cd, len(data))
            data[i] ^= rng.randint(1, 255)
        m.data = bytes(data)
        m.ops.append("bytes flipped in the central directory")
    elif op == "remove_entry":
        name = rng.choice(pkg.names())
        pkg.remove(name)
        m.data = pkg.to_bytes()
        m.ops.append(f"zip entry {name} removed")
    elif op == "duplicate_entry":
        name = rng.choice([SHEET1, "xl/workbook.xml", SHEET2])
        other = Sheet(pkg.get(SHEET1))
        other.put(other.valued()[5], "s", "DUPLICATE")
        buf = io.BytesIO(pkg.to_bytes())
        import warnings

        with warnings.catch_warnings(), zipfile.ZipFile(buf, "a") as zf:
            warnings.simplefilter("ignore")
            zf.writestr(name, other.to_bytes() if name == SHEET1 else pkg.get(name))
        m.data = buf.getvalue()
        m.ops.append(f"zip entry {name} present twice")
    elif op in ("forge_small", "forge_both", "bomb_ratio", "bomb_sum"):
        pad = rng.choice([20, 40, 64])
        x = pkg.get(SHEET2)
        where = rng.choice(["sheetData", "comment", "text"])
        data, big_size = _padded(pad, where)
        if op == "bomb_ratio":
            m.data = data
            m.expect, m.fast = "TOO_LARGE", True
            m.ops.append(f"zip bomb: {SHEET2} inflates to {big_size >> 20} MB ({where} padding)")
        elif op == "bomb_sum":  # many entries of 1 MiB (under the per-entry ratio check), 450 MiB in all
            m.data = _many_entries(450)
            m.expect, m.fast = "TOO_LARGE", True
            m.ops.append("450 extra entries of 1 MiB zeros (sum of declared sizes over the limit)")
        else:
            big = b"x" * big_size
            local = op == "forge_both"
            crc = zlib.crc32(x) if rng.random() < 0.5 else None
            m.data = _forge_cd(data, SHEET2, size=len(x), local=local, crc=crc)
            m.fast = True
            m.ops.append(f"declared size of {SHEET2} forged to {len(x)} (real {len(big) >> 20} MB, "
                         f"{'central directory + local header' if local else 'central directory'}{', crc too' if crc else ''})")
    elif op == "huge_rows":
        n = rng.choice([200_000, 25_000, 1_000_000])
        m.data = _huge_package(n)
        m.expect, m.fast = "TOO_LARGE", True
        m.ops.append(f"{SHEET2} with {n} rows")
    elif op == "far_cell":
        variant = rng.choice(["plain", "lower", "quotes", "prefix", "row_only", "wrap", "col", "gt_in_attr", "wide", "tall"])
        part = rng.choice([SHEET1, SHEET2])
        pkg.set(part, pkg.get(part).replace(b"</sheetData>", _far_row_xml(variant) + b"</sheetData>"))
        m.data = pkg.to_bytes()
        m.expect, m.fast = "TOO_LARGE", True
        m.ops.append(f"far cell ({variant}) in {part}")
    elif op in ("xxe", "xxe_padded", "xxe_other_part", "xxe_utf16"):
        part = SHEET1
        if op == "xxe":
            prolog = rng.choice([XXE_DTD, LAUGHS, b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://example.invalid/x.dtd"> %p;]>'])
            desc = "DOCTYPE at the start"
        elif op == "xxe_padded":
            pad = rng.choice([b"<!--" + b"x" * rng.randint(2100, 20000) + b"-->", b" " * rng.randint(2100, 70000),
                              b"\n" * 3000, b"<?pi " + b"y" * 5000 + b"?>"])
            prolog = pad + XXE_DTD
            desc = f"DOCTYPE after {len(pad)} bytes of padding"
        elif op == "xxe_other_part":
            part = rng.choice(["xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml", "docProps/core.xml",
                               "xl/styles.xml", SHEET2, "xl/theme/theme1.xml"])
            prolog = rng.choice([XXE_DTD, LAUGHS])
            desc = "DOCTYPE"
        else:
            prolog = XXE_DTD
            desc = "DOCTYPE in a UTF-16 part"
        xml = _with_prolog(pkg.get(part), prolog)
        if b"xxe" in prolog and part == SHEET1 and rng.random() < 0.5:
            xml = xml.replace("预算执行率".encode(), b"&xxe;", 1)
        if op == "xxe_utf16":
            xml = xml.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode("utf-8").encode("utf-16")
        pkg.set(part, xml)
        m.data = pkg.to_bytes()
        m.expect = "UNSAFE_CONTENT"
        m.ops.append(f"{desc} in {part}")
    elif op == "garbage":
        mode = rng.choice(["prepend", "append", "both"])
        data = base
        if mode in ("prepend", "both"):
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 5000))) + data
        if mode in ("append", "both"):
            data = data + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 5000)))
        m.data = data
        m.ops.append(f"random bytes {mode}ed")
    elif op == "methods":
        method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
        m.data = pkg.to_bytes(method=method)
        m.ops.append(f"zip compression method {method}")
    elif op == "encrypted_flag":
        data = bytearray(base)
        p = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)[0]
        while data[p:p + 4] == b"PK\x01\x02":
            if rng.random() < 0.5:
                data[p + 8] |= 1
            n, e, c = struct.unpack_from("<HHH", data, p + 28)
            p += 46 + n + e + c
        m.data = bytes(data)
        m.ops.append("encryption flag set on zip entries")
    elif op == "shared_strings":
        variant = rng.choice(["unique_huge", "unique_huge", "index_out_of_range", "rich_runs", "phonetic", "count_mismatch", "xxe"])
        if variant == "rich_runs":
            to_shared_strings(pkg, '<si><r><rPr><b/></rPr><t>富</t></r><r><t xml:space="preserve"> 文本</t></r></si>')
        elif variant == "phonetic":
            to_shared_strings(pkg, '<si><t>项目</t><rPh sb="0" eb="2"><t>xiangmu</t></rPh><phoneticPr fontId="1"/></si>')
        else:
            to_shared_strings(pkg)
        x = pkg.get("xl/sharedStrings.xml")
        if variant == "unique_huge":
            v = rng.choice([b"2147483647", b"4000000000", b"99999999999", b"1000000000"])
            x = re.sub(rb'uniqueCount="\d+"', b'uniqueCount="' + v + b'"', x)
            m.expect, m.fast = "TOO_LARGE", True
        elif variant == "count_mismatch":
            x = re.sub(rb' count="\d+"', b' count="4000000000"', x)
        elif variant == "xxe":
            x = _with_prolog(x, b"<!--" + b"z" * 3000 + b"-->" + XXE_DTD)
            m.expect = "UNSAFE_CONTENT"
        elif variant == "index_out_of_range":
            sh = Sheet(pkg.get(SHEET1))
            c = rng.choice([c for c in sh.cells() if c.get("t") == "s"])
            c.find(q("v")).text = rng.choice(["99999", "-1", "4294967296", "1.5", ""])
            pkg.set(SHEET1, sh.to_bytes())
        pkg.set("xl/sharedStrings.xml", x)
        m.data = pkg.to_bytes()
        m.ops.append(f"shared strings: {variant}")
    elif op == "not_zip":
        kind = rng.choice(["empty", "one", "random", "png", "ole_garbage", "html", "docx"])
        m.data = {
            "empty": b"", "one": b"P",
            "random": bytes(rng.getrandbits(8) for _ in range(rng.randint(10, 50000))),
            "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
            "ole_garbage": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(rng.getrandbits(8) for _ in range(5000)),
            "html": "<html><body><table><tr><td>项目名称</td></tr></table></body></html>".encode(),
            "docx": _docx_like(),
        }[kind]
        m.ops.append(f"not a workbook: {kind}")
    else:
        raise AssertionError(op)


def _docx_like() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


# ---------------------------------------------------------------------------- format family

def _biff_records(stream: bytes) -> list[tuple[int, int, int]]:
    out, pos = [], 0
    while pos + 4 <= len(stream):
        typ, n = struct.unpack_from("<HH", stream, pos)
        out.append((pos, typ, n))
        pos += 4 + n
    return out


def xls_mutant(rng: random.Random, m: Mutant) -> None:
    import olefile

    base = BASE_XLS.read_bytes()
    ole = olefile.OleFileIO(base)
    stream = bytearray(ole.openstream("Workbook").read())
    ole.close()
    recs = _biff_records(bytes(stream))
    cells = [r for r in recs if r[1] in (0x0203, 0x027E, 0x00FD, 0x0204, 0x0006, 0x0205, 0x00BD)]
    op = rng.choice(["cell_pos", "dims", "boundsheet", "sst", "reclen", "flip_stream", "flip_file", "truncate", "cell_pos", "dims"])
    if op == "cell_pos":
        pos, typ, n = rng.choice(cells)
        row, col = rng.choice([(0xFFFF, 0xFFFF), (0xFFFF, 0), (0, 0xFFFF), (30000, 3), (2, 600), (rng.randrange(65536), rng.randrange(65536))])
        struct.pack_into("<HH", stream, pos + 4, row, col)
        m.ops.append(f"xls record 0x{typ:04X} at {pos} moved to row {row} col {col}")
    elif op == "dims":
        pos, typ, n = rng.choice([r for r in recs if r[1] == 0x0200])
        rf, rl, cf, cl = rng.choice([(0, 0xFFFFFFFF, 0, 0xFFFF), (0, 1 << 20, 0, 1 << 14), (10, 5, 0, 7), (0, 65536, 0, 256), (0, 0, 5, 2)])
        struct.pack_into("<IIHH", stream, pos + 4, rf, rl, cf, cl)
        m.ops.append(f"xls DIMENSIONS forged rows {rf}..{rl} cols {cf}..{cl}")
    elif op == "boundsheet":
        pos, typ, n = rng.choice([r for r in recs if r[1] == 0x0085])
        v = rng.choice([0x7FFFFFFF, len(stream) + 10, rng.randrange(len(stream)), 0])
        struct.pack_into("<I", stream, pos + 4, v)
        m.ops.append(f"xls BoundSheet offset -> {v}")
    elif op == "sst":
        pos, typ, n = next(r for r in recs if r[1] == 0x00FC)
        v = rng.choice([-5, 0x7FFFFFFF, 10**6, 0])
        struct.pack_into("<i", stream, pos + 8, v)
        m.ops.append(f"xls SST unique count -> {v}")
    elif op == "reclen":
        pos, typ, n = rng.choice(recs)
        v = rng.choice([0, 1, 3, 0xFFFF, n + 1, max(0, n - 1)])
        struct.pack_into("<H", stream, pos + 2, v)
        m.ops.append(f"xls record 0x{typ:04X} length {n} -> {v}")
    elif op == "flip_stream":
        for _ in range(rng.choice([1, 5, 30])):
            stream[rng.randrange(len(stream))] ^= rng.randint(1, 255)
        m.ops.append("bytes flipped in the Workbook stream")
    if op in ("flip_file", "truncate"):
        data = bytearray(base)
        if op == "flip_file":
            for _ in range(rng.choice([1, 5, 30])):
                data[rng.randrange(len(data))] ^= rng.randint(1, 255)
            m.ops.append("bytes flipped in the OLE file")
        else:
            data = data[: rng.randint(8, len(data) - 1)]
            m.ops.append(f"xls truncated to {len(data)} bytes")
        m.data = bytes(data)
    else:
        buf = io.BytesIO(base)
        o = olefile.OleFileIO(buf, write_mode=True)
        o.write_stream("Workbook", bytes(stream))
        o.close()
        m.data = buf.getvalue()
    if op in ("cell_pos", "dims") and ("65535" in m.ops[-1] or "4294967295" in m.ops[-1] or "1048576" in m.ops[-1]):
        m.fast = True


def ods_mutant(rng: random.Random, m: Mutant) -> None:
    pkg = Package(BASE_ODS.read_bytes())
    content = pkg.get("content.xml")
    op = rng.choice(["repeat", "repeat", "value", "xxe", "remove", "flip", "text", "tables"])
    if op == "repeat":
        rows, cols = rng.choice([(1_000_000, 16_000), (9000, 10900), (100_000, 1), (1, 100_000), (30_000, 30)])
        row = (b'<table:table-row table:number-rows-repeated="%d"><table:table-cell office:value-type="float" '
               b'office:value="1" table:number-columns-repeated="%d"><text:p>1</text:p></table:table-cell></table:table-row>' % (rows, cols))
        i = content.index(b"<table:table-row")
        content = content[:i] + row + content[i:]
        m.ops.append(f"ods repeated cell {rows} rows x {cols} columns")
        m.expect, m.fast = "TOO_LARGE", True
    elif op == "value":
        v = rng.choice([b'office:value-type="float" office:value="NaN"', b'office:value-type="float" office:value="1e999"',
                        b'office:value-type="date" office:date-value="garbage"', b'office:value-type="percentage" office:value=""',
                        b'office:value-type="boolean" office:boolean-value="maybe"', b'office:value-type="time" office:time-value="PT99999999H"'])
        cells = [mm.start() for mm in re.finditer(rb"<table:table-cell(?=[ >])", content)]
        i = rng.choice(cells) + len(b"<table:table-cell")
        content = content[:i] + b" " + v + content[i:]
        m.ops.append(f"ods cell attribute {v.decode()}")
    elif op == "xxe":
        content = _with_prolog(content, rng.choice([XXE_DTD, b" " * 5000 + XXE_DTD]))
        m.expect = "UNSAFE_CONTENT"
        m.ops.append("ods content.xml with DOCTYPE")
    elif op == "remove":
        name = rng.choice(pkg.names())
        pkg.remove(name)
        m.ops.append(f"ods entry {name} removed")
    elif op == "flip":
        data = bytearray(content)
        for _ in range(rng.choice([1, 5, 30])):
            data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        content = bytes(data)
        m.ops.append("bytes flipped in content.xml")
    elif op == "text":
        v = rng.choice(TEXTS).encode("utf-8", "surrogatepass")
        v = v.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
        ps = [mm.end() for mm in re.finditer(rb"<text:p>", content)]
        i = rng.choice(ps)
        content = content[:i] + v + content[i:]
        m.ops.append(f"ods text {v[:30]!r} (len {len(v)})")
    elif op == "tables":
        content = re.sub(rb"<table:table [^>]*table:name=\"\xe9\xa1\xb9\xe7\x9b\xae\xe5\x9f\xba\xe6\x9c\xac\xe6\x83\x85\xe5\x86\xb5\".*?</table:table>", b"", content, flags=re.S)
        m.ops.append("ods narrative table removed")
    pkg.set("content.xml", content)
    m.data = pkg.to_bytes()


def _w(tag: str) -> str:
    return f"{{{W_NS}}}{tag}"


DOCX_OPS = ["span", "vmerge", "remove_tc", "remove_tr", "dup_tr", "text", "text", "nest", "sdt", "gridbefore",
            "xxe", "flip", "truncate", "remove_part", "no_table"]


def docx_mutant(rng: random.Random, m: Mutant) -> None:
    """The sample as a Word document, its document.xml patched (see DOCX_OPS)."""
    pkg = Package(BASE_DOCX.read_bytes())
    part = "word/document.xml"
    root = etree.fromstring(pkg.get(part))
    body = root.find(_w("body"))
    tbl = body.find(_w("tbl"))
    rows = tbl.findall(_w("tr"))
    tcs = list(tbl.iter(_w("tc")))
    op = rng.choice(DOCX_OPS)
    data = None
    if op == "span":
        v = rng.choice(["0", "-1", "2", "7", "50", "600", "99999999", "x", ""])
        for tc in rng.sample(tcs, rng.choice([1, 3, 20])):
            pr = tc.find(_w("tcPr"))
            if pr is None:
                pr = etree.SubElement(tc, _w("tcPr"))
                tc.insert(0, pr)
            for old in pr.findall(_w("gridSpan")):
                pr.remove(old)
            etree.SubElement(pr, _w("gridSpan")).set(_w("val"), v)
        m.ops.append(f"docx gridSpan {v!r}")
        if v in ("600", "99999999"):
            m.expect, m.fast = "TOO_LARGE", True
    elif op == "vmerge":
        v = rng.choice([None, "restart", "continue", "bogus"])
        for tc in rng.sample(tcs, rng.choice([1, 5, 40])):
            pr = tc.find(_w("tcPr"))
            if pr is None:
                pr = etree.Element(_w("tcPr"))
                tc.insert(0, pr)
            vm = etree.SubElement(pr, _w("vMerge"))
            if v is not None:
                vm.set(_w("val"), v)
        m.ops.append(f"docx vMerge {v!r} on random cells")
    elif op == "remove_tc":
        for tc in rng.sample(tcs, rng.choice([1, 4, 30])):
            tc.getparent().remove(tc)
        m.ops.append("docx cells removed")
    elif op == "remove_tr":
        for tr in rng.sample(rows, rng.choice([1, 3, 10])):
            tbl.remove(tr)
        m.ops.append("docx rows removed")
    elif op == "dup_tr":
        tr = rng.choice(rows)
        for _ in range(rng.choice([1, 5, 30])):
            tr.addnext(copy.deepcopy(tr))
        m.ops.append("docx row duplicated")
    elif op == "text":
        ts = list(root.iter(_w("t")))
        v = rng.choice(TEXTS)
        for t in rng.sample(ts, rng.choice([1, 3])):
            t.text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", "", v)
        m.ops.append(f"docx text {v[:30]!r} (len {len(v)})")
    elif op == "nest":
        depth = rng.choice([1, 3, 12])
        inner = tbl
        for _ in range(depth):
            outer = etree.Element(_w("tbl"))
            tc = etree.SubElement(etree.SubElement(outer, _w("tr")), _w("tc"))
            inner.addprevious(outer)
            tc.append(inner)
            etree.SubElement(tc, _w("p"))
            inner = outer
        m.ops.append(f"docx form nested {depth} tables deep")
        if depth > 8:
            m.expect = "TOO_LARGE"
    elif op == "sdt":
        for tr in rng.sample(rows, 5):
            sdt = etree.Element(_w("sdt"))
            content = etree.SubElement(sdt, _w("sdtContent"))
            tr.addprevious(sdt)
            content.append(tr)
        m.ops.append("docx rows wrapped in content controls")
    elif op == "gridbefore":
        v = rng.choice(["1", "3", "511", "100000"])
        tr = rng.choice(rows)
        pr = tr.find(_w("trPr"))
        if pr is None:
            pr = etree.Element(_w("trPr"))
            tr.insert(0, pr)
        etree.SubElement(pr, _w("gridBefore")).set(_w("val"), v)
        m.ops.append(f"docx gridBefore {v}")
    elif op == "no_table":
        body.remove(tbl)
        m.ops.append("docx form table removed")
        m.expect = "NOT_SELF_EVALUATION_FORM"
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    if op == "xxe":
        xml = _with_prolog(xml, rng.choice([XXE_DTD, b" " * 5000 + XXE_DTD, LAUGHS]))
        m.expect = "UNSAFE_CONTENT"
        m.ops.append("docx document.xml with DOCTYPE")
    elif op == "flip":
        b = bytearray(xml)
        for _ in range(rng.choice([1, 5, 30])):
            b[rng.randrange(len(b))] ^= rng.randint(1, 255)
        xml = bytes(b)
        m.ops.append("bytes flipped in document.xml")
    elif op == "remove_part":
        name = rng.choice(pkg.names())
        pkg.remove(name)
        m.ops.append(f"docx entry {name} removed")
    if op != "remove_part" or name != part:
        pkg.set(part, xml)
    data = pkg.to_bytes()
    if op == "truncate":
        data = data[: rng.randint(8, len(data) - 1)]
        m.ops.append(f"docx truncated to {len(data)} bytes")
    m.data = data


# ---------------------------------------------------------------------------- entry point

SCHEDULE = ["cell", "structure", "file", "cell", "cell", "file", "structure", "cell", "format", "file",
            "cell", "structure", "file", "cell", "cell", "file", "structure", "cell", "format", "file"]
SUFFIXES = [".xlsx"] * 14 + [".xlsm", ".et", ".XLSX", ".xls", ".ods"]


def make(seed: int, index: int) -> Mutant:
    rng = random.Random(f"selfeval-fuzz:{seed}:{index}")
    family = SCHEDULE[index % len(SCHEDULE)]
    m = Mutant(index=index, seed=seed, family=family)
    suffix = rng.choice(SUFFIXES)
    if family == "cell":
        cell_mutant(rng, m)
    elif family == "structure":
        structure_mutant(rng, m)
    elif family == "file":
        file_mutant(rng, m)
    elif family == "format":
        # Word mutants take a share of the format family by their own draw, so the xls/ods
        # mutants of every other index stay what they were
        if random.Random(f"selfeval-fuzz-word:{seed}:{index}").random() < 0.3:
            docx_mutant(rng, m)
            suffix = ".docx"
        elif rng.random() < 0.55:
            xls_mutant(rng, m)
            suffix = rng.choice([".xls", ".xls", ".et"])
        else:
            ods_mutant(rng, m)
            suffix = ".ods"
    m.name = f"m{index:05d}_{family}{suffix}"
    return m
