"""The national 项目支出绩效自评表 (财预〔2020〕10号): the sample equals its published source, every
variant of the issue reads to the same values at the right cells, detection keeps the Suzhou and
national forms apart, the blank form and the national report.

Workbooks are written here with openpyxl (``national_sheet``) from one base table; each test
changes what its variant changes and asserts exact values and cells through ``reader.read_all``.
Reviews use the form's own profile (``--profile auto`` → national-2020).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.utils import get_column_letter, range_boundaries

from conftest import DATA, ROOT, SAMPLE, convert
from selfeval_xl import form, report
from selfeval_xl.errors import ReadError
from selfeval_xl.layout import LAYOUTS, national, suzhou
from selfeval_xl.reader import read_all
from selfeval_xl.review import review

sys.path.insert(0, str(ROOT / "tools"))
from build_national_sample import SAMPLE as NATIONAL_SAMPLE  # noqa: E402
from build_national_sample import parse_source  # noqa: E402

S = "自评表"  # sheet name of the workbooks built here


# --------------------------------------------------------------------------- the base table

def base_rows() -> tuple[list[list], list[str]]:
    """The national form, 万元, one 年度指标值 column, merged 一级/二级 cells, 总分 without grade, a 注."""
    rows = [
        ["项目支出绩效自评表"],
        ["（2023年度）"],
        ["项目名称", None, "新建野生动物收容所建设项目"],
        ["主管部门", None, "临翔区林业和草原局", None, None, "实施单位", None, "马鹿坑国有林场"],
        ["项目资金（万元）", None, "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
        [None, "年度资金总额", 30, 32.4, 31.69, 10, "97.80%", 9],
        [None, "其中：当年财政拨款", 30, 32.4, 31.69, "—", None, "—"],
        [None, "上年结转资金", None, None, None, "—", None, "—"],
        [None, "其他资金", None, None, None, "—", None, "—"],
        ["年度总体目标", "预期目标", None, None, None, "实际完成情况"],
        [None, "新建收容所1间200平方米，钢结构圈养围栏120米。", None, None, None, "完成收容所1间200平方米，围栏120米。"],
        ["绩效指标", "一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"],
        [None, "产出指标", "数量指标", "野生动物收容所", "≥200平方米", "204.46平方米", 10, 10, "无"],
        [None, None, None, "钢结构圈养围栏", "≥120米", "121.5米", 10, 10, "无"],
        [None, None, "时效指标", "项目完工时限", "2023年12月", "2023年10月", 15, 15, "无"],
        [None, None, "质量指标", "项目竣工验收率", "100%", "90%", 15, 13, "一处返工，已整改"],
        [None, "效益指标", "经济效益指标", "务工人员年人均增收", "≥8400元", "8400元", 10, 10, "无"],
        [None, None, "社会效益指标", "提供务工岗位", "≥5个", "5个", 10, 10, "无"],
        [None, None, "可持续影响指标", "项目建成后可持续影响年限", "≥15年", "15年", 10, 10, "无"],
        [None, "满意度指标", "服务对象满意度指标", "受益农户满意度", "≥90%", "95%", 10, 10, "无"],
        ["总分", None, None, None, None, None, 100, 97, None],
        ["注：偏差原因分析及改进措施一栏，未得满分的指标必须填写。"],
    ]
    merges = ["A1:I1", "A2:I2", "A3:B3", "C3:I3", "A4:B4", "C4:E4", "F4:G4", "H4:I4", "A5:A9", "H5:I5", "H6:I6",
              "H7:I7", "H8:I8", "H9:I9", "A10:A11", "B10:E10", "F10:I10", "B11:E11", "F11:I11", "A12:A20",
              "B13:B16", "C13:C14", "B17:B19", "A21:F21", "A22:I22"]
    return rows, merges


def national_sheet(path: Path, rows=None, merges=None, top: int = 0, left: int = 0, edit=None, sheet: str = S) -> Path:
    """Write ``rows`` (lists from column A; None = empty) with ``merges`` shifted by ``top``/``left``."""
    if rows is None:
        rows, base_merges = base_rows()
        merges = base_merges if merges is None else merges
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    fill(ws, rows, merges or [], top, left)
    if edit:
        edit(wb)
    wb.save(path)
    return path


def fill(ws, rows, merges, top=0, left=0) -> None:
    for r, row in enumerate(rows, 1):
        for c, v in enumerate(row, 1):
            if v is not None:
                cell = ws.cell(r + top, c + left, v)
                if isinstance(v, str):
                    cell.data_type = "s"
    for m in merges:
        c1, r1, c2, r2 = range_boundaries(m)
        ws.merge_cells(start_row=r1 + top, start_column=c1 + left, end_row=r2 + top, end_column=c2 + left)


def one(path: Path):
    forms = read_all(path)
    assert len(forms) == 1
    return forms[0]


def ref(col: str, row: int, top: int = 0, left: int = 0, sheet: str = S) -> str:
    from openpyxl.utils import column_index_from_string

    return f"{sheet}!{get_column_letter(column_index_from_string(col) + left)}{row + top}"


def table(ev) -> list[tuple]:
    return [(i.category, i.subcategory, i.name, i.target.text, i.actual.text, i.weight.number, i.self_score.number,
             i.reason.text) for i in ev.indicators]


BASE_TABLE = [
    ("产出指标", "数量指标", "野生动物收容所", "≥200平方米", "204.46平方米", 10, 10, "无"),
    ("产出指标", "数量指标", "钢结构圈养围栏", "≥120米", "121.5米", 10, 10, "无"),
    ("产出指标", "时效指标", "项目完工时限", "2023年12月", "2023年10月", 15, 15, "无"),
    ("产出指标", "质量指标", "项目竣工验收率", "100%", "90%", 15, 13, "一处返工，已整改"),
    ("效益指标", "经济效益指标", "务工人员年人均增收", "≥8400元", "8400元", 10, 10, "无"),
    ("效益指标", "社会效益指标", "提供务工岗位", "≥5个", "5个", 10, 10, "无"),
    ("效益指标", "可持续影响指标", "项目建成后可持续影响年限", "≥15年", "15年", 10, 10, "无"),
    ("满意度指标", "服务对象满意度指标", "受益农户满意度", "≥90%", "95%", 10, 10, "无"),
]


def assert_base(ev, top: int = 0, left: int = 0, indicator_rows=(13, 14, 15, 16, 17, 18, 19, 20), total_row: int = 21):
    """Every value of the base table, and where it was read."""
    R = lambda col, row: ref(col, row, top, left)  # noqa: E731
    assert ev.form == "national"
    assert (ev.project_name.text, ev.project_name.cell) == ("新建野生动物收容所建设项目", R("C", 3))
    assert (ev.department.text, ev.department.cell) == ("临翔区林业和草原局", R("C", 4))
    assert (ev.implementer.text, ev.implementer.cell) == ("马鹿坑国有林场", R("H", 4))
    assert (ev.year.text, ev.year.number, ev.year.cell) == ("2023", D(2023), R("A", 2))
    assert ev.title == "项目支出绩效自评表"
    x = ev.execution
    assert (x.unit, x.cell) == ("万元", R("A", 5))
    assert list(x.rows) == ["total", "current", "carryover", "other"]
    t = x.rows["total"]
    assert (t.label, t.cell) == ("年度资金总额", R("B", 6))
    assert (t.initial.number, t.annual.number, t.executed.number, t.points.number, t.rate.text, t.score.number) == \
        (D(30), D("32.4"), D("31.69"), D(10), "97.80%", D(9))
    assert (t.annual.cell, t.executed.cell, t.points.cell, t.rate.cell, t.score.cell) == \
        (R("D", 6), R("E", 6), R("F", 6), R("G", 6), R("H", 6))
    cur = x.rows["current"]
    assert (cur.label, cur.annual.number, cur.executed.number, cur.points.text, cur.rate.blank, cur.score.text) == \
        ("其中：当年财政拨款", D("32.4"), D("31.69"), "—", True, "—")
    assert x.rows["carryover"].annual.blank and x.rows["other"].label == "其他资金"
    assert ev.narrative["年度绩效目标"].text == "新建收容所1间200平方米，钢结构圈养围栏120米。"
    assert ev.narrative["年度绩效目标"].cell == R("B", 11)
    assert ev.narrative["年度总体目标实际完成情况"].text == "完成收容所1间200平方米，围栏120米。"
    assert ev.narrative["年度总体目标实际完成情况"].cell == R("F", 11)
    assert [(c.name, c.label, c.points, c.cell, len(c.indicators)) for c in ev.categories] == [
        ("产出指标", "产出指标", None, R("B", 13), 4), ("效益指标", "效益指标", None, R("B", 17), 3),
        ("满意度指标", "满意度指标", None, R("B", 20), 1)]
    assert table(ev) == BASE_TABLE
    assert [i.cell for i in ev.indicators] == [R("D", r) for r in indicator_rows]
    first = ev.indicators[0]
    assert (first.target.cell, first.actual.cell, first.weight.cell, first.self_score.cell, first.reason.cell) == \
        (R("E", indicator_rows[0]), R("F", indicator_rows[0]), R("G", indicator_rows[0]), R("H", indicator_rows[0]),
         R("I", indicator_rows[0]))
    assert (ev.total_points.number, ev.total_points.cell) == (D(100), R("G", total_row))
    assert (ev.stated_total.number, ev.stated_total.cell) == (D(97), R("H", total_row))
    assert ev.grade.blank
    assert ev.instructions == "注：偏差原因分析及改进措施一栏，未得满分的指标必须填写。"
    assert ev.header_row == 12 + top and ev.last_column == 9 + left
    assert ev.performance_label == "绩效指标"


# --------------------------------------------------------------------------- the sample


def test_sample_equals_source():
    """Every value of samples/义务教育营养改善计划专项资金_2022.xlsx is the published table's."""
    src = parse_source((DATA / "national_yongde_2022.txt").read_text(encoding="utf-8"))
    ev = one(NATIONAL_SAMPLE)
    sh = ev.sheet
    assert ev.form == "national" and sh == "项目支出绩效自评表"
    assert ev.title == src["title"] == "2022年度项目支出绩效自评表"
    assert (ev.year.text, ev.year.number, ev.year.cell) == ("2022", D(2022), f"{sh}!A1")
    assert ev.project_name.text == src["project_name"] == "义务教育营养改善计划专项资金"
    assert ev.department.text == src["department"] == "永德县教育体育局"
    assert ev.implementer.text == src["implementer"] == "永德县明朗中学"
    x = ev.execution
    assert x.unit == src["unit"] == "元"
    for key, (label, *vals) in src["execution"].items():
        row = x.rows[key]
        assert row.label == label
        got = [row.initial, row.annual, row.executed, row.points, row.rate, row.score]
        for v, want in zip(got, vals):
            if isinstance(want, (int, float)):
                assert v.number == D(str(want)), (key, want)
            else:
                assert v.text == (want or ""), (key, want)
    assert x.rows["total"].annual.number == D("387664.62") and x.rows["total"].rate.text == "100%"
    assert ev.narrative["年度绩效目标"].text == src["goal"][0]
    assert ev.narrative["年度总体目标实际完成情况"].text == src["goal"][1]
    want = []
    for label1, subs in src["classes"]:
        for label2, inds in subs:
            for name, (op, value, unit), actual, weight, score, reason in inds:
                if name is None and value is None:
                    continue  # the empty 生态效益指标 row: a placeholder, not an indicator
                target = {"≧": "≥", "═": "="}.get(op, op or "") + str(value) + (unit or "")
                want.append((label1, label2.replace("\n", ""), name, target, str(actual), D(weight), D(score), reason or ""))
    assert table(ev) == want
    assert len(want) == 9 and [c.name for c in ev.categories] == ["产出指标", "效益指标", "满意度指标"]
    assert ev.indicators[0].target.text == "≥735人次" and ev.indicators[0].target.cell == f"{sh}!F14"
    assert ev.indicators[3].target.text == "=100%"  # ═
    assert ev.indicators[4].subcategory == "经济效益指标"  # printed 经济效益\n指标
    assert (ev.total_points.number, ev.stated_total.number, ev.grade.text) == (D(100), D(96), "优")
    assert (ev.stated_total.cell, ev.grade.cell) == (f"{sh}!J25", f"{sh}!K25")
    assert src["total"] == (100, 96, "优")
    assert ev.narrative["其他需要说明事项"].text == src["remarks"] == "无"


def test_sample_is_what_the_build_script_writes(tmp_path):
    out = tmp_path / "s.xlsx"
    form.write_national(out, parse_source((DATA / "national_yongde_2022.txt").read_text(encoding="utf-8")))
    a, b = load_workbook(out), load_workbook(NATIONAL_SAMPLE)
    assert [[c.value for c in row] for row in a.active.iter_rows()] == [[c.value for c in row] for row in b.active.iter_rows()]
    assert sorted(map(str, a.active.merged_cells.ranges)) == sorted(map(str, b.active.merged_cells.ranges))


# --------------------------------------------------------------------------- variants


def test_base_table(tmp_path):
    assert_base(one(national_sheet(tmp_path / "base.xlsx")))


@pytest.mark.parametrize("top,left", [(0, 0), (4, 0), (0, 3), (7, 2)])
def test_form_moved(tmp_path, top, left):
    assert_base(one(national_sheet(tmp_path / "moved.xlsx", top=top, left=left)), top=top, left=left)


def test_rows_inserted_and_blank_rows_between_indicators(tmp_path):
    rows, merges = base_rows()
    # a blank line under the heading, a blank line between two classes (inside the 绩效指标 merge)
    rows = rows[:2] + [[]] + rows[2:16] + [[]] + rows[16:]
    shift = lambda m, at: m if range_boundaries(m)[1] < at else _shift(m, 1)  # noqa: E731
    merges = [shift(shift(m, 3), 17 + 1) for m in merges]
    merges = [("A13:A22" if m == "A13:A21" else m) for m in merges]
    ev = one(national_sheet(tmp_path / "ins.xlsx", rows, merges))
    assert table(ev) == BASE_TABLE
    assert [i.cell for i in ev.indicators] == [f"{S}!D{r}" for r in (14, 15, 16, 17, 19, 20, 21, 22)]
    assert ev.stated_total.cell == f"{S}!H23" and ev.execution.rows["total"].cell == f"{S}!B7"


def _shift(m: str, n: int) -> str:
    c1, r1, c2, r2 = range_boundaries(m)
    return f"{get_column_letter(c1)}{r1 + n}:{get_column_letter(c2)}{r2 + n}"


def test_unmerged_class_cells_carry_down(tmp_path):
    """一级/二级 typed once and not merged: the last one seen holds for the rows below."""
    rows, merges = base_rows()
    merges = [m for m in merges if m not in ("B13:B16", "C13:C14", "B17:B19", "A12:A20")]
    assert_base(one(national_sheet(tmp_path / "unmerged.xlsx", rows, merges)))


def test_class_on_every_row(tmp_path):
    rows, merges = base_rows()
    merges = [m for m in merges if m not in ("B13:B16", "C13:C14", "B17:B19")]
    for r in range(12, 20):
        rows[r][1] = rows[r][1] or next(x[1] for x in reversed(rows[12:r]) if x[1])
        rows[r][2] = rows[r][2] or next(x[2] for x in reversed(rows[12:r]) if x[2])
    assert_base(one(national_sheet(tmp_path / "every.xlsx", rows, merges)))


def test_class_labels_with_points_and_line_breaks(tmp_path):
    rows, merges = base_rows()
    rows[12][1] = "产出指标（40分）"
    rows[16][1] = "效益\n指标(30分)"
    rows[19][1] = "满意度 指标："
    rows[16][2] = "经济效益 指标"
    rows[17][2] = "社会效益\n指标"
    ev = one(national_sheet(tmp_path / "points.xlsx", rows, merges))
    assert [(c.name, c.label, c.points) for c in ev.categories] == [
        ("产出指标", "产出指标（40分）", D(40)), ("效益指标", "效益\n指标(30分)", D(30)), ("满意度指标", "满意度 指标：", None)]
    assert [i.subcategory for i in ev.indicators][4:6] == ["经济效益指标", "社会效益指标"]
    assert [i.kind for i in ev.indicators] == ["output"] * 4 + ["benefit"] * 3 + ["satisfaction"]


def test_split_target_columns_and_operators(tmp_path):
    """年度指标值 over 指标性质 | 指标值 | 度量单位, with every operator spelling."""
    rows, merges = base_rows()
    ops = ["≧", ">=", "≦", "<=", "═", "＞", "＜", None]
    targets = []
    new_rows = []
    for k, row in enumerate(rows):
        if k == 11:  # header: 年度指标值 over three columns, sub-headers below
            new_rows.append(row[:4] + ["年度指标值", None, None] + row[5:])
            new_rows.append([None] * 4 + ["指标性质", "指标值", "度量单位"])
        elif 12 <= k <= 19:
            op = ops[k - 12]
            value, unit = (200 + k, "平方米") if op else ("有效", None)
            targets.append((op, value, unit))
            new_rows.append(row[:4] + [op, value, unit] + row[5:])
        elif k == 20:
            new_rows.append(["总分"] + [None] * 7 + row[6:])
        else:
            new_rows.append(row)
    wide = {"C3:I3": "C3:K3", "A1:I1": "A1:K1", "A2:I2": "A2:K2", "H4:I4": "H4:K4", "F10:I10": "F10:K10",
            "F11:I11": "F11:K11", "A22:I22": "A22:K22"}
    merges = [wide.get(m, m) for m in merges if m not in ("A12:A20", "B13:B16", "C13:C14", "B17:B19", "A21:F21", "A22:I22")]
    merges += ["E12:G12", "A12:A21", "B12:B13", "C12:C13", "D12:D13", "H12:H13", "I12:I13", "J12:J13", "K12:K13",
               "B14:B17", "C14:C15", "B18:B20", "A22:H22", "A23:K23"]
    ev = one(national_sheet(tmp_path / "split.xlsx", new_rows, merges))
    canon = {"≧": "≥", ">=": "≥", "≦": "≤", "<=": "≤", "═": "=", "＞": ">", "＜": "<", None: ""}
    assert [i.target.text for i in ev.indicators] == [f"{canon[op]}{v}{u or ''}" for op, v, u in targets]
    assert ev.indicators[0].target.text == "≥212平方米" and ev.indicators[-1].target.text == "有效"
    assert [i.target.cell for i in ev.indicators] == [f"{S}!F{r}" for r in range(14, 22)]
    assert [i.actual.cell for i in ev.indicators][:2] == [f"{S}!H14", f"{S}!H15"]
    assert [i.self_score.number for i in ev.indicators] == [D(10), D(10), D(15), D(13), D(10), D(10), D(10), D(10)]
    assert ev.header_row == 12 and ev.last_column == 11
    assert (ev.stated_total.cell, ev.stated_total.number) == (f"{S}!J22", D(97))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(["≥", "≧", ">=", "＞", ">", "≤", "≦", "<=", "＜", "<", "=", "═", "＝"]),
       value=st.one_of(st.integers(0, 10**6), st.decimals(min_value=0, max_value=10**4, places=2).map(str)),
       unit=st.sampled_from(["人次", "%", "元", "个", "", "平方米"]))  # 万元 would be scaled to 元
def test_split_target_join_is_total(tmp_path, op, value, unit):
    """Any operator spelling, number and unit joins to one target that values.parse reads back."""
    from selfeval_xl import values

    from selfeval_xl.grids import Grid

    g = Grid("s", {(1, 1): op, (1, 2): value, (1, 3): unit} if unit else {(1, 1): op, (1, 2): value})
    s = national.NationalLabelGrid(g)
    v = national.read_target(s, 1, {"target": 2}, {"op": 1, "value": 2, "unit": 3}, "f")
    m = values.parse(v.text)
    canon = values.OP_SYMBOLS[__import__("unicodedata").normalize("NFKC", op)]
    assert v.text.startswith(canon) and v.cell == "s!B1"
    assert m.kind == "quantity" and m.value == D(str(value)) and m.op == {"＝": "="}.get(op, canon)


def test_other_headings_and_score_before_target(tmp_path):
    """分值 before 年度指标值; 全年实际值, 未完成原因分析, 全年预算数（A）, 全年执行数（B）, 执行率（B/A）."""
    rows, merges = base_rows()
    rows[4] = ["项目资金（万元）", None, "年初预算数", "全年预算数（A）", "全年执行数（B）", "分值", "执行率（B/A）", "得分"]
    rows[11] = ["绩效指标", "一级指标", "二级指标", "三级指标", "分值", "年度指标值（A）", "全年实际值（B）", "得分", "未完成原因分析"]
    for r in range(12, 20):
        target, actual, weight = rows[r][4], rows[r][5], rows[r][6]
        rows[r][4:7] = [weight, target, actual]
    rows[20] = ["总分", None, None, None, 100, None, None, 97]
    merges = [("A21:D21" if m == "A21:F21" else m) for m in merges]
    ev = one(national_sheet(tmp_path / "order.xlsx", rows, merges))
    assert table(ev) == BASE_TABLE
    i = ev.indicators[0]
    assert (i.weight.cell, i.target.cell, i.actual.cell, i.self_score.cell, i.reason.cell) == \
        (f"{S}!E13", f"{S}!F13", f"{S}!G13", f"{S}!H13", f"{S}!I13")
    t = ev.execution.rows["total"]
    assert (t.annual.number, t.executed.number, t.rate.text) == (D("32.4"), D("31.69"), "97.80%")
    assert (ev.total_points.cell, ev.total_points.number, ev.stated_total.number) == (f"{S}!E21", D(100), D(97))


def test_amounts_in_yuan_with_thousands_separators(tmp_path):
    rows, merges = base_rows()
    rows[4][0] = "项目资金\n（元）"
    rows[5][2:5] = ["300,000.00", "324,000.00", "316,900.50"]
    rows[6][2:5] = ["300,000.00", "324,000", 316900.5]
    ev = one(national_sheet(tmp_path / "yuan.xlsx", rows, merges))
    t, cur = ev.execution.rows["total"], ev.execution.rows["current"]
    assert ev.execution.unit == "元"
    assert (t.initial.number, t.annual.number, t.executed.number) == (D("300000.00"), D("324000.00"), D("316900.50"))
    assert (cur.annual.number, cur.executed.number) == (D(324000), D("316900.5"))
    assert t.annual.text == "324,000.00"  # as printed


def test_unit_in_column_header(tmp_path):
    rows, merges = base_rows()
    rows[4] = ["项目资金", None, "年初预算数（元）", "全年预算数（元）", "全年执行数（元）", "分值", "执行率", "得分"]
    ev = one(national_sheet(tmp_path / "yuan2.xlsx", rows, merges))
    assert ev.execution.unit == "元" and ev.execution.rows["total"].annual.number == D("32.4")


def test_placeholder_rows_are_not_indicators(tmp_path):
    rows, merges = base_rows()
    extra = [
        [None, None, "成本指标", "指标1：", None, None, None, None, None],
        [None, None, None, "指标2：", "/", "/", None, None, "/"],
        [None, None, None, "……", None, None, None, None, None],
        [None, None, None, "/", None, None, None, None, None],
        [None, None, None, None, None, None, None, None, None],
        [None, None, None, "指标3：项目总成本", "≤32.4万元", "31.69万元", 5, 5, None],
    ]
    rows = rows[:16] + extra + rows[16:]
    merges = [m if range_boundaries(m)[1] < 17 else _shift(m, len(extra)) for m in merges]
    merges = [{"A12:A20": "A12:A26", "B13:B16": "B13:B22"}.get(m, m) for m in merges]
    ev = one(national_sheet(tmp_path / "ph.xlsx", rows, merges))
    names = [i.name for i in ev.indicators]
    assert names == [r[2] for r in BASE_TABLE[:4]] + ["项目总成本"] + [r[2] for r in BASE_TABLE[4:]]
    cost = ev.indicators[4]
    assert (cost.subcategory, cost.target.text, cost.weight.number, cost.cell) == ("成本指标", "≤32.4万元", D(5), f"{S}!D22")
    assert len(ev.categories[0].indicators) == 5


def test_a_row_with_values_but_no_name_is_kept(tmp_path):
    rows, merges = base_rows()
    rows[13][3] = "指标2："
    ev = one(national_sheet(tmp_path / "noname.xlsx", rows, merges))
    assert ev.indicators[1].name == national.UNNAMED and ev.indicators[1].target.text == "≥120米"


def test_colon_labels_and_this_year_appropriation(tmp_path):
    rows, merges = base_rows()
    rows[5][1] = "年度资金总额："
    rows[6][1] = "其中：本年财政拨款"
    rows[7][1] = "上年结转资金:"
    rows[2][0] = "项目名称："
    rows[3][0], rows[3][5] = "主管部门:", "实施单位："
    ev = one(national_sheet(tmp_path / "colon.xlsx", rows, merges))
    assert list(ev.execution.rows) == ["total", "current", "carryover", "other"]
    assert ev.execution.rows["current"].label == "其中：本年财政拨款"
    assert ev.execution.rows["current"].annual.number == D("32.4")
    assert ev.project_name.text == "新建野生动物收容所建设项目" and ev.implementer.text == "马鹿坑国有林场"


def test_total_row_left_at_zero_is_scored_from_the_rows_under_it(tmp_path):
    """Typed as a published Anhui (Chizhou, 2022) table: 年度资金总额: 0 0 0 10 0 0 with the money
    only in 其中:本年财政拨款 (90 / 89.974 / 89.974) and the 得分 0 — the rate comes from the sub-rows."""
    rows, merges = base_rows()
    rows[5][1:8] = ["年度资金总额:", 0, 0, 0, 10, 0, 0]
    rows[6][1:5] = ["其中:本年财政拨款", 90, 89.974, 89.974]
    rows[20][7] = 88  # 总分 as the department added it: 0 + 88
    r = review(one(national_sheet(tmp_path / "zero_total.xlsx", rows, merges)))
    assert (r.execution_self, r.execution_score) == (D(0), D(10))
    assert r.execution_basis.startswith("年度资金总额为0，按其中各项之和：执行率100%（全年执行数89.97万元÷全年预算数89.97万元）")
    found = {(f.code, f.cell) for f in r.findings}
    assert {("BUDGET_SCORE_MISMATCH", f"{S}!H6"), ("MISSING_VALUE", f"{S}!D6"), ("BUDGET_ROWS_SUM", f"{S}!C6"),
            ("BUDGET_ROWS_SUM", f"{S}!D6"), ("BUDGET_ROWS_SUM", f"{S}!E6")} <= found
    assert r.computed_total == D("98.5")  # 10 + the indicators by rule (项目竣工验收率 90 % of 15 = 13.5)


@pytest.mark.parametrize("grade_cells,expected,cell", [
    ({9: "优"}, "优", "I21"),
    ({9: "等级：良"}, "良", "I21"),
    ({9: "自评等级", 10: "中"}, "中", "J21"),
    ({}, "", ""),
])
def test_total_with_and_without_grade(tmp_path, grade_cells, expected, cell):
    rows, merges = base_rows()
    for c, v in grade_cells.items():
        rows[20] += [None] * (c - len(rows[20]))
        rows[20][c - 1] = v
    ev = one(national_sheet(tmp_path / "grade.xlsx", rows, merges))
    assert ev.grade.text == expected
    assert ev.grade.cell == (f"{S}!{cell}" if cell else "")
    assert ev.stated_total.number == D(97) and ev.total_points.number == D(100)


def test_rate_blank_while_score_filled(tmp_path):
    rows, merges = base_rows()
    rows[5][6] = None
    ev = one(national_sheet(tmp_path / "rate.xlsx", rows, merges))
    t = ev.execution.rows["total"]
    assert t.rate.blank and t.rate.cell == f"{S}!G6" and t.score.number == D(9)


def test_trailer_sections_and_second_form_below(tmp_path):
    rows, merges = base_rows()
    rows = rows[:20] + [["其他需要说明事项", None, None, "项目已竣工验收。"]] + rows[20:] + [
        ["评价结论", None, None, "良好"], ["存在问题", None, None, "施工期偏长"], ["改进措施", None, None, "加强进度管理"],
        [], ["项目支出绩效自评表"], ["项目名称", None, "另一个项目"]]
    merges = [m if range_boundaries(m)[1] < 21 else _shift(m, 1) for m in merges]
    ev = one(national_sheet(tmp_path / "trailer.xlsx", rows, merges))
    assert table(ev) == BASE_TABLE and ev.project_name.text == "新建野生动物收容所建设项目"
    assert {h: ev.narrative[h].text for h in ("其他需要说明事项", "评价结论", "存在问题", "改进措施")} == {
        "其他需要说明事项": "项目已竣工验收。", "评价结论": "良好", "存在问题": "施工期偏长", "改进措施": "加强进度管理"}
    assert ev.narrative["改进措施"].cell == f"{S}!D26"
    assert ev.stated_total.cell == f"{S}!H22"


def test_header_repeated_over_a_page_break(tmp_path):
    rows, merges = base_rows()
    rows = rows[:16] + [rows[11][:]] + rows[16:]
    rows[16][0] = None
    merges = [m if range_boundaries(m)[1] < 17 else _shift(m, 1) for m in merges]
    merges = [{"A12:A20": "A12:A21"}.get(m, m) for m in merges]
    ev = one(national_sheet(tmp_path / "rep.xlsx", rows, merges))
    assert table(ev) == BASE_TABLE


def test_missing_project_name_and_no_indicators(tmp_path):
    rows, merges = base_rows()
    rows[2][2] = None
    with pytest.raises(ReadError) as e:
        one(national_sheet(tmp_path / "noname.xlsx", rows, merges))
    assert e.value.code == "MISSING_FIELD" and e.value.cell == f"{S}!C3"
    rows, merges = base_rows()
    for r in range(12, 20):
        rows[r][3:] = [None] * 6
    with pytest.raises(ReadError) as e:
        one(national_sheet(tmp_path / "empty.xlsx", rows, merges))
    assert e.value.code == "NOT_SELF_EVALUATION_FORM" and "没有任何指标" in e.value.message


def test_formula_without_cached_value_is_a_notice(tmp_path):
    def edit(wb):
        wb.active["H21"] = "=SUM(H13:H20)"

    ev = one(national_sheet(tmp_path / "f.xlsx", edit=edit))
    assert [(f.code, f.cell) for f in ev.notices] == [("FORMULA_NO_VALUE", f"{S}!H21")]
    assert ev.stated_total.blank


@pytest.mark.office
@pytest.mark.parametrize("ext", ["xls", "ods"])
def test_other_formats(tmp_path, ext):
    """The base table saved as .xls and .ods by LibreOffice reads the same."""
    src = national_sheet(tmp_path / "base.xlsx")
    out = convert(src, ext, tmp_path)
    ev = one(out)
    assert table(ev) == BASE_TABLE and ev.execution.rows["total"].executed.number == D("31.69")


# --------------------------------------------------------------------------- detection


def test_layouts_are_registered_national_first():
    assert [m.NAME for m in LAYOUTS] == ["national", "suzhou"]
    assert national.DEFAULT_PROFILE == "national-2020" and national.TITLE == "项目支出绩效自评表（财预〔2020〕10号）"


def test_detection_keeps_the_forms_apart(tmp_path):
    from selfeval_xl.grids import load_grids

    nat = load_grids(national_sheet(tmp_path / "n.xlsx"))[0]
    sz = load_grids(SAMPLE)[0]
    assert national.detect(nat) and not suzhou.detect(nat)
    assert suzhou.detect(sz) and not national.detect(sz)
    assert national.detect(load_grids(NATIONAL_SAMPLE)[0]) and not suzhou.detect(load_grids(NATIONAL_SAMPLE)[0])


def test_mixed_folder_each_read_as_its_own_form(tmp_path):
    box = tmp_path / "box"
    box.mkdir()
    shutil.copy2(SAMPLE, box / SAMPLE.name)
    shutil.copy2(NATIONAL_SAMPLE, box / NATIONAL_SAMPLE.name)
    national_sheet(box / "临翔.xlsx")
    got = {p.name: [e.form for e in read_all(p)] for p in sorted(box.iterdir())}
    assert got == {SAMPLE.name: ["suzhou"], NATIONAL_SAMPLE.name: ["national"], "临翔.xlsx": ["national"]}
    sz = read_all(box / SAMPLE.name)[0]
    assert len(sz.indicators) == 92 and sz.stated_total.number == D("77.38")  # Suzhou reading unchanged


def test_one_workbook_with_both_forms(tmp_path, seed):
    wb = form.build(seed)
    ws = wb.create_sheet("全国表")
    rows, merges = base_rows()
    fill(ws, rows, merges)
    path = tmp_path / "both.xlsx"
    wb.save(path)
    forms = read_all(path)
    assert [(e.form, e.sheet) for e in forms] == [("suzhou", "自评表"), ("national", "全国表")]
    assert forms[1].indicators[0].cell == "全国表!D13"


def test_neither_form_names_the_forms_tried(tmp_path):
    wb = Workbook()
    wb.active["A1"] = "一级指标"
    wb.active["B1"] = "金额"
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(ReadError) as e:
        read_all(tmp_path / "x.xlsx")
    assert e.value.code == "NOT_SELF_EVALUATION_FORM"
    assert "《项目支出绩效自评表（财预〔2020〕10号）》" in e.value.message and "《苏州市级财政支出项目绩效自评表》" in e.value.message


# --------------------------------------------------------------------------- the blank form


def test_committed_national_template_matches_code(tmp_path):
    from test_package import _snapshot

    generated = tmp_path / "gen.xlsx"
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "template", "--form", "national", "-o", str(generated)],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "已生成空白自评表" in out.stdout.decode("utf-8")
    assert _snapshot(ROOT / "templates" / "项目支出绩效自评表模板.xlsx") == _snapshot(generated)


def test_blank_national_form_reads_as_national_without_indicators(tmp_path):
    from selfeval_xl.grids import load_grids

    grid = load_grids(ROOT / "templates" / "项目支出绩效自评表模板.xlsx")[0]
    assert national.detect(grid) and not suzhou.detect(grid)
    with pytest.raises(ReadError) as e:
        read_all(ROOT / "templates" / "项目支出绩效自评表模板.xlsx")
    assert e.value.code == "MISSING_FIELD"  # 项目名称 not filled
    wb = load_workbook(ROOT / "templates" / "项目支出绩效自评表模板.xlsx")
    texts = [c.value for row in wb.active.iter_rows() for c in row if isinstance(c.value, str)]
    for label in ("项目支出绩效自评表", "项目名称", "主管部门", "实施单位", "项目资金（万元）", *form.EXECUTION_HEADER,
                  "年度资金总额", "其中：当年财政拨款", "上年结转资金", "其他资金", "年度总体目标", "预期目标", "实际完成情况",
                  "绩效指标", *form.NATIONAL_HEADER, "产出指标", "数量指标", "质量指标", "时效指标", "成本指标", "效益指标",
                  "经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标", "满意度指标", "服务对象满意度指标", "总分",
                  "指标1：", "……"):
        assert label in texts, label


def test_filled_blank_form_reads_back(tmp_path):
    content = {"project_name": "测试项目", "department": "某局", "implementer": "某中心", "year_line": "（2024年度）",
               "classes": [("产出指标（50分）", [("数量指标", [("培训人次", "≥100人次", "120人次", 50, 50, None)])]),
                           ("满意度指标（40分）", [("服务对象满意度指标", [("满意度", "≥90%", "85%", 40, 36, "宣传不足")])])],
               "total": (100, 96, "优")}
    path = tmp_path / "filled.xlsx"
    form.write_national(path, content)
    ev = one(path)
    assert (ev.year.text, ev.project_name.text, ev.implementer.text) == ("2024", "测试项目", "某中心")
    assert table(ev) == [("产出指标", "数量指标", "培训人次", "≥100人次", "120人次", D(50), D(50), ""),
                         ("满意度指标", "服务对象满意度指标", "满意度", "≥90%", "85%", D(40), D(36), "宣传不足")]
    assert [c.points for c in ev.categories] == [D(50), D(40)]
    assert (ev.stated_total.number, ev.grade.text, ev.execution.rows["total"].points.number) == (D(96), "优", D(10))


# --------------------------------------------------------------------------- the report


def test_committed_national_report_template_matches_generator(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_report_template", ROOT / "tools" / "make_report_template.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    generated = tmp_path / "gen.docx"
    mod.build_national().save(generated)
    committed = zipfile.ZipFile(ROOT / "templates" / report.NATIONAL_TEMPLATE_NAME)
    fresh = zipfile.ZipFile(generated)
    assert sorted(committed.namelist()) == sorted(fresh.namelist())
    for name in fresh.namelist():
        if name.endswith(".xml") or name.endswith(".rels"):
            assert committed.read(name) == fresh.read(name), f"{name}: run python tools/make_report_template.py"


NATIONAL_HEADINGS = ["一、项目基本情况", "（一）项目资金", "（二）年度总体目标", "二、绩效目标实现情况", "（一）各类指标得分",
                     "（二）各项指标完成情况", "三、偏差及原因", "四、改进措施"]
SUZHOU_ONLY = ["二、预算执行及资金使用", "市级预算执行情况", "项目资金构成", "五、项目管理成效", "六、存在的问题及原因", "七、改进建议"]


@pytest.fixture(scope="module")
def national_docx(tmp_path_factory) -> tuple[Path, object]:
    d = tmp_path_factory.mktemp("nrep")
    r = review(one(NATIONAL_SAMPLE))
    return report.render_report(r, d / report.report_name(NATIONAL_SAMPLE)), r


def test_national_report_sections(national_docx):
    from docx import Document

    path, r = national_docx
    doc = Document(path)
    texts = [p.text for p in doc.paragraphs if p.text.strip()]
    assert texts[:3] == ["义务教育营养改善计划专项资金", "2022年度项目支出绩效自评报告", "主管部门：永德县教育体育局　实施单位：永德县明朗中学"]
    pos = [texts.index(h) for h in NATIONAL_HEADINGS]
    assert pos == sorted(pos)
    assert not any(h in t for t in texts for h in SUZHOU_ONLY)
    assert texts.index("附件") > pos[-1]
    body = "\n".join(texts)
    assert "全年预算数387664.62元，全年执行数387664.62元，预算执行率100%；预算执行率分值10分，自评得分10分" in body
    assert "自评总分96分，自评等级“优”。" in body
    dev = texts[texts.index("三、偏差及原因") + 1:texts.index("四、改进措施")]
    assert dev[0] == "2项指标未得满分或填写了偏差原因，其中2项未填写偏差原因分析及改进措施。"
    assert dev[1].startswith("1. 资金到位及时率（产出指标／时效指标）：年度指标值≥100%，实际完成值100%；分值10分，自评得分7分")
    assert dev[2].startswith("2. 政策知晓率（效益指标／社会效益指标）")
    assert texts[texts.index("四、改进措施") + 1] == "其他需要说明事项：无。"
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    assert tables[0][1] == ["年度资金总额", "", "387664.62", "387664.62", "10", "100%", "10"]
    # the department's report (issue 17): its own scores only; the bureau's are in the 复核意见书
    assert tables[1][0] == ["类别", "分值", "指标个数", "分值合计", "自评得分"]
    assert tables[1][1][:5] == ["预算执行率", "10", "", "10", "10"]
    assert tables[1][-1][:5] == ["总分", "100", "9", "100", "96"]
    assert tables[2][1] == ["产出指标", "数量指标", "学生受资助人数", "≥735人次", "735", "10", "10"]
    assert len(tables[2]) == 10 and tables[2][-1][2] == "家长满意度"
    # national-2020: 资金到位及时率 100 % of ≥100 % earns 10 (self 7), 政策知晓率 98 % of 100 % earns 9.8 (self 9)
    sheet = "项目支出绩效自评表"
    assert [row[2] for row in tables[3]][1:] == [f"{sheet}!{c}" for c in ("J16", "J19", "K16", "K19", "B14")]
    assert (r.profile, r.self_total, r.computed_total, r.grade) == ("national-2020", 96, D("99.80"), "优")


def test_national_report_grade_is_the_departments(national_docx, tmp_path):
    """The department's report names its own 等级 and the grade its own total earns; never the
    bureau's re-scored total or grade (those are in the 复核意见书) nor a profile's code name."""
    import dataclasses

    from docx import Document

    _, r = national_docx
    body = "\n".join(p.text for p in Document(national_docx[0]).paragraphs)
    assert "自评总分96分，自评等级“优”。" in body
    assert "复核得分" not in body and "national-2020" not in body and "99.8" not in body
    # a printed grade that the total does not earn: the report says which grade the bands give
    ev = dataclasses.replace(r.evaluation, grade=dataclasses.replace(r.evaluation.grade, text="良"))
    out = report.render_report(dataclasses.replace(r, evaluation=ev), tmp_path / "g.docx")
    body = "\n".join(p.text for p in Document(out).paragraphs)
    assert "自评等级“良”（按" in body and "该分数对应等级为“优”）" in body


def test_suzhou_context_has_no_national_part():
    ctx = report.build_context(review(one(SAMPLE)))
    assert "national" not in ctx
    assert "subcategory" not in ctx["categories"][0]["indicators"][0]


@pytest.mark.office
def test_national_report_pdf_has_the_headings(national_docx, tmp_path):
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext not installed")
    path, _ = national_docx
    pdf = convert(path, "pdf", tmp_path)
    text = subprocess.run([exe, "-layout", str(pdf), "-"], capture_output=True, timeout=60).stdout.decode("utf-8")
    flat = "".join(text.split())
    for h in NATIONAL_HEADINGS + ["附件", "自查提示", "2022年度项目支出绩效自评报告", "学生受资助人数"]:
        assert h in flat, h


def test_sichuan_shaped_table(tmp_path):
    """The 四川 部门预算项目支出绩效自评表 shape: 预算执行情况（10分） with 年初预算 | 调整后预算数 | 预算执行数 |
    预算执行率 | 权重 | 得分 and rows 总额 / 其中:财政资金 / 财政专户管理资金 / 单位资金 / 其他资金, the goals above it
    (项目基本情况 | 项目年度目标 | 年度目标完成情况), 绩效指标（90分） with 指标性质 | 指标值 | 度量单位 on the header row,
    完成值 | 权重 | 得分 | 未完成原因分析, 合计, then 评价结论 / 存在问题 / 改进措施 and the signatures."""
    rows = [
        ["部门预算项目支出绩效自评表(2023年度)"],
        ["项目名称", "51092324T0000-全县安可替代补助资金项目"],
        ["主管部门", "大英县司法局部门", None, None, None, None, "实施单位 (盖章)", "大英县司法局"],
        ["项目基本情况", "1.项目年度目标完成情况", "项目年度目标", None, None, None, "年度目标完成情况"],
        [None, None, "根据要求购买安可设备,并完成项目资金支付。", None, None, None, "完成"],
        ["预算执行情况(10分)", "年度预算数(万元)", "年初预算", "调整后预算数", "预算执行数", "预算执行率", "权重", "得分", "原因"],
        [None, "总额", "0.00", "3.36", "3.36", "100.00%", 10, 10, "1.预算执行率=预算执行数/调整后预算数"],
        [None, "其中:财政资金", "0.00", "3.36", "3.36", "100.00%", "/", "/"],
        [None, "财政专户管理资金", "0.00", "0.00", "0.00", "0.00%", "/", "/"],
        [None, "单位资金", "0.00", "0.00", "0.00", "0.00%", "/", "/"],
        [None, "其他资金", None, None, None, None, "/", "/"],
        ["绩效指标(90分)", "一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "完成值", "权重", "得分", "未完成原因分析"],
        [None, "产出指标", "质量指标", "完成安可产品购买并按要求支付资金", "=", 100, "%", "100%", 45, 45],
        [None, None, "数量指标", "购买安可电脑", "≥", 13, "台", "13台", 45, 45],
        ["合计", None, None, None, None, None, None, None, 100, 100],
        ["评价结论", "按要求购买设备并完成资金支付。"],
        ["存在问题", "无"],
        ["改进措施", "无"],
        ["项目负责人:查小兵", None, None, None, None, None, "财务负责人:唐勇"],
    ]
    merges = ["A1:K1", "B2:K2", "B3:F3", "H3:K3", "A4:A5", "C4:F4", "G4:K4", "C5:F5", "G5:K5", "A6:A11", "I7:K7",
              "A12:A14", "B13:B14", "A15:H15", "B16:K16", "B17:K17", "B18:K18"]
    ev = one(national_sheet(tmp_path / "sc.xlsx", rows, merges))
    assert (ev.year.text, ev.project_name.text, ev.implementer.text) == ("2023", "51092324T0000-全县安可替代补助资金项目", "大英县司法局")
    assert ev.performance_points == D(90)
    x = ev.execution
    assert (x.unit, x.cell, list(x.rows)) == ("万元", f"{S}!A6", ["total", "current", "other"])
    t = x.rows["total"]
    assert (t.initial.number, t.annual.number, t.executed.number, t.rate.text, t.points.number, t.score.number) == \
        (D("0.00"), D("3.36"), D("3.36"), "100.00%", D(10), D(10))
    assert x.rows["current"].label == "其中:财政资金" and x.rows["current"].points.text == "/"
    assert ev.narrative["年度绩效目标"].text == "根据要求购买安可设备,并完成项目资金支付。"
    assert ev.narrative["年度总体目标实际完成情况"].text == "完成"
    assert table(ev) == [("产出指标", "质量指标", "完成安可产品购买并按要求支付资金", "=100%", "100%", D(45), D(45), ""),
                         ("产出指标", "数量指标", "购买安可电脑", "≥13台", "13台", D(45), D(45), "")]
    assert [i.target.cell for i in ev.indicators] == [f"{S}!F13", f"{S}!F14"]
    assert (ev.total_points.number, ev.total_points.cell, ev.stated_total.number, ev.stated_total.cell) == \
        (D(100), f"{S}!I15", D(100), f"{S}!J15")
    assert {h: ev.narrative[h].text for h in ("评价结论", "存在问题", "改进措施")} == {
        "评价结论": "按要求购买设备并完成资金支付。", "存在问题": "无", "改进措施": "无"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(top=st.integers(0, 30), left=st.integers(0, 8), unmerge=st.booleans(), blank_after=st.sets(st.integers(13, 19)))
def test_drift_reads_the_same(tmp_path_factory, top, left, unmerge, blank_after):
    """Anywhere on the sheet, class cells merged or not, blank lines between indicator rows: same table."""
    rows, merges = base_rows()
    if unmerge:
        merges = [m for m in merges if m not in ("B13:B16", "C13:C14", "B17:B19", "A12:A20")]
    out, new_merges = [], []
    row_of = {}
    for k, row in enumerate(rows, 1):
        out.append(row)
        row_of[k] = len(out)
        if k in blank_after:
            out.append([])
    for m in merges:
        c1, r1, c2, r2 = range_boundaries(m)
        new_merges.append(f"{get_column_letter(c1)}{row_of[r1]}:{get_column_letter(c2)}{row_of[r2]}")
    path = tmp_path_factory.mktemp("drift") / "d.xlsx"
    ev = one(national_sheet(path, out, new_merges, top=top, left=left))
    assert table(ev) == BASE_TABLE
    assert [i.cell for i in ev.indicators] == [ref("D", row_of[r], top, left) for r in range(13, 21)]
    assert ev.stated_total.cell == ref("H", row_of[21], top, left) and ev.stated_total.number == D(97)
    assert ev.execution.rows["total"].executed.cell == ref("E", 6, top, left)


def test_mixed_folder_in_one_run(tmp_path):
    """``run`` over a folder with a Suzhou and a national workbook: each read as its form and reported
    with its own template and scored by its own profile (auto)."""
    import json

    from docx import Document

    from selfeval_xl import cli

    box, out = tmp_path / "in", tmp_path / "out"
    box.mkdir()
    shutil.copy2(SAMPLE, box / SAMPLE.name)
    shutil.copy2(NATIONAL_SAMPLE, box / NATIONAL_SAMPLE.name)
    assert cli.main(["run", str(box), "-o", str(out), "-j", "1", "-q"]) == 0
    runs = {f["input"]: f for f in json.loads((out / "run.json").read_text(encoding="utf-8"))["files"]}
    assert {k: v["status"] for k, v in runs.items()} == {SAMPLE.name: "ok", NATIONAL_SAMPLE.name: "ok"}
    assert runs[NATIONAL_SAMPLE.name]["totals"] == {"stated": 96, "self": 96, "computed": 99.8}
    # each file names the profile it was scored by, its 等级 where the form has one, and what it was
    assert [(runs[n]["profile"], runs[n].get("grade"), runs[n]["kind"]) for n in (NATIONAL_SAMPLE.name, SAMPLE.name)] == [
        ("national-2020", "优", "workbook"), ("suzhou-2020", None, "workbook")]
    assert runs[SAMPLE.name]["totals"] == {"stated": 77.38, "self": 77.38, "computed": 77.51}
    assert runs[NATIONAL_SAMPLE.name]["project"] == {"name": "义务教育营养改善计划专项资金", "department": "永德县教育体育局",
                                                     "year": 2022}

    def headings(name: str) -> list[str]:
        return [p.text for p in Document(out / report.report_name(name)).paragraphs if p.style.style_id == "Heading1"]

    assert headings(NATIONAL_SAMPLE.name) == ["一、项目基本情况", "二、绩效目标实现情况", "三、偏差及原因", "四、改进措施"]
    assert headings(SAMPLE.name)[-1] == "七、改进建议"
    reviewed = load_workbook(out / (NATIONAL_SAMPLE.stem + ".复核.xlsx"))
    assert "复核结果" in reviewed.sheetnames


NASTY = [None, "", " ", "总分", "合计", "注：见说明", "指标1：", "……", "/", "—", "产出指标", "效益指标（30分）", "一级指标",
         "三级指标", "年度指标值", "项目名称", "其他需要说明事项", "优", "等级", "≧", "=SUM(A1)", "（元）", "项目资金（元）",
         "2023年度", 0, -5, 12.5, 1e308, "1,234.5", "１２３", "≥", "百分之百", "\u202e反向", "x" * 500]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(1, 24), st.integers(1, 12), st.sampled_from(NASTY)), min_size=1, max_size=6))
def test_edited_cells_read_or_fail_cleanly(tmp_path_factory, edits):
    """Any typed cell anywhere on the form: a SelfEvaluation that reviews and reports, or a ReadError."""
    rows, merges = base_rows()
    rows = [list(r) + [None] * (12 - len(r)) for r in rows] + [[None] * 12 for _ in range(2)]

    def edit(wb):
        ws = wb.active
        for r, c, v in edits:
            cell = ws.cell(r, c)
            if type(cell).__name__ == "MergedCell":
                continue
            cell.value = v
            if isinstance(v, str):
                cell.data_type = "s"

    path = tmp_path_factory.mktemp("edit") / "e.xlsx"
    national_sheet(path, rows, merges, edit=edit)
    try:
        forms = read_all(path)
    except ReadError as err:
        assert err.code in ("MISSING_FIELD", "NOT_SELF_EVALUATION_FORM") and err.message
        return
    for ev in forms:
        r = review(ev)
        ctx = report.build_context(r)
        assert ctx["project"]["name"]
        if ev.form == "national":
            assert ctx["national"]["execution"]["sentence"].endswith("。")


def test_goal_text_feeds_goal_mismatch(tmp_path):
    """预期目标 is narrative["年度绩效目标"], so the existing GOAL_MISMATCH check compares it with the table."""
    rows, merges = base_rows()
    rows[10][1] = "新建收容所1间；钢结构圈养围栏150米。"
    ev = one(national_sheet(tmp_path / "goal.xlsx", rows, merges))
    found = [(f.code, f.cell) for f in review(ev).findings if f.code == "GOAL_MISMATCH"]
    assert found == [("GOAL_MISMATCH", f"{S}!E14")]
    assert [f for f in review(one(national_sheet(tmp_path / "base.xlsx"))).findings
            if f.code == "GOAL_MISMATCH"] == []


def test_indicator_names_that_look_like_trailer_labels(tmp_path):
    rows, merges = base_rows()
    rows[13][3] = "存在问题整改率"
    rows[14][3] = "改进措施落实率"
    rows[15][3] = "注册用户数"
    ev = one(national_sheet(tmp_path / "names.xlsx", rows, merges))
    assert [i.name for i in ev.indicators][1:4] == ["存在问题整改率", "改进措施落实率", "注册用户数"]
    assert len(ev.indicators) == 8 and ev.stated_total.number == D(97)


def test_total_label_on_the_header_row_merged_down(tmp_path):
    """项目资金（万元） | 年度资金总额 (merged over two rows) | 年初预算数 | 调整预算数（A） | 全年执行数（B） | 执行率（B/A）,
    the amounts on the row below (as the 银川 form prints it)."""
    rows, merges = base_rows()
    rows[4] = ["项目资金（万元）", "年度资金总额", "年初预算数", "调整预算数（A）", "全年执行数（B）", "分值", "执行率（B/A）", "得分"]
    rows[5][1] = None
    merges = merges + ["B5:B6"]
    ev = one(national_sheet(tmp_path / "yc.xlsx", rows, merges))
    t = ev.execution.rows["total"]
    assert (t.label, t.cell, t.annual.number, t.executed.number, t.annual.cell) == \
        ("年度资金总额", f"{S}!B5", D("32.4"), D("31.69"), f"{S}!D6")
    assert list(ev.execution.rows) == ["total", "current", "carryover", "other"]


def test_header_labels_spaced_out(tmp_path):
    """Headers typed with spaces for justification (一 级 指 标, 三　级　指　标) are the same headers."""
    rows, merges = base_rows()
    rows[11][1:4] = ["一 级 指 标", "二级\n指标", "三　级　指　标"]
    rows[11][8] = "偏差原因分析\n及改进措施"
    ev = one(national_sheet(tmp_path / "spaced.xlsx", rows, merges))
    assert table(ev) == BASE_TABLE


def test_class_from_the_subclass_when_the_first_class_cell_is_empty(tmp_path):
    rows, merges = base_rows()
    merges = [m for m in merges if m != "B13:B16"]
    rows[12][1] = None
    ev = one(national_sheet(tmp_path / "no1.xlsx", rows, merges))
    assert table(ev) == BASE_TABLE and ev.categories[0].cell == f"{S}!C13"


def test_check_json_carries_the_national_fields(capsys):
    """``check --json`` on a national form: the form, 实施单位, the 项目资金 block as read with its
    score, the 总分 row's 分值 and printed grade, and 二级/偏差原因 per indicator (keys only added)."""
    import json

    from selfeval_xl import cli

    assert cli.main(["check", "--json", str(NATIONAL_SAMPLE)]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["form"] == "national" and d["profile"] == "national-2020"
    assert d["project"] == {"name": "义务教育营养改善计划专项资金", "year": 2022, "department": "永德县教育体育局",
                            "implementer": "永德县明朗中学"}
    total = d["execution"]["rows"]["total"]
    assert (total["annual"], total["executed"], total["points"], total["rate"], total["score"]) == (
        387664.62, 387664.62, 10, "100%", 10)
    assert d["execution"]["unit"] == "元" and d["execution"]["computed"] == 10
    assert d["totals"] == {"stated": 96, "self": 96, "points": 100, "computed": 99.8}
    assert (d["printed_grade"], d["grade"]) == ("优", "优")
    assert d["indicators"][0]["subcategory"] == "数量指标" and "reason" in d["indicators"][0]


def test_blank_header_fields_are_missing_field_warnings(tmp_path):
    """As on the Suzhou form (issue 13): a blank 主管部门 is a MISSING_FIELD warning at its cell, and
    the form is still reviewed."""
    rows, merges = base_rows()
    rows[3][2] = None  # 主管部门 left blank
    ev = one(national_sheet(tmp_path / "blank.xlsx", rows, merges))
    found = [(f.code, f.severity, f.cell) for f in review(ev).findings if f.code == "MISSING_FIELD"]
    assert found == [("MISSING_FIELD", "warning", f"{S}!C4")]
    assert not [f for f in review(one(national_sheet(tmp_path / "base.xlsx"))).findings if f.code == "MISSING_FIELD"]
