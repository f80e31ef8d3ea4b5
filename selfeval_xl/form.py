"""The Suzhou 自评表 as a workbook: the blank form, or the form filled with given content.

``selfeval-xl template`` writes the blank form (committed as templates/自评表模板.xlsx) and the
sample is the same form filled with the seed project, so both always share one layout.
Content is a plain dict (see ``BLANK``); strings such as ``=5家`` are stored as text, never as
formulas.
"""
from __future__ import annotations

from copy import copy
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

from .cells import print_a4_one_page_wide, put
from .model import BUDGET_FIELDS, FUNDS_FIELDS, NARRATIVE_HEADINGS

FORM_SHEET = "自评表"
NARRATIVE_SHEET = "项目基本情况"
INDICATOR_HEADER = ("项目", "类别", "指标名称", "目标值", "权重", "实际完成值", "自评分")
INSTRUCTIONS = (
    "填表说明：1.“市级预算执行情况”、“市级财政资金使用情况”均含非税收入。“年初预算数”填“二下”数；"
    "“当年使用上年结余、结转及当年调整预算数”填当年使用上年结余、结转数以及追加或调减预算数；“财政拨款数”填财政部门实际拨付的款项数；"
    "“实际支付数”填资金实际支付到最终使用者的数额；“结转数”填结转以后年度使用的资金数；“财政收回数”填财政部门收回的资金数。"
    "指标结余数=年初预算数+当年使用上年结余、结转及当年调整预算数-财政拨款数；资金结余、结转数=财政拨款数-实际支付数=结转数+财政收回数。"
    "2.“指标名称”中“投入”类指标根据项目类型，按照《2017年度苏州市级财政支出项目绩效评价“投入”类共性指标》规定，逐一对照进行自评价；"
    "“产出”、“结果”、“影响力”三类指标填列预算部门（单位）报送的绩效目标申报表中经财政部门审核通过的指标，如发生绩效目标调整的，以经财政部门批准调整后的指标为准。"
    "3.各项指标权重值为根据指标数量将该类总分值分摊到各项指标的分值，即各项指标分值=该类总分值/指标个数。"
    "4.各项数据采集的时间节点均为2019年12月31日。定性指标按照 好、较好、一般、较差、差 等级评分，分别得对应权重值的100%、80%、60%、40%和20%。"
    "定量指标评分规则：“产出”类每项指标的实际完成值对应预期设定的目标值，完成100%～130%得权重值满分，实际完成值每低于目标值1个百分点相应扣减权重值的5%，"
    "超过130%的每超过1%扣权重值1%；除指标解释中有特别说明的以外，“投入”类指标评分规则同“产出”类指标；“结果”类指标以100%及以上为满分，每降低1%扣权重值5%。"
    "某项指标无法提供具体数值，且无说明，得0分。"
)

# The blank form: labels only, with a few empty rows per block for staff to fill.
BLANK: dict = {
    "report_title": "苏州市级财政支出项目绩效自评价报告",
    "title": "苏州市级财政支出项目绩效自评表",
    "project_name": None,
    "year": None,
    "department": None,
    "budget": {k: None for k in BUDGET_FIELDS},
    "funds": {k: None for k in FUNDS_FIELDS},
    "composition_total": None,
    "sub_items": [(None, None)] * 5,
    "performance_label": "项目绩效实现情况（80分）",
    "categories": [
        ("投入目标（26分）", [(None,) * 5] * 10),
        ("产出目标（20分）", [(None,) * 5] * 5),
        ("结果目标（28分）", [(None,) * 5] * 5),
        ("影响力目标（6分）", [(None,) * 5] * 3),
    ],
    "total": None,
    "instructions": INSTRUCTIONS,
    "narrative": {h: None for h in NARRATIVE_HEADINGS},
}

THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD_FILL = PatternFill("solid", fgColor="D9E1F2")
LABEL_FONT = Font(name="宋体", size=10, bold=True)
BODY_FONT = Font(name="宋体", size=10)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
WIDTHS = {"A": 14, "B": 16, "C": 38, "D": 18, "E": 9, "F": 18, "G": 10}
MONEY = "0.00"


def build(content: dict | None = None) -> Workbook:
    """The form as an openpyxl Workbook, blank or filled with ``content``."""
    c = BLANK if content is None else {**BLANK, **content}
    wb = Workbook()
    ws = wb.active
    ws.title = FORM_SHEET
    for col, width in WIDTHS.items():
        ws.column_dimensions[col].width = width
    print_a4_one_page_wide(ws)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5

    _put(ws, "A1:G1", c["report_title"], Font(name="宋体", size=16, bold=True), CENTER, border=False)
    _put(ws, "A2:G2", c["title"], Font(name="宋体", size=14, bold=True), CENTER, border=False)
    ws.row_dimensions[1].height = 30
    ws.row_dimensions[2].height = 26

    _label(ws, "A3", "项目名称")
    _put(ws, "B3:D3", c["project_name"])
    _label(ws, "E3", "项目年份")
    _put(ws, "F3:G3", c["year"])
    _label(ws, "A4", "项目主管部门(单位)")
    _put(ws, "B4:G4", c["department"])

    _label(ws, "A5:A6", "市级预算执行情况（万元）")
    for rng, key in (("B5", "initial"), ("C5:D5", "adjustment"), ("E5", "allocated"), ("F5:G5", "balance")):
        _label(ws, rng, BUDGET_FIELDS[key])
        _put(ws, rng.replace("5", "6"), c["budget"][key], number_format=MONEY)
    ws.row_dimensions[5].height = 42

    _label(ws, "A7:A9", "市级财政资金使用情况（万元）")
    for rng, key in (("B7:B8", "allocated"), ("C7:C8", "paid"), ("D7:D8", "balance")):
        _label(ws, rng, FUNDS_FIELDS[key])
    _label(ws, "E7:G7", "其中：")
    _label(ws, "E8", FUNDS_FIELDS["carried"])
    _label(ws, "F8:G8", FUNDS_FIELDS["recovered"])
    for rng, key in (("B9", "allocated"), ("C9", "paid"), ("D9", "balance"), ("E9", "carried"), ("F9:G9", "recovered")):
        _put(ws, rng, c["funds"][key], number_format=MONEY)

    items = list(c["sub_items"])
    top = 10
    _label(ws, f"A{top}:A{top + len(items) + 1}", "项目资金构成（详细列出各子项目名称和金额）")
    _label(ws, f"B{top}:E{top}", "子项目名称")
    _label(ws, f"F{top}:G{top}", "实际金额（万元）")
    _label(ws, f"B{top + 1}:E{top + 1}", "合计")
    _put(ws, f"F{top + 1}:G{top + 1}", c["composition_total"], number_format=MONEY)
    for i, (name, amount) in enumerate(items):
        r = top + 2 + i
        _put(ws, f"B{r}:E{r}", name, align=LEFT)
        _put(ws, f"F{r}:G{r}", amount)

    head = top + 2 + len(items)
    for j, label in enumerate(INDICATOR_HEADER):
        _label(ws, f"{'ABCDEFG'[j]}{head}", label)
    r = head + 1
    first = r
    for label, rows in c["categories"]:
        start = r
        for name, target, weight, actual, score in rows:
            _put(ws, f"C{r}", name, align=LEFT)
            _put(ws, f"D{r}", target)
            _put(ws, f"E{r}", weight)
            _put(ws, f"F{r}", actual)
            _put(ws, f"G{r}", score)
            r += 1
        _label(ws, f"B{start}:B{r - 1}", label)
    _label(ws, f"A{first}:A{r - 1}", c["performance_label"])
    _label(ws, f"A{r}:F{r}", "合计")
    _put(ws, f"G{r}", c["total"])
    _put(ws, f"A{r + 1}:G{r + 1}", c["instructions"], Font(name="宋体", size=9), LEFT)
    ws.row_dimensions[r + 1].height = 230
    ws.print_title_rows = f"{head}:{head}"

    ns = wb.create_sheet(NARRATIVE_SHEET)
    ns.column_dimensions["A"].width = 18
    ns.column_dimensions["B"].width = 90
    print_a4_one_page_wide(ns)
    _put(ns, "A1:B1", "项目基本情况", Font(name="宋体", size=14, bold=True), CENTER, border=False)
    for i, heading in enumerate(NARRATIVE_HEADINGS):
        text = c["narrative"].get(heading)
        _label(ns, f"A{i + 2}", heading)
        _put(ns, f"B{i + 2}", text, align=Alignment(horizontal="left", vertical="top", wrap_text=True))
        lines = sum(1 + len(p) // 45 for p in (text or "").split("\n"))
        ns.row_dimensions[i + 2].height = max(40, min(409, 14 * lines))
    return wb


def write(path: Path, content: dict | None = None) -> Path:
    """Write the form atomically to ``path``."""
    from .fsutil import atomic_save_workbook

    return atomic_save_workbook(build(content), Path(path))


def _label(ws: Worksheet, rng: str, text: str) -> None:
    _put(ws, rng, text, LABEL_FONT, CENTER, fill=HEAD_FILL)


def _put(ws: Worksheet, rng: str, value, font: Font = BODY_FONT, align: Alignment = CENTER,
         border: bool = True, fill: PatternFill | None = None, number_format: str | None = None) -> None:
    first = rng.split(":")[0]
    if ":" in rng:
        ws.merge_cells(rng)
    style = _style(ws, font, align, border, fill)
    for row in ws[rng] if ":" in rng else ((ws[first],),):
        for x in row:
            x._style = copy(style)
    cell = ws[first]
    put(cell, value)
    if number_format and isinstance(value, (int, float)):
        cell.number_format = number_format


def _style(ws: Worksheet, font: Font, align: Alignment, border: bool, fill: PatternFill | None):
    """The openpyxl style array of one look, registered in the workbook once.

    Setting font/alignment/border/fill attribute by attribute hashes each object into the
    workbook's style lists for every cell (~0.3 s for one filled form); the form has a handful
    of looks, so each is made once per workbook and copied onto its cells."""
    cache = ws.parent.__dict__.setdefault("_selfeval_looks", {})
    key = (id(font), id(align), border, id(fill))
    if key not in cache:
        probe = Cell(ws)  # not placed in the sheet: only its style array is kept
        probe.font, probe.alignment = font, align
        if border:
            probe.border = BORDER
        if fill is not None:
            probe.fill = fill
        cache[key] = (copy(probe._style), font, align, fill)  # keep the objects: their ids are the key
    return cache[key][0]



# --------------------------------------------------------------------------- the national form
# 项目支出绩效自评表, the annex of 财预〔2020〕10号 (layout/national.py reads it). ``build_national``
# writes the blank form (templates/项目支出绩效自评表模板.xlsx, ``selfeval-xl template --form national``)
# and the national sample (tools/build_national_sample.py), so both share one layout.

NATIONAL_SHEET = "项目支出绩效自评表"
NATIONAL_TITLE = "项目支出绩效自评表"
NATIONAL_HEADER = ("一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施")
NATIONAL_SPLIT = ("指标性质", "指标值", "度量单位")
EXECUTION_HEADER = ("年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分")
_PLACEHOLDERS = [("指标1：",) + (None,) * 5, ("指标2：",) + (None,) * 5, ("……",) + (None,) * 5]

# The blank national form: every class and sub-class of the annex with its template rows.
NATIONAL_BLANK: dict = {
    "title": NATIONAL_TITLE,
    "year_line": "（　　年度）",
    "extra_lines": [],  # lines under the title: a text (one merged cell) or (left, right)
    "project_name": None,
    "department": None,
    "implementer": None,
    "unit": "万元",
    "execution_label": None,  # as printed; default 项目资金（<unit>）
    # key -> (row label, 年初预算数, 全年预算数, 全年执行数, 分值, 执行率, 得分)
    "execution": {
        "total": ("年度资金总额", None, None, None, 10, None, None),
        "current": ("其中：当年财政拨款", None, None, None, "—", None, "—"),
        "carryover": ("上年结转资金", None, None, None, "—", None, "—"),
        "other": ("其他资金", None, None, None, "—", None, "—"),
    },
    "goal": (None, None),  # 预期目标, 实际完成情况
    "goal_label": "年度总体目标",
    "split_target": False,  # True: 年度指标值 as 指标性质 | 指标值 | 度量单位, targets as (op, value, unit)
    # (一级 label, [(二级 label, [(三级 name, 年度指标值, 实际完成值, 分值, 得分, 偏差原因分析及改进措施), ...]), ...])
    "classes": [
        ("产出指标", [(name, list(_PLACEHOLDERS)) for name in ("数量指标", "质量指标", "时效指标", "成本指标")]),
        ("效益指标", [(name, list(_PLACEHOLDERS)) for name in ("经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标")]),
        ("满意度指标", [("服务对象满意度指标", list(_PLACEHOLDERS))]),
    ],
    "remarks": None,  # 其他需要说明事项 (a row above 总分 when not None)
    "total": (100, None, None),  # 总分: 分值, 得分, 等级
    "note": None,  # 注 below the table
}
NATIONAL_WIDTHS = {"A": 10, "B": 17, "C": 12, "D": 26, "E": 14, "F": 14, "G": 8, "H": 8, "I": 22}
NATIONAL_SPLIT_WIDTHS = {"A": 10, "B": 16, "C": 12, "D": 22, "E": 11, "F": 10, "G": 8, "H": 11, "I": 7, "J": 7, "K": 18}


def build_national(content: dict | None = None) -> Workbook:
    """The national form as an openpyxl Workbook, blank or filled with ``content`` (see NATIONAL_BLANK)."""
    from openpyxl.utils import get_column_letter as L

    c = NATIONAL_BLANK if content is None else {**NATIONAL_BLANK, **content}
    split = bool(c["split_target"])
    wb = Workbook()
    ws = wb.active
    ws.title = NATIONAL_SHEET
    widths = NATIONAL_SPLIT_WIDTHS if split else NATIONAL_WIDTHS
    for col, width in widths.items():
        ws.column_dimensions[col].width = width
    last = L(len(widths))
    print_a4_one_page_wide(ws)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5

    r = 1
    _put(ws, f"A{r}:{last}{r}", c["title"], Font(name="宋体", size=16, bold=True), CENTER, border=False)
    ws.row_dimensions[r].height = 30
    r += 1
    if c["year_line"] is not None:
        _put(ws, f"A{r}:{last}{r}", c["year_line"], Font(name="宋体", size=12), CENTER, border=False)
        r += 1
    for line in c["extra_lines"]:
        if isinstance(line, (tuple, list)):
            _put(ws, f"A{r}:D{r}", line[0], BODY_FONT, LEFT, border=False)
            _put(ws, f"E{r}:{last}{r}", line[1], BODY_FONT, Alignment(horizontal="right", vertical="center"), border=False)
        else:
            _put(ws, f"A{r}:{last}{r}", line, BODY_FONT, LEFT, border=False)
        r += 1

    _label(ws, f"A{r}:B{r}", "项目名称")
    _put(ws, f"C{r}:{last}{r}", c["project_name"], align=LEFT)
    r += 1
    _label(ws, f"A{r}:B{r}", "主管部门")
    _put(ws, f"C{r}:E{r}", c["department"], align=LEFT)
    _label(ws, f"F{r}:G{r}", "实施单位")
    _put(ws, f"H{r}:{last}{r}", c["implementer"], align=LEFT)
    r += 1

    rows = list(c["execution"].values())
    _label(ws, f"A{r}:A{r + len(rows)}", c["execution_label"] or f"项目资金（{c['unit']}）")
    _label(ws, f"B{r}", None)
    for j, head in enumerate(EXECUTION_HEADER):
        col = L(3 + j)
        _label(ws, f"{col}{r}:{last}{r}" if j == len(EXECUTION_HEADER) - 1 else f"{col}{r}", head)
    for label, *amounts in rows:
        r += 1
        _label(ws, f"B{r}", label)
        for j, v in enumerate(amounts):
            col = L(3 + j)
            rng = f"{col}{r}:{last}{r}" if j == len(amounts) - 1 else f"{col}{r}"
            _put(ws, rng, v, number_format=MONEY if j < 3 else None)
    r += 1

    expected, actual = c["goal"]
    _label(ws, f"A{r}:A{r + 1}", c["goal_label"])
    _label(ws, f"B{r}:E{r}", "预期目标")
    _label(ws, f"F{r}:{last}{r}", "实际完成情况")
    top = Alignment(horizontal="left", vertical="top", wrap_text=True)
    _put(ws, f"B{r + 1}:E{r + 1}", expected, align=top)
    _put(ws, f"F{r + 1}:{last}{r + 1}", actual, align=top)
    longest = max(len(expected or ""), len(actual or ""))
    ws.row_dimensions[r + 1].height = max(40, min(409, 15 * (1 + longest // 28)))
    r += 2

    head = r
    value_cols = ["E", "F", "G"] if split else ["E"]
    rest = [L(len(widths) - 3 + j) for j in range(4)]  # 实际完成值, 分值, 得分, 偏差原因
    spans = 2 if split else 1
    for col, label in zip("BCD", NATIONAL_HEADER[:3]):
        _label(ws, f"{col}{head}:{col}{head + spans - 1}" if split else f"{col}{head}", label)
    if split:
        _label(ws, f"E{head}:G{head}", NATIONAL_HEADER[3])
        for col, label in zip(value_cols, NATIONAL_SPLIT):
            _label(ws, f"{col}{head + 1}", label)
    else:
        _label(ws, f"E{head}", NATIONAL_HEADER[3])
    for col, label in zip(rest, NATIONAL_HEADER[4:]):
        _label(ws, f"{col}{head}:{col}{head + spans - 1}" if split else f"{col}{head}", label)
    r = head + spans
    first = head
    for label1, subs in c["classes"]:
        start1 = r
        for label2, inds in subs:
            start2 = r
            for name, target, act, weight, score, reason in inds or [(None,) * 6]:
                _put(ws, f"D{r}", name, align=LEFT)
                if split:
                    for col, v in zip(value_cols, target if isinstance(target, (tuple, list)) else (None, target, None)):
                        _put(ws, f"{col}{r}", v)
                else:
                    _put(ws, f"E{r}", target)
                for col, v in zip(rest, (act, weight, score, reason)):
                    _put(ws, f"{col}{r}", v, align=LEFT if col == rest[-1] else CENTER)
                r += 1
            _label(ws, f"C{start2}:C{r - 1}" if r - 1 > start2 else f"C{start2}", label2)
        _label(ws, f"B{start1}:B{r - 1}" if r - 1 > start1 else f"B{start1}", label1)
    _label(ws, f"A{first}:A{r - 1}", "绩效指标")
    if c["remarks"] is not None:
        _label(ws, f"A{r}:C{r}", "其他需要说明事项")
        _put(ws, f"D{r}:{last}{r}", c["remarks"], align=LEFT)
        r += 1
    points, stated, grade = c["total"]
    weight_col = rest[1]
    _label(ws, f"A{r}:{L(len(widths) - 3)}{r}", "总分")
    _put(ws, f"{weight_col}{r}", points)
    _put(ws, f"{rest[2]}{r}", stated)
    _put(ws, f"{rest[3]}{r}", grade)
    if c["note"]:
        r += 1
        _put(ws, f"A{r}:{last}{r}", c["note"], Font(name="宋体", size=9), LEFT, border=False)
        ws.row_dimensions[r].height = 60
    ws.print_title_rows = f"{head}:{head + spans - 1}"
    for row in ws.iter_rows():  # labels typed with line breaks (经济效益\n指标) need the height
        lines = max((c.value.count("\n") + 1 for c in row if isinstance(c.value, str)), default=1)
        if lines > 1:
            ws.row_dimensions[row[0].row].height = max(ws.row_dimensions[row[0].row].height or 15, 13.5 * lines)
    return wb


def write_national(path: Path, content: dict | None = None) -> Path:
    """Write the national form atomically to ``path``."""
    from .fsutil import atomic_save_workbook

    return atomic_save_workbook(build_national(content), Path(path))
