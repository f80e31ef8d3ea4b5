"""Every name this tool gives its outputs, and the marks it writes into them, in one place.

Batch skips its own outputs, mail picks attachments and finalize finds reviewed workbooks by
these names, so they must agree with what the writers produce: change them only here.
"""
from __future__ import annotations

from pathlib import Path

from .fsutil import fit_name, safe_name

REVIEWED_MARK = ".复核"  # <stem>.复核.xlsx / .xlsm / .docx: the reviewed file
OWN_OUTPUT_MARK = REVIEWED_MARK + "."  # what batch looks for in a file name to skip its own output
REVIEWED_SUFFIXES = (REVIEWED_MARK + ".xlsx", REVIEWED_MARK + ".xlsm")  # a reviewed workbook
REPORT_SUFFIX = ".自评价报告.docx"  # the Word report (report.render_report)
LETTER_SUFFIX = ".复核意见书.docx"  # the bureau's letter (finalize)
SUMMARY_NAME = "汇总.xlsx"  # the batch's overview workbook (overview.write_summary)
COMMENT_MARK = "【复核】"  # first line of every comment the tool writes: how a later run finds its own


def _unreviewed_stem(source: Path | str) -> str:
    stem = Path(source).stem
    return stem[: -len(REVIEWED_MARK)] if stem.endswith(REVIEWED_MARK) else stem


def is_reviewed(path: Path | str) -> bool:
    """``X.复核.xlsx`` / ``X.复核.docx``: a file this tool wrote as a reviewed copy."""
    return Path(path).stem.endswith(REVIEWED_MARK)


def is_own_output(name: Path | str) -> bool:
    """A file name with ``.复核.`` in it (``X.复核.xlsx``, ``X.复核.docx``): one of our reviewed files."""
    return OWN_OUTPUT_MARK in Path(name).name


def reviewed_name(source: Path | str) -> str:
    """``<stem>.复核.xlsx`` for a submitted workbook.

    ``.xlsm`` stays ``.xlsm`` (its macros are kept); ``.xls``/``.et``/``.ods`` become ``.xlsx``
    (they are converted). A file that already is a reviewed workbook keeps its name, so
    reviewing it again replaces it rather than producing ``X.复核.复核.xlsx``.
    """
    suffix = ".xlsm" if Path(source).suffix.lower() == ".xlsm" else ".xlsx"
    return fit_name(_unreviewed_stem(source), f"{REVIEWED_MARK}{suffix}")  # a long stem is shortened by bytes


def reviewed_docx_name(source: Path | str) -> str:
    """``<stem>.复核.docx`` (a .doc/.wps comes back as .docx; a reviewed file keeps its name)."""
    return f"{_unreviewed_stem(source)}{REVIEWED_MARK}.docx"


def report_name(source: Path | str) -> str:
    """``<stem>.自评价报告.docx`` for a source workbook."""
    return fit_name(Path(source).stem, REPORT_SUFFIX)  # a long stem is shortened by bytes, kept unique


def report_names(source: Path | str, sheets: list[str]) -> list[str]:
    """One report name per project of ``source``, in order: the first project's is
    ``report_name(source)`` (a one-form workbook is named as it always was), each further one
    ``<stem>.<sheet>.自评价报告.docx`` (the sheet name through ``fsutil.safe_name``; a number is
    added if two sheets give the same name)."""
    stem = Path(source).stem
    names: list[str] = []
    for k, sheet in enumerate(sheets):
        name = report_name(source) if k == 0 else f"{stem}.{safe_name(sheet, fallback=f'项目{k + 1}')}{REPORT_SUFFIX}"
        n = 2
        while name in names:
            name = f"{stem}.{safe_name(sheet, fallback=f'项目{k + 1}')}-{n}{REPORT_SUFFIX}"
            n += 1
        names.append(name)
    return names


def letter_name(reviewed: Path | str, sheet: str | None = None) -> str:
    """``<stem>.复核意见书.docx`` for ``<stem>.复核.xlsx``; ``<stem>.<sheet>.复核意见书.docx`` for the
    second and later projects of one workbook."""
    stem = Path(reviewed).name
    for suffix in REVIEWED_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    else:
        stem = Path(reviewed).stem
    return f"{stem}.{safe_name(sheet)}{LETTER_SUFFIX}" if sheet else f"{stem}{LETTER_SUFFIX}"
