"""What people really type (issue 13): number formats, numbers inside words, several forms per
workbook, blank header fields, targets quoted in prose, and the smaller cases.

Every workbook is built here with openpyxl (form.build plus edits); each test asserts the score,
the finding code and its exact cell.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from conftest import CLEAN_MONEY, INPUT, SAMPLE, convert
from selfeval_xl import form, rules
from selfeval_xl.reader import read, read_all
from selfeval_xl.review import review, review_file, to_json

D = Decimal

PLAIN = {
    "project_name": "测试项目", "year": 2021, "department": "苏州市教育局",
    **CLEAN_MONEY,
    "categories": [
        ("投入目标（26分）", INPUT),
        ("产出目标（20分）", [("资助家庭经济困难学生人数", "≥12000人", 6.67, "=12500人", 6.67),
                           ("整治村庄数量", "≥180个", 6.67, "=12个", 0),
                           ("路面完好率", "≥95%", 6.66, "=93%", 5.96)]),
        ("结果目标（28分）", [("新增耕地面积", "≥7000亩", 9.34, "=7403.92亩", 9.34), ("满意度", "≥95%", 9.33, "=97.2%", 9.33),
                           ("项目完成率", "=100%", 9.33, "=100%", 9.33)]),
        ("影响力目标（6分）", [("保持全省第二", "全省第二", 3, "全省第二", 3), ("带动作用", "显著提升", 3, "显著提升", 3)]),
    ],
    "total": 72.63,
    "narrative": {"项目概况": "概况。", "年度绩效目标": "资助家庭经济困难学生12000人以上；整治村庄180个。"},
}
# row positions in the form built by form.build (indicator table from row 14 with two sub-items)
ROW = {"路面完好率": 27, "满意度": 29, "新增耕地面积": 28, "整治村庄数量": 26, "项目完成率": 30, "资助家庭经济困难学生人数": 25}


def _content(**changes) -> dict:
    c = copy.deepcopy(PLAIN)
    c.update(changes)
    return c


def _set(c: dict, name: str, pos: int, value) -> None:
    """Column ``pos`` (1 target, 2 weight, 3 actual, 4 self-score) of the indicator ``name``."""
    for _, rows in c["categories"]:
        for k, row in enumerate(rows):
            if row[0] == name:
                row = list(row)
                row[pos] = value
                rows[k] = tuple(row)
                return
    raise KeyError(name)


def _save(path, c=None, edit=None):
    wb = form.build(c or _content())
    if edit:
        edit(wb)
    wb.save(path)
    return path


def _cell(name: str, col: str) -> str:
    return f"{form.FORM_SHEET}!{col}{ROW[name]}"


def _scored(r, name):
    return next(s for s in r.scored if s.indicator.name == name)


def _typed(wb, name: str, col: str, value, fmt: str | None = None) -> None:
    ws = wb[form.FORM_SHEET]
    cell = ws[f"{col}{ROW[name]}"]
    assert ws[f"C{ROW[name]}"].value == name
    cell.value = value
    if fmt:
        cell.number_format = fmt


# ---- 1. number formats ---------------------------------------------------------------------


def test_percent_typed_the_excel_way(tmp_path):
    """97.2% typed in Excel is 0.972 under 0.0%; 93% is 0.93 under 0%."""
    def edit(wb):
        _typed(wb, "满意度", "F", 0.972, "0.0%")
        _typed(wb, "路面完好率", "F", 0.93, "0%")
    r = review_file(_save(tmp_path / "pct.xlsx", edit=edit))
    s = _scored(r, "满意度")
    assert s.indicator.actual.text == "97.2%" and s.indicator.actual.number_format == "0.0%"
    assert s.score == D("9.33") and s.actual.value == D("97.2") and s.actual.unit == "%"
    road = _scored(r, "路面完好率")
    assert road.indicator.actual.text == "93%"
    # 93 / 95 = 97.89 %: 2.105 points below 100 % at 5 % each → 89.47 % of 6.66
    assert road.score == D("5.96") and road.completion.quantize(D("0.01")) == D("97.89")
    assert not [f for f in r.findings if f.code in ("SCORE_MISMATCH", "UNIT_MISMATCH")]
    assert to_json(r)["indicators"][[i.name for i in r.evaluation.indicators].index("满意度")]["actual"] == "97.2%"


def test_unit_format_carries_its_unit(tmp_path):
    def edit(wb):
        _typed(wb, "新增耕地面积", "F", 7403.92, '0.00"亩"')
        _typed(wb, "新增耕地面积", "D", 7000, '"≥"0"亩"')
    r = review_file(_save(tmp_path / "unit.xlsx", edit=edit))
    s = _scored(r, "新增耕地面积")
    assert s.indicator.actual.text == "7403.92亩" and s.indicator.target.text == "≥7000亩"
    assert (s.target.op, s.target.value, s.target.unit) == ("≥", 7000, "亩")
    assert s.actual.unit == "亩" and s.score == D("9.34")


def test_unit_format_differing_from_the_target_is_a_unit_mismatch(tmp_path):
    """A format unit is the unit the user saw: 12 under 0"公顷" is not 12亩 (it was read as a bare
    number taking the target's unit before)."""
    def edit(wb):
        _typed(wb, "新增耕地面积", "F", 7403.92, '0.00"公顷"')
    r = review_file(_save(tmp_path / "ha.xlsx", edit=edit))
    s = _scored(r, "新增耕地面积")
    assert s.score == 0 and "UNIT_MISMATCH" in s.flags
    f = next(f for f in r.findings if f.code == "UNIT_MISMATCH")
    assert f.cell == _cell("新增耕地面积", "F")


def test_money_with_a_unit_format_keeps_its_number(tmp_path):
    def edit(wb):
        ws = wb[form.FORM_SHEET]
        ws["B6"].number_format = '#,##0.00"万元"'
    ev = read(_save(tmp_path / "money.xlsx", edit=edit))
    assert ev.budget["initial"].text == "1,000.00万元" and ev.budget["initial"].number == 1000
    assert not [f for f in review(ev).findings if f.code == "BUDGET_BALANCE"]


def test_sample_has_no_meaningful_formats_and_reads_as_before():
    from selfeval_xl.grids import load_grids

    grids = load_grids(SAMPLE)
    assert all(not g.shown for g in grids)


def test_format_read_is_fast(tmp_path):
    """The styles pass costs little: a unit-formatted copy of the sample (254 number cells) reads
    within 1.5× the plain sample (CPU time, min of 5: robust on a shared machine)."""
    from selfeval_xl.grids import load_grids

    wb = load_workbook(SAMPLE)
    ws = wb[form.FORM_SHEET]
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, (int, float)):
                cell.number_format = '0.00"分"'
    p = tmp_path / "formatted.xlsx"
    wb.save(p)

    def best(path):
        times = []
        for _ in range(5):
            t = time.process_time()
            load_grids(path)
            times.append(time.process_time() - t)
        return min(times)

    plain, formatted = best(SAMPLE), best(p)
    assert sum(len(g.shown) for g in load_grids(p)) > 100
    assert formatted < plain * 1.5 + 0.05, (plain, formatted)


@pytest.mark.parametrize("fmt", ["ods", "xls"])
def test_ods_and_xls_keep_the_shown_text(tmp_path, fmt):
    """A percent/unit cell saved as .ods (the shown text is stored) or .xls (BIFF FORMAT/XF
    records) reads as it showed (97.2%, 7403.92亩), like the .xlsx it came from."""
    def edit(wb):
        _typed(wb, "满意度", "F", 0.972, "0.0%")
        _typed(wb, "新增耕地面积", "F", 7403.92, '0.00"亩"')
    src = _save(tmp_path / "pct.xlsx", edit=edit)
    ods = convert(src, fmt, tmp_path)
    ev = read(ods)
    by_name = {i.name: i for i in ev.indicators}
    assert by_name["满意度"].actual.text == "97.2%" and by_name["新增耕地面积"].actual.text == "7403.92亩"
    assert by_name["预算执行率"].actual.number_format == ""  # a text cell stays as typed
    r = review(ev)
    assert r.computed_total == review_file(src).computed_total == D("72.63")


# ---- 2. numbers inside words ---------------------------------------------------------------


def test_numbers_with_words_are_scored(tmp_path):
    c = _content()
    _set(c, "项目完成率", 3, "100%完成")
    _set(c, "路面完好率", 3, "完成93%")
    _set(c, "整治村庄数量", 1, "=12个")
    _set(c, "整治村庄数量", 3, "12个，全部完成")
    _set(c, "整治村庄数量", 4, 6.67)
    c["total"] = 85.96
    r = review_file(_save(tmp_path / "words.xlsx", c))
    assert _scored(r, "项目完成率").score == D("9.33")
    road = _scored(r, "路面完好率")
    assert road.score == D("5.96") and "“完成93%”按其中数值93%计" in road.basis
    village = _scored(r, "整治村庄数量")
    assert village.score == D("6.67") and village.actual.note == "全部完成" and village.actual.verdict == "met"
    assert "“12个，全部完成”" in village.basis
    assert not [f for f in r.findings if f.code in ("ACTUAL_NOT_NUMERIC", "SCORE_MISMATCH")]


@pytest.mark.parametrize("actual", ["未完成，100%", "完成93%，完成12个"])
def test_contradiction_or_two_numbers_go_to_a_person(tmp_path, actual):
    c = _content()
    _set(c, "项目完成率", 3, actual)
    _set(c, "项目完成率", 4, 5)
    c["total"] = 74.96
    r = review_file(_save(tmp_path / "unsure.xlsx", c))
    s = _scored(r, "项目完成率")
    assert s.flags == ("VALUE_UNPARSED",) and s.score == 5  # the self-score kept
    f = next(f for f in r.findings if f.code == "VALUE_UNPARSED")
    assert f.cell == _cell("项目完成率", "F") and f.severity == "info"
    assert not [f for f in r.findings if f.code in ("ACTUAL_NOT_NUMERIC", "SCORE_MISMATCH")]


def test_parse_command_shows_the_words():
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "parse", "12个，全部完成", "完成93%"],
                         capture_output=True, timeout=60)
    lines = out.stdout.decode("utf-8").splitlines()
    assert lines == ["12个，全部完成\tquantity\t=12个\t文字“全部完成”（达成）", "完成93%\tquantity\t=93%\t文字“完成”"]


# ---- 3. several forms in one workbook ---------------------------------------------------------


def _two_forms(path, second: dict, first: dict | None = None):
    """自评表 + 项目基本情况 for the first project, 自评表2 + 项目基本情况2 for the second."""
    wb = form.build(first or _content())
    other = form.build(second)
    for ws in other.worksheets:
        ns = wb.create_sheet(ws.title + "2")
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    nc = ns.cell(cell.row, cell.column, cell.value)
                    nc.number_format = cell.number_format
                    if isinstance(cell.value, str):
                        nc.data_type = "s"  # =5家 is text, not a formula
        for m in ws.merged_cells.ranges:
            ns.merge_cells(str(m))
    wb.save(path)
    return path


def _second() -> dict:
    c = _content(project_name="第二个项目", department="苏州市农业农村局")
    _set(c, "满意度", 4, 5)  # self-score 5 where the rule gives 9.33
    c["narrative"] = {"项目概况": "第二个项目的概况。", "年度绩效目标": "整治村庄200个。"}
    return c


def test_every_form_is_read_with_its_own_narrative(tmp_path):
    p = _two_forms(tmp_path / "两个项目.xlsx", _second())
    evs = read_all(p)
    assert [(e.sheet, e.project_name.text) for e in evs] == [("自评表", "测试项目"), ("自评表2", "第二个项目")]
    assert evs[0].narrative["项目概况"].text == "概况。"
    assert evs[1].narrative["项目概况"].text == "第二个项目的概况。"
    assert evs[1].narrative["项目概况"].cell == "项目基本情况2!B2"
    r2 = review(evs[1])
    mismatch = [(f.code, f.cell) for f in r2.findings if f.code in ("SCORE_MISMATCH", "GOAL_MISMATCH")]
    assert mismatch == [("SCORE_MISMATCH", "自评表2!G29"), ("GOAL_MISMATCH", "自评表2!D26")]


def test_narrative_sheet_paired_by_name(tmp_path):
    """Sheets 项目A, 项目B, 项目A说明, 项目B说明: each narrative belongs to the form its name
    contains, not to the nearest form before it."""
    p = _two_forms(tmp_path / "配对.xlsx", _second())
    wb = load_workbook(p)
    for old, new in (("自评表", "项目A"), ("项目基本情况", "项目A说明"), ("自评表2", "项目B"), ("项目基本情况2", "项目B说明")):
        wb[old].title = new
    wb.move_sheet("项目B", offset=-1)  # 项目A, 项目B, 项目A说明, 项目B说明
    assert wb.sheetnames == ["项目A", "项目B", "项目A说明", "项目B说明"]
    wb.save(p)
    evs = read_all(p)
    assert [(e.sheet, e.narrative["项目概况"].cell, e.narrative["项目概况"].text) for e in evs] == [
        ("项目A", "项目A说明!B2", "概况。"), ("项目B", "项目B说明!B2", "第二个项目的概况。")]


def test_a_sheet_that_fails_does_not_hide_the_others(tmp_path):
    p = _two_forms(tmp_path / "一个坏.xlsx", _content(project_name=None))
    evs = read_all(p)
    assert len(evs) == 1 and evs[0].sheet == "自评表"
    f = next(f for f in review(evs[0]).findings if f.code == "SHEET_NOT_READ")
    assert f.cell == "自评表2!B3" and f.severity == "error" and "MISSING_FIELD" in f.message


def test_check_prints_each_project_and_json_is_a_list(tmp_path):
    p = _two_forms(tmp_path / "两个项目.xlsx", _second())
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(p), "--json"], capture_output=True, timeout=120)
    data = json.loads(out.stdout)
    assert isinstance(data, list) and [d["sheet"] for d in data] == ["自评表", "自评表2"]
    assert [d["project"]["name"] for d in data] == ["测试项目", "第二个项目"]
    text = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(p)], capture_output=True, timeout=120)
    shown = text.stdout.decode("utf-8")
    assert "本工作簿共有 2 个项目" in shown and "工作表：自评表2" in shown and "项目：第二个项目（2021年度，苏州市农业农村局）" in shown
    single = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(_save(tmp_path / "一个.xlsx")), "--json"],
                            capture_output=True, timeout=120)
    assert isinstance(json.loads(single.stdout), dict)


def test_review_into_writes_one_workbook_and_a_report_per_project(tmp_path):
    from selfeval_xl.pipeline import review_into

    p = _two_forms(tmp_path / "两个项目.xlsx", _second())
    out = tmp_path / "out"
    out.mkdir()
    job = review_into(p, out)
    assert job.outputs == ["两个项目.复核.xlsx", "两个项目.自评价报告.docx", "两个项目.自评表2.自评价报告.docx"]
    assert [(x.sheet, x.outputs) for x in job.projects] == [
        ("自评表", ["两个项目.复核.xlsx", "两个项目.自评价报告.docx"]),
        ("自评表2", ["两个项目.复核.xlsx", "两个项目.自评表2.自评价报告.docx"])]
    assert sorted(x.name for x in out.iterdir()) == sorted(job.outputs)
    wb = load_workbook(out / "两个项目.复核.xlsx")
    for sheet in ("自评表", "自评表2"):
        assert wb[sheet]["H14"].value == "目标值（解析）"
    assert wb["自评表2"]["K29"].value == 9.33 and wb["自评表"]["K29"].value == 9.33
    assert "按规则应得9.33" in wb["自评表2"]["G29"].comment.text
    listing = [c.value for c in wb["复核结果"]["A"] if c.value]
    assert "项目 1：工作表“自评表”" in listing and "项目 2：工作表“自评表2”" in listing


def test_write_reviewed_keeps_the_single_review_call(tmp_path):
    from selfeval_xl.writeback import write_reviewed

    p = _save(tmp_path / "一个.xlsx")
    r = review_file(p)
    target = write_reviewed(r, p, tmp_path / "一个.复核.xlsx")
    wb = load_workbook(target)
    assert "项目 1：工作表“自评表”" not in [c.value for c in wb["复核结果"]["A"]]


# ---- 4. blank header fields -----------------------------------------------------------------


def test_blank_header_fields_are_findings_at_their_cells(tmp_path):
    c = _content(year=None, department=None)
    c["budget"] = dict(c["budget"], initial=None)
    r = review_file(_save(tmp_path / "空表头.xlsx", c))
    missing = [(f.cell, f.severity) for f in r.findings if f.code == "MISSING_FIELD"]
    assert missing == [("自评表!F3", "warning"), ("自评表!B4", "warning"), ("自评表!B6", "warning")]
    from selfeval_xl.report import build_context
    from selfeval_xl.printout import review_summary

    assert "项目：测试项目（项目年份未填写，主管部门未填写）" in review_summary(r)
    ctx = build_context(r)
    assert ctx["project"]["year_label"] == "" and ctx["project"]["department"] == "（未填写）"


def test_mail_never_prints_an_empty_year():
    from selfeval_xl import mail

    item = mail.Item(input="a.xlsx", status="ok")
    item.name, item.department, item.year = "测试项目", "", ""
    t = mail.Templates()
    ctx = mail.template_context(item, [])
    assert t.render("subject.txt.j2", ctx).strip() == "“测试项目”绩效自评复核结果"
    body = t.render("body.txt.j2", ctx)
    assert "现将“测试项目”绩效自评表" in body and "年度“" not in body
    item.year = "2021年"
    ctx = mail.template_context(item, [])
    assert t.render("subject.txt.j2", ctx).strip() == "2021年度“测试项目”绩效自评复核结果"


def test_year_typed_with_nian(tmp_path):
    r = review_file(_save(tmp_path / "年.xlsx", _content(year="2021年")))
    from selfeval_xl import mail
    from selfeval_xl.report import build_context
    from selfeval_xl.printout import review_summary

    assert "（2021年度，苏州市教育局）" in review_summary(r)
    assert build_context(r)["project"]["year_label"] == "2021年度"
    item = mail.Item(input="a.xlsx", status="ok")
    item.year = "2021年"
    assert mail.template_context(item, [])["年度"] == "2021"


# ---- 5. GOAL_MISMATCH on prose ----------------------------------------------------------------


@pytest.mark.parametrize("prose, name", [
    ("资助家庭经济困难学生13000人以上", "资助家庭经济困难学生人数"),
    ("完成200个村庄环境整治", "整治村庄数量"),
])
def test_goal_mismatch_on_prose(tmp_path, prose, name):
    c = _content()
    c["narrative"] = {"年度绩效目标": f"全面落实资助政策。{prose}，群众满意度95%以上。"}
    r = review_file(_save(tmp_path / "goal.xlsx", c))
    goals = [(f.cell, f.message) for f in r.findings if f.code == "GOAL_MISMATCH"]
    assert len(goals) == 1 and goals[0][0] == _cell(name, "D")
    assert prose in goals[0][1]


@pytest.mark.parametrize("prose", [
    "资助家庭经济困难学生12000人以上，整治村庄180个",  # equal: nothing to say
    "完成200个",  # no words to tell which indicator
    "新建学校2个",  # no indicator in 个 is meant
])
def test_no_goal_mismatch_when_unsure_or_equal(tmp_path, prose):
    c = _content()
    c["narrative"] = {"年度绩效目标": prose}
    r = review_file(_save(tmp_path / "goal.xlsx", c))
    assert not [f for f in r.findings if f.code == "GOAL_MISMATCH"]


def test_no_goal_mismatch_between_two_equally_likely_indicators(tmp_path):
    c = _content()
    c["categories"][1] = ("产出目标（20分）", [("支持软件企业研发项目个数", "=14个", 10, "=14个", 10),
                                          ("支持软件平台建设个数", "=4个", 10, "=4个", 10)])
    c["narrative"] = {"年度绩效目标": "支持软件企业研发和平台建设9个"}
    r = review_file(_save(tmp_path / "goal.xlsx", c))
    assert not [f for f in r.findings if f.code == "GOAL_MISMATCH"]


def test_the_more_specific_name_covered_whole_is_meant(tmp_path):
    c = _content()
    c["categories"][1] = ("产出目标（20分）", [("2019年省级智能车间数量", "≥150个", 10, "=160个", 10),
                                          ("获评省级示范智能车间数量", "=131个", 10, "=131个", 10)])
    c["narrative"] = {"年度绩效目标": "获评省级示范智能车间数量53个"}
    r = review_file(_save(tmp_path / "goal.xlsx", c))
    assert [f.cell for f in r.findings if f.code == "GOAL_MISMATCH"] == [f"{form.FORM_SHEET}!D26"]


def test_seed_goal_mismatch_unchanged():
    r = review_file(SAMPLE)
    goals = [(f.code, f.cell) for f in r.findings if f.code == "GOAL_MISMATCH"]
    assert goals == [("GOAL_MISMATCH", "自评表!D110")]
    assert r.computed_total == D("77.51") and [f.code for f in r.findings].count("SCORE_MISMATCH") == 1


# ---- 6. the smaller items -------------------------------------------------------------------


def test_weight_split_remainder_on_the_first_row(tmp_path):
    r = review_file(_save(tmp_path / "split.xlsx"))  # 结果 9.34 / 9.33 / 9.33 of 28
    assert not [f for f in r.findings if f.code == "WEIGHT_SPLIT"]
    p = rules.load_profile("suzhou-2020")
    data = copy.deepcopy(p.data)
    data["settings"]["weight_split_remainder_rows"] = ["last"]
    strict = rules.Profile(p.name, p.title, data)
    found = [f.cell for f in review(read(tmp_path / "split.xlsx"), strict).findings if f.code == "WEIGHT_SPLIT"]
    assert found == [_cell("新增耕地面积", "E")]


def test_unit_scale_suspect(tmp_path):
    c = _content()
    c["categories"][2] = ("结果目标（28分）", [("新增耕地面积", "≥7000亩", 9.34, "=7403.92亩", 9.34),
                                          ("满意度", "≥95%", 9.33, "=97.2%", 9.33),
                                          ("项目完成率", "≤300万元", 9.33, "=285亿元", 9.33)])
    r = review_file(_save(tmp_path / "scale.xlsx", c))
    s = _scored(r, "项目完成率")
    assert s.score == 0 and "UNIT_SCALE_SUSPECT" in s.flags and "单位相差10000倍" in s.basis
    f = next(f for f in r.findings if f.code == "UNIT_SCALE_SUSPECT")
    assert f.cell == _cell("项目完成率", "F") and f.severity == "warning"
    _set(c, "项目完成率", 3, "=2850000元")  # a correct conversion: 285万元 is within ≤300万元
    r = review_file(_save(tmp_path / "scale2.xlsx", c))
    assert "UNIT_SCALE_SUSPECT" not in _scored(r, "项目完成率").flags and _scored(r, "项目完成率").score == D("9.33")


def test_grade_target_met_by_the_same_grade(tmp_path):
    c = _content()
    _set(c, "带动作用", 1, "较好")
    _set(c, "带动作用", 3, "较好")
    r = review_file(_save(tmp_path / "grade.xlsx", c))
    s = _scored(r, "带动作用")
    assert s.score == 3 and "目标等级“较好”，实际等级“较好”，达到目标等级" in s.basis
    p = rules.load_profile("suzhou-2020")
    data = copy.deepcopy(p.data)
    data["settings"]["grade_target_met_by_equal_grade"] = False
    assert _scored(review(r.evaluation, rules.Profile(p.name, p.title, data)), "带动作用").score == D("2.4")
    _set(c, "带动作用", 3, "一般")  # below the target grade: the grade table
    assert _scored(review_file(_save(tmp_path / "grade2.xlsx", c)), "带动作用").score == D("1.8")


# ---- 7. re-typed reviews exactly like typed plainly -------------------------------------------


def test_retyped_workbook_reviews_like_the_plain_one(tmp_path):
    c = _content(total=73.33)
    _set(c, "路面完好率", 4, 6.66)  # a SCORE_MISMATCH both must find (rule: 5.96)
    plain = review_file(_save(tmp_path / "plain.xlsx", c))

    def retype(wb):
        _typed(wb, "满意度", "F", 0.972, "0.0%")
        _typed(wb, "路面完好率", "F", 0.93, "0%")
        _typed(wb, "路面完好率", "D", 0.95, '"≥"0%')
        _typed(wb, "项目完成率", "F", "100%完成")
        _typed(wb, "项目完成率", "D", 1, "0%")
        _typed(wb, "新增耕地面积", "F", 7403.92, '0.00"亩"')
        _typed(wb, "资助家庭经济困难学生人数", "F", "实际完成12500人")
        _typed(wb, "整治村庄数量", "F", 12, '0"个"')

    retyped = review_file(_save(tmp_path / "retyped.xlsx", c, edit=retype))
    assert retyped.computed_total == plain.computed_total == D("72.63")
    assert [s.score for s in retyped.scored] == [s.score for s in plain.scored]

    def key(r):
        return [(f.code, f.severity, f.cell) for f in r.findings]

    assert key(retyped) == key(plain)
    assert key(plain) == [("SCORE_MISMATCH", "error", _cell("路面完好率", "G"))]
