"""Which fonts LibreOffice substituted in a PDF it made: a notice, never a silent change.

The report asks for 仿宋_GB2312, 楷体_GB2312, 方正小标宋简体 …; a machine without them gets
whatever fontconfig picks (often a sans-serif CJK face), and the PDF looks different from the
document. ``font_notice(pdf, fonts)`` reads the fonts the PDF really uses (poppler's
``pdffonts``) and, where fontconfig is available, which of the requested faces are installed,
and says in Chinese what was replaced by what. None when nothing was replaced or the tools are
missing (then there is nothing reliable to say).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

_SUBSET = re.compile(r"^[A-Z]{6}\+")


def used_fonts(pdf: Path) -> list[str] | None:
    """The font names in the PDF (subset prefixes removed, in order, once each); None without pdffonts."""
    exe = shutil.which("pdffonts")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, str(pdf)], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = []
    for line in out.splitlines()[2:]:
        name = _SUBSET.sub("", line.split(" ", 1)[0]) if line.strip() else ""
        if name and name not in names:
            names.append(name)
    return names


def installed_names(face: str) -> set[str] | None:
    """PostScript names of the installed faces of family ``face`` (empty: not installed); None without fc-list."""
    exe = shutil.which("fc-list")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-f", "%{postscriptname}\n", f":family={face}"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {n.strip() for n in out.splitlines() if n.strip()}


def font_notice(pdf: Path | None, fonts: dict[str, str]) -> str | None:
    """A Chinese notice naming the requested faces that are missing and what the PDF used instead."""
    if pdf is None or not Path(pdf).is_file():
        return None
    used = used_fonts(Path(pdf))
    if not used:
        return None
    wanted = list(dict.fromkeys(fonts.values()))
    known: set[str] = set()
    missing = []
    for face in wanted:
        names = installed_names(face)
        if names is None:
            return f"注意：无法确认 PDF 是否使用了报告要求的字体（{'、'.join(wanted)}），PDF 中的字体为：{'、'.join(used)}。"
        if names:
            known |= names
        else:
            missing.append(face)
    substitutes = [u for u in used if u not in known]
    if not missing or not substitutes:
        return None
    return (f"注意：本机未安装报告要求的字体 {'、'.join(missing)}，LibreOffice 生成 PDF 时以 {'、'.join(substitutes)} 代替，"
            "PDF 的字形与 Word 中不同。可安装这些字体后重新生成，或用 --font 指定本机已有的字体（如 --font body=仿宋）。")
