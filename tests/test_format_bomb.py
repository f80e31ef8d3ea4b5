"""Formatting bombs (issue 16): styled empty rows and cells count against the limits."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from selfeval_xl import safety
from selfeval_xl.errors import ReadError
from selfeval_xl.ooxml import sheet_parts


def _with_styled_rows(src: Path, dst: Path, rows: int, cells_per_row: int = 0) -> Path:
    """The sample with ``rows`` styled empty rows (no value anywhere) after its form, stored
    uncompressed so that no zip-ratio check fires: only the element count can catch it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        part = sheet_parts(zin)["项目基本情况"]
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                cells = "".join(f'<c r="{chr(65 + j)}{{r}}" s="1"/>' for j in range(cells_per_row))
                empty = "".join(f'<row r="{r}" s="1" customFormat="1">{cells.format(r=r)}</row>' if cells
                                else f'<row r="{r}" s="1" customFormat="1"/>' for r in range(100, 100 + rows))
                data = data.replace(b"</sheetData>", empty.encode() + b"</sheetData>", 1)
            zout.writestr(item.filename, data)
    return dst


def test_a_million_styled_empty_rows_are_too_large(sample, tmp_path):
    # rows 100..600099 reach far past max_rows, but none holds a value, so the position check
    # lets them through (calamine ignores empty cells); 600k elements exceed max_elements (500k)
    bomb = _with_styled_rows(sample, tmp_path / "格式炸弹.xlsx", 600_000)
    assert bomb.stat().st_size > 16 * 2**20
    with pytest.raises(ReadError) as err:
        safety.sniff(bomb)
    assert err.value.code == "TOO_LARGE"
    assert "格式炸弹" in str(err.value) and "500000" in str(err.value)


def test_styled_empty_cells_count_too(sample, tmp_path):
    bomb = _with_styled_rows(sample, tmp_path / "空格.xlsx", 3_000, cells_per_row=10)  # 33,000 elements
    with pytest.raises(ReadError) as err:
        safety.sniff(bomb, safety.Limits(max_elements=20_000))
    assert err.value.code == "TOO_LARGE"
    assert safety.sniff(bomb, safety.Limits(max_elements=40_000)) == "zip"


def test_the_sample_is_far_below(sample):
    assert safety.sniff(sample, safety.Limits(max_elements=3_000)) == "zip"
