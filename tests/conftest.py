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
    lines = text.splitlines()  # ast.get_source_segment re-splits the whole file per call: seconds per run
    defs = {n.name: "\n".join(lines[n.lineno - 1:n.end_lineno]) for n in ast.parse(text).body
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


# Tests measured at about 1 s or more each (pytest --durations, 2 cores): whole hypothesis runs, whole
# batch runs, many-variant sweeps. They stay in the full suite; the fast loop leaves them out.
SLOW = {
    "test_checks.py": {"test_check_human_output_and_errors", "test_check_json_contract"},
    "test_format_bomb.py": {"test_a_million_styled_empty_rows_are_too_large", "test_styled_empty_cells_count_too"},
    "test_hardening.py": {"test_forged_declared_size", "test_ratio_limit_bomb_is_fast", "test_row_limit_200k_rows_is_fast", "test_safe_name_property"},
    "test_mail.py": {"test_dropped_connection_fails_one_message_and_reconnects", "test_refused_recipient_is_reported_and_the_rest_delivered", "test_send_delivers_byte_identical_attachments_and_never_twice"},
    "test_manifest.py": {"test_a_real_run_keeps_every_released_key_and_fills_projects"},
    "test_national.py": {"test_committed_national_template_matches_code", "test_drift_reads_the_same", "test_edited_cells_read_or_fail_cleanly", "test_mixed_folder_in_one_run"},
    "test_national_checks.py": {"test_a_correctly_rounded_printed_rate_is_never_flagged"},
    "test_national_rules.py": {"test_any_cell_text_scores_within_0_and_weight", "test_execution_score_within_0_and_points", "test_score_within_0_and_weight"},
    "test_numfmt.py": {"test_money_with_unit", "test_percent_shows_the_typed_percent"},
    "test_overview.py": {"test_project_sheet", "test_worker_never_imports_pandas"},
    "test_package.py": {"test_committed_template_matches_code"},
    "test_patch_writer.py": {"test_decisions_prefilled", "test_two_forms_in_one_workbook"},
    "test_reader.py": {"test_formula_without_cached_value_is_reported", "test_rows_inserted_between_blocks"},
    "test_real_typing.py": {"test_check_prints_each_project_and_json_is_a_list", "test_format_read_is_fast", "test_review_into_writes_one_workbook_and_a_report_per_project"},
    "test_rules.py": {"test_any_text_scores_without_error", "test_output_curve_matches_rule_text", "test_output_score_monotone_below_band", "test_score_between_zero_and_weight"},
    "test_sandbox.py": {"test_rendered_size_and_time_are_capped"},
    "test_values.py": {"test_any_text_is_total", "test_display_round_trip", "test_one_number_with_words_is_that_number", "test_quantity_strings_parse_back", "test_width_and_spaces_do_not_matter"},
    "test_word.py": {"test_drifted_docx_reviews_the_same", "test_sections_property_every_heading_gets_exactly_its_paragraphs"},
    "test_writeback.py": {"test_losses_are_reported", "test_office_comment_kept_and_ours_replaced", "test_preservation", "test_review_of_reviewed_replaces", "test_stale_marks_removed", "test_whole_row_formats_do_not_push_columns", "test_xlsm_keeps_macros"},
}
# Fixtures that cost seconds to build (the seed as a Word form: ~6 s): their tests are slow.
SLOW_FIXTURES = {"seed_docx", "docx_bytes"}
# Modules whose every test is slow (each test sets up a batch run and its outbox).
SLOW_MODULES = {"test_finalize.py", "test_mail_faults.py"}  # mail_faults: a real SMTP server per test


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
        fname = Path(str(item.fspath)).name
        if (fname in SLOW_MODULES or getattr(item, "originalname", item.name) in SLOW.get(fname, ())
                or SLOW_FIXTURES & set(item.fixturenames)):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("office"):
            item.add_marker(pytest.mark.slow)


# A Suzhou form's 投入目标 rows and money block that add up (test_checks, test_real_typing plant
# one fault at a time into content built from them).
INPUT = [("财务制度健全性", "健全", 3, "好", 3), ("资产产权明确性", "资产明确", 1, "好", 1), ("补贴政策执行规范性", "规范", 3, "规范", 3),
         ("各级财政应承担资金到位率", "=100%", 2, "=100%", 2), ("预算执行率", "=100%", 8, "=100%", 8), ("专款专用率", "=100%", 3, "=100%", 3),
         ("资金节约率", "15%及其以下", 1, "=0.3%", 1), ("政府采购规范性", "规范", 2, "规范", 2), ("项目监督制度健全性", "健全", 1, "好", 1),
         ("责任惩戒机制健全性", "健全", 2, "好", 2)]
CLEAN_MONEY = {
    "budget": {"initial": 1000, "adjustment": 200.5, "allocated": 1150.25, "balance": 50.25},
    "funds": {"allocated": 1150.25, "paid": 1100, "balance": 50.25, "carried": 50, "recovered": 0.25},
    "composition_total": 1150.25, "sub_items": [("子项目甲", 1000), ("子项目乙", 150.25)],
}


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
