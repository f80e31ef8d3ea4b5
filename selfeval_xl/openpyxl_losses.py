"""What a load + save with openpyxl loses from an .xlsx, in Chinese (measured with openpyxl 3.1.5:
every cached formula value, text boxes, sparklines and other Excel-2010 extensions, the parts below).

The reviewed workbook is no longer written by openpyxl (writeback patches the package), so
nothing of this is lost there; the detector stays for what still goes through openpyxl (a
workbook rebuilt from values says so itself) and for the benchmark's fidelity comparison.
"""
from __future__ import annotations

import html
import io
import re
import zipfile

from . import ooxml

from .naming import COMMENT_MARK


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
# Children of an <ext> that only point at content reported elsewhere: <x14:id> inside a
# <cfRule> names the x14 conditional format in the sheet's own extLst.
_EXTENSION_POINTERS = {"id"}
_SHAPE = re.compile(rb"<(?:\w+:)?(?:sp|grpSp|cxnSp)[\s>]")
_DIAGRAM = re.compile(rb"drawingml/2006/diagram")
# A cell formula is <f> of the sheet's own namespace: the default one, or a prefix bound to
# SpreadsheetML main. <xm:f> inside x14 extensions (sparklines, validation lists) is not one.
_FORMULA = re.compile(rb"<(?:(\w+):)?f[\s>/]")
_EXT_LIST = re.compile(rb"<(?:\w+:)?extLst\b.*?</(?:\w+:)?extLst>", re.S)
_PREFIX_DECL = re.compile(rb'xmlns:(\w+)\s*=\s*["\']http://schemas\.openxmlformats\.org/spreadsheetml/2006/main["\']')
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
    main_prefixes = {b""} | set(_PREFIX_DECL.findall(xml))
    formulas = sum(1 for m in _FORMULA.finditer(_EXT_LIST.sub(b"", xml)) if (m.group(1) or b"") in main_prefixes)
    if formulas:
        notes.append(f"工作表“{sheet}”有 {formulas} 个公式：复核版保留公式，但不保存其计算结果，Excel 打开时会重新计算；"
                     "只读取已存结果的程序（如部分预览、导入工具）会把这些单元格显示为空。")
    kinds = []
    for m in _EXT_FIRST_CHILD.finditer(xml):
        name = m.group(1).decode("ascii", "replace")
        if name in _EXTENSION_POINTERS:
            continue
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
        return ooxml.sheet_parts(zf)
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
