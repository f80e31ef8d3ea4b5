"""Shared fixtures: the sample, the seed content, and builders of workbook variants."""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLE = ROOT / "samples" / "苏州市打造先进制造业基地专项资金_2020.xlsx"
sys.path.insert(0, str(ROOT / "tools"))

from build_sample import parse_seed  # noqa: E402


def soffice() -> str | None:
    """The LibreOffice binary; under CI=true its absence fails the test instead of skipping."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None and os.environ.get("CI") == "true":
        pytest.fail("CI=true 但未安装 LibreOffice（soffice）：.ci/run 应安装 libreoffice-calc-nogui / libreoffice-writer-nogui")
    if exe is None:
        pytest.skip("LibreOffice (soffice) not installed")
    return exe


def convert(src: Path, fmt: str, outdir: Path) -> Path:
    """Convert with LibreOffice headless (own profile dir; output existence checked, not rc)."""
    exe = soffice()
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-"))
    try:
        subprocess.run([exe, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", fmt,
                        "--outdir", str(outdir), str(src)], capture_output=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    out = outdir / (src.stem + "." + fmt.split(":")[0])
    assert out.exists(), f"LibreOffice did not produce {out}"
    return out


@pytest.fixture(scope="session")
def seed() -> dict:
    return parse_seed((DATA / "seed_suzhou_2020.txt").read_text(encoding="utf-8"))


@pytest.fixture
def sample(tmp_path) -> Path:
    """A private copy of the sample (tests must never touch the committed one)."""
    dst = tmp_path / SAMPLE.name
    shutil.copy2(SAMPLE, dst)
    return dst


def content(seed: dict, **changes) -> dict:
    c = copy.deepcopy(seed)
    c.update(changes)
    return c


def build(path: Path, c: dict | None) -> Path:
    from selfeval_xl import form

    form.build(c).save(path)
    return path


def relayout(src: Path, dst: Path, row_map=lambda r: r, col_shift: int = 0, merges: bool = True,
             edit=None) -> Path:
    """Copy a workbook's values (as typed) and merges to new positions: rows via ``row_map``,
    columns shifted by ``col_shift``; ``edit(wb)`` may change the result before saving."""
    wb = load_workbook(src)
    out = Workbook()
    out.remove(out.active)
    for ws in wb.worksheets:
        ns = out.create_sheet(ws.title)
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is None:
                    continue
                nc = ns.cell(row_map(cell.row), cell.column + col_shift, cell.value)
                if isinstance(cell.value, str):
                    nc.data_type = "s"
        if merges:
            for m in ws.merged_cells.ranges:
                ns.merge_cells(start_row=row_map(m.min_row), start_column=m.min_col + col_shift,
                               end_row=row_map(m.max_row), end_column=m.max_col + col_shift)
    if edit:
        edit(out)
    out.save(dst)
    return dst
