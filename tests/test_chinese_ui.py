"""Speaking Chinese to users (issue 17): argparse's own messages, 文件不存在, no overwriting
without --force, profiles --export; the templates' font table (w:altName); the report's pages
as LibreOffice lays them out (no page under a quarter full before the chart) and the notice
about substituted fonts."""
from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLE, convert, soffice
from selfeval_xl import cli, report
from selfeval_xl.cliparser import translate
from selfeval_xl.pdffonts import font_notice, installed_names
from selfeval_xl.review import review_file


def _run(capsys, *argv) -> tuple[int, str, str]:
    try:
        rc = cli.main(list(argv))
    except SystemExit as exc:  # argparse exits on usage errors and --help
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_help_is_chinese(capsys):
    rc, out, _ = _run(capsys, "--help")
    assert rc == 0 and out.startswith("用法：selfeval-xl") and "选项：" in out and "显示本帮助并退出" in out
    assert "命令：" in out and "finalize" in out
    assert not re.search(r"\b(usage|options|show this help|positional arguments)\b", out)
    rc, out, _ = _run(capsys, "check", "--help")
    assert "位置参数：" in out and "只读取不评分" in out  # check --no-score documented


@pytest.mark.parametrize("argv, expected", [
    ((), "selfeval-xl：错误：缺少必需的参数：命令"),
    (("check",), "selfeval-xl check：错误：缺少必需的参数：FILE"),
    (("bogus",), "selfeval-xl：错误：参数 命令：无效的取值 'bogus'（可选："),
    (("check", "a.xlsx", "--nope"), "selfeval-xl：错误：无法识别的参数：--nope"),
    (("mail", "out", "--recipients"), "selfeval-xl mail：错误：参数 --recipients 需要一个值"),
    (("mail", "out", "--recipients", "r.csv", "--smtp-port", "x"), "参数 --smtp-port 的取值 'x' 无效（应为整数）"),
    (("mail", "out", "--recipients", "r.csv", "--ssl", "--starttls"), "参数 --starttls 不能与 --ssl 同时使用"),
])
def test_argparse_errors_are_chinese(capsys, argv, expected):
    rc, _, err = _run(capsys, *argv)
    assert rc == 2 and expected in err, err
    assert err.startswith("用法：")
    assert not re.search(r"error:|required|unrecognized|invalid|expected|not allowed", err), err


def test_translate_keeps_unknown_messages():
    assert translate("something new") == "something new"


def test_missing_file_says_so(capsys, tmp_path):
    rc, _, err = _run(capsys, "check", str(tmp_path / "没有这个文件.xlsx"))
    assert rc == 2 and "[NOT_FOUND]" in err and "文件不存在" in err and "没有这个文件.xlsx" in err
    assert "No such file" not in err and "不是电子表格文件" not in err


def test_template_refuses_to_overwrite(capsys, tmp_path):
    target = tmp_path / "模板.xlsx"
    target.write_bytes(b"mine")
    rc, _, err = _run(capsys, "template", "-o", str(target))
    assert rc == 2 and "文件已存在" in err and "--force" in err and target.read_bytes() == b"mine"
    rc, out, _ = _run(capsys, "template", "-o", str(target), "--force")
    assert rc == 0 and target.read_bytes()[:2] == b"PK"


def test_profiles_export_writes_the_bundled_toml(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, _ = _run(capsys, "profiles", "--export", "suzhou-2020")
    bundled = (ROOT / "selfeval_xl" / "profiles" / "suzhou-2020.toml").read_bytes()
    assert rc == 0 and (tmp_path / "suzhou-2020.toml").read_bytes() == bundled and "已导出" in out
    rc, _, err = _run(capsys, "profiles", "--export", "suzhou-2020")
    assert rc == 2 and "文件已存在" in err
    rc, _, err = _run(capsys, "profiles", "--export", "nowhere-1999")
    assert rc == 2 and "未知的规则配置“nowhere-1999”" in err


@pytest.mark.parametrize("template", ["自评报告.docx", "复核意见书.docx"])
def test_font_table_declares_alt_names(template):
    xml = zipfile.ZipFile(ROOT / "templates" / template).read("word/fontTable.xml").decode("utf-8")
    for face, alt in (("仿宋_GB2312", "仿宋"), ("楷体_GB2312", "楷体"), ("方正小标宋简体", "黑体")):
        assert re.search(rf'<w:font w:name="{face}"><w:altName w:val="{alt}"/>', xml), (template, face)


def test_committed_letter_template_matches_generator(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_letter_template", ROOT / "tools" / "make_letter_template.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    generated = tmp_path / "gen.docx"
    mod.build().save(generated)
    committed, fresh = zipfile.ZipFile(ROOT / "templates" / "复核意见书.docx"), zipfile.ZipFile(generated)
    assert sorted(committed.namelist()) == sorted(fresh.namelist())
    for name in fresh.namelist():
        if name.endswith((".xml", ".rels")):
            assert committed.read(name) == fresh.read(name), f"{name}: run python tools/make_letter_template.py"


def _fill(png: Path) -> float:
    """How far down the type area (A4, 37 mm top / 35 mm bottom margins) the page is inked, 0..1."""
    from PIL import Image

    im = Image.open(png).convert("L")
    w, h = im.size
    top, bottom = int(h * 37 / 297), int(h * (297 - 35) / 297)
    px = im.load()
    inked = [y for y in range(top, bottom) if any(px[x, y] < 160 for x in range(0, w, 2))]
    return (max(inked) - top) / (bottom - top) if inked else 0.0


@pytest.mark.office
def test_report_pages_before_the_chart_are_filled(tmp_path):
    soffice()
    for tool in ("pdftoppm", "pdftotext"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (poppler-utils) not installed")
    src = tmp_path / SAMPLE.name
    shutil.copy2(SAMPLE, src)
    docx = report.render_report(review_file(src), tmp_path / report.report_name(src))
    pdf = convert(docx, "pdf", tmp_path)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout
    pages = text.split("\f")
    chart_page = next(i for i, p in enumerate(pages) if "图1" in re.sub(r"\s+", "", p))  # 0-based
    assert chart_page > 0
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-l", str(chart_page + 1), str(pdf), str(tmp_path / "p")],
                   check=True, timeout=120)
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == chart_page + 1
    fills = [_fill(p) for p in images[:-1]]
    assert all(f >= 0.25 for f in fills), fills
    # the heading, caption and table 4 stay together with the paragraph before the chart
    before = pages[chart_page - 1] + pages[chart_page]
    assert "（一）各类指标得分" in re.sub(r"\s+", "", before) and "表4" in re.sub(r"\s+", "", before)

    # a PDF with substituted fonts says so (this machine has no 仿宋_GB2312)
    if installed_names("仿宋_GB2312") == set():
        note = font_notice(pdf, report.DEFAULT_FONTS)
        assert note and "仿宋_GB2312" in note and "代替" in note


def test_every_finding_code_has_a_chinese_label():
    """A document never shows a code: every code a check can raise has its label and 整改要求."""
    from selfeval_xl import checks, labels

    missing = sorted(c for c in checks.SEVERITY if c not in labels.FINDINGS)
    assert missing == []
    assert all(label and remedy for label, remedy in labels.FINDINGS.values())
