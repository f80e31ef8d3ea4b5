"""Packaging: the committed blank form is what the code generates, and a wheel ships templates."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import ROOT
from selfeval_xl import form


def _snapshot(path: Path) -> list:
    wb = load_workbook(path)
    out = []
    for ws in wb.worksheets:
        cells = [(c.coordinate, c.value, c.data_type, c.font.b, c.font.sz, c.fill.fgColor.rgb, c.border.left.style,
                  c.alignment.wrap_text, c.number_format)
                 for row in ws.iter_rows() for c in row]
        widths = {k: v.width for k, v in ws.column_dimensions.items()}
        out.append((ws.title, sorted(map(str, ws.merged_cells.ranges)), cells, widths, ws.page_setup.paperSize,
                    ws.print_title_rows))
    return out


def test_committed_template_matches_code(tmp_path):
    generated = tmp_path / "gen.xlsx"
    assert subprocess.run([sys.executable, "-m", "selfeval_xl", "template", "-o", str(generated)],
                          capture_output=True, timeout=120).returncode == 0
    assert _snapshot(ROOT / "templates" / "自评表模板.xlsx") == _snapshot(generated)


def test_template_has_the_form_labels():
    wb = load_workbook(ROOT / "templates" / "自评表模板.xlsx")
    ws = wb["自评表"]
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for label in ("项目名称", "项目年份", "项目主管部门(单位)", "市级预算执行情况（万元）", "年初预算数", "指标结余数",
                  "市级财政资金使用情况（万元）", "实际支付数", "资金结余、结转数", "其中：", "结转数", "财政收回数",
                  "项目资金构成（详细列出各子项目名称和金额）", "合计", *form.INDICATOR_HEADER,
                  "投入目标（26分）", "产出目标（20分）", "结果目标（28分）", "影响力目标（6分）"):
        assert label in texts, label
    assert texts.index("投入目标（26分）") < texts.index("产出目标（20分）") < texts.index("结果目标（28分）") < texts.index("影响力目标（6分）")
    assert any(t.startswith("填表说明") for t in texts)
    assert [ws2.value for ws2 in wb["项目基本情况"]["A"][1:8]] == list(form.NARRATIVE_HEADINGS)
    assert int(ws.page_setup.paperSize) == 9  # A4


@pytest.mark.slow
def test_wheel_ships_templates_and_profiles(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                         capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr.decode("utf-8", "replace")[-2000:]
    wheel = next(tmp_path.glob("selfeval_xl-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "selfeval_xl/templates/自评表模板.xlsx" in names
    assert "selfeval_xl/templates/自评报告.docx" in names
    assert {"selfeval_xl/templates/项目支出绩效自评表模板.xlsx", "selfeval_xl/templates/项目支出绩效自评报告.docx"} <= set(names)
    assert {"selfeval_xl/templates/mail/subject.txt.j2", "selfeval_xl/templates/mail/body.txt.j2"} <= set(names)
    assert "selfeval_xl/profiles/suzhou-2020.toml" in names
    assert any(n.startswith("selfeval_xl-") and n.endswith("entry_points.txt") for n in names)
    # Installed (not from the source tree), the package finds its templates and profiles.
    target = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                         capture_output=True, timeout=600)
    assert out.returncode == 0, out.stderr.decode("utf-8", "replace")[-2000:]
    probe = ("import selfeval_xl, sys; from selfeval_xl.resources import template_file; from selfeval_xl.rules import profile_names;"
             "assert selfeval_xl.__file__.startswith(sys.argv[1]), selfeval_xl.__file__;"
             "assert template_file('自评报告.docx').is_file() and template_file('自评表模板.xlsx').is_file();"
             "assert (template_file('mail') / 'subject.txt.j2').is_file(); assert 'suzhou-2020' in profile_names()")
    out = subprocess.run([sys.executable, "-c", probe, str(target)], capture_output=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(target)})
    assert out.returncode == 0, out.stderr.decode("utf-8", "replace")[-2000:]


def test_package_finds_its_resources():
    from importlib import resources

    from selfeval_xl.resources import template_file

    assert template_file("自评表模板.xlsx").is_file()
    assert (resources.files("selfeval_xl.profiles") / "suzhou-2020.toml").is_file()
