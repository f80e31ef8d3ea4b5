"""Reviewer decisions (issue 17): the 复核认定/复核说明 columns, carried over across a re-run,
DECISION_STALE when a decided indicator changed, and the final score a decision gives."""
from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from conftest import SAMPLE
from selfeval_xl import cli
from selfeval_xl.decisions import carry_over, final_score, parse_verdict, read_decisions
from selfeval_xl.pipeline import JobOptions, review_into
from selfeval_xl.review import review_file

# Every test here starts worker processes or a batch run: the full suite runs them, the fast loop does not.
pytestmark = pytest.mark.slow

SECOND_PLACE = "促进我市软件产业高质量发展，保持全省第二的位置"
STEM = SAMPLE.stem


def _columns(ws) -> dict[str, int]:
    return {c.value: c.column for row in ws.iter_rows() for c in row if c.value in ("复核认定", "复核说明", "指标名称")}


def _row_of(ws, name: str) -> int:
    return next(c.row for row in ws.iter_rows() for c in row if c.value == name)


def decide(reviewed: Path, name: str, verdict, note: str = "") -> None:
    """What a reviewer does in Excel: type into 复核认定 / 复核说明 of one indicator's row."""
    wb = load_workbook(reviewed)
    ws = wb["自评表"]
    cols = _columns(ws)
    row = _row_of(ws, name)
    ws.cell(row, cols["复核认定"], verdict)
    if note:
        ws.cell(row, cols["复核说明"], note)
    wb.save(reviewed)


def _decision_cells(reviewed: Path, name: str) -> tuple:
    ws = load_workbook(reviewed)["自评表"]
    cols = _columns(ws)
    row = _row_of(ws, name)
    return ws.cell(row, cols["复核认定"]).value, ws.cell(row, cols["复核说明"]).value


def test_columns_headers_and_dropdown(sample, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    job = review_into(sample, out, JobOptions(report=False))
    ws = load_workbook(out / job.outputs[0])["自评表"]
    cols = _columns(ws)
    assert cols["复核认定"] == 14 and cols["复核说明"] == 15  # after G (自评分) + the six review columns
    dv = [d for d in ws.data_validations.dataValidation if d.formula1 == '"采纳规则得分,维持自评分"']
    assert len(dv) == 1 and str(dv[0].sqref) == "N71:N162" and not dv[0].showErrorMessage  # a number may be typed


def test_read_decisions_by_header(sample, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    reviewed = out / review_into(sample, out, JobOptions(report=False)).outputs[0]
    decide(reviewed, SECOND_PLACE, "维持自评分", "部门说明：排名按省厅通报口径，认可自评")
    decide(reviewed, "预算执行率", 7.5)
    got = {d.name: d for d in read_decisions(reviewed)}
    assert set(got) == {SECOND_PLACE, "预算执行率"}
    d = got[SECOND_PLACE]
    assert (d.verdict, d.note, d.category, d.self_score, d.target, d.actual) == (
        "维持自评分", "部门说明：排名按省厅通报口径，认可自评", "影响力目标", "0.54", "全省第二", "全省第二")
    assert got["预算执行率"].verdict == "7.5" and got["预算执行率"].cell.startswith("自评表!C")


def test_decisions_carried_over_across_a_rerun(sample, tmp_path):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    shutil.copy2(sample, inbox / sample.name)
    assert cli.main(["run", str(inbox), "-o", str(outbox), "-j", "1", "-q", "--no-report"]) == 0
    reviewed = outbox / f"{STEM}.复核.xlsx"
    decide(reviewed, SECOND_PLACE, "维持自评分", "认可部门说明")
    decide(reviewed, "预算执行率", 7.5)
    assert cli.main(["run", str(inbox), "-o", str(outbox), "-j", "1", "-q", "--no-report"]) == 0
    assert _decision_cells(reviewed, SECOND_PLACE) == ("维持自评分", "认可部门说明")
    assert _decision_cells(reviewed, "预算执行率") == (7.5, None)  # a typed score stays a number, not text
    ws = load_workbook(reviewed)["复核结果"]
    assert not any(c.value == "DECISION_STALE" for row in ws.iter_rows() for c in row)


def test_decision_stale_when_indicator_changed(sample, tmp_path):
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    src = inbox / sample.name
    shutil.copy2(sample, src)
    assert cli.main(["run", str(inbox), "-o", str(outbox), "-j", "1", "-q", "--no-report"]) == 0
    reviewed = outbox / f"{STEM}.复核.xlsx"
    decide(reviewed, SECOND_PLACE, "维持自评分", "认可部门说明")
    # the department resubmits with a changed self-score, and rows inserted above the table
    wb = load_workbook(src)
    ws = wb["自评表"]
    row = _row_of(ws, SECOND_PLACE)
    ws.cell(row, 7, 0.6)
    wb.save(src)
    assert cli.main(["run", str(inbox), "-o", str(outbox), "-j", "1", "-q", "--no-report"]) == 0
    verdict, note = _decision_cells(reviewed, SECOND_PLACE)  # kept, and marked for a second look
    assert (verdict, note) == ("维持自评分", "认可部门说明\n【待重审】自评分由“0.54”改为“0.6”。核对认定后请删除本行")
    cell = next(i.cell for i in review_file(src).evaluation.indicators if i.name == SECOND_PLACE)
    sheet = load_workbook(reviewed)["复核结果"]
    found = [(sheet.cell(c.row, 3).value, sheet.cell(c.row, 4).value, sheet.cell(c.row, 5).value)
             for row in sheet.iter_rows() for c in row if c.value == "DECISION_STALE"]
    assert len(found) == 1 and found[0][:2] == ("警告", cell)
    assert "自评分由“0.54”改为“0.6”" in found[0][2] and "请重新认定" in found[0][2]
    # a third run: still pending (the mark survives), flagged again, the mark not doubled
    assert cli.main(["run", str(inbox), "-o", str(outbox), "-j", "1", "-q", "--no-report"]) == 0
    assert _decision_cells(reviewed, SECOND_PLACE) == (verdict, note)
    sheet = load_workbook(reviewed)["复核结果"]
    assert [sheet.cell(c.row, 4).value for row in sheet.iter_rows() for c in row if c.value == "DECISION_STALE"] == [cell]
    # finalize applies it as it stands but says it is pending, and keeps the mark out of the letter
    from selfeval_xl import finalize

    result = finalize.finalize(outbox)
    assert result.exit_code == 0 and result.warnings == [f"{STEM}.复核.xlsx：{cell}（“{SECOND_PLACE}”）"]
    assert "待重审" in result.summary()
    # the reviewer looks again and deletes the line: the next run is quiet
    decide(reviewed, SECOND_PLACE, "维持自评分", "认可部门说明")
    wb = load_workbook(reviewed)
    wb.save(reviewed)
    assert cli.main(["run", str(inbox), "-o", str(outbox), "-j", "1", "-q", "--no-report"]) == 0
    sheet = load_workbook(reviewed)["复核结果"]
    assert not any(c.value == "DECISION_STALE" for row in sheet.iter_rows() for c in row)
    assert _decision_cells(reviewed, SECOND_PLACE) == ("维持自评分", "认可部门说明")


def test_carry_over_matching_and_staleness(sample, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    reviewed = out / review_into(sample, out, JobOptions(report=False)).outputs[0]
    decide(reviewed, SECOND_PLACE, "维持自评分", "认可")
    decide(reviewed, "预算执行率", "采纳规则得分")
    old = read_decisions(reviewed)
    r = review_file(sample)
    decided, findings = carry_over(old, r)
    cells = {i.name: i.cell for i in r.evaluation.indicators}
    assert decided == {("自评表", cells[SECOND_PLACE]): ("维持自评分", "认可"),
                       ("自评表", cells["预算执行率"]): ("采纳规则得分", "")}
    assert findings == []

    # renamed indicator: matched by class + position; its name change makes it stale
    import dataclasses
    renamed = [dataclasses.replace(d, name=d.name + "（旧称）") if d.name == "预算执行率" else d for d in old]
    decided, findings = carry_over(renamed, r)
    assert decided[("自评表", cells["预算执行率"])] == ("采纳规则得分", "【待重审】指标名称由“预算执行率（旧称）”改为“预算执行率”。核对认定后请删除本行")
    assert [(f.code, f.severity, f.cell) for f in findings] == [("DECISION_STALE", "warning", cells["预算执行率"])]
    assert "指标名称由“预算执行率（旧称）”改为“预算执行率”" in findings[0].message

    # changed actual: stale, and the message says from what to what
    changed = [dataclasses.replace(d, actual="全省第三") if d.name == SECOND_PLACE else d for d in old]
    _, findings = carry_over(changed, r)
    assert [f.cell for f in findings] == [cells[SECOND_PLACE]]
    assert "实际完成值由“全省第三”改为“全省第二”" in findings[0].message

    # an indicator that is gone: reported for the file, not placed
    gone = [dataclasses.replace(d, name="已删除的指标", position=999) for d in old[:1]]
    decided, findings = carry_over(gone, r)
    assert decided == {} and findings[0].cell == "" and "找不到对应指标" in findings[0].message


def test_final_score_from_each_kind_of_decision():
    r = review_file(SAMPLE)
    s = next(x for x in r.scored if x.indicator.name == SECOND_PLACE)
    assert (s.score, s.indicator.self_score.number) == (Decimal("0.67"), Decimal("0.54"))
    assert final_score("", s) == (Decimal("0.67"), "undecided")
    assert final_score("采纳规则得分", s) == (Decimal("0.67"), "rule")
    assert final_score("维持自评分", s) == (Decimal("0.54"), "self")
    assert final_score("０.６分", s) == (Decimal("0.6"), "number")
    with pytest.raises(ValueError, match="超出该项分值范围（0～0.67）"):
        final_score("0.7", s)
    with pytest.raises(ValueError, match="无法识别"):
        final_score("同意", s)


@given(st.decimals(min_value=0, max_value=100, places=2))
def test_parse_verdict_numbers(x):
    assert parse_verdict(str(x)) == ("number", x)
    assert parse_verdict(f" {x}分 ") == ("number", x)


def test_reviewing_a_reviewed_workbook_keeps_its_decisions(sample, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    reviewed = one / review_into(sample, one, JobOptions(report=False)).outputs[0]
    decide(reviewed, SECOND_PLACE, "维持自评分", "认可")
    again = two / review_into(reviewed, two, JobOptions(report=False)).outputs[0]
    assert again.name == reviewed.name
    assert _decision_cells(again, SECOND_PLACE) == ("维持自评分", "认可")
    ws = load_workbook(again)["自评表"]
    assert [c.value for c in ws[70]].count("复核认定") == 1  # replaced, not added twice


def test_an_unreadable_earlier_workbook_is_reported_not_ignored(sample, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    broken = tmp_path / "old.复核.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    job = review_into(sample, out, JobOptions(report=False, previous_reviewed=str(broken)))
    (stale,) = [f for f in job.projects[0].review.findings if f.code == "DECISION_STALE"]
    assert stale.cell == "" and "上次的复核工作簿无法读取" in stale.message and "未能沿用" in stale.message


def _with_self_score(seed: dict, name: str, score) -> dict:
    """The seed with one indicator's self-score changed (a department's resubmission)."""
    import copy

    c = copy.deepcopy(seed)
    c["categories"] = [(title, [(n, t, w, a, score if n == name else s) for n, t, w, a, s in rows])
                       for title, rows in c["categories"]]
    return c


def test_a_word_inputs_decisions_are_carried_over_in_its_rebuilt_workbook(seed, tmp_path):
    """The reviewer decides in a Word input's .复核.xlsx; the next review of the (resubmitted)
    document keeps the decisions there, and flags the one whose indicator changed."""
    from build_word import build_docx

    name = "财务制度健全性"
    (tmp_path / "in").mkdir()
    src = build_docx(seed, tmp_path / "in" / "部门自评价报告.docx")
    first, second, third = (tmp_path / n for n in ("a", "b", "c"))
    for d in (first, second, third):
        d.mkdir()
    job = review_into(src, first, JobOptions(report=False))
    reviewed = first / "部门自评价报告.复核.xlsx"
    assert reviewed.name in job.outputs
    decide(reviewed, SECOND_PLACE, "维持自评分", "认可部门说明")
    decide(reviewed, name, 2)
    review_into(src, second, JobOptions(report=False, previous_reviewed=str(reviewed)))
    again = second / reviewed.name
    assert _decision_cells(again, SECOND_PLACE) == ("维持自评分", "认可部门说明")
    assert _decision_cells(again, name) == (2, None)
    assert not any(c.value == "DECISION_STALE" for row in load_workbook(again)["复核结果"].iter_rows() for c in row)
    # resubmitted with a changed self-score: kept, and marked for a second look
    build_docx(_with_self_score(seed, name, 2.5), src)
    review_into(src, third, JobOptions(report=False, previous_reviewed=str(again)))
    verdict, note = _decision_cells(third / reviewed.name, name)
    assert verdict == 2 and note == "【待重审】自评分由“3”改为“2.5”。核对认定后请删除本行"
    assert _decision_cells(third / reviewed.name, SECOND_PLACE) == ("维持自评分", "认可部门说明")
    sheet = load_workbook(third / reviewed.name)["复核结果"]
    assert [c.value for row in sheet.iter_rows() for c in row].count("DECISION_STALE") == 1
