"""`selfeval-xl finalize` (issue 17): final totals from the reviewer's decisions, the 复核意见书,
run.json / 汇总.xlsx additions, reproducible bytes, mail --attach letter, and the letter as
LibreOffice renders it (落款, no English finding codes)."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from decimal import Decimal
from docx import Document
from openpyxl import load_workbook

from conftest import SAMPLE, convert, soffice
from selfeval_xl import cli, finalize, mail
from test_decisions import SECOND_PLACE, decide

STEM = SAMPLE.stem
ASCII_CODE = re.compile(r"\b[A-Z]{2,}(?:_[A-Z]+)+\b")  # SCORE_MISMATCH, DECISION_STALE …


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def outbox(sample, tmp_path) -> Path:
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    shutil.copy2(sample, inbox / sample.name)
    assert cli.main(["run", str(inbox), "-o", str(out), "-j", "1", "-q"]) == 0
    return out


def _letter_text(path: Path) -> str:
    return "\n".join(p.text for p in Document(path).paragraphs) + "\n" + "\n".join(
        c.text for t in Document(path).tables for row in t.rows for c in row.cells)


def test_finalize_totals_from_decisions(outbox):
    reviewed = outbox / f"{STEM}.复核.xlsx"
    decide(reviewed, SECOND_PLACE, "维持自评分", "排名依据省工信厅通报，认可部门自评")
    before = hashlib.sha256(reviewed.read_bytes()).hexdigest()
    assert cli.main(["finalize", str(outbox), "--issuer", "苏州市财政局", "--date", "2026-12-01"]) == 0
    assert hashlib.sha256(reviewed.read_bytes()).hexdigest() == before  # the reviewer's workbook untouched

    data = json.loads((outbox / "run.json").read_text(encoding="utf-8"))
    entry = data["files"][0]
    # 77.51 (rule total) − 0.67 (rule score of 保持全省第二) + 0.54 (the self-score kept) = 77.38
    assert entry["totals"] == {"stated": 77.38, "self": 77.38, "computed": 77.51, "final": 77.38}
    assert data["finalized"]["issuer"] == "苏州市财政局" and data["finalized"]["date"] == "2026-12-01"
    assert f"{STEM}.复核意见书.docx" in entry["outputs"]

    ws = load_workbook(outbox / "汇总.xlsx")["项目"]  # overview.py: one row per project
    header = [c.value for c in ws[1]]
    assert header[5:8] == ["自评分", "复核得分", "最终得分"]
    assert [ws.cell(2, c).value for c in (6, 7, 8)] == [77.38, 77.51, 77.38]
    assert ws.cell(2, header.index("差异") + 1).value == 0  # 最终得分 − 自评分 once finalized

    text = _letter_text(outbox / f"{STEM}.复核意见书.docx")
    assert "关于《苏州市打造先进制造业基地专项资金》绩效自评的复核意见" in text
    assert "你单位自评总分77.38分；按评分规则复核得分77.51分，经复核认定调整-0.13分，复核最终得分77.38分。" in text
    assert "苏州市工业和信息化局：" in text
    # the kept decision is in 三 with the reviewer's 说明, and no longer a problem to correct in 二
    assert "复核维持自评分。说明：排名依据省工信厅通报，认可部门自评。" in text
    assert "评分不符" not in text
    assert "实际值未量化（自评表!F156）" in text and "整改要求：定量指标的实际完成值应填写具体数值" in text
    assert not ASCII_CODE.search(text), ASCII_CODE.search(text)
    doc = Document(outbox / f"{STEM}.复核意见书.docx")
    sign, date = doc.paragraphs[-2], doc.paragraphs[-1]
    assert (sign.text, sign.style.style_id, date.text, date.style.style_id) == (
        "苏州市财政局", "Signature", "2026年12月1日", "SignatureDate")


def test_undecided_is_the_rule_score_and_a_number_is_validated(outbox):
    assert cli.main(["finalize", str(outbox), "--date", "2026-12-01"]) == 0  # issuer from the profile
    data = json.loads((outbox / "run.json").read_text(encoding="utf-8"))
    assert data["files"][0]["totals"]["final"] == 77.51 and data["finalized"]["issuer"] == "苏州市财政局"

    decide(outbox / f"{STEM}.复核.xlsx", SECOND_PLACE, 0.6, "部分认可")
    assert cli.main(["finalize", str(outbox), "--date", "2026-12-01"]) == 0
    data = json.loads((outbox / "run.json").read_text(encoding="utf-8"))
    assert data["files"][0]["totals"]["final"] == 77.44  # 77.51 − 0.67 + 0.6
    assert "复核认定为0.6分。说明：部分认可。" in _letter_text(outbox / f"{STEM}.复核意见书.docx")

    decide(outbox / f"{STEM}.复核.xlsx", SECOND_PLACE, 0.9)
    result = finalize.finalize(outbox)
    assert result.exit_code == 1 and len(result.errors) == 1
    assert "超出该项分值范围（0～0.67）" in result.errors[0] and "自评表!C155" in result.errors[0]


def test_finalize_twice_is_byte_identical(outbox):
    decide(outbox / f"{STEM}.复核.xlsx", SECOND_PLACE, "维持自评分", "认可")
    assert cli.main(["finalize", str(outbox), "--date", "2026-12-01"]) == 0
    first = _tree(outbox)
    assert cli.main(["finalize", str(outbox), "--date", "2026-12-01"]) == 0
    assert _tree(outbox) == first


def test_finalize_usage_errors(tmp_path, capsys):
    assert cli.main(["finalize", str(tmp_path / "nowhere")]) == 2
    assert "文件夹不存在" in capsys.readouterr().err
    assert cli.main(["finalize", str(tmp_path)]) == 2
    assert "没有可读取的 run.json" in capsys.readouterr().err
    (tmp_path / "run.json").write_text('{"files": []}', encoding="utf-8")
    assert cli.main(["finalize", str(tmp_path), "--date", "2026-13-01"]) == 2
    assert "--date 的取值“2026-13-01”无效" in capsys.readouterr().err


def test_mail_attaches_the_letter(outbox, tmp_path):
    assert cli.main(["finalize", str(outbox), "--date", "2026-12-01"]) == 0
    recipients = tmp_path / "r.csv"
    recipients.write_text("匹配,收件人,抄送\n苏州市工业和信息化局,gxj@example.com,\n", encoding="utf-8")
    result = mail.mail(outbox, recipients, attach="letter,report", dry_run=True)
    (o,) = result.outcomes
    assert list(o.attachments) == [f"{STEM}.复核意见书.docx", f"{STEM}.自评价报告.docx"]


def _pdftotext(pdf: Path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run([exe, "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=60).stdout


@pytest.mark.office
def test_letter_and_report_through_libreoffice(outbox, tmp_path):
    soffice()
    decide(outbox / f"{STEM}.复核.xlsx", SECOND_PLACE, "维持自评分", "认可部门说明")
    assert cli.main(["finalize", str(outbox), "--issuer", "苏州市财政局", "--date", "2026-12-01"]) == 0
    letter = convert(outbox / f"{STEM}.复核意见书.docx", "pdf", tmp_path)
    text = _pdftotext(letter)
    flat = re.sub(r"\s+", "", text)
    assert "关于《苏州市打造先进制造业基地专项资金》绩效自评的复核意见" in flat
    assert "特此函告。苏州市财政局2026年12月1日" in flat
    assert "复核最终得分77.38分" in flat
    # the 落款 is the last text of the last page, right of the page's middle
    last_page = text.split("\f")[-2] if "\f" in text else text
    sign_line = next(line for line in last_page.splitlines() if "苏州市财政局" in line)
    assert len(sign_line) - len(sign_line.lstrip()) > 20
    report = convert(outbox / f"{STEM}.自评价报告.docx", "pdf", tmp_path)
    for pdf_text in (text, _pdftotext(report)):
        assert not ASCII_CODE.search(pdf_text), ASCII_CODE.search(pdf_text)
        assert "suzhou-2020" not in pdf_text


def test_grades_where_the_profile_defines_them(tmp_path):
    """A form with grade bands (national: 优 ≥ 90, 良 80–90, 中 60–80, 差 < 60) prints 等级 for both totals."""
    from datetime import date

    from selfeval_xl.decisions import Decision
    from selfeval_xl.review import review
    from selfeval_xl.reader import read
    from selfeval_xl.rules import load_profile

    text = (Path(__file__).resolve().parent.parent / "selfeval_xl" / "profiles" / "suzhou-2020.toml").read_text(encoding="utf-8")
    path = tmp_path / "graded.toml"
    path.write_text(text.replace('name = "suzhou-2020"', 'name = "graded"')
                    + '\n[grade_bands]\n"优" = 90\n"良" = 80\n"中" = 60\n"差" = 0\n', encoding="utf-8")
    p = load_profile(str(path))
    r = review(read(SAMPLE), p)
    ind = next(i for i in r.evaluation.indicators if i.name == SECOND_PLACE)
    keep = Decision("自评表", ind.cell, ind.category, ind.name, 0, "维持自评分", "", "全省第二", "全省第二", "0.54")
    pf = finalize.project_final(r, [keep], p)
    assert (pf.self_total, pf.final_total, pf.self_grade, pf.final_grade) == (
        Decimal("77.38"), Decimal("77.38"), "中", "中")
    ctx = finalize.letter_context(pf, "某市财政局", date(2026, 12, 1))
    assert ctx["totals"]["sentence"] == ("你单位自评总分77.38分（等级：中）；按评分规则复核得分77.51分，经复核认定调整-0.13分，"
                                         "复核最终得分77.38分（等级：中）。")
    assert ctx["date"] == "2026年12月1日" and ctx["sign"] == {"issuer_indent": "1520", "date_indent": "1280"}
    assert finalize.project_final(r, [], p).final_total == r.computed_total  # undecided: the rule score


def test_letter_properties_keep_an_ampersand(outbox):
    """The letter's title and author are plain text: an issuer with "&" is not written "&amp;"."""
    from docx import Document

    assert cli.main(["finalize", str(outbox), "--issuer", "甲&乙财政局", "--date", "2026-12-01"]) == 0
    props = Document(outbox / f"{STEM}.复核意见书.docx").core_properties
    assert props.author == "甲&乙财政局" and "&amp;" not in props.title
