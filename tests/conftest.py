"""Shared fixtures: the sample, the seed content, and builders of workbook variants."""
from __future__ import annotations

import copy
import os
import shutil
import sys
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
    """One file through ``office.convert`` (the tool's own LibreOffice call); the output must exist."""
    from selfeval_xl import office

    soffice()
    out = office.convert([src], fmt, outdir, timeout=180)[Path(src)]
    assert out is not None, f"LibreOffice did not produce {Path(outdir) / (Path(src).stem + '.' + fmt.split(':')[0])}"
    return out


_OFFICE_CALL = r"(?<![\w.])({names})\(|\boffice\.(convert|to_pdf)\("


def _office_defs(module) -> set[str]:
    """Top-level functions of a test module that run LibreOffice, directly or through another
    function or fixture of the same module (``convert``/``soffice`` here, ``office.convert``)."""
    import ast
    import re

    path = Path(module.__file__)
    text = path.read_text(encoding="utf-8")
    names = {"soffice"}
    if getattr(module, "convert", None) is convert or "from conftest import convert" in text:
        names.add("convert")
    defs = {n.name: ast.get_source_segment(text, n) or "" for n in ast.parse(text).body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    found: set[str] = set()
    while True:
        pattern = re.compile(_OFFICE_CALL.format(names="|".join(map(re.escape, names | found))))
        more = {name for name, src in defs.items() if name not in found and pattern.search(src)}
        more |= {name for name, src in defs.items() if name not in found
                 and any(re.search(rf"def \w+\([^)]*\b{re.escape(f)}\b", src) for f in found)}
        if not more:
            return found
        found |= more


def pytest_collection_modifyitems(config, items):
    """Mark every test that runs LibreOffice ``office`` (and so ``slow``), found from its source
    and its fixtures', so the fast loop ``-m "not slow and not office"`` never starts soffice."""
    cache: dict = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is None:
            continue
        if module not in cache:
            cache[module] = _office_defs(module)
        office_defs = cache[module]
        func = getattr(item, "originalname", item.name)
        cls = item.cls.__name__ if getattr(item, "cls", None) else None
        if func in office_defs or cls in office_defs or office_defs & set(item.fixturenames):
            item.add_marker(pytest.mark.office)
        if item.get_closest_marker("office"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def seed() -> dict:
    return parse_seed((DATA / "seed_suzhou_2020.txt").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def seed_docx(tmp_path_factory, seed) -> Path:
    """The seed as a Word form (tools/build_word), built once per session: tests read it, never edit it."""
    from build_word import build_docx

    return build_docx(seed, tmp_path_factory.mktemp("word") / "苏州自评价报告.docx")


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
