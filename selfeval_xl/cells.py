"""Writing one value into an openpyxl cell, the same way everywhere we write workbooks.

A string that begins with ``=`` becomes a formula when openpyxl saves it (``=5家`` would break
the file), and ``+ - @`` are formula starts for Excel when a user edits the cell: every string
is stored as text and, when it starts like a formula, marked with Excel's hidden apostrophe
(quotePrefix). Characters a workbook cannot hold are dropped.
"""
from __future__ import annotations

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_START = ("=", "+", "-", "@")
MAX_TEXT = 32_767  # Excel's limit for one cell


def put(cell, value) -> None:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)[:MAX_TEXT]
        cell.value = value
        cell.data_type = "s"
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True
    else:
        cell.value = value


def print_a4_one_page_wide(ws, orientation: str = "portrait") -> None:
    """A4, scaled to one page wide and as many pages long as needed (forms and review sheets)."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = orientation
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
