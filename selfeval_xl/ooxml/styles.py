"""styles.xml: the cell formats (cellXfs) and the fonts, fills and number formats they use.

The writer needs a handful of formats of its own (a cell's look with our fill, a header with
wrapping, a bold line ...). Each is derived from an existing xf and appended once; an xf, font
or fill identical to one already in the file (e.g. from an earlier review) is reused, so a
re-review does not grow the stylesheet.
"""
from __future__ import annotations

import copy

from lxml import etree

from . import ns_of, parse, serialize

# CT_Stylesheet child order (ECMA-376 Part 1, 18.8.39)
_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
          "tableStyles", "colors", "extLst")
_FONT_ORDER = ("b", "i", "strike", "condense", "extend", "outline", "shadow", "u", "vertAlign", "sz", "color", "name",
               "family", "charset", "scheme")
_XF_ATTRS = ("numFmtId", "fontId", "fillId", "borderId", "xfId")
_BUILTIN_FORMATS = {"General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9, "0.00%": 10, "@": 49}


class Styles:
    def __init__(self, data: bytes | None):
        if data:
            self.root = parse(data)
            self.ns = ns_of(self.root)
        else:
            from . import NS

            self.ns = NS["main"]
            self.root = etree.Element(f"{{{self.ns}}}styleSheet", nsmap={None: self.ns})
        self.changed = False
        self._keys: dict[str, dict[tuple, int]] = {}
        for name in ("fonts", "fills", "borders", "cellXfs"):
            self._list(name)
        if not len(self._list("cellXfs")):
            self._append("fonts", self._el("font"))
            self._append("fills", self._el("fill", [self._el("patternFill", patternType="none")]))
            self._append("fills", self._el("fill", [self._el("patternFill", patternType="gray125")]))
            self._append("borders", self._el("border"))
            self._append("cellXfs", self._el("xf", numFmtId="0", fontId="0", fillId="0", borderId="0"))

    # ---------------------------------------------------------------- generic

    def _q(self, local: str) -> str:
        return f"{{{self.ns}}}{local}"

    def _el(self, local: str, children=(), **attrs) -> etree._Element:
        el = etree.Element(self._q(local), {k: str(v) for k, v in attrs.items()})
        for c in children:
            el.append(c)
        return el

    def _list(self, name: str) -> etree._Element:
        el = self.root.find(self._q(name))
        if el is None:
            el = self._el(name, count="0")
            pos = _ORDER.index(name)
            later = [c for c in self.root if isinstance(c.tag, str) and etree.QName(c).localname in _ORDER[pos + 1:]]
            if later:
                later[0].addprevious(el)
            else:
                self.root.append(el)
        return el

    def items(self, name: str) -> list[etree._Element]:
        return [c for c in self._list(name) if isinstance(c.tag, str)]

    def _key(self, el: etree._Element) -> tuple:
        """What makes two style records the same: names, attributes and children, not prefixes."""
        if not isinstance(el.tag, str):
            return ()
        return (etree.QName(el).localname, tuple(sorted(el.attrib.items())), (el.text or "").strip(),
                tuple(self._key(c) for c in el if isinstance(c.tag, str)))

    def _find_or_append(self, name: str, el: etree._Element) -> int:
        keys = self._keys.get(name)
        if keys is None:
            keys = self._keys[name] = {}
            for i, item in enumerate(self.items(name)):
                keys.setdefault(self._key(item), i)
        key = self._key(el)
        if key in keys:
            return keys[key]
        index = self._append(name, el)
        keys[key] = index
        return index

    def _append(self, name: str, el: etree._Element) -> int:
        parent = self._list(name)
        index = len(self.items(name))
        parent.append(el)
        parent.set("count", str(index + 1))
        self.changed = True
        return index

    # ---------------------------------------------------------------- parts of a format

    def xf(self, index: int) -> etree._Element:
        items = self.items("cellXfs")
        return items[index] if 0 <= index < len(items) else items[0]

    def xf_attr(self, index: int, attr: str) -> int:
        try:
            return int(self.xf(index).get(attr) or 0)
        except ValueError:
            return 0

    def num_fmt(self, code: str) -> int:
        if code in _BUILTIN_FORMATS:
            return _BUILTIN_FORMATS[code]
        parent = self._list("numFmts")
        used = []
        for el in parent:
            if not isinstance(el.tag, str):
                continue
            if el.get("formatCode") == code:
                return int(el.get("numFmtId"))
            used.append(int(el.get("numFmtId") or 0))
        new_id = max([163, *used]) + 1
        parent.append(self._el("numFmt", numFmtId=new_id, formatCode=code))
        parent.set("count", str(len(used) + 1))
        self.changed = True
        return new_id

    def solid_fill(self, rgb: str) -> int:
        pattern = self._el("patternFill", [self._el("fgColor", rgb="FF" + rgb), self._el("bgColor", rgb="FF" + rgb)],
                           patternType="solid")
        return self._find_or_append("fills", self._el("fill", [pattern]))

    def fill_rgb(self, fill_id: int) -> str | None:
        """The solid foreground colour of a fill (``FFC7CE``), or None."""
        items = self.items("fills")
        if not 0 <= fill_id < len(items):
            return None
        pattern = items[fill_id].find(self._q("patternFill"))
        fg = pattern.find(self._q("fgColor")) if pattern is not None else None
        if pattern is None or pattern.get("patternType") != "solid" or fg is None or not fg.get("rgb"):
            return None
        return fg.get("rgb")[-6:].upper()

    def font(self, base: int = 0, bold: bool | None = None, size: float | None = None, color: str | None = None,
             underline: bool = False) -> int:
        """A font like font ``base`` with the given changes (CT_Font children are an unordered choice)."""
        items = self.items("fonts")
        font = copy.deepcopy(items[base] if 0 <= base < len(items) else items[0])
        for local, wanted, value in (("b", bold, None), ("sz", size, size), ("color", color, None),
                                     ("u", underline or None, None)):
            if wanted is None:
                continue
            for old in font.findall(self._q(local)):
                font.remove(old)
            if local == "b" and wanted:
                font.insert(0, self._el("b"))
            elif local == "sz":
                font.append(self._el("sz", val=_num(value)))
            elif local == "color":
                font.append(self._el("color", rgb="FF" + color))
            elif local == "u":
                font.append(self._el("u"))
        # the schema's choice is unordered, but Excel reads the children in CT_Font's listed order
        children = sorted((c for c in font if isinstance(c.tag, str)),
                          key=lambda c: _FONT_ORDER.index(etree.QName(c).localname)
                          if etree.QName(c).localname in _FONT_ORDER else len(_FONT_ORDER))
        for c in children:
            font.append(c)
        return self._find_or_append("fonts", font)

    def font_of(self, xf_index: int) -> int:
        return self.xf_attr(xf_index, "fontId")

    # ---------------------------------------------------------------- formats

    def derive(self, base: int | None, *, num_fmt: int | None = None, font: int | None = None,
               fill: int | None = None, border: int | None = None, alignment: dict | None = None,
               keep_alignment: bool = False, quote_prefix: bool | None = None) -> int:
        """The index of an xf like cellXfs[``base``] (None: the default xf 0) with the changes."""
        src = self.xf(base or 0)
        xf = self._el("xf")
        for attr, value in src.attrib.items():  # the office's own attributes, flags included
            xf.set(attr, value)
        for attr in _XF_ATTRS[:4]:
            if xf.get(attr) is None:
                xf.set(attr, "0")
        for attr, value, flag in (("numFmtId", num_fmt, "applyNumberFormat"), ("fontId", font, "applyFont"),
                                  ("fillId", fill, "applyFill"), ("borderId", border, "applyBorder")):
            if value is not None and str(value) != xf.get(attr):
                xf.set(attr, str(value))
                if value:
                    xf.set(flag, "1")
        if quote_prefix:
            xf.set("quotePrefix", "1")
        elif quote_prefix is False and xf.get("quotePrefix") in ("1", "true"):
            xf.set("quotePrefix", "0")
        old_alignment = src.find(self._q("alignment"))
        if alignment is not None:
            attrs = dict(old_alignment.attrib) if keep_alignment and old_alignment is not None else {}
            attrs.update({k: str(v) for k, v in alignment.items() if v is not None})
            xf.append(self._el("alignment", **attrs))
            xf.set("applyAlignment", "1")
        elif old_alignment is not None:
            xf.append(copy.deepcopy(old_alignment))
        protection = src.find(self._q("protection"))
        if protection is not None:
            xf.append(copy.deepcopy(protection))
        return self._find_or_append("cellXfs", xf)

    def without_fill(self, index: int, fills: set[int]) -> int:
        """The format cellXfs[``index``] had before one of ``fills`` was put on it: an existing xf
        that differs only in its fill (the original is never deleted, so it is found, with the
        office's own fill), else the same xf with no fill."""
        def key(el):
            k = self._key(el)
            return (k[0], tuple(a for a in k[1] if a[0] not in ("fillId", "applyFill")), k[2], k[3])

        target = key(self.xf(index))
        for i, xf in enumerate(self.items("cellXfs")):
            if i != index and _int(xf.get("fillId")) not in fills and key(xf) == target:
                return i
        return self.derive(index, fill=0)

    def to_bytes(self) -> bytes:
        return serialize(self.root)


def _int(text) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))
